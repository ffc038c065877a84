// Oracle Fusion Cloud sandbox, written from erp-crm-wire.md §8 and Oracle's Receivables and Trading Community REST
// documentation (not from Keelson's adapter). One host serves:
// - Order Management's Order Hub (salesOrdersForOrderHub): create with SubmittedFlag, `Upsert-Mode: true`, OrderKey
//   `{SourceTransactionSystem}:{SourceTransactionId}` or HeaderId, GET / PATCH / DELETE by key, the lines child,
//   applyHold / releaseHold actions, and the all-or-none ADF batch (`application/vnd.oracle.adf.batch+json`);
// - Receivables invoices (receivablesInvoices, read-only here, seeded through the control plane) with their
//   receivablesInvoiceLines and receivablesInvoiceInstallments children;
// - Receivables standard receipts (standardReceipts): create, get, list, and the applyReceipt action that applies
//   a receipt to an invoice installment;
// - Trading Community organizations (hubOrganizations, crmRestApi) with source system references: the parties
//   Order Hub's buying party names.
// Shared: HTTP Basic and an OAuth client-credentials bearer (IDCS-style token endpoint on the same host),
// REST-Framework-Version, ADF collection paging `{items,count,hasMore,limit,offset,links}` with `q` (`;`-joined
// conditions, or the row-match form with and / or / parentheses), `expand`, `fields`, `onlyData`, `orderBy`,
// `totalResults`. The error body and rate limits are THIN (see below), and so are the Receivables and Trading
// Community rules the docs leave unsaid (marked THIN where they are modelled).
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
const INVOICES = "receivablesInvoices";
const RECEIPTS = "standardReceipts";
const ORGANIZATIONS = "hubOrganizations";

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
    const counters = { header: 0, line: 0, order: 0, party: 0, invoice: 0, invoiceLine: 0, installment: 0, receipt: 0, application: 0 };
    /** Customer (billing) accounts and the party each belongs to; REST creates none (THIN: SOAP CustomerAccountService does). */
    const SEEDED_ACCOUNTS = { "1001": { party: "C-1001", name: "Globex GmbH" }, "1002": { party: "C-1002", name: "Umbrella Corp" } };
    const accounts: Record<string, { party: string; name: string }> = { ...SEEDED_ACCOUNTS };
    /** Trading Community source systems registered for parties (THIN: a tenant defines its own). */
    const sourceSystems = new Set(["KEELSON", "SFDC", "HUBSPOT", "DYNAMICS"]);
    const receiptMethods = new Set(["Manual", "Check", "Wire"]);
    const remittanceBankAccounts = new Set(["10271-17621-619", "DE89-3704-0044-0532"]);
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
        // Any organization party can buy: the seeded ones and those created through hubOrganizations.
        const party = k.store.all(ORGANIZATIONS).find((o) => (h.BuyingPartyNumber !== undefined ? o.PartyNumber === h.BuyingPartyNumber : h.BuyingPartyId !== undefined ? o.PartyId === h.BuyingPartyId : o.OrganizationName === h.BuyingPartyName));
        if (!party) throw fail(400, `The value of the attribute BuyingPartyNumber isn't valid: ${h.BuyingPartyNumber ?? h.BuyingPartyId ?? h.BuyingPartyName}.`, "DOO-2684012"); // THIN
        Object.assign(h, { BuyingPartyNumber: party.PartyNumber, BuyingPartyId: party.PartyId, BuyingPartyName: party.OrganizationName });
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

    /**
     * ADF's `q`: conditions `Attr op value` (=, !=, <>, <, <=, >, >=, LIKE) joined with `;` (all must hold), or the
     * row-match form (framework version 2 and later) with `and`, `or` and parentheses. Dates and date-times compare
     * as instants.
     */
    const rowMatcher = (q: string | null, fields: Record<string, Kind>): ((r: StoredRecord) => boolean) => {
      if (!q) return () => true;
      const bad = () => fail(400, `URL request parameter q with value ${q} isn't valid.`); // THIN
      const tokens = q.match(/'(?:[^']|'')*'|\(|\)|;|<>|!=|<=|>=|=|<|>|[^\s()';=<>!]+/g) ?? [];
      let at = 0;
      const peek = () => tokens[at];
      const literalOf = (raw: string): unknown => (/^'.*'$/s.test(raw) ? raw.slice(1, -1).replace(/''/g, "'") : /^-?\d+(\.\d+)?$/.test(raw) ? Number(raw) : raw === "true" || raw === "false" ? raw === "true" : raw);
      type Test = (r: StoredRecord) => boolean;
      const condition = (): Test => {
        const field = tokens[at++];
        if (!field || !fields[field]) throw bad();
        let op = tokens[at++]?.toUpperCase();
        if (op === "<>") op = "!=";
        if (!op || !["=", "!=", "<", "<=", ">", ">=", "LIKE"].includes(op)) throw bad();
        const raw = tokens[at++];
        if (raw === undefined || raw === "(" || raw === ")" || raw === ";") throw bad();
        const value = literalOf(raw);
        const kind = fields[field]!;
        return (r) => {
          const v = r[field];
          if (op === "LIKE") return new RegExp(`^${String(value).replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/%/g, ".*").replace(/\*/g, ".*")}$`, "i").test(String(v ?? ""));
          if (v === null || v === undefined) return op === "!=" ? value !== null : false;
          const c =
            (kind === "date" || kind === "datetime") && typeof v === "string" && typeof value === "string" ? Date.parse(v) - Date.parse(value)
            : typeof v === "number" && typeof value === "number" ? v - value
            : String(v).localeCompare(String(value));
          if (Number.isNaN(c)) throw bad();
          return op === "=" ? c === 0 : op === "!=" ? c !== 0 : op === ">" ? c > 0 : op === ">=" ? c >= 0 : op === "<" ? c < 0 : c <= 0;
        };
      };
      const factor = (): Test => {
        if (peek() !== "(") return condition();
        at++;
        const inner = expression();
        if (tokens[at++] !== ")") throw bad();
        return inner;
      };
      const term = (): Test => {
        const parts = [factor()];
        while (peek() === ";" || peek()?.toLowerCase() === "and") {
          at++;
          parts.push(factor());
        }
        return (r) => parts.every((t) => t(r));
      };
      const expression = (): Test => {
        const parts = [term()];
        while (peek()?.toLowerCase() === "or") {
          at++;
          parts.push(term());
        }
        return (r) => parts.some((t) => t(r));
      };
      const test = expression();
      if (at !== tokens.length) throw bad();
      return test;
    };
    const matcher = (q: string | null) => rowMatcher(q, HEADER_FIELDS);

    /** ADF's `orderBy`: `Attr[:asc|:desc]`, comma-separated. */
    const sortRows = (rows: StoredRecord[], orderBy: string | null, fields: Record<string, Kind>): StoredRecord[] => {
      if (!orderBy) return rows;
      const keys = orderBy.split(",").map((p) => {
        const [field, dir] = p.split(":");
        if (!fields[field!] || (dir !== undefined && dir !== "asc" && dir !== "desc")) throw fail(400, `URL request parameter orderBy with value ${orderBy} isn't valid.`); // THIN
        return { field: field!, desc: dir === "desc", kind: fields[field!]! };
      });
      return [...rows].sort((a, b) => {
        for (const key of keys) {
          const x = a[key.field];
          const y = b[key.field];
          const c = (key.kind === "date" || key.kind === "datetime") && typeof x === "string" && typeof y === "string" ? Date.parse(x) - Date.parse(y) : typeof x === "number" && typeof y === "number" ? x - y : String(x ?? "").localeCompare(String(y ?? ""));
          if (c) return key.desc ? -c : c;
        }
        return 0;
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
      body.links = [{ rel: "self", href: self, name: self.slice(self.lastIndexOf("/") + 1), kind: "collection" }];
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
      rows = sortRows(rows, req.query.get("orderBy"), HEADER_FIELDS);
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

    // ---- Receivables and Trading Community ------------------------------------------------------------------------

    const INVOICE_FIELDS: Record<string, Kind> = {
      CustomerTransactionId: "number",
      TransactionNumber: "string",
      TransactionDate: "date",
      TransactionType: "string",
      TransactionSource: "string",
      BusinessUnit: "string",
      BillToCustomerNumber: "string",
      BillToCustomerName: "string",
      BillToSite: "string",
      InvoiceCurrencyCode: "string",
      InvoiceStatus: "string",
      PaymentTerms: "string",
      DueDate: "date",
      PurchaseOrder: "string",
      CrossReference: "string",
      EnteredAmount: "number",
      InvoiceBalanceAmount: "number",
      Comments: "string",
      CreationDate: "datetime",
      LastUpdateDate: "datetime",
      CreatedBy: "string",
      LastUpdatedBy: "string",
    };
    const INVOICE_LINE_FIELDS: Record<string, Kind> = { CustomerTransactionLineId: "number", LineNumber: "number", ItemNumber: "string", MemoLine: "string", Description: "string", Quantity: "number", UnitOfMeasure: "string", UnitSellingPrice: "number", LineAmount: "number", SalesOrder: "string", SalesOrderLine: "string" };
    const INSTALLMENT_FIELDS: Record<string, Kind> = { InstallmentId: "number", InstallmentSequenceNumber: "number", InstallmentDueDate: "date", OriginalAmount: "number", InstallmentBalanceDue: "number", AmountPaid: "number", InstallmentStatus: "string" };
    /** Receipt amounts are decimal strings, as in Oracle's examples ("Amount": "451.23"). */
    const RECEIPT_FIELDS: Record<string, Kind> = {
      StandardReceiptId: "number",
      ReceiptNumber: "string",
      BusinessUnit: "string",
      ReceiptMethod: "string",
      ReceiptDate: "date",
      DocumentNumber: "string",
      Amount: "string",
      Currency: "string",
      State: "string",
      Status: "string",
      RemittanceBankAccountNumber: "string",
      RemittanceBankDepositDate: "date",
      CustomerName: "string",
      CustomerSite: "string",
      CustomerAccountNumber: "string",
      UnappliedAmount: "string",
      AccountingDate: "date",
      MaturityDate: "date",
      Comments: "string",
      CreationDate: "datetime",
      LastUpdateDate: "datetime",
    };
    const RECEIPT_WRITABLE = new Set(["ReceiptNumber", "BusinessUnit", "ReceiptMethod", "ReceiptDate", "DocumentNumber", "Amount", "Currency", "RemittanceBankAccountNumber", "RemittanceBankDepositDate", "CustomerName", "CustomerSite", "CustomerAccountNumber", "AccountingDate", "MaturityDate", "Comments"]);
    /** SourceSystem and SourceSystemReferenceValue are answered null and serve as query attributes over the references. */
    const ORGANIZATION_FIELDS: Record<string, Kind> = {
      PartyId: "number",
      PartyNumber: "string",
      SourceSystem: "string",
      SourceSystemReferenceValue: "string",
      OrganizationName: "string",
      PartyUsageCode: "string",
      Status: "string",
      EmailAddress: "string",
      RawPhoneNumber: "string",
      URL: "string",
      CurrencyCode: "string",
      CreatedByModule: "string",
      CreationDate: "datetime",
      LastUpdateDate: "datetime",
    };
    const ORGANIZATION_WRITABLE = new Set(["PartyNumber", "OrganizationName", "PartyUsageCode", "EmailAddress", "RawPhoneNumber", "URL", "CurrencyCode", "CreatedByModule", "SourceSystem", "SourceSystemReferenceValue"]);
    const ORGANIZATION_CHILDREN = ["SourceSystemReference", "Address"];

    const today = () => new Date().toISOString().slice(0, 10);
    const money = (x: number) => round2(x).toFixed(2);
    const isDay = (v: unknown) => typeof v === "string" && /^\d{4}-\d{2}-\d{2}$/.test(v) && !Number.isNaN(Date.parse(v));

    /** A resource's attributes as ADF answers them: every attribute (null when unset), or those `fields` names. */
    const pick = (req: SandboxRequest | undefined, fields: Record<string, Kind>, r: StoredRecord): Record<string, unknown> => {
      // `fields` names the resource's own attributes (req given); a child's rows are answered whole (no req).
      const wanted = req?.query.get("fields")?.split(",").map((f) => f.trim()).filter(Boolean);
      for (const f of wanted ?? []) if (!fields[f]) throw fail(400, `URL request parameter fields with value ${f} isn't valid.`); // THIN
      const out: Record<string, unknown> = {};
      for (const f of wanted ?? Object.keys(fields)) out[f] = r[f] ?? null;
      return out;
    };
    const expanded = (req: SandboxRequest, allowed: string[]): Set<string> => {
      const expand = req.query.get("expand");
      if (!expand) return new Set();
      if (expand === "all") return new Set(allowed);
      const names = expand.split(",").map((e) => e.trim());
      for (const n of names) if (!allowed.includes(n)) throw fail(400, `URL request parameter expand with value ${expand} isn't valid.`); // THIN
      return new Set(names);
    };
    const withLinks = (req: SandboxRequest, out: Record<string, unknown>, href: string, name: string, childNames: string[]) => {
      if (req.query.get("onlyData") === "true") return out;
      out.links = [{ rel: "self", href, name, kind: "item" }, { rel: "canonical", href, name, kind: "item" }, ...childNames.map((c) => ({ rel: "child", href: `${href}/child/${c}`, name: c, kind: "collection" }))];
      return out;
    };

    // -- receivablesInvoices

    const INVOICE_CHILDREN = ["receivablesInvoiceLines", "receivablesInvoiceInstallments"];
    const invoiceUrl = (req: SandboxRequest, r: StoredRecord) => `${base(req)}/${INVOICES}/${r.CustomerTransactionId}`;
    const presentInvoice = (req: SandboxRequest, r: StoredRecord): Record<string, unknown> => {
      const out = pick(req, INVOICE_FIELDS, r);
      const children = expanded(req, INVOICE_CHILDREN);
      if (children.has("receivablesInvoiceLines")) out.receivablesInvoiceLines = (r.lines as StoredRecord[]).map((l) => pick(undefined, INVOICE_LINE_FIELDS, l));
      if (children.has("receivablesInvoiceInstallments")) out.receivablesInvoiceInstallments = (r.installments as StoredRecord[]).map((i) => pick(undefined, INSTALLMENT_FIELDS, i));
      return withLinks(req, out, invoiceUrl(req, r), INVOICES, INVOICE_CHILDREN);
    };
    const mustFindInvoice = (id: string): StoredRecord => {
      const r = /^\d+$/.test(id) ? k.store.get(INVOICES, id) : undefined;
      if (!r) throw fail(404, `The requested resource ${INVOICES}/${id} doesn't exist.`); // THIN
      return r;
    };
    /** Sets the balance, the installment's and the invoice's, after receipts were applied. */
    const settle = (inv: StoredRecord) => {
      const installments = inv.installments as StoredRecord[];
      for (const i of installments) {
        i.AmountPaid = round2((i.OriginalAmount as number) - (i.InstallmentBalanceDue as number));
        i.InstallmentStatus = (i.InstallmentBalanceDue as number) <= 0 ? "Closed" : "Open";
      }
      inv.InvoiceBalanceAmount = round2(installments.reduce((sum, i) => sum + (i.InstallmentBalanceDue as number), 0));
      inv.LastUpdateDate = now();
      inv.LastUpdatedBy = username;
    };

    /**
     * An invoice as the Receivables create body gives it (header attributes and receivablesInvoiceLines); here only
     * through the control plane: Keelson reads invoices, it does not create them. `paid: true` seeds it settled.
     */
    const createInvoice = (input: Record<string, unknown>, seed: boolean): StoredRecord => {
      const { receivablesInvoiceLines = [], paid, ...header } = input;
      for (const name of Object.keys(header)) if (!INVOICE_FIELDS[name] || ["CustomerTransactionId", "EnteredAmount", "InvoiceBalanceAmount", "CreationDate", "CreatedBy", "LastUpdatedBy"].includes(name)) throw fail(400, `An attempt was made to set a value for attribute ${name}, which doesn't exist or is read only in ${INVOICES}.`); // THIN
      const account = accounts[String(header.BillToCustomerNumber)];
      if (!account) throw fail(400, `The value of the attribute BillToCustomerNumber isn't valid: ${String(header.BillToCustomerNumber)}.`); // THIN
      if (!Array.isArray(receivablesInvoiceLines) || receivablesInvoiceLines.length === 0) throw fail(400, "An invoice needs at least one line in receivablesInvoiceLines."); // THIN
      const id = 300000200000 + ++counters.invoice;
      const stamp = now();
      const date = (header.TransactionDate as string | undefined) ?? today();
      const lines = (receivablesInvoiceLines as Record<string, unknown>[]).map((l, n) => {
        const product = typeof l.ItemNumber === "string" ? products[l.ItemNumber] : undefined;
        if (typeof l.ItemNumber === "string" && !product) throw fail(400, `The value of the attribute ItemNumber isn't valid: ${l.ItemNumber}.`); // THIN
        const quantity = Number(l.Quantity ?? 1);
        const price = Number(l.UnitSellingPrice ?? product?.price ?? 0);
        return { CustomerTransactionLineId: 300000210000 + ++counters.invoiceLine, LineNumber: n + 1, ItemNumber: l.ItemNumber ?? null, MemoLine: l.MemoLine ?? null, Description: l.Description ?? product?.description ?? null, Quantity: quantity, UnitOfMeasure: "Ea", UnitSellingPrice: price, LineAmount: round2(quantity * price), SalesOrder: l.SalesOrder ?? null, SalesOrderLine: l.SalesOrderLine ?? null };
      });
      const total = round2(lines.reduce((sum, l) => sum + l.LineAmount, 0));
      const due = (header.DueDate as string | undefined) ?? new Date(Date.parse(date) + 30 * 86_400_000).toISOString().slice(0, 10);
      const r: StoredRecord = {
        CustomerTransactionId: id,
        TransactionNumber: String(10000 + counters.invoice),
        TransactionType: "Invoice",
        TransactionSource: "Manual",
        BusinessUnit: "Vision Operations",
        BillToCustomerName: account.name,
        BillToSite: null,
        InvoiceCurrencyCode: "EUR",
        InvoiceStatus: "Complete",
        PaymentTerms: "30 Net",
        PurchaseOrder: null,
        CrossReference: null,
        Comments: null,
        ...header,
        TransactionDate: date,
        DueDate: due,
        EnteredAmount: total,
        InvoiceBalanceAmount: total,
        CreationDate: stamp,
        LastUpdateDate: (header.LastUpdateDate as string | undefined) ?? stamp,
        CreatedBy: username,
        LastUpdatedBy: username,
        lines,
        installments: [{ InstallmentId: 300000220000 + ++counters.installment, InstallmentSequenceNumber: 1, InstallmentDueDate: due, OriginalAmount: total, InstallmentBalanceDue: paid === true ? 0 : total, AmountPaid: 0, InstallmentStatus: "Open" }],
      };
      if (paid === true) {
        settle(r);
        if (header.LastUpdateDate) r.LastUpdateDate = header.LastUpdateDate;
      }
      return k.store.insert(INVOICES, String(id), r, { seed });
    };

    const listInvoices = (req: SandboxRequest): Reply => {
      checkVersion(req);
      const rows = sortRows(k.store.all(INVOICES).filter(rowMatcher(req.query.get("q"), INVOICE_FIELDS)), req.query.get("orderBy"), INVOICE_FIELDS);
      expanded(req, INVOICE_CHILDREN);
      return page(req, rows, (r) => presentInvoice(req, r), `${base(req)}/${INVOICES}`);
    };
    const getInvoice = (req: SandboxRequest): Reply => {
      checkVersion(req);
      return { status: 200, headers: ITEM, body: presentInvoice(req, mustFindInvoice(req.params.id!)) };
    };
    const invoiceChild = (req: SandboxRequest): Reply => {
      checkVersion(req);
      const r = mustFindInvoice(req.params.id!);
      const child = req.params.child!;
      if (child === "receivablesInvoiceLines") return page(req, r.lines as StoredRecord[], (l) => pick(req, INVOICE_LINE_FIELDS, l), `${invoiceUrl(req, r)}/child/${child}`);
      if (child === "receivablesInvoiceInstallments") return page(req, r.installments as StoredRecord[], (i) => pick(req, INSTALLMENT_FIELDS, i), `${invoiceUrl(req, r)}/child/${child}`);
      throw fail(404, `The requested resource ${INVOICES}/${r.CustomerTransactionId}/child/${child} doesn't exist.`); // THIN
    };

    // -- standardReceipts

    const receiptUrl = (req: SandboxRequest, r: StoredRecord) => `${base(req)}/${RECEIPTS}/${r.StandardReceiptId}`;
    const presentReceipt = (req: SandboxRequest, r: StoredRecord) => withLinks(req, pick(req, RECEIPT_FIELDS, r), receiptUrl(req, r), RECEIPTS, ["remittanceReferences", "standardReceiptDFF"]);
    const mustFindReceipt = (id: string): StoredRecord => {
      const r = /^\d+$/.test(id) ? k.store.get(RECEIPTS, id) : undefined;
      if (!r) throw fail(404, `The requested resource ${RECEIPTS}/${id} doesn't exist.`); // THIN
      return r;
    };
    const amountIn = (v: unknown): number => (typeof v === "number" ? v : typeof v === "string" && /^-?\d+(\.\d+)?$/.test(v.trim()) ? Number(v) : NaN);

    const createReceipt = (req: SandboxRequest): Reply => {
      checkVersion(req);
      const body = bodyObject(req);
      for (const [name, v] of Object.entries(body)) {
        if (!RECEIPT_FIELDS[name] && !["remittanceReferences", "attachments", "standardReceiptDFF", "standardReceiptGdf"].includes(name)) throw fail(400, `An attempt was made to set a value for attribute ${name}, which doesn't exist in StandardReceipt.`, "AR-855001"); // THIN
        if (RECEIPT_FIELDS[name] && !RECEIPT_WRITABLE.has(name)) throw fail(400, `Attribute ${name} in StandardReceipt is read only.`, "AR-855002"); // THIN
        if (RECEIPT_FIELDS[name] === "date" && v !== null && !isDay(v)) throw fail(400, `The value ${JSON.stringify(v)} isn't valid for attribute ${name} in StandardReceipt.`, "AR-855003"); // THIN
      }
      // Documented as required: Amount and BusinessUnit; the receipt number, method and remittance account are
      // needed too unless set up to default (THIN: the sandbox has no such setup).
      for (const required of ["ReceiptNumber", "ReceiptMethod", "BusinessUnit", "Amount", "Currency", "RemittanceBankAccountNumber"]) if (body[required] === undefined || body[required] === null || body[required] === "") throw fail(400, `Attribute ${required} in StandardReceipt is required.`, "AR-855004"); // THIN
      const amount = amountIn(body.Amount);
      if (!(amount > 0)) throw fail(400, `The value ${JSON.stringify(body.Amount)} isn't valid for attribute Amount in StandardReceipt.`, "AR-855003"); // THIN
      if (businessUnits[String(body.BusinessUnit)] === undefined) throw fail(400, `The value of the attribute BusinessUnit isn't valid: ${String(body.BusinessUnit)}.`, "AR-855005"); // THIN
      if (!receiptMethods.has(String(body.ReceiptMethod))) throw fail(400, `The value of the attribute ReceiptMethod isn't valid: ${String(body.ReceiptMethod)}.`, "AR-855006"); // THIN
      if (!remittanceBankAccounts.has(String(body.RemittanceBankAccountNumber))) throw fail(400, `The value of the attribute RemittanceBankAccountNumber isn't valid: ${String(body.RemittanceBankAccountNumber)}.`, "AR-855007"); // THIN
      if (typeof body.Currency !== "string" || !/^[A-Z]{3}$/.test(body.Currency)) throw fail(400, `The value of the attribute Currency isn't valid: ${String(body.Currency)}.`, "AR-855008"); // THIN
      const accountNumber = body.CustomerAccountNumber === undefined || body.CustomerAccountNumber === null ? undefined : String(body.CustomerAccountNumber);
      const account = accountNumber === undefined ? undefined : accounts[accountNumber];
      if (accountNumber !== undefined && !account) throw fail(400, `The value of the attribute CustomerAccountNumber isn't valid: ${accountNumber}.`, "AR-855009"); // THIN
      // [~] Receivables refuses a second receipt with the same number, amount and customer (EBS's duplicate-receipt rule).
      const twin = k.store.all(RECEIPTS).find((r) => r.ReceiptNumber === body.ReceiptNumber && amountIn(r.Amount) === amount && (r.CustomerAccountNumber ?? null) === (accountNumber ?? null));
      if (twin) throw fail(400, `A receipt with the number ${String(body.ReceiptNumber)}, this amount and this customer already exists.`, "AR-855010"); // THIN
      const date = (body.ReceiptDate as string | undefined) ?? today();
      const stamp = now();
      const id = 300100153160000 + ++counters.receipt;
      const r: StoredRecord = {
        StandardReceiptId: id,
        DocumentNumber: null,
        RemittanceBankDepositDate: date,
        CustomerName: account?.name ?? null,
        CustomerSite: null,
        AccountingDate: date,
        MaturityDate: date,
        Comments: null,
        ...body,
        ReceiptDate: date,
        Amount: money(amount),
        // THIN: State reads Unapplied / Partially Applied / Applied here; the docs show Unapplied only.
        State: account ? "Unapplied" : "Unidentified",
        Status: "Confirmed",
        UnappliedAmount: money(amount),
        CreationDate: stamp,
        LastUpdateDate: stamp,
        applications: [],
      };
      for (const child of ["remittanceReferences", "attachments", "standardReceiptDFF", "standardReceiptGdf"]) delete r[child];
      k.store.insert(RECEIPTS, String(id), r);
      return { status: 201, headers: { ...ITEM, location: receiptUrl(req, r) }, body: presentReceipt(req, r) };
    };

    const listReceipts = (req: SandboxRequest): Reply => {
      checkVersion(req);
      const rows = sortRows(k.store.all(RECEIPTS).filter(rowMatcher(req.query.get("q"), RECEIPT_FIELDS)), req.query.get("orderBy"), RECEIPT_FIELDS);
      return page(req, rows, (r) => presentReceipt(req, r), `${base(req)}/${RECEIPTS}`);
    };
    const getReceipt = (req: SandboxRequest): Reply => {
      checkVersion(req);
      return { status: 200, headers: ITEM, body: presentReceipt(req, mustFindReceipt(req.params.id!)) };
    };

    /** applyReceipt: `{amountApplied?, appliedPaymentScheduleId, calledFrom?}`; the whole open balance when no amount. */
    const receiptAction = (req: SandboxRequest): Reply => {
      checkVersion(req);
      const r = mustFindReceipt(req.params.id!);
      if (!/application\/vnd\.oracle\.adf\.action\+json/i.test(req.header("content-type") ?? "")) throw fail(415, "Actions need the content type application/vnd.oracle.adf.action+json."); // [~]
      if (req.params.action !== "applyReceipt") throw fail(404, `The action ${req.params.action} doesn't exist on ${RECEIPTS}.`); // THIN: only applyReceipt is modelled
      const body = bodyObject(req);
      for (const name of Object.keys(body)) if (!["amountApplied", "appliedPaymentScheduleId", "calledFrom"].includes(name)) throw fail(400, `The action applyReceipt has no parameter ${name}.`, "AR-855020"); // THIN
      const scheduleId = body.appliedPaymentScheduleId;
      const inv = typeof scheduleId === "number" ? k.store.all(INVOICES).find((i) => (i.installments as StoredRecord[]).some((s) => s.InstallmentId === scheduleId)) : undefined;
      const installment = inv ? (inv.installments as StoredRecord[]).find((s) => s.InstallmentId === scheduleId)! : undefined;
      if (!inv || !installment) throw fail(400, `The value of the attribute appliedPaymentScheduleId isn't valid: ${JSON.stringify(scheduleId)}.`, "AR-855021"); // THIN
      if (inv.InvoiceStatus !== "Complete") throw fail(400, `You can't apply a receipt to transaction ${inv.TransactionNumber} because it isn't complete.`, "AR-855022"); // THIN
      if (r.CustomerAccountNumber !== inv.BillToCustomerNumber) throw fail(400, `Transaction ${inv.TransactionNumber} doesn't belong to the receipt's customer account ${String(r.CustomerAccountNumber)}.`, "AR-855023"); // THIN
      if (r.Currency !== inv.InvoiceCurrencyCode) throw fail(400, `The receipt currency ${String(r.Currency)} doesn't match the transaction currency ${String(inv.InvoiceCurrencyCode)}.`, "AR-855024"); // THIN: cross-currency applications not modelled
      const balance = installment.InstallmentBalanceDue as number;
      const unapplied = amountIn(r.UnappliedAmount);
      const amount = body.amountApplied === undefined || body.amountApplied === null ? balance : amountIn(body.amountApplied);
      if (!(amount > 0)) throw fail(400, `The value ${JSON.stringify(body.amountApplied)} isn't valid for attribute amountApplied.`, "AR-855025"); // THIN
      if (balance <= 0) throw fail(400, `Installment ${String(scheduleId)} of transaction ${inv.TransactionNumber} is closed.`, "AR-855026"); // THIN
      if (amount > unapplied + 0.0001) throw fail(400, `The value of the attribute amountApplied (${amount}) exceeds the unapplied amount of the receipt (${money(unapplied)}).`, "AR-855027"); // THIN
      if (amount > balance + 0.0001) throw fail(400, `The value of the attribute amountApplied (${amount}) exceeds the balance due of the installment (${money(balance)}).`, "AR-855028"); // THIN
      const applicationId = 300100160000000 + ++counters.application;
      (r.applications as StoredRecord[]).push({ ReceivableApplicationId: applicationId, AppliedPaymentScheduleId: scheduleId, CustomerTransactionId: inv.CustomerTransactionId, TransactionNumber: inv.TransactionNumber, AmountApplied: round2(amount), ApplicationDate: today(), CalledFrom: body.calledFrom ?? null });
      const left = round2(unapplied - amount);
      Object.assign(r, { UnappliedAmount: money(left), State: left <= 0 ? "Applied" : "Partially Applied", LastUpdateDate: now() });
      installment.InstallmentBalanceDue = round2(balance - amount);
      settle(inv);
      // [~] ADF answers an action with its result.
      return { status: 200, headers: { "content-type": "application/vnd.oracle.adf.actionresult+json" }, body: { result: String(applicationId) } };
    };

    // -- hubOrganizations

    const organizationUrl = (req: SandboxRequest, r: StoredRecord) => `${base(req)}/${ORGANIZATIONS}/${encodeURIComponent(String(r.PartyNumber))}`;
    const presentOrganization = (req: SandboxRequest, r: StoredRecord): Record<string, unknown> => {
      // The source system attributes are write-and-query only: the answer carries null (as in Oracle's example).
      const out = pick(req, ORGANIZATION_FIELDS, { ...r, SourceSystem: null, SourceSystemReferenceValue: null });
      const children = expanded(req, ORGANIZATION_CHILDREN);
      if (children.has("SourceSystemReference")) out.SourceSystemReference = (r.references as StoredRecord[]).map((x) => ({ ...x }));
      if (children.has("Address")) out.Address = (r.addresses as StoredRecord[]).map((x) => ({ ...x }));
      return withLinks(req, out, organizationUrl(req, r), ORGANIZATIONS, ORGANIZATION_CHILDREN);
    };
    /** A party matches a `q` on SourceSystem and SourceSystemReferenceValue when one of its references does. */
    const organizationMatcher = (q: string | null): ((r: StoredRecord) => boolean) => {
      const test = rowMatcher(q, ORGANIZATION_FIELDS);
      return (r) => {
        const refs = r.references as StoredRecord[];
        return refs.length === 0 ? test({ ...r, SourceSystem: null, SourceSystemReferenceValue: null }) : refs.some((x) => test({ ...r, SourceSystem: x.SourceSystem, SourceSystemReferenceValue: x.SourceSystemReferenceValue }));
      };
    };
    const createOrganizationRecord = (body: Record<string, unknown>, seed: boolean): StoredRecord => {
      for (const name of Object.keys(body)) if (!ORGANIZATION_WRITABLE.has(name) && !ORGANIZATION_CHILDREN.includes(name)) throw fail(400, `An attempt was made to set a value for attribute ${name}, which doesn't exist or is read only in ${ORGANIZATIONS}.`, "ZCH-2000001"); // THIN
      if (typeof body.OrganizationName !== "string" || !body.OrganizationName.trim()) throw fail(400, "Attribute OrganizationName in Organization is required.", "ZCH-2000002"); // THIN
      if (body.PartyUsageCode !== undefined && !["CUSTOMER", "SALES_PROSPECT", "EXTERNAL_LEGAL_ENTITY", "SUPPLIER"].includes(String(body.PartyUsageCode))) throw fail(400, `The value of the attribute PartyUsageCode isn't valid: ${String(body.PartyUsageCode)}.`, "ZCH-2000003"); // THIN
      for (const child of ORGANIZATION_CHILDREN) if (body[child] !== undefined && !Array.isArray(body[child])) throw fail(400, `The child ${child} must be an array of objects.`); // THIN
      const references = ((body.SourceSystemReference as Record<string, unknown>[] | undefined) ?? []).map((x) => ({ SourceSystem: x?.SourceSystem, SourceSystemReferenceValue: x?.SourceSystemReferenceValue }));
      // The flat SourceSystem / SourceSystemReferenceValue attributes add one reference too.
      if (body.SourceSystem !== undefined || body.SourceSystemReferenceValue !== undefined) references.push({ SourceSystem: body.SourceSystem, SourceSystemReferenceValue: body.SourceSystemReferenceValue });
      for (const x of references) {
        if (typeof x.SourceSystem !== "string" || !sourceSystems.has(x.SourceSystem)) throw fail(400, `The value of the attribute SourceSystem isn't valid: ${String(x.SourceSystem)}.`, "ZCH-2000004"); // THIN
        if (typeof x.SourceSystemReferenceValue !== "string" || !x.SourceSystemReferenceValue) throw fail(400, "Attribute SourceSystemReferenceValue in SourceSystemReference is required.", "ZCH-2000005"); // THIN
        const taken = k.store.all(ORGANIZATIONS).some((o) => (o.references as StoredRecord[]).some((y) => y.SourceSystem === x.SourceSystem && y.SourceSystemReferenceValue === x.SourceSystemReferenceValue));
        // [~] a source system reference points at one party only.
        if (taken) throw fail(400, `The source system reference ${x.SourceSystem}:${x.SourceSystemReferenceValue} already exists.`, "ZCH-2000006"); // THIN
      }
      if (body.PartyNumber !== undefined && k.store.all(ORGANIZATIONS).some((o) => o.PartyNumber === String(body.PartyNumber))) throw fail(400, `The party number ${String(body.PartyNumber)} already exists.`, "ZCH-2000007"); // THIN
      const seq = ++counters.party;
      // THIN: generated numbers take a ZCA_PUID_PREFIX-style prefix (CDRM_ in Oracle's examples).
      const number = body.PartyNumber === undefined ? `CDRM_${300000 + seq}` : String(body.PartyNumber);
      const stamp = now();
      const id = 300000001000 + seq;
      const r: StoredRecord = { PartyId: id, PartyNumber: number, OrganizationName: body.OrganizationName, PartyUsageCode: body.PartyUsageCode ?? "CUSTOMER", Status: "A", EmailAddress: body.EmailAddress ?? null, RawPhoneNumber: body.RawPhoneNumber ?? null, URL: body.URL ?? null, CurrencyCode: body.CurrencyCode ?? null, CreatedByModule: body.CreatedByModule ?? "HZ_WS", CreationDate: stamp, LastUpdateDate: stamp, references, addresses: (body.Address as unknown[] | undefined) ?? [] };
      return k.store.insert(ORGANIZATIONS, String(id), r, { seed });
    };
    const mustFindOrganization = (number: string): StoredRecord => {
      const r = k.store.all(ORGANIZATIONS).find((o) => o.PartyNumber === number);
      if (!r) throw fail(404, `The requested resource ${ORGANIZATIONS}/${number} doesn't exist.`); // THIN
      return r;
    };
    const createOrganization = (req: SandboxRequest): Reply => {
      checkVersion(req);
      const r = createOrganizationRecord(bodyObject(req), false);
      return { status: 201, headers: { ...ITEM, location: organizationUrl(req, r) }, body: presentOrganization(req, r) };
    };
    const listOrganizations = (req: SandboxRequest): Reply => {
      checkVersion(req);
      expanded(req, ORGANIZATION_CHILDREN);
      const rows = sortRows(k.store.all(ORGANIZATIONS).filter(organizationMatcher(req.query.get("q"))), req.query.get("orderBy"), ORGANIZATION_FIELDS);
      return page(req, rows, (r) => presentOrganization(req, r), `${base(req)}/${ORGANIZATIONS}`);
    };
    const getOrganization = (req: SandboxRequest): Reply => {
      checkVersion(req);
      return { status: 200, headers: ITEM, body: presentOrganization(req, mustFindOrganization(req.params.party!)) };
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
    const CRM = `^/crmRestApi/resources/(?<version>[^/]+)`;
    const K = `${V}/${RESOURCE}/(?<key>[^/]+)`;
    const withRequest = (h: (req: SandboxRequest) => Reply | Promise<Reply>) => (req: SandboxRequest) => {
      current = req;
      return h(req);
    };
    const routes: Route[] = [
      { method: "POST", path: "/oauth2/v1/token", handler: token, public: true },
      { method: "POST", path: new RegExp(`${V}/?$`), handler: withRequest(batch) },
      { method: "GET", path: new RegExp(`${V}/${RESOURCE}$`), handler: withRequest(list) },
      { method: "GET", path: new RegExp(`${V}/${INVOICES}$`), handler: withRequest(listInvoices) },
      { method: "GET", path: new RegExp(`${V}/${INVOICES}/(?<id>[^/]+)$`), handler: withRequest(getInvoice) },
      { method: "GET", path: new RegExp(`${V}/${INVOICES}/(?<id>[^/]+)/child/(?<child>\\w+)$`), handler: withRequest(invoiceChild) },
      { method: "GET", path: new RegExp(`${V}/${RECEIPTS}$`), handler: withRequest(listReceipts) },
      { method: "POST", path: new RegExp(`${V}/${RECEIPTS}$`), handler: withRequest(createReceipt) },
      { method: "GET", path: new RegExp(`${V}/${RECEIPTS}/(?<id>[^/]+)$`), handler: withRequest(getReceipt) },
      { method: "POST", path: new RegExp(`${V}/${RECEIPTS}/(?<id>[^/]+)/action/(?<action>\\w+)$`), handler: withRequest(receiptAction) },
      { method: "GET", path: new RegExp(`${CRM}/${ORGANIZATIONS}$`), handler: withRequest(listOrganizations) },
      { method: "POST", path: new RegExp(`${CRM}/${ORGANIZATIONS}$`), handler: withRequest(createOrganization) },
      { method: "GET", path: new RegExp(`${CRM}/${ORGANIZATIONS}/(?<party>[^/]+)$`), handler: withRequest(getOrganization) },
      { method: "POST", path: new RegExp(`${V}/${RESOURCE}$`), handler: withRequest(create1) },
      { method: "GET", path: new RegExp(`${K}/child/lines$`), handler: withRequest(lines) },
      { method: "GET", path: new RegExp(`${K}/child/lines/(?<line>\\d+)$`), handler: withRequest(line) },
      { method: "POST", path: new RegExp(`${K}/action/(?<action>\\w+)$`), handler: withRequest(action) },
      { method: "GET", path: new RegExp(`${K}$`), handler: withRequest(getOne) },
      { method: "PATCH", path: new RegExp(`${K}$`), handler: withRequest(patch) },
      { method: "DELETE", path: new RegExp(`${K}$`), handler: withRequest(remove) },
    ];

    const seed = (): void => {
      createOrganizationRecord({ PartyNumber: "C-1001", OrganizationName: "Globex GmbH", PartyUsageCode: "CUSTOMER", CurrencyCode: "EUR" }, true);
      createOrganizationRecord({ PartyNumber: "C-1002", OrganizationName: "Umbrella Corp", PartyUsageCode: "CUSTOMER", CurrencyCode: "USD" }, true);
      const order = (id: string, po: string, submitted: boolean, lines: [string, number][]) =>
        create({ SourceTransactionNumber: id, SourceTransactionSystem: "KEELSON", SourceTransactionId: id, BusinessUnitName: "Vision Operations", BuyingPartyNumber: "C-1001", CustomerPONumber: po, TransactionalCurrencyCode: "EUR", SubmittedFlag: submitted, lines: lines.map(([product, qty], i) => ({ SourceTransactionLineId: String(i + 1), ProductNumber: product, OrderedQuantity: qty })), billToCustomer: [{ PartyName: "Globex GmbH", AccountNumber: "C-1001" }] }, true);
      order("SO-EXT-1", "PO-77", true, [["GAD-2", 4], ["WID-1", 10]]);
      order("SO-EXT-2", "PO-78", false, [["SUP-12", 1]]);
      createInvoice({ BillToCustomerNumber: "1001", InvoiceCurrencyCode: "EUR", PurchaseOrder: "PO-77", receivablesInvoiceLines: [{ ItemNumber: "GAD-2", Quantity: 4, SalesOrder: "84001" }, { ItemNumber: "WID-1", Quantity: 10, SalesOrder: "84001" }] }, true);
      createInvoice({ BillToCustomerNumber: "1001", InvoiceCurrencyCode: "EUR", receivablesInvoiceLines: [{ ItemNumber: "SUP-12", Quantity: 1 }] }, true);
      createInvoice({ BillToCustomerNumber: "1002", InvoiceCurrencyCode: "USD", paid: true, receivablesInvoiceLines: [{ MemoLine: "Consulting", Description: "Consulting day", Quantity: 2, UnitSellingPrice: 800 }] }, true);
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
        const seeders: Record<string, (body: Record<string, unknown>) => StoredRecord> = {
          [RESOURCE]: (body) => create(body, true),
          [INVOICES]: (body) => createInvoice(body, true),
          [ORGANIZATIONS]: (body) => createOrganizationRecord(body, true),
          // A customer (billing) account of a party, as Fusion's SOAP CustomerAccountService or its UI would make it.
          customerAccounts: (body) => {
            const party = k.store.all(ORGANIZATIONS).find((o) => o.PartyNumber === body.PartyNumber);
            if (!party || typeof body.AccountNumber !== "string" || !body.AccountNumber) throw new Error("a customer account needs an AccountNumber and the PartyNumber of an existing party");
            if (accounts[body.AccountNumber]) throw new Error(`customer account ${body.AccountNumber} exists`);
            accounts[body.AccountNumber] = { party: String(party.PartyNumber), name: String(party.OrganizationName) };
            return { AccountNumber: body.AccountNumber, PartyNumber: party.PartyNumber, AccountName: party.OrganizationName };
          },
        };
        const seeder = seeders[type];
        if (!seeder) throw new Error(`seed one of ${Object.keys(seeders).join(", ")} (a create body as the REST API takes it; invoices also take paid: true)`);
        current = undefined;
        try {
          return seeder(input);
        } catch (e) {
          if (e instanceof Halt) throw new Error(typeof e.reply.body === "string" ? e.reply.body : JSON.stringify(e.reply.body));
          throw e;
        }
      },
      reset() {
        minute.clear();
        for (const name of Object.keys(counters) as (keyof typeof counters)[]) counters[name] = 0;
        for (const number of Object.keys(accounts)) delete accounts[number];
        Object.assign(accounts, SEEDED_ACCOUNTS);
        current = undefined;
        if (options.seed ?? true) seed();
      },
    };
  });
}
