// Acumatica contract-based REST API sandbox, written from erp-crm-wire.md §9 (not from Keelson's adapter).
// Models: cookie login (`POST /entity/auth/login` → 204 + .ASPXAUTH / ASP.NET_SessionId cookies), logout, idle
// session expiry (401), the licence's API session limit, `/entity/Default/{version}/{Entity}` with PUT as an upsert
// on the key fields (or `id`), `{value: …}`-wrapped fields with nested details, GET by key / id and lists with
// $filter / $select / $expand / $top / $skip (a plain JSON array, no next link), DELETE, actions as 202 + status
// polling (ReleaseFromHold, PutOnHold, PrepareInvoice, ReleaseSalesInvoice, ReleasePayment), 422 with per-field
// errors, and version / endpoint mismatches as 404. The error bodies and the licence limits are THIN.
import { randomBytes, randomUUID } from "node:crypto";
import { Halt, SlidingWindow, serve, type Kernel, type Reply, type Route, type RunningSandbox, type SandboxRequest, type StartOptions, type StoredRecord } from "./kernel";
import { evaluateFilter, FilterError, filterFields, parseFilter } from "./odata-filter";

export const ACUMATICA_LIMITS = {
  /** THIN: API sessions the licence allows at once; a further login is refused with 429. */
  maxSessions: 10,
  /** THIN: licence tiers cap API requests per minute; 0 = off (the tier is not known). */
  requestsPerMinute: 0,
  /** THIN: concurrent API requests per licence; 0 = off. */
  concurrentRequests: 0,
  /** [~] idle timeout of an API session. */
  sessionIdleSeconds: 1200,
};

/** Credentials and endpoint the sandbox accepts unless start() is given others. */
export const ACUMATICA_DEFAULTS = { name: "admin", password: "keelson-sandbox-password", tenant: "Keelson", branch: "HQ", endpoint: "Default", version: "24.200.001" };

export interface AcumaticaOptions extends StartOptions {
  name?: string;
  password?: string;
  tenant?: string;
  branch?: string;
  /** Endpoint versions served (others answer 404). */
  versions?: string[];
  seed?: boolean;
}

type Kind = "string" | "number" | "boolean" | "datetime";
interface EntityDef {
  keys: string[];
  fields: Record<string, Kind>;
  readOnly: string[];
  /** Detail collections → their fields. */
  details: Record<string, { fields: Record<string, Kind>; readOnly: string[] }>;
  /** Linked single entities (e.g. MainContact) → their fields. */
  linked: Record<string, Record<string, Kind>>;
}

const LINE: Record<string, Kind> = { LineNbr: "number", InventoryID: "string", LineDescription: "string", OrderQty: "number", Qty: "number", UOM: "string", UnitPrice: "number", DiscountAmount: "number", ExtendedPrice: "number", Amount: "number", WarehouseID: "string" };
const ENTITIES: Record<string, EntityDef> = {
  Customer: {
    keys: ["CustomerID"],
    fields: { CustomerID: "string", CustomerName: "string", CustomerClass: "string", Status: "string", CurrencyID: "string", Terms: "string", Email: "string", CreatedDateTime: "datetime", LastModifiedDateTime: "datetime" },
    readOnly: ["CreatedDateTime", "LastModifiedDateTime"],
    details: {},
    linked: { MainContact: { Email: "string", Phone1: "string", DisplayName: "string" }, BillingAddress: { AddressLine1: "string", City: "string", PostalCode: "string", Country: "string" } },
  },
  StockItem: {
    keys: ["InventoryID"],
    fields: { InventoryID: "string", Description: "string", DefaultPrice: "number", BaseUOM: "string", ItemStatus: "string", LastModifiedDateTime: "datetime" },
    readOnly: ["LastModifiedDateTime"],
    details: {},
    linked: {},
  },
  SalesOrder: {
    keys: ["OrderType", "OrderNbr"],
    fields: { OrderType: "string", OrderNbr: "string", CustomerID: "string", CustomerOrder: "string", Description: "string", Date: "datetime", RequestedOn: "datetime", CurrencyID: "string", Hold: "boolean", Status: "string", OrderedQty: "number", OrderTotal: "number", TaxTotal: "number", LastModifiedDateTime: "datetime" },
    readOnly: ["Status", "OrderedQty", "OrderTotal", "TaxTotal", "LastModifiedDateTime"],
    details: { Details: { fields: LINE, readOnly: ["LineNbr", "ExtendedPrice", "Amount", "Qty"] } },
    linked: {},
  },
  SalesInvoice: {
    keys: ["Type", "ReferenceNbr"],
    fields: { Type: "string", ReferenceNbr: "string", CustomerID: "string", CustomerOrder: "string", Description: "string", Date: "datetime", DueDate: "datetime", CurrencyID: "string", Hold: "boolean", Status: "string", Amount: "number", Balance: "number", LastModifiedDateTime: "datetime" },
    readOnly: ["Status", "Amount", "Balance", "LastModifiedDateTime"],
    details: { Details: { fields: { ...LINE, OrderType: "string", OrderNbr: "string" }, readOnly: ["LineNbr", "ExtendedPrice", "Amount", "OrderQty"] } },
    linked: {},
  },
  Payment: {
    keys: ["Type", "ReferenceNbr"],
    fields: { Type: "string", ReferenceNbr: "string", CustomerID: "string", PaymentAmount: "number", PaymentMethod: "string", PaymentRef: "string", ApplicationDate: "datetime", CurrencyID: "string", Hold: "boolean", Status: "string", UnappliedBalance: "number", LastModifiedDateTime: "datetime" },
    readOnly: ["Status", "UnappliedBalance", "LastModifiedDateTime"],
    details: { DocumentsToApply: { fields: { DocType: "string", ReferenceNbr: "string", AmountPaid: "number", Balance: "number" }, readOnly: ["Balance"] } },
    linked: {},
  },
};

const ACTIONS: Record<string, string[]> = { SalesOrder: ["ReleaseFromHold", "PutOnHold", "PrepareInvoice"], SalesInvoice: ["ReleaseSalesInvoice"], Payment: ["ReleasePayment"] };
const round2 = (x: number) => Math.round(x * 100) / 100;
const nowIso = () => new Date().toISOString().replace("Z", "+00:00");

export async function start(options: AcumaticaOptions = {}): Promise<RunningSandbox> {
  const name = options.name ?? ACUMATICA_DEFAULTS.name;
  const password = options.password ?? ACUMATICA_DEFAULTS.password;
  const tenant = options.tenant ?? ACUMATICA_DEFAULTS.tenant;
  const branch = options.branch ?? ACUMATICA_DEFAULTS.branch;
  const versions = options.versions ?? [ACUMATICA_DEFAULTS.version];

  return serve(ACUMATICA_LIMITS, options, (k: Kernel) => {
    const minute = new SlidingWindow(() => 60_000);
    const numbers = { order: 0, invoice: 0, payment: 0 };
    const finishedActions = new Set<string>();

    // THIN: Acumatica answers exceptions in ASP.NET Web API's HttpError shape.
    const httpError = (status: number, exceptionMessage: string, exceptionType = "PX.Data.PXException"): Reply => ({ status, body: { message: "An error has occurred.", exceptionMessage, exceptionType, stackTrace: `   at PX.Api.ContractBased.EntityService.Invoke()\r\n   at ${exceptionType}` } });
    const fail = (status: number, message: string, type?: string) => new Halt(httpError(status, message, type));
    const invalid = (key: string, message: string) => new Halt({ status: 400, body: { message: "The request is invalid.", modelState: { [key]: [message] } } }); // THIN

    const def = (entity: string): EntityDef => {
      const d = ENTITIES[entity];
      if (!d) throw new Halt({ status: 404, body: { message: `No HTTP resource was found that matches the request URI '${entity}'.` } }); // [~]
      return d;
    };

    // ---- value wrapping ---------------------------------------------------------------------------------------

    const kindOk = (kind: Kind, v: unknown) => v === null || (kind === "number" ? typeof v === "number" : kind === "boolean" ? typeof v === "boolean" : typeof v === "string" && (kind === "string" || !Number.isNaN(Date.parse(v))));

    /** Unwraps `{Field: {value}}` into `{Field: value}`; a flat value is a 400, as the doc notes. */
    const unwrap = (path: string, fields: Record<string, Kind>, readOnly: string[], body: Record<string, unknown>, nested: (name: string, v: unknown) => boolean): Record<string, unknown> => {
      const out: Record<string, unknown> = {};
      for (const [field, wrapped] of Object.entries(body)) {
        if (["id", "rowNumber", "note", "custom", "_links", "files", "delete"].includes(field)) continue;
        if (nested(field, wrapped)) continue;
        const kind = fields[field];
        if (!kind) throw invalid(`${path}.${field}`, `The field ${field} is not found in the ${path} entity.`); // THIN
        if (!wrapped || typeof wrapped !== "object" || Array.isArray(wrapped) || !("value" in wrapped)) throw invalid(`${path}.${field}`, `Error converting value ${JSON.stringify(wrapped)} to type 'PX.Api.ContractBased.Models.${kind === "number" ? "DecimalValue" : kind === "boolean" ? "BooleanValue" : kind === "datetime" ? "DateTimeValue" : "StringValue"}'.`);
        const v = (wrapped as { value: unknown }).value;
        if (!kindOk(kind, v)) throw invalid(`${path}.${field}`, `Error converting value ${JSON.stringify(v)} for ${field}.`); // THIN
        if (readOnly.includes(field)) continue; // read-only fields are ignored, not refused [~]
        out[field] = v;
      }
      return out;
    };
    const wrap = (fields: Record<string, Kind>, r: StoredRecord, select?: string[]): Record<string, unknown> => {
      const out: Record<string, unknown> = {};
      for (const f of select ?? Object.keys(fields)) if (r[f] !== undefined && r[f] !== null) out[f] = { value: r[f] };
      return out;
    };

    interface Parsed {
      values: Record<string, unknown>;
      details: Record<string, { id?: string; delete?: boolean; values: Record<string, unknown> }[]>;
      linked: Record<string, Record<string, unknown>>;
      id?: string;
    }
    const parse = (entity: string, body: unknown): Parsed => {
      const d = def(entity);
      if (!body || typeof body !== "object" || Array.isArray(body)) throw invalid("entity", "The request body must be a JSON object."); // THIN
      const details: Parsed["details"] = {};
      const linked: Parsed["linked"] = {};
      const b = body as Record<string, unknown>;
      const values = unwrap(entity, d.fields, d.readOnly, b, (field, v) => {
        const detail = d.details[field];
        if (detail) {
          if (!Array.isArray(v)) throw invalid(`${entity}.${field}`, `${field} must be an array.`);
          details[field] = v.map((row, i) => {
            const rb = (row ?? {}) as Record<string, unknown>;
            return { id: typeof rb.id === "string" ? rb.id : undefined, delete: rb.delete === true, values: unwrap(`${entity}.${field}[${i}]`, detail.fields, detail.readOnly, rb, () => false) };
          });
          return true;
        }
        const link = d.linked[field];
        if (link) {
          if (!v || typeof v !== "object" || Array.isArray(v)) throw invalid(`${entity}.${field}`, `${field} must be an object.`);
          linked[field] = unwrap(`${entity}.${field}`, link, [], v as Record<string, unknown>, () => false);
          return true;
        }
        return false;
      });
      return { values, details, linked, id: typeof b.id === "string" ? b.id : undefined };
    };

    // ---- records ----------------------------------------------------------------------------------------------

    /** A 422: the entity echoed with an error on the offending field and on the record. */
    const unprocessable = (body: unknown, field: string, message: string, row?: { detail: string; index: number }): Halt => {
      const echo = structuredClone((body ?? {}) as Record<string, unknown>);
      const holder = row ? ((echo[row.detail] as Record<string, unknown>[])[row.index] ??= {}) : echo;
      const slot = (holder[field] ??= { value: null }) as Record<string, unknown>;
      slot.error = message;
      return new Halt({ status: 422, body: { ...echo, error: `${row ? `${row.detail}[${row.index}].` : ""}${field}: ${message}` } }); // THIN
    };

    const findByKeys = (entity: string, keys: Record<string, unknown>): StoredRecord | undefined => {
      const d = def(entity);
      if (d.keys.some((key) => keys[key] === undefined || keys[key] === null)) return undefined;
      return k.store.all(entity).find((r) => d.keys.every((key) => String(r[key]).toLowerCase() === String(keys[key]).toLowerCase()));
    };

    const priceLines = (entity: string, r: StoredRecord) => {
      const lines = (r.Details as StoredRecord[] | undefined) ?? [];
      for (const l of lines) {
        const qty = (entity === "SalesOrder" ? l.OrderQty : l.Qty) as number;
        l.ExtendedPrice = round2(qty * (l.UnitPrice as number) - ((l.DiscountAmount as number | undefined) ?? 0));
        l.Amount = l.ExtendedPrice;
        if (entity === "SalesOrder") l.Qty = qty;
        else l.OrderQty = qty;
      }
      const total = round2(lines.reduce((s, l) => s + (l.ExtendedPrice as number), 0));
      if (entity === "SalesOrder") Object.assign(r, { OrderTotal: total, OrderedQty: lines.reduce((s, l) => s + (l.OrderQty as number), 0), TaxTotal: 0 });
      if (entity === "SalesInvoice") Object.assign(r, { Amount: total, Balance: r.Status === "Open" || r.Status === "Closed" ? r.Balance : total });
    };

    const applyDetails = (entity: string, body: unknown, r: StoredRecord, p: Parsed) => {
      for (const [field, rows] of Object.entries(p.details)) {
        const existing = ((r[field] as StoredRecord[] | undefined) ?? []).slice();
        for (const [index, row] of rows.entries()) {
          const at = { detail: field, index };
          const match = row.id ? existing.find((x) => x.id === row.id) : undefined;
          if (row.delete) {
            if (match) existing.splice(existing.indexOf(match), 1);
            continue;
          }
          if (field === "Details") {
            const inventory = row.values.InventoryID ?? match?.InventoryID;
            const item = k.store.all("StockItem").find((i) => String(i.InventoryID).toLowerCase() === String(inventory).toLowerCase());
            if (!item) throw unprocessable(body, "InventoryID", `'${inventory}' cannot be found in the system.`, at); // THIN
            row.values.InventoryID = item.InventoryID;
            row.values.UnitPrice ??= match?.UnitPrice ?? item.DefaultPrice;
            row.values.LineDescription ??= match?.LineDescription ?? item.Description;
            row.values.UOM ??= match?.UOM ?? item.BaseUOM;
            const qtyField = entity === "SalesOrder" ? "OrderQty" : "Qty";
            row.values[qtyField] ??= match?.[qtyField] ?? 1;
          }
          if (field === "DocumentsToApply") {
            const inv = k.store.all("SalesInvoice").find((i) => i.ReferenceNbr === row.values.ReferenceNbr && (row.values.DocType === undefined || row.values.DocType === "Invoice" || row.values.DocType === "INV"));
            if (!inv || inv.CustomerID !== r.CustomerID || inv.Status !== "Open") throw unprocessable(body, "ReferenceNbr", `'${row.values.ReferenceNbr}' is not an open invoice of customer ${r.CustomerID}.`, at); // THIN
            row.values.DocType = "Invoice";
            row.values.Balance = inv.Balance;
            row.values.AmountPaid ??= inv.Balance;
          }
          if (match) Object.assign(match, row.values);
          else existing.push({ id: randomUUID(), rowNumber: existing.length + 1, LineNbr: existing.length + 1, ...row.values });
        }
        r[field] = existing;
      }
      if (entity === "Payment") {
        const applied = ((r.DocumentsToApply as StoredRecord[] | undefined) ?? []).reduce((s, d) => s + (d.AmountPaid as number), 0);
        r.UnappliedBalance = round2((r.PaymentAmount as number) - applied);
      }
      priceLines(entity, r);
    };

    const checkCustomer = (body: unknown, values: Record<string, unknown>, r?: StoredRecord) => {
      const id = values.CustomerID ?? r?.CustomerID;
      if (id === undefined) throw unprocessable(body, "CustomerID", "'Customer' cannot be empty."); // THIN
      const c = k.store.all("Customer").find((x) => String(x.CustomerID).toLowerCase() === String(id).toLowerCase());
      if (!c) throw unprocessable(body, "CustomerID", `'Customer' cannot be found in the system.`);
      values.CustomerID = c.CustomerID;
      values.CurrencyID ??= r?.CurrencyID ?? c.CurrencyID;
    };

    /** PUT: update the record the id or key fields name, otherwise create it. */
    const upsert = (entity: string, body: unknown): { record: StoredRecord; created: boolean; parsed: Parsed } => {
      const d = def(entity);
      const p = parse(entity, body);
      let r = p.id ? k.store.get(entity, p.id) : findByKeys(entity, p.values);
      if (p.id && !r) throw fail(500, `No entity satisfies the condition.`); // THIN
      const created = !r;
      const v = p.values;
      if (entity !== "Customer" && entity !== "StockItem") checkCustomer(body, v, r);
      if (entity === "Customer" && created && !v.CustomerID) throw unprocessable(body, "CustomerID", "'Customer ID' cannot be empty."); // THIN: no auto-numbering of customers
      if (entity === "StockItem" && created && !v.InventoryID) throw unprocessable(body, "InventoryID", "'Inventory ID' cannot be empty.");
      if (created) {
        const base: Record<string, unknown> = { id: randomUUID(), rowNumber: 1, note: "" };
        if (entity === "Customer") Object.assign(base, { Status: "Active", CustomerClass: "DEFAULT", CreatedDateTime: nowIso() });
        if (entity === "StockItem") Object.assign(base, { BaseUOM: "EA", ItemStatus: "Active", DefaultPrice: 0 });
        if (entity === "SalesOrder") {
          if (v.OrderType && v.OrderType !== "SO") throw unprocessable(body, "OrderType", `'Order Type' cannot be found in the system.`); // THIN: only SO
          Object.assign(base, { OrderType: "SO", OrderNbr: v.OrderNbr ?? `SO${String(++numbers.order).padStart(6, "0")}`, Date: nowIso(), Hold: false, Details: [] });
        }
        if (entity === "SalesInvoice") Object.assign(base, { Type: "Invoice", ReferenceNbr: v.ReferenceNbr ?? `AR${String(++numbers.invoice).padStart(6, "0")}`, Date: nowIso(), Hold: false, Details: [] });
        if (entity === "Payment") {
          if (typeof v.PaymentAmount !== "number") throw unprocessable(body, "PaymentAmount", "'Payment Amount' cannot be empty."); // THIN
          Object.assign(base, { Type: "Payment", ReferenceNbr: v.ReferenceNbr ?? `PMT${String(++numbers.payment).padStart(6, "0")}`, ApplicationDate: nowIso(), PaymentMethod: "CHECK", Hold: false, DocumentsToApply: [] });
        }
        r = { ...base, ...v, ...(entity === "SalesOrder" ? { OrderType: "SO" } : {}) };
        for (const key of d.keys) if (base[key] !== undefined && v[key] === undefined) r[key] = base[key];
      } else {
        if ((entity === "SalesInvoice" || entity === "Payment") && (r!.Status === "Open" || r!.Status === "Closed") && (Object.keys(p.details).length || "CustomerID" in v)) throw unprocessable(body, entity === "Payment" ? "DocumentsToApply" : "Details", "The document is released and cannot be changed."); // THIN
        r = { ...r!, ...v };
      }
      Object.assign(r, p.linked);
      applyDetails(entity, body, r, p);
      // Hold decides the status until a document is released or invoiced.
      const settled = ["Invoiced", "Completed", "Closed"].includes(String(r.Status)) || ((entity === "SalesInvoice" || entity === "Payment") && r.Status === "Open");
      if (entity === "Customer") r.Status ??= "Active";
      else if (entity !== "StockItem" && !settled) r.Status = r.Hold ? "On Hold" : entity === "SalesOrder" ? "Open" : "Balanced";
      r.LastModifiedDateTime = nowIso();
      // An update replaces the stored record without counting as a creation.
      k.store.insert(entity, r.id as string, r, { seed: !created });
      return { record: r, created, parsed: p };
    };

    // ---- presenting -------------------------------------------------------------------------------------------

    const present = (req: SandboxRequest, entity: string, r: StoredRecord, select?: string[], expand: string[] = []): Record<string, unknown> => {
      const d = def(entity);
      const out: Record<string, unknown> = { id: r.id, rowNumber: r.rowNumber ?? 1, note: { value: r.note ?? "" }, ...wrap(d.fields, r, select) };
      for (const [field, detail] of Object.entries(d.details)) if (expand.includes(field)) out[field] = ((r[field] as StoredRecord[] | undefined) ?? []).map((row) => ({ id: row.id, rowNumber: row.rowNumber, note: { value: "" }, ...wrap(detail.fields, row), custom: {} }));
      for (const [field, link] of Object.entries(d.linked)) if (expand.includes(field)) out[field] = { id: randomUUID(), rowNumber: 1, note: null, ...wrap(link, (r[field] as StoredRecord | undefined) ?? {}), custom: {} };
      out.custom = {};
      out._links = { self: `/entity/${req.params.endpoint}/${req.params.version}/${entity}/${r.id}`, "files:put": `/entity/${req.params.endpoint}/${req.params.version}/files/PX.Objects.${entity}/${r.id}/{filename}` };
      return out;
    };
    const listOption = (req: SandboxRequest, name: string) => req.query.get(name)?.split(",").map((x) => x.trim()).filter(Boolean);

    // ---- handlers ---------------------------------------------------------------------------------------------

    const sessionCookie = (req: SandboxRequest) => /(?:^|;\s*)\.ASPXAUTH=([^;]+)/.exec(req.header("cookie") ?? "")?.[1];
    /** Session tokens issued by login: they hold the licence's API sessions until logout or expiry. */
    const sessions = new Set<string>();
    const liveSessions = () => [...sessions].filter((token) => {
      const t = k.tokens.check(token);
      return t && t !== "expired";
    });

    const login = (req: SandboxRequest): Reply => {
      const b = req.json() as Record<string, unknown>;
      if (!b || typeof b !== "object") throw invalid("credentials", "The request body must be a JSON object.");
      if (b.tenant !== undefined && b.tenant !== tenant) return httpError(500, `Tenant '${b.tenant}' does not exist.`, "PX.Data.PXUndefinedCompanyException"); // THIN
      if (b.name !== name || b.password !== password) return httpError(500, "Invalid credentials. Please try again.", "PX.Data.PXException"); // THIN
      if (b.branch !== undefined && b.branch !== branch) return httpError(500, `The branch '${b.branch}' does not exist.`); // THIN
      if (liveSessions().length >= k.limits.maxSessions!) return httpError(429, "API Login Limit", "PX.Data.PXException"); // THIN: the licence's API session limit
      const t = k.tokens.issue(name, k.limits.sessionIdleSeconds!, { kind: "session" }, randomBytes(48).toString("hex").toUpperCase());
      sessions.add(t.token);
      const cookie = (n: string, v: string) => `${n}=${v}; path=/; HttpOnly; SameSite=Lax`;
      return { status: 204, headers: { "set-cookie": [cookie(".ASPXAUTH", t.token), cookie("ASP.NET_SessionId", randomBytes(12).toString("hex")), cookie("UserBranch", "1"), cookie("Locale", String(b.locale ?? "en-US"))] } };
    };

    const logout = (req: SandboxRequest): Reply => {
      const token = sessionCookie(req);
      if (token) {
        const t = k.tokens.check(token);
        if (t && t !== "expired") t.expiresAt = Date.now();
        sessions.delete(token);
      }
      return { status: 204, headers: { "set-cookie": ".ASPXAUTH=; expires=Thu, 01-Jan-1970 00:00:00 GMT; path=/; HttpOnly" } };
    };

    const checkEndpoint = (req: SandboxRequest) => {
      // A wrong endpoint name or version is a 404, as the doc notes.
      if (req.params.endpoint !== ACUMATICA_DEFAULTS.endpoint || !versions.includes(req.params.version!)) throw new Halt({ status: 404, body: { message: `No HTTP resource was found that matches the request URI '${req.path}'.` } }); // [~] body
    };

    const put = (req: SandboxRequest): Reply => {
      checkEndpoint(req);
      const entity = req.params.entity!;
      def(entity);
      const body = req.json();
      const snapshot = k.store.snapshot();
      try {
        const { record, parsed } = upsert(entity, body);
        const expand = [...(listOption(req, "$expand") ?? []), ...Object.keys(parsed.details), ...Object.keys(parsed.linked)];
        return { status: 200, body: present(req, entity, record, listOption(req, "$select"), expand) };
      } catch (e) {
        k.store.restore(snapshot);
        throw e;
      }
    };

    const list = (req: SandboxRequest): Reply => {
      checkEndpoint(req);
      const entity = req.params.entity!;
      const d = def(entity);
      const select = listOption(req, "$select");
      for (const f of select ?? []) if (!d.fields[f]) throw fail(500, `Field '${f}' is not found in entity '${entity}'.`); // THIN
      const expand = listOption(req, "$expand") ?? [];
      for (const x of expand) if (!d.details[x] && !d.linked[x]) throw fail(500, `Linked entity '${x}' is not found in entity '${entity}'.`); // THIN
      let rows = k.store.all(entity);
      const filter = req.query.get("$filter");
      if (filter) {
        let expr;
        try {
          expr = parseFilter(filter);
        } catch (e) {
          if (e instanceof FilterError) throw invalid("$filter", e.message);
          throw e;
        }
        for (const f of filterFields(expr)) if (!d.fields[f]) throw fail(500, `Field '${f}' is not found in entity '${entity}'.`); // THIN
        rows = rows.filter((r) => evaluateFilter(expr, (f) => r[f]));
      }
      const num = (n: string) => {
        const v = req.query.get(n);
        if (v !== null && !/^\d+$/.test(v)) throw invalid(n, `The value '${v}' is not valid for ${n}.`);
        return v === null ? undefined : Number(v);
      };
      const skip = num("$skip") ?? 0;
      const top = num("$top");
      rows = rows.slice(skip, top === undefined ? undefined : skip + top);
      return { status: 200, body: rows.map((r) => present(req, entity, r, select, expand)) };
    };

    /** GET / DELETE address a record by id or by its key values as path segments. */
    const byPath = (req: SandboxRequest): { entity: string; record: StoredRecord } => {
      checkEndpoint(req);
      const entity = req.params.entity!;
      const d = def(entity);
      const segments = req.params.rest!.split("/").filter(Boolean);
      let record: StoredRecord | undefined;
      if (segments.length === 1 && /^[0-9a-f-]{36}$/i.test(segments[0]!)) record = k.store.get(entity, segments[0]!.toLowerCase());
      else if (segments.length === d.keys.length) record = findByKeys(entity, Object.fromEntries(d.keys.map((key, i) => [key, segments[i]])));
      else throw fail(500, `The number of key values (${segments.length}) does not match the keys of '${entity}' (${d.keys.join(", ")}).`); // THIN
      if (!record) throw fail(500, "No entity satisfies the condition."); // THIN: Acumatica reports a missing record as a server error
      return { entity, record };
    };

    const getOne = (req: SandboxRequest): Reply => {
      const { entity, record } = byPath(req);
      return { status: 200, body: present(req, entity, record, listOption(req, "$select"), listOption(req, "$expand") ?? []) };
    };

    const remove = (req: SandboxRequest): Reply => {
      const { entity, record } = byPath(req);
      if ((entity === "SalesInvoice" || entity === "Payment") && (record.Status === "Open" || record.Status === "Closed")) throw fail(500, "The document is released and cannot be deleted."); // THIN
      k.store.delete(entity, record.id as string);
      return { status: 204 };
    };

    const action = (req: SandboxRequest): Reply => {
      checkEndpoint(req);
      const entity = req.params.entity!;
      const name = req.params.action!;
      if (!(ACTIONS[entity] ?? []).includes(name)) throw new Halt({ status: 404, body: { message: `No HTTP resource was found that matches the request URI '${req.path}'.` } });
      const body = req.json() as { entity?: Record<string, unknown>; parameters?: unknown };
      if (!body?.entity || typeof body.entity !== "object") throw invalid("entity", "The action needs an entity.");
      const p = parse(entity, body.entity);
      const r = p.id ? k.store.get(entity, p.id) : findByKeys(entity, p.values);
      if (!r) throw fail(500, "No entity satisfies the condition."); // THIN
      runAction(name, r);
      r.LastModifiedDateTime = nowIso();
      // Actions run as long operations: 202 and a status URL to poll.
      const op = randomUUID();
      finishedActions.add(op);
      return { status: 202, headers: { location: `/entity/${req.params.endpoint}/${req.params.version}/${entity}/${name}/status/${op}` } };
    };

    const runAction = (name: string, r: StoredRecord) => {
      const refuse = (message: string) => fail(500, message); // THIN: a failed long operation
      if (name === "ReleaseFromHold") {
        if (r.Status !== "On Hold") throw refuse("The document is not on hold.");
        Object.assign(r, { Hold: false, Status: "Open" });
      } else if (name === "PutOnHold") {
        if (r.Status !== "Open") throw refuse("Only open orders can be put on hold.");
        Object.assign(r, { Hold: true, Status: "On Hold" });
      } else if (name === "PrepareInvoice") {
        // THIN: the sandbox invoices the order directly (no shipment step).
        if (r.Status !== "Open") throw refuse("Only open orders can be invoiced.");
        const lines = ((r.Details as StoredRecord[]) ?? []).map((l, i) => ({ id: randomUUID(), rowNumber: i + 1, LineNbr: i + 1, InventoryID: l.InventoryID, LineDescription: l.LineDescription, Qty: l.OrderQty, UOM: l.UOM, UnitPrice: l.UnitPrice, DiscountAmount: l.DiscountAmount ?? 0, OrderType: r.OrderType, OrderNbr: r.OrderNbr }));
        const inv: StoredRecord = { id: randomUUID(), rowNumber: 1, note: "", Type: "Invoice", ReferenceNbr: `AR${String(++numbers.invoice).padStart(6, "0")}`, CustomerID: r.CustomerID, CustomerOrder: r.CustomerOrder, Description: r.Description, Date: nowIso(), CurrencyID: r.CurrencyID, Hold: false, Status: "Balanced", Details: lines, LastModifiedDateTime: nowIso() };
        priceLines("SalesInvoice", inv);
        k.store.insert("SalesInvoice", inv.id as string, inv);
        r.Status = "Invoiced";
      } else if (name === "ReleaseSalesInvoice") {
        if (r.Status !== "Balanced") throw refuse("Only balanced invoices can be released.");
        const due = new Date(Date.parse(String(r.Date)) + 30 * 86400_000).toISOString().replace("Z", "+00:00");
        Object.assign(r, { Status: "Open", Balance: r.Amount, DueDate: r.DueDate ?? due });
      } else {
        if (r.Status !== "Balanced") throw refuse("Only balanced payments can be released.");
        for (const d of (r.DocumentsToApply as StoredRecord[]) ?? []) {
          const inv = k.store.all("SalesInvoice").find((i) => i.ReferenceNbr === d.ReferenceNbr)!;
          inv.Balance = round2(Math.max(0, (inv.Balance as number) - (d.AmountPaid as number)));
          if (inv.Balance === 0) inv.Status = "Closed";
          inv.LastModifiedDateTime = nowIso();
        }
        r.Status = r.UnappliedBalance === 0 ? "Closed" : "Open";
      }
    };

    const actionStatus = (req: SandboxRequest): Reply => {
      checkEndpoint(req);
      if (!finishedActions.has(req.params.op!)) throw fail(500, "The long operation does not exist."); // THIN
      // The sandbox's actions finish at once: the first poll says done.
      return { status: 204 };
    };

    const post = (req: SandboxRequest): Reply => {
      checkEndpoint(req);
      def(req.params.entity!);
      // [src-ish] POST on an entity is not how records are written: PUT is.
      return { status: 406, body: { message: "The requested resource does not support POST; use PUT to create or update a record." } }; // THIN body
    };

    const E = "^/entity/(?<endpoint>[^/]+)/(?<version>[^/]+)/(?<entity>[A-Za-z]+)";
    const routes: Route[] = [
      { method: "POST", path: "/entity/auth/login", handler: login, public: true },
      { method: "POST", path: "/entity/auth/logout", handler: logout, public: true },
      { method: "PUT", path: new RegExp(`${E}$`), handler: put },
      { method: "GET", path: new RegExp(`${E}$`), handler: list },
      { method: "POST", path: new RegExp(`${E}$`), handler: post },
      { method: "GET", path: new RegExp(`${E}/(?<action>[A-Za-z]+)/status/(?<op>[0-9a-f-]{36})$`), handler: actionStatus },
      { method: "POST", path: new RegExp(`${E}/(?<action>[A-Za-z]+)$`), handler: action },
      { method: "GET", path: new RegExp(`${E}/(?<rest>.+)$`), handler: getOne },
      { method: "DELETE", path: new RegExp(`${E}/(?<rest>.+)$`), handler: remove },
    ];

    const seed = (): void => {
      const w = (o: Record<string, unknown>): Record<string, unknown> => Object.fromEntries(Object.entries(o).map(([key, v]) => [key, Array.isArray(v) ? v.map((x) => w(x as Record<string, unknown>)) : { value: v }]));
      upsert("Customer", w({ CustomerID: "C-1001", CustomerName: "Globex GmbH", CurrencyID: "EUR", Email: "ap@globex.example" }));
      upsert("Customer", w({ CustomerID: "C-1002", CustomerName: "Umbrella Corp", CurrencyID: "USD", Email: "billing@umbrella.example" }));
      upsert("StockItem", w({ InventoryID: "WID-1", Description: "Widget", DefaultPrice: 9.995 }));
      upsert("StockItem", w({ InventoryID: "GAD-2", Description: "Gadget", DefaultPrice: 150 }));
      upsert("StockItem", w({ InventoryID: "SUP-12", Description: "Support plan", DefaultPrice: 250 }));
      const lines = [{ InventoryID: "GAD-2", OrderQty: 4 }, { InventoryID: "WID-1", OrderQty: 10 }];
      const so = upsert("SalesOrder", w({ CustomerID: "C-1001", CustomerOrder: "PO-77", Details: lines })).record;
      runAction("PrepareInvoice", so);
      const inv = k.store.all("SalesInvoice")[0]!;
      runAction("ReleaseSalesInvoice", inv);
      const paid = upsert("SalesInvoice", w({ CustomerID: "C-1001", Details: [{ InventoryID: "GAD-2", Qty: 1 }] })).record;
      runAction("ReleaseSalesInvoice", paid);
      Object.assign(paid, { Balance: 0, Status: "Closed" });
      k.store.created = {};
    };

    return {
      vendor: "acumatica",
      routes,
      before(req) {
        const t = k.tokens.check(sessionCookie(req));
        // [~] ASP.NET's 401 body; an idle session has expired.
        if (!t || t === "expired" || t.data.kind !== "session") return { status: 401, body: { message: "You are not logged in." } };
        // The session's idle timeout slides with use.
        t.expiresAt = Date.now() + k.limits.sessionIdleSeconds! * 1000;
        const cap = k.limits.requestsPerMinute!;
        if (cap) {
          if (minute.count() >= cap) return httpError(429, "API request rate limit exceeded.", "PX.Data.PXException"); // THIN
          minute.add();
        }
        return undefined;
      },
      serverError: (status) => httpError(status, status === 503 ? "The service is unavailable." : "An unexpected error occurred.", "System.Exception"), // THIN
      throttled: () => httpError(429, "API request rate limit exceeded.", "PX.Data.PXException"), // THIN
      malformedBody: () => ({ status: 400, body: { message: "The request is invalid.", modelState: { entity: ["Unexpected character encountered while parsing value."] } } }), // THIN
      notFound: (req) => ({ status: 404, body: { message: `No HTTP resource was found that matches the request URI '${req.path}'.` } }),
      concurrency: {
        limit: () => k.limits.concurrentRequests! || Infinity,
        refused: () => httpError(429, "The number of concurrent API requests exceeds the license limit.", "PX.Data.PXException"), // THIN
      },
      seedRecord(type, input) {
        const counted = { ...k.store.created };
        try {
          const wrapped = Object.fromEntries(Object.entries(input).map(([key, v]) => [key, Array.isArray(v) ? v.map((row) => Object.fromEntries(Object.entries(row as object).map(([f, x]) => [f, { value: x }]))) : { value: v }]));
          return upsert(type, wrapped).record;
        } catch (e) {
          if (e instanceof Halt) throw new Error(JSON.stringify(e.reply.body));
          throw e;
        } finally {
          k.store.created = counted;
        }
      },
      reset() {
        minute.clear();
        finishedActions.clear();
        sessions.clear();
        Object.assign(numbers, { order: 0, invoice: 0, payment: 0 });
        if (options.seed ?? true) seed();
      },
    };
  });
}
