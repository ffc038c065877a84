import type { HttpClient, HttpRequest, HttpResponse } from "./client";
import { TechnicalError } from "../resilience/errors";
import { classifyResponse, vendorMessage } from "../resilience/classify";

/** What a provider adds to one request, and which credential that was (so a refusal drops only that one). */
export interface Authorization {
  headers: Record<string, string>;
  /** Opaque to the caller; handed back to `invalidate`. */
  credential?: unknown;
}

/**
 * How a connection authenticates. The Connection calls `authorize` before each request, `observe` with each
 * response, and when `isRejected` says the vendor refused the credential, `invalidate` and the request once more.
 * Vendor adapters pick one of the strategies below or write their own on top of TokenCache.
 */
export interface AuthProvider {
  authorize(request: HttpRequest): Promise<Authorization>;
  /** Whether the response means the credential the request carried is no longer good (expired token, session). */
  isRejected(response: HttpResponse): boolean;
  /** Drops the refused credential unless it was already replaced; the next `authorize` obtains a fresh one. */
  invalidate(authorization: Authorization, response: HttpResponse): void;
  /** Sees every response (session cookies rotate). */
  observe?(response: HttpResponse, authorization: Authorization): void;
  /** Ends a server-side session (Acumatica sessions count against the licence). */
  close?(): Promise<void>;
}

/** A credential and when it stops working (epoch ms); no `expiresAt` means "until refused". */
export interface Credential<T> {
  value: T;
  expiresAt?: number;
}

/**
 * One login per connection, shared by every caller. Concurrent callers that find no valid credential wait for
 * the same login (single flight); a credential is renewed `refreshSkewMs` before it expires (at most half its
 * lifetime early) so no request goes out with a token about to lapse.
 */
export class TokenCache<T> {
  private current: { value: T; refreshAt: number } | undefined;
  private pending: Promise<T> | undefined;
  private count = 0;

  constructor(
    private readonly login: () => Promise<Credential<T>>,
    private readonly refreshSkewMs = 60_000,
  ) {}

  /** A valid credential, logging in only when there is none. */
  get(): Promise<T> {
    if (this.current && Date.now() < this.current.refreshAt) return Promise.resolve(this.current.value);
    if (!this.pending) {
      this.count++;
      const obtainedAt = Date.now();
      this.pending = this.login().then(
        (credential) => {
          this.pending = undefined;
          const expiresAt = credential.expiresAt ?? Infinity;
          const skew = Math.min(this.refreshSkewMs, (expiresAt - obtainedAt) / 2);
          this.current = { value: credential.value, refreshAt: expiresAt - skew };
          return credential.value;
        },
        (err: unknown) => {
          this.pending = undefined;
          throw err;
        },
      );
    }
    return this.pending;
  }

  /** The cached credential without logging in, if any. */
  peek(): T | undefined {
    return this.current?.value;
  }

  /** Forgets `value` if it is still the current credential; a newer one is kept. */
  invalidate(value: T): void {
    if (this.current && this.current.value === value) this.current = undefined;
  }

  /** Logins started so far (for tests and metrics). */
  get logins(): number {
    return this.count;
  }
}

/** Fixed headers: an API key, a private-app token, Basic credentials. A refusal is final, there is nothing to renew. */
export class StaticCredentials implements AuthProvider {
  constructor(private readonly headers: Record<string, string>) {}

  authorize(): Promise<Authorization> {
    return Promise.resolve({ headers: { ...this.headers } });
  }

  isRejected(): boolean {
    return false;
  }

  invalidate(): void {}
}

/** `Authorization: Bearer <token>` for a fixed token (HubSpot private app, Stripe secret key, Odoo JSON-2 key). */
export function bearerToken(token: string): StaticCredentials {
  return new StaticCredentials({ Authorization: `Bearer ${token}` });
}

/** A fixed key in a header of the vendor's choosing (`APIKey` on SAP's API hub). */
export function apiKeyHeader(header: string, key: string): StaticCredentials {
  return new StaticCredentials({ [header]: key });
}

/** HTTP Basic (SAP communication users, Oracle Fusion). */
export function basicAuth(user: string, password: string): StaticCredentials {
  return new StaticCredentials({ Authorization: `Basic ${Buffer.from(`${user}:${password}`, "utf8").toString("base64")}` });
}

/**
 * A bearer token from a login function the adapter supplies (NetSuite signs a JWT assertion per login), cached
 * and renewed by TokenCache; a 401 drops it once.
 */
export class BearerTokenAuth implements AuthProvider {
  readonly tokens: TokenCache<string>;

  constructor(login: () => Promise<Credential<string>>, refreshSkewMs?: number) {
    this.tokens = new TokenCache(login, refreshSkewMs);
  }

  async authorize(): Promise<Authorization> {
    const token = await this.tokens.get();
    return { headers: { Authorization: `Bearer ${token}` }, credential: token };
  }

  isRejected(response: HttpResponse): boolean {
    return response.status === 401;
  }

  invalidate(authorization: Authorization): void {
    this.tokens.invalidate(authorization.credential as string);
  }
}

export interface ClientCredentialsOptions {
  /** Absolute URL of the token endpoint. */
  tokenUrl: string;
  clientId: string;
  clientSecret: string;
  /** Entra ID wants `https://{org}.crm.dynamics.com/.default`. */
  scope?: string;
  /** Client id and secret in the form (default) or as HTTP Basic, as the vendor prefers. */
  clientAuthentication?: "form" | "basic";
  /** Renew this long before expiry. Default 60 s. */
  refreshSkewMs?: number;
}

/**
 * OAuth 2.0 client credentials (RFC 6749 §4.4): a form post to the token endpoint, `expires_in` honoured.
 * Salesforce, Dataverse, Business Central, HubSpot server apps.
 */
export class OAuth2ClientCredentials extends BearerTokenAuth {
  constructor(http: HttpClient, options: ClientCredentialsOptions) {
    super(() => fetchClientCredentialsToken(http, options), options.refreshSkewMs);
  }
}

async function fetchClientCredentialsToken(http: HttpClient, options: ClientCredentialsOptions): Promise<Credential<string>> {
  const form = new URLSearchParams({ grant_type: "client_credentials" });
  const headers: Record<string, string> = {};
  if (options.clientAuthentication === "basic") {
    headers.Authorization = `Basic ${Buffer.from(`${encodeURIComponent(options.clientId)}:${encodeURIComponent(options.clientSecret)}`).toString("base64")}`;
  } else {
    form.set("client_id", options.clientId);
    form.set("client_secret", options.clientSecret);
  }
  if (options.scope) form.set("scope", options.scope);
  // Asking twice for a token does no harm, so failures after sending are retried rather than "unknown outcome".
  const response = await http.send({ method: "POST", path: options.tokenUrl, body: form, headers, idempotent: true });
  const body = response.body as { access_token?: unknown; expires_in?: unknown } | undefined;
  const ok = response.status >= 200 && response.status < 300;
  if (ok && typeof body?.access_token === "string") {
    const lifetime = Number(body.expires_in);
    return Number.isFinite(lifetime) && lifetime > 0 ? { value: body.access_token, expiresAt: Date.now() + lifetime * 1000 } : { value: body.access_token };
  }
  if (ok && response.parseError === undefined) {
    throw new TechnicalError({ kind: "protocol", retryable: false, status: response.status, message: `token endpoint ${response.url} answered HTTP ${response.status} without an access_token` });
  }
  throw loginError(response, "token endpoint");
}

/** The error for a login that did not produce a credential; never includes what was sent. */
export function loginError(response: HttpResponse, what: string): TechnicalError {
  const technical = classifyResponse(response, { method: response.method, idempotent: true });
  // A 500 is how some vendors refuse a login (Acumatica: "Invalid credentials"): asking again would not help.
  if (technical instanceof TechnicalError && response.status !== 500 && (technical.retryable || technical.kind === "protocol")) return technical;
  const said = vendorMessage(response.body);
  const detail = said.code !== undefined && said.message !== undefined && said.code !== said.message ? `${said.code}: ${said.message}` : (said.message ?? said.code);
  return new TechnicalError({
    kind: "auth",
    retryable: false,
    status: response.status,
    message: `${what} ${response.url} refused the login (HTTP ${response.status}${detail ? `: ${detail}` : ""}); check the connection's credentials`,
  });
}

/** Session cookies, name → value; attributes other than expiry are ignored (one connection talks to one host). */
export class CookieJar {
  private readonly cookies = new Map<string, string>();

  /** Applies Set-Cookie lines; an expired cookie is removed. */
  update(setCookie: string[]): void {
    for (const line of setCookie) {
      const [pair = "", ...attributes] = line.split(";");
      const eq = pair.indexOf("=");
      if (eq <= 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attributes.some((a) => {
        const [key = "", val = ""] = a.split("=").map((s) => s.trim());
        if (/^max-age$/i.test(key)) return Number(val) <= 0;
        if (/^expires$/i.test(key)) return Date.parse(val) <= Date.now();
        return false;
      });
      if (expired) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  get size(): number {
    return this.cookies.size;
  }

  /** The Cookie header value. */
  header(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join("; ");
  }
}

export interface CookieSessionOptions {
  /** The login call (Acumatica: POST /entity/auth/login with name, password, tenant). Expects 2xx + Set-Cookie. */
  login: HttpRequest;
  /** The logout call made on close, if the vendor wants sessions ended. */
  logout?: HttpRequest;
}

/** Cookie login: log in once, send the cookies, log in again when the session is refused (401). */
export class CookieSession implements AuthProvider {
  readonly sessions: TokenCache<CookieJar>;

  constructor(
    private readonly http: HttpClient,
    private readonly options: CookieSessionOptions,
  ) {
    this.sessions = new TokenCache(async () => {
      const response = await http.send({ ...options.login, idempotent: true });
      if (response.status < 200 || response.status >= 300 || response.setCookie.length === 0) throw loginError(response, "session login");
      const jar = new CookieJar();
      jar.update(response.setCookie);
      return { value: jar };
    });
  }

  async authorize(): Promise<Authorization> {
    const jar = await this.sessions.get();
    return { headers: { Cookie: jar.header() }, credential: jar };
  }

  isRejected(response: HttpResponse): boolean {
    return response.status === 401;
  }

  invalidate(authorization: Authorization): void {
    this.sessions.invalidate(authorization.credential as CookieJar);
  }

  observe(response: HttpResponse, authorization: Authorization): void {
    if (response.setCookie.length > 0 && authorization.credential === this.sessions.peek()) (authorization.credential as CookieJar).update(response.setCookie);
  }

  async close(): Promise<void> {
    const jar = this.sessions.peek();
    if (!jar || !this.options.logout) return;
    this.sessions.invalidate(jar);
    await this.http.send({ ...this.options.logout, headers: { ...this.options.logout.headers, Cookie: jar.header() } }).catch(() => undefined);
  }
}

export interface CsrfTokenOptions {
  /** Where to fetch the token: the service root, e.g. `/sap/opu/odata/sap/API_SALES_ORDER_SRV/`. */
  fetchPath: string;
  /** GET by default; SAP also answers HEAD, which spares the service document's body. */
  fetchMethod?: "GET" | "HEAD";
}

const CSRF_HEADER = "x-csrf-token";

interface CsrfSession {
  token: string;
  jar: CookieJar;
}

/**
 * The CSRF handshake in front of modifying calls (SAP OData): fetch a token with `x-csrf-token: Fetch`, send it
 * back with the session cookies on POST/PUT/PATCH/DELETE, fetch again when the vendor answers 403 with
 * `x-csrf-token: Required`. Wraps the provider that authenticates the user (Basic, OAuth).
 */
export class CsrfToken implements AuthProvider {
  readonly sessions: TokenCache<CsrfSession>;

  constructor(
    http: HttpClient,
    private readonly inner: AuthProvider,
    options: CsrfTokenOptions,
  ) {
    this.sessions = new TokenCache(async () => {
      const fetch: HttpRequest = { method: options.fetchMethod ?? "GET", path: options.fetchPath };
      const user = await inner.authorize(fetch);
      const response = await http.send({ ...fetch, headers: { ...user.headers, [CSRF_HEADER]: "Fetch" } });
      const token = response.headers[CSRF_HEADER];
      if (response.status >= 300 || !token || token.toLowerCase() === "required") {
        if (inner.isRejected(response)) inner.invalidate(user, response);
        throw loginError(response, "CSRF token fetch");
      }
      const jar = new CookieJar();
      jar.update(response.setCookie);
      return { value: { token, jar } };
    });
  }

  async authorize(request: HttpRequest): Promise<Authorization> {
    const user = await this.inner.authorize(request);
    if (request.method === "GET" || request.method === "HEAD" || request.method === "OPTIONS") {
      return { headers: user.headers, credential: { user } };
    }
    const csrf = await this.sessions.get();
    const headers: Record<string, string> = { ...user.headers, [CSRF_HEADER]: csrf.token };
    if (csrf.jar.size > 0) headers.Cookie = csrf.jar.header();
    return { headers, credential: { user, csrf } };
  }

  isRejected(response: HttpResponse): boolean {
    return this.csrfRequired(response) || this.inner.isRejected(response);
  }

  invalidate(authorization: Authorization, response: HttpResponse): void {
    const { user, csrf } = authorization.credential as { user: Authorization; csrf?: CsrfSession };
    if (this.csrfRequired(response)) {
      if (csrf) this.sessions.invalidate(csrf);
    } else {
      this.inner.invalidate(user, response);
    }
  }

  observe(response: HttpResponse, authorization: Authorization): void {
    const { user, csrf } = authorization.credential as { user: Authorization; csrf?: CsrfSession };
    if (csrf && response.setCookie.length > 0 && csrf === this.sessions.peek()) csrf.jar.update(response.setCookie);
    this.inner.observe?.(response, user);
  }

  close(): Promise<void> {
    return this.inner.close?.() ?? Promise.resolve();
  }

  private csrfRequired(response: HttpResponse): boolean {
    return response.status === 403 && response.headers[CSRF_HEADER]?.toLowerCase() === "required";
  }
}
