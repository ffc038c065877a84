import { StoreUnavailableError } from "./errors";
import type { StoreBackend } from "./types";

/**
 * Runs one store operation with a deadline. An operation that times out may still take effect later on the server
 * (like any lost answer): a claim made that way shows as in-flight until its lease expires.
 */
export function withDeadline<T>(backend: StoreBackend, timeoutMs: number, run: () => Promise<T>, isUnavailable: (err: unknown) => boolean): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new StoreUnavailableError(backend, `no answer within ${timeoutMs} ms`)), timeoutMs);
    run().then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        if (err instanceof StoreUnavailableError || !isUnavailable(err)) reject(err);
        else reject(new StoreUnavailableError(backend, (err as Error)?.message ?? String(err), { cause: err }));
      },
    );
  });
}
