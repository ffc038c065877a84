// Oracle Fusion Cloud Order Management sandbox (salesOrdersForOrderHub), written from erp-crm-wire.md §8 (not from
// Keelson's adapter). Models: HTTP Basic and an OAuth client-credentials bearer (IDCS-style token endpoint on the
// same host), REST-Framework-Version, create with SubmittedFlag, `Upsert-Mode: true`, OrderKey
// `{SourceTransactionSystem}:{SourceTransactionId}` or HeaderId, GET / PATCH / DELETE by key, the lines child,
// applyHold / releaseHold actions, ADF collection paging `{items,count,hasMore,limit,offset,links}` with `q`,
// `expand`, `fields`, `onlyData`, `orderBy`, `totalResults`, and the all-or-none ADF batch
// (`application/vnd.oracle.adf.batch+json`). The error body and rate limits are THIN (see below).
import { randomBytes } from "node:crypto";
import { Halt, SlidingWindow, basicAuth, bearer, makeRequest, serve, type Kernel, type Reply, type Route, type RunningSandbox, type SandboxRequest, type StartOptions, type StoredRecord } from "./kernel";

export const ORACLE_FUSION_LIMITS = {
  /** THIN: Oracle publishes no rate limit for Fusion REST; 0 = off. Set it to model a gateway's 429. */
  requestsPerMinute: 0,
  /** ADF's default page size, and the largest `limit` honoured [~]. */
  defaultLimit: 25,
  maxLimit: 500,
  /** [~] IDCS access tokens live an hour. */
  tokenLifetimeSeconds: 3600,
};

/** Credentials the sandbox accepts unless start() is given others. */
export const ORACLE_FUSION_DEFAULTS = { username: "KEELSON.INTEGRATION", password: "keelson-sandbox-password", clientId: "keelson-sandbox-client", clientSecret: "keelson-sandbox-secret", scope: "urn:opc:resource:consumer::all" };

export interface OracleFusionOptions extends StartOptions {
  username?: string;
  password?: string;
  clientId?: string;
  clientSecret?: string;
  seed?: boolean;
}

const ROOT = "/fscmRestApi/resources";
const VERSION = "11.13.18.05";
const RESOURCE = "salesOrdersForOrderHub";

type Kind = "string" | "number" | "boolean" | "date" | "datetime";
const HEADER_FIELDS: Record<string, Kind> = {
  HeaderId: "number",
  OrderNumber: "string",
  SourceTransactionNumber: "string",
  SourceTransactionSystem: "string",
  SourceTransactionId: "string",
  SourceTransactionRevisionNumber: "number",
  BusinessUnitId: "number",
  BusinessUnitName: "string",
  BuyingPartyId: "number",
  BuyingPartyName: "string",
  BuyingPartyNumber: "string",
  CustomerPONumber: "string",
  TransactionTypeCode: "string",
  TransactionalCurrencyCode: "string",
  TransactionOn: "datetime",
  RequestedShipDate: "datetime",
  RequestingBusinessUnitName: "string",
  SubmittedFlag: "boolean",
  StatusCode: "string",
  OnHold: "boolean",
  Comments: "string",
  CreationDate: "datetime",
  LastUpdateDate: "datetime",
  CreatedBy: "string",
  LastUpdatedBy: "string",
};
const HEADER_READONLY = new Set(["HeaderId", "OrderNumber", "StatusCode", "OnHold", "CreationDate", "LastUpdateDate", "CreatedBy", "LastUpdatedBy"]);
const LINE_FIELDS: Record<string, Kind> = {
  FulfillLineId: "number",
  LineId: "number",
  LineNumber: "number",
  SourceTransactionLineId: "string",
  SourceTransactionLineNumber: "string",
  SourceTransactionScheduleId: "string",
  SourceTransactionScheduleNumber: "string",
  ProductId: "number",
  ProductNumber: "string",
  ProductDescription: "string",
  OrderedQuantity: "number",
  OrderedUOMCode: "string",
  UnitListPrice: "number",
  UnitSellingPrice: "number",
  ExtendedAmount: "number",
  TransactionCategoryCode: "string",
  RequestedShipDate: "datetime",
  StatusCode: "string",
};
const LINE_READONLY = new Set(["FulfillLineId", "LineId", "LineNumber", "ProductId", "ProductDescription", "UnitListPrice", "ExtendedAmount", "StatusCode"]);
/** Child collections kept as given (parties and addresses): the sandbox checks only that they are arrays. */
const PASSTHROUGH_CHILDREN = ["billToCustomer", "shipToCustomer", "payments", "additionalInformation"];

const round2 = (x: number) => Math.round(x * 100) / 100;
const STATUS_TEXT: Record<number, string> = { 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 406: "Not Acceptable", 409: "Conflict", 415: "Unsupported Media Type", 429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable" };

export async function start(options: OracleFusionOptions = {}): Promise<RunningSandbox> {
  const username = options.username ?? ORACLE_FUSION_DEFAULTS.username;
  const password = options.password ?? ORACLE_FUSION_DEFAULTS.password;
  const clientId = options.clientId ?? ORACLE_FUSION_DEFAULTS.clientId;
  const clientSecret = options.clientSecret ?? ORACLE_FUSION_DEFAULTS.clientSecret;

  return serve(ORACLE_FUSION_LIMITS, options, (k: Kernel) => {
    const minute = new SlidingWindow(() => 60_000);
    const counters = { header: 0, line: 0, order: 0 };
    const parties: Record<string, { id: number; name: string }> = { "C-1001": { id: 300000001001, name: "Globex GmbH" }, "C-1002": { id: 300000001002, name: "Umbrella Corp" } };
    const businessUnits: Record<string, number> = { "Vision Operations": 204, "Keelson US BU": 300000000204 };
    const products: Record<string, { id: number; description: string; price: number }> = { "WID-1": { id: 300000002001, description: "Widget", price: 9.995 }, "GAD-2": { id: 300000002002, description: "Gadget", price: 150 }, "SUP-12": { id: 300000002012, description: "Support plan", price: 250 } };

    /** REST-Framework-Version: 1 when absent; 1–4 accepted. */
    const frameworkVersion = (req: SandboxRequest | undefined): number => {
      // Seeds posted to the control plane have no request: they get the JSON form.
      if (!req) return 4;
      const v = req.header("rest-framework-version");
      return v && /^[1-4]$/.test(v) ? Number(v) : 1;
    };
    // THIN: no error body was captured. Framework version 1 answers ADF's plain-text message; 2 and later answer
    // the JSON error media type with o:errorDetails (the shape ADF shares with NetSuite's REST services).
    const adfError = (req: SandboxRequest | undefined, status: number, detail: string, code?: string): Reply => {
      if (frameworkVersion(req) < 2) return { status, headers: { "content-type": "text/plain;charset=UTF-8" }, body: detail };
      return { status, headers: { "content-type": "application/vnd.oracle.adf.error+json" }, body: { type: "http://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html", title: STATUS_TEXT[status] ?? "Error", status: String(status), "o:errorDetails": [{ detail, "o:errorCode": code ?? String(status), "o:errorPath": null }] } };
    };
    // The request being handled, so deep validation can answer in its framework version. Set when a handler starts;
    // handlers run synchronously (batch re-sets it after each awaited part), so it cannot change under them.
    let current: SandboxRequest | undefined;
    const fail = (status: number, detail: string, code?: string): Halt => new Halt(adfError(current, status, detail, code));
    const throttleReply = (req: SandboxRequest): Reply => {
      const r = adfError(req, 429, "The number of requests exceeded the limit for this time window."); // THIN
      return { ...r, headers: { ...r.headers, "retry-after": "60" } };
    };

    const now = () => new Date().toISOString().replace("Z", "+00:00");
    const base = (req: SandboxRequest) => `http://${req.header("host")}${ROOT}/${req.params.version ?? VERSION}`;
    const orderKey = (r: StoredRecord) => `${r.SourceTransactionSystem}:${r.SourceTransactionId}`;

    // ---- records ----------------------------------------------------------------------------------------------

    const typeOk = (kind: Kind, v: unknown) =>
      v === null || (kind === "number" ? typeof v === "number" : kind === "boolean" ? typeof v === "boolean" : typeof v === "string" && (kind === "string" || !Number.isNaN(Date.parse(v))));

    const checkAttrs = (what: string, fields: Record<string, Kind>, readOnly: Set<string>, body: Record<string, unknown>, children: string[]) => {
      for (const [name, v] of Object.entries(body)) {
        if (children.includes(name)) {
          if (!Array.isArray(v)) throw fail(400, `The child ${name} must be an array of objects.`); // THIN
          continue;
        }
        const kind = fields[name];
        if (!kind) throw fail(400, `An attempt was made to set a value for attribute ${name}, which doesn't exist in ${what}.`, "DOO-2684004"); // THIN
        if (readOnly.has(name)) throw fail(400, `Attribute ${name} in ${what} is read only.`, "DOO-2684005"); // THIN
        if (!typeOk(kind, v)) throw fail(400, `The value ${JSON.stringify(v)} isn't valid for attribute ${name} in ${what}.`, "DOO-2684006"); // THIN
      }
    };

    const buildLine = (input: unknown, index: number): StoredRecord => {
      if (!input || typeof input !== "object" || Array.isArray(input)) throw fail(400, "Each line must be an object.");
      const body = input as Record<string, unknown>;
      checkAttrs("SalesOrderLine", LINE_FIELDS, LINE_READONLY, body, []);
      for (const required of ["SourceTransactionLineId", "ProductNumber", "OrderedQuantity"]) if (body[required] === undefined || body[required] === null) throw fail(400, `Attribute ${required} in SalesOrderLine is required.`, "DOO-2684001"); // THIN
      const product = products[body.ProductNumber as string];
      if (!product) throw fail(400, `The value of the attribute ProductNumber isn't valid: ${body.ProductNumber}.`, "DOO-2684010"); // THIN
      const id = 300000100000 + ++counters.line;
      const price = (body.UnitSellingPrice as number | undefined) ?? product.price;
      return { FulfillLineId: id, LineId: id, LineNumber: index + 1, SourceTransactionLineNumber: String(index + 1), SourceTransactionScheduleId: body.SourceTransactionLineId, SourceTransactionScheduleNumber: "1", OrderedUOMCode: "Ea", TransactionCategoryCode: "ORDER", RequestedShipDate: null, ...body, ProductId: product.id, ProductDescription: product.description, UnitListPrice: product.price, UnitSellingPrice: price, ExtendedAmount: round2((body.OrderedQuantity as number) * price), StatusCode: "NOT_STARTED" };
    };

    /** Resolves the business unit and buying party; Order Hub never creates customers. */
    const resolveParties = (h: Record<string, unknown>) => {
      if (h.BusinessUnitName !== undefined || h.BusinessUnitId !== undefined) {
        const name = (h.BusinessUnitName as string | undefined) ?? Object.keys(businessUnits).find((n) => businessUnits[n] === h.BusinessUnitId);
        if (!name || businessUnits[name] === undefined) throw fail(400, `The value of the attribute BusinessUnitName isn't valid: ${h.BusinessUnitName ?? h.BusinessUnitId}.`, "DOO-2684011"); // THIN
        Object.assign(h, { BusinessUnitName: name, BusinessUnitId: businessUnits[name] });
      }
      if (h.BuyingPartyNumber !== undefined || h.BuyingPartyId !== undefined || h.BuyingPartyName !== undefined) {
        const number = Object.keys(parties).find((n) => n === h.BuyingPartyNumber || parties[n]!.id === h.BuyingPartyId || parties[n]!.name === h.BuyingPartyName);
        if (!number) throw fail(400, `The value of the attribute BuyingPartyNumber isn't valid: ${h.BuyingPartyNumber ?? h.BuyingPartyId ?? h.BuyingPartyName}.`, "DOO-2684012"); // THIN
        Object.assign(h, { BuyingPartyNumber: number, BuyingPartyId: parties[number]!.id, BuyingPartyName: parties[number]!.name });
      }
    };

    const submit = (r: StoredRecord) => {
      if (r.StatusCode !== "DOO_DRAFT") return;
      r.OrderNumber ??= String(84000 + ++counters.order);
      r.StatusCode = "OPEN";
      r.SubmittedFlag = true;
      for (const l of r.lines as StoredRecord[]) l.StatusCode = "AWAIT_SHIPPING";
    };

    const create = (input: Record<string, unknown>, seed = false): StoredRecord => {
      const { lines = [], ...header } = input;
      checkAttrs("SalesOrderHeader", HEADER_FIELDS, HEADER_READONLY, input, ["lines", ...PASSTHROUGH_CHILDREN]);
      for (const required of ["SourceTransactionNumber", "SourceTransactionSystem", "SourceTransactionId", "TransactionalCurrencyCode"]) if (header[required] === undefined || header[required] === null || header[required] === "") throw fail(400, `Attribute ${required} in SalesOrderHeader is required.`, "DOO-2684001"); // THIN
      if (header.BusinessUnitName === undefined && header.BusinessUnitId === undefined) throw fail(400, "Attribute BusinessUnitName in SalesOrderHeader is required.", "DOO-2684001");
      if (header.BuyingPartyName === undefined && header.BuyingPartyNumber === undefined && header.BuyingPartyId === undefined) throw fail(400, "Attribute BuyingPartyName in SalesOrderHeader is required.", "DOO-2684001");
      resolveParties(header);
      const id = 300000010000 + ++counters.header;
      const stamp = now();
      const r: StoredRecord = { HeaderId: id, OrderNumber: null, SourceTransactionRevisionNumber: 1, TransactionTypeCode: "STD", TransactionOn: stamp, CustomerPONumber: null, RequestedShipDate: null, RequestingBusinessUnitName: header.BusinessUnitName, Comments: null, ...header, StatusCode: "DOO_DRAFT", OnHold: false, SubmittedFlag: false, CreationDate: stamp, LastUpdateDate: stamp, CreatedBy: username, LastUpdatedBy: username };
      r.lines = (lines as unknown[]).map((l, i) => buildLine(l, i));
      for (const c of PASSTHROUGH_CHILDREN) r[c] = input[c] ?? [];
      if (header.SubmittedFlag === true) submit(r);
      return k.store.insert(RESOURCE, String(id), r, { seed });
    };

    /** PATCH semantics (also an upsert's update): header attributes merge; lines match on SourceTransactionLineId. */
    const update = (r: StoredRecord, input: Record<string, unknown>) => {
      const { lines, ...header } = input;
      checkAttrs("SalesOrderHeader", HEADER_FIELDS, HEADER_READONLY, input, ["lines", ...PASSTHROUGH_CHILDREN]);
      for (const keyAttr of ["SourceTransactionSystem", "SourceTransactionId"]) if (header[keyAttr] !== undefined && header[keyAttr] !== r[keyAttr]) throw fail(400, `Attribute ${keyAttr} can't be changed.`); // THIN
      resolveParties(header);
      const existing = r.lines as StoredRecord[];
      const next = [...existing];
      for (const line of (lines as unknown[] | undefined) ?? []) {
        const l = line as Record<string, unknown>;
        const match = next.find((x) => x.SourceTransactionLineId === l.SourceTransactionLineId);
        if (match) {
          checkAttrs("SalesOrderLine", LINE_FIELDS, LINE_READONLY, l, []);
          Object.assign(match, l);
          match.ExtendedAmount = round2((match.OrderedQuantity as number) * (match.UnitSellingPrice as number));
        } else next.push(buildLine(l, next.length));
      }
      Object.assign(r, header, { lines: next, LastUpdateDate: now(), LastUpdatedBy: username });
      if (header.SubmittedFlag === true) submit(r);
    };

    const find = (key: string): StoredRecord | undefined => {
      if (/^\d+$/.test(key)) return k.store.get(RESOURCE, key);
      return k.store.all(RESOURCE).find((r) => orderKey(r) === key);
    };
    const mustFind = (key: string): StoredRecord => {
      const r = find(key);
      if (!r) throw fail(404, `The requested resource ${RESOURCE}/${key} doesn't exist.`); // THIN
      return r;
    };

    // ---- presenting -------------------------------------------------------------------------------------------

    interface View {
      fields?: string[];
      expandLines: boolean;
      onlyData: boolean;
    }
    const viewOf = (req: SandboxRequest): View => {
      const fields = req.query.get("fields")?.split(",").map((f) => f.trim()).filter(Boolean);
      for (const f of fields ?? []) if (!HEADER_FIELDS[f]) throw fail(400, `URL request parameter fields with value ${f} isn't valid.`); // THIN
      const expand = req.query.get("expand");
      if (expand && !["lines", "all"].includes(expand) && !expand.split(",").every((e) => e === "lines" || PASSTHROUGH_CHILDREN.includes(e))) throw fail(400, `URL request parameter expand with value ${expand} isn't valid.`); // THIN
      return { fields, expandLines: expand === "all" || (expand ?? "").split(",").includes("lines"), onlyData: req.query.get("onlyData") === "true" };
    };

    const itemUrl = (req: SandboxRequest, r: StoredRecord) => `${base(req)}/${RESOURCE}/${encodeURIComponent(orderKey(r))}`;
    const presentLine = (req: SandboxRequest, r: StoredRecord, l: StoredRecord, v: View) => {
      const out: Record<string, unknown> = {};
      for (const f of Object.keys(LINE_FIELDS)) out[f] = l[f] ?? null;
      if (!v.onlyData) out.links = [{ rel: "self", href: `${itemUrl(req, r)}/child/lines/${l.FulfillLineId}`, name: "lines", kind: "item" }];
      return out;
    };
    const present = (req: SandboxRequest, r: StoredRecord, v: View): Record<string, unknown> => {
      const out: Record<string, unknown> = {};
      for (const f of v.fields ?? Object.keys(HEADER_FIELDS)) out[f] = r[f] ?? null;
      if (v.expandLines) out.lines = (r.lines as StoredRecord[]).map((l) => presentLine(req, r, l, v));
      if (!v.onlyData)
        out.links = [
          { rel: "self", href: itemUrl(req, r), name: RESOURCE, kind: "item", properties: { changeIndicator: Buffer.from(String(r.LastUpdateDate)).toString("hex") } },
          { rel: "canonical", href: itemUrl(req, r), name: RESOURCE, kind: "item" },
          { rel: "child", href: `${itemUrl(req, r)}/child/lines`, name: "lines", kind: "collection" },
        ];
      return out;
    };
    const ITEM = { "content-type": "application/vnd.oracle.adf.resourceitem+json" };
    const COLLECTION = { "content-type": "application/vnd.oracle.adf.resourcecollection+json" };

    /** ADF's `q`: `Attr=value`, `Attr>value`, `Attr LIKE 'x%'`, joined with `;` or ` and `. */
    const matcher = (q: string | null): ((r: StoredRecord) => boolean) => {
      if (!q) return () => true;
      const conditions = q.split(/;| and /i).map((c) => c.trim()).filter(Boolean).map((c) => {
        const m = /^(\w+)\s*(<=|>=|!=|=|<|>|\s+LIKE\s+)\s*(.+)$/i.exec(c);
        if (!m || !HEADER_FIELDS[m[1]!]) throw fail(400, `URL request parameter q with value ${q} isn't valid.`); // THIN
        const raw = m[3]!.trim();
        const value: unknown = /^'.*'$/.test(raw) ? raw.slice(1, -1).replace(/''/g, "'") : /^-?\d+(\.\d+)?$/.test(raw) ? Number(raw) : raw === "true" || raw === "false" ? raw === "true" : raw;
        return { field: m[1]!, op: m[2]!.trim().toUpperCase(), value };
      });
      return (r) =>
        conditions.every(({ field, op, value }) => {
          const v = r[field];
          if (op === "LIKE") return new RegExp(`^${String(value).replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/%/g, ".*").replace(/\*/g, ".*")}$`, "i").test(String(v ?? ""));
          const c = typeof v === "number" && typeof value === "number" ? v - value : String(v ?? "").localeCompare(String(value));
          return op === "=" ? c === 0 : op === "!=" ? c !== 0 : op === ">" ? c > 0 : op === ">=" ? c >= 0 : op === "<" ? c < 0 : c <= 0;
        });
    };

    const page = <T>(req: SandboxRequest, rows: T[], present1: (x: T) => unknown, self: string): Reply => {
      const limitText = req.query.get("limit");
      const offsetText = req.query.get("offset");
      if ((limitText && !/^\d+$/.test(limitText)) || (offsetText && !/^\d+$/.test(offsetText))) throw fail(400, "URL request parameters limit and offset must be non-negative integers."); // THIN
      const limit = Math.min(limitText ? Number(limitText) : k.limits.defaultLimit!, k.limits.maxLimit!);
      const offset = offsetText ? Number(offsetText) : 0;
      const items = rows.slice(offset, offset + limit);
      const body: Record<string, unknown> = { items: items.map(present1), count: items.length, hasMore: offset + items.length < rows.length, limit, offset };
      if (req.query.get("totalResults") === "true") body.totalResults = rows.length;
      body.links = [{ rel: "self", href: self, name: RESOURCE, kind: "collection" }];
      return { status: 200, headers: COLLECTION, body };
    };

    // ---- handlers ---------------------------------------------------------------------------------------------

    const checkVersion = (req: SandboxRequest) => {
      if (req.params.version !== VERSION && req.params.version !== "latest") throw fail(404, `The resource version ${req.params.version} doesn't exist.`); // THIN
      const v = req.header("rest-framework-version");
      if (v !== undefined && !/^[1-4]$/.test(v)) throw fail(400, `The REST-Framework-Version ${v} isn't supported.`); // THIN
    };
    const bodyObject = (req: SandboxRequest): Record<string, unknown> => {
      const body = req.json();
      if (!body || typeof body !== "object" || Array.isArray(body)) throw fail(400, "The request body must be a JSON object."); // THIN
      return body as Record<string, unknown>;
    };
    const upsertMode = (req: SandboxRequest) => (req.header("upsert-mode") ?? "").toLowerCase() === "true";

    const list = (req: SandboxRequest): Reply => {
      checkVersion(req);
      const v = viewOf(req);
      let rows = k.store.all(RESOURCE).filter(matcher(req.query.get("q")));
      const orderBy = req.query.get("orderBy");
      if (orderBy) {
        const keys = orderBy.split(",").map((p) => {
          const [field, dir] = p.split(":");
          if (!HEADER_FIELDS[field!]) throw fail(400, `URL request parameter orderBy with value ${orderBy} isn't valid.`); // THIN
          return { field: field!, desc: dir === "desc" };
        });
        rows = rows.sort((a, b) => {
          for (const key of keys) {
            const x = a[key.field];
            const y = b[key.field];
            const c = typeof x === "number" && typeof y === "number" ? x - y : String(x ?? "").localeCompare(String(y ?? ""));
            if (c) return key.desc ? -c : c;
          }
          return 0;
        });
      }
      return page(req, rows, (r) => present(req, r, v), `${base(req)}/${RESOURCE}`);
    };

    const create1 = (req: SandboxRequest): Reply => {
      checkVersion(req);
      const body = bodyObject(req);
      const v = { ...viewOf(req), expandLines: true };
      const existing = body.SourceTransactionSystem && body.SourceTransactionId ? find(`${body.SourceTransactionSystem}:${body.SourceTransactionId}`) : undefined;
      if (existing) {
        if (!upsertMode(req)) throw fail(400, `The order with source transaction ${orderKey(existing)} already exists. Use Upsert-Mode to update it.`, "DOO-2684020"); // THIN
        const snapshot = k.store.snapshot();
        try {
          update(existing, body);
        } catch (e) {
          k.store.restore(snapshot);
          throw e;
        }
        // [~] ADF answers an upsert that updated with 200.
        return { status: 200, headers: { ...ITEM, location: itemUrl(req, existing) }, body: present(req, existing, v) };
      }
      const r = create(body);
      return { status: 201, headers: { ...ITEM, location: itemUrl(req, r) }, body: present(req, r, v) };
    };

    const getOne = (req: SandboxRequest): Reply => {
      checkVersion(req);
      return { status: 200, headers: ITEM, body: present(req, mustFind(req.params.key!), viewOf(req)) };
    };

    const patch = (req: SandboxRequest): Reply => {
      checkVersion(req);
      const r = mustFind(req.params.key!);
      const body = bodyObject(req);
      const snapshot = k.store.snapshot();
      try {
        update(r, body);
      } catch (e) {
        k.store.restore(snapshot);
        throw e;
      }
      return { status: 200, headers: ITEM, body: present(req, r, { ...viewOf(req), expandLines: true }) };
    };

    const remove = (req: SandboxRequest): Reply => {
      checkVersion(req);
      const r = mustFind(req.params.key!);
      if (r.StatusCode !== "DOO_DRAFT") throw fail(400, `You can't delete order ${r.OrderNumber} because it isn't in Draft status.`, "DOO-2684030"); // THIN
      k.store.delete(RESOURCE, String(r.HeaderId));
      return { status: 204 };
    };

    const lines = (req: SandboxRequest): Reply => {
      checkVersion(req);
      const r = mustFind(req.params.key!);
      const v = viewOf(req);
      return page(req, r.lines as StoredRecord[], (l) => presentLine(req, r, l, v), `${itemUrl(req, r)}/child/lines`);
    };

    const line = (req: SandboxRequest): Reply => {
      checkVersion(req);
      const r = mustFind(req.params.key!);
      const l = (r.lines as StoredRecord[]).find((x) => String(x.FulfillLineId) === req.params.line);
      if (!l) throw fail(404, `The requested resource lines/${req.params.line} doesn't exist.`); // THIN
      return { status: 200, headers: ITEM, body: presentLine(req, r, l, viewOf(req)) };
    };

    const action = (req: SandboxRequest): Reply => {
      checkVersion(req);
      const r = mustFind(req.params.key!);
      if (!/application\/vnd\.oracle\.adf\.action\+json/i.test(req.header("content-type") ?? "")) throw fail(415, "Actions need the content type application/vnd.oracle.adf.action+json."); // [~]
      const body = req.raw.length ? bodyObject(req) : {};
      const name = req.params.action!;
      if (name === "applyHold") {
        if (!body.HoldCode) throw fail(400, "The action applyHold needs a HoldCode.", "DOO-2684040"); // THIN
        r.OnHold = true;
      } else if (name === "releaseHold") {
        if (!r.OnHold) throw fail(400, `Order ${orderKey(r)} has no hold to release.`, "DOO-2684041"); // THIN
        r.OnHold = false;
      } else if (name === "submitDraftOrder") {
        if (r.StatusCode !== "DOO_DRAFT") throw fail(400, `Order ${r.OrderNumber} was already submitted.`, "DOO-2684042"); // THIN
        submit(r);
      } else throw fail(404, `The action ${name} doesn't exist on ${RESOURCE}.`); // THIN
      r.LastUpdateDate = now();
      return { status: 200, headers: { "content-type": "application/vnd.oracle.adf.actionresult+json" }, body: { result: "SUCCESS" } }; // [~]
    };

    /** The ADF batch: all parts succeed or none is kept; a failure echoes only the failing parts. */
    const batch = async (req: SandboxRequest): Promise<Reply> => {
      checkVersion(req);
      if (!/application\/vnd\.oracle\.adf\.batch\+json/i.test(req.header("content-type") ?? "")) throw fail(415, "A batch request needs the content type application/vnd.oracle.adf.batch+json."); // [~]
      const body = bodyObject(req) as { parts?: unknown };
      if (!Array.isArray(body.parts)) throw fail(400, "A batch request needs a parts array."); // THIN
      const methods: Record<string, string> = { create: "POST", upsert: "POST", update: "PATCH", delete: "DELETE", get: "GET" };
      const snapshot = k.store.snapshot();
      const results: Record<string, unknown>[] = [];
      const failed: Record<string, unknown>[] = [];
      for (const part of body.parts as Record<string, unknown>[]) {
        const method = methods[String(part?.operation)];
        if (!part || typeof part.id !== "string" || typeof part.path !== "string" || !method) throw fail(400, "Each batch part needs an id, a path and an operation (create, upsert, update, delete or get)."); // THIN
        const headers: Record<string, string> = { host: req.header("host") ?? "", "content-type": "application/json", "rest-framework-version": String(frameworkVersion(req)) };
        if (req.header("authorization")) headers.authorization = req.header("authorization")!;
        if (part.operation === "upsert") headers["upsert-mode"] = "true";
        const inner = makeRequest(method, `${ROOT}/${req.params.version}${part.path.startsWith("/") ? "" : "/"}${part.path}`, headers, Buffer.from(part.payload === undefined ? "" : JSON.stringify(part.payload)), (r) => adfError(r, 400, "The request body isn't valid JSON."));
        const reply = await k.dispatch(inner);
        current = req;
        const entry = { id: part.id, path: part.path, operation: part.operation, payload: reply.body ?? null };
        if (reply.status >= 400) failed.push({ ...entry, status: reply.status });
        else results.push(entry);
      }
      if (failed.length) {
        k.store.restore(snapshot);
        return { status: 400, headers: { "content-type": "application/vnd.oracle.adf.batch+json" }, body: { parts: failed } }; // [~] status of a failed batch
      }
      return { status: 200, headers: { "content-type": "application/vnd.oracle.adf.batch+json" }, body: { parts: results } };
    };

    const token = (req: SandboxRequest): Reply => {
      const client = basicAuth(req);
      const form = req.form();
      // [~] IDCS / OCI IAM answers OAuth errors in RFC 6749's shape.
      if (form.get("grant_type") !== "client_credentials") return { status: 400, body: { error: "unsupported_grant_type", error_description: "Grant type not supported." } };
      if (!client || client.user !== clientId || client.password !== clientSecret) return { status: 401, body: { error: "invalid_client", error_description: "Client authentication failed." } };
      if (!form.get("scope")) return { status: 400, body: { error: "invalid_scope", error_description: "The scope is missing." } };
      const t = k.tokens.issue(clientId, k.limits.tokenLifetimeSeconds!, {}, randomBytes(32).toString("base64url"));
      return { status: 200, body: { access_token: t.token, token_type: "Bearer", expires_in: k.limits.tokenLifetimeSeconds } };
    };

    const V = `^${ROOT}/(?<version>[^/]+)`;
    const K = `${V}/${RESOURCE}/(?<key>[^/]+)`;
    const withRequest = (h: (req: SandboxRequest) => Reply | Promise<Reply>) => (req: SandboxRequest) => {
      current = req;
      return h(req);
    };
    const routes: Route[] = [
      { method: "POST", path: "/oauth2/v1/token", handler: token, public: true },
      { method: "POST", path: new RegExp(`${V}/?$`), handler: withRequest(batch) },
      { method: "GET", path: new RegExp(`${V}/${RESOURCE}$`), handler: withRequest(list) },
      { method: "POST", path: new RegExp(`${V}/${RESOURCE}$`), handler: withRequest(create1) },
      { method: "GET", path: new RegExp(`${K}/child/lines$`), handler: withRequest(lines) },
      { method: "GET", path: new RegExp(`${K}/child/lines/(?<line>\\d+)$`), handler: withRequest(line) },
      { method: "POST", path: new RegExp(`${K}/action/(?<action>\\w+)$`), handler: withRequest(action) },
      { method: "GET", path: new RegExp(`${K}$`), handler: withRequest(getOne) },
      { method: "PATCH", path: new RegExp(`${K}$`), handler: withRequest(patch) },
      { method: "DELETE", path: new RegExp(`${K}$`), handler: withRequest(remove) },
    ];

    const seed = (): void => {
      const order = (id: string, po: string, submitted: boolean, lines: [string, number][]) =>
        create({ SourceTransactionNumber: id, SourceTransactionSystem: "KEELSON", SourceTransactionId: id, BusinessUnitName: "Vision Operations", BuyingPartyNumber: "C-1001", CustomerPONumber: po, TransactionalCurrencyCode: "EUR", SubmittedFlag: submitted, lines: lines.map(([product, qty], i) => ({ SourceTransactionLineId: String(i + 1), ProductNumber: product, OrderedQuantity: qty })), billToCustomer: [{ PartyName: "Globex GmbH", AccountNumber: "C-1001" }] }, true);
      order("SO-EXT-1", "PO-77", true, [["GAD-2", 4], ["WID-1", 10]]);
      order("SO-EXT-2", "PO-78", false, [["SUP-12", 1]]);
    };

    return {
      vendor: "oracle-fusion",
      routes,
      before(req) {
        current = req;
        const basic = basicAuth(req);
        const t = basic ? undefined : k.tokens.check(bearer(req));
        const ok = basic ? basic.user === username && basic.password === password : Boolean(t && t !== "expired");
        // [~] Fusion's 401 carries no body, only the challenge.
        if (!ok) return { status: 401, headers: { "www-authenticate": 'Basic realm="owsm"' } };
        const cap = k.limits.requestsPerMinute!;
        if (cap) {
          if (minute.count() >= cap) return throttleReply(req);
          minute.add();
        }
        return undefined;
      },
      serverError: (status, req) => adfError(req, status, status === 503 ? "The service is temporarily unavailable." : "An unexpected error occurred on the server."), // THIN
      throttled: throttleReply,
      malformedBody: (req) => adfError(req, 400, "The request body isn't valid JSON."), // THIN
      notFound: (req) => adfError(req, 404, `The requested URL ${req.path} doesn't exist.`), // THIN
      seedRecord(type, input) {
        if (type !== RESOURCE) throw new Error(`seed ${RESOURCE} (a create body as the REST API takes it)`);
        current = undefined;
        try {
          return create(input, true);
        } catch (e) {
          if (e instanceof Halt) throw new Error(typeof e.reply.body === "string" ? e.reply.body : JSON.stringify(e.reply.body));
          throw e;
        }
      },
      reset() {
        minute.clear();
        Object.assign(counters, { header: 0, line: 0, order: 0 });
        current = undefined;
        if (options.seed ?? true) seed();
      },
    };
  });
}
