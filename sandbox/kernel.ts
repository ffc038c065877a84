// The kernel every vendor sandbox runs on: an HTTP server on 127.0.0.1, routing, body parsing, an in-memory
// record store, issued-token bookkeeping, and the control plane (/__sandbox/…) that injects faults and lets tests
// inspect side effects. It knows nothing about any vendor: each sandbox hands it a VendorProfile that answers in
// the vendor's own shapes (error bodies, throttle signals, headers).
import * as http from "node:http";
import { randomBytes, randomUUID } from "node:crypto";
import type { AddressInfo } from "node:net";

export type HeaderMap = Record<string, string | string[]>;

/** What a handler answers. A body that is not a string or Buffer is sent as JSON. */
export interface Reply {
  status: number;
  headers?: HeaderMap;
  body?: unknown;
}

export interface SandboxRequest {
  method: string;
  /** Decoded path without the query string. */
  path: string;
  /** Path and query as received (still encoded), for building links. */
  url: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  params: Record<string, string>;
  raw: Buffer;
  header(name: string): string | undefined;
  /** The body parsed as JSON; throws Halt with the vendor's malformed-body reply. */
  json(): unknown;
  /** The body parsed as application/x-www-form-urlencoded. */
  form(): URLSearchParams;
  /** Free slot for a profile's before() hook to pass the authenticated principal to handlers. */
  principal?: string;
}

export type Handler = (req: SandboxRequest) => Reply | Promise<Reply>;

export interface Route {
  method: string;
  /** "/a/:name/b" (":name" is one segment, "*" the rest of the path) or a RegExp with named groups. */
  path: string | RegExp;
  handler: Handler;
  /** Token endpoints and the like: skip the profile's auth and rate-limit hook. */
  public?: boolean;
}

/** Thrown anywhere inside a handler to answer with this reply at once. */
export class Halt extends Error {
  constructor(readonly reply: Reply) {
    super(`halt ${reply.status}`);
  }
}

export interface VendorProfile {
  vendor: string;
  routes: Route[];
  /** Auth and rate limits for non-public routes; return a reply to refuse the request. */
  before?(req: SandboxRequest): Reply | undefined;
  /** Adds the vendor's per-response headers (limit counters, request ids). */
  decorate?(req: SandboxRequest, reply: Reply): void;
  /** The vendor's own body for a 5xx. */
  serverError(status: number, req: SandboxRequest): Reply;
  /** The vendor's own throttle signal (status, headers and body). */
  throttled(req: SandboxRequest): Reply;
  /** The vendor's answer to an unparseable request body. */
  malformedBody(req: SandboxRequest): Reply;
  /** The vendor's answer to a path it does not serve. */
  notFound(req: SandboxRequest): Reply;
  /** Concurrency gate counted from arrival to answer; the reply is the vendor's refusal. */
  concurrency?: { limit(): number; refused(req: SandboxRequest): Reply };
  /** Stores a record posted to /__sandbox/records/:type, filling what the vendor would fill. */
  seedRecord?(type: string, input: Record<string, unknown>): StoredRecord;
  /** Puts the default seed data in the (already emptied) store and clears the vendor's counters. */
  reset(): void;
}

// ---------------------------------------------------------------------------------------------------------------
// Record store

export type StoredRecord = Record<string, unknown>;

/** Records per type, in insertion order. Counts creations (not seeds) so tests can count side effects. */
export class RecordStore {
  private tables = new Map<string, Map<string, StoredRecord>>();
  created: Record<string, number> = {};

  table(type: string): Map<string, StoredRecord> {
    let t = this.tables.get(type);
    if (!t) this.tables.set(type, (t = new Map()));
    return t;
  }
  insert(type: string, id: string, record: StoredRecord, opts: { seed?: boolean } = {}): StoredRecord {
    this.table(type).set(id, record);
    if (!opts.seed) this.created[type] = (this.created[type] ?? 0) + 1;
    return record;
  }
  get(type: string, id: string): StoredRecord | undefined {
    return this.tables.get(type)?.get(id);
  }
  all(type: string): StoredRecord[] {
    return [...(this.tables.get(type)?.values() ?? [])];
  }
  delete(type: string, id: string): boolean {
    return this.tables.get(type)?.delete(id) ?? false;
  }
  types(): string[] {
    return [...this.tables.keys()];
  }
  clear(): void {
    this.tables.clear();
    this.created = {};
  }
  /**
   * For all-or-none work (changesets, allOrNone collections): take a copy, restore it on failure. Handlers change
   * records in place, so the copy is deep; it is taken on every such write, so it is a plain-JSON copy (several
   * times cheaper than structuredClone) rather than a general one.
   */
  snapshot(): { tables: Map<string, Map<string, StoredRecord>>; created: Record<string, number> } {
    const tables = new Map<string, Map<string, StoredRecord>>();
    for (const [type, table] of this.tables) {
      const copy = new Map<string, StoredRecord>();
      for (const [id, record] of table) copy.set(id, deepCopy(record));
      tables.set(type, copy);
    }
    return { tables, created: { ...this.created } };
  }
  restore(s: ReturnType<RecordStore["snapshot"]>): void {
    this.tables = s.tables;
    this.created = s.created;
  }
}

/** A deep copy of JSON-like data; anything else (Buffer, Map…) falls back to structuredClone. */
function deepCopy<T>(value: T): T {
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map(deepCopy) as T;
  const proto = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) {
    const copy: Record<string, unknown> = proto === null ? Object.create(null) : {};
    for (const key of Object.keys(value)) copy[key] = deepCopy((value as Record<string, unknown>)[key]);
    return copy as T;
  }
  if (value instanceof Date) return new Date(value.getTime()) as T;
  return structuredClone(value);
}

// ---------------------------------------------------------------------------------------------------------------
// Tokens

export interface IssuedToken {
  token: string;
  subject: string;
  issuedAt: number;
  expiresAt: number;
  data: Record<string, unknown>;
}

/** Bearer tokens the sandbox issued. "expired" is kept apart from "unknown": some vendors answer them differently. */
export class TokenRegistry {
  private issued = new Map<string, IssuedToken>();

  issue(subject: string, lifetimeSeconds: number, data: Record<string, unknown> = {}, token = randomBytes(24).toString("base64url")): IssuedToken {
    const now = Date.now();
    const t: IssuedToken = { token, subject, issuedAt: now, expiresAt: now + lifetimeSeconds * 1000, data };
    this.issued.set(token, t);
    return t;
  }
  check(token: string | undefined): IssuedToken | "expired" | undefined {
    if (!token) return undefined;
    const t = this.issued.get(token);
    if (!t) return undefined;
    return t.expiresAt <= Date.now() ? "expired" : t;
  }
  /** Ends every issued token now (the fault "all tokens expire"). */
  expireAll(): number {
    const now = Date.now();
    for (const t of this.issued.values()) t.expiresAt = Math.min(t.expiresAt, now);
    return this.issued.size;
  }
  clear(): void {
    this.issued.clear();
  }
}

/** A rolling-window request counter (HubSpot 10 s, Dataverse 5 min, Salesforce 24 h). */
export class SlidingWindow {
  private hits: number[] = [];
  constructor(private windowMs: () => number) {}
  count(now = Date.now()): number {
    const from = now - this.windowMs();
    let drop = 0;
    while (drop < this.hits.length && this.hits[drop]! <= from) drop++;
    if (drop) this.hits.splice(0, drop);
    return this.hits.length;
  }
  add(now = Date.now()): void {
    this.hits.push(now);
  }
  /** Milliseconds until fewer than `limit` hits remain in the window. */
  msUntilBelow(limit: number, now = Date.now()): number {
    const n = this.count(now);
    if (n < limit) return 0;
    return Math.max(0, this.hits[n - limit]! + this.windowMs() - now);
  }
  clear(): void {
    this.hits = [];
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Faults

export const FAULT_KINDS = ["latency", "error", "throttle", "outage", "lost-response", "malformed", "html-502"] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/**
 * One fault rule. Rules match by method and path glob ("*" = any characters); probability (default 1) draws per
 * request; count (optional) fires the rule at most that many times, which makes throttle and error bursts.
 *   latency:       wait ms (+ uniform 0..jitterMs) before handling.
 *   error:         answer status (default 500) with the vendor's 5xx body; nothing is committed.
 *   throttle:      answer with the vendor's own throttle signal; nothing is committed.
 *   outage:        for durationMs from when the rule is set, every matching request fails: mode "reset" destroys
 *                  the connection, mode "503" answers the vendor's 503.
 *   lost-response: the request is committed, then the connection is destroyed without an answer.
 *   malformed:     the request is committed, then answered 200 with the first half of its JSON body.
 *   html-502:      a proxy in front of the vendor answers 502 with an HTML page; nothing is committed.
 */
export interface FaultRule {
  id: string;
  kind: FaultKind;
  method?: string;
  path?: string;
  probability?: number;
  count?: number;
  ms?: number;
  jitterMs?: number;
  status?: number;
  mode?: "reset" | "503";
  durationMs?: number;
  /** Set by the kernel for outages: the window's end (epoch ms). */
  until?: number;
}

function globToRegExp(glob: string): RegExp {
  const escaped = glob.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*");
  return new RegExp(`^${escaped}$`);
}

function validateFault(input: unknown): FaultRule | string {
  if (!input || typeof input !== "object") return "each fault must be an object";
  const r = input as Record<string, unknown>;
  if (!FAULT_KINDS.includes(r.kind as FaultKind)) return `kind must be one of ${FAULT_KINDS.join(", ")}`;
  const known = ["id", "kind", "method", "path", "probability", "count", "ms", "jitterMs", "status", "mode", "durationMs"];
  const unknown = Object.keys(r).find((key) => !known.includes(key));
  if (unknown) return `unknown fault field ${unknown}; known: ${known.join(", ")}`;
  const num = (k: string, min: number, max = Infinity) => r[k] === undefined || (typeof r[k] === "number" && (r[k] as number) >= min && (r[k] as number) <= max);
  if (!num("probability", 0, 1)) return "probability must be a number in [0, 1]";
  for (const k of ["count", "ms", "jitterMs", "durationMs"]) if (!num(k, 0)) return `${k} must be a non-negative number`;
  if (!num("status", 100, 599)) return "status must be an HTTP status";
  if (r.mode !== undefined && r.mode !== "reset" && r.mode !== "503") return 'mode must be "reset" or "503"';
  if (r.path !== undefined && typeof r.path !== "string") return "path must be a glob string";
  if (r.method !== undefined && typeof r.method !== "string") return "method must be a string";
  if (r.kind === "outage" && typeof r.durationMs !== "number") return "outage needs durationMs";
  const rule: FaultRule = { ...(r as object), id: typeof r.id === "string" ? r.id : randomUUID(), kind: r.kind as FaultKind };
  if (rule.kind === "outage") rule.until = Date.now() + rule.durationMs!;
  return rule;
}

// ---------------------------------------------------------------------------------------------------------------
// Server

export interface StartOptions {
  port?: number;
  host?: string;
  /** Overrides of the vendor's documented limits (tests lower them). */
  limits?: Record<string, number>;
}

export interface RunningSandbox {
  vendor: string;
  url: string;
  port: number;
  kernel: Kernel;
  close(): Promise<void>;
}

interface CompiledRoute extends Route {
  regex: RegExp;
  key: string;
}

interface RouteStats {
  requests: number;
  statuses: Record<string, number>;
}

const BODY_LIMIT = 16 * 1024 * 1024;

export class Kernel {
  readonly store = new RecordStore();
  readonly tokens = new TokenRegistry();
  readonly limits: Record<string, number>;
  private readonly initialLimits: Record<string, number>;
  private faults: FaultRule[] = [];
  private routes: CompiledRoute[] = [];
  private profile!: VendorProfile;
  private stats: { routes: Record<string, RouteStats>; faults: Record<string, number> } = { routes: {}, faults: {} };
  private inFlight = 0;
  /** Arrival time of each request being handled, for limits on long-running requests. */
  private runningSince = new Map<SandboxRequest, number>();

  constructor(defaults: Record<string, number>, overrides: Record<string, number> = {}) {
    this.limits = { ...defaults, ...overrides };
    this.initialLimits = { ...this.limits };
  }

  /** Binds the vendor profile (built after the kernel so it can use the store and tokens). */
  mount(profile: VendorProfile): void {
    this.profile = profile;
    this.routes = profile.routes.map((r) => ({ ...r, regex: typeof r.path === "string" ? compilePath(r.path) : r.path, key: `${r.method} ${String(r.path)}` }));
    this.reset();
  }

  reset(): void {
    this.store.clear();
    this.tokens.clear();
    this.faults = [];
    this.stats = { routes: {}, faults: {} };
    Object.assign(this.limits, this.initialLimits);
    this.profile.reset();
  }

  /** Runs a request through the vendor's routes without faults or stats: for batch envelopes' inner requests. */
  async dispatch(req: SandboxRequest): Promise<Reply> {
    const route = this.match(req);
    if (!route) return this.profile.notFound(req);
    return this.runHandler(route.handler, req);
  }

  private match(req: SandboxRequest): CompiledRoute | undefined {
    for (const r of this.routes) {
      if (r.method !== req.method) continue;
      const m = r.regex.exec(req.path);
      if (m) {
        req.params = { ...(m.groups ?? {}) };
        return r;
      }
    }
    return undefined;
  }

  private async runHandler(handler: Handler, req: SandboxRequest): Promise<Reply> {
    try {
      return await handler(req);
    } catch (e) {
      if (e instanceof Halt) return e.reply;
      process.emitWarning(`sandbox ${this.profile.vendor}: handler failed: ${(e as Error).stack ?? e}`);
      return this.profile.serverError(500, req);
    }
  }

  private firing(req: SandboxRequest, kind: FaultKind): FaultRule | undefined {
    const now = Date.now();
    for (const f of this.faults) {
      if (f.kind !== kind) continue;
      if (f.method && f.method.toUpperCase() !== req.method) continue;
      if (f.path && !globToRegExp(f.path).test(req.path)) continue;
      if (f.kind === "outage" && (f.until ?? 0) <= now) continue;
      if (f.count !== undefined && f.count <= 0) continue;
      if (Math.random() >= (f.probability ?? 1)) continue;
      if (f.count !== undefined) f.count--;
      this.stats.faults[kind] = (this.stats.faults[kind] ?? 0) + 1;
      return f;
    }
    return undefined;
  }

  private count(routeKey: string, status: string): void {
    const s = (this.stats.routes[routeKey] ??= { requests: 0, statuses: {} });
    s.requests++;
    s.statuses[status] = (s.statuses[status] ?? 0) + 1;
  }

  async handle(req: SandboxRequest, res: http.ServerResponse): Promise<void> {
    if (req.path === "/__sandbox" || req.path.startsWith("/__sandbox/")) return send(res, this.control(req));
    const route = this.match(req);
    if (!route) {
      this.count(`${req.method} (unrouted)`, "404");
      return send(res, this.decorated(req, this.profile.notFound(req)));
    }
    this.inFlight++;
    this.runningSince.set(req, Date.now());
    try {
      const outcome = await this.process(route, req);
      if (outcome === "reset" || outcome === "lost") {
        this.count(route.key, outcome);
        res.socket?.destroy();
        return;
      }
      this.count(route.key, String(outcome.status));
      send(res, outcome);
    } finally {
      this.inFlight--;
      this.runningSince.delete(req);
    }
  }

  /** How many requests other than `except` have been in flight for at least `ms`. */
  runningLongerThan(ms: number, except?: SandboxRequest): number {
    const cutoff = Date.now() - ms;
    let n = 0;
    for (const [r, at] of this.runningSince) if (r !== except && at <= cutoff) n++;
    return n;
  }

  private async process(route: CompiledRoute, req: SandboxRequest): Promise<Reply | "reset" | "lost"> {
    const gate = this.profile.concurrency;
    if (gate && this.inFlight > gate.limit()) return this.decorated(req, gate.refused(req));
    const outage = this.firing(req, "outage");
    if (outage) return outage.mode === "503" ? this.decorated(req, this.profile.serverError(503, req)) : "reset";
    const latency = this.firing(req, "latency");
    if (latency) await sleep((latency.ms ?? 0) + Math.random() * (latency.jitterMs ?? 0));
    if (this.firing(req, "html-502")) return proxyErrorPage();
    const error = this.firing(req, "error");
    if (error) return this.decorated(req, this.profile.serverError(error.status ?? 500, req));
    if (this.firing(req, "throttle")) return this.decorated(req, this.profile.throttled(req));
    if (!route.public && this.profile.before) {
      const refused = this.profile.before(req);
      if (refused) return this.decorated(req, refused);
    }
    const reply = this.decorated(req, await this.runHandler(route.handler, req));
    if (this.firing(req, "lost-response")) return "lost";
    if (this.firing(req, "malformed")) {
      const text = typeof reply.body === "string" ? reply.body : JSON.stringify(reply.body ?? { truncated: true });
      return { status: 200, headers: { ...reply.headers, "content-type": "application/json" }, body: text.slice(0, Math.max(1, Math.floor(text.length / 2))) };
    }
    return reply;
  }

  private decorated(req: SandboxRequest, reply: Reply): Reply {
    this.profile.decorate?.(req, reply);
    return reply;
  }

  // The control plane: no vendor auth, no faults, not counted in stats.
  private control(req: SandboxRequest): Reply {
    const sub = req.path.slice("/__sandbox".length) || "/";
    const ok = (body: unknown): Reply => ({ status: 200, body });
    const bad = (message: string): Reply => ({ status: 400, body: { error: message } });
    let input: unknown;
    if (req.raw.length) {
      try {
        input = JSON.parse(req.raw.toString("utf8"));
      } catch {
        return bad("body must be JSON");
      }
    }
    if (sub === "/" && req.method === "GET") return ok({ vendor: this.profile.vendor, limits: this.limits, routes: this.routes.map((r) => r.key) });
    if (sub === "/faults") {
      if (req.method === "GET") return ok({ faults: this.faults });
      if (req.method === "DELETE") {
        this.faults = [];
        return ok({ faults: [] });
      }
      if (req.method === "PUT" || req.method === "POST") {
        const list = Array.isArray(input) ? input : (input as { faults?: unknown })?.faults;
        if (!Array.isArray(list)) return bad('body must be {"faults":[…]} or an array of faults');
        const rules: FaultRule[] = [];
        for (const item of list) {
          const r = validateFault(item);
          if (typeof r === "string") return bad(r);
          rules.push(r);
        }
        // PUT replaces the set, POST adds to it.
        this.faults = req.method === "PUT" ? rules : [...this.faults, ...rules];
        return ok({ faults: this.faults });
      }
    }
    if (sub === "/limits") {
      if (req.method === "GET") return ok({ limits: this.limits });
      if (req.method === "PUT") {
        if (!input || typeof input !== "object") return bad("body must be an object of numbers");
        for (const [k, v] of Object.entries(input)) {
          if (!(k in this.limits)) return bad(`unknown limit ${k}; known: ${Object.keys(this.limits).join(", ")}`);
          if (typeof v !== "number" || !(v >= 0)) return bad(`${k} must be a non-negative number`);
        }
        Object.assign(this.limits, input);
        return ok({ limits: this.limits });
      }
    }
    if (sub === "/tokens/expire" && req.method === "POST") return ok({ expired: this.tokens.expireAll() });
    if (sub === "/stats" && req.method === "GET") return ok({ ...this.stats, created: this.store.created, inFlight: this.inFlight });
    if (sub === "/reset" && req.method === "POST") {
      this.reset();
      return ok({ reset: true });
    }
    const rec = /^\/records\/([^/]+)$/.exec(sub);
    if (rec) {
      const type = rec[1]!;
      if (req.method === "GET") return ok({ type, count: this.store.all(type).length, records: this.store.all(type) });
      if (req.method === "POST") {
        if (!this.profile.seedRecord) return bad("this sandbox does not take seeds");
        const items = Array.isArray(input) ? input : [input];
        try {
          return { status: 201, body: { type, records: items.map((i) => this.profile.seedRecord!(type, i as Record<string, unknown>)) } };
        } catch (e) {
          return bad((e as Error).message);
        }
      }
    }
    if (sub === "/records" && req.method === "GET") return ok({ types: Object.fromEntries(this.store.types().map((t) => [t, this.store.all(t).length])) });
    return { status: 404, body: { error: `no control route ${req.method} ${req.path}` } };
  }
}

function compilePath(path: string): RegExp {
  const parts = path.split("/").map((seg) => {
    if (seg === "*") return "(?<rest>.*)";
    return seg.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/:([A-Za-z_]\w*)/g, "(?<$1>[^/]+)");
  });
  return new RegExp(`^${parts.join("/")}$`);
}

function proxyErrorPage(): Reply {
  return {
    status: 502,
    headers: { "content-type": "text/html; charset=utf-8" },
    body: "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>\n",
  };
}

function send(res: http.ServerResponse, reply: Reply): void {
  const headers: HeaderMap = { ...(reply.headers ?? {}) };
  let body: Buffer | undefined;
  if (reply.body === undefined || reply.body === null) body = undefined;
  else if (Buffer.isBuffer(reply.body)) body = reply.body;
  else if (typeof reply.body === "string") body = Buffer.from(reply.body, "utf8");
  else {
    body = Buffer.from(JSON.stringify(reply.body), "utf8");
    if (!Object.keys(headers).some((h) => h.toLowerCase() === "content-type")) headers["content-type"] = "application/json;charset=UTF-8";
  }
  if (body) headers["content-length"] = String(body.length);
  res.writeHead(reply.status, headers);
  res.end(body);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > BODY_LIMIT) {
        reject(new Error("body too large"));
        req.destroy();
      } else chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

/** Builds a SandboxRequest; also used by batch endpoints for their inner requests. */
export function makeRequest(method: string, url: string, headers: http.IncomingHttpHeaders, raw: Buffer, malformed: (r: SandboxRequest) => Reply): SandboxRequest {
  const u = new URL(url, "http://sandbox.invalid");
  let path: string;
  try {
    path = decodeURIComponent(u.pathname);
  } catch {
    path = u.pathname;
  }
  const req: SandboxRequest = {
    method: method.toUpperCase(),
    path,
    url: u.pathname + u.search,
    query: u.searchParams,
    headers,
    params: {},
    raw,
    header: (name) => {
      const v = headers[name.toLowerCase()];
      return Array.isArray(v) ? v.join(", ") : v;
    },
    json: () => {
      try {
        return JSON.parse(raw.toString("utf8"));
      } catch {
        throw new Halt(malformed(req));
      }
    },
    form: () => new URLSearchParams(raw.toString("utf8")),
  };
  return req;
}

/** Creates the server for one vendor: `build` gets the kernel and returns the vendor's profile. */
export async function serve(defaults: Record<string, number>, options: StartOptions, build: (k: Kernel) => VendorProfile): Promise<RunningSandbox> {
  const kernel = new Kernel(defaults, options.limits);
  const profile = build(kernel);
  kernel.mount(profile);
  const server = http.createServer((req, res) => {
    readBody(req).then(
      (raw) => kernel.handle(makeRequest(req.method ?? "GET", req.url ?? "/", req.headers, raw, (r) => profile.malformedBody(r)), res),
      () => {
        res.writeHead(413).end();
      },
    ).catch((e: unknown) => {
      process.emitWarning(`sandbox ${profile.vendor}: ${(e as Error).stack ?? e}`);
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  server.keepAliveTimeout = 1000;
  const host = options.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    vendor: profile.vendor,
    url: `http://${host}:${port}`,
    port,
    kernel,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Small helpers the vendor sandboxes share

/** Credentials from an `Authorization: Basic` header. */
export function basicAuth(req: SandboxRequest): { user: string; password: string } | undefined {
  const h = req.header("authorization");
  if (!h || !/^basic /i.test(h)) return undefined;
  const text = Buffer.from(h.slice(6).trim(), "base64").toString("utf8");
  const i = text.indexOf(":");
  return i < 0 ? undefined : { user: decodeURIComponent(text.slice(0, i)), password: decodeURIComponent(text.slice(i + 1)) };
}

export function bearer(req: SandboxRequest): string | undefined {
  const h = req.header("authorization");
  return h && /^bearer /i.test(h) ? h.slice(7).trim() : undefined;
}

/** Splits a compact JWS into its parts; undefined when it is not three base64url JSON segments. */
export function decodeJwt(jwt: string): { header: Record<string, unknown>; payload: Record<string, unknown>; signingInput: string; signature: Buffer } | undefined {
  const parts = jwt.split(".");
  if (parts.length !== 3) return undefined;
  try {
    const header = JSON.parse(Buffer.from(parts[0]!, "base64url").toString("utf8"));
    const payload = JSON.parse(Buffer.from(parts[1]!, "base64url").toString("utf8"));
    if (!header || typeof header !== "object" || !payload || typeof payload !== "object") return undefined;
    return { header, payload, signingInput: `${parts[0]}.${parts[1]}`, signature: Buffer.from(parts[2]!, "base64url") };
  } catch {
    return undefined;
  }
}
