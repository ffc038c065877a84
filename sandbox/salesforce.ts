// Salesforce REST API sandbox, written from erp-crm-wire.md §1 and perf-reliability.md §7 (not from Keelson's adapter).
// Models: the OAuth2 token endpoint (client_credentials, JWT bearer signed RS256), sObject create / read / update /
// delete, upsert by External ID, sObject Collections (create and upsert), SOQL queries with nextRecordsUrl paging,
// error arrays, Sforce-Limit-Info on every data response and the rolling 24 h request allocation.
import { createHmac, createPublicKey, randomBytes, verify, X509Certificate, type KeyObject } from "node:crypto";
import { Halt, SlidingWindow, basicAuth, bearer, decodeJwt, makeRequest, serve, type Kernel, type Reply, type SandboxRequest, type StartOptions, type StoredRecord, type RunningSandbox, type Route } from "./kernel";
import { parseSoql, SoqlError, type Condition, type Literal, type Query } from "./salesforce-soql";

export const SALESFORCE_LIMITS = {
  /** Rolling 24 h API request allocation (Enterprise base 100,000 + per-licence add-ons). */
  dailyApiRequests: 100_000,
  /** Records per query batch: at most 2,000 (the client may ask for fewer with Sforce-Query-Options). */
  queryBatchSize: 2000,
  /** sObject Collections take at most 200 records per call. */
  collectionMaxRecords: 200,
  /** Requests running 20 s or longer: at most 25 at a time in production orgs (5 in Developer Edition). */
  longRunningConcurrent: 25,
  longRunningMs: 20_000,
  /** Subrequests in one /composite call. */
  compositeMaxSubrequests: 25,
  /** Session lifetime [~]: orgs default to a 2 h session timeout. */
  tokenLifetimeSeconds: 7200,
};

export interface SalesforceOptions extends StartOptions {
  clientId?: string;
  clientSecret?: string;
  /** The user a JWT's `sub` must name. */
  username?: string;
  /** PEM public key or X.509 certificate the connected app holds for JWT bearer assertions. */
  jwtCertificate?: string;
  /** External ID fields per sObject (upsert keys). */
  externalIdFields?: Record<string, string[]>;
  /** Multi-currency orgs have CurrencyIsoCode on every object; single-currency orgs reject it as an unknown column. */
  multiCurrency?: boolean;
  /** Start with the demo accounts, products and opportunities (default true). */
  seed?: boolean;
}

type FieldType = "id" | "string" | "number" | "boolean" | "date" | "datetime" | "reference";

interface ObjectDef {
  prefix: string;
  fields: Record<string, FieldType>;
  required: string[];
  /** Relationship name → lookup field and target object (Opportunity.Account via AccountId). */
  parents: Record<string, { field: string; object: string }>;
  /** Child relationship name → child object and its lookup field (Opportunity.OpportunityLineItems). */
  children: Record<string, { object: string; field: string }>;
}

const SYSTEM_FIELDS: Record<string, FieldType> = { Id: "id", CreatedDate: "datetime", LastModifiedDate: "datetime", SystemModstamp: "datetime", IsDeleted: "boolean" };
const READ_ONLY = new Set(["Id", "CreatedDate", "LastModifiedDate", "SystemModstamp", "IsDeleted", "IsClosed", "IsWon"]);

function schema(multiCurrency: boolean): Record<string, ObjectDef> {
  const currency: Record<string, FieldType> = multiCurrency ? { CurrencyIsoCode: "string" } : {};
  return {
    Account: {
      prefix: "001",
      fields: { ...SYSTEM_FIELDS, ...currency, Name: "string", AccountNumber: "string", Type: "string", Industry: "string", Phone: "string", Website: "string", Description: "string", BillingStreet: "string", BillingCity: "string", BillingState: "string", BillingPostalCode: "string", BillingCountry: "string", BillingCountryCode: "string", AnnualRevenue: "number", NumberOfEmployees: "number" },
      required: ["Name"],
      parents: {},
      children: { Opportunities: { object: "Opportunity", field: "AccountId" } },
    },
    Product2: {
      prefix: "01t",
      fields: { ...SYSTEM_FIELDS, ...currency, Name: "string", ProductCode: "string", Description: "string", Family: "string", IsActive: "boolean", QuantityUnitOfMeasure: "string" },
      required: ["Name"],
      parents: {},
      children: {},
    },
    Opportunity: {
      prefix: "006",
      fields: { ...SYSTEM_FIELDS, ...currency, Name: "string", AccountId: "reference", StageName: "string", CloseDate: "date", Amount: "number", Probability: "number", Description: "string", IsClosed: "boolean", IsWon: "boolean", Type: "string", NextStep: "string" },
      required: ["Name", "StageName", "CloseDate"],
      parents: { Account: { field: "AccountId", object: "Account" } },
      children: { OpportunityLineItems: { object: "OpportunityLineItem", field: "OpportunityId" } },
    },
    OpportunityLineItem: {
      prefix: "00k",
      fields: { ...SYSTEM_FIELDS, ...currency, OpportunityId: "reference", Product2Id: "reference", PricebookEntryId: "string", ProductCode: "string", Name: "string", Quantity: "number", UnitPrice: "number", ListPrice: "number", TotalPrice: "number", Discount: "number", Description: "string", ServiceDate: "date", SortOrder: "number" },
      // [~] Real orgs need a PricebookEntryId (or Product2Id on recent versions); the sandbox has no price books.
      required: ["OpportunityId", "Quantity"],
      parents: { Opportunity: { field: "OpportunityId", object: "Opportunity" }, Product2: { field: "Product2Id", object: "Product2" } },
      children: {},
    },
  };
}

interface SfError {
  message: string;
  errorCode: string;
  fields?: string[];
}

const fail = (status: number, errors: SfError[]): Halt => new Halt({ status, body: errors });

/** 18-character Salesforce id: 15 case-sensitive characters plus the case-folding checksum suffix. */
function sfId(prefix: string, n: number): string {
  const base = prefix + "5g" + n.toString(36).toUpperCase().padStart(10, "0");
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";
  let suffix = "";
  for (let chunk = 0; chunk < 3; chunk++) {
    let bits = 0;
    for (let i = 0; i < 5; i++) if (/[A-Z]/.test(base[chunk * 5 + i]!)) bits |= 1 << i;
    suffix += alphabet[bits];
  }
  return base + suffix;
}

/** Salesforce renders datetimes as 2026-11-24T01:02:03.000+0000. */
function sfDateTime(ms = Date.now()): string {
  return new Date(ms).toISOString().replace("Z", "+0000");
}

interface Cursor {
  version: string;
  records: unknown[];
  batch: number;
  touched: number;
}

/** Credentials the sandbox accepts unless start() is given others (the JWT grant needs jwtCertificate). */
export const SALESFORCE_DEFAULTS = { clientId: "keelson-sandbox-client", clientSecret: "keelson-sandbox-secret", username: "integration@keelson.sandbox" };

export async function start(options: SalesforceOptions = {}): Promise<RunningSandbox> {
  const clientId = options.clientId ?? SALESFORCE_DEFAULTS.clientId;
  const clientSecret = options.clientSecret ?? SALESFORCE_DEFAULTS.clientSecret;
  const username = options.username ?? SALESFORCE_DEFAULTS.username;
  const orgId = "00D5g00000KeLsNEAV";
  const userId = "0055g00000KeLsNAAV";
  const externalIds: Record<string, string[]> = { Account: ["ERP_Customer_Id__c"], Product2: ["ERP_Item_Id__c"], Opportunity: ["ERP_Order_Number__c"], ...options.externalIdFields };
  const objects = schema(options.multiCurrency ?? true);
  let jwtKey: KeyObject | undefined;
  if (options.jwtCertificate) jwtKey = options.jwtCertificate.includes("CERTIFICATE") ? new X509Certificate(options.jwtCertificate).publicKey : createPublicKey(options.jwtCertificate);

  return serve(SALESFORCE_LIMITS, options, (k: Kernel) => {
    let counter = 0;
    const usage = new SlidingWindow(() => 24 * 3600 * 1000);
    const cursors = new Map<string, Cursor>();

    const def = (type: string): ObjectDef => {
      const d = objects[type];
      if (!d) throw fail(404, [{ errorCode: "NOT_FOUND", message: "The requested resource does not exist" }]);
      return d;
    };
    /** The field's declared type; custom fields (…__c) exist in the org as text unless declared. */
    const fieldType = (d: ObjectDef, name: string): FieldType | undefined => d.fields[name] ?? (name.endsWith("__c") ? "string" : undefined);
    const canonicalField = (d: ObjectDef, name: string): string | undefined => {
      const lower = name.toLowerCase();
      return Object.keys(d.fields).find((f) => f.toLowerCase() === lower) ?? (lower.endsWith("__c") ? name : undefined);
    };
    const recordUrl = (version: string, type: string, id: string) => `/services/data/${version}/sobjects/${type}/${id}`;
    const findById = (type: string, id: string): StoredRecord | undefined => {
      const t = k.store.table(type);
      if (id.length === 15) return [...t.values()].find((r) => (r.Id as string).startsWith(id));
      return t.get(id);
    };

    /** Checks a write body against the object's fields and types; returns the clean field map. */
    const validate = (type: string, body: unknown, creating: boolean): Record<string, unknown> => {
      const d = def(type);
      if (!body || typeof body !== "object" || Array.isArray(body)) throw fail(400, [{ errorCode: "JSON_PARSER_ERROR", message: "Expected a JSON object for the sObject body" }]);
      const clean: Record<string, unknown> = {};
      for (const [name, value] of Object.entries(body as Record<string, unknown>)) {
        if (name === "attributes") continue;
        const field = canonicalField(d, name);
        if (!field) throw fail(400, [{ errorCode: "INVALID_FIELD", message: `No such column '${name}' on sobject of type ${type}`, fields: [] }]);
        if (READ_ONLY.has(field)) throw fail(400, [{ errorCode: "INVALID_FIELD_FOR_INSERT_UPDATE", message: `Unable to create/update fields: ${field}. Please check the security settings of this field and verify that it is read/write for your profile or permission set.`, fields: [field] }]);
        const t = fieldType(d, field)!;
        if (value !== null && !typeMatches(t, value)) throw fail(400, [{ errorCode: "JSON_PARSER_ERROR", message: `Cannot deserialize instance of ${t} from ${JSON.stringify(value)} for field ${field}`, fields: [field] }]);
        if (t === "reference" && value !== null) {
          const target = Object.values(d.parents).find((p) => p.field === field)!.object;
          if (!/^[a-zA-Z0-9]{15}([a-zA-Z0-9]{3})?$/.test(value as string)) throw fail(400, [{ errorCode: "MALFORMED_ID", message: `${field}: id value of incorrect type: ${value}`, fields: [field] }]);
          if (!findById(target, value as string)) throw fail(400, [{ errorCode: "INVALID_CROSS_REFERENCE_KEY", message: `invalid cross reference id`, fields: [field] }]);
        }
        clean[field] = value;
      }
      if (creating) {
        const missing = d.required.filter((f) => clean[f] === undefined || clean[f] === null || clean[f] === "");
        if (missing.length) throw fail(400, [{ errorCode: "REQUIRED_FIELD_MISSING", message: `Required fields are missing: [${missing.join(", ")}]`, fields: missing }]);
      }
      return clean;
    };

    /** Fills what the platform derives: stage flags, line totals, product name/code. */
    const derive = (type: string, r: StoredRecord): void => {
      if (type === "Opportunity" && typeof r.StageName === "string") {
        r.IsClosed = /^closed/i.test(r.StageName);
        r.IsWon = /^closed won$/i.test(r.StageName);
      }
      if (type === "OpportunityLineItem") {
        const q = r.Quantity as number | null;
        if (r.TotalPrice == null && r.UnitPrice != null && q != null) r.TotalPrice = Math.round((r.UnitPrice as number) * q * 100) / 100;
        if (r.UnitPrice == null && r.TotalPrice != null && q) r.UnitPrice = (r.TotalPrice as number) / q;
        const p = r.Product2Id ? findById("Product2", r.Product2Id as string) : undefined;
        if (p) {
          r.Name ??= `${r.OpportunityId ? (findById("Opportunity", r.OpportunityId as string)?.Name ?? "") : ""} ${p.Name}`.trim();
          r.ProductCode ??= p.ProductCode ?? null;
        }
      }
    };

    const insert = (type: string, fields: Record<string, unknown>, seed = false): StoredRecord => {
      const d = def(type);
      const now = sfDateTime();
      const id = sfId(d.prefix, ++counter);
      const r: StoredRecord = { Id: id, IsDeleted: false, CreatedDate: now, LastModifiedDate: now, SystemModstamp: now };
      if (d.fields.CurrencyIsoCode) r.CurrencyIsoCode = "USD";
      Object.assign(r, fields);
      r.Id = id;
      derive(type, r);
      return k.store.insert(type, id, r, { seed });
    };
    const update = (type: string, r: StoredRecord, fields: Record<string, unknown>): void => {
      Object.assign(r, fields);
      r.LastModifiedDate = r.SystemModstamp = sfDateTime();
      derive(type, r);
    };

    /** Records whose external ID field equals value; External IDs match case-insensitively [~]. */
    const byExternalId = (type: string, field: string, value: string): StoredRecord[] =>
      field === "Id" ? [findById(type, value)].filter((r): r is StoredRecord => !!r) : k.store.all(type).filter((r) => typeof r[field] === "string" && (r[field] as string).toLowerCase() === value.toLowerCase());

    const externalField = (type: string, field: string): string | undefined => {
      if (field.toLowerCase() === "id") return "Id";
      return (externalIds[type] ?? []).find((f) => f.toLowerCase() === field.toLowerCase());
    };

    const versionOf = (req: SandboxRequest): string => {
      const v = req.params.version!;
      if (!/^v\d{2,3}\.0$/.test(v)) throw fail(404, [{ errorCode: "NOT_FOUND", message: "The requested resource does not exist" }]);
      return v;
    };

    // ---- SOQL evaluation --------------------------------------------------------------------------------------

    const resolvePath = (type: string, path: string): { hops: { rel: string; object: string; field: string }[]; field: string } => {
      const parts = path.split(".");
      let current = type;
      const hops: { rel: string; object: string; field: string }[] = [];
      // A leading object name is allowed: "Opportunity.Name" in FROM Opportunity.
      if (parts.length > 1 && parts[0]!.toLowerCase() === type.toLowerCase()) parts.shift();
      for (const part of parts.slice(0, -1)) {
        const d = def(current);
        const rel = Object.keys(d.parents).find((p) => p.toLowerCase() === part.toLowerCase());
        if (!rel) throw fail(400, [{ errorCode: "INVALID_FIELD", message: `Didn't understand relationship '${part}' in field path. If you are attempting to use a custom relationship, be sure to append the '__r' after the custom relationship name.` }]);
        hops.push({ rel, object: d.parents[rel]!.object, field: d.parents[rel]!.field });
        current = d.parents[rel]!.object;
      }
      const last = parts[parts.length - 1]!;
      const field = canonicalField(def(current), last);
      if (!field) throw fail(400, [{ errorCode: "INVALID_FIELD", message: `No such column '${last}' on entity '${current}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name.` }]);
      return { hops, field };
    };

    const valueAt = (type: string, r: StoredRecord, path: string): { value: unknown; type: FieldType } => {
      const { hops, field } = resolvePath(type, path);
      let cur: StoredRecord | undefined = r;
      let curType = type;
      for (const h of hops) {
        cur = cur && cur[h.field] ? findById(h.object, cur[h.field] as string) : undefined;
        curType = h.object;
      }
      return { value: cur ? (cur[field] ?? null) : null, type: fieldType(def(curType), field)! };
    };

    const compare = (a: unknown, b: unknown, t: FieldType): number => {
      if (t === "datetime" || t === "date") return Date.parse(String(a).replace("+0000", "Z")) - Date.parse(String(b).replace("+0000", "Z"));
      if (typeof a === "number" && typeof b === "number") return a - b;
      // Ids are case-sensitive and match in their 15- or 18-character form.
      if (t === "id" || t === "reference") return String(a).slice(0, 15) === String(b).slice(0, 15) ? 0 : String(a) < String(b) ? -1 : 1;
      return String(a).toLowerCase().localeCompare(String(b).toLowerCase());
    };

    const literalFor = (lit: Literal, t: FieldType, field: string): unknown => {
      if (lit === null) return null;
      if (t === "datetime") {
        if (typeof lit !== "object" || !("dateTime" in lit)) throw fail(400, [{ errorCode: "INVALID_FIELD", message: `value of filter criterion for field '${field}' must be of type dateTime and should not be enclosed in quotes` }]);
        return lit.dateTime;
      }
      if (t === "date") {
        if (typeof lit !== "object" || !("date" in lit)) throw fail(400, [{ errorCode: "INVALID_FIELD", message: `value of filter criterion for field '${field}' must be of type date and should not be enclosed in quotes` }]);
        return lit.date;
      }
      if (typeof lit === "object") throw fail(400, [{ errorCode: "INVALID_FIELD", message: `value of filter criterion for field '${field}' must be of type ${t}` }]);
      return lit;
    };

    const matches = (type: string, r: StoredRecord, c: Condition): boolean => {
      if (c.op === "and") return matches(type, r, c.left) && matches(type, r, c.right);
      if (c.op === "or") return matches(type, r, c.left) || matches(type, r, c.right);
      if (c.op === "not") return !matches(type, r, c.inner);
      const { value, type: t } = valueAt(type, r, c.field);
      if (c.cmp === "in" || c.cmp === "not in") {
        const found = (c.value as Literal[]).some((l) => {
          const v = literalFor(l, t, c.field);
          return v === null ? value === null : value !== null && compare(value, v, t) === 0;
        });
        return c.cmp === "in" ? found : !found;
      }
      const v = literalFor(c.value as Literal, t, c.field);
      if (c.cmp === "like") {
        const re = new RegExp(`^${String(v).replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/%/g, ".*").replace(/_/g, ".")}$`, "is");
        return typeof value === "string" && re.test(value);
      }
      if (v === null || value === null) return c.cmp === "=" ? value === v : c.cmp === "!=" ? value !== v : false;
      const d = compare(value, v, t);
      return c.cmp === "=" ? d === 0 : c.cmp === "!=" ? d !== 0 : c.cmp === "<" ? d < 0 : c.cmp === "<=" ? d <= 0 : c.cmp === ">" ? d > 0 : d >= 0;
    };

    const runQuery = (version: string, q: Query, type: string, rows: StoredRecord[]): unknown[] => {
      let list = rows.filter((r) => !q.where || matches(type, r, q.where));
      if (q.orderBy.length) {
        list = [...list].sort((a, b) => {
          for (const o of q.orderBy) {
            const x = valueAt(type, a, o.field);
            const y = valueAt(type, b, o.field).value;
            if (x.value === y) continue;
            if (x.value === null) return o.nullsLast ? 1 : -1;
            if (y === null) return o.nullsLast ? -1 : 1;
            const d = compare(x.value, y, x.type);
            if (d !== 0) return o.desc ? -d : d;
          }
          return 0;
        });
      }
      list = list.slice(q.offset ?? 0, q.limit === undefined ? undefined : (q.offset ?? 0) + q.limit);
      return list.map((r) => shape(version, q, type, r));
    };

    /** One result row: selected fields, parent relationships as nested objects, sub-queries as nested results. */
    const shape = (version: string, q: Query, type: string, r: StoredRecord): Record<string, unknown> => {
      const out: Record<string, unknown> = { attributes: { type, url: recordUrl(version, type, r.Id as string) } };
      for (const item of q.select) {
        if (item.sub) {
          const d = def(type);
          const relName = Object.keys(d.children).find((c) => c.toLowerCase() === item.sub!.from.toLowerCase());
          if (!relName) throw fail(400, [{ errorCode: "INVALID_TYPE", message: `Didn't understand relationship '${item.sub.from}' in FROM part of query call. If you are attempting to use a custom relationship, be sure to append the '__r' after the custom relationship name.` }]);
          const rel = d.children[relName]!;
          const kids = runQuery(version, item.sub, rel.object, k.store.all(rel.object).filter((c) => c[rel.field] === r.Id));
          // An empty child relationship comes back as null, not as an empty result.
          out[relName] = kids.length ? { totalSize: kids.length, done: true, records: kids } : null;
          continue;
        }
        const { hops, field } = resolvePath(type, item.field!);
        let target = out;
        let cur: StoredRecord | undefined = r;
        let curType = type;
        let broken = false;
        for (const h of hops) {
          cur = cur && cur[h.field] ? findById(h.object, cur[h.field] as string) : undefined;
          curType = h.object;
          if (!cur) {
            target[h.rel] = null;
            broken = true;
            break;
          }
          if (!target[h.rel]) target[h.rel] = { attributes: { type: curType, url: recordUrl(version, curType, cur.Id as string) } };
          target = target[h.rel] as Record<string, unknown>;
        }
        if (!broken) target[field] = cur![field] ?? null;
      }
      return out;
    };

    const queryPage = (version: string, locator: string, cursor: Cursor, from: number): Reply => {
      cursor.touched = Date.now();
      const page = cursor.records.slice(from, from + cursor.batch);
      const next = from + page.length;
      const done = next >= cursor.records.length;
      const body: Record<string, unknown> = { totalSize: cursor.records.length, done };
      if (!done) body.nextRecordsUrl = `/services/data/${version}/query/${locator}-${next}`;
      body.records = page;
      if (done) cursors.delete(locator);
      return { status: 200, body };
    };

    // ---- Handlers ---------------------------------------------------------------------------------------------

    const token = (req: SandboxRequest): Reply => {
      const form = req.form();
      const oauthError = (error: string, description: string, status = 400): Reply => ({ status, body: { error, error_description: description } });
      const base = `http://${req.header("host")}`;
      const grant = form.get("grant_type");
      if (grant === "client_credentials") {
        const basic = basicAuth(req);
        const id = form.get("client_id") ?? basic?.user;
        const secret = form.get("client_secret") ?? basic?.password;
        if (id !== clientId) return oauthError("invalid_client_id", "client identifier invalid");
        if (secret !== clientSecret) return oauthError("invalid_client", "invalid client credentials");
      } else if (grant === "urn:ietf:params:oauth:grant-type:jwt-bearer") {
        const assertion = form.get("assertion");
        const jwt = assertion ? decodeJwt(assertion) : undefined;
        if (!jwt) return oauthError("invalid_grant", "invalid assertion");
        if (jwt.header.alg !== "RS256") return oauthError("invalid_grant", "invalid assertion");
        const { iss, sub, aud, exp } = jwt.payload as { iss?: unknown; sub?: unknown; aud?: unknown; exp?: unknown };
        if (iss !== clientId) return oauthError("invalid_client_id", "client identifier invalid");
        const audiences = ["https://login.salesforce.com", "https://test.salesforce.com", base];
        if (!(Array.isArray(aud) ? aud : [aud]).some((a) => typeof a === "string" && audiences.includes(a.replace(/\/$/, "")))) return oauthError("invalid_grant", "audience is invalid");
        // [~] The assertion's exp must be in the future, and no more than ~3 minutes away is the documented advice; only "in the future" is enforced.
        if (typeof exp !== "number" || exp * 1000 <= Date.now()) return oauthError("invalid_grant", "expired authorization code");
        if (!jwtKey || !verify("RSA-SHA256", Buffer.from(jwt.signingInput), jwtKey, jwt.signature)) return oauthError("invalid_grant", "invalid assertion");
        if (sub !== username) return oauthError("invalid_grant", "user hasn't approved this consumer");
      } else {
        return oauthError("unsupported_grant_type", "grant type not supported");
      }
      const issued = k.tokens.issue(username, k.limits.tokenLifetimeSeconds!, {}, `${orgId.slice(0, 15)}!${randomBytes(30).toString("base64url")}`);
      const idUrl = `https://login.salesforce.com/id/${orgId}/${userId}`;
      const issuedAt = String(issued.issuedAt);
      const body: Record<string, unknown> = {
        access_token: issued.token,
        instance_url: base,
        id: idUrl,
        token_type: "Bearer",
        issued_at: issuedAt,
        signature: createHmac("sha256", clientSecret).update(idUrl + issuedAt).digest("base64"),
        scope: "api",
      };
      if (grant === "client_credentials") body.api_instance_url = base;
      return { status: 200, body };
    };

    const create = (req: SandboxRequest): Reply => {
      versionOf(req);
      const type = req.params.type!;
      const r = insert(type, validate(type, req.json(), true));
      return { status: 201, headers: { location: recordUrl(req.params.version!, type, r.Id as string) }, body: { id: r.Id, success: true, errors: [] } };
    };

    const read = (req: SandboxRequest): Reply => {
      const version = versionOf(req);
      const type = req.params.type!;
      const d = def(type);
      const r = findById(type, req.params.id!);
      if (!r) throw fail(404, [{ errorCode: "NOT_FOUND", message: "The requested resource does not exist" }]);
      const wanted = req.query.get("fields");
      const names = wanted ? wanted.split(",").map((f) => f.trim()) : [...Object.keys(d.fields), ...Object.keys(r).filter((f) => f.endsWith("__c"))];
      const out: Record<string, unknown> = { attributes: { type, url: recordUrl(version, type, r.Id as string) } };
      for (const n of names) {
        const f = canonicalField(d, n);
        if (!f) throw fail(400, [{ errorCode: "INVALID_FIELD", message: `No such column '${n}' on entity '${type}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name.` }]);
        out[f] = r[f] ?? null;
      }
      return { status: 200, body: out };
    };

    const patchById = (req: SandboxRequest): Reply => {
      versionOf(req);
      const type = req.params.type!;
      const r = findById(type, req.params.id!);
      if (!r) throw fail(404, [{ errorCode: "NOT_FOUND", message: "The requested resource does not exist" }]);
      update(type, r, validate(type, req.json(), false));
      return { status: 204 };
    };

    const remove = (req: SandboxRequest): Reply => {
      versionOf(req);
      const type = req.params.type!;
      const r = findById(type, req.params.id!);
      if (!r) throw fail(404, [{ errorCode: "ENTITY_IS_DELETED", message: "entity is deleted" }]);
      k.store.delete(type, r.Id as string);
      return { status: 204 };
    };

    /** Upsert by External ID: the heart of Salesforce idempotency. */
    const upsertOne = (version: string, type: string, fieldName: string, value: string, body: unknown, updateOnly: boolean): Reply & { result?: { id: string; created: boolean } } => {
      const field = externalField(type, fieldName);
      if (!field) throw fail(404, [{ errorCode: "NOT_FOUND", message: "The requested resource does not exist" }]);
      const fields = validate(type, body, false);
      const existing = byExternalId(type, field, value);
      if (existing.length > 1) return { status: 300, body: existing.map((r) => recordUrl(version, type, r.Id as string)) };
      if (existing.length === 1) {
        update(type, existing[0]!, fields);
        const id = existing[0]!.Id as string;
        // The created flag (and a 200 with a body) exists from v46.0; older versions answer 204.
        return Number(version.slice(1)) >= 46 ? { status: 200, body: { id, success: true, errors: [], created: false }, result: { id, created: false } } : { status: 204, result: { id, created: false } };
      }
      if (updateOnly || field === "Id") throw fail(404, [{ errorCode: "NOT_FOUND", message: "The requested resource does not exist" }]);
      const merged = validate(type, { ...fields, [field]: value }, true);
      const r = insert(type, merged);
      return { status: 201, headers: { location: recordUrl(version, type, r.Id as string) }, body: { id: r.Id, success: true, errors: [], created: true }, result: { id: r.Id as string, created: true } };
    };

    const upsert = (req: SandboxRequest): Reply => {
      const version = versionOf(req);
      const { result: _result, ...reply } = upsertOne(version, req.params.type!, req.params.field!, req.params.value!, req.json(), req.query.get("updateOnly") === "true");
      return reply;
    };

    const query = (req: SandboxRequest): Reply => {
      const version = versionOf(req);
      const text = req.query.get("q");
      if (!text) throw fail(400, [{ errorCode: "MALFORMED_QUERY", message: "A query string has to be specified" }]);
      let q: Query;
      try {
        q = parseSoql(text);
      } catch (e) {
        if (e instanceof SoqlError) throw fail(400, [{ errorCode: "MALFORMED_QUERY", message: e.message }]);
        throw e;
      }
      const type = Object.keys(objects).find((o) => o.toLowerCase() === q.from.toLowerCase());
      if (!type) throw fail(400, [{ errorCode: "INVALID_TYPE", message: `sObject type '${q.from}' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name.` }]);
      const records = runQuery(version, q, type, k.store.all(type));
      // Sforce-Query-Options: batchSize=n asks for smaller batches (200..2000); the sandbox limit caps it too.
      const asked = /batchSize=(\d+)/i.exec(req.header("sforce-query-options") ?? "");
      const batch = Math.max(1, Math.min(k.limits.queryBatchSize!, asked ? Math.max(200, Math.min(2000, Number(asked[1]))) : 2000));
      const locator = `01g5g${randomBytes(6).toString("hex").toUpperCase()}`;
      const cursor: Cursor = { version, records, batch, touched: Date.now() };
      cursors.set(locator, cursor);
      return queryPage(version, locator, cursor, 0);
    };

    const queryMore = (req: SandboxRequest): Reply => {
      const version = versionOf(req);
      const m = /^(.+)-(\d+)$/.exec(req.params.locator!);
      const cursor = m ? cursors.get(m[1]!) : undefined;
      // [~] Locators lapse after about 15 minutes of inactivity.
      if (!m || !cursor || Date.now() - cursor.touched > 15 * 60 * 1000 || Number(m[2]) >= cursor.records.length) throw fail(400, [{ errorCode: "INVALID_QUERY_LOCATOR", message: "invalid query locator" }]);
      return queryPage(version, m[1]!, cursor, Number(m[2]));
    };

    /** sObject Collections: per-record SaveResults; allOrNone rolls everything back on one failure. */
    const collection = (req: SandboxRequest, run: (record: Record<string, unknown>, i: number) => { id: string; created?: boolean }): Reply => {
      versionOf(req);
      const body = req.json() as { allOrNone?: unknown; records?: unknown };
      if (!body || !Array.isArray(body.records)) throw fail(400, [{ errorCode: "JSON_PARSER_ERROR", message: "Expected an object with a records array" }]);
      if (body.records.length > k.limits.collectionMaxRecords!) throw fail(400, [{ errorCode: "EXCEEDED_ID_LIMIT", message: `record limit reached. cannot submit more than ${k.limits.collectionMaxRecords} records into this call` }]);
      const allOrNone = body.allOrNone === true;
      const before = allOrNone ? k.store.snapshot() : undefined;
      const results: Record<string, unknown>[] = body.records.map((rec, i) => {
        try {
          if (!rec || typeof rec !== "object") throw fail(400, [{ errorCode: "JSON_PARSER_ERROR", message: "Expected a record object" }]);
          const r = run(rec as Record<string, unknown>, i);
          return r.created === undefined ? { id: r.id, success: true, errors: [] } : { id: r.id, success: true, errors: [], created: r.created };
        } catch (e) {
          if (!(e instanceof Halt)) throw e;
          const errs = Array.isArray(e.reply.body) ? (e.reply.body as SfError[]) : [{ errorCode: "UNKNOWN_EXCEPTION", message: "error" }];
          // Inside collections the error object names its code statusCode, not errorCode.
          return { success: false, errors: errs.map((x) => ({ statusCode: x.errorCode, message: x.message, fields: x.fields ?? [] })) };
        }
      });
      if (allOrNone && results.some((r) => !r.success)) {
        k.store.restore(before!);
        return {
          status: 200,
          body: results.map((r) =>
            r.success
              ? { success: false, errors: [{ statusCode: "ALL_OR_NONE_OPERATION_ROLLED_BACK", message: "Record rolled back because not all records were valid and the request was using AllOrNone header", fields: [] }] }
              : r,
          ),
        };
      }
      return { status: 200, body: results };
    };

    const typeOfRecord = (rec: Record<string, unknown>): string => {
      const t = (rec.attributes as { type?: unknown } | undefined)?.type;
      if (typeof t !== "string") throw fail(400, [{ errorCode: "INVALID_TYPE", message: "Must specify a type in attributes" }]);
      def(t);
      return t;
    };

    const collectionCreate = (req: SandboxRequest): Reply =>
      collection(req, (rec) => {
        if (rec.Id !== undefined) throw fail(400, [{ errorCode: "INVALID_FIELD", message: "cannot specify Id in an insert call", fields: ["Id"] }]);
        const type = typeOfRecord(rec);
        return { id: insert(type, validate(type, rec, true)).Id as string };
      });

    const collectionUpdate = (req: SandboxRequest): Reply =>
      collection(req, (rec) => {
        const type = typeOfRecord(rec);
        const r = typeof rec.Id === "string" ? findById(type, rec.Id) : undefined;
        if (!r) throw fail(404, [{ errorCode: "MALFORMED_ID", message: "Record ID: id value of incorrect type", fields: ["Id"] }]);
        const { Id: _id, ...fields } = rec;
        update(type, r, validate(type, fields, false));
        return { id: r.Id as string };
      });

    const collectionUpsert = (req: SandboxRequest): Reply => {
      const version = versionOf(req);
      const type = req.params.type!;
      def(type);
      const field = externalField(type, req.params.field!);
      if (!field) throw fail(404, [{ errorCode: "NOT_FOUND", message: "The requested resource does not exist" }]);
      return collection(req, (rec) => {
        if (typeOfRecord(rec) !== type) throw fail(400, [{ errorCode: "INVALID_TYPE", message: `Record type must be ${type}` }]);
        const key = Object.keys(rec).find((f) => f.toLowerCase() === field.toLowerCase());
        const value = key ? rec[key] : undefined;
        if (typeof value !== "string" || !value) throw fail(400, [{ errorCode: "MISSING_ARGUMENT", message: `${field} not specified`, fields: [field] }]);
        const { [key!]: _k, ...fields } = rec;
        const out = upsertOne(version, type, field, value, fields, false);
        if (out.status === 300) throw fail(300, [{ errorCode: "DUPLICATE_EXTERNAL_ID", message: `${field}: more than one record found for external id field: ${value}`, fields: [field] }]); // [~] message wording
        return out.result!;
      });
    };

    /**
     * Composite: up to 25 dependent subrequests, one API call. "@{ref.path}" in a URL or body takes a value from an
     * earlier subrequest's result. With allOrNone, one failure rolls everything back.
     */
    const composite = async (req: SandboxRequest): Promise<Reply> => {
      versionOf(req);
      const body = req.json() as { allOrNone?: unknown; compositeRequest?: unknown };
      const subs = body?.compositeRequest;
      if (!Array.isArray(subs) || subs.length === 0) throw fail(400, [{ errorCode: "JSON_PARSER_ERROR", message: "compositeRequest must be a non-empty array" }]);
      if (subs.length > k.limits.compositeMaxSubrequests!) throw fail(400, [{ errorCode: "INVALID_BATCH_REQUEST", message: `Composite request may contain at most ${k.limits.compositeMaxSubrequests} subrequests` }]); // [~] code
      const refIds = new Set<string>();
      for (const sub of subs as Record<string, unknown>[]) {
        const ref = sub?.referenceId;
        if (typeof ref !== "string" || !/^[A-Za-z0-9_]+$/.test(ref) || refIds.has(ref)) throw fail(400, [{ errorCode: "INVALID_BATCH_REQUEST", message: "Each subrequest needs a unique referenceId of letters, digits and underscores" }]); // [~]
        refIds.add(ref);
        if (typeof sub.method !== "string" || typeof sub.url !== "string" || !sub.url.startsWith("/services/data/")) throw fail(400, [{ errorCode: "INVALID_BATCH_REQUEST", message: "Each subrequest needs a method and a /services/data/ url" }]);
        const forbidden = Object.keys((sub.httpHeaders as object) ?? {}).find((h) => ["accept", "authorization", "content-type"].includes(h.toLowerCase()));
        if (forbidden) throw fail(400, [{ errorCode: "INVALID_BATCH_REQUEST", message: `The ${forbidden} header is not allowed in a composite subrequest` }]); // [~] wording
      }
      const allOrNone = body.allOrNone === true;
      const snapshot = k.store.snapshot();
      const results = new Map<string, unknown>();
      const out: { body: unknown; httpHeaders: Record<string, unknown>; httpStatusCode: number; referenceId: string }[] = [];
      let failedAt = -1;
      const resolve = (text: string): string =>
        text.replace(/@\{([A-Za-z0-9_]+)((?:\.[A-Za-z0-9_]+|\[\d+\])+)\}/g, (all, ref: string, path: string) => {
          let v: unknown = results.get(ref);
          for (const step of path.match(/\.[A-Za-z0-9_]+|\[\d+\]/g) ?? []) v = v == null ? undefined : (v as Record<string, unknown>)[step.startsWith(".") ? step.slice(1) : step.slice(1, -1)];
          if (v === undefined || v === null) throw fail(400, [{ errorCode: "PROCESSING_HALTED", message: `Invalid reference specified. No value for ${all.slice(2, -1)} found in ${ref}. Provided referenceId ('${ref}') must be a valid referenceId.` }]); // [~]
          return String(v);
        });
      for (const [i, sub] of (subs as Record<string, unknown>[]).entries()) {
        const referenceId = sub.referenceId as string;
        let reply: Reply;
        if (allOrNone && failedAt >= 0) {
          reply = { status: 400, body: [{ errorCode: "PROCESSING_HALTED", message: "The transaction was rolled back since another operation in the same transaction failed." }] };
        } else {
          try {
            const url = resolve(sub.url as string);
            const payload = sub.body === undefined ? "" : resolve(JSON.stringify(sub.body));
            const headers = { ...req.headers, ...((sub.httpHeaders as Record<string, string>) ?? {}), "content-type": "application/json" };
            reply = await k.dispatch(makeRequest(sub.method as string, url, headers, Buffer.from(payload, "utf8"), () => ({ status: 400, body: [{ errorCode: "JSON_PARSER_ERROR", message: "The request body is not valid JSON" }] })));
          } catch (e) {
            if (!(e instanceof Halt)) throw e;
            reply = e.reply;
          }
          if (reply.status >= 400 && failedAt < 0) failedAt = i;
          if (reply.status < 400) results.set(referenceId, reply.body);
        }
        out.push({ body: reply.body ?? null, httpHeaders: { ...(reply.headers ?? {}) }, httpStatusCode: reply.status, referenceId });
      }
      if (allOrNone && failedAt >= 0) {
        k.store.restore(snapshot);
        out.forEach((o, i) => {
          if (i < failedAt) Object.assign(o, { body: [{ errorCode: "PROCESSING_HALTED", message: "The transaction was rolled back since another operation in the same transaction failed." }], httpHeaders: {}, httpStatusCode: 400 });
        });
      }
      return { status: 200, body: { compositeResponse: out } };
    };

    const limitsReply = (): Reply => {
      const used = usage.count();
      return { status: 200, body: { DailyApiRequests: { Max: k.limits.dailyApiRequests, Remaining: Math.max(0, k.limits.dailyApiRequests! - used) } } };
    };

    const routes: Route[] = [
      { method: "POST", path: "/services/oauth2/token", handler: token, public: true },
      { method: "GET", path: "/services/data", handler: () => ({ status: 200, body: ["52.0", "58.0", "59.0", "60.0", "61.0", "62.0"].map((v) => ({ label: `v${v}`, url: `/services/data/v${v}`, version: v })) }), public: true },
      { method: "GET", path: "/services/data/:version/limits", handler: limitsReply },
      { method: "GET", path: "/services/data/:version/query", handler: query },
      { method: "GET", path: "/services/data/:version/query/:locator", handler: queryMore },
      { method: "POST", path: "/services/data/:version/composite", handler: composite },
      { method: "POST", path: "/services/data/:version/composite/sobjects", handler: collectionCreate },
      { method: "PATCH", path: "/services/data/:version/composite/sobjects", handler: collectionUpdate },
      { method: "PATCH", path: "/services/data/:version/composite/sobjects/:type/:field", handler: collectionUpsert },
      { method: "POST", path: "/services/data/:version/sobjects/:type", handler: create },
      { method: "GET", path: "/services/data/:version/sobjects/:type/:id", handler: read },
      { method: "PATCH", path: "/services/data/:version/sobjects/:type/:id", handler: patchById },
      { method: "DELETE", path: "/services/data/:version/sobjects/:type/:id", handler: remove },
      { method: "PATCH", path: "/services/data/:version/sobjects/:type/:field/:value", handler: upsert },
      // POST to /sobjects/X/Id upserts with Id as the key and no value, which always creates (v37.0+).
      { method: "POST", path: "/services/data/:version/sobjects/:type/Id", handler: (req) => {
        const version = versionOf(req);
        if (Number(version.slice(1)) < 37) throw fail(405, [{ errorCode: "METHOD_NOT_ALLOWED", message: "HTTP Method 'POST' not allowed. Allowed are GET,PATCH,DELETE" }]); // [~]
        const type = req.params.type!;
        const r = insert(type, validate(type, req.json(), true));
        return { status: 201, headers: { location: recordUrl(version, type, r.Id as string) }, body: { id: r.Id, success: true, errors: [], created: true } };
      } },
    ];

    const seed = (): void => {
      const acme = insert("Account", { Name: "Acme Corporation", AccountNumber: "ACME-001", Phone: "+1 415 555 0100", Website: "https://acme.example", BillingStreet: "1 Market St", BillingCity: "San Francisco", BillingState: "CA", BillingPostalCode: "94105", BillingCountry: "United States", BillingCountryCode: "US", Industry: "Manufacturing" }, true);
      const globex = insert("Account", { Name: "Globex GmbH", Phone: "+49 30 5550 100", BillingStreet: "Unter den Linden 1", BillingCity: "Berlin", BillingPostalCode: "10117", BillingCountry: "Germany", BillingCountryCode: "DE", ERP_Customer_Id__c: "C-1001", ERP_System__c: "netsuite" }, true);
      insert("Account", { Name: "Initech Ltd", BillingCity: "London", BillingCountry: "United Kingdom", BillingCountryCode: "GB" }, true);
      const widget = insert("Product2", { Name: "Widget", ProductCode: "WID-1", IsActive: true, Family: "Hardware" }, true);
      const gadget = insert("Product2", { Name: "Gadget", ProductCode: "GAD-2", IsActive: true, Family: "Hardware" }, true);
      const support = insert("Product2", { Name: "Support plan", ProductCode: "SUP-12", IsActive: true, Family: "Services" }, true);
      const won = insert("Opportunity", { Name: "Acme - 100 widgets", AccountId: acme.Id, StageName: "Closed Won", CloseDate: "2026-11-20", Amount: 1249.5, PO_Number__c: "PO-4711" }, true);
      insert("OpportunityLineItem", { OpportunityId: won.Id, Product2Id: widget.Id, Quantity: 100, UnitPrice: 9.995 }, true);
      insert("OpportunityLineItem", { OpportunityId: won.Id, Product2Id: support.Id, Quantity: 1, UnitPrice: 250 }, true);
      const euro = objects.Opportunity!.fields.CurrencyIsoCode ? { CurrencyIsoCode: "EUR" } : {};
      const open = insert("Opportunity", { Name: "Globex - gadgets", AccountId: globex.Id, StageName: "Negotiation/Review", CloseDate: "2026-12-15", Amount: 3000, ...euro }, true);
      insert("OpportunityLineItem", { OpportunityId: open.Id, Product2Id: gadget.Id, Quantity: 20, UnitPrice: 150, ...euro }, true);
    };

    return {
      vendor: "salesforce",
      routes,
      before(req) {
        const t = k.tokens.check(bearer(req));
        if (!t || t === "expired") return { status: 401, body: [{ message: "Session expired or invalid", errorCode: "INVALID_SESSION_ID" }] };
        req.principal = t.subject;
        if (usage.count() >= k.limits.dailyApiRequests!) return { status: 403, body: [{ message: "TotalRequests Limit exceeded.", errorCode: "REQUEST_LIMIT_EXCEEDED" }] };
        if (k.runningLongerThan(k.limits.longRunningMs!, req) >= k.limits.longRunningConcurrent!) return { status: 403, body: [{ message: "ConcurrentPerOrgLongTxn Limit exceeded.", errorCode: "REQUEST_LIMIT_EXCEEDED" }] };
        usage.add();
        return undefined;
      },
      decorate(req, reply) {
        if (req.path.startsWith("/services/data/")) reply.headers = { ...reply.headers, "sforce-limit-info": `api-usage=${usage.count()}/${k.limits.dailyApiRequests}` };
      },
      serverError: (status) => ({ status, body: [{ message: status === 503 ? "Server temporarily unavailable" : "An unexpected error occurred. Please include this ErrorId if you contact support: 1234567890-12345 (-1234567890)", errorCode: status === 503 ? "SERVER_UNAVAILABLE" : "UNKNOWN_EXCEPTION" }] }),
      // Salesforce's throttle signal is 403 REQUEST_LIMIT_EXCEEDED, never 429.
      throttled: () => ({ status: 403, body: [{ message: "ConcurrentPerOrgLongTxn Limit exceeded.", errorCode: "REQUEST_LIMIT_EXCEEDED" }] }),
      malformedBody: () => ({ status: 400, body: [{ message: "The request body is not valid JSON", errorCode: "JSON_PARSER_ERROR" }] }),
      notFound: () => ({ status: 404, body: [{ errorCode: "NOT_FOUND", message: "The requested resource does not exist" }] }),
      seedRecord(type, input) {
        def(type);
        const { Id: _id, attributes: _a, ...fields } = input;
        return insert(type, fields, true);
      },
      reset() {
        counter = 0;
        usage.clear();
        cursors.clear();
        if (options.seed ?? true) seed();
      },
    };
  });
}

function typeMatches(t: FieldType, v: unknown): boolean {
  switch (t) {
    case "number":
      return typeof v === "number" && Number.isFinite(v);
    case "boolean":
      return typeof v === "boolean";
    case "date":
      return typeof v === "string" && /^\d{4}-\d{2}-\d{2}$/.test(v);
    case "datetime":
      return typeof v === "string" && !Number.isNaN(Date.parse(v.replace(/\+0000$/, "Z")));
    default:
      return typeof v === "string";
  }
}
