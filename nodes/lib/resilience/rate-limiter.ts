import type { QuotaSignal } from "./signals";
import { closedError } from "./retry";

/** At most `limit` requests in any `windowMs` (HubSpot 190 / 10 s, Business Central 6,000 / 5 min). */
export interface RateLimit {
  limit: number;
  windowMs: number;
}

/** Call when the request is over (answered or failed); a second call does nothing. */
export type RateSlotRelease = () => void;

interface Waiter {
  resolve(release: RateSlotRelease): void;
  reject(err: Error): void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

// A stale or pessimistic quota reading must not freeze a connection for hours; the next response refreshes it.
const MAX_QUOTA_SPACING_MS = 60_000;
// Below this share of the vendor's allowance, calls are spread over what is left of the window.
const QUOTA_LOW_WATER = 0.1;

/**
 * A rolling-window rate limiter per connection, counted the way the vendor counts: by arrival. We cannot see
 * when a request reaches the vendor, only that it did so after we let it go and before its answer came back,
 * so a request holds its slot from the moment it is let go until `windowMs` after it ended. Then no window of
 * `windowMs` at the vendor ever sees more than `limit` of our requests, however uneven the network (new TLS
 * connections make the first requests arrive late, bunched with the next ones). The price is a window
 * stretched by one round trip. (A token bucket of the same size refilled at limit/window would let up to
 * twice the limit through in one window.)
 * Adaptive: `pauseUntil` holds every caller (Retry-After); `observeQuota` spaces calls out when the vendor
 * reports its allowance running low. Callers are served first come, first served.
 */
export class RateLimiter {
  /** End times of finished requests still inside the window, oldest first (a ring of `limit` entries). */
  private readonly ends: Float64Array | undefined;
  private endCount = 0;
  private endHead = 0;
  private running = 0;
  private readonly queue: Waiter[] = [];
  private timer: NodeJS.Timeout | undefined;
  private timerAt = 0;
  private pausedUntil = 0;
  private spacingMs = 0;
  private lastStart = -Infinity;

  /** Without a rate, only the adaptive part applies (pauses and quota spacing). */
  constructor(readonly rate?: RateLimit) {
    if (rate) {
      if (!Number.isInteger(rate.limit) || rate.limit < 1) throw new TypeError(`rate limit must be a whole number ≥ 1, got ${rate.limit}`);
      if (!(rate.windowMs > 0)) throw new TypeError(`rate limit windowMs must be > 0, got ${rate.windowMs}`);
      this.ends = new Float64Array(rate.limit);
    }
  }

  /**
   * Resolves when this caller may send, with the function to call once the request is over. Rejects if the
   * signal fires while waiting.
   */
  acquire(signal?: AbortSignal): Promise<RateSlotRelease> {
    if (signal?.aborted) return Promise.reject(closedError());
    return new Promise<RateSlotRelease>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, signal, onAbort: undefined };
      if (signal) {
        waiter.onAbort = () => {
          const index = this.queue.indexOf(waiter);
          if (index >= 0) this.queue.splice(index, 1);
          reject(closedError());
        };
        signal.addEventListener("abort", waiter.onAbort, { once: true });
      }
      this.queue.push(waiter);
      this.pump();
    });
  }

  /** Holds every caller until `at` (epoch ms); an earlier time than the current pause is ignored. */
  pauseUntil(at: number): void {
    if (at <= this.pausedUntil) return;
    this.pausedUntil = at;
    this.reschedule();
  }

  /** Spreads calls out when the vendor says its allowance is nearly spent; lifts the spacing when it recovers. */
  observeQuota(quota: QuotaSignal): void {
    if (quota.limit <= 0 || quota.remaining / quota.limit >= QUOTA_LOW_WATER) {
      this.spacingMs = 0;
    } else {
      // At the low-water mark this is the vendor's own average pace (window / limit); it stretches as the
      // allowance runs out, so what is left lasts until the window rolls on.
      const windowMs = quota.windowMs ?? this.rate?.windowMs ?? MAX_QUOTA_SPACING_MS;
      this.spacingMs = Math.min(MAX_QUOTA_SPACING_MS, (windowMs * QUOTA_LOW_WATER) / Math.max(1, quota.remaining));
    }
    this.reschedule();
  }

  /** When the pause set by `pauseUntil` ends, if it is still in force. */
  get throttledUntil(): number | undefined {
    return this.pausedUntil > Date.now() ? this.pausedUntil : undefined;
  }

  /** Minimum gap between calls imposed by a low quota (0 when none). */
  get quotaSpacingMs(): number {
    return this.spacingMs;
  }

  /** Callers waiting for their turn. */
  get waiting(): number {
    return this.queue.length;
  }

  /** Rejects every waiting caller; used when the connection closes. */
  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    for (const waiter of this.queue.splice(0)) {
      if (waiter.onAbort) waiter.signal?.removeEventListener("abort", waiter.onAbort);
      waiter.reject(closedError());
    }
  }

  /** The earliest time the next caller may go, or Infinity when it must wait for a running request to end. */
  private nextStart(now: number): number {
    let slotFree = 0;
    if (this.rate && this.ends) {
      while (this.endCount > 0 && this.ends[this.endHead]! + this.rate.windowMs <= now) {
        this.endHead = (this.endHead + 1) % this.rate.limit;
        this.endCount--;
      }
      if (this.running + this.endCount >= this.rate.limit) {
        slotFree = this.endCount > 0 ? this.ends[this.endHead]! + this.rate.windowMs : Infinity;
      }
    }
    return Math.max(this.pausedUntil, slotFree, this.lastStart + this.spacingMs);
  }

  private pump(): void {
    while (this.queue.length > 0) {
      const now = Date.now();
      const at = this.nextStart(now);
      if (at > now) {
        if (at !== Infinity) this.arm(at);
        return;
      }
      const waiter = this.queue.shift()!;
      if (waiter.onAbort) waiter.signal?.removeEventListener("abort", waiter.onAbort);
      this.lastStart = now;
      this.running++;
      waiter.resolve(this.releaser());
    }
  }

  private releaser(): RateSlotRelease {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.running--;
      if (this.rate && this.ends) {
        // Ends are kept in order; a clock step backwards must not break that.
        const last = this.endCount > 0 ? this.ends[(this.endHead + this.endCount - 1) % this.rate.limit]! : -Infinity;
        this.ends[(this.endHead + this.endCount) % this.rate.limit] = Math.max(Date.now(), last);
        this.endCount++;
      }
      this.reschedule();
    };
  }

  private arm(at: number): void {
    if (this.timer && this.timerAt <= at) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.pump();
    }, Math.max(1, at - Date.now()));
  }

  private reschedule(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.pump();
  }
}
