// Microsoft Dataverse Web API sandbox, written from erp-crm-wire.md §3 (not from Keelson's adapter).
// Models: the Entra ID client-credentials token endpoint, entity sets accounts / opportunities /
// opportunityproducts / products / transactioncurrencies with create (204 + OData-EntityId, or 201 with
// return=representation), deep insert, PATCH upsert by id or alternate key (If-Match / If-None-Match), GET with
// $select / $filter / $orderby / $top / $expand / $count, server-driven paging (odata.maxpagesize, nextLink with
// $skiptoken), the multipart $batch format with atomic changesets, OData errors and service-protection limits.
import { randomUUID } from "node:crypto";
import { Halt, SlidingWindow, bearer, serve, type Kernel, type Reply, type Route, type RunningSandbox, type SandboxRequest, type StartOptions, type StoredRecord } from "./kernel";
import { entraToken } from "./entra";
import { runBatch } from "./odata-batch";
import { evaluateFilter, parseQueryOptions, type QueryModel, type QueryOptions } from "./odata-filter";

export const DATAVERSE_LIMITS = {
  /** Service protection, per user, 5-minute sliding window. */
  windowRequests: 6000,
  windowSeconds: 300,
  /** Concurrent requests per user (the sandbox counts them across all callers). */
  concurrentRequests: 52,
  /** Default and largest page. */
  maxPageSize: 5000,
  /** Requests in one $batch. */
  batchMaxRequests: 1000,
  /** Entra access tokens live about an hour. */
  tokenLifetimeSeconds: 3599,
};

export interface DataverseOptions extends StartOptions {
  tenantId?: string;
  clientId?: string;
  clientSecret?: string;
  /** The org URL the token's scope must name (`{orgUrl}/.default`). */
  orgUrl?: string;
  /** Extra custom columns per entity set (string columns, as a publisher prefix would add). */
  customColumns?: Record<string, string[]>;
  /** Alternate keys per entity set, each a list of columns. */
  alternateKeys?: Record<string, string[][]>;
  seed?: boolean;
}

type AttrType = "guid" | "string" | "int" | "decimal" | "bool" | "datetime" | "date" | "lookup";

interface EntityDef {
  logical: string;
  primaryId: string;
  attrs: Record<string, AttrType>;
  /** Single-valued navigation property → lookup attribute (_x_value) and target entity set. */
  singles: Record<string, { attr: string; target: string }>;
  /** Collection-valued navigation property → child entity set and the child's lookup attribute. */
  collections: Record<string, { set: string; attr: string }>;
  alternateKeys: string[][];
}

const SYSTEM: Record<string, AttrType> = { createdon: "datetime", modifiedon: "datetime", versionnumber: "int", statecode: "int", statuscode: "int" };

function entities(custom: Record<string, string[]>, keys: Record<string, string[][]>): Record<string, EntityDef> {
  const withCustom = (set: string, attrs: Record<string, AttrType>) => ({ ...attrs, ...Object.fromEntries((custom[set] ?? []).map((c) => [c, "string" as AttrType])) });
  return {
    accounts: {
      logical: "account",
      primaryId: "accountid",
      attrs: withCustom("accounts", { ...SYSTEM, accountid: "guid", name: "string", accountnumber: "string", telephone1: "string", emailaddress1: "string", websiteurl: "string", address1_line1: "string", address1_city: "string", address1_stateorprovince: "string", address1_postalcode: "string", address1_country: "string", description: "string", revenue: "decimal", creditonhold: "bool", accountcategorycode: "int", _parentaccountid_value: "lookup", _transactioncurrencyid_value: "lookup" }),
      singles: { parentaccountid: { attr: "_parentaccountid_value", target: "accounts" }, transactioncurrencyid: { attr: "_transactioncurrencyid_value", target: "transactioncurrencies" } },
      collections: { opportunity_customer_accounts: { set: "opportunities", attr: "_customerid_value" } },
      alternateKeys: keys.accounts ?? [["accountnumber"]],
    },
    opportunities: {
      logical: "opportunity",
      primaryId: "opportunityid",
      attrs: withCustom("opportunities", { ...SYSTEM, opportunityid: "guid", name: "string", description: "string", estimatedvalue: "decimal", estimatedclosedate: "date", actualvalue: "decimal", actualclosedate: "date", stepname: "string", closeprobability: "int", _customerid_value: "lookup", _parentaccountid_value: "lookup", _transactioncurrencyid_value: "lookup" }),
      singles: { customerid_account: { attr: "_customerid_value", target: "accounts" }, parentaccountid: { attr: "_parentaccountid_value", target: "accounts" }, transactioncurrencyid: { attr: "_transactioncurrencyid_value", target: "transactioncurrencies" } },
      collections: { product_opportunities: { set: "opportunityproducts", attr: "_opportunityid_value" } },
      alternateKeys: keys.opportunities ?? [],
    },
    opportunityproducts: {
      logical: "opportunityproduct",
      primaryId: "opportunityproductid",
      attrs: withCustom("opportunityproducts", { ...SYSTEM, opportunityproductid: "guid", productdescription: "string", quantity: "decimal", priceperunit: "decimal", baseamount: "decimal", manualdiscountamount: "decimal", extendedamount: "decimal", lineitemnumber: "int", isproductoverridden: "bool", _opportunityid_value: "lookup", _productid_value: "lookup", _transactioncurrencyid_value: "lookup" }),
      singles: { opportunityid: { attr: "_opportunityid_value", target: "opportunities" }, productid: { attr: "_productid_value", target: "products" }, transactioncurrencyid: { attr: "_transactioncurrencyid_value", target: "transactioncurrencies" } },
      collections: {},
      alternateKeys: keys.opportunityproducts ?? [],
    },
    products: {
      logical: "product",
      primaryId: "productid",
      attrs: withCustom("products", { ...SYSTEM, productid: "guid", name: "string", productnumber: "string", description: "string", price: "decimal" }),
      singles: {},
      collections: {},
      alternateKeys: keys.products ?? [["productnumber"]],
    },
    transactioncurrencies: {
      logical: "transactioncurrency",
      primaryId: "transactioncurrencyid",
      attrs: { ...SYSTEM, transactioncurrencyid: "guid", isocurrencycode: "string", currencyname: "string", currencysymbol: "string" },
      singles: {},
      collections: {},
      alternateKeys: [["isocurrencycode"]],
    },
  };
}

const COMPUTED = new Set(["baseamount", "extendedamount", "createdon", "modifiedon", "versionnumber"]);

/** Dataverse renders datetimes without fractional seconds. */
const odataNow = () => new Date().toISOString().replace(/\.\d{3}Z$/, "Z");

/** Credentials the sandbox accepts unless start() is given others. */
export const DATAVERSE_DEFAULTS = { tenantId: "6b1b0a8e-4e1d-4c2a-9f3b-6b656c736f6e", clientId: "keelson-sandbox-client", clientSecret: "keelson-sandbox-secret" };

export async function start(options: DataverseOptions = {}): Promise<RunningSandbox> {
  const tenantId = options.tenantId ?? DATAVERSE_DEFAULTS.tenantId;
  const clientId = options.clientId ?? DATAVERSE_DEFAULTS.clientId;
  const clientSecret = options.clientSecret ?? DATAVERSE_DEFAULTS.clientSecret;
  const defs = entities(options.customColumns ?? { accounts: ["keelson_erpcustomerid", "keelson_erpsystem"], opportunities: ["keelson_erpordernumber", "keelson_erporderstatus", "keelson_erpmessage"] }, options.alternateKeys ?? { accounts: [["accountnumber"], ["keelson_erpcustomerid"]] });

  return serve(DATAVERSE_LIMITS, options, (k: Kernel) => {
    let version = 1_000_000;
    const windows = new Map<string, SlidingWindow>();

    const odataError = (status: number, code: string, message: string, headers?: Record<string, string>): Halt => new Halt({ status, headers, body: { error: { code, message } } });
    const base = (req: SandboxRequest) => `http://${req.header("host")}/api/data/${req.params.version ?? "v9.2"}`;

    const entitySet = (name: string): EntityDef => {
      const d = defs[name];
      if (!d) throw odataError(404, "0x8006088a", `Resource not found for the segment '${name}'.`);
      return d;
    };
    const noProperty = (d: EntityDef, p: string): Halt => odataError(400, "0x0", `Could not find a property named '${p}' on type 'Microsoft.Dynamics.CRM.${d.logical}'.`);

    // ---- rate limits ------------------------------------------------------------------------------------------

    const windowFor = (principal: string) => {
      let w = windows.get(principal);
      if (!w) windows.set(principal, (w = new SlidingWindow(() => k.limits.windowSeconds! * 1000)));
      return w;
    };
    /** Counts one request (inner $batch requests count too); returns the 429 when over the window. */
    const admit = (principal: string): Reply | undefined => {
      const w = windowFor(principal);
      if (w.count() >= k.limits.windowRequests!) {
        // Refused requests count too, so a client that keeps hammering keeps extending its own wait.
        w.add();
        const retry = Math.max(1, Math.ceil(w.msUntilBelow(k.limits.windowRequests!) / 1000));
        return { status: 429, headers: { "retry-after": String(retry) }, body: { error: { code: "0x80072322", message: `Number of requests exceeded the limit of ${k.limits.windowRequests} over time window of ${k.limits.windowSeconds} seconds.` } } };
      }
      w.add();
      return undefined;
    };

    // ---- records ----------------------------------------------------------------------------------------------

    const etag = (r: StoredRecord) => `W/"${r.versionnumber}"`;

    const derive = (set: string, r: StoredRecord): void => {
      if (set === "opportunityproducts" && typeof r.quantity === "number" && typeof r.priceperunit === "number") {
        r.baseamount = Math.round(r.quantity * r.priceperunit * 100) / 100;
        r.extendedamount = Math.round(((r.baseamount as number) - ((r.manualdiscountamount as number | null) ?? 0)) * 100) / 100;
      }
    };

    /** "/accounts(guid)", "accounts(guid)" or a full URL → the target's id, checking it exists. */
    const resolveBind = (target: string, ref: unknown, prop: string): string => {
      const m = typeof ref === "string" ? /(?:^|\/)([a-z_]+)\(([0-9a-fA-F-]{36})\)$/.exec(ref) : null;
      if (!m) throw odataError(400, "0x0", `The value '${String(ref)}' of '${prop}@odata.bind' is not a valid entity reference.`); // [~]
      if (m[1] !== target) throw odataError(400, "0x0", `'${prop}' must reference the '${target}' entity set.`); // [~]
      if (!k.store.get(target, m[2]!.toLowerCase())) throw odataError(404, "0x80040217", `${entitySet(target).logical} With Id = ${m[2]} Does Not Exist`);
      return m[2]!.toLowerCase();
    };

    /** Checks a write body and returns attribute values plus deep-insert children. */
    const parseBody = (set: string, body: unknown): { values: Record<string, unknown>; children: { nav: string; items: unknown[] }[] } => {
      const d = entitySet(set);
      if (!body || typeof body !== "object" || Array.isArray(body)) throw odataError(400, "0x0", "The request body must be a JSON object.");
      const values: Record<string, unknown> = {};
      const children: { nav: string; items: unknown[] }[] = [];
      for (const [name, value] of Object.entries(body as Record<string, unknown>)) {
        if (name.startsWith("@odata.")) continue;
        const bind = /^(.+)@odata\.bind$/.exec(name);
        if (bind) {
          const nav = d.singles[bind[1]!];
          if (!nav) throw odataError(400, "0x0", `An undeclared property '${bind[1]}' which only has property annotations in the payload but no property value was found in the payload.`);
          values[nav.attr] = value === null ? null : resolveBind(nav.target, value, bind[1]!);
          continue;
        }
        if (d.collections[name]) {
          if (!Array.isArray(value)) throw odataError(400, "0x0", `Deep insert of '${name}' needs an array.`);
          children.push({ nav: name, items: value });
          continue;
        }
        const t = d.attrs[name];
        if (!t) throw odataError(400, "0x0", `The property '${name}' does not exist on type 'Microsoft.Dynamics.CRM.${d.logical}'. Make sure to only use property names that are defined by the type or mark the type as open type.`);
        if (t === "lookup") throw odataError(400, "0x0", "CRM do not support direct update of Entity Reference properties, Use Navigation properties instead.");
        if (COMPUTED.has(name) || name === d.primaryId) continue;
        if (value !== null && !typeOk(t, value)) throw odataError(400, "0x0", `Cannot convert the literal '${JSON.stringify(value)}' to the expected type '${edmType(t)}'.`);
        values[name] = value;
      }
      return { values, children };
    };

    const insert = (set: string, values: Record<string, unknown>, id: string = randomUUID(), seed = false): StoredRecord => {
      const d = entitySet(set);
      const now = odataNow();
      const r: StoredRecord = { statecode: 0, statuscode: 1 };
      for (const [a, t] of Object.entries(d.attrs)) if (!(a in r)) r[a] = t === "bool" ? false : null;
      Object.assign(r, values, { [d.primaryId]: id, createdon: now, modifiedon: now, versionnumber: ++version });
      derive(set, r);
      return k.store.insert(set, id, r, { seed });
    };

    const update = (set: string, r: StoredRecord, values: Record<string, unknown>): void => {
      Object.assign(r, values, { modifiedon: odataNow(), versionnumber: ++version });
      derive(set, r);
    };

    /** Create with deep-inserted children; all of it or none of it. */
    const createDeep = (set: string, body: unknown, id?: string): StoredRecord => {
      const d = entitySet(set);
      const { values, children } = parseBody(set, body);
      if (set === "opportunityproducts" && !values._opportunityid_value) throw odataError(400, "0x80040203", "Attribute 'opportunityid' cannot be NULL"); // [~] code and wording
      // Copying the store costs as much as it holds: only a deep insert has anything to undo.
      if (children.length === 0) return insert(set, values, id);
      const snapshot = k.store.snapshot();
      try {
        const r = insert(set, values, id);
        for (const c of children) {
          const rel = d.collections[c.nav]!;
          for (const item of c.items) {
            const child = parseBody(rel.set, item);
            insert(rel.set, { ...child.values, [rel.attr]: r[d.primaryId] });
          }
        }
        return r;
      } catch (e) {
        k.store.restore(snapshot);
        throw e;
      }
    };

    /** Parses "(guid)" or "(key='v',other=1)" into a record lookup. */
    const findByKey = (set: string, keyText: string): { record?: StoredRecord; id?: string; keyValues?: Record<string, unknown> } => {
      const d = entitySet(set);
      if (/^[0-9a-fA-F-]{36}$/.test(keyText)) return { record: k.store.get(set, keyText.toLowerCase()), id: keyText.toLowerCase() };
      const pairs: Record<string, unknown> = {};
      const re = /\s*([a-z_0-9]+)\s*=\s*('(?:[^']|'')*'|[^,]+)\s*(,|$)/gy;
      let m: RegExpExecArray | null;
      let consumed = 0;
      while (consumed < keyText.length && (m = re.exec(keyText))) {
        const raw = m[2]!.trim();
        pairs[m[1]!] = raw.startsWith("'") ? raw.slice(1, -1).replace(/''/g, "'") : Number(raw);
        consumed = re.lastIndex;
      }
      if (!Object.keys(pairs).length || consumed < keyText.length) throw odataError(400, "0x0", `Bad Request - Error in query syntax.`);
      const names = Object.keys(pairs).sort();
      if (!d.alternateKeys.some((key) => [...key].sort().join(",") === names.join(","))) throw odataError(400, "0x80060888", `The key attribute(s) ${names.join(", ")} are not a valid alternate key for entity '${d.logical}'.`); // [~]
      const record = k.store.all(set).find((r) => names.every((n) => String(r[n] ?? "").toLowerCase() === String(pairs[n]).toLowerCase()));
      return { record, keyValues: pairs };
    };

    // ---- reading ----------------------------------------------------------------------------------------------

    type ReadOptions = QueryOptions;
    const model: QueryModel<Halt> = {
      hasField: (set, field) => Boolean(entitySet(set).attrs[field]),
      navigationTarget: (set, nav) => entitySet(set).singles[nav]?.target ?? entitySet(set).collections[nav]?.set,
      noProperty: (set, name) => noProperty(entitySet(set), name),
      badRequest: (message) => odataError(400, "0x0", message),
      // Dataverse pages with $top and the Prefer header's odata.maxpagesize; $skip is not one of its options.
      paging: ["$top"],
    };
    const readOptions = (set: string, get: (name: string) => string | null): ReadOptions => parseQueryOptions(set, get, model);

    const present = (set: string, r: StoredRecord, o: ReadOptions): Record<string, unknown> => {
      const d = entitySet(set);
      const out: Record<string, unknown> = { "@odata.etag": etag(r) };
      const fields = o.select ? [...o.select.filter((s) => s !== d.primaryId), d.primaryId] : Object.keys(d.attrs);
      for (const f of fields) out[f] = r[f] ?? null;
      for (const e of o.expand ?? []) {
        const single = d.singles[e.nav];
        if (single) {
          const target = r[single.attr] ? k.store.get(single.target, r[single.attr] as string) : undefined;
          out[e.nav] = target ? present(single.target, target, e.options) : null;
        } else {
          const rel = d.collections[e.nav]!;
          out[e.nav] = query(e.options, k.store.all(rel.set).filter((c) => c[rel.attr] === r[d.primaryId])).map((c) => present(rel.set, c, e.options));
        }
      }
      return out;
    };

    const query = (o: ReadOptions, rows: StoredRecord[]): StoredRecord[] => {
      let list = o.filter ? rows.filter((r) => evaluateFilter(o.filter!, (f) => r[f])) : [...rows];
      if (o.orderby) {
        list.sort((a, b) => {
          for (const ob of o.orderby!) {
            const x = a[ob.field];
            const y = b[ob.field];
            if (x === y) continue;
            if (x == null) return ob.desc ? 1 : -1;
            if (y == null) return ob.desc ? -1 : 1;
            const c = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
            if (c) return ob.desc ? -c : c;
          }
          return 0;
        });
      }
      if (o.top !== undefined) list = list.slice(0, o.top);
      return list;
    };

    const metadataContext = (req: SandboxRequest, set: string, o: ReadOptions, entity = false) => `${base(req)}/$metadata#${set}${o.select ? `(${o.select.join(",")})` : ""}${entity ? "/$entity" : ""}`;

    // ---- handlers ---------------------------------------------------------------------------------------------

    const token = entraToken(k, { tenantId, clientId, clientSecret, resource: (req) => options.orgUrl ?? `http://${req.header("host")}`, lifetimeLimit: "tokenLifetimeSeconds" });

    const entityIdHeader = (req: SandboxRequest, set: string, id: string) => ({ "odata-entityid": `${base(req)}/${set}(${id})` });
    const prefers = (req: SandboxRequest, what: string) => (req.header("prefer") ?? "").split(",").some((p) => p.trim().toLowerCase() === what);

    const create = (req: SandboxRequest): Reply => {
      const set = req.params.set!;
      const r = createDeep(set, req.json());
      const id = r[entitySet(set).primaryId] as string;
      if (prefers(req, "return=representation")) {
        const o = readOptions(set, (n) => req.query.get(n));
        return { status: 201, headers: { ...entityIdHeader(req, set, id), "preference-applied": "return=representation" }, body: { "@odata.context": metadataContext(req, set, o, true), ...present(set, r, o) } };
      }
      return { status: 204, headers: entityIdHeader(req, set, id) };
    };

    const createRelated = (req: SandboxRequest): Reply => {
      const d = entitySet(req.params.set!);
      const { record } = findByKey(req.params.set!, req.params.key!);
      if (!record) throw odataError(404, "0x80040217", `${d.logical} With Id = ${req.params.key} Does Not Exist`);
      const rel = d.collections[req.params.nav!];
      if (!rel) throw noProperty(d, req.params.nav!);
      const child = parseBody(rel.set, req.json());
      const r = insert(rel.set, { ...child.values, [rel.attr]: record[d.primaryId] });
      return { status: 204, headers: entityIdHeader(req, rel.set, r[entitySet(rel.set).primaryId] as string) };
    };

    const list = (req: SandboxRequest): Reply => {
      const set = req.params.set!;
      if (req.query.has("$skip")) throw odataError(400, "0x0", "The query parameter $skip is not supported");
      const o = readOptions(set, (n) => req.query.get(n));
      const all = query({ ...o, top: undefined }, k.store.all(set));
      const asked = /odata\.maxpagesize=(\d+)/i.exec(req.header("prefer") ?? "");
      const pageSize = Math.min(asked ? Number(asked[1]) : k.limits.maxPageSize!, k.limits.maxPageSize!);
      const skipToken = req.query.get("$skiptoken");
      let from = 0;
      if (skipToken) {
        const m = /pagingcookie="(\d+)"/.exec(skipToken);
        if (!m) throw odataError(400, "0x80040203", "Invalid $skiptoken"); // [~]
        from = Number(m[1]);
      }
      // $top turns paging off: the caller gets at most $top rows and no nextLink.
      const page = o.top !== undefined ? all.slice(0, o.top) : all.slice(from, from + pageSize);
      const body: Record<string, unknown> = { "@odata.context": metadataContext(req, set, o) };
      if (req.query.get("$count") === "true") body["@odata.count"] = all.length;
      body.value = page.map((r) => present(set, r, o));
      const headers: Record<string, string> = {};
      if (asked) headers["preference-applied"] = `odata.maxpagesize=${asked[1]}`;
      if (o.top === undefined && from + pageSize < all.length) {
        const cookie = `<cookie pagenumber="${Math.floor(from / pageSize) + 2}" pagingcookie="${from + pageSize}" istracking="False" />`;
        const [path, search = ""] = req.url.split("?");
        const kept = search.split("&").filter((p) => p && !/^(\$|%24)skiptoken=/i.test(p));
        body["@odata.nextLink"] = `http://${req.header("host")}${path}?${[...kept, `$skiptoken=${encodeURIComponent(cookie)}`].join("&")}`;
      }
      return { status: 200, headers, body };
    };

    const getOne = (req: SandboxRequest): Reply => {
      const set = req.params.set!;
      const d = entitySet(set);
      const { record } = findByKey(set, req.params.key!);
      if (!record) throw odataError(404, "0x80040217", `${d.logical} With Id = ${req.params.key} Does Not Exist`);
      const o = readOptions(set, (n) => req.query.get(n));
      return { status: 200, headers: { etag: etag(record) }, body: { "@odata.context": metadataContext(req, set, o, true), ...present(set, record, o) } };
    };

    const getRelated = (req: SandboxRequest): Reply => {
      const d = entitySet(req.params.set!);
      const { record } = findByKey(req.params.set!, req.params.key!);
      if (!record) throw odataError(404, "0x80040217", `${d.logical} With Id = ${req.params.key} Does Not Exist`);
      const rel = d.collections[req.params.nav!];
      if (!rel) throw noProperty(d, req.params.nav!);
      const o = readOptions(rel.set, (n) => req.query.get(n));
      const rows = query(o, k.store.all(rel.set).filter((c) => c[rel.attr] === record[d.primaryId]));
      return { status: 200, body: { "@odata.context": metadataContext(req, rel.set, o), value: rows.map((r) => present(rel.set, r, o)) } };
    };

    /** PATCH is an upsert: 204 either way; If-Match: * = update only, If-None-Match: * = create only. */
    const patch = (req: SandboxRequest): Reply => {
      const set = req.params.set!;
      const d = entitySet(set);
      const { record, id, keyValues } = findByKey(set, req.params.key!);
      const ifMatch = req.header("if-match");
      const ifNoneMatch = req.header("if-none-match");
      if (record && ifNoneMatch === "*") throw odataError(412, "0x80040237", "A record with matching key values already exists."); // [~]
      if (!record && ifMatch) throw odataError(404, "0x80040217", keyValues ? `A record with the specified key values does not exist in ${d.logical} entity` : `${d.logical} With Id = ${id} Does Not Exist`); // [~]
      if (record && ifMatch && ifMatch !== "*" && ifMatch !== etag(record)) throw odataError(412, "0x80060882", "The version of the existing record doesn't match the RowVersion property provided."); // [~]
      let r: StoredRecord;
      let created = false;
      if (record) {
        const { values } = parseBody(set, req.json());
        update(set, record, values);
        r = record;
      } else {
        r = createDeep(set, { ...(req.json() as object), ...(keyValues ?? {}) }, id);
        created = true;
      }
      const rid = r[d.primaryId] as string;
      if (prefers(req, "return=representation")) {
        const o = readOptions(set, (n) => req.query.get(n));
        return { status: created ? 201 : 200, headers: { ...entityIdHeader(req, set, rid), "preference-applied": "return=representation" }, body: { "@odata.context": metadataContext(req, set, o, true), ...present(set, r, o) } };
      }
      return { status: 204, headers: entityIdHeader(req, set, rid) };
    };

    const remove = (req: SandboxRequest): Reply => {
      const set = req.params.set!;
      const { record } = findByKey(set, req.params.key!);
      if (!record) throw odataError(404, "0x80040217", `${entitySet(set).logical} With Id = ${req.params.key} Does Not Exist`);
      k.store.delete(set, record[entitySet(set).primaryId] as string);
      return { status: 204 };
    };

    const whoAmI = (): Reply => ({ status: 200, body: { "@odata.context": "$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse", BusinessUnitId: "1b5e4a0e-0000-4000-8000-00000000b001", UserId: "1b5e4a0e-0000-4000-8000-00000000a001", OrganizationId: "1b5e4a0e-0000-4000-8000-0000000000a0" } });

    const batch = (req: SandboxRequest): Promise<Reply> =>
      runBatch({
        kernel: k,
        outer: req,
        serviceRoot: `/api/data/${req.params.version}`,
        maxRequests: k.limits.batchMaxRequests!,
        stopOnError: !prefers(req, "odata.continue-on-error"),
        badRequest: (message) => odataError(400, "0x0", message),
        malformedJson: () => ({ status: 400, body: { error: { code: "0x0", message: "The request body is not valid JSON." } } }),
        // Every inner request counts toward service protection.
        admit: () => admit(req.principal ?? ""),
        createdHeader: "odata-entityid",
        versionHeader: ["OData-Version", "4.0"],
        jsonContentType: "application/json; odata.metadata=minimal",
      });

    const V = "(?<version>v9\\.[0-2])";
    const routes: Route[] = [
      { method: "POST", path: "/:tenant/oauth2/v2.0/token", handler: token, public: true },
      { method: "GET", path: new RegExp(`^/api/data/${V}/WhoAmI(\\(\\))?$`), handler: whoAmI },
      { method: "POST", path: new RegExp(`^/api/data/${V}/\\$batch$`), handler: batch },
      { method: "GET", path: new RegExp(`^/api/data/${V}/(?<set>[a-z_]+)$`), handler: list },
      { method: "POST", path: new RegExp(`^/api/data/${V}/(?<set>[a-z_]+)$`), handler: create },
      { method: "GET", path: new RegExp(`^/api/data/${V}/(?<set>[a-z_]+)\\((?<key>[^)]*)\\)$`), handler: getOne },
      { method: "PATCH", path: new RegExp(`^/api/data/${V}/(?<set>[a-z_]+)\\((?<key>[^)]*)\\)$`), handler: patch },
      { method: "DELETE", path: new RegExp(`^/api/data/${V}/(?<set>[a-z_]+)\\((?<key>[^)]*)\\)$`), handler: remove },
      { method: "GET", path: new RegExp(`^/api/data/${V}/(?<set>[a-z_]+)\\((?<key>[^)]*)\\)/(?<nav>[a-z_]+)$`), handler: getRelated },
      { method: "POST", path: new RegExp(`^/api/data/${V}/(?<set>[a-z_]+)\\((?<key>[^)]*)\\)/(?<nav>[a-z_]+)$`), handler: createRelated },
    ];

    const seed = (): void => {
      const usd = insert("transactioncurrencies", { isocurrencycode: "USD", currencyname: "US Dollar", currencysymbol: "$" }, undefined, true);
      const eur = insert("transactioncurrencies", { isocurrencycode: "EUR", currencyname: "Euro", currencysymbol: "€" }, undefined, true);
      const acme = insert("accounts", { name: "Acme Corporation", accountnumber: "ACME-001", telephone1: "+1 415 555 0100", websiteurl: "https://acme.example", address1_line1: "1 Market St", address1_city: "San Francisco", address1_stateorprovince: "CA", address1_postalcode: "94105", address1_country: "United States", _transactioncurrencyid_value: usd.transactioncurrencyid }, undefined, true);
      const globex = insert("accounts", { name: "Globex GmbH", accountnumber: "GLOBEX-002", address1_city: "Berlin", address1_postalcode: "10117", address1_country: "Germany", keelson_erpcustomerid: "C-1001", keelson_erpsystem: "netsuite", _transactioncurrencyid_value: eur.transactioncurrencyid }, undefined, true);
      insert("accounts", { name: "Initech Ltd", accountnumber: "INITECH-003", address1_city: "London", address1_country: "United Kingdom" }, undefined, true);
      const widget = insert("products", { name: "Widget", productnumber: "WID-1", price: 9.995 }, undefined, true);
      const gadget = insert("products", { name: "Gadget", productnumber: "GAD-2", price: 150 }, undefined, true);
      const won = insert("opportunities", { name: "Acme - 100 widgets", _customerid_value: acme.accountid, _parentaccountid_value: acme.accountid, estimatedvalue: 999.5, actualvalue: 999.5, estimatedclosedate: "2026-11-20", actualclosedate: "2026-11-20", statecode: 1, statuscode: 3, _transactioncurrencyid_value: usd.transactioncurrencyid }, undefined, true);
      const open = insert("opportunities", { name: "Globex - gadgets", _customerid_value: globex.accountid, _parentaccountid_value: globex.accountid, estimatedvalue: 3000, estimatedclosedate: "2026-12-15", _transactioncurrencyid_value: eur.transactioncurrencyid }, undefined, true);
      insert("opportunityproducts", { _opportunityid_value: won.opportunityid, _productid_value: widget.productid, quantity: 100, priceperunit: 9.995, lineitemnumber: 1, _transactioncurrencyid_value: usd.transactioncurrencyid }, undefined, true);
      insert("opportunityproducts", { _opportunityid_value: open.opportunityid, _productid_value: gadget.productid, quantity: 20, priceperunit: 150, lineitemnumber: 1, _transactioncurrencyid_value: eur.transactioncurrencyid }, undefined, true);
    };

    return {
      vendor: "dataverse",
      routes,
      before(req) {
        const t = k.tokens.check(bearer(req));
        if (!t || t === "expired") {
          // Dataverse answers 401 with an empty body and a challenge naming the authority [~].
          return { status: 401, headers: { "www-authenticate": `Bearer authorization_uri=https://login.microsoftonline.com/${tenantId}/oauth2/authorize, resource_id=${options.orgUrl ?? `http://${req.header("host")}`}` } };
        }
        req.principal = t.subject;
        // The $batch envelope itself is not counted; each inner request is.
        if (req.path.endsWith("/$batch")) return undefined;
        return admit(t.subject);
      },
      decorate(req, reply) {
        const extra: Record<string, string> = { "odata-version": "4.0" };
        if (req.principal) extra["x-ms-ratelimit-burst-remaining-xrm-requests"] = String(Math.max(0, k.limits.windowRequests! - windowFor(req.principal).count()));
        reply.headers = { ...extra, ...reply.headers };
      },
      serverError: (status) => ({ status, body: { error: { code: "0x80040216", message: status === 503 ? "The service is temporarily unavailable." : "An unexpected error occurred." } } }), // [~] generic platform error code
      throttled: () => ({ status: 429, headers: { "retry-after": "5" }, body: { error: { code: "0x80072322", message: `Number of requests exceeded the limit of ${k.limits.windowRequests} over time window of ${k.limits.windowSeconds} seconds.` } } }),
      malformedBody: () => ({ status: 400, body: { error: { code: "0x0", message: "The request body is not valid JSON." } } }), // [~] wording
      notFound: (req) => ({ status: 404, body: { error: { code: "0x8006088a", message: `Resource not found for the segment '${req.path.split("/").pop()}'.` } } }),
      concurrency: {
        limit: () => k.limits.concurrentRequests!,
        refused: () => ({ status: 429, headers: { "retry-after": "1" }, body: { error: { code: "0x80072326", message: `Number of concurrent requests exceeded the limit of ${k.limits.concurrentRequests}.` } } }),
      },
      seedRecord(type, input) {
        const d = entitySet(type);
        const values: Record<string, unknown> = {};
        for (const [a, v] of Object.entries(input)) {
          if (!d.attrs[a]) throw new Error(`unknown column ${a} on ${type}`);
          values[a] = v;
        }
        return insert(type, values, (input[d.primaryId] as string | undefined) ?? randomUUID(), true);
      },
      reset() {
        version = 1_000_000;
        windows.clear();
        if (options.seed ?? true) seed();
      },
    };
  });
}

function typeOk(t: AttrType, v: unknown): boolean {
  switch (t) {
    case "int":
      return Number.isInteger(v);
    case "decimal":
      return typeof v === "number" && Number.isFinite(v);
    case "bool":
      return typeof v === "boolean";
    case "date":
      return typeof v === "string" && /^\d{4}-\d{2}-\d{2}$/.test(v);
    case "datetime":
      return typeof v === "string" && !Number.isNaN(Date.parse(v));
    default:
      return typeof v === "string";
  }
}

function edmType(t: AttrType): string {
  return { guid: "Edm.Guid", string: "Edm.String", int: "Edm.Int32", decimal: "Edm.Decimal", bool: "Edm.Boolean", datetime: "Edm.DateTimeOffset", date: "Edm.Date", lookup: "Edm.Guid" }[t];
}
