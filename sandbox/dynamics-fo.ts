// Dynamics 365 Finance & Operations OData sandbox, written from the task brief and public documentation of data
// entities (erp-crm-wire.md has no section on it: THIN throughout). Models: the Entra ID client-credentials token
// endpoint on the same host, `/data/{Entity}` for CustomersV3, ReleasedProductsV2, SalesOrderHeadersV2,
// SalesOrderLines, SalesInvoiceHeaders, SalesInvoiceLines, CustomerPaymentJournalHeaders and
// CustomerPaymentJournalLines with `dataAreaId` keys, the caller's default company unless `cross-company=true`,
// POST (201 + entity), PATCH / DELETE by key with optional If-Match, $filter (enum literals as
// `Microsoft.Dynamics.DataEntities.{Enum}'value'`) / $select / $orderby / $top / $skip / $count, server-driven paging
// with @odata.nextLink, OData errors with an `innererror` carrying the infolog, and service-protection throttling
// (429 + Retry-After).
//
// Customer payment journals (entity and field names from Microsoft's Common Data Model pages for
// CustomerPaymentJournalHeaderEntity / CustomerPaymentJournalLineEntity and generated OData clients of the F&O
// metadata; behaviour THIN): a header gets its JournalBatchNumber from a number sequence; a line is keyed by
// (dataAreaId, JournalBatchNumber, LineNumber) and checked as F&O checks a journal line: the journal exists and is
// not posted, the customer exists, currency / bank account / method of payment are known, and the invoice in
// MarkedInvoice is an open transaction of that customer in the line's currency, not yet marked on a line of an
// unposted journal (a resent line included: its own mark refuses it before "already exists" would). No OData
// action posts a journal (none is documented); posting is F&O's own (a user or a batch job), which the control plane
// stands in for: seeding `CustomerPaymentJournalHeaders {JournalBatchNumber, IsPosted: "Yes"}` posts that journal,
// settling each marked invoice (settlements are inspectable as the `CustSettlement` records).
import { Halt, SlidingWindow, bearer, serve, type Kernel, type Reply, type Route, type RunningSandbox, type SandboxRequest, type StartOptions, type StoredRecord } from "./kernel";
import { entraToken } from "./entra";
import { evaluateFilter, FilterError, filterFields, parseFilter } from "./odata-filter";

export const DYNAMICS_FO_LIMITS = {
  /** THIN: user-based service protection, per 5-minute sliding window. */
  windowRequests: 6000,
  windowSeconds: 300,
  /** THIN: concurrent requests per user. */
  concurrentRequests: 52,
  /** [~] largest page the server returns (and the default). */
  maxPageSize: 10000,
  tokenLifetimeSeconds: 3599,
};

/** Credentials the sandbox accepts unless start() is given others. */
export const DYNAMICS_FO_DEFAULTS = { tenantId: "9d2f4c1b-8e3a-4b6d-a1c5-6b656c736f6e", clientId: "keelson-sandbox-client", clientSecret: "keelson-sandbox-secret", defaultCompany: "usmf" };

export interface DynamicsFoOptions extends StartOptions {
  tenantId?: string;
  clientId?: string;
  clientSecret?: string;
  /** The environment URL the token's scope must name (`{url}/.default`); default: the sandbox's own URL. */
  environmentUrl?: string;
  /** The service principal's default legal entity. */
  defaultCompany?: string;
  seed?: boolean;
}

type Kind = "string" | "number" | "date" | "enum";
interface EntityDef {
  /** The AX table behind the entity, named in write errors. */
  table: string;
  keys: string[];
  fields: Record<string, Kind>;
  enums?: Record<string, { type: string; values: string[] }>;
  required: string[];
  computed: string[];
  readOnly?: boolean;
}

const NO_YES = { type: "NoYes", values: ["No", "Yes"] };
const ACCOUNT_TYPE = { type: "LedgerJournalACType", values: ["Ledger", "Cust", "Vend", "Project", "FixedAssets", "Bank"] };

const ENTITIES: Record<string, EntityDef> = {
  CustomersV3: {
    table: "CustCustomerV3Entity",
    keys: ["dataAreaId", "CustomerAccount"],
    fields: { dataAreaId: "string", CustomerAccount: "string", OrganizationName: "string", CustomerGroupId: "string", SalesCurrencyCode: "string", PaymentTerms: "string", PrimaryContactEmail: "string", AddressStreet: "string", AddressCity: "string", AddressZipCode: "string", AddressCountryRegionId: "string", CreditLimit: "number" },
    required: ["CustomerGroupId"],
    computed: [],
  },
  ReleasedProductsV2: {
    table: "EcoResReleasedProductV2Entity",
    keys: ["dataAreaId", "ItemNumber"],
    fields: { dataAreaId: "string", ItemNumber: "string", ProductName: "string", SalesPrice: "number", SalesUnitSymbol: "string" },
    required: ["ItemNumber"],
    computed: [],
  },
  SalesOrderHeadersV2: {
    table: "SalesOrderHeaderV2Entity",
    keys: ["dataAreaId", "SalesOrderNumber"],
    fields: { dataAreaId: "string", SalesOrderNumber: "string", OrderingCustomerAccountNumber: "string", InvoiceCustomerAccountNumber: "string", SalesOrderName: "string", CurrencyCode: "string", CustomersOrderReference: "string", CustomerRequisitionNumber: "string", RequestedShippingDate: "date", OrderCreationDateTime: "date", SalesOrderStatus: "enum", SalesOrderProcessingStatus: "enum" },
    enums: { SalesOrderStatus: { type: "SalesStatus", values: ["None", "Backorder", "Delivered", "Invoiced", "Canceled"] }, SalesOrderProcessingStatus: { type: "SalesOrderProcessingStatus", values: ["None", "Confirmed", "Delivered", "Invoiced"] } },
    required: ["OrderingCustomerAccountNumber"],
    computed: ["SalesOrderStatus", "SalesOrderProcessingStatus", "OrderCreationDateTime"],
  },
  SalesOrderLines: {
    table: "SalesOrderLineEntity",
    keys: ["dataAreaId", "InventoryLotId"],
    fields: { dataAreaId: "string", InventoryLotId: "string", SalesOrderNumber: "string", LineNumber: "number", ItemNumber: "string", LineDescription: "string", OrderedSalesQuantity: "number", SalesPrice: "number", LineDiscountAmount: "number", LineAmount: "number", SalesUnitSymbol: "string", SalesOrderLineStatus: "enum" },
    enums: { SalesOrderLineStatus: { type: "SalesStatus", values: ["None", "Backorder", "Delivered", "Invoiced", "Canceled"] } },
    required: ["SalesOrderNumber", "ItemNumber"],
    computed: ["LineAmount", "SalesOrderLineStatus"],
  },
  SalesInvoiceHeaders: {
    table: "SalesInvoiceHeaderEntity",
    keys: ["dataAreaId", "InvoiceNumber"],
    fields: { dataAreaId: "string", InvoiceNumber: "string", InvoiceDate: "date", SalesOrderNumber: "string", InvoiceCustomerAccountNumber: "string", CustomersOrderReference: "string", CurrencyCode: "string", TotalInvoiceAmount: "number", TotalTaxAmount: "number" },
    required: [],
    computed: [],
    readOnly: true,
  },
  SalesInvoiceLines: {
    table: "SalesInvoiceLineEntity",
    keys: ["dataAreaId", "InvoiceNumber", "LineNumber"],
    fields: { dataAreaId: "string", InvoiceNumber: "string", LineNumber: "number", ItemNumber: "string", InvoicedQuantity: "number", SalesPrice: "number", LineAmount: "number" },
    required: [],
    computed: [],
    readOnly: true,
  },
  CustomerPaymentJournalHeaders: {
    table: "CustomerPaymentJournalHeaderEntity",
    keys: ["dataAreaId", "JournalBatchNumber"],
    fields: { dataAreaId: "string", JournalBatchNumber: "string", JournalName: "string", Description: "string", IsPosted: "enum", OverrideSalesTax: "enum" },
    enums: { IsPosted: NO_YES, OverrideSalesTax: NO_YES },
    required: ["JournalName"],
    computed: ["IsPosted"],
  },
  CustomerPaymentJournalLines: {
    table: "CustomerPaymentJournalLineEntity",
    keys: ["dataAreaId", "JournalBatchNumber", "LineNumber"],
    fields: {
      dataAreaId: "string", JournalBatchNumber: "string", LineNumber: "number", AccountType: "enum", AccountDisplayValue: "string", CustomerName: "string",
      CreditAmount: "number", DebitAmount: "number", CurrencyCode: "string", TransactionDate: "date", PaymentReference: "string", TransactionText: "string",
      MarkedInvoice: "string", MarkedInvoiceCompany: "string", PaymentMethodName: "string", OffsetAccountType: "enum", OffsetAccountDisplayValue: "string", Voucher: "string",
    },
    enums: { AccountType: ACCOUNT_TYPE, OffsetAccountType: ACCOUNT_TYPE },
    required: ["JournalBatchNumber", "AccountDisplayValue"],
    computed: ["CustomerName", "Voucher"],
  },
};

const round2 = (x: number) => Math.round(x * 100) / 100;
const CUSTOMER_GROUPS = new Set(["10", "20", "30", "80", "90"]);
const CURRENCIES = new Set(["USD", "EUR", "GBP"]);
/** [~] Journal names of type "Customer payment" and the offset account each proposes for its lines. */
const JOURNAL_NAMES: Record<string, { offsetType: string; offset: string }> = { CustPay: { offsetType: "Bank", offset: "USMF OPER" }, CustPayEUR: { offsetType: "Bank", offset: "USMF EUR" } };
const BANK_ACCOUNTS = new Set(["USMF OPER", "USMF EUR"]); // [~]
const PAYMENT_METHODS = new Set(["CHECK", "ELECTRONIC", "CASH"]); // [~] methods of payment - customers

export async function start(options: DynamicsFoOptions = {}): Promise<RunningSandbox> {
  const tenantId = options.tenantId ?? DYNAMICS_FO_DEFAULTS.tenantId;
  const clientId = options.clientId ?? DYNAMICS_FO_DEFAULTS.clientId;
  const defaultCompany = (options.defaultCompany ?? DYNAMICS_FO_DEFAULTS.defaultCompany).toLowerCase();

  return serve(DYNAMICS_FO_LIMITS, options, (k: Kernel) => {
    const windows = new Map<string, SlidingWindow>();
    const numbers = { customer: 0, order: 0, lot: 0, invoice: 0, journal: 0, voucher: 0 };
    let version = 0;

    // THIN: F&O's OData error: an empty code, a generic message and the infolog in innererror.
    const odataError = (status: number, message: string, inner?: { message: string; type: string }, headers?: Record<string, string>): Reply => ({
      status,
      headers,
      body: { error: { code: "", message, ...(inner ? { innererror: { ...inner, stacktrace: `   at ${inner.type}\r\n   at Microsoft.Dynamics.Platform.Integration.Services.OData.AxODataController.Invoke()` } } : {}) } },
    });
    const fail = (status: number, message: string) => new Halt(odataError(status, message));
    const writeFailed = (d: EntityDef, infolog: string) => new Halt(odataError(400, "An error has occurred.", { message: `Write failed for table row of type '${d.table}'. Infolog: Error: ${infolog}`, type: "Microsoft.Dynamics.Platform.Integration.Services.OData.AxODataWriteException" }));

    const def = (entity: string): EntityDef => {
      const d = ENTITIES[entity];
      if (!d) throw fail(404, `Resource not found for the segment '${entity}'.`); // [~]
      return d;
    };
    /** The entity type behind an entity set: CustomersV3 → Microsoft.Dynamics.DataEntities.CustomerV3. */
    const typeName = (entity: string) => `Microsoft.Dynamics.DataEntities.${entity.replace(/s(V\d+)?$/, "$1")}`;
    const noProperty = (entity: string, p: string) => fail(400, `Could not find a property named '${p}' on type '${typeName(entity)}'.`); // [~]

    // ---- limits -----------------------------------------------------------------------------------------------

    const windowFor = (principal: string) => {
      let w = windows.get(principal);
      if (!w) windows.set(principal, (w = new SlidingWindow(() => k.limits.windowSeconds! * 1000)));
      return w;
    };
    const throttled = (retry: number): Reply => odataError(429, `Number of requests exceeded the limit of ${k.limits.windowRequests} over time window of ${k.limits.windowSeconds} seconds.`, undefined, { "retry-after": String(retry) }); // THIN body

    // ---- records ----------------------------------------------------------------------------------------------

    const keyOf = (entity: string, r: StoredRecord) => def(entity).keys.map((key) => String(r[key]).toLowerCase()).join("|");
    const stamp = (r: StoredRecord) => {
      r["@odata.etag"] = `W/"${Buffer.from(`1,${++version}`).toString("base64")}"`; // [~] opaque
    };
    const store = (entity: string, r: StoredRecord, seed = false) => {
      stamp(r);
      return k.store.insert(entity, keyOf(entity, r), r, { seed });
    };
    const find = (entity: string, keys: Record<string, unknown>) => k.store.get(entity, def(entity).keys.map((key) => String(keys[key]).toLowerCase()).join("|"));

    const company = (v: unknown) => String(v ?? defaultCompany).toLowerCase();

    const checkBody = (entity: string, body: unknown, creating: boolean): Record<string, unknown> => {
      const d = def(entity);
      if (d.readOnly) throw fail(405, `The entity '${entity}' is read-only.`); // THIN
      if (!body || typeof body !== "object" || Array.isArray(body)) throw fail(400, "The request body must be a JSON object.");
      const out: Record<string, unknown> = {};
      for (const [name, v] of Object.entries(body as Record<string, unknown>)) {
        if (name.startsWith("@odata.")) continue;
        const kind = d.fields[name];
        if (!kind) throw fail(400, `The property '${name}' does not exist on type '${typeName(entity)}'. Make sure to only use property names that are defined by the type.`); // [~]
        if (d.computed.includes(name)) continue;
        if (!creating && d.keys.includes(name) && v !== undefined) throw fail(400, `The key property '${name}' cannot be changed.`); // [~]
        const enumDef = d.enums?.[name];
        const ok = v === null || (kind === "number" ? typeof v === "number" : typeof v === "string" && (kind !== "date" || !Number.isNaN(Date.parse(v))) && (!enumDef || enumDef.values.includes(v)));
        if (!ok) throw fail(400, `Cannot convert the literal '${JSON.stringify(v)}' to the expected type '${kind === "number" ? "Edm.Decimal" : enumDef ? `Microsoft.Dynamics.DataEntities.${enumDef.type}` : kind === "date" ? "Edm.DateTimeOffset" : "Edm.String"}'.`); // [~]
        out[name] = v;
      }
      return out;
    };

    const priceLine = (l: StoredRecord) => {
      l.LineAmount = round2((l.OrderedSalesQuantity as number) * (l.SalesPrice as number) - ((l.LineDiscountAmount as number | null) ?? 0));
    };

    // ---- customer payment journals ----------------------------------------------------------------------------

    const settlements = (area: string, invoiceNumber: unknown) => k.store.all("CustSettlement").filter((x) => x.dataAreaId === area && x.InvoiceNumber === invoiceNumber);
    /** What is still open on an invoice: its total less what posted payments settled (no partial-payment discounts). */
    const openAmount = (invoice: StoredRecord) => round2((invoice.TotalInvoiceAmount as number) - settlements(String(invoice.dataAreaId), invoice.InvoiceNumber).reduce((sum, x) => sum + (x.SettleAmount as number), 0));
    const linesOf = (area: string, batch: unknown) => k.store.all("CustomerPaymentJournalLines").filter((l) => l.dataAreaId === area && l.JournalBatchNumber === batch);

    /** The checks F&O runs when a payment journal line is written; fills in what F&O defaults. All THIN / [~]. */
    const checkPaymentLine = (d: EntityDef, r: StoredRecord, values: Record<string, unknown>) => {
      const area = String(r.dataAreaId);
      const journal = find("CustomerPaymentJournalHeaders", { dataAreaId: area, JournalBatchNumber: r.JournalBatchNumber });
      if (!journal) throw writeFailed(d, `Journal ${r.JournalBatchNumber} does not exist.`);
      if (journal.IsPosted === "Yes") throw writeFailed(d, `Journal ${r.JournalBatchNumber} is posted and cannot be changed.`);
      r.AccountType ||= "Cust";
      if (r.AccountType !== "Cust") throw writeFailed(d, `Account type ${r.AccountType} cannot be used in a customer payment journal.`);
      const customer = find("CustomersV3", { dataAreaId: area, CustomerAccount: r.AccountDisplayValue });
      if (!customer) throw writeFailed(d, `Account number '${r.AccountDisplayValue}' for transaction type Customer does not exist.`);
      r.CustomerName = customer.OrganizationName;
      r.CurrencyCode ||= customer.SalesCurrencyCode || "USD";
      if (!CURRENCIES.has(String(r.CurrencyCode))) throw writeFailed(d, `The value '${r.CurrencyCode}' in field 'Currency' is not found in the relating table 'Currency'.`);
      const credit = r.CreditAmount as number;
      const debit = r.DebitAmount as number;
      if (credit < 0 || debit < 0 || (credit > 0) === (debit > 0)) throw writeFailed(d, "Enter either a debit amount or a credit amount on the line; amounts cannot be negative.");
      const proposed = JOURNAL_NAMES[String(journal.JournalName)]!;
      if (!values.OffsetAccountType && !values.OffsetAccountDisplayValue) Object.assign(r, { OffsetAccountType: proposed.offsetType, OffsetAccountDisplayValue: proposed.offset });
      r.OffsetAccountType ||= "Ledger";
      if (r.OffsetAccountType === "Bank" && !BANK_ACCOUNTS.has(String(r.OffsetAccountDisplayValue))) throw writeFailed(d, `Account number '${r.OffsetAccountDisplayValue}' for transaction type Bank does not exist.`);
      if (r.PaymentMethodName && !PAYMENT_METHODS.has(String(r.PaymentMethodName))) throw writeFailed(d, `The value '${r.PaymentMethodName}' in field 'Method of payment' is not found in the relating table 'Methods of payment - customers'.`);
      r.TransactionDate ||= new Date().toISOString().slice(0, 10) + "T12:00:00Z";
      if (r.MarkedInvoice) {
        const invoiceArea = company(r.MarkedInvoiceCompany || area);
        r.MarkedInvoiceCompany = invoiceArea;
        const invoice = find("SalesInvoiceHeaders", { dataAreaId: invoiceArea, InvoiceNumber: r.MarkedInvoice });
        if (!invoice || invoice.InvoiceCustomerAccountNumber !== r.AccountDisplayValue || openAmount(invoice) <= 0) throw writeFailed(d, `Invoice ${r.MarkedInvoice} is not an open transaction for customer account ${r.AccountDisplayValue}.`);
        if (invoice.CurrencyCode !== r.CurrencyCode) throw writeFailed(d, `The currency ${r.CurrencyCode} of the payment differs from the currency ${invoice.CurrencyCode} of invoice ${r.MarkedInvoice}.`);
        // An open transaction is marked by one journal line at a time, until that journal is posted.
        const marked = k.store.all("CustomerPaymentJournalLines").find((l) => l.MarkedInvoice === r.MarkedInvoice && l.MarkedInvoiceCompany === invoiceArea && find("CustomerPaymentJournalHeaders", l)?.IsPosted !== "Yes");
        if (marked) throw writeFailed(d, `Invoice ${r.MarkedInvoice} is already marked for settlement in journal ${marked.JournalBatchNumber}.`);
      }
      const siblings = linesOf(area, r.JournalBatchNumber);
      r.LineNumber ||= siblings.reduce((max, l) => Math.max(max, l.LineNumber as number), 0) + 1;
      // The key decides "already exists" before a voucher number is drawn.
      if (!find("CustomerPaymentJournalLines", r)) r.Voucher = `ARP-${String(++numbers.voucher).padStart(6, "0")}`;
    };

    /** Posts a payment journal as F&O's posting (a user or a batch job) would: every marked invoice is settled. */
    const postJournal = (area: string, batch: string): StoredRecord => {
      const d = def("CustomerPaymentJournalHeaders");
      const journal = find("CustomerPaymentJournalHeaders", { dataAreaId: area, JournalBatchNumber: batch });
      if (!journal) throw writeFailed(d, `Journal ${batch} does not exist.`);
      if (journal.IsPosted === "Yes") throw writeFailed(d, `Journal ${batch} is already posted.`);
      const lines = linesOf(area, batch);
      if (lines.length === 0) throw writeFailed(d, `Journal ${batch} has no lines to post.`);
      for (const line of lines.filter((l) => l.MarkedInvoice)) {
        const invoice = find("SalesInvoiceHeaders", { dataAreaId: line.MarkedInvoiceCompany, InvoiceNumber: line.MarkedInvoice })!;
        const amount = Math.min(line.CreditAmount as number, openAmount(invoice));
        k.store.insert("CustSettlement", `${area}|${batch}|${line.LineNumber}`, { dataAreaId: invoice.dataAreaId, InvoiceNumber: invoice.InvoiceNumber, JournalBatchNumber: batch, LineNumber: line.LineNumber, Voucher: line.Voucher, SettleAmount: round2(amount), CurrencyCode: line.CurrencyCode, TransactionDate: line.TransactionDate });
      }
      journal.IsPosted = "Yes";
      stamp(journal);
      return journal;
    };

    const create = (entity: string, values: Record<string, unknown>, seed = false): StoredRecord => {
      const d = def(entity);
      const area = company(values.dataAreaId);
      const r: StoredRecord = { ...Object.fromEntries(Object.entries(d.fields).map(([f, kind]) => [f, kind === "number" ? 0 : ""])), ...values, dataAreaId: area };
      for (const req of d.required) if (r[req] === "" || r[req] === null) throw writeFailed(d, `Field '${req}' must be filled in.`);
      if (entity === "CustomersV3") {
        if (!CUSTOMER_GROUPS.has(String(r.CustomerGroupId))) throw writeFailed(d, `The value '${r.CustomerGroupId}' in field 'Customer group' is not found in the relating table 'Customer groups'.`);
        if (r.SalesCurrencyCode && !CURRENCIES.has(String(r.SalesCurrencyCode))) throw writeFailed(d, `The value '${r.SalesCurrencyCode}' in field 'Currency' is not found in the relating table 'Currency'.`);
        r.CustomerAccount ||= `${area.toUpperCase().slice(0, 2)}-${String(900 + ++numbers.customer).padStart(3, "0")}`; // [~] number sequence
      }
      if (entity === "SalesOrderHeadersV2") {
        const customer = find("CustomersV3", { dataAreaId: area, CustomerAccount: r.OrderingCustomerAccountNumber });
        if (!customer) throw writeFailed(d, `Customer account ${r.OrderingCustomerAccountNumber} does not exist.`); // [~]
        Object.assign(r, { SalesOrderNumber: r.SalesOrderNumber || String(++numbers.order).padStart(6, "0"), InvoiceCustomerAccountNumber: r.InvoiceCustomerAccountNumber || customer.CustomerAccount, CurrencyCode: r.CurrencyCode || customer.SalesCurrencyCode, SalesOrderName: r.SalesOrderName || customer.OrganizationName, SalesOrderStatus: "Backorder", SalesOrderProcessingStatus: "None", OrderCreationDateTime: new Date().toISOString() });
      }
      if (entity === "SalesOrderLines") {
        const header = find("SalesOrderHeadersV2", { dataAreaId: area, SalesOrderNumber: r.SalesOrderNumber });
        if (!header) throw writeFailed(d, `Sales order ${r.SalesOrderNumber} does not exist.`); // [~]
        if (header.SalesOrderStatus === "Invoiced") throw writeFailed(d, `Sales order ${r.SalesOrderNumber} is invoiced and cannot be changed.`); // [~]
        const item = find("ReleasedProductsV2", { dataAreaId: area, ItemNumber: r.ItemNumber });
        if (!item) throw writeFailed(d, `Item number ${r.ItemNumber} does not exist.`); // [~]
        const siblings = k.store.all("SalesOrderLines").filter((l) => l.dataAreaId === area && l.SalesOrderNumber === r.SalesOrderNumber);
        Object.assign(r, { InventoryLotId: `${area.toUpperCase()}-${String(++numbers.lot).padStart(6, "0")}`, LineNumber: r.LineNumber || siblings.length + 1, LineDescription: r.LineDescription || item.ProductName, SalesPrice: values.SalesPrice ?? item.SalesPrice, SalesUnitSymbol: r.SalesUnitSymbol || item.SalesUnitSymbol, SalesOrderLineStatus: "Backorder" });
        priceLine(r);
      }
      if (entity === "ReleasedProductsV2") r.SalesUnitSymbol ||= "ea";
      if (entity === "CustomerPaymentJournalHeaders") {
        if (!JOURNAL_NAMES[String(r.JournalName)]) throw writeFailed(d, `The value '${r.JournalName}' in field 'Name' is not found in the relating table 'Journal names'.`); // [~]
        Object.assign(r, { JournalBatchNumber: r.JournalBatchNumber || String(++numbers.journal).padStart(6, "0"), IsPosted: "No", OverrideSalesTax: r.OverrideSalesTax || "No" }); // [~] number sequence
      }
      if (entity === "CustomerPaymentJournalLines") checkPaymentLine(d, r, values);
      if (find(entity, r)) throw writeFailed(d, `Cannot create a record in ${d.table}. The record already exists.`);
      return store(entity, r, seed);
    };

    /** Bills an order: the invoice header and lines, and the order's status becomes Invoiced. */
    const invoice = (area: string, orderNumber: string, seed = false): StoredRecord => {
      const order = find("SalesOrderHeadersV2", { dataAreaId: area, SalesOrderNumber: orderNumber });
      if (!order) throw new Error(`no sales order ${area}/${orderNumber}`);
      const lines = k.store.all("SalesOrderLines").filter((l) => l.dataAreaId === area && l.SalesOrderNumber === orderNumber);
      const number = `CIV-${String(++numbers.invoice).padStart(6, "0")}`;
      lines.forEach((l, i) => {
        store("SalesInvoiceLines", { dataAreaId: area, InvoiceNumber: number, LineNumber: i + 1, ItemNumber: l.ItemNumber, InvoicedQuantity: l.OrderedSalesQuantity, SalesPrice: l.SalesPrice, LineAmount: l.LineAmount }, seed);
        l.SalesOrderLineStatus = "Invoiced";
      });
      Object.assign(order, { SalesOrderStatus: "Invoiced", SalesOrderProcessingStatus: "Invoiced" });
      stamp(order);
      return store("SalesInvoiceHeaders", { dataAreaId: area, InvoiceNumber: number, InvoiceDate: new Date().toISOString().slice(0, 10) + "T12:00:00Z", SalesOrderNumber: orderNumber, InvoiceCustomerAccountNumber: order.InvoiceCustomerAccountNumber, CustomersOrderReference: order.CustomersOrderReference, CurrencyCode: order.CurrencyCode, TotalInvoiceAmount: round2(lines.reduce((s, l) => s + (l.LineAmount as number), 0)), TotalTaxAmount: 0 }, seed);
    };

    // ---- reading ----------------------------------------------------------------------------------------------

    const present = (entity: string, r: StoredRecord, select?: string[]) => {
      const out: Record<string, unknown> = { "@odata.etag": r["@odata.etag"] };
      for (const f of select ?? Object.keys(def(entity).fields)) out[f] = r[f];
      return out;
    };

    /** Parses "(dataAreaId='usmf',CustomerAccount='US-001')" into key values. */
    const parseKey = (entity: string, text: string): Record<string, unknown> => {
      const d = def(entity);
      const pairs: Record<string, unknown> = {};
      for (const part of text.match(/(\w+)\s*=\s*('(?:[^']|'')*'|[^,]+)/g) ?? []) {
        const m = /^(\w+)\s*=\s*(.+)$/.exec(part)!;
        const raw = m[2]!.trim();
        pairs[m[1]!] = raw.startsWith("'") ? raw.slice(1, -1).replace(/''/g, "'") : Number(raw);
      }
      const missing = d.keys.filter((key) => pairs[key] === undefined);
      if (missing.length || Object.keys(pairs).length !== d.keys.length) throw fail(400, `The number of keys specified in the URI does not match number of key properties for the resource '${typeName(entity)}'.`); // [~]
      return pairs;
    };
    const mustFind = (entity: string, keyText: string): StoredRecord => {
      const r = find(entity, parseKey(entity, keyText));
      if (!r) throw fail(404, `No resource found for the key (${keyText}) in '${entity}'.`); // THIN
      return r;
    };

    const list = (req: SandboxRequest): Reply => {
      const entity = req.params.entity!;
      const d = def(entity);
      const select = req.query.get("$select")?.split(",").map((s) => s.trim()).filter(Boolean);
      for (const f of select ?? []) if (!d.fields[f]) throw noProperty(entity, f);
      const cross = req.query.get("cross-company") === "true";
      let rows = k.store.all(entity).filter((r) => cross || r.dataAreaId === defaultCompany);
      const filterText = req.query.get("$filter");
      if (filterText) {
        // Enum literals must be typed: Microsoft.Dynamics.DataEntities.SalesStatus'Backorder'.
        for (const [field, e] of Object.entries(d.enums ?? {}))
          if (new RegExp(`\\b${field}\\s+(eq|ne)\\s+'`).test(filterText)) throw fail(400, `A binary operator with incompatible types was detected. Found operand types 'Microsoft.Dynamics.DataEntities.${e.type}' and 'Edm.String' for operator kind 'Equal'.`);
        let expr;
        try {
          expr = parseFilter(filterText.replace(/Microsoft\.Dynamics\.DataEntities\.\w+'((?:[^']|'')*)'/g, "'$1'"));
        } catch (e) {
          if (e instanceof FilterError) throw fail(400, e.message);
          throw e;
        }
        for (const f of filterFields(expr)) if (!d.fields[f]) throw noProperty(entity, f);
        rows = rows.filter((r) => evaluateFilter(expr, (f) => r[f]));
      }
      const orderby = req.query.get("$orderby");
      if (orderby) {
        const keys = orderby.split(",").map((p) => {
          const [field, dir] = p.trim().split(/\s+/);
          if (!d.fields[field!]) throw noProperty(entity, field!);
          return { field: field!, desc: dir?.toLowerCase() === "desc" };
        });
        rows.sort((a, b) => {
          for (const key of keys) {
            const x = a[key.field];
            const y = b[key.field];
            const c = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
            if (c) return key.desc ? -c : c;
          }
          return 0;
        });
      }
      const num = (n: string) => {
        const v = req.query.get(n);
        if (v !== null && !/^\d+$/.test(v)) throw fail(400, `Invalid value '${v}' for ${n} query option found.`);
        return v === null ? undefined : Number(v);
      };
      const total = rows.length;
      const skip = num("$skip") ?? 0;
      const top = num("$top");
      rows = rows.slice(skip, top === undefined ? undefined : skip + top);
      const asked = /odata\.maxpagesize=(\d+)/i.exec(req.header("prefer") ?? "");
      const pageSize = Math.max(1, Math.min(asked ? Number(asked[1]) : k.limits.maxPageSize!, k.limits.maxPageSize!));
      const token = req.query.get("$skiptoken");
      const from = token === null ? 0 : Number(token);
      if (!Number.isInteger(from) || from < 0) throw fail(400, "The skip token is not valid."); // [~]
      const body: Record<string, unknown> = { "@odata.context": `http://${req.header("host")}/data/$metadata#${entity}${select ? `(${select.join(",")})` : ""}` };
      if (req.query.get("$count") === "true") body["@odata.count"] = total;
      body.value = rows.slice(from, from + pageSize).map((r) => present(entity, r, select));
      if (from + pageSize < rows.length) {
        const [path, search = ""] = req.url.split("?");
        const kept = search.split("&").filter((p) => p && !/^(\$|%24)skiptoken=/i.test(p));
        body["@odata.nextLink"] = `http://${req.header("host")}${path}?${[...kept, `$skiptoken=${from + pageSize}`].join("&")}`;
      }
      return { status: 200, body };
    };

    const getOne = (req: SandboxRequest): Reply => {
      const entity = req.params.entity!;
      const r = mustFind(entity, req.params.key!);
      const select = req.query.get("$select")?.split(",").map((s) => s.trim()).filter(Boolean);
      for (const f of select ?? []) if (!def(entity).fields[f]) throw noProperty(entity, f);
      return { status: 200, body: { "@odata.context": `http://${req.header("host")}/data/$metadata#${entity}/$entity`, ...present(entity, r, select) } };
    };

    const post = (req: SandboxRequest): Reply => {
      const entity = req.params.entity!;
      const r = create(entity, checkBody(entity, req.json(), true));
      const key = def(entity).keys.map((key) => `${key}=${typeof r[key] === "number" ? r[key] : `'${r[key]}'`}`).join(",");
      return { status: 201, headers: { location: `http://${req.header("host")}/data/${entity}(${key})` }, body: { "@odata.context": `http://${req.header("host")}/data/$metadata#${entity}/$entity`, ...present(entity, r) } };
    };

    const checkEtag = (req: SandboxRequest, r: StoredRecord) => {
      const ifMatch = req.header("if-match");
      if (ifMatch && ifMatch !== "*" && ifMatch !== r["@odata.etag"]) throw fail(412, "The record has been changed by another user. Refresh the record and try again."); // THIN
    };

    const patch = (req: SandboxRequest): Reply => {
      const entity = req.params.entity!;
      const r = mustFind(entity, req.params.key!);
      checkEtag(req, r);
      const values = checkBody(entity, req.json(), false);
      const d = def(entity);
      if (entity === "CustomersV3" && values.CustomerGroupId !== undefined && !CUSTOMER_GROUPS.has(String(values.CustomerGroupId))) throw writeFailed(d, `The value '${values.CustomerGroupId}' in field 'Customer group' is not found in the relating table 'Customer groups'.`);
      if ((entity === "SalesOrderHeadersV2" || entity === "SalesOrderLines") && (r.SalesOrderStatus === "Invoiced" || r.SalesOrderLineStatus === "Invoiced")) throw writeFailed(d, "The order is invoiced and cannot be changed."); // [~]
      if (entity === "CustomerPaymentJournalHeaders" || entity === "CustomerPaymentJournalLines") {
        if (find("CustomerPaymentJournalHeaders", r)?.IsPosted === "Yes") throw writeFailed(d, `Journal ${r.JournalBatchNumber} is posted and cannot be changed.`); // [~]
        if (values.JournalName !== undefined && !JOURNAL_NAMES[String(values.JournalName)]) throw writeFailed(d, `The value '${values.JournalName}' in field 'Name' is not found in the relating table 'Journal names'.`); // [~]
        // THIN: a changed line is not checked again (amount, marked invoice); the adapter never changes one.
      }
      Object.assign(r, values);
      if (entity === "SalesOrderLines") priceLine(r);
      stamp(r);
      return { status: 204 };
    };

    const remove = (req: SandboxRequest): Reply => {
      const entity = req.params.entity!;
      const d = def(entity);
      if (d.readOnly) throw fail(405, `The entity '${entity}' is read-only.`); // THIN
      const r = mustFind(entity, req.params.key!);
      checkEtag(req, r);
      if (entity === "SalesOrderHeadersV2") {
        if (r.SalesOrderStatus === "Invoiced") throw new Halt(odataError(400, "An error has occurred.", { message: `Delete failed for table row of type '${d.table}'. Infolog: Error: The order is invoiced and cannot be deleted.`, type: "Microsoft.Dynamics.Platform.Integration.Services.OData.AxODataDeleteException" })); // [~]
        for (const l of k.store.all("SalesOrderLines").filter((x) => x.dataAreaId === r.dataAreaId && x.SalesOrderNumber === r.SalesOrderNumber)) k.store.delete("SalesOrderLines", keyOf("SalesOrderLines", l));
      }
      if (entity === "CustomerPaymentJournalHeaders" || entity === "CustomerPaymentJournalLines") {
        if (find("CustomerPaymentJournalHeaders", r)?.IsPosted === "Yes") throw new Halt(odataError(400, "An error has occurred.", { message: `Delete failed for table row of type '${d.table}'. Infolog: Error: Journal ${r.JournalBatchNumber} is posted and cannot be deleted.`, type: "Microsoft.Dynamics.Platform.Integration.Services.OData.AxODataDeleteException" })); // [~]
        // Deleting a journal deletes its lines (and with them their invoice marks).
        if (entity === "CustomerPaymentJournalHeaders") for (const l of linesOf(String(r.dataAreaId), r.JournalBatchNumber)) k.store.delete("CustomerPaymentJournalLines", keyOf("CustomerPaymentJournalLines", l));
      }
      k.store.delete(entity, keyOf(entity, r));
      return { status: 204 };
    };

    const routes: Route[] = [
      { method: "POST", path: "/:tenant/oauth2/v2.0/token", handler: entraToken(k, { tenantId, clientId, clientSecret: options.clientSecret ?? DYNAMICS_FO_DEFAULTS.clientSecret, resource: (req) => options.environmentUrl ?? `http://${req.header("host")}`, lifetimeLimit: "tokenLifetimeSeconds" }), public: true },
      { method: "GET", path: /^\/data\/(?<entity>\w+)$/, handler: list },
      { method: "POST", path: /^\/data\/(?<entity>\w+)$/, handler: post },
      { method: "GET", path: /^\/data\/(?<entity>\w+)\((?<key>[^)]*)\)$/, handler: getOne },
      { method: "PATCH", path: /^\/data\/(?<entity>\w+)\((?<key>[^)]*)\)$/, handler: patch },
      { method: "DELETE", path: /^\/data\/(?<entity>\w+)\((?<key>[^)]*)\)$/, handler: remove },
    ];

    const seed = (): void => {
      const area = defaultCompany;
      create("CustomersV3", { dataAreaId: area, CustomerAccount: "C-1001", OrganizationName: "Globex GmbH", CustomerGroupId: "30", SalesCurrencyCode: "EUR", PrimaryContactEmail: "ap@globex.example", AddressCity: "Berlin", AddressZipCode: "10117", AddressCountryRegionId: "DEU" }, true);
      create("CustomersV3", { dataAreaId: area, CustomerAccount: "C-1002", OrganizationName: "Umbrella Corp", CustomerGroupId: "10", SalesCurrencyCode: "USD", PrimaryContactEmail: "billing@umbrella.example", AddressCountryRegionId: "USA" }, true);
      create("CustomersV3", { dataAreaId: "demf", CustomerAccount: "DE-001", OrganizationName: "Contoso Europe", CustomerGroupId: "20", SalesCurrencyCode: "EUR", AddressCountryRegionId: "DEU" }, true);
      for (const [ItemNumber, ProductName, SalesPrice] of [["WID-1", "Widget", 9.995], ["GAD-2", "Gadget", 150], ["SUP-12", "Support plan", 250]] as const) create("ReleasedProductsV2", { dataAreaId: area, ItemNumber, ProductName, SalesPrice }, true);
      const so = create("SalesOrderHeadersV2", { dataAreaId: area, OrderingCustomerAccountNumber: "C-1001", CustomersOrderReference: "PO-77" }, true);
      create("SalesOrderLines", { dataAreaId: area, SalesOrderNumber: so.SalesOrderNumber, ItemNumber: "GAD-2", OrderedSalesQuantity: 4 }, true);
      create("SalesOrderLines", { dataAreaId: area, SalesOrderNumber: so.SalesOrderNumber, ItemNumber: "WID-1", OrderedSalesQuantity: 10 }, true);
      const billed = create("SalesOrderHeadersV2", { dataAreaId: area, OrderingCustomerAccountNumber: "C-1001", CustomersOrderReference: "PO-76" }, true);
      create("SalesOrderLines", { dataAreaId: area, SalesOrderNumber: billed.SalesOrderNumber, ItemNumber: "GAD-2", OrderedSalesQuantity: 1 }, true);
      invoice(area, billed.SalesOrderNumber as string, true);
    };

    return {
      vendor: "dynamics-fo",
      routes,
      before(req) {
        const t = k.tokens.check(bearer(req));
        // [~] F&O answers a missing or expired token with an empty 401.
        if (!t || t === "expired") return { status: 401, headers: { "www-authenticate": `Bearer realm="${req.header("host")}", error="invalid_token"` } };
        req.principal = t.subject;
        const w = windowFor(t.subject);
        if (w.count() >= k.limits.windowRequests!) return throttled(Math.max(1, Math.ceil(w.msUntilBelow(k.limits.windowRequests!) / 1000)));
        w.add();
        return undefined;
      },
      decorate(_req, reply) {
        reply.headers = { "odata-version": "4.0", ...reply.headers };
      },
      serverError: (status) => odataError(status, status === 503 ? "The service is temporarily unavailable." : "An error has occurred.", { message: "An unexpected error occurred.", type: "System.Exception" }), // THIN
      throttled: () => throttled(5),
      malformedBody: () => odataError(400, "The request body is not valid JSON."), // [~]
      notFound: (req) => odataError(404, `No HTTP resource was found that matches the request URI '${req.path}'.`), // [~]
      concurrency: {
        limit: () => k.limits.concurrentRequests!,
        refused: () => odataError(429, `Number of concurrent requests exceeded the limit of ${k.limits.concurrentRequests}.`, undefined, { "retry-after": "1" }), // THIN
      },
      seedRecord(type, input) {
        const counted = { ...k.store.created };
        try {
          if (type === "SalesInvoiceHeaders") return invoice(company(input.dataAreaId), String(input.SalesOrderNumber));
          // Stands in for F&O's own posting of a journal (a user or a batch job): no OData action does it.
          if (type === "CustomerPaymentJournalHeaders" && input.IsPosted === "Yes") return postJournal(company(input.dataAreaId), String(input.JournalBatchNumber));
          def(type);
          return create(type, input, true);
        } catch (e) {
          if (e instanceof Halt) throw new Error(JSON.stringify(e.reply.body));
          throw e;
        } finally {
          k.store.created = counted;
        }
      },
      reset() {
        windows.clear();
        version = 0;
        Object.assign(numbers, { customer: 0, order: 0, lot: 0, invoice: 0, journal: 0, voucher: 0 });
        if (options.seed ?? true) seed();
      },
    };
  });
}
