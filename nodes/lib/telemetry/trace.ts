/**
 * The trace: one step per Keelson node a message passed, kept for a bounded window and found by correlation id
 * or by a business key (an opportunity id, an order number). Writes are an array push; the window is enforced by
 * dropping the oldest steps in bulk, never per step.
 */

/** One node's handling of one message. */
export interface TraceStep {
  correlationId: string;
  /** Epoch ms when the node took the message. */
  at: number;
  durationMs: number;
  node: { id: string; type: string; name?: string; flow?: string };
  /** ok · rejected · error · or the gate outcome (new, duplicate, in-flight, conflict) · captured (dead letter). */
  outcome: string;
  /** The output the message left by, when it left. */
  output?: number;
  /** Business exception code or technical error class. */
  code?: string;
  message?: string;
  /** Ids the step knows: the opportunity, the ERP order, the dead letter, the idempotency key. */
  ids?: Record<string, string>;
}

export interface TraceOptions {
  /** Steps kept at most (oldest dropped first). Default 50,000. */
  maxSteps: number;
  /** How long a step is kept. Default one hour. */
  windowMs: number;
}

export const DEFAULT_TRACE_OPTIONS: Readonly<TraceOptions> = { maxSteps: 50_000, windowMs: 3_600_000 };

export class TraceLog {
  readonly options: TraceOptions;
  private steps: TraceStep[] = [];
  /** Index of the first live step: trimming moves it, compaction happens when half the array is dead. */
  private start = 0;

  constructor(options: Partial<TraceOptions> = {}) {
    this.options = { ...DEFAULT_TRACE_OPTIONS, ...options };
  }

  record(step: TraceStep): void {
    this.steps.push(step);
    if (this.steps.length - this.start > this.options.maxSteps) this.start = this.steps.length - this.options.maxSteps;
    if (this.start > 1024 && this.start * 2 > this.steps.length) this.compact();
  }

  /**
   * Every step of a correlation id, in time order; a business key (any value in a step's ids) finds the
   * correlation ids that carried it, and their steps.
   */
  find(idOrKey: string, now: number = Date.now()): TraceStep[] {
    this.expire(now);
    const correlations = new Set<string>([idOrKey]);
    for (let i = this.start; i < this.steps.length; i++) {
      const s = this.steps[i]!;
      if (s.ids) for (const k in s.ids) if (s.ids[k] === idOrKey) correlations.add(s.correlationId);
    }
    const out: TraceStep[] = [];
    for (let i = this.start; i < this.steps.length; i++) if (correlations.has(this.steps[i]!.correlationId)) out.push(this.steps[i]!);
    return out.sort((a, b) => a.at - b.at);
  }

  /** Steps recorded since `since` (epoch ms), newest last. */
  recent(since: number, limit = 200): TraceStep[] {
    const out: TraceStep[] = [];
    for (let i = this.steps.length - 1; i >= this.start && out.length < limit; i--) {
      if (this.steps[i]!.at < since) break;
      out.push(this.steps[i]!);
    }
    return out.reverse();
  }

  get size(): number {
    return this.steps.length - this.start;
  }

  clear(): void {
    this.steps = [];
    this.start = 0;
  }

  private expire(now: number): void {
    const cutoff = now - this.options.windowMs;
    while (this.start < this.steps.length && this.steps[this.start]!.at < cutoff) this.start++;
    if (this.start * 2 > this.steps.length) this.compact();
  }

  private compact(): void {
    this.steps = this.steps.slice(this.start);
    this.start = 0;
  }
}
