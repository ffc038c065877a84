/** Rules every store shares: option defaults and validation, the claim decision, dead-letter filters and cursors. */
import {
  DEFAULT_LEASE_MS,
  DEFAULT_MAX_ATTEMPTS,
  DEFAULT_RETENTION_MS,
  type CaptureOptions,
  type ClaimOptions,
  type ClaimOutcome,
  type DeadLetter,
  type DeadLetterCapture,
  type DeadLetterFilter,
  type FinishOptions,
  type ListOptions,
  type ReleaseOptions,
} from "./types";

export const MAX_KEY_LENGTH = 1024;
export const MAX_PAGE = 1000;
export const DEFAULT_PAGE = 100;

export interface ClaimRequest {
  fingerprint: string | undefined;
  leaseMs: number;
  retentionMs: number;
  now: number;
}

/** A gate key's state as memory, file and postgres keep it (redis keeps the same fields in one string). */
export interface GateRecord {
  state: "claimed" | "completed" | "failed";
  fingerprint: string | undefined;
  token: string;
  claimedAt: number;
  leaseExpiresAt: number;
  /** completedAt or failedAt */
  finishedAt: number | undefined;
  /** The completed result as JSON text, so every reader gets its own copy. */
  result: string | undefined;
  reason: string | undefined;
  expiresAt: number;
}

function positiveInt(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value <= 0) throw new TypeError(`${name} must be a positive integer of milliseconds, got ${String(value)}`);
  return value;
}

function nowOf(value: unknown): number {
  if (value === undefined) return Date.now();
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) throw new TypeError(`now must be epoch milliseconds, got ${String(value)}`);
  return value;
}

export function checkKey(key: unknown, what = "key"): string {
  if (typeof key !== "string" || key.length === 0) throw new TypeError(`${what} must be a non-empty string`);
  if (key.length > MAX_KEY_LENGTH) throw new TypeError(`${what} is longer than ${MAX_KEY_LENGTH} characters`);
  return key;
}

export function claimRequest(options: ClaimOptions | undefined): ClaimRequest {
  const o = options ?? {};
  const fingerprint = o.fingerprint;
  if (fingerprint !== undefined && (typeof fingerprint !== "string" || fingerprint.length === 0 || fingerprint.length > 256 || /[\r\n]/.test(fingerprint))) {
    throw new TypeError("fingerprint must be a non-empty single-line string of at most 256 characters");
  }
  const leaseMs = positiveInt(o.leaseMs, "leaseMs", DEFAULT_LEASE_MS);
  const retentionMs = positiveInt(o.retentionMs, "retentionMs", DEFAULT_RETENTION_MS);
  if (retentionMs < leaseMs) throw new TypeError(`retentionMs (${retentionMs}) must not be shorter than leaseMs (${leaseMs})`);
  return { fingerprint, leaseMs, retentionMs, now: nowOf(o.now) };
}

export function finishRequest(options: FinishOptions | undefined): { retentionMs: number; now: number } {
  return { retentionMs: positiveInt(options?.retentionMs, "retentionMs", DEFAULT_RETENTION_MS), now: nowOf(options?.now) };
}

export function releaseRequest(options: ReleaseOptions): { mode: "retry" | "failed"; reason: string; retentionMs: number; now: number } {
  if (!options || (options.mode !== "retry" && options.mode !== "failed")) throw new TypeError('release mode must be "retry" or "failed"');
  if (options.reason !== undefined && typeof options.reason !== "string") throw new TypeError("release reason must be a string");
  return { mode: options.mode, reason: options.reason ?? "", ...finishRequest(options) };
}

export function checkToken(token: unknown): string {
  if (typeof token !== "string" || token.length === 0) throw new TypeError("claim token must be a non-empty string");
  return token;
}

/** JSON text of a result or message; undefined becomes null so it round-trips. */
export function toJson(value: unknown, what: string): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value === undefined ? null : value);
  } catch (err) {
    throw new TypeError(`${what} is not JSON-serializable: ${(err as Error).message}`);
  }
  return text ?? "null";
}

export type ClaimDecision = ClaimOutcome | { outcome: "take"; reclaimed: boolean };

/**
 * What a claim finds: nothing (or an expired record) → take it; a different fingerprint → conflict (checked first,
 * whatever the state); completed → duplicate; failed → failed; claimed → in-flight, or take over once the lease ran out.
 */
export function decideClaim(record: GateRecord | undefined, request: ClaimRequest): ClaimDecision {
  if (record === undefined || record.expiresAt <= request.now) return { outcome: "take", reclaimed: false };
  if (request.fingerprint !== undefined && record.fingerprint !== undefined && request.fingerprint !== record.fingerprint) {
    return { outcome: "conflict", storedFingerprint: record.fingerprint };
  }
  switch (record.state) {
    case "completed":
      return { outcome: "duplicate", result: JSON.parse(record.result ?? "null"), claimedAt: record.claimedAt, completedAt: record.finishedAt ?? record.claimedAt };
    case "failed":
      return { outcome: "failed", reason: record.reason ?? "", claimedAt: record.claimedAt, failedAt: record.finishedAt ?? record.claimedAt };
    case "claimed":
      if (record.leaseExpiresAt > request.now) return { outcome: "in-flight", claimedAt: record.claimedAt, leaseExpiresAt: record.leaseExpiresAt };
      return { outcome: "take", reclaimed: true };
  }
}

/**
 * Why complete()/release() may not change `record` with `token`; undefined when it may. A repeated complete (or
 * failed release) by the same token is accepted as done, so a caller can retry one whose answer it lost.
 */
export function finishRefusal(record: GateRecord | undefined, token: string, target: "completed" | "failed" | "retry", now: number): string | "already" | undefined {
  if (record === undefined || record.expiresAt <= now) return target === "retry" ? "already" : "the key is not claimed (released or expired)";
  if (record.token !== token) return "another claimer took the key over";
  if (record.state === "claimed") return undefined;
  if (record.state === target) return "already";
  return `the key is already ${record.state}`;
}

export function captureRequest(entry: DeadLetterCapture, options: CaptureOptions | undefined): { maxAttempts: number; retentionMs: number; now: number } {
  if (!entry || typeof entry !== "object") throw new TypeError("dead letter must be an object");
  checkKey(entry.id, "dead letter id");
  checkKey(entry.queue, "dead letter queue");
  if (!entry.error || typeof entry.error.message !== "string") throw new TypeError("dead letter error.message must be a string");
  if (!entry.source || typeof entry.source.id !== "string" || typeof entry.source.type !== "string") throw new TypeError("dead letter source must have string id and type");
  if (entry.attempts !== undefined) positiveInt(entry.attempts, "attempts", 1);
  return {
    maxAttempts: positiveInt(options?.maxAttempts, "maxAttempts", DEFAULT_MAX_ATTEMPTS),
    retentionMs: positiveInt(options?.retentionMs, "retentionMs", DEFAULT_RETENTION_MS),
    now: nowOf(options?.now),
  };
}

/** The entry a first capture creates. */
export function newDeadLetter(entry: DeadLetterCapture, maxAttempts: number, now: number): DeadLetter {
  const attempts = entry.attempts ?? 1;
  const letter: DeadLetter = {
    id: entry.id,
    queue: entry.queue,
    message: entry.message === undefined ? null : entry.message,
    error: errorOf(entry),
    source: sourceOf(entry),
    attempts,
    firstFailedAt: now,
    lastFailedAt: now,
    state: attempts >= maxAttempts ? "parked" : "pending",
  };
  if (entry.correlationId !== undefined) letter.correlationId = String(entry.correlationId);
  if (entry.idempotencyKey !== undefined) letter.idempotencyKey = String(entry.idempotencyKey);
  return letter;
}

/**
 * The entry a re-capture (a failed replay) makes of an existing one: one more attempt, the latest message, error and
 * source. Queue, first failure, correlation id and idempotency key stay as first captured: they name the transaction.
 */
export function recapturedDeadLetter(existing: DeadLetter, entry: DeadLetterCapture, maxAttempts: number, now: number): DeadLetter {
  const attempts = existing.attempts + 1;
  return {
    ...existing,
    message: entry.message === undefined ? null : entry.message,
    error: errorOf(entry),
    source: sourceOf(entry),
    attempts,
    lastFailedAt: now,
    state: existing.state === "parked" || attempts >= maxAttempts ? "parked" : "pending",
  };
}

export function errorOf(entry: DeadLetterCapture): DeadLetter["error"] {
  const error: DeadLetter["error"] = { message: entry.error.message };
  if (typeof entry.error.stack === "string") error.stack = entry.error.stack;
  if (typeof entry.error.code === "string") error.code = entry.error.code;
  return error;
}

export function sourceOf(entry: DeadLetterCapture): DeadLetter["source"] {
  const source: DeadLetter["source"] = { id: entry.source.id, type: entry.source.type };
  if (typeof entry.source.name === "string") source.name = entry.source.name;
  return source;
}

export function matchesFilter(letter: DeadLetter, filter: DeadLetterFilter | undefined): boolean {
  if (!filter) return true;
  if (filter.state !== undefined && letter.state !== filter.state) return false;
  if (filter.sourceId !== undefined && letter.source.id !== filter.sourceId) return false;
  if (filter.correlationId !== undefined && letter.correlationId !== filter.correlationId) return false;
  if (filter.idempotencyKey !== undefined && letter.idempotencyKey !== filter.idempotencyKey) return false;
  if (filter.failedAfter !== undefined && letter.lastFailedAt < filter.failedAfter) return false;
  if (filter.failedBefore !== undefined && letter.lastFailedAt >= filter.failedBefore) return false;
  return true;
}

/** Position in a queue: oldest first, ties by id. */
export interface QueuePosition {
  at: number;
  id: string;
}

export function comparePositions(a: QueuePosition, b: QueuePosition): number {
  return a.at - b.at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

export function encodeCursor(position: QueuePosition): string {
  return Buffer.from(JSON.stringify([position.at, position.id])).toString("base64url");
}

export function decodeCursor(cursor: string | undefined): QueuePosition | undefined {
  if (cursor === undefined) return undefined;
  try {
    const [at, id] = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as unknown[];
    if (typeof at === "number" && typeof id === "string") return { at, id };
  } catch {
    // fall through to the error below
  }
  throw new TypeError("cursor is not one this store returned");
}

export function listRequest(queue: string, options: ListOptions | undefined): { limit: number; after: QueuePosition | undefined; now: number } {
  checkKey(queue, "queue");
  const limit = options?.limit ?? DEFAULT_PAGE;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_PAGE) throw new TypeError(`limit must be an integer from 1 to ${MAX_PAGE}`);
  return { limit, after: decodeCursor(options?.cursor), now: nowOf(options?.now) };
}

export { nowOf };
