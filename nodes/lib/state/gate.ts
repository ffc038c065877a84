/** Gate core helpers that sit on top of a Store. */
import type { ClaimOptions, ClaimOutcome, Store } from "./types";

export interface SettleOptions {
  /** Give up waiting after this long and answer `in-flight`. */
  waitMs: number;
  /** First pause between claims (default 50 ms); doubles up to maxDelayMs (default 1 s), with jitter. */
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** Stops waiting (e.g. the node is closing): rejects with the signal's reason. */
  signal?: AbortSignal;
}

/**
 * For the gate's "wait for the first to finish" option: claims `key`, and while the answer is `in-flight` claims
 * again with backoff until the first claimer completes (→ duplicate), fails (→ failed), releases for retry or lets
 * its lease run out (→ new, the caller now owns the key), or `waitMs` passes (→ in-flight).
 */
export async function claimWhenSettled(store: Store, key: string, options: Omit<ClaimOptions, "now">, settle: SettleOptions): Promise<ClaimOutcome> {
  const deadline = Date.now() + settle.waitMs;
  let delay = settle.initialDelayMs ?? 50;
  const maxDelay = settle.maxDelayMs ?? 1000;
  for (;;) {
    settle.signal?.throwIfAborted();
    const outcome = await store.claim(key, options);
    const left = deadline - Date.now();
    if (outcome.outcome !== "in-flight" || left <= 0) return outcome;
    await pause(Math.min(left, delay * (0.5 + Math.random() / 2)), settle.signal);
    delay = Math.min(delay * 2, maxDelay);
  }
}

function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
