/**
 * The three outcomes of a failed vendor call, shared by every adapter. Nodes route on the class:
 * a BusinessError leaves by the "rejected" output as a message the sender can act on; a TechnicalError is
 * retried per policy and then reported with done(err); an UnknownOutcomeError (a TechnicalError too) tells the
 * ERP node to look the record up by its external reference before posting it again.
 */

/** A vendor refused the request because of its content: wrong field, duplicate key, closed period. Never retried. */
export class BusinessError extends Error {
  override readonly name = "BusinessError";
  /** The vendor's own error code ("REQUIRED_FIELD_MISSING", "Internal_EntityWithSameKeyExists", "HTTP_404"). */
  readonly code: string;
  /** Path or name of the offending field, when the vendor says. */
  readonly field: string | undefined;
  /** What the sender can do about it. */
  readonly hint: string | undefined;
  readonly status: number | undefined;
  /** The vendor's error body as received, kept for the DLQ entry and the rejected output. */
  readonly vendorBody: unknown;

  constructor(details: { code: string; message: string; field?: string; hint?: string; status?: number; vendorBody?: unknown }) {
    super(details.message);
    this.code = details.code;
    this.field = details.field;
    this.hint = details.hint;
    this.status = details.status;
    this.vendorBody = details.vendorBody;
  }
}

/**
 * What went wrong on the technical side:
 * - network: connection refused or reset, DNS, TLS;
 * - timeout: no complete answer within the request's deadline;
 * - throttled: the vendor asked us to slow down (429, Salesforce REQUEST_LIMIT_EXCEEDED…);
 * - server: the vendor or a gateway failed (5xx);
 * - protocol: an answer we cannot use (malformed JSON, an HTML page, unexpected redirect, too large);
 * - auth: credentials refused or login failed;
 * - unavailable: the connection's circuit breaker is open or the connection was closed.
 */
export type TechnicalErrorKind = "network" | "timeout" | "throttled" | "server" | "protocol" | "auth" | "unavailable";

/** A failure that says nothing about the request's content. Retried when `retryable`, else reported. */
export class TechnicalError extends Error {
  override readonly name: string = "TechnicalError";
  readonly kind: TechnicalErrorKind;
  readonly retryable: boolean;
  readonly status: number | undefined;
  /** How long the vendor asked us to wait (Retry-After), or until the breaker lets a probe through. */
  readonly retryAfterMs: number | undefined;
  /** Low-level code (ECONNRESET, ETIMEDOUT…) or vendor code, when there is one. Never a secret. */
  readonly code: string | undefined;
  /** The vendor's body, when it sent one (a throttle body says which limit was hit). */
  readonly vendorBody: unknown;

  constructor(details: {
    kind: TechnicalErrorKind;
    message: string;
    retryable: boolean;
    status?: number;
    retryAfterMs?: number;
    code?: string;
    vendorBody?: unknown;
  }) {
    super(details.message);
    this.kind = details.kind;
    this.retryable = details.retryable;
    this.status = details.status;
    this.retryAfterMs = details.retryAfterMs;
    this.code = details.code;
    this.vendorBody = details.vendorBody;
  }
}

/**
 * The request may have reached the vendor and been acted on, but we do not know: timeout after the request was
 * sent, connection reset after a POST went out, a 2xx answer we could not read, a gateway timeout on a POST.
 * Never retried blindly: posting again could create a second order. Look the record up first.
 */
export class UnknownOutcomeError extends TechnicalError {
  override readonly name = "UnknownOutcomeError";

  constructor(details: { kind: TechnicalErrorKind; message: string; status?: number; code?: string; vendorBody?: unknown }) {
    super({ ...details, retryable: false });
  }
}

/** True for errors a retry loop may try again. */
export function isRetryable(err: unknown): boolean {
  return err instanceof TechnicalError && err.retryable;
}
