import { TechnicalError } from "./errors";

export type BreakerState = "closed" | "open" | "half-open";

/** How a finished call counts for the breaker: vendor failure, vendor answered, or says nothing about health. */
export type BreakerOutcome = "success" | "failure" | "neutral";

export interface BreakerOptions {
  /** Consecutive failures that open the breaker. Default 5. */
  failureThreshold: number;
  /** Share of failed calls (0–1) over `windowMs` that opens it, once `minimumCalls` were seen. Default 0.5. */
  errorRateThreshold: number;
  /**
   * Calls needed in the window before the error rate counts. Default 10, or twice `failureThreshold` when that is
   * raised above 5: a connection told to bear 50 failures in a row is not opened by its tenth failed call.
   */
  minimumCalls: number;
  /** Rolling window for the error rate. Default 10 s. */
  windowMs: number;
  /** How long it stays open before one probe call is let through. Default 30 s. */
  resetTimeoutMs: number;
}

export const DEFAULT_BREAKER_OPTIONS: Readonly<BreakerOptions> = {
  failureThreshold: 5,
  errorRateThreshold: 0.5,
  minimumCalls: 10,
  windowMs: 10_000,
  resetTimeoutMs: 30_000,
};

const BUCKETS = 10;

/** `code` of the TechnicalError thrown while the breaker turns calls away. */
export const BREAKER_OPEN = "BREAKER_OPEN";

/**
 * A circuit breaker per connection. Closed: calls pass and outcomes are counted. Open (after
 * `failureThreshold` failures in a row, or an error rate over the threshold): calls fail at once with an
 * "unavailable" TechnicalError, sparing a vendor that is down and the flow's retry budget. After
 * `resetTimeoutMs` it turns half-open and lets one probe through: success closes it, failure opens it again.
 */
export class CircuitBreaker {
  readonly options: BreakerOptions;
  private current: BreakerState = "closed";
  private consecutiveFailures = 0;
  private openedAt = 0;
  private probing = false;
  private resetTimer: NodeJS.Timeout | undefined;
  private readonly listeners = new Set<(state: BreakerState, previous: BreakerState) => void>();
  private readonly calls = new Array<number>(BUCKETS).fill(0);
  private readonly failures = new Array<number>(BUCKETS).fill(0);
  private bucketStart = 0;
  private bucket = 0;

  constructor(options: Partial<BreakerOptions> = {}) {
    const failureThreshold = options.failureThreshold ?? DEFAULT_BREAKER_OPTIONS.failureThreshold;
    const minimumCalls = options.minimumCalls ?? Math.max(DEFAULT_BREAKER_OPTIONS.minimumCalls, 2 * failureThreshold);
    this.options = { ...DEFAULT_BREAKER_OPTIONS, ...options, minimumCalls };
  }

  get state(): BreakerState {
    return this.current;
  }

  /** Milliseconds until an open breaker lets a probe through (0 when not open). */
  get retryAfterMs(): number {
    return this.current === "open" ? Math.max(0, this.openedAt + this.options.resetTimeoutMs - Date.now()) : 0;
  }

  /** Calls `listener(state, previous)` on every change; returns the unsubscribe function. */
  onStateChange(listener: (state: BreakerState, previous: BreakerState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Lets a call through or throws. In half-open state only one probe is out at a time. */
  admit(name = "connection"): void {
    if (this.current === "open" && this.retryAfterMs === 0) this.move("half-open");
    if (this.current === "closed") return;
    if (this.current === "half-open" && !this.probing) {
      this.probing = true;
      return;
    }
    throw new TechnicalError({
      kind: "unavailable",
      code: BREAKER_OPEN,
      retryable: false,
      message: `${name}: circuit breaker ${this.current === "open" ? "open" : "half-open, waiting for the probe"} after repeated failures`,
      retryAfterMs: this.retryAfterMs,
    });
  }

  /** Records how an admitted call ended. */
  record(outcome: BreakerOutcome): void {
    if (this.current === "half-open") {
      this.probing = false;
      if (outcome === "success") this.close();
      else if (outcome === "failure") this.open();
      return;
    }
    if (outcome === "neutral" || this.current === "open") return;
    this.roll();
    this.calls[this.bucket]!++;
    if (outcome === "success") {
      this.consecutiveFailures = 0;
      return;
    }
    this.failures[this.bucket]!++;
    this.consecutiveFailures++;
    const calls = sum(this.calls);
    const rate = sum(this.failures) / calls;
    if (this.consecutiveFailures >= this.options.failureThreshold || (calls >= this.options.minimumCalls && rate >= this.options.errorRateThreshold)) {
      this.open();
    }
  }

  /** Stops the reset timer (connection closing). */
  dispose(): void {
    if (this.resetTimer) clearTimeout(this.resetTimer);
    this.resetTimer = undefined;
    this.listeners.clear();
  }

  private open(): void {
    this.openedAt = Date.now();
    if (this.resetTimer) clearTimeout(this.resetTimer);
    // The timer only makes the half-open state visible in the node status; admit() checks the time itself.
    this.resetTimer = setTimeout(() => {
      this.resetTimer = undefined;
      if (this.current === "open") this.move("half-open");
    }, this.options.resetTimeoutMs);
    this.resetTimer.unref();
    this.move("open");
  }

  private close(): void {
    this.consecutiveFailures = 0;
    this.calls.fill(0);
    this.failures.fill(0);
    this.move("closed");
  }

  private move(state: BreakerState): void {
    const previous = this.current;
    if (previous === state) return;
    this.current = state;
    if (state !== "half-open") this.probing = false;
    for (const listener of this.listeners) listener(state, previous);
  }

  /** Advances the ring of buckets to the current time, clearing the ones that fell out of the window. */
  private roll(): void {
    const width = this.options.windowMs / BUCKETS;
    const now = Date.now();
    const steps = Math.floor((now - this.bucketStart) / width);
    if (steps <= 0) return;
    for (let i = 1; i <= Math.min(steps, BUCKETS); i++) {
      const index = (this.bucket + i) % BUCKETS;
      this.calls[index] = 0;
      this.failures[index] = 0;
    }
    this.bucket = (this.bucket + steps) % BUCKETS;
    this.bucketStart += steps * width;
    if (now - this.bucketStart >= width) this.bucketStart = now;
  }
}

function sum(values: number[]): number {
  let total = 0;
  for (const v of values) total += v;
  return total;
}
