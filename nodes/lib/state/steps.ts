/**
 * Trace steps, shared by the four stores: the request rules (what a step must carry, the retention, the limit), the
 * keys a step is found by, and the in-process index the memory and file stores keep.
 */
import { checkKey, nowOf } from "./rules";
import { DEFAULT_STEP_LIMIT, DEFAULT_STEP_RETENTION_MS, MAX_STEPS_PER_ID, type AppendStepsOptions, type FindStepsOptions, type StepRecord } from "./types";

/** A step ready to store: its JSON, when it expires, and the ids it is found by. */
export interface StoredStep {
  json: string;
  at: number;
  expiresAt: number;
  keys: string[];
}

export function appendRequest(steps: readonly StepRecord[], options: AppendStepsOptions | undefined): StoredStep[] {
  if (!Array.isArray(steps)) throw new TypeError("steps must be an array");
  const now = nowOf(options?.now);
  const retentionMs = options?.retentionMs ?? DEFAULT_STEP_RETENTION_MS;
  if (!Number.isFinite(retentionMs) || retentionMs <= 0) throw new TypeError("retentionMs must be a positive number");
  return steps.map((step) => {
    if (typeof step !== "object" || step === null) throw new TypeError("a step must be an object");
    checkKey(step.correlationId, "step correlationId");
    if (!Number.isFinite(step.at)) throw new TypeError("a step's at must be epoch milliseconds");
    return { json: JSON.stringify(step), at: step.at, expiresAt: now + retentionMs, keys: keysOf(step) };
  });
}

export function findRequest(id: string, options: FindStepsOptions | undefined): { now: number; limit: number } {
  checkKey(id, "trace id");
  const limit = options?.limit ?? DEFAULT_STEP_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw new TypeError("limit must be an integer from 1 to 10000");
  return { now: nowOf(options?.now), limit };
}

/** The correlation id and every distinct id value (ids over the key length are not indexed). */
export function keysOf(step: StepRecord): string[] {
  const keys = new Set<string>([step.correlationId]);
  if (step.ids && typeof step.ids === "object") {
    for (const k in step.ids) {
      const v = step.ids[k];
      if (typeof v === "string" && v && v.length <= 512) keys.add(v);
    }
  }
  return [...keys];
}

/**
 * The answer of findSteps from the steps stored under `id` and, once their correlation ids are known, under those:
 * duplicates (a step is stored under several keys) removed, time order, the most recent `limit`.
 */
export async function findThrough(id: string, limit: number, read: (keys: string[]) => Promise<string[]>): Promise<StepRecord[]> {
  const byJson = new Map<string, StepRecord>();
  const correlations = new Set<string>();
  for (const json of await read([id])) {
    if (byJson.has(json)) continue;
    const step = JSON.parse(json) as StepRecord;
    byJson.set(json, step);
    if (step.correlationId !== id) correlations.add(step.correlationId);
  }
  if (correlations.size) {
    for (const json of await read([...correlations])) if (!byJson.has(json)) byJson.set(json, JSON.parse(json) as StepRecord);
  }
  const steps = [...byJson.values()].sort((a, b) => a.at - b.at);
  return steps.length > limit ? steps.slice(steps.length - limit) : steps;
}

/** The memory and file stores' steps: per key, in arrival order, at most MAX_STEPS_PER_ID. */
export class StepIndex {
  private readonly byKey = new Map<string, StoredStep[]>();
  private count = 0;

  add(step: StoredStep): void {
    for (const key of step.keys) {
      let list = this.byKey.get(key);
      if (!list) this.byKey.set(key, (list = []));
      list.push(step);
      if (list.length > MAX_STEPS_PER_ID * 2) list.splice(0, list.length - MAX_STEPS_PER_ID);
    }
    this.count++;
  }

  /** Live steps' JSON under these keys. */
  read(keys: string[], now: number): string[] {
    const out: string[] = [];
    for (const key of keys) {
      const list = this.byKey.get(key);
      if (!list) continue;
      const from = Math.max(0, list.length - MAX_STEPS_PER_ID);
      for (let i = from; i < list.length; i++) if (list[i]!.expiresAt > now) out.push(list[i]!.json);
    }
    return out;
  }

  /** Drops expired steps; returns the live ones (each once), oldest first. */
  sweep(now: number): StoredStep[] {
    const live = new Set<StoredStep>();
    for (const [key, list] of this.byKey) {
      const kept = list.slice(Math.max(0, list.length - MAX_STEPS_PER_ID)).filter((s) => s.expiresAt > now);
      if (kept.length) this.byKey.set(key, kept);
      else this.byKey.delete(key);
      for (const s of kept) live.add(s);
    }
    this.count = live.size;
    return [...live].sort((a, b) => a.at - b.at);
  }

  /** Steps added since the last sweep included. */
  get size(): number {
    return this.count;
  }
}
