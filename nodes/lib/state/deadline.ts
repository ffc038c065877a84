import { StoreUnavailableError } from "./errors";
import type { StoreBackend } from "./types";

interface Pending {
  at: number;
  reject: (err: Error) => void;
}

/**
 * Deadlines for one store's operations. Every operation has the same timeout, so deadlines expire in the order the
 * operations started: one timer checks the oldest ones, instead of a timer per operation (which would cost a
 * large share of a pipelined Redis claim). An operation fails at most a tenth of the timeout late.
 */
export class Deadlines {
  private readonly pending = new Map<number, Pending>();
  private next = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly backend: StoreBackend, readonly timeoutMs: number, private readonly describe: () => string = () => "") {}

  /**
   * Runs one operation with the deadline; `op` can ask whether its caller has already been told it timed out (so
   * it does not start late work nobody waits for). An operation that times out may still take effect later on the server
   * (like any lost answer): a claim made that way shows as in-flight until its lease expires.
   */
  run<T>(op: (expired: () => boolean) => Promise<T>, isUnavailable: (err: unknown) => boolean): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const id = this.next++;
      this.pending.set(id, { at: Date.now() + this.timeoutMs, reject });
      const expired = (): boolean => !this.pending.has(id);
      if (!this.timer) {
        this.timer = setInterval(() => this.expire(), Math.max(10, Math.min(100, this.timeoutMs / 10)));
        this.timer.unref();
      }
      op(expired).then(
        (value) => {
          this.pending.delete(id);
          resolve(value);
        },
        (err: unknown) => {
          this.pending.delete(id);
          if (err instanceof StoreUnavailableError || !isUnavailable(err)) reject(err);
          else reject(new StoreUnavailableError(this.backend, (err as Error)?.message ?? String(err), { cause: err }));
        },
      );
    });
  }

  private expire(): void {
    const now = Date.now();
    for (const [id, pending] of this.pending) {
      if (pending.at > now) break;
      this.pending.delete(id);
      const state = this.describe();
      pending.reject(new StoreUnavailableError(this.backend, `no answer within ${this.timeoutMs} ms${state ? ` (${state})` : ""}`));
    }
    if (this.pending.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  /** Stops the timer (store closed); pending operations settle by themselves. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
