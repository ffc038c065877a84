import { EventEmitter, setMaxListeners } from "node:events";
import { randomUUID } from "node:crypto";
import { HttpClient, isIdempotentMethod, type HttpClientOptions, type HttpRequest, type HttpResponse, type Logger } from "../http/client";
import type { AuthProvider, Authorization } from "../http/auth";
import { BusinessError, TechnicalError } from "./errors";
import { classifyResponse } from "./classify";
import { BREAKER_OPEN, CircuitBreaker, type BreakerOptions, type BreakerOutcome, type BreakerState } from "./breaker";
import { RateLimiter, type RateLimit } from "./rate-limiter";
import { ConcurrencyLimiter } from "./concurrency";
import { DEFAULT_RETRY_POLICY, closedError, nextDelay, sleep, validateRetryPolicy, type RetryPolicy } from "./retry";
import { standardSignals, type QuotaSignal, type ThrottleSignals } from "./signals";
import { noteRequestId } from "../telemetry/context";

/** What a vendor adapter teaches the connection about its vendor. */
export interface ConnectionHooks {
  /**
   * The adapter's verdict on a response before the default rules (see classifyResponse): return a
   * BusinessError built from the vendor's own body, a TechnicalError for a vendor throttle in disguise
   * (Salesforce 403 REQUEST_LIMIT_EXCEEDED, Odoo's HTTP 200 with an error body), or undefined for the default.
   */
  classify?(response: HttpResponse, request: HttpRequest): BusinessError | TechnicalError | undefined;
  /**
   * Throttle signals in any response. Default: Retry-After only; a hook replaces the default, so spread
   * `standardSignals(response)` into its result to keep Retry-After (see signals.ts for vendor parsers).
   */
  readSignals?(response: HttpResponse): ThrottleSignals;
  /**
   * The vendor's request id header (lower case) and the name the trace gives it: every response carrying it, error
   * or not, adds the id to the trace step of the message being handled (see telemetry/context.ts).
   */
  requestId?: { header: string; label: string };
}

export interface ConnectionOptions {
  /** Names the connection in errors, logs and the node status ("salesforce prod"). */
  name: string;
  http: HttpClientOptions;
  /** Builds the auth provider on the connection's own HTTP client (so logins share its TLS, proxy and sockets). */
  auth?: (http: HttpClient) => AuthProvider;
  /** Vendor's published request rate; none means only the adaptive pauses apply. */
  rateLimit?: RateLimit;
  /** Requests in flight at most; none means no cap. */
  concurrency?: number;
  retry?: Partial<RetryPolicy>;
  breaker?: Partial<BreakerOptions>;
  hooks?: ConnectionHooks;
  logger?: Logger;
}

/** Running totals since the connection was created. */
export interface ConnectionCounters {
  /** Calls to `request`. */
  requests: number;
  /** Requests sent to the vendor, retries and re-authenticated sends included. */
  sent: number;
  succeeded: number;
  businessErrors: number;
  technicalErrors: number;
  unknownOutcomes: number;
  retries: number;
  /** Throttle answers received (429 and the adapter's own). */
  throttled: number;
  /** Credentials refused and renewed. */
  reauthentications: number;
}

/** A snapshot for the node status and metrics. */
export interface ConnectionState {
  breaker: BreakerState;
  /** Epoch ms until which the vendor asked us to hold off, if that is still ahead. */
  throttledUntil: number | undefined;
  /** Gap the connection keeps between calls because the vendor's quota runs low (0 when none). */
  quotaSpacingMs: number;
  inFlight: number;
  /** Requests waiting for a rate or concurrency slot. */
  waiting: number;
  /** The vendor's allowance as its last response told it (Salesforce daily, HubSpot window), if it tells. */
  quota: QuotaSignal | undefined;
  counters: ConnectionCounters;
}

/**
 * One vendor connection: every adapter call goes through `request`, which runs
 * breaker → concurrency limiter → rate limiter → auth → HTTP → classification, and retries what is retryable
 * per the retry policy (honouring Retry-After). The rate slot is taken last, just before sending, so requests
 * that waited for a concurrency slot cannot reach the vendor in a bunch. It resolves with 2xx responses and rejects with a
 * BusinessError, TechnicalError or UnknownOutcomeError. Events: `breaker` (state, previous) and
 * `throttled` (untilEpochMs) so a node status can say "breaker open" or "rate-limited".
 */
export class Connection extends EventEmitter {
  readonly name: string;
  readonly http: HttpClient;
  readonly auth: AuthProvider | undefined;
  readonly breaker: CircuitBreaker;
  readonly retryPolicy: RetryPolicy;
  private readonly limiter: RateLimiter;
  private readonly concurrency: ConcurrencyLimiter | undefined;
  private readonly hooks: ConnectionHooks;
  private readonly logger: Logger | undefined;
  private readonly closing = new AbortController();
  private readonly onTheWire = new Set<Promise<HttpResponse>>();
  private quota: QuotaSignal | undefined;
  private readonly counts: ConnectionCounters = {
    requests: 0,
    sent: 0,
    succeeded: 0,
    businessErrors: 0,
    technicalErrors: 0,
    unknownOutcomes: 0,
    retries: 0,
    throttled: 0,
    reauthentications: 0,
  };

  constructor(options: ConnectionOptions) {
    super();
    this.name = options.name;
    this.logger = options.logger;
    this.http = new HttpClient({ ...(options.logger ? { logger: options.logger } : {}), ...options.http });
    this.auth = options.auth?.(this.http);
    this.retryPolicy = validateRetryPolicy({ ...DEFAULT_RETRY_POLICY, ...options.retry });
    this.breaker = new CircuitBreaker(options.breaker);
    this.breaker.onStateChange((state, previous) => {
      this.logger?.warn(`${this.name}: circuit breaker ${state}`);
      this.emit("breaker", state, previous);
    });
    this.limiter = new RateLimiter(options.rateLimit);
    this.concurrency = options.concurrency === undefined ? undefined : new ConcurrencyLimiter(options.concurrency);
    this.hooks = options.hooks ?? {};
    // Every waiting request listens on this signal; hundreds may wait at once.
    setMaxListeners(0, this.closing.signal);
  }

  /**
   * Sends a request with all the connection's protections and resolves with the vendor's 2xx response.
   * The correlation id (generated when absent) stays the same across retries.
   */
  async request(spec: HttpRequest): Promise<HttpResponse> {
    this.counts.requests++;
    const started = Date.now();
    const request: HttpRequest = {
      ...spec,
      correlationId: spec.correlationId ?? randomUUID(),
      idempotent: spec.idempotent ?? isIdempotentMethod(spec.method),
    };
    // Closing the connection ends the waiting (limits, backoff), not a request already on the wire.
    const waits = spec.signal ? AbortSignal.any([spec.signal, this.closing.signal]) : this.closing.signal;
    let previous: unknown;
    for (let attempt = 1; ; attempt++) {
      try {
        const response = await this.attempt(request, waits);
        this.counts.succeeded++;
        return response;
      } catch (err) {
        // When the breaker opens between two attempts, retrying is over and the vendor's own failure says more.
        if (previous !== undefined && err instanceof TechnicalError && err.code === BREAKER_OPEN) throw this.count(previous);
        previous = err;
        const delay = err instanceof TechnicalError && err.retryable ? nextDelay(attempt, Date.now() - started, this.retryPolicy, err.retryAfterMs) : undefined;
        if (delay === undefined) throw this.count(err);
        this.counts.retries++;
        const error = err as TechnicalError;
        // A throttle without Retry-After still holds back the other callers for as long as this one waits.
        if (error.kind === "throttled" && error.retryAfterMs === undefined) this.pause(Date.now() + delay);
        this.logger?.debug?.(`${this.name}: retry ${attempt}/${this.retryPolicy.maxAttempts - 1} in ${delay} ms after ${error.message} [${request.correlationId}]`);
        await sleep(delay, waits);
      }
    }
  }

  /** The connection's state now. */
  state(): ConnectionState {
    return {
      breaker: this.breaker.state,
      throttledUntil: this.limiter.throttledUntil,
      quotaSpacingMs: this.limiter.quotaSpacingMs,
      inFlight: this.concurrency?.inFlight ?? 0,
      waiting: this.limiter.waiting + (this.concurrency?.waiting ?? 0),
      quota: this.quota,
      counters: { ...this.counts },
    };
  }

  /** Holds every request on this connection until `at` (epoch ms), as a vendor's Retry-After asks. */
  pause(at: number): void {
    const before = this.limiter.throttledUntil ?? 0;
    this.limiter.pauseUntil(at);
    if (at > before) this.emit("throttled", at);
  }

  /**
   * Fails the requests still waiting for a slot or a retry, lets the ones on the wire finish (within their
   * timeout: cutting them off would only turn their outcome unknown), ends the vendor session if it has one,
   * closes idle sockets.
   */
  async close(): Promise<void> {
    this.closing.abort();
    this.limiter.close();
    this.concurrency?.close();
    this.breaker.dispose();
    await Promise.allSettled([...this.onTheWire]);
    try {
      await this.auth?.close?.();
    } finally {
      this.http.close();
    }
  }

  /** One attempt: admitted by the breaker, within the limits, authenticated (renewed once if refused). */
  private async attempt(request: HttpRequest, waits: AbortSignal): Promise<HttpResponse> {
    this.breaker.admit(this.name);
    let outcome: BreakerOutcome = "neutral";
    let release: (() => void) | undefined;
    try {
      release = await this.concurrency?.acquire(waits);
      for (let renewed = false; ; renewed = true) {
        const releaseRate = await this.limiter.acquire(waits);
        let response: HttpResponse;
        let authorization: Authorization | undefined;
        try {
          authorization = this.auth ? await this.auth.authorize(request) : undefined;
          if (waits.aborted) throw closedError();
          this.counts.sent++;
          const sending = this.http.send(authorization ? { ...request, headers: { ...request.headers, ...authorization.headers } } : request);
          this.onTheWire.add(sending);
          response = await sending.finally(() => this.onTheWire.delete(sending));
        } finally {
          releaseRate();
        }
        const signals = this.readSignals(response);
        const requestId = this.hooks.requestId;
        if (requestId) noteRequestId(requestId.label, response.headers[requestId.header] ?? "");
        if (this.auth && authorization) {
          this.auth.observe?.(response, authorization);
          if (!renewed && this.auth.isRejected(response)) {
            this.counts.reauthentications++;
            this.auth.invalidate(authorization, response);
            continue;
          }
        }
        const error = this.hooks.classify?.(response, request) ?? classifyResponse(response, { method: request.method, idempotent: request.idempotent === true }, signals.retryAfterMs);
        if (error === undefined) {
          outcome = "success";
          return response;
        }
        if (error instanceof TechnicalError && error.kind === "throttled") this.counts.throttled++;
        throw error;
      }
    } catch (err) {
      outcome = breakerOutcome(err);
      throw err;
    } finally {
      release?.();
      this.breaker.record(outcome);
    }
  }

  private readSignals(response: HttpResponse): ThrottleSignals {
    const signals = this.hooks.readSignals ? this.hooks.readSignals(response) : standardSignals(response);
    if (signals.retryAfterMs !== undefined && signals.retryAfterMs > 0) this.pause(Date.now() + signals.retryAfterMs);
    if (signals.quota) {
      this.quota = signals.quota;
      this.limiter.observeQuota(signals.quota);
    }
    return signals;
  }

  private count(err: unknown): unknown {
    if (err instanceof BusinessError) this.counts.businessErrors++;
    else if (err instanceof TechnicalError) {
      this.counts.technicalErrors++;
      if (err.name === "UnknownOutcomeError") this.counts.unknownOutcomes++;
    }
    return err;
  }
}

/**
 * A business refusal proves the vendor is up; throttles, refused credentials and our own "unavailable" say
 * nothing about its health; everything else technical counts against it.
 */
function breakerOutcome(err: unknown): BreakerOutcome {
  if (err instanceof BusinessError) return "success";
  if (!(err instanceof TechnicalError)) return "neutral";
  return err.kind === "throttled" || err.kind === "auth" || err.kind === "unavailable" ? "neutral" : "failure";
}
