import http from "node:http";
import https from "node:https";
import { randomUUID } from "node:crypto";
import axios, { type AxiosInstance, type AxiosResponse } from "axios";
import { TechnicalError, UnknownOutcomeError } from "../resilience/errors";

/** Where the connectivity core writes what an operator should see. Messages never carry secrets. */
export interface Logger {
  warn(message: string): void;
  debug?(message: string): void;
}

/** TLS settings for a connection: verification is on unless `insecure` is set explicitly. */
export interface TlsOptions {
  /** Extra trusted CA certificate(s), PEM; for vendors or proxies behind a private CA. */
  ca?: string | Buffer | Array<string | Buffer>;
  /** Skips certificate verification. For test systems only; logs a warning when the client is created. */
  insecure?: boolean;
}

export interface HttpClientOptions {
  /** Prefix for relative request paths ("https://acme.my.salesforce.com/services/data/v59.0"). */
  baseUrl?: string;
  /** Deadline for a whole request (connect, send, wait, read) unless the request sets its own. Default 30 s. */
  timeoutMs?: number;
  /** Header that carries the correlation id on every call. Default `X-Correlation-Id`. */
  correlationHeader?: string;
  /** Largest response body accepted, in bytes. Default 16 MiB. */
  maxResponseBytes?: number;
  tls?: TlsOptions;
  /** Headers sent on every call (e.g. OData-Version); a request's own headers win. */
  headers?: Record<string, string>;
  logger?: Logger;
}

/** Query values; undefined ones are left out. */
export type QueryValue = string | number | boolean | undefined;

/** One call to a vendor. */
export interface HttpRequest {
  method: "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS";
  /** Relative to the base URL, or an absolute http(s) URL (token endpoints often live on another host). */
  path: string;
  query?: Record<string, QueryValue>;
  headers?: Record<string, string>;
  /**
   * A plain object or array is sent as JSON, URLSearchParams as a form, a string or Buffer as given
   * (set Content-Type yourself).
   */
  body?: unknown;
  timeoutMs?: number;
  /** Sent in the correlation header; one is generated when absent. */
  correlationId?: string;
  /**
   * Whether sending it twice does no harm. Default: true for GET, HEAD, OPTIONS, PUT, DELETE, false for POST and
   * PATCH. Set it true for a POST that carries an idempotency key or an upsert by external id: failures after
   * the request went out are then retried instead of reported as an unknown outcome.
   */
  idempotent?: boolean;
  /** Cancels the request (the connection is closing). */
  signal?: AbortSignal;
}

/** A vendor's answer, whatever its status. */
export interface HttpResponse {
  status: number;
  /** Header names in lower case; Set-Cookie is in `setCookie`. */
  headers: Record<string, string>;
  setCookie: string[];
  /** Parsed JSON for a JSON content type, otherwise the text; undefined when empty. */
  body: unknown;
  text: string;
  contentType: string;
  /** Why a JSON body could not be parsed; `body` then holds the text. */
  parseError: string | undefined;
  method: string;
  /** Origin and path, without the query (which may hold keys). */
  url: string;
  durationMs: number;
}

const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024 * 1024;
// Idle sockets are dropped before the usual 5 s server keep-alive expires, so a request is not written onto a
// socket the server is closing (which would turn a POST into an unknown outcome for nothing).
const FREE_SOCKET_TIMEOUT_MS = 4_000;
const LOOPBACK = new Set(["127.0.0.1", "localhost", "::1", "[::1]"]);
const TLS_CODES = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

/** Whether a method is safe to send twice when the request itself does not say. */
export function isIdempotentMethod(method: string): boolean {
  return method === "GET" || method === "HEAD" || method === "OPTIONS" || method === "PUT" || method === "DELETE";
}

/**
 * The one HTTP path to vendors: keep-alive sockets, a base URL, a correlation id on every call, a deadline per
 * request, TLS verification with an optional private CA, proxies from HTTPS_PROXY / HTTP_PROXY / NO_PROXY
 * (loopback is never proxied, so local sandboxes keep working behind a corporate proxy), a response size limit.
 * `send` resolves with any HTTP status; it throws only when no usable answer came back: TechnicalError before
 * the request went out, UnknownOutcomeError after a non-idempotent one went out.
 */
export class HttpClient {
  readonly correlationHeader: string;
  private readonly axios: AxiosInstance;
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;
  private readonly baseUrl: string;
  private readonly timeoutMs: number;
  private readonly maxResponseBytes: number;
  private readonly defaultHeaders: Record<string, string>;

  constructor(options: HttpClientOptions = {}) {
    this.baseUrl = (options.baseUrl ?? "").replace(/\/+$/, "");
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.correlationHeader = options.correlationHeader ?? "X-Correlation-Id";
    this.maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    this.defaultHeaders = { Accept: "application/json", "User-Agent": "keelson-node-red-erp", ...options.headers };
    const insecure = options.tls?.insecure === true;
    if (insecure) {
      options.logger?.warn(`TLS certificate verification is OFF for ${this.baseUrl || "this connection"}: use only against test systems`);
    }
    this.httpAgent = new http.Agent({ keepAlive: true, timeout: FREE_SOCKET_TIMEOUT_MS });
    this.httpsAgent = new https.Agent({
      keepAlive: true,
      timeout: FREE_SOCKET_TIMEOUT_MS,
      rejectUnauthorized: !insecure,
      ...(options.tls?.ca !== undefined ? { ca: options.tls.ca } : {}),
    });
    this.axios = axios.create({
      httpAgent: this.httpAgent,
      httpsAgent: this.httpsAgent,
      responseType: "arraybuffer",
      transformResponse: [(data: unknown) => data],
      validateStatus: () => true,
      // Redirects are returned, not followed: a redirected POST or an SSO login page must not pass for success.
      maxRedirects: 0,
      maxContentLength: this.maxResponseBytes,
      maxBodyLength: Infinity,
      decompress: true,
    });
  }

  /** The absolute URL for a request path. */
  resolve(path: string): string {
    if (/^https?:\/\//i.test(path)) return path;
    if (!this.baseUrl) throw new TypeError(`relative path ${JSON.stringify(path)} needs a baseUrl on the connection`);
    return `${this.baseUrl}/${path.replace(/^\/+/, "")}`;
  }

  /** Sends one request; see the class comment for what throws. */
  async send(request: HttpRequest): Promise<HttpResponse> {
    const target = new URL(this.resolve(request.path));
    for (const [name, value] of Object.entries(request.query ?? {})) {
      if (value !== undefined) target.searchParams.append(name, String(value));
    }
    const safeUrl = `${target.origin}${target.pathname}`;
    const idempotent = request.idempotent ?? isIdempotentMethod(request.method);
    const headers: Record<string, string> = {
      ...this.defaultHeaders,
      ...request.headers,
      [this.correlationHeader]: request.correlationId ?? randomUUID(),
    };
    const data = encodeBody(request.body, headers);

    const timeoutMs = request.timeoutMs ?? this.timeoutMs;
    const deadline = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      deadline.abort();
    }, timeoutMs);
    const cancel = (): void => deadline.abort();
    request.signal?.addEventListener("abort", cancel, { once: true });
    const started = Date.now();
    try {
      if (request.signal?.aborted) throw new TechnicalError({ kind: "unavailable", message: `${request.method} ${safeUrl}: cancelled`, retryable: false });
      const answer: AxiosResponse<Buffer> = await this.axios.request({
        method: request.method,
        url: target.toString(),
        headers,
        data,
        signal: deadline.signal,
        ...(LOOPBACK.has(target.hostname) ? { proxy: false as const } : {}),
      });
      return toResponse(answer, request.method, safeUrl, Date.now() - started);
    } catch (err) {
      if (err instanceof TechnicalError) throw err;
      throw transportError(err, { method: request.method, url: safeUrl, idempotent, timedOut, timeoutMs, maxResponseBytes: this.maxResponseBytes });
    } finally {
      clearTimeout(timer);
      request.signal?.removeEventListener("abort", cancel);
    }
  }

  /** Closes idle sockets; in-flight requests finish. */
  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}

function encodeBody(body: unknown, headers: Record<string, string>): unknown {
  if (body === undefined) return undefined;
  const hasType = Object.keys(headers).some((name) => name.toLowerCase() === "content-type");
  if (body instanceof URLSearchParams) {
    if (!hasType) headers["Content-Type"] = "application/x-www-form-urlencoded";
    return body.toString();
  }
  if (typeof body === "string" || Buffer.isBuffer(body)) return body;
  if (!hasType) headers["Content-Type"] = "application/json";
  return JSON.stringify(body);
}

function toResponse(answer: AxiosResponse<Buffer>, method: string, url: string, durationMs: number): HttpResponse {
  const headers: Record<string, string> = {};
  let setCookie: string[] = [];
  for (const [name, value] of Object.entries(answer.headers as Record<string, unknown>)) {
    const key = name.toLowerCase();
    if (key === "set-cookie") setCookie = Array.isArray(value) ? value.map(String) : [String(value)];
    else if (value !== undefined && value !== null) headers[key] = Array.isArray(value) ? value.join(", ") : String(value);
  }
  const text = Buffer.isBuffer(answer.data) ? answer.data.toString("utf8") : String(answer.data ?? "");
  const contentType = (headers["content-type"] ?? "").toLowerCase();
  let body: unknown = text === "" ? undefined : text;
  let parseError: string | undefined;
  if (text !== "" && isJsonType(contentType)) {
    try {
      body = JSON.parse(text);
    } catch (err) {
      parseError = (err as Error).message;
    }
  }
  return { status: answer.status, headers, setCookie, body, text, contentType, parseError, method, url, durationMs };
}

function isJsonType(contentType: string): boolean {
  return /^application\/(?:[\w.+-]+\+)?json\b/.test(contentType) || contentType.startsWith("text/json");
}

interface FailedCall {
  method: string;
  url: string;
  idempotent: boolean;
  timedOut: boolean;
  timeoutMs: number;
  maxResponseBytes: number;
}

/**
 * Turns a transport failure into our error types. The request counts as sent once Node handed its last byte to
 * the socket (`writableFinished`): from then on the vendor may have acted on it.
 */
function transportError(err: unknown, call: FailedCall): TechnicalError {
  const e = err as { code?: string; message?: string; request?: { writableFinished?: boolean }; cause?: { code?: string } };
  const sent = e.request?.writableFinished === true;
  const code = e.cause?.code ?? e.code;
  const where = `${call.method} ${call.url}`;
  const afterSend = (kind: "network" | "timeout" | "protocol", what: string, retryable: boolean): TechnicalError => {
    if (sent && !call.idempotent) {
      return new UnknownOutcomeError({ kind, message: `${where}: ${what} after the request was sent; the vendor may have processed it`, ...(code ? { code } : {}) });
    }
    return new TechnicalError({ kind, message: `${where}: ${what}${sent ? " after the request was sent" : " before the request was sent"}`, retryable, ...(code ? { code } : {}) });
  };
  if (call.timedOut) return afterSend("timeout", `no complete answer within ${call.timeoutMs} ms`, true);
  if (typeof e.message === "string" && e.message.includes("maxContentLength")) {
    return afterSend("protocol", `response larger than the ${call.maxResponseBytes}-byte limit`, false);
  }
  if (code === "ERR_CANCELED") return afterSend("network", "cancelled", false);
  if (code && TLS_CODES.has(code)) {
    return new TechnicalError({ kind: "network", code, retryable: false, message: `${where}: TLS certificate not trusted (${code}); add the issuing CA to the connection's TLS settings` });
  }
  if (code === "ENOTFOUND") return new TechnicalError({ kind: "network", code, retryable: false, message: `${where}: host not found` });
  return afterSend("network", `connection failed (${code ?? e.message ?? "unknown error"})`, true);
}
