// Dynamics 365 Business Central API v2.0 sandbox, written from erp-crm-wire.md §6 (not from Keelson's adapter).
// Models: the Entra ID client-credentials token endpoint on the same host, one tenant / environment / company,
// customers, items, salesOrders with salesOrderLines (nested, top-level and deep insert), salesInvoices with
// salesInvoiceLines and the Microsoft.NAV.post action, salesOrders' Microsoft.NAV.shipAndInvoice, customer payment
// journals with customerPayments; @odata.etag with If-Match on PATCH / DELETE, $filter / $select / $orderby /
// $top / $skip / $expand / $count, server-driven paging (@odata.nextLink), the JSON $batch format, BC's error
// envelope with CorrelationId, the 5-minute request window and the 5 + 95 concurrency gate.
import { randomUUID } from "node:crypto";
import { Halt, SlidingWindow, bearer, makeRequest, serve, type Kernel, type Reply, type Route, type RunningSandbox, type SandboxRequest, type StartOptions, type StoredRecord } from "./kernel";
import { entraToken } from "./entra";
import { evaluateFilter, parseQueryOptions, type QueryModel, type QueryOptions } from "./odata-filter";

export const BUSINESS_CENTRAL_LIMITS = {
  /** Per user / service principal, 5-minute sliding window. */
  windowRequests: 6000,
  windowSeconds: 300,
  /** 5 requests processed at once, 95 more queued; the 101st concurrent request is refused. */
  concurrentRequests: 5,
  queuedRequests: 95,
  /** Largest page the server returns (and the default). */
  maxPageSize: 20000,
  /** Operations in one $batch. */
  batchMaxRequests: 100,
  tokenLifetimeSeconds: 3599,
};

/** Credentials and ids the sandbox accepts unless start() is given others. */
export const BUSINESS_CENTRAL_DEFAULTS = {
  tenantId: "7c3e5b1a-2f4d-4e8b-9a6c-6b656c736f6e",
  environment: "production",
  companyId: "5d115c9c-44e3-ea11-bb43-000d3a2feca1",
  clientId: "keelson-sandbox-client",
  clientSecret: "keelson-sandbox-secret",
  scope: "https://api.businesscentral.dynamics.com/.default",
};

export interface BusinessCentralOptions extends StartOptions {
  tenantId?: string;
  environment?: string;
  companyId?: string;
  clientId?: string;
  clientSecret?: string;
  /** The scope the token request must ask for. */
  scope?: string;
  seed?: boolean;
}

type FieldType = "string" | "number" | "bool" | "date" | "datetime" | "guid" | { enum: string[] };

interface Field {
  type: FieldType;
  readOnly?: boolean;
  maxLength?: number;
}

interface EntityDef {
  /** OData type name after "Microsoft.NAV.". */
  type: string;
  /** BC table caption, used in record-not-found messages. */
  caption: string;
  fields: Record<string, Field>;
  /** Child collection → child set and the child's parent-id field. */
  children: Record<string, { set: string; attr: string }>;
  /** Single navigation → target set and the id field holding it. */
  singles: Record<string, { set: string; attr: string }>;
}

const s = (maxLength?: number): Field => ({ type: "string", maxLength });
const n: Field = { type: "number" };
const ro = (type: FieldType): Field => ({ type, readOnly: true });
const LINE_TYPES = { enum: ["Comment", "Account", "Item", "Resource", "Fixed Asset", "Charge"] };

const LINE_FIELDS: Record<string, Field> = {
  id: ro("guid"),
  documentId: { type: "guid" },
  sequence: n,
  itemId: { type: "guid" },
  accountId: { type: "guid" },
  lineType: { type: LINE_TYPES },
  lineObjectNumber: s(20),
  description: s(100),
  unitOfMeasureCode: s(10),
  quantity: n,
  unitPrice: n,
  discountAmount: n,
  discountPercent: n,
  amountExcludingTax: ro("number"),
  taxCode: s(20),
  taxPercent: ro("number"),
  totalTaxAmount: ro("number"),
  amountIncludingTax: ro("number"),
  netAmount: ro("number"),
  shipmentDate: { type: "date" },
};

const DEFS: Record<string, EntityDef> = {
  customers: {
    type: "customer",
    caption: "Customer",
    fields: { id: ro("guid"), number: s(20), displayName: s(100), type: { type: { enum: ["Company", "Person"] } }, addressLine1: s(100), addressLine2: s(50), city: s(30), state: s(30), country: s(10), postalCode: s(20), phoneNumber: s(30), email: s(80), website: s(80), salespersonCode: s(20), balanceDue: ro("number"), creditLimit: n, taxLiable: { type: "bool" }, taxRegistrationNumber: s(20), currencyCode: s(10), paymentTermsId: { type: "guid" }, blocked: { type: { enum: [" ", "Ship", "Invoice", "All"] } }, lastModifiedDateTime: ro("datetime") },
    children: {},
    singles: {},
  },
  items: {
    type: "item",
    caption: "Item",
    fields: { id: ro("guid"), number: s(20), displayName: s(100), type: { type: { enum: ["Inventory", "Service", "Non-Inventory"] } }, blocked: { type: "bool" }, gtin: s(14), inventory: ro("number"), unitPrice: n, priceIncludesTax: { type: "bool" }, unitCost: n, baseUnitOfMeasureCode: s(10), lastModifiedDateTime: ro("datetime") },
    children: {},
    singles: {},
  },
  salesOrders: {
    type: "salesOrder",
    caption: "Sales Header",
    fields: { id: ro("guid"), number: ro("string"), externalDocumentNumber: s(35), orderDate: { type: "date" }, postingDate: { type: "date" }, customerId: { type: "guid" }, customerNumber: s(20), customerName: ro("string"), billToName: ro("string"), shipToName: s(100), sellToAddressLine1: s(100), sellToCity: s(30), sellToCountry: s(10), sellToPostCode: s(20), currencyCode: s(10), pricesIncludeTax: { type: "bool" }, paymentTermsId: { type: "guid" }, salesperson: s(20), partialShipping: { type: "bool" }, requestedDeliveryDate: { type: "date" }, discountAmount: ro("number"), totalAmountExcludingTax: ro("number"), totalTaxAmount: ro("number"), totalAmountIncludingTax: ro("number"), fullyShipped: ro("bool"), status: ro({ enum: ["Draft", "In Review", "Open", "Released"] }), lastModifiedDateTime: ro("datetime"), phoneNumber: s(30), email: s(80) },
    children: { salesOrderLines: { set: "salesOrderLines", attr: "documentId" } },
    singles: { customer: { set: "customers", attr: "customerId" } },
  },
  salesOrderLines: { type: "salesOrderLine", caption: "Sales Line", fields: { ...LINE_FIELDS, shippedQuantity: ro("number"), invoicedQuantity: ro("number") }, children: {}, singles: { item: { set: "items", attr: "itemId" } } },
  salesInvoices: {
    type: "salesInvoice",
    caption: "Sales Invoice Header",
    fields: { id: ro("guid"), number: ro("string"), externalDocumentNumber: s(35), invoiceDate: { type: "date" }, postingDate: { type: "date" }, dueDate: { type: "date" }, customerId: { type: "guid" }, customerNumber: s(20), customerName: ro("string"), orderId: ro("guid"), orderNumber: ro("string"), currencyCode: s(10), pricesIncludeTax: { type: "bool" }, paymentTermsId: { type: "guid" }, salesperson: s(20), discountAmount: ro("number"), totalAmountExcludingTax: ro("number"), totalTaxAmount: ro("number"), totalAmountIncludingTax: ro("number"), remainingAmount: ro("number"), status: ro({ enum: ["Draft", "In Review", "Open", "Paid", "Canceled", "Corrective"] }), lastModifiedDateTime: ro("datetime"), phoneNumber: s(30), email: s(80) },
    children: { salesInvoiceLines: { set: "salesInvoiceLines", attr: "documentId" } },
    singles: { customer: { set: "customers", attr: "customerId" } },
  },
  salesInvoiceLines: { type: "salesInvoiceLine", caption: "Sales Invoice Line", fields: LINE_FIELDS, children: {}, singles: { item: { set: "items", attr: "itemId" } } },
  customerPaymentJournals: {
    type: "customerPaymentJournal",
    caption: "Gen. Journal Batch",
    fields: { id: ro("guid"), code: s(10), displayName: s(100), balancingAccountId: { type: "guid" }, balancingAccountNumber: s(20), lastModifiedDateTime: ro("datetime") },
    children: { customerPayments: { set: "customerPayments", attr: "journalId" } },
    singles: {},
  },
  customerPayments: {
    type: "customerPayment",
    caption: "Gen. Journal Line",
    fields: { id: ro("guid"), journalId: ro("guid"), journalDisplayName: ro("string"), lineNumber: n, customerId: { type: "guid" }, customerNumber: s(20), postingDate: { type: "date" }, documentNumber: s(20), externalDocumentNumber: s(35), amount: n, appliesToInvoiceId: { type: "guid" }, appliesToInvoiceNumber: s(20), description: s(100), comment: s(250), lastModifiedDateTime: ro("datetime") },
    children: {},
    singles: { customer: { set: "customers", attr: "customerId" } },
  },
};

// [~] currencies known to the sandbox company; "" is the local currency.
const CURRENCIES = new Set(["", "EUR", "USD", "GBP"]);

const round2 = (x: number) => Math.round(x * 100) / 100;
const today = () => new Date().toISOString().slice(0, 10);
const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

export async function start(options: BusinessCentralOptions = {}): Promise<RunningSandbox> {
  const tenantId = options.tenantId ?? BUSINESS_CENTRAL_DEFAULTS.tenantId;
  const environment = options.environment ?? BUSINESS_CENTRAL_DEFAULTS.environment;
  const companyId = (options.companyId ?? BUSINESS_CENTRAL_DEFAULTS.companyId).toLowerCase();
  const clientId = options.clientId ?? BUSINESS_CENTRAL_DEFAULTS.clientId;
  const scope = options.scope ?? BUSINESS_CENTRAL_DEFAULTS.scope;

  return serve(BUSINESS_CENTRAL_LIMITS, options, (k: Kernel) => {
    const windows = new Map<string, SlidingWindow>();
    let version = 0;
    const counters = { customer: 0, order: 0, draftInvoice: 0, postedInvoice: 0 };

    /** Every BC error message ends with the request's correlation id. */
    const bcError = (status: number, code: string, message: string, headers?: Record<string, string>): Reply => ({ status, headers, body: { error: { code, message: `${message} CorrelationId: ${randomUUID()}.` } } });
    const fail = (status: number, code: string, message: string): Halt => new Halt(bcError(status, code, message));
    const apiRoot = (req: SandboxRequest) => `/v2.0/${req.params.tenant}/${req.params.env}/api/v2.0`;

    const def = (set: string): EntityDef => {
      const d = DEFS[set];
      if (!d) throw fail(404, "BadRequest_ResourceNotFound", `Resource not found for the segment '${set}'.`);
      return d;
    };
    const notFound = (set: string, id: string) => fail(404, "Internal_RecordNotFound", `The ${def(set).caption} does not exist. Identification fields and values: Id='${id}'`);

    // ---- limits -----------------------------------------------------------------------------------------------

    const windowFor = (principal: string) => {
      let w = windows.get(principal);
      if (!w) windows.set(principal, (w = new SlidingWindow(() => k.limits.windowSeconds! * 1000)));
      return w;
    };
    const tooMany = (actual: number, maximum: number): Reply =>
      // [~] Retry-After on 429 is honoured by clients but not documented by Microsoft.
      bcError(429, "Application_TooManyRequests", `Too many requests reached. Actual (${actual}). Maximum (${maximum}).`, { "retry-after": "5" });
    const admit = (principal: string): Reply | undefined => {
      const w = windowFor(principal);
      const used = w.count();
      if (used >= k.limits.windowRequests!) return tooMany(used + 1, k.limits.windowRequests!);
      w.add();
      return undefined;
    };

    // ---- records ----------------------------------------------------------------------------------------------

    // [~] BC etags are base64 of an internal row version; clients must treat them as opaque.
    const stamp = (r: StoredRecord) => {
      version++;
      r["@odata.etag"] = `W/"${Buffer.from(`'${String(version).length};${version};00;'`).toString("base64")}"`;
      r.lastModifiedDateTime = new Date().toISOString();
    };

    const insert = (set: string, values: Record<string, unknown>, seed = false): StoredRecord => {
      const d = def(set);
      const r: StoredRecord = {};
      for (const [f, spec] of Object.entries(d.fields)) r[f] = spec.type === "number" ? 0 : spec.type === "bool" ? false : spec.type === "guid" ? "00000000-0000-0000-0000-000000000000" : spec.type === "date" ? "0001-01-01" : "";
      Object.assign(r, values);
      r.id = (values.id as string | undefined) ?? randomUUID();
      stamp(r);
      return k.store.insert(set, r.id as string, r, { seed });
    };

    const present = (set: string, r: StoredRecord, o: ReadOptions): Record<string, unknown> => {
      const d = def(set);
      const out: Record<string, unknown> = { "@odata.etag": r["@odata.etag"] };
      for (const f of o.select ?? Object.keys(d.fields)) out[f] = r[f];
      for (const e of o.expand ?? []) {
        const child = d.children[e.nav];
        if (child) out[e.nav] = query(child.set, e.options, linesOf(child.set, child.attr, r.id as string)).map((c) => present(child.set, c, e.options));
        else {
          const single = d.singles[e.nav]!;
          const target = k.store.get(single.set, r[single.attr] as string);
          out[e.nav] = target ? present(single.set, target, e.options) : null;
        }
      }
      return out;
    };

    /** Checks a write body against the entity's fields; returns the values and the deep-inserted children. */
    const parseBody = (set: string, body: unknown, creating: boolean): { values: Record<string, unknown>; children: { set: string; attr: string; items: unknown[] }[] } => {
      const d = def(set);
      if (!body || typeof body !== "object" || Array.isArray(body)) throw fail(400, "BadRequest", "Invalid Request Body");
      const values: Record<string, unknown> = {};
      const children: { set: string; attr: string; items: unknown[] }[] = [];
      for (const [name, value] of Object.entries(body as Record<string, unknown>)) {
        if (name.startsWith("@odata.")) continue;
        const child = d.children[name];
        if (child) {
          if (!creating) throw fail(400, "BadRequest", `Deep update of '${name}' is not supported; PATCH the lines themselves.`); // [~]
          if (!Array.isArray(value)) throw fail(400, "BadRequest", `The navigation property '${name}' needs an array of entities.`); // [~]
          children.push({ ...child, items: value });
          continue;
        }
        const spec = d.fields[name];
        // [~] BC's wording for an unknown body property.
        if (!spec) throw fail(400, "BadRequest", `The property '${name}' does not exist on type 'Microsoft.NAV.${d.type}'. Make sure to only use property names that are defined by the type.`);
        if (spec.readOnly) throw fail(400, "BadRequest", `The property '${name}' is read-only.`); // [~]
        if (!typeOk(spec.type, value)) throw fail(400, "BadRequest", `Cannot convert the literal '${JSON.stringify(value)}' to the expected type '${edmType(spec.type)}'.`); // [~]
        if (spec.maxLength !== undefined && typeof value === "string" && value.length > spec.maxLength)
          throw fail(400, "Application_StringExceededLength", `The length of the string is ${value.length}, but it must be less than or equal to ${spec.maxLength} characters. Value: ${value}`);
        values[name] = value;
      }
      return { values, children };
    };

    const customerFrom = (values: Record<string, unknown>, required: boolean): StoredRecord | undefined => {
      if (values.customerId) {
        const c = k.store.get("customers", String(values.customerId).toLowerCase());
        if (!c) throw fail(400, "Internal_RecordNotFound", `The Customer does not exist. Identification fields and values: Id='${values.customerId}'`);
        return c;
      }
      if (values.customerNumber) {
        const c = k.store.all("customers").find((x) => x.number === values.customerNumber);
        if (!c) throw fail(400, "Internal_RecordNotFound", `The Customer does not exist. Identification fields and values: No.='${values.customerNumber}'`);
        return c;
      }
      if (required) throw fail(400, "Application_DialogException", "You must specify a customer id or a customer number for the document."); // [~]
      return undefined;
    };

    const checkCurrency = (table: string, code: unknown) => {
      if (code !== undefined && !CURRENCIES.has(String(code)))
        throw fail(400, "Application_FieldValidationException", `The field Currency Code of table ${table} contains a value (${code}) that cannot be found in the related table (Currency).`);
    };

    const linesOf = (set: string, attr: string, parentId: string) => k.store.all(set).filter((l) => l[attr] === parentId).sort((a, b) => (a.sequence as number) - (b.sequence as number));

    /** Sales document totals follow the lines (tax is not modelled: every line is 0 %). */
    const total = (docSet: string, doc: StoredRecord) => {
      const lineSet = docSet === "salesOrders" ? "salesOrderLines" : "salesInvoiceLines";
      const lines = linesOf(lineSet, "documentId", doc.id as string);
      const net = round2(lines.reduce((sum, l) => sum + (l.amountExcludingTax as number), 0));
      doc.totalAmountExcludingTax = net;
      doc.totalTaxAmount = 0;
      doc.totalAmountIncludingTax = net;
      doc.discountAmount = round2(lines.reduce((sum, l) => sum + (l.discountAmount as number), 0));
      stamp(doc);
    };

    const priceLine = (l: StoredRecord) => {
      const gross = (l.quantity as number) * (l.unitPrice as number);
      const discount = round2(gross * ((l.discountPercent as number) / 100) + (l.discountAmount as number));
      l.amountExcludingTax = round2(gross - discount);
      l.taxPercent = 0;
      l.totalTaxAmount = 0;
      l.amountIncludingTax = l.amountExcludingTax;
      l.netAmount = l.amountExcludingTax;
    };

    /** Validates and stores one line of a sales document (order or draft invoice). */
    const addLine = (lineSet: string, doc: StoredRecord, values: Record<string, unknown>): StoredRecord => {
      const existing = linesOf(lineSet, "documentId", doc.id as string);
      const sequence = (values.sequence as number | undefined) ?? ((existing.at(-1)?.sequence as number | undefined) ?? 0) + 10000;
      const docType = lineSet === "salesOrderLines" ? "Order" : "Invoice";
      if (existing.some((l) => l.sequence === sequence)) throw fail(400, "Internal_EntityWithSameKeyExists", `The record already exists. Identification fields and values: Document Type='${docType}',Document No.='${doc.number}',Line No.='${sequence}'`);
      const lineType = (values.lineType as string | undefined) ?? "Item";
      const line: Record<string, unknown> = { ...values, documentId: doc.id, sequence, lineType };
      if (lineType === "Item") {
        const item = values.itemId ? k.store.get("items", String(values.itemId).toLowerCase()) : k.store.all("items").find((i) => i.number === values.lineObjectNumber);
        if (!item) throw fail(400, "Internal_RecordNotFound", values.itemId ? `The Item does not exist. Identification fields and values: Id='${values.itemId}'` : `The Item does not exist. Identification fields and values: No.='${values.lineObjectNumber ?? ""}'`);
        if (item.blocked) throw fail(400, "Application_DialogException", `Blocked must be equal to 'No'  in Item: No.=${item.number}. Current value is 'Yes'.`); // [~]
        Object.assign(line, { itemId: item.id, lineObjectNumber: item.number, description: values.description ?? item.displayName, unitOfMeasureCode: values.unitOfMeasureCode ?? item.baseUnitOfMeasureCode, unitPrice: values.unitPrice ?? item.unitPrice });
      } else if (lineType !== "Comment") throw fail(400, "Application_DialogException", `The line type '${lineType}' is not supported by this sandbox.`); // THIN: only Item and Comment lines are modelled
      if (lineType === "Item" && !((values.quantity as number | undefined) ?? 0)) line.quantity = 0;
      const r = insert(lineSet, line);
      priceLine(r);
      return r;
    };

    /** Creates a sales order or draft invoice with its deep-inserted lines: all of it or none. */
    const createDocument = (set: "salesOrders" | "salesInvoices", body: unknown, extra: Record<string, unknown> = {}): StoredRecord => {
      const { values, children } = parseBody(set, body, true);
      const customer = customerFrom(values, true)!;
      checkCurrency("Sales Header", values.currencyCode);
      const snapshot = k.store.snapshot();
      try {
        const head: Record<string, unknown> = { ...values, customerId: customer.id, customerNumber: customer.number, customerName: customer.displayName, billToName: customer.displayName, currencyCode: values.currencyCode ?? customer.currencyCode, ...extra };
        if (set === "salesOrders") Object.assign(head, { number: String(101000 + ++counters.order), orderDate: values.orderDate ?? today(), postingDate: values.postingDate ?? today(), status: "Draft", fullyShipped: false });
        else Object.assign(head, { number: String(1000 + ++counters.draftInvoice), invoiceDate: values.invoiceDate ?? today(), postingDate: values.postingDate ?? today(), dueDate: values.dueDate ?? today(), status: "Draft" });
        const doc = insert(set, head);
        for (const c of children) for (const item of c.items) addLine(c.set, doc, parseBody(c.set, item, true).values);
        total(set, doc);
        return doc;
      } catch (e) {
        k.store.restore(snapshot);
        throw e;
      }
    };

    const createCustomer = (body: unknown): StoredRecord => {
      const { values } = parseBody("customers", body, true);
      checkCurrency("Customer", values.currencyCode);
      const number = (values.number as string | undefined) || `C${String(10000 + ++counters.customer * 10).padStart(5, "0")}`;
      if (k.store.all("customers").some((c) => c.number === number)) throw fail(400, "Internal_EntityWithSameKeyExists", `The record already exists. Identification fields and values: No.='${number}'`);
      return insert("customers", { type: "Company", blocked: " ", taxLiable: false, ...values, number });
    };

    /** Posts a draft invoice: it gets its posted number, an open balance and a due date. */
    const postInvoice = (inv: StoredRecord) => {
      if (inv.status !== "Draft") throw fail(400, "Application_DialogException", `Sales invoice ${inv.number} has already been posted.`); // [~]
      const posted = String(103000 + ++counters.postedInvoice);
      for (const l of linesOf("salesInvoiceLines", "documentId", inv.id as string)) stamp(l);
      Object.assign(inv, { number: posted, status: "Open", remainingAmount: inv.totalAmountIncludingTax, postingDate: inv.postingDate || today(), dueDate: addDays(String(inv.invoiceDate || today()), 30) });
      stamp(inv);
      const customer = k.store.get("customers", inv.customerId as string);
      if (customer) customer.balanceDue = round2((customer.balanceDue as number) + (inv.totalAmountIncludingTax as number));
    };

    // ---- reading ----------------------------------------------------------------------------------------------

    type ReadOptions = QueryOptions;
    const model: QueryModel<Halt> = {
      hasField: (set, field) => Boolean(def(set).fields[field]),
      navigationTarget: (set, nav) => def(set).children[nav]?.set ?? def(set).singles[nav]?.set,
      noProperty: (set, name) => fail(400, "BadRequest", `Could not find a property named '${name}' on type 'Microsoft.NAV.${def(set).type}'.`),
      badRequest: (message) => fail(400, "BadRequest", message),
      paging: ["$top", "$skip"],
    };
    const readOptions = (set: string, get: (name: string) => string | null): ReadOptions => parseQueryOptions(set, get, model);

    const query = (set: string, o: ReadOptions, rows: StoredRecord[]): StoredRecord[] => {
      let list = o.filter ? rows.filter((r) => evaluateFilter(o.filter!, (f) => r[f])) : [...rows];
      if (o.orderby)
        list.sort((a, b) => {
          for (const ob of o.orderby!) {
            const x = a[ob.field];
            const y = b[ob.field];
            const c = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
            if (c) return ob.desc ? -c : c;
          }
          return 0;
        });
      else if (def(set).fields.number) list.sort((a, b) => String(a.number).localeCompare(String(b.number)));
      if (o.skip) list = list.slice(o.skip);
      if (o.top !== undefined) list = list.slice(0, o.top);
      return list;
    };

    const context = (req: SandboxRequest, path: string) => `http://${req.header("host")}${apiRoot(req)}/$metadata#${path}`;

    /** A collection page: server-driven paging over whatever $top / $skip left. */
    const listReply = (req: SandboxRequest, set: string, rows: StoredRecord[], contextPath: string): Reply => {
      const o = readOptions(set, (x) => req.query.get(x));
      const all = query(set, o, rows);
      const asked = /odata\.maxpagesize=(\d+)/i.exec(req.header("prefer") ?? "");
      const pageSize = Math.max(1, Math.min(asked ? Number(asked[1]) : k.limits.maxPageSize!, k.limits.maxPageSize!));
      const token = req.query.get("$skiptoken");
      const from = token ? Number(Buffer.from(token, "base64url").toString("utf8")) : 0;
      if (!Number.isInteger(from) || from < 0) throw fail(400, "BadRequest", "The skip token is not valid."); // [~]
      const body: Record<string, unknown> = { "@odata.context": context(req, contextPath) };
      if (req.query.get("$count") === "true") body["@odata.count"] = all.length;
      body.value = all.slice(from, from + pageSize).map((r) => present(set, r, o));
      if (from + pageSize < all.length) {
        const [path, search = ""] = req.url.split("?");
        const kept = search.split("&").filter((p) => p && !/^(\$|%24)skiptoken=/i.test(p));
        body["@odata.nextLink"] = `http://${req.header("host")}${path}?${[...kept, `$skiptoken=${Buffer.from(String(from + pageSize)).toString("base64url")}`].join("&")}`;
      }
      return { status: 200, headers: asked ? { "preference-applied": `odata.maxpagesize=${asked[1]}` } : {}, body };
    };

    // ---- handlers ---------------------------------------------------------------------------------------------

    const company = (): StoredRecord => k.store.get("companies", companyId)!;
    const checkCompany = (req: SandboxRequest) => {
      if (req.params.company?.toLowerCase() !== companyId) throw fail(404, "Internal_CompanyNotFound", `Cannot find the company with the id '${req.params.company}'.`); // [~] status
    };
    const recordOf = (set: string, id: string): StoredRecord => {
      def(set);
      const r = GUID.test(id) ? k.store.get(set, id.toLowerCase()) : undefined;
      if (!r) throw notFound(set, id);
      return r;
    };
    const contextOf = (req: SandboxRequest, rest: string) => `companies(${req.params.company})/${rest}`;
    const entityReply = (req: SandboxRequest, set: string, r: StoredRecord, status = 200): Reply => {
      const o = readOptions(set, (x) => req.query.get(x));
      return { status, headers: { etag: r["@odata.etag"] as string }, body: { "@odata.context": context(req, `${contextOf(req, set)}/$entity`), ...present(set, r, o) } };
    };

    /** If-Match is required on PATCH and DELETE; "*" matches any version. */
    const checkEtag = (req: SandboxRequest, r: StoredRecord) => {
      const ifMatch = req.header("if-match");
      if (!ifMatch) throw fail(428, "BadRequest", "Could not validate the client concurrency token required by the service. Please provide a valid token in the client concurrency header."); // [~] status
      if (ifMatch !== "*" && ifMatch !== r["@odata.etag"]) throw fail(412, "Request_EntityChanged", "Another user has already changed the record.");
    };
    const checkDraft = (set: string, r: StoredRecord) => {
      if (set === "salesInvoices" && r.status !== "Draft") throw fail(400, "Application_DialogException", `You cannot change posted sales invoice ${r.number}.`); // [~]
    };

    const listCompanies = (req: SandboxRequest): Reply => ({ status: 200, body: { "@odata.context": context(req, "companies"), value: [company()] } });
    const getCompany = (req: SandboxRequest): Reply => {
      checkCompany(req);
      return { status: 200, body: { "@odata.context": context(req, "companies/$entity"), ...company() } };
    };

    const list = (req: SandboxRequest): Reply => {
      checkCompany(req);
      const set = req.params.set!;
      def(set);
      let rows = k.store.all(set);
      if (set === "salesOrderLines" || set === "salesInvoiceLines") {
        // [~] BC refuses top-level line queries that do not name a document.
        const filter = req.query.get("$filter") ?? "";
        if (!/\b(documentId|id)\s+eq\b/.test(filter)) throw fail(400, "BadRequest", "You must specify an Id or a Document Id to get the lines.");
      }
      return listReply(req, set, rows, contextOf(req, set));
    };

    const getOne = (req: SandboxRequest): Reply => {
      checkCompany(req);
      return entityReply(req, req.params.set!, recordOf(req.params.set!, req.params.id!));
    };

    const create = (req: SandboxRequest): Reply => {
      checkCompany(req);
      const set = req.params.set!;
      const body = req.json();
      let r: StoredRecord;
      if (set === "customers") r = createCustomer(body);
      else if (set === "salesOrders" || set === "salesInvoices") r = createDocument(set, body);
      else if (set === "salesOrderLines" || set === "salesInvoiceLines") {
        const { values } = parseBody(set, body, true);
        const docSet = set === "salesOrderLines" ? "salesOrders" : "salesInvoices";
        if (!values.documentId) throw fail(400, "BadRequest", "You must specify a document id to create a line."); // [~]
        const doc = recordOf(docSet, String(values.documentId));
        checkDraft(docSet, doc);
        r = addLine(set, doc, values);
        total(docSet, doc);
      } else if (set === "items") {
        const { values } = parseBody(set, body, true);
        if (values.number && k.store.all("items").some((i) => i.number === values.number)) throw fail(400, "Internal_EntityWithSameKeyExists", `The record already exists. Identification fields and values: No.='${values.number}'`);
        r = insert("items", { type: "Inventory", baseUnitOfMeasureCode: "PCS", ...values, number: values.number || `I${1000 + k.store.all("items").length}` });
      } else if (set === "customerPayments") throw fail(400, "BadRequest", "Customer payments are created in a journal: POST customerPaymentJournals({id})/customerPayments."); // [~]
      else throw fail(405, "BadRequest_MethodNotAllowed", `'POST' requests for '${set}' of EdmType 'Entity' are not allowed within Dynamics 365 Business Central OData web services.`); // [~]
      return entityReply(req, set, r, 201);
    };

    const patch = (req: SandboxRequest): Reply => {
      checkCompany(req);
      const set = req.params.set!;
      const r = recordOf(set, req.params.id!);
      checkEtag(req, r);
      checkDraft(set, r);
      const { values } = parseBody(set, req.json(), false);
      if (set === "customers") {
        checkCurrency("Customer", values.currencyCode);
        if (values.number && values.number !== r.number && k.store.all("customers").some((c) => c.number === values.number)) throw fail(400, "Internal_EntityWithSameKeyExists", `The record already exists. Identification fields and values: No.='${values.number}'`);
      }
      if (set === "salesOrders" || set === "salesInvoices") {
        checkCurrency("Sales Header", values.currencyCode);
        const customer = customerFrom(values, false);
        if (customer) Object.assign(values, { customerId: customer.id, customerNumber: customer.number, customerName: customer.displayName, billToName: customer.displayName });
      }
      if (set === "salesOrderLines" || set === "salesInvoiceLines") {
        const docSet = set === "salesOrderLines" ? "salesOrders" : "salesInvoices";
        const doc = k.store.get(docSet, r.documentId as string)!;
        checkDraft(docSet, doc);
        delete values.documentId;
        Object.assign(r, values);
        priceLine(r);
        stamp(r);
        total(docSet, doc);
      } else {
        Object.assign(r, values);
        stamp(r);
      }
      return entityReply(req, set, r);
    };

    const remove = (req: SandboxRequest): Reply => {
      checkCompany(req);
      const set = req.params.set!;
      const r = recordOf(set, req.params.id!);
      checkEtag(req, r);
      checkDraft(set, r);
      if (set === "salesInvoiceLines") checkDraft("salesInvoices", k.store.get("salesInvoices", r.documentId as string)!);
      for (const child of Object.values(def(set).children)) for (const c of linesOf(child.set, child.attr, r.id as string)) k.store.delete(child.set, c.id as string);
      k.store.delete(set, r.id as string);
      if (set === "salesOrderLines" || set === "salesInvoiceLines") {
        const docSet = set === "salesOrderLines" ? "salesOrders" : "salesInvoices";
        const doc = k.store.get(docSet, r.documentId as string);
        if (doc) total(docSet, doc);
      }
      return { status: 204 };
    };

    const listChildren = (req: SandboxRequest): Reply => {
      checkCompany(req);
      const set = req.params.set!;
      const parent = recordOf(set, req.params.id!);
      const child = def(set).children[req.params.nav!];
      if (!child) throw fail(404, "BadRequest_ResourceNotFound", `Resource not found for the segment '${req.params.nav}'.`);
      return listReply(req, child.set, linesOf(child.set, child.attr, parent.id as string), contextOf(req, `${set}(${parent.id})/${req.params.nav}`));
    };

    const createChild = (req: SandboxRequest): Reply => {
      checkCompany(req);
      const set = req.params.set!;
      const parent = recordOf(set, req.params.id!);
      const child = def(set).children[req.params.nav!];
      if (!child) throw fail(404, "BadRequest_ResourceNotFound", `Resource not found for the segment '${req.params.nav}'.`);
      const { values } = parseBody(child.set, req.json(), true);
      let r: StoredRecord;
      if (child.set === "customerPayments") r = addPayment(parent, values);
      else {
        checkDraft(set, parent);
        r = addLine(child.set, parent, values);
        total(set, parent);
      }
      return { status: 201, headers: { etag: r["@odata.etag"] as string }, body: { "@odata.context": context(req, `${contextOf(req, `${set}(${parent.id})/${req.params.nav}`)}/$entity`), ...present(child.set, r, {}) } };
    };

    const addPayment = (journal: StoredRecord, values: Record<string, unknown>): StoredRecord => {
      const customer = customerFrom(values, true)!;
      let invoice: StoredRecord | undefined;
      if (values.appliesToInvoiceId || values.appliesToInvoiceNumber) {
        invoice = values.appliesToInvoiceId ? k.store.get("salesInvoices", String(values.appliesToInvoiceId).toLowerCase()) : k.store.all("salesInvoices").find((i) => i.number === values.appliesToInvoiceNumber && i.status !== "Draft");
        if (!invoice) throw fail(400, "Internal_RecordNotFound", `The Cust. Ledger Entry does not exist. Identification fields and values: Document No.='${values.appliesToInvoiceNumber ?? values.appliesToInvoiceId}'`); // [~]
        if (invoice.customerId !== customer.id) throw fail(400, "Application_DialogException", `Invoice ${invoice.number} does not belong to customer ${customer.number}.`); // [~]
      }
      const lines = linesOf("customerPayments", "journalId", journal.id as string);
      const lineNumber = (values.lineNumber as number | undefined) ?? ((lines.at(-1)?.lineNumber as number | undefined) ?? 0) + 10000;
      if (lines.some((l) => l.lineNumber === lineNumber)) throw fail(400, "Internal_EntityWithSameKeyExists", `The record already exists. Identification fields and values: Journal Template Name='CASHRCPT',Journal Batch Name='${journal.code}',Line No.='${lineNumber}'`);
      return insert("customerPayments", { ...values, journalId: journal.id, journalDisplayName: journal.code, lineNumber, customerId: customer.id, customerNumber: customer.number, postingDate: values.postingDate ?? today(), appliesToInvoiceId: invoice?.id ?? "00000000-0000-0000-0000-000000000000", appliesToInvoiceNumber: invoice?.number ?? "" });
    };

    const action = (req: SandboxRequest): Reply => {
      checkCompany(req);
      const set = req.params.set!;
      const r = recordOf(set, req.params.id!);
      const name = req.params.action!;
      if (set === "salesInvoices" && name === "post") postInvoice(r);
      else if (set === "salesOrders" && name === "shipAndInvoice") {
        // [~] A fully shipped and invoiced order is deleted; its posted invoice keeps the order number and id.
        const lines = linesOf("salesOrderLines", "documentId", r.id as string);
        if (!lines.some((l) => (l.quantity as number) > 0)) throw fail(400, "Application_DialogException", "There is nothing to post.");
        const snapshot = k.store.snapshot();
        try {
          const inv = insert("salesInvoices", { externalDocumentNumber: r.externalDocumentNumber, invoiceDate: today(), postingDate: today(), customerId: r.customerId, customerNumber: r.customerNumber, customerName: r.customerName, orderId: r.id, orderNumber: r.number, currencyCode: r.currencyCode, status: "Draft", number: "" });
          for (const l of lines) {
            const { id: _id, documentId: _doc, ["@odata.etag"]: _etag, shippedQuantity: _s, invoicedQuantity: _i, lastModifiedDateTime: _m, ...copy } = l;
            const line = insert("salesInvoiceLines", { ...copy, documentId: inv.id });
            priceLine(line);
            k.store.delete("salesOrderLines", l.id as string);
          }
          total("salesInvoices", inv);
          postInvoice(inv);
          k.store.delete("salesOrders", r.id as string);
        } catch (e) {
          k.store.restore(snapshot);
          throw e;
        }
      } else if (set === "customerPaymentJournals" && name === "post") {
        // THIN: posting applies each payment line to its invoice and empties the journal.
        for (const p of linesOf("customerPayments", "journalId", r.id as string)) {
          const inv = k.store.get("salesInvoices", p.appliesToInvoiceId as string);
          const paid = Math.abs(p.amount as number);
          if (inv) {
            inv.remainingAmount = round2(Math.max(0, (inv.remainingAmount as number) - paid));
            if (inv.remainingAmount === 0) inv.status = "Paid";
            stamp(inv);
          }
          const customer = k.store.get("customers", p.customerId as string);
          if (customer) customer.balanceDue = round2((customer.balanceDue as number) - paid);
          k.store.delete("customerPayments", p.id as string);
        }
      } else throw fail(400, "BadRequest_MethodNotAllowed", `The action 'Microsoft.NAV.${name}' is not bound to '${set}'.`); // [~]
      return { status: 204 };
    };

    /** JSON $batch: independent requests (unless dependsOn), answered in any order. */
    const batch = async (req: SandboxRequest): Promise<Reply> => {
      const body = req.json() as { requests?: unknown };
      if (!body || typeof body !== "object" || !Array.isArray(body.requests)) throw fail(400, "BadRequest", "The batch request body must be a JSON object with a 'requests' array."); // [~]
      const requests = body.requests as { id?: unknown; method?: unknown; url?: unknown; headers?: Record<string, string>; body?: unknown; dependsOn?: unknown }[];
      if (requests.length > k.limits.batchMaxRequests!) throw fail(400, "BadRequest", `The batch request contains ${requests.length} operations; the maximum is ${k.limits.batchMaxRequests}.`); // [~] wording
      const ids = new Set<string>();
      for (const r of requests) {
        if (!r || typeof r.id !== "string" || typeof r.method !== "string" || typeof r.url !== "string") throw fail(400, "BadRequest", "Each batch request needs an id, a method and a url.");
        if (ids.has(r.id)) throw fail(400, "BadRequest", `The batch request id '${r.id}' is used more than once.`);
        ids.add(r.id);
      }
      // With Isolation: snapshot the batch is one transaction: one failure rolls all of it back.
      const snapshot = /^snapshot$/i.test(req.header("isolation") ?? "") ? k.store.snapshot() : undefined;
      const statuses = new Map<string, number>();
      const responses: { id: string; status: number; headers: Record<string, string>; body?: unknown }[] = [];
      for (const r of requests) {
        const id = r.id as string;
        const deps = Array.isArray(r.dependsOn) ? (r.dependsOn as string[]) : [];
        let reply: Reply;
        if (deps.some((d) => !statuses.has(d))) reply = bcError(400, "BadRequest", `dependsOn names a request that does not come earlier in the batch.`); // [~]
        else if (deps.some((d) => statuses.get(d)! >= 400)) reply = bcError(424, "BadRequest", "A request this one depends on failed."); // [~] wording
        else {
          const url = (r.url as string).replace(/^https?:\/\/[^/]+/, "");
          const path = url.startsWith("/") ? url : `${apiRoot(req)}/${url}`;
          const headers: Record<string, string> = { host: req.header("host") ?? "", ...Object.fromEntries(Object.entries(r.headers ?? {}).map(([h, v]) => [h.toLowerCase(), String(v)])) };
          if (req.header("authorization")) headers.authorization = req.header("authorization")!;
          const raw = r.body === undefined ? Buffer.alloc(0) : Buffer.from(typeof r.body === "string" ? r.body : JSON.stringify(r.body), "utf8");
          const inner = makeRequest(r.method as string, path, headers, raw, () => bcError(400, "BadRequest", "Invalid Request Body"));
          inner.principal = req.principal;
          reply = admit(req.principal ?? "") ?? (await k.dispatch(inner));
        }
        statuses.set(id, reply.status);
        const headers: Record<string, string> = {};
        for (const [h, v] of Object.entries(reply.headers ?? {})) headers[h] = Array.isArray(v) ? v.join(", ") : v;
        if (reply.body !== undefined) headers["content-type"] = "application/json; odata.metadata=minimal";
        responses.push({ id, status: reply.status, headers, ...(reply.body === undefined ? {} : { body: reply.body }) });
        if (snapshot && reply.status >= 400) {
          k.store.restore(snapshot);
          return { status: 200, body: { responses: [responses.at(-1)] } }; // [~] what a failed snapshot batch answers
        }
      }
      // Documented: responses may arrive in any order. The sandbox answers in reverse so clients must match by id.
      return { status: 200, body: { responses: responses.reverse() } };
    };

    const R = "^/v2\\.0/(?<tenant>[^/]+)/(?<env>[^/]+)/api/v2\\.0";
    const C = `${R}/companies\\((?<company>[^)]+)\\)`;
    const E = `${C}/(?<set>\\w+)\\((?<id>[^)]+)\\)`;
    const routes: Route[] = [
      { method: "POST", path: "/:tenant/oauth2/v2.0/token", handler: entraToken(k, { tenantId, clientId, clientSecret: options.clientSecret ?? BUSINESS_CENTRAL_DEFAULTS.clientSecret, resource: () => scope.replace(/\/\.default$/, ""), lifetimeLimit: "tokenLifetimeSeconds" }), public: true },
      { method: "POST", path: new RegExp(`${R}/\\$batch$`), handler: batch },
      { method: "GET", path: new RegExp(`${R}/companies$`), handler: listCompanies },
      { method: "GET", path: new RegExp(`${C}$`), handler: getCompany },
      { method: "GET", path: new RegExp(`${C}/(?<set>\\w+)$`), handler: list },
      { method: "POST", path: new RegExp(`${C}/(?<set>\\w+)$`), handler: create },
      { method: "GET", path: new RegExp(`${E}$`), handler: getOne },
      { method: "PATCH", path: new RegExp(`${E}$`), handler: patch },
      { method: "DELETE", path: new RegExp(`${E}$`), handler: remove },
      { method: "POST", path: new RegExp(`${E}/Microsoft\\.NAV\\.(?<action>\\w+)$`), handler: action },
      { method: "GET", path: new RegExp(`${E}/(?<nav>\\w+)$`), handler: listChildren },
      { method: "POST", path: new RegExp(`${E}/(?<nav>\\w+)$`), handler: createChild },
    ];

    const seed = (): void => {
      const now = new Date().toISOString();
      k.store.insert("companies", companyId, { id: companyId, systemVersion: "245301", name: "CRONUS International Ltd.", displayName: "CRONUS International Ltd.", businessProfileId: "", systemCreatedAt: now, systemCreatedBy: "00000000-0000-0000-0000-000000000001", systemModifiedAt: now, systemModifiedBy: "00000000-0000-0000-0000-000000000001" }, { seed: true });
      if (!(options.seed ?? true)) return;
      const globex = insert("customers", { number: "C-1001", displayName: "Globex GmbH", type: "Company", email: "ap@globex.example", city: "Berlin", postalCode: "10117", country: "DE", currencyCode: "EUR", blocked: " " }, true);
      insert("customers", { number: "C-1002", displayName: "Umbrella Corp", type: "Company", email: "billing@umbrella.example", city: "Raccoon City", country: "US", currencyCode: "USD", blocked: " " }, true);
      insert("items", { number: "WID-1", displayName: "Widget", type: "Inventory", unitPrice: 9.995, baseUnitOfMeasureCode: "PCS", inventory: 500 }, true);
      insert("items", { number: "GAD-2", displayName: "Gadget", type: "Inventory", unitPrice: 150, baseUnitOfMeasureCode: "PCS", inventory: 40 }, true);
      insert("items", { number: "SUP-12", displayName: "Support plan", type: "Service", unitPrice: 250, baseUnitOfMeasureCode: "MONTH" }, true);
      const seedDoc = (set: "salesOrders" | "salesInvoices", head: Record<string, unknown>, lines: [string, number][]) => {
        const doc = createDocument(set, { customerNumber: "C-1001", ...head, [set === "salesOrders" ? "salesOrderLines" : "salesInvoiceLines"]: lines.map(([item, quantity]) => ({ lineType: "Item", lineObjectNumber: item, quantity })) });
        return doc;
      };
      seedDoc("salesOrders", { externalDocumentNumber: "PO-77" }, [["GAD-2", 4], ["WID-1", 10]]);
      postInvoice(seedDoc("salesInvoices", { externalDocumentNumber: "PO-77" }, [["GAD-2", 4], ["WID-1", 10]]));
      const paid = seedDoc("salesInvoices", {}, [["GAD-2", 1]]);
      postInvoice(paid);
      Object.assign(paid, { remainingAmount: 0, status: "Paid" });
      globex.balanceDue = round2((globex.balanceDue as number) - 150);
      insert("customerPaymentJournals", { code: "CASHRCPT", displayName: "Cash receipts", balancingAccountNumber: "2910" }, true);
      // Seeds are not creations: only what clients create counts.
      k.store.created = {};
    };

    return {
      vendor: "business-central",
      routes,
      before(req) {
        const t = k.tokens.check(bearer(req));
        // [~] BC's 401 body for a missing, unknown or expired token.
        if (!t || t === "expired") return bcError(401, "Authentication_InvalidCredentials", "The server has rejected the client credentials.", { "www-authenticate": `Bearer authorization_uri="https://login.microsoftonline.com/${tenantId}/oauth2/authorize"` });
        if (req.params.tenant !== tenantId) return bcError(404, "BadRequest_ResourceNotFound", `Tenant '${req.params.tenant}' does not exist.`); // THIN
        if (req.params.env !== environment) return bcError(404, "BadRequest_ResourceNotFound", `Environment '${req.params.env}' does not exist.`); // THIN
        req.principal = t.subject;
        // The $batch envelope is not counted; each operation in it is.
        if (req.path.endsWith("/$batch")) return undefined;
        return admit(t.subject);
      },
      decorate(_req, reply) {
        reply.headers = { "odata-version": "4.0", ...reply.headers };
      },
      serverError: (status) => (status === 503 ? bcError(503, "Internal_TenantUnavailable", "The tenant is temporarily unavailable.") : bcError(status, "Unknown", "An unexpected error occurred.")), // [~] codes for injected 5xx
      throttled: () => tooMany(k.limits.windowRequests! + 1, k.limits.windowRequests!),
      malformedBody: () => bcError(400, "BadRequest", "Invalid Request Body"), // [~]
      notFound: (req) => bcError(404, "BadRequest_NotFound", `No HTTP resource was found that matches the request URI '${req.path}'.`), // [~]
      concurrency: {
        limit: () => k.limits.concurrentRequests! + k.limits.queuedRequests!,
        // The sandbox answers at once, so the 5-processed / 95-queued split shows only as the total it admits.
        refused: () => tooMany(k.limits.concurrentRequests! + k.limits.queuedRequests! + 1, k.limits.concurrentRequests! + k.limits.queuedRequests!),
      },
      seedRecord(type, input) {
        const counted = { ...k.store.created };
        try {
          if (type === "customers") return createCustomer(input);
          if (type === "items") return insert("items", { type: "Inventory", baseUnitOfMeasureCode: "PCS", ...input }, true);
          if (type === "salesOrders" || type === "salesInvoices") {
            const { status, ...body } = input;
            const doc = createDocument(type, body);
            if (type === "salesInvoices" && status !== "Draft") postInvoice(doc);
            return doc;
          }
          throw new Error("seed customers, items, salesOrders or salesInvoices (posted unless status 'Draft')");
        } catch (e) {
          if (e instanceof Halt) throw new Error(JSON.stringify(e.reply.body));
          throw e;
        } finally {
          // Seeds are not creations.
          k.store.created = counted;
        }
      },
      reset() {
        windows.clear();
        version = 0;
        Object.assign(counters, { customer: 0, order: 0, draftInvoice: 0, postedInvoice: 0 });
        seed();
      },
    };
  });
}

function addDays(date: string, days: number): string {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

function typeOk(t: FieldType, v: unknown): boolean {
  if (typeof t === "object") return typeof v === "string" && t.enum.includes(v);
  switch (t) {
    case "number":
      return typeof v === "number" && Number.isFinite(v);
    case "bool":
      return typeof v === "boolean";
    case "date":
      return typeof v === "string" && /^\d{4}-\d{2}-\d{2}$/.test(v);
    case "datetime":
      return typeof v === "string" && !Number.isNaN(Date.parse(v));
    case "guid":
      return typeof v === "string" && GUID.test(v);
    default:
      return typeof v === "string";
  }
}

function edmType(t: FieldType): string {
  if (typeof t === "object") return "Edm.String";
  return { string: "Edm.String", number: "Edm.Decimal", bool: "Edm.Boolean", date: "Edm.Date", datetime: "Edm.DateTimeOffset", guid: "Edm.Guid" }[t];
}
