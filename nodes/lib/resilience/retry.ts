import { TechnicalError } from "./errors";

/** How often and how patiently a request is retried. One type for every node and connection. */
export interface RetryPolicy {
  /** Attempts in total, the first included (1 = no retry). */
  maxAttempts: number;
  /** Ceiling of the first backoff; doubles per attempt. */
  baseDelayMs: number;
  /** Cap of one backoff. */
  maxDelayMs: number;
  /** No retry starts once this much time has passed since the first attempt, nor one that would end later. */
  maxElapsedMs: number;
}

export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = { maxAttempts: 5, baseDelayMs: 200, maxDelayMs: 10_000, maxElapsedMs: 60_000 };

/**
 * Backoff before retry number `retry` (1 for the first retry): "full jitter", a uniform draw between 0 and
 * min(maxDelayMs, baseDelayMs × 2^(retry-1)), so callers that failed together do not come back together.
 */
export function backoffDelay(retry: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, retry - 1));
  return Math.floor(random() * ceiling);
}

/**
 * The wait before the next attempt, or undefined when the policy is spent: attempts used up, or the wait would
 * end past maxElapsedMs. A vendor's Retry-After is honoured as given instead of the jittered backoff.
 */
export function nextDelay(attempt: number, elapsedMs: number, policy: RetryPolicy, retryAfterMs?: number, random?: () => number): number | undefined {
  if (attempt >= policy.maxAttempts) return undefined;
  const delay = retryAfterMs ?? backoffDelay(attempt, policy, random);
  if (elapsedMs + delay > policy.maxElapsedMs) return undefined;
  return delay;
}

/** Checks a policy from configuration, naming the bad field. */
export function validateRetryPolicy(policy: RetryPolicy): RetryPolicy {
  for (const key of ["maxAttempts", "baseDelayMs", "maxDelayMs", "maxElapsedMs"] as const) {
    const value = policy[key];
    if (typeof value !== "number" || !Number.isFinite(value) || value < 0) throw new TypeError(`retry policy ${key} must be a number ≥ 0, got ${JSON.stringify(value)}`);
  }
  if (policy.maxAttempts < 1 || !Number.isInteger(policy.maxAttempts)) throw new TypeError(`retry policy maxAttempts must be a whole number ≥ 1, got ${policy.maxAttempts}`);
  return policy;
}

/** Waits, unless the signal fires first (then rejects with an "unavailable" TechnicalError). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(closedError());
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(closedError());
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, Math.max(0, ms));
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** The error for work cut short because its connection closed. */
export function closedError(): TechnicalError {
  return new TechnicalError({ kind: "unavailable", code: "CONNECTION_CLOSED", message: "connection closed", retryable: false });
}
