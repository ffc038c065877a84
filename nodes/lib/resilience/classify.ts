import type { HttpResponse } from "../http/client";
import { BusinessError, TechnicalError, UnknownOutcomeError } from "./errors";

/** What the classifier needs to know about the request behind a response. */
export interface ClassifiedRequest {
  method: string;
  /** Whether sending it again does no harm (see HttpRequest.idempotent). */
  idempotent: boolean;
}

/**
 * The default verdict on a response, after the adapter's own classifier had its say:
 * - 2xx with a readable body: success (undefined);
 * - 2xx with malformed JSON or an HTML page: protocol error, an unknown outcome when not idempotent;
 * - 429: throttled, retryable; 503: retryable; 502/504: retryable when idempotent, else an unknown outcome
 *   (a gateway gave up, the vendor may still have booked it); 408: retryable;
 * - 401/403: auth, not retryable; other 5xx: retryable when idempotent (a read or a keyed write the vendor may
 *   fail once, e.g. Salesforce UNKNOWN_EXCEPTION, NetSuite UNEXPECTED_ERROR), else not; 3xx: not retryable;
 * - HTML or malformed bodies on other 4xx: protocol (a wrong base URL, a proxy), not retryable;
 * - any other 4xx: BusinessError from the vendor's body.
 */
export function classifyResponse(response: HttpResponse, request: ClassifiedRequest, retryAfterMs?: number): BusinessError | TechnicalError | undefined {
  const { status } = response;
  const where = `${response.method} ${response.url}`;
  const html = isHtml(response);
  const unreadable = html
    ? `an HTML page${htmlTitle(response.text) ? ` ("${htmlTitle(response.text)}")` : ""} instead of the API's answer, likely from a proxy, gateway or login page`
    : response.parseError !== undefined
      ? `malformed JSON (${response.parseError}), starting ${JSON.stringify(response.text.slice(0, 80))}`
      : undefined;
  const retryAfter = retryAfterMs === undefined ? {} : { retryAfterMs };
  const technical = (kind: TechnicalError["kind"], message: string, retryable: boolean): TechnicalError =>
    new TechnicalError({ kind, message: `${where}: ${message}`, retryable, status, ...retryAfter, vendorBody: response.body });

  if (status >= 200 && status < 300) {
    if (unreadable === undefined) return undefined;
    const message = `HTTP ${status} with ${unreadable}`;
    if (!request.idempotent) {
      return new UnknownOutcomeError({ kind: "protocol", status, message: `${where}: ${message}; the vendor may have processed the request`, vendorBody: response.body });
    }
    return technical("protocol", message, false);
  }
  const suffix = unreadable === undefined ? "" : ` with ${unreadable}`;
  if (status === 429) return technical("throttled", `HTTP 429 too many requests${suffix}`, true);
  if (status === 503) return technical("server", `HTTP 503 service unavailable${suffix}`, true);
  if (status === 408) return technical("timeout", `HTTP 408 request timeout${suffix}`, true);
  if (status === 502 || status === 504) {
    const message = `HTTP ${status} from a gateway${suffix}`;
    if (!request.idempotent) {
      return new UnknownOutcomeError({ kind: "server", status, message: `${where}: ${message}; the vendor may have processed the request`, vendorBody: response.body });
    }
    return technical("server", message, true);
  }
  if (status === 401 || status === 403) return technical("auth", `HTTP ${status} credentials refused${vendorSays(response.body)}`, false);
  if (status >= 500) return technical("server", `HTTP ${status}${suffix}${vendorSays(response.body)}`, request.idempotent);
  if (status < 400) return technical("protocol", `unexpected HTTP ${status}${response.headers.location ? ` to ${response.headers.location.split("?")[0]}` : ""}`, false);
  if (unreadable !== undefined) return technical("protocol", `HTTP ${status} with ${unreadable}`, false);
  const said = vendorMessage(response.body);
  return new BusinessError({
    code: said.code ?? `HTTP_${status}`,
    message: said.message ?? `${where}: HTTP ${status}`,
    ...(said.field !== undefined ? { field: said.field } : {}),
    status,
    vendorBody: response.body,
  });
}

/** Whether a body is an HTML page (by content type, or by its first characters when the type lies). */
export function isHtml(response: Pick<HttpResponse, "contentType" | "text">): boolean {
  if (response.contentType.startsWith("text/html") || response.contentType.startsWith("application/xhtml")) return true;
  return /^\s*<(?:!doctype html|html)\b/i.test(response.text.slice(0, 200));
}

/** The <title> of an HTML page, trimmed, if any. */
export function htmlTitle(text: string): string | undefined {
  const m = /<title[^>]*>([^<]{1,200})<\/title>/i.exec(text);
  return m?.[1]?.trim() || undefined;
}

/**
 * Best-effort code, message and field from an error body of unknown shape, for vendors whose adapter does not
 * build its own BusinessError: `[{message, errorCode, fields}]` (Salesforce), `{message, category}` (HubSpot),
 * `{error: {code, message}}` (OData, with SAP's `message.value`), `{error: {code, message, param}}` (Stripe),
 * `{title, "o:errorDetails": [{detail, "o:errorCode", "o:errorPath"}]}` (NetSuite), `{error, error_description}`
 * (OAuth), or plain text.
 */
export function vendorMessage(body: unknown): { code?: string; message?: string; field?: string } {
  const first = Array.isArray(body) ? body[0] : body;
  if (typeof first === "string") return first.trim() ? { message: first.trim().slice(0, 500) } : {};
  if (!isRecord(first)) return {};
  const inner = isRecord(first.error) ? first.error : first;
  const detailList = first["o:errorDetails"];
  const detail = Array.isArray(detailList) && isRecord(detailList[0]) ? detailList[0] : {};
  const oauthError = typeof first.error === "string" ? first.error : undefined;
  const message =
    // ASP.NET's HttpError (Acumatica): a generic `message` beside the `exceptionMessage` that says what failed.
    text(first.exceptionMessage) ??
    text(isRecord(inner.message) ? inner.message.value : inner.message) ??
    text(detail.detail) ??
    text(first.error_description) ??
    text(first.detail) ??
    text(first.title) ??
    oauthError;
  const code = text(inner.code) ?? text(detail["o:errorCode"]) ?? text(first.errorCode) ?? text(first.statusCode) ?? text(first.category) ?? oauthError;
  const fields = first.fields;
  const field = (Array.isArray(fields) && typeof fields[0] === "string" ? fields[0] : undefined) ?? text(inner.param) ?? text(inner.field) ?? text(detail["o:errorPath"]);
  return { ...(code !== undefined ? { code } : {}), ...(message !== undefined ? { message } : {}), ...(field !== undefined ? { field } : {}) };
}

function vendorSays(body: unknown): string {
  const said = vendorMessage(body).message;
  return said === undefined ? "" : `: ${said.slice(0, 200)}`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function text(value: unknown): string | undefined {
  if (typeof value === "string" && value.trim() !== "") return value.trim();
  if (typeof value === "number") return String(value);
  return undefined;
}
