// Oracle NetSuite REST web services sandbox, written from erp-crm-wire.md §4 and perf-reliability.md §7
// (not from Keelson's adapter). Models: OAuth 2.0 M2M tokens from a signed JWT assertion, TBA (OAuth 1.0a
// HMAC-SHA256) signatures, record create (204 + Location), eid: upsert, PATCH, GET with expandSubResources,
// list with q and links paging, SuiteQL, sales order → invoice transform, invoice → customer payment transform,
// async requests with X-NetSuite-Idempotency-Key, o:errorDetails errors and the account concurrency limit.
import { createHmac, createPublicKey, constants, randomBytes, verify, X509Certificate, type KeyObject } from "node:crypto";
import { Halt, bearer, decodeJwt, makeRequest, serve, type Kernel, type Reply, type Route, type RunningSandbox, type SandboxRequest, type StartOptions, type StoredRecord } from "./kernel";

export const NETSUITE_LIMITS = {
  /** Account concurrency: Tier 1 base 15 (+10 per SuiteCloud Plus licence); shared by SOAP, REST and RESTlets. */
  concurrentRequests: 15,
  /** Records per list page and SuiteQL page: default and maximum 1,000. */
  maxPageSize: 1000,
  /** OAuth 2.0 access tokens live 60 minutes. */
  tokenLifetimeSeconds: 3600,
  /** TBA timestamps further than this from the server clock are refused [~]. */
  tbaClockSkewSeconds: 300,
};

export interface NetSuiteOptions extends StartOptions {
  /** Account id, the realm of TBA headers (e.g. 1234567_SB1). */
  accountId?: string;
  /** OAuth 2.0 client id of the integration record (the JWT's iss). */
  clientId?: string;
  /** Certificate id (the JWT's kid) → PEM certificate or public key uploaded in "OAuth 2.0 Client Credentials Setup". */
  m2mCertificates?: Record<string, string>;
  /** Token-based authentication credentials. */
  tba?: { consumerKey: string; consumerSecret: string; tokenId: string; tokenSecret: string };
  seed?: boolean;
}

type FieldKind = "string" | "number" | "boolean" | "date" | "ref" | "sublist" | "readonly";

interface RecordType {
  fields: Record<string, FieldKind>;
  /** Ref field → the record type it points to. */
  refs: Record<string, string>;
  required: string[];
  /** Sublist → its line fields and the record type of its "item"/"doc" reference. */
  sublists: Record<string, { fields: Record<string, FieldKind>; refs: Record<string, string> }>;
  tranPrefix?: string;
}

const LINE = { fields: { line: "readonly", item: "ref", quantity: "number", rate: "number", amount: "number", description: "string" } as Record<string, FieldKind>, refs: { item: "inventoryItem" } };

const TYPES: Record<string, RecordType> = {
  customer: {
    fields: { id: "readonly", entityId: "string", companyName: "string", isPerson: "boolean", firstName: "string", lastName: "string", email: "string", phone: "string", subsidiary: "ref", currency: "ref", terms: "ref", externalId: "string", comments: "string", defaultAddress: "string", dateCreated: "readonly", lastModifiedDate: "readonly" },
    refs: { subsidiary: "subsidiary", currency: "currency", terms: "term" },
    required: ["subsidiary"],
    sublists: {},
  },
  salesOrder: {
    fields: { id: "readonly", tranId: "readonly", entity: "ref", tranDate: "date", otherRefNum: "string", memo: "string", currency: "ref", location: "ref", subsidiary: "ref", externalId: "string", status: "readonly", subtotal: "readonly", total: "readonly", item: "sublist", createdDate: "readonly", lastModifiedDate: "readonly" },
    refs: { entity: "customer", currency: "currency", location: "location", subsidiary: "subsidiary" },
    required: ["entity"],
    sublists: { item: LINE },
    tranPrefix: "SO",
  },
  invoice: {
    fields: { id: "readonly", tranId: "readonly", entity: "ref", createdFrom: "ref", tranDate: "date", dueDate: "date", otherRefNum: "string", memo: "string", currency: "ref", externalId: "string", status: "readonly", subtotal: "readonly", total: "readonly", amountPaid: "readonly", amountRemaining: "readonly", item: "sublist", createdDate: "readonly", lastModifiedDate: "readonly" },
    refs: { entity: "customer", createdFrom: "salesOrder", currency: "currency" },
    required: ["entity"],
    sublists: { item: LINE },
    tranPrefix: "INV",
  },
  customerPayment: {
    fields: { id: "readonly", tranId: "readonly", customer: "ref", payment: "number", tranDate: "date", memo: "string", externalId: "string", currency: "ref", apply: "sublist", createdDate: "readonly", lastModifiedDate: "readonly" },
    refs: { customer: "customer", currency: "currency" },
    required: ["customer", "payment"],
    sublists: { apply: { fields: { doc: "ref", apply: "boolean", amount: "number" }, refs: { doc: "invoice" } } },
    tranPrefix: "PYMT",
  },
  inventoryItem: {
    fields: { id: "readonly", itemId: "string", displayName: "string", basePrice: "number", externalId: "string", createdDate: "readonly", lastModifiedDate: "readonly" },
    refs: {},
    required: ["itemId"],
    sublists: {},
  },
};

/** Reference targets that are not records here; these ids exist in every sandbox account. */
const FIXED_REFS: Record<string, Record<string, string>> = {
  subsidiary: { "1": "Parent Company" },
  currency: { "1": "US Dollar", "2": "British pound", "4": "Euro" },
  location: { "1": "Main Warehouse" },
  term: { "1": "Net 30" },
};

const LABELS: Record<string, string> = { companyName: "Company Name", subsidiary: "Subsidiary", entity: "Customer", customer: "Customer", payment: "Payment Amount", itemId: "Item Name/Number", item: "Item" };

const TYPE_URL: Record<number, string> = {
  400: "https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html#sec10.4.1",
  401: "https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html#sec10.4.2",
  403: "https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html#sec10.4.4",
  404: "https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html#sec10.4.5",
  405: "https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html#sec10.4.6",
  429: "https://tools.ietf.org/html/rfc6585#section-4",
  500: "https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html#sec10.5.1",
  503: "https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html#sec10.5.4",
};
const TITLE: Record<number, string> = { 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable" };

function nsBody(status: number, code: string, detail: string, extra: Record<string, string> = {}, title = TITLE[status] ?? "Error"): Record<string, unknown> {
  return { type: TYPE_URL[status] ?? TYPE_URL[400], title, status, "o:errorDetails": [{ detail, "o:errorCode": code, ...extra }] };
}
const nsError = (status: number, code: string, detail: string, extra: Record<string, string> = {}): Halt => new Halt({ status, body: nsBody(status, code, detail, extra) });

/** RFC 3986 percent-encoding, as OAuth 1.0a signs it. */
const pct = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

const today = () => new Date().toISOString().slice(0, 10);
const nowIso = () => new Date().toISOString().replace(/\.\d{3}Z$/, "Z");

interface Job {
  id: string;
  key?: string;
  progress: "pending" | "succeeded" | "failed";
  completedTime?: string;
  result?: Reply;
}

/** Credentials the sandbox accepts unless start() is given others (M2M needs a certificate: see m2mCertificates). */
export const NETSUITE_DEFAULTS = { accountId: "1234567_SB1", clientId: "keelson-sandbox-client", tba: { consumerKey: "keelson-consumer-key", consumerSecret: "keelson-consumer-secret", tokenId: "keelson-token-id", tokenSecret: "keelson-token-secret" } };

export async function start(options: NetSuiteOptions = {}): Promise<RunningSandbox> {
  const accountId = options.accountId ?? NETSUITE_DEFAULTS.accountId;
  const clientId = options.clientId ?? NETSUITE_DEFAULTS.clientId;
  const tba = options.tba ?? NETSUITE_DEFAULTS.tba;
  const certs = new Map<string, KeyObject>();
  for (const [kid, pem] of Object.entries(options.m2mCertificates ?? {})) certs.set(kid, pem.includes("CERTIFICATE") ? new X509Certificate(pem).publicKey : createPublicKey(pem));

  return serve(NETSUITE_LIMITS, options, (k: Kernel) => {
    let counter = 100;
    const tranCounters: Record<string, number> = {};
    const nonces = new Map<string, number>();
    const jobs = new Map<string, Job>();
    const idempotencyKeys = new Map<string, string>();

    const recordUrl = (req: SandboxRequest, type: string, id: string) => `http://${req.header("host")}/services/rest/record/v1/${type}/${id}`;
    const typeOf = (name: string): RecordType => {
      const t = TYPES[name];
      if (!t) throw nsError(404, "NONEXISTENT_ID", `Record type '${name}' does not exist.`); // [~]
      return t;
    };
    const canonical = (fields: Record<string, FieldKind>, name: string) => Object.keys(fields).find((f) => f.toLowerCase() === name.toLowerCase());

    const refName = (type: string, id: string): string | undefined => {
      if (FIXED_REFS[type]) return FIXED_REFS[type]![id];
      const r = k.store.get(type, id);
      if (!r) return undefined;
      if (type === "customer") return `${r.entityId} ${r.companyName ?? ""}`.trim();
      if (type === "inventoryItem") return r.itemId as string;
      return `${type === "salesOrder" ? "Sales Order" : type === "invoice" ? "Invoice" : "Payment"} #${r.tranId}`;
    };

    const findRecord = (type: string, key: string): StoredRecord | undefined => {
      if (key.startsWith("eid:")) return k.store.all(type).find((r) => r.externalId === key.slice(4));
      return k.store.get(type, key);
    };

    const ref = (target: string, input: unknown, path: string): { id: string } => {
      const id = input && typeof input === "object" ? (input as { id?: unknown; externalId?: unknown }).id : undefined;
      const external = input && typeof input === "object" ? (input as { externalId?: unknown }).externalId : undefined;
      let resolved: string | undefined;
      if (id !== undefined && refName(target, String(id)) !== undefined) resolved = String(id);
      else if (typeof external === "string") resolved = k.store.all(target).find((r) => r.externalId === external)?.id as string | undefined;
      if (!resolved) throw nsError(400, "INVALID_CONTENT", `Error while accessing a resource. You have entered an Invalid Field Value ${String(id ?? external)} for the following field: ${path.split(".").pop()!.replace(/\[\d+\]$/, "")}`, { "o:errorPath": path });
      return { id: resolved };
    };

    /** Validates a write body into canonical field names; field names match case-insensitively [~]. */
    const parse = (type: string, body: unknown, creating: boolean): Record<string, unknown> => {
      const t = typeOf(type);
      if (!body || typeof body !== "object" || Array.isArray(body)) throw nsError(400, "INVALID_CONTENT", "The request body must be a JSON object.");
      const out: Record<string, unknown> = {};
      for (const [name, value] of Object.entries(body as Record<string, unknown>)) {
        if (name === "links") continue;
        const field = canonical(t.fields, name);
        if (!field) throw nsError(400, "INVALID_CONTENT", `Error while accessing a resource. Invalid field name: ${name}.`, { "o:errorPath": name }); // [~] wording
        const kind = t.fields[field]!;
        if (kind === "readonly") continue;
        if (value === null) {
          out[field] = null;
          continue;
        }
        if (kind === "ref") out[field] = ref(t.refs[field]!, value, field);
        else if (kind === "sublist") out[field] = parseSublist(t.sublists[field]!, value, field);
        else if (!kindOk(kind, value)) throw nsError(400, "INVALID_CONTENT", `Error while accessing a resource. You have entered an Invalid Field Value ${JSON.stringify(value)} for the following field: ${field}`, { "o:errorPath": field });
        else out[field] = value;
      }
      if (creating) {
        const missing = t.required.filter((f) => out[f] == null || out[f] === "");
        if (type === "customer" && !out.isPerson && !out.companyName) missing.unshift("companyName");
        if (t.sublists.item && !((out.item as { items?: unknown[] } | undefined)?.items?.length)) missing.push("item");
        if (missing.length) throw nsError(400, "USER_ERROR", `Error while accessing a resource. Please enter value(s) for: ${missing.map((m) => LABELS[m] ?? m).join(", ")}.`);
      }
      return out;
    };

    const parseSublist = (def: RecordType["sublists"][string], value: unknown, name: string): { items: Record<string, unknown>[] } => {
      const items = (value as { items?: unknown })?.items;
      if (!Array.isArray(items)) throw nsError(400, "INVALID_CONTENT", `Error while accessing a resource. The sublist ${name} must be an object with an items array.`, { "o:errorPath": name });
      return {
        items: items.map((line, i) => {
          const out: Record<string, unknown> = {};
          for (const [n, v] of Object.entries((line ?? {}) as Record<string, unknown>)) {
            const f = canonical(def.fields, n);
            if (!f) throw nsError(400, "INVALID_CONTENT", `Error while accessing a resource. Invalid field name: ${n}.`, { "o:errorPath": `${name}.items[${i}].${n}` });
            const kind = def.fields[f]!;
            if (kind === "readonly") continue;
            if (kind === "ref") out[f] = ref(def.refs[f]!, v, `${name}.items[${i}].${f}`);
            else if (!kindOk(kind, v)) throw nsError(400, "INVALID_CONTENT", `Error while accessing a resource. You have entered an Invalid Field Value ${JSON.stringify(v)} for the following field: ${f}`, { "o:errorPath": `${name}.items[${i}].${f}` });
            else out[f] = v;
          }
          return out;
        }),
      };
    };

    /** Line amounts, totals, statuses, transaction numbers: what NetSuite fills in. */
    const derive = (type: string, r: StoredRecord): void => {
      const t = typeOf(type);
      const lines = (r.item as { items?: Record<string, unknown>[] } | undefined)?.items;
      if (lines) {
        lines.forEach((l, i) => {
          l.line = i + 1;
          const item = l.item ? k.store.get("inventoryItem", (l.item as { id: string }).id) : undefined;
          if (l.rate == null && item?.basePrice != null) l.rate = item.basePrice;
          if (l.amount == null && typeof l.quantity === "number" && typeof l.rate === "number") l.amount = round2(l.quantity * l.rate);
        });
        r.subtotal = round2(lines.reduce((s, l) => s + (typeof l.amount === "number" ? l.amount : 0), 0));
        r.total = r.subtotal;
      }
      if (type === "customer" && !r.entityId) r.entityId = r.isPerson ? `${r.firstName ?? ""} ${r.lastName ?? ""}`.trim() : r.companyName;
      if (t.tranPrefix && !r.tranId) {
        tranCounters[type] = (tranCounters[type] ?? 1000) + 1;
        r.tranId = `${t.tranPrefix}${tranCounters[type]}`;
      }
      if (type === "salesOrder") r.status ??= { id: "B", refName: "Pending Fulfillment" };
      if (type === "invoice") {
        r.amountPaid ??= 0;
        r.amountRemaining = round2((r.total as number) - (r.amountPaid as number));
        r.status = (r.amountRemaining as number) <= 0 ? { id: "B", refName: "Paid In Full" } : { id: "A", refName: "Open" };
      }
      if ("tranDate" in t.fields) r.tranDate ??= today();
      if (type === "invoice") r.dueDate ??= new Date(Date.parse(r.tranDate as string) + 30 * 86_400_000).toISOString().slice(0, 10);
    };

    const insert = (type: string, values: Record<string, unknown>, seed = false): StoredRecord => {
      const id = String(++counter);
      const now = nowIso();
      const dateField = type === "customer" ? "dateCreated" : "createdDate";
      const r: StoredRecord = { ...values, id, [dateField]: now, lastModifiedDate: now };
      derive(type, r);
      return k.store.insert(type, id, r, { seed });
    };
    const update = (type: string, r: StoredRecord, values: Record<string, unknown>): void => {
      Object.assign(r, values, { lastModifiedDate: nowIso() });
      derive(type, r);
    };

    /** A record as GET shows it: references with refName and links; sublists as links unless expanded. */
    const present = (req: SandboxRequest, type: string, r: StoredRecord, expand: boolean, fields?: string[]): Record<string, unknown> => {
      const t = typeOf(type);
      const self = recordUrl(req, type, r.id as string);
      const out: Record<string, unknown> = { links: [{ rel: "self", href: self }] };
      for (const [f, kind] of Object.entries(t.fields)) {
        if (fields && !fields.includes(f) && f !== "id") continue;
        const v = r[f];
        if (v === undefined || v === null) continue;
        if (kind === "ref") {
          const target = t.refs[f]!;
          const id = (v as { id: string }).id;
          out[f] = { links: TYPES[target] ? [{ rel: "self", href: recordUrl(req, target, id) }] : [], id, refName: refName(target, id) };
        } else if (kind === "sublist") {
          const link = [{ rel: "self", href: `${self}/${f}` }];
          if (!expand) out[f] = { links: link };
          else {
            const def = t.sublists[f]!;
            const items = (v as { items: Record<string, unknown>[] }).items.map((line) => {
              const l: Record<string, unknown> = { links: [] };
              for (const [lf, lk] of Object.entries(line)) {
                if (def.fields[lf] === "ref" && lk) {
                  const target = def.refs[lf]!;
                  const id = (lk as { id: string }).id;
                  l[lf] = { links: [{ rel: "self", href: recordUrl(req, target, id) }], id, refName: refName(target, id) };
                } else l[lf] = lk;
              }
              return l;
            });
            out[f] = { links: link, items, totalResults: items.length, count: items.length, hasMore: false, offset: 0 };
          }
        } else out[f] = v;
      }
      return out;
    };

    // ---- auth -------------------------------------------------------------------------------------------------

    const token = (req: SandboxRequest): Reply => {
      const form = req.form();
      const fail = (error: string): Reply => ({ status: 400, body: { error } }); // [~] NetSuite answers bare OAuth error codes
      if (form.get("grant_type") !== "client_credentials") return fail("unsupported_grant_type");
      if (form.get("client_assertion_type") !== "urn:ietf:params:oauth:client-assertion-type:jwt-bearer") return fail("invalid_request");
      const jwt = decodeJwt(form.get("client_assertion") ?? "");
      if (!jwt) return fail("invalid_request");
      const { alg, kid, typ } = jwt.header as { alg?: string; kid?: string; typ?: string };
      const p = jwt.payload as { iss?: unknown; scope?: unknown; aud?: unknown; iat?: unknown; exp?: unknown };
      const key = typeof kid === "string" ? certs.get(kid) : undefined;
      if (typ !== undefined && typ !== "JWT") return fail("invalid_request");
      if (!alg || !/^(PS|ES)(256|384|512)$/.test(alg)) return fail("invalid_request");
      if (p.iss !== clientId) return fail("invalid_client");
      const scopes = (Array.isArray(p.scope) ? p.scope : String(p.scope ?? "").split(/[ ,]+/)).map(String);
      if (!scopes.includes("rest_webservices") || scopes.some((s) => !["restlets", "rest_webservices", "suite_analytics"].includes(s))) return fail("invalid_scope");
      const tokenUrl = `http://${req.header("host")}/services/rest/auth/oauth2/v1/token`;
      if (!(Array.isArray(p.aud) ? p.aud : [p.aud]).includes(tokenUrl)) return fail("invalid_request");
      const now = Math.floor(Date.now() / 1000);
      if (typeof p.iat !== "number" || typeof p.exp !== "number" || p.exp <= now || p.exp - p.iat > 3600 || p.iat > now + 60) return fail("invalid_grant");
      if (!key || !verifyJws(alg, jwt.signingInput, jwt.signature, key)) return fail("invalid_grant");
      const t = k.tokens.issue(clientId, k.limits.tokenLifetimeSeconds!, {}, `eyJraWQiOiJzYW5kYm94In0.${randomBytes(48).toString("base64url")}.${randomBytes(32).toString("base64url")}`);
      // expires_in is a string in NetSuite's answer.
      return { status: 200, body: { access_token: t.token, expires_in: String(k.limits.tokenLifetimeSeconds), token_type: "Bearer" } };
    };

    const checkTba = (req: SandboxRequest, header: string): boolean => {
      const params: Record<string, string> = {};
      for (const m of header.slice(6).matchAll(/([\w]+)="([^"]*)"/g)) params[m[1]!] = decodeURIComponent(m[2]!);
      if (params.realm?.toUpperCase() !== accountId.toUpperCase()) return false;
      if (params.oauth_signature_method !== "HMAC-SHA256" || params.oauth_consumer_key !== tba.consumerKey || params.oauth_token !== tba.tokenId) return false;
      const ts = Number(params.oauth_timestamp);
      if (!Number.isFinite(ts) || Math.abs(ts - Date.now() / 1000) > k.limits.tbaClockSkewSeconds!) return false;
      const nonce = params.oauth_nonce;
      if (!nonce || nonces.has(`${ts}:${nonce}`)) return false;
      const signed: [string, string][] = Object.entries(params).filter(([n]) => n !== "realm" && n !== "oauth_signature");
      for (const [n, v] of req.query) signed.push([n, v]);
      if (/application\/x-www-form-urlencoded/i.test(req.header("content-type") ?? "")) for (const [n, v] of req.form()) signed.push([n, v]);
      const normalized = signed.map(([n, v]) => [pct(n), pct(v)] as const).sort((a, b) => (a[0] === b[0] ? (a[1] < b[1] ? -1 : 1) : a[0] < b[0] ? -1 : 1)).map(([n, v]) => `${n}=${v}`).join("&");
      const baseUrl = `http://${String(req.header("host")).toLowerCase()}${req.url.split("?")[0]}`;
      const base = `${req.method}&${pct(baseUrl)}&${pct(normalized)}`;
      const expected = createHmac("sha256", `${pct(tba.consumerSecret)}&${pct(tba.tokenSecret)}`).update(base).digest("base64");
      if (expected !== params.oauth_signature) return false;
      nonces.set(`${ts}:${nonce}`, ts);
      return true;
    };

    // ---- records ----------------------------------------------------------------------------------------------

    /** Runs a record request now, or as an async job when the caller prefers respond-async. */
    const maybeAsync = (run: (req: SandboxRequest) => Reply) => (req: SandboxRequest): Reply => {
      if (!/respond-async/i.test(req.header("prefer") ?? "")) return run(req);
      const key = req.header("x-netsuite-idempotency-key");
      const jobsUrl = (id: string) => `http://${req.header("host")}/services/rest/async/v1/job/${id}`;
      if (key && idempotencyKeys.has(key)) {
        // A repeated key does not run again: 400 titled "Conflict", pointing at the original job.
        return { status: 400, headers: { location: jobsUrl(idempotencyKeys.get(key)!) }, body: nsBody(400, "IDEMPOTENCY_ERROR", `The request with idempotency key ${key} has already been submitted.`, {}, "Conflict") };
      }
      const job: Job = { id: String(jobs.size + 1), key, progress: "pending" };
      jobs.set(job.id, job);
      if (key) idempotencyKeys.set(key, job.id);
      // The job runs after the 202 is sent, as NetSuite queues it.
      const inner = makeRequest(req.method, req.url, { ...req.headers, prefer: "" }, req.raw, () => ({ status: 400, body: nsBody(400, "INVALID_CONTENT", "The request body is not valid JSON.") }));
      inner.params = { ...req.params };
      setImmediate(() => {
        let result: Reply;
        try {
          result = run(inner);
        } catch (e) {
          if (!(e instanceof Halt)) throw e;
          result = e.reply;
        }
        job.result = result;
        job.progress = result.status < 400 ? "succeeded" : "failed";
        job.completedTime = nowIso();
      });
      return { status: 202, headers: { location: jobsUrl(job.id) } };
    };

    const create = maybeAsync((req) => {
      const type = req.params.type!;
      const r = insert(type, parse(type, req.json(), true));
      return { status: 204, headers: { location: recordUrl(req, type, r.id as string) } };
    });

    /** PUT on eid: is an upsert keyed by external id. */
    const upsert = maybeAsync((req) => {
      const type = req.params.type!;
      const key = req.params.key!;
      if (!key.startsWith("eid:")) throw nsError(405, "INVALID_REQUEST", "PUT is only supported with an external ID (eid:) in the URL."); // [~]
      const existing = findRecord(type, key);
      const values = parse(type, req.json(), !existing);
      if (existing) {
        update(type, existing, values);
        return { status: 204, headers: { location: recordUrl(req, type, existing.id as string) } };
      }
      const r = insert(type, { ...values, externalId: key.slice(4) });
      return { status: 204, headers: { location: recordUrl(req, type, r.id as string) } };
    });

    const patch = maybeAsync((req) => {
      const type = req.params.type!;
      const r = findRecord(type, req.params.key!);
      if (!r) throw nsError(404, "NONEXISTENT_ID", "The record instance does not exist. Provide a valid record instance ID."); // [~]
      update(type, r, parse(type, req.json(), false));
      return { status: 204 };
    });

    const getRecord = (req: SandboxRequest): Reply => {
      const type = req.params.type!;
      typeOf(type);
      const r = findRecord(type, req.params.key!);
      if (!r) throw nsError(404, "NONEXISTENT_ID", "The record instance does not exist. Provide a valid record instance ID.");
      const fields = req.query.get("fields")?.split(",").map((f) => canonical(typeOf(type).fields, f.trim()) ?? f.trim());
      return { status: 200, body: present(req, type, r, req.query.get("expandSubResources") === "true", fields) };
    };

    const remove = (req: SandboxRequest): Reply => {
      const type = req.params.type!;
      const r = findRecord(type, req.params.key!);
      if (!r) throw nsError(404, "NONEXISTENT_ID", "The record instance does not exist. Provide a valid record instance ID.");
      k.store.delete(type, r.id as string);
      return { status: 204 };
    };

    const pageParams = (req: SandboxRequest): { limit: number; offset: number } => {
      const limit = Number(req.query.get("limit") ?? k.limits.maxPageSize);
      const offset = Number(req.query.get("offset") ?? 0);
      if (!Number.isInteger(limit) || limit < 1 || limit > k.limits.maxPageSize!) throw nsError(400, "INVALID_PARAMETER", `Invalid value for the limit parameter. The value must be between 1 and ${k.limits.maxPageSize}.`); // [~]
      if (!Number.isInteger(offset) || offset < 0) throw nsError(400, "INVALID_PARAMETER", "Invalid value for the offset parameter.");
      return { limit, offset };
    };

    const pageLinks = (req: SandboxRequest, limit: number, offset: number, total: number) => {
      const link = (o: number) => {
        const u = new URL(`http://${req.header("host")}${req.url}`);
        u.searchParams.set("limit", String(limit));
        u.searchParams.set("offset", String(o));
        return u.toString();
      };
      const last = Math.max(0, Math.floor((total - 1) / limit) * limit);
      const links = [];
      if (offset > 0) links.push({ rel: "previous", href: link(Math.max(0, offset - limit)) });
      links.push({ rel: "first", href: link(0) });
      if (offset + limit < total) links.push({ rel: "next", href: link(offset + limit) });
      links.push({ rel: "last", href: link(last) }, { rel: "self", href: link(offset) });
      return links;
    };

    const list = (req: SandboxRequest): Reply => {
      const type = req.params.type!;
      const t = typeOf(type);
      const { limit, offset } = pageParams(req);
      const q = req.query.get("q");
      let rows = k.store.all(type);
      if (q) {
        const test = parseQ(q, (name) => canonical(t.fields, name));
        rows = rows.filter((r) => test((f) => (t.fields[f] === "ref" ? (r[f] as { id?: string } | null)?.id : r[f])));
      }
      const page = rows.slice(offset, offset + limit);
      return {
        status: 200,
        body: { links: pageLinks(req, limit, offset, rows.length), count: page.length, hasMore: offset + limit < rows.length, items: page.map((r) => ({ links: [{ rel: "self", href: recordUrl(req, type, r.id as string) }], id: r.id })), offset, totalResults: rows.length },
      };
    };

    const transform = maybeAsync((req) => {
      const from = req.params.type!;
      const to = req.params.target!;
      const source = findRecord(from, req.params.key!);
      if (!source) throw nsError(404, "NONEXISTENT_ID", "The record instance does not exist. Provide a valid record instance ID.");
      const overrides = req.raw.length ? parse(to, req.json(), false) : {};
      if (from === "salesOrder" && to === "invoice") {
        const lines = structuredClone((source.item as { items: unknown[] }).items);
        const r = insert("invoice", { entity: source.entity, createdFrom: { id: source.id }, currency: source.currency, otherRefNum: source.otherRefNum, item: { items: lines }, ...overrides });
        source.status = { id: "G", refName: "Billed" };
        return { status: 204, headers: { location: recordUrl(req, "invoice", r.id as string) } };
      }
      if (from === "invoice" && to === "customerPayment") {
        const remaining = source.amountRemaining as number;
        const amount = typeof overrides.payment === "number" ? overrides.payment : remaining;
        if (amount <= 0 || amount > remaining) throw nsError(400, "USER_ERROR", `Error while accessing a resource. The payment amount ${amount} exceeds the amount due ${remaining}.`); // [~]
        const r = insert("customerPayment", { customer: source.entity, currency: source.currency, ...overrides, payment: amount, apply: { items: [{ doc: { id: source.id }, apply: true, amount }] } });
        update("invoice", source, {});
        source.amountPaid = round2((source.amountPaid as number) + amount);
        derive("invoice", source);
        return { status: 204, headers: { location: recordUrl(req, "customerPayment", r.id as string) } };
      }
      throw nsError(400, "INVALID_TRANSFORM", `Transformation from ${from} to ${to} is not supported.`); // [~]
    });

    // ---- SuiteQL ----------------------------------------------------------------------------------------------

    const suiteql = (req: SandboxRequest): Reply => {
      if (!/transient/i.test(req.header("prefer") ?? "")) throw nsError(400, "INVALID_PARAMETER", "The Prefer: transient header is required for SuiteQL queries."); // [~] whether it is mandatory
      const { limit, offset } = pageParams(req);
      const body = req.json() as { q?: unknown };
      if (typeof body?.q !== "string") throw nsError(400, "INVALID_PARAMETER", "Invalid search query. Provide a valid query in the q property.");
      let rows: Record<string, unknown>[];
      try {
        rows = runSuiteQl(body.q, suiteqlTables());
      } catch (e) {
        if (e instanceof SuiteQlError) throw nsError(400, "INVALID_PARAMETER", `Invalid search query. Detailed unprocessed description follows. ${e.message}`);
        throw e;
      }
      const page = rows.slice(offset, offset + limit);
      return { status: 200, body: { links: pageLinks(req, limit, offset, rows.length).filter((l) => l.rel === "next" || l.rel === "self"), count: page.length, hasMore: offset + limit < rows.length, items: page.map((r) => ({ links: [], ...r })), offset, totalResults: rows.length } };
    };

    /** SuiteQL's view: lower-case columns, values as strings, dates as M/D/YYYY (the account's date format) [~]. */
    const suiteqlTables = (): Record<string, Record<string, unknown>[]> => {
      const s = (v: unknown) => (v === undefined || v === null ? null : String(v));
      const d = (v: unknown) => (typeof v === "string" ? new ShownDate(mdy(v), Date.parse(v)) : null);
      const id = (v: unknown) => s((v as { id?: string } | null)?.id);
      const customers = k.store.all("customer").map((c) => ({ id: s(c.id), entityid: s(c.entityId), companyname: s(c.companyName), email: s(c.email), phone: s(c.phone), externalid: s(c.externalId), subsidiary: id(c.subsidiary), currency: id(c.currency), datecreated: d(c.dateCreated), lastmodifieddate: d(c.lastModifiedDate) }));
      const tran = (type: string, code: string) =>
        k.store.all(type).map((t) => ({ id: s(t.id), tranid: s(t.tranId), type: code, entity: id(t.entity ?? t.customer), trandate: d(t.tranDate), duedate: d(t.dueDate), status: s((t.status as { id?: string } | undefined)?.id), foreigntotal: s(t.total ?? t.payment), foreignamountremaining: s(t.amountRemaining), otherrefnum: s(t.otherRefNum), externalid: s(t.externalId), currency: id(t.currency), createdfrom: id(t.createdFrom), lastmodifieddate: d(t.lastModifiedDate) }));
      const items = k.store.all("inventoryItem").map((i) => ({ id: s(i.id), itemid: s(i.itemId), displayname: s(i.displayName), baseprice: s(i.basePrice), externalid: s(i.externalId) }));
      return { customer: customers, transaction: [...tran("salesOrder", "SalesOrd"), ...tran("invoice", "CustInvc"), ...tran("customerPayment", "CustPymt")], item: items };
    };

    // ---- async jobs -------------------------------------------------------------------------------------------

    const jobOf = (req: SandboxRequest): Job => {
      const job = jobs.get(req.params.job!);
      if (!job) throw nsError(404, "NONEXISTENT_ID", "The job does not exist.");
      return job;
    };
    const jobUrl = (req: SandboxRequest, id: string) => `http://${req.header("host")}/services/rest/async/v1/job/${id}`;
    const getJob = (req: SandboxRequest): Reply => {
      const job = jobOf(req);
      return { status: 200, body: { links: [{ rel: "self", href: jobUrl(req, job.id) }], id: job.id, completed: job.progress !== "pending", progress: job.progress, ...(job.completedTime ? { completedTime: job.completedTime } : {}) } };
    };
    const getTasks = (req: SandboxRequest): Reply => {
      const job = jobOf(req);
      return { status: 200, body: { links: [], count: 1, hasMore: false, items: [{ links: [{ rel: "self", href: `${jobUrl(req, job.id)}/task/${job.id}` }], id: job.id }], offset: 0, totalResults: 1 } };
    };
    /** THIN: the result of an async task replays the original request's status, headers and body. */
    const getResult = (req: SandboxRequest): Reply => {
      const job = jobOf(req);
      if (req.params.task !== job.id) throw nsError(404, "NONEXISTENT_ID", "The task does not exist.");
      if (!job.result) throw nsError(404, "NONEXISTENT_ID", "The task has not completed yet.");
      return job.result;
    };

    const routes: Route[] = [
      { method: "POST", path: "/services/rest/auth/oauth2/v1/token", handler: token, public: true },
      { method: "POST", path: "/services/rest/query/v1/suiteql", handler: suiteql },
      { method: "GET", path: "/services/rest/async/v1/job/:job", handler: getJob },
      { method: "GET", path: "/services/rest/async/v1/job/:job/task", handler: getTasks },
      { method: "GET", path: "/services/rest/async/v1/job/:job/task/:task/result", handler: getResult },
      { method: "GET", path: "/services/rest/record/v1/:type", handler: list },
      { method: "POST", path: "/services/rest/record/v1/:type", handler: create },
      { method: "GET", path: "/services/rest/record/v1/:type/:key", handler: getRecord },
      { method: "PUT", path: "/services/rest/record/v1/:type/:key", handler: upsert },
      { method: "PATCH", path: "/services/rest/record/v1/:type/:key", handler: patch },
      { method: "DELETE", path: "/services/rest/record/v1/:type/:key", handler: remove },
      { method: "POST", path: "/services/rest/record/v1/:type/:key/!transform/:target", handler: transform },
    ];

    const seed = (): void => {
      const c1 = insert("customer", { companyName: "Globex GmbH", entityId: "C-1001", email: "ap@globex.example", subsidiary: { id: "1" }, currency: { id: "4" }, externalId: "C-1001" }, true);
      insert("customer", { companyName: "Umbrella Corp", entityId: "C-1002", email: "billing@umbrella.example", subsidiary: { id: "1" }, currency: { id: "1" }, externalId: "C-1002" }, true);
      const w = insert("inventoryItem", { itemId: "WID-1", displayName: "Widget", basePrice: 9.995 }, true);
      const g = insert("inventoryItem", { itemId: "GAD-2", displayName: "Gadget", basePrice: 150 }, true);
      insert("inventoryItem", { itemId: "SUP-12", displayName: "Support plan", basePrice: 250 }, true);
      const so = insert("salesOrder", { entity: { id: c1.id }, otherRefNum: "PO-77", currency: { id: "4" }, externalId: "SO-EXT-1", item: { items: [{ item: { id: g.id }, quantity: 4, rate: 150 }, { item: { id: w.id }, quantity: 10 }] } }, true);
      insert("invoice", { entity: { id: c1.id }, createdFrom: { id: so.id }, currency: { id: "4" }, otherRefNum: "PO-77", item: structuredClone(so.item) }, true);
      so.status = { id: "G", refName: "Billed" };
      insert("invoice", { entity: { id: c1.id }, currency: { id: "4" }, item: { items: [{ item: { id: g.id }, quantity: 1, rate: 150 }] }, amountPaid: 150 }, true);
    };

    return {
      vendor: "netsuite",
      routes,
      before(req) {
        const authz = req.header("authorization") ?? "";
        const invalid = (): Reply => ({ status: 401, body: nsBody(401, "INVALID_LOGIN", "Invalid login attempt. For more details, see the Login Audit Trail in the NetSuite UI at Setup > Users/Roles > User Management > View Login Audit Trail.") });
        if (/^oauth /i.test(authz)) {
          if (!checkTba(req, authz)) return invalid();
          req.principal = `tba:${tba.tokenId}`;
          return undefined;
        }
        const t = k.tokens.check(bearer(req));
        if (!t || t === "expired") return invalid();
        req.principal = t.subject;
        return undefined;
      },
      serverError: (status) => ({ status, body: nsBody(status, status === 503 ? "SERVICE_UNAVAILABLE" : "UNEXPECTED_ERROR", status === 503 ? "The service is temporarily unavailable." : "An unexpected error occurred. Error ID: sandbox") }), // [~]
      throttled: () => ({ status: 429, body: nsBody(429, "CONCURRENCY_LIMIT_EXCEEDED", "Concurrent request limit exceeded. Request blocked.") }), // THIN: REST's 429 body
      malformedBody: () => ({ status: 400, body: nsBody(400, "INVALID_CONTENT", "The request body is not valid JSON.") }), // [~]
      notFound: (req) => ({ status: 404, body: nsBody(404, "NONEXISTENT_ID", `Invalid request URL ${req.path}.`) }), // [~]
      concurrency: {
        limit: () => k.limits.concurrentRequests!,
        // THIN: REST web services answer 429 over the concurrency limit (RESTlets 400 SSS_REQUEST_LIMIT_EXCEEDED); body shape not captured.
        refused: () => ({ status: 429, body: nsBody(429, "CONCURRENCY_LIMIT_EXCEEDED", "Concurrent request limit exceeded. Request blocked.") }),
      },
      seedRecord(type, input) {
        typeOf(type);
        try {
          return insert(type, parse(type, input, true), true);
        } catch (e) {
          throw new Error(e instanceof Halt ? JSON.stringify(e.reply.body) : String(e));
        }
      },
      reset() {
        counter = 100;
        for (const key of Object.keys(tranCounters)) delete tranCounters[key];
        nonces.clear();
        jobs.clear();
        idempotencyKeys.clear();
        if (options.seed ?? true) seed();
      },
    };
  });
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}

function mdy(iso: string): string {
  const [y, m, d] = iso.slice(0, 10).split("-").map(Number);
  return `${m}/${d}/${y}`;
}

function kindOk(kind: FieldKind, v: unknown): boolean {
  if (kind === "number") return typeof v === "number" && Number.isFinite(v);
  if (kind === "boolean") return typeof v === "boolean";
  if (kind === "date") return typeof v === "string" && /^\d{4}-\d{2}-\d{2}$/.test(v);
  return typeof v === "string";
}

/** JWS signature check for the algorithms NetSuite accepts (PS* and ES*; RS256 is refused). */
function verifyJws(alg: string, input: string, signature: Buffer, key: KeyObject): boolean {
  const hash = `sha${alg.slice(2)}`;
  try {
    if (alg.startsWith("PS")) return verify(hash, Buffer.from(input), { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST }, signature);
    return verify(hash, Buffer.from(input), { key, dsaEncoding: "ieee-p1363" }, signature);
  } catch {
    return false;
  }
}

// ---- the record list `q` parameter -----------------------------------------------------------------------------

/** THIN: operators from the REST record-filtering docs (IS, START_WITH, CONTAIN, ANY_OF, EMPTY, dates, numbers), AND / OR. */
function parseQ(q: string, field: (name: string) => string | undefined): (get: (f: string) => unknown) => boolean {
  const tokens = [...q.matchAll(/"((?:[^"\\]|\\.)*)"|\[[^\]]*\]|\S+/g)].map((m) => m[0]);
  const clauses: { join: "AND" | "OR"; test: (get: (f: string) => unknown) => boolean }[] = [];
  let i = 0;
  let join: "AND" | "OR" = "AND";
  while (i < tokens.length) {
    const name = tokens[i++]!;
    const f = field(name);
    if (!f) throw nsError(400, "INVALID_PARAMETER", `Invalid query parameter: unknown field ${name}.`);
    const op = (tokens[i++] ?? "").toUpperCase();
    const unary = ["EMPTY", "EMPTY_NOT"].includes(op);
    const raw = unary ? "" : (tokens[i++] ?? "");
    if (!op || (!unary && !raw)) throw nsError(400, "INVALID_PARAMETER", `Invalid query parameter: incomplete condition on ${name}.`);
    const values = raw.startsWith("[") ? raw.slice(1, -1).split(",").map((v) => unquote(v.trim())) : [unquote(raw)];
    const v = values[0]!;
    const asTime = (x: unknown) => (typeof x === "string" ? Date.parse(/^\d+\/\d+\/\d+$/.test(x) ? new Date(x).toISOString() : x) : NaN);
    const test = (get: (f: string) => unknown): boolean => {
      const x = get(f);
      const s = x === undefined || x === null ? "" : String(x);
      switch (op) {
        case "IS": case "EQUAL": return s.toLowerCase() === v.toLowerCase();
        case "IS_NOT": case "EQUAL_NOT": return s.toLowerCase() !== v.toLowerCase();
        case "START_WITH": return s.toLowerCase().startsWith(v.toLowerCase());
        case "START_WITH_NOT": return !s.toLowerCase().startsWith(v.toLowerCase());
        case "CONTAIN": return s.toLowerCase().includes(v.toLowerCase());
        case "CONTAIN_NOT": return !s.toLowerCase().includes(v.toLowerCase());
        case "ANY_OF": return values.some((w) => w.toLowerCase() === s.toLowerCase());
        case "ANY_OF_NOT": return !values.some((w) => w.toLowerCase() === s.toLowerCase());
        case "EMPTY": return s === "";
        case "EMPTY_NOT": return s !== "";
        case "GREATER": return Number(s) > Number(v);
        case "GREATER_OR_EQUAL": return Number(s) >= Number(v);
        case "LESS": return Number(s) < Number(v);
        case "LESS_OR_EQUAL": return Number(s) <= Number(v);
        case "AFTER": return asTime(s) > asTime(v);
        case "ON_OR_AFTER": return asTime(s) >= asTime(v);
        case "BEFORE": return asTime(s) < asTime(v);
        case "ON_OR_BEFORE": return asTime(s) <= asTime(v);
        case "ON": return s.slice(0, 10) === new Date(asTime(v)).toISOString().slice(0, 10);
        default: throw nsError(400, "INVALID_PARAMETER", `Invalid query parameter: unknown operator ${op}.`);
      }
    };
    clauses.push({ join, test });
    const next = tokens[i]?.toUpperCase();
    if (next === "AND" || next === "OR") {
      join = next;
      i++;
    } else if (next !== undefined) throw nsError(400, "INVALID_PARAMETER", `Invalid query parameter: expected AND or OR, found ${tokens[i]}.`);
  }
  // AND binds tighter than OR.
  return (get) => {
    let any = false;
    let all = true;
    clauses.forEach((c, idx) => {
      if (idx > 0 && c.join === "OR") {
        any ||= all;
        all = true;
      }
      all &&= c.test(get);
    });
    return any || all;
  };
}

function unquote(s: string): string {
  return s.startsWith('"') && s.endsWith('"') ? s.slice(1, -1).replace(/\\"/g, '"') : s;
}

// ---- SuiteQL subset ----------------------------------------------------------------------------------------------

class SuiteQlError extends Error {}

/** A date column: shown as M/D/YYYY, compared and sorted by its full timestamp (as NetSuite does). */
class ShownDate {
  constructor(readonly shown: string, readonly at: number) {}
  toString(): string {
    return this.shown;
  }
}

/**
 * THIN subset of SuiteQL: SELECT columns or * FROM one table [WHERE …] [ORDER BY …]. Conditions: = <> != < <= > >=,
 * LIKE, IS [NOT] NULL, IN (…), AND / OR / parentheses; literals: 'text', numbers, TO_DATE('…','YYYY-MM-DD').
 */
function runSuiteQl(q: string, tables: Record<string, Record<string, unknown>[]>): Record<string, unknown>[] {
  const toks = [...q.matchAll(/'(?:[^']|'')*'|<>|!=|<=|>=|[=<>(),*]|[A-Za-z_][\w.]*|-?\d+(?:\.\d+)?/g)].map((m) => m[0]);
  let i = 0;
  const peek = () => toks[i]?.toUpperCase();
  const expect = (w: string) => {
    if (peek() !== w) throw new SuiteQlError(`Expected ${w} but found ${toks[i] ?? "end of query"}`);
    i++;
  };
  expect("SELECT");
  const cols: string[] = [];
  for (;;) {
    const c = toks[i++];
    if (!c) throw new SuiteQlError("Unexpected end of query");
    cols.push(c.toLowerCase());
    if (peek() === ",") i++;
    else break;
  }
  expect("FROM");
  const tableName = (toks[i++] ?? "").toLowerCase();
  const table = tables[tableName];
  if (!table) throw new SuiteQlError(`Search error occurred: Record '${tableName}' was not found.`);
  const known = new Set(Object.keys(table[0] ?? {}));
  const column = (c: string) => {
    const name = c.toLowerCase();
    if (table.length && !known.has(name)) throw new SuiteQlError(`Search error occurred: Field '${name}' for record '${tableName}' was not found.`);
    return name;
  };
  const value = (): unknown => {
    const t = toks[i++];
    if (t === undefined) throw new SuiteQlError("Unexpected end of query");
    if (t.startsWith("'")) return t.slice(1, -1).replace(/''/g, "'");
    if (/^-?\d/.test(t)) return Number(t);
    if (t.toUpperCase() === "TO_DATE" || t.toUpperCase() === "TO_TIMESTAMP") {
      expect("(");
      const text = value() as string;
      if (peek() === ",") {
        i++;
        value();
      }
      expect(")");
      return { date: Date.parse(text) };
    }
    throw new SuiteQlError(`Unexpected token ${t}`);
  };
  type Cond = (row: Record<string, unknown>) => boolean;
  const compare = (a: unknown, b: unknown): number => {
    if (b && typeof b === "object" && "date" in b) return (a instanceof ShownDate ? a.at : NaN) - (b as { date: number }).date;
    if (typeof b === "number") return Number(a) - b;
    return String(a).localeCompare(String(b));
  };
  const primary = (): Cond => {
    if (peek() === "(") {
      i++;
      const c = or();
      expect(")");
      return c;
    }
    if (peek() === "NOT") {
      i++;
      const c = primary();
      return (r) => !c(r);
    }
    const col = column(toks[i++] ?? "");
    const op = peek();
    i++;
    if (op === "IS") {
      const not = peek() === "NOT";
      if (not) i++;
      expect("NULL");
      return (r) => (r[col] == null) !== not;
    }
    if (op === "IN") {
      expect("(");
      const vals: unknown[] = [];
      for (;;) {
        vals.push(value());
        if (peek() === ",") i++;
        else break;
      }
      expect(")");
      return (r) => vals.some((v) => compare(r[col], v) === 0);
    }
    if (op === "LIKE") {
      const pattern = String(value());
      const re = new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/%/g, ".*").replace(/_/g, ".")}$`, "i");
      return (r) => r[col] != null && re.test(String(r[col]));
    }
    const v = value();
    return (r) => {
      if (r[col] == null) return false;
      const d = compare(r[col], v);
      return op === "=" ? d === 0 : op === "<>" || op === "!=" ? d !== 0 : op === "<" ? d < 0 : op === "<=" ? d <= 0 : op === ">" ? d > 0 : op === ">=" ? d >= 0 : false;
    };
  };
  const and = (): Cond => {
    let left = primary();
    while (peek() === "AND") {
      i++;
      const l = left;
      const right = primary();
      left = (r) => l(r) && right(r);
    }
    return left;
  };
  const or = (): Cond => {
    let left = and();
    while (peek() === "OR") {
      i++;
      const l = left;
      const right = and();
      left = (r) => l(r) || right(r);
    }
    return left;
  };
  let rows = table;
  if (peek() === "WHERE") {
    i++;
    const cond = or();
    rows = rows.filter(cond);
  }
  if (peek() === "ORDER") {
    i++;
    expect("BY");
    const order: { col: string; desc: boolean }[] = [];
    for (;;) {
      const col = column(toks[i++] ?? "");
      let desc = false;
      if (peek() === "ASC" || peek() === "DESC") desc = toks[i++]!.toUpperCase() === "DESC";
      order.push({ col, desc });
      if (peek() === ",") i++;
      else break;
    }
    rows = [...rows].sort((a, b) => {
      for (const o of order) {
        const x = a[o.col];
        const y = b[o.col];
        const d = x == null ? (y == null ? 0 : -1) : y == null ? 1 : x instanceof ShownDate && y instanceof ShownDate ? x.at - y.at : /^-?\d+(\.\d+)?$/.test(String(x)) && /^-?\d+(\.\d+)?$/.test(String(y)) ? Number(x) - Number(y) : String(x).localeCompare(String(y));
        if (d) return o.desc ? -d : d;
      }
      return 0;
    });
  }
  if (i < toks.length) throw new SuiteQlError(`Unexpected token ${toks[i]}`);
  const plain = (v: unknown) => (v instanceof ShownDate ? v.shown : v);
  if (cols.length === 1 && cols[0] === "*") return rows.map((r) => Object.fromEntries(Object.entries(r).map(([c, v]) => [c, plain(v)])));
  return rows.map((r) => Object.fromEntries(cols.map((c) => [column(c), plain(r[c] ?? null)])));
}
