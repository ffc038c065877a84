// SAP S/4HANA Cloud OData V2 sandbox, written from erp-crm-wire.md §5 (not from Keelson's adapter).
// Models: Basic auth of a communication user, the CSRF token + session cookie handshake (403 with
// "x-csrf-token: Required"), API_SALES_ORDER_SRV A_SalesOrder deep insert (201 + location + {d:…}), reads with
// $filter / $select / $expand / $orderby / $top / $skip / $inlinecount, ETag-guarded header updates, sap-message
// warnings, API_BUSINESS_PARTNER partners and customers, API_BILLING_DOCUMENT_SRV invoices (read), $batch with changesets,
// and the V2 error JSON. Not modelled: Atom XML (only JSON is served), OAuth / X.509.
// Incoming payments (communication scenario SAP_COM_0002, "Finance - Posting Integration"): the SOAP service
// Journal Entry - Post (Synchronous) (JournalEntryCreateRequestConfirmation_In) posts the payment as a journal
// entry (bank G/L item + customer item), and Journal Entry - Clearing (Asynchronous)
// (JournalEntryBulkClearingRequest_In) clears it against the invoice's open item later: 202 at once, the result
// only in the message monitor and in the items' clearing fields. Every billing document is posted to FI (an RV
// journal entry with a customer open item); API_OPLACCTGDOCITEMCUBE_SRV reads the items. Sources: SAP's blog
// series on the Journal Entry APIs (posting is one API, clearing another; the Clearing API cannot post), SAP
// Business Accelerator Hub names, the API_OPLACCTGDOCITEMCUBE_SRV metadata, and public integration code with
// real confirmations (Log items TypeID / SeverityCode / Note, a blank document number on failure). THIN: message
// numbers other than RW/609, F5/102, F5/507 (see [~]), number ranges, the SOAP fault text, the delay of the
// asynchronous clearing, partial clearing (not modelled).
import { randomBytes, randomUUID } from "node:crypto";
import { Halt, SlidingWindow, basicAuth, serve, type Kernel, type Reply, type Route, type RunningSandbox, type SandboxRequest, type StartOptions, type StoredRecord } from "./kernel";
import { runBatch } from "./odata-batch";
import { evaluateFilter, FilterError, filterFields, parseFilter } from "./odata-filter";

export const SAP_LIMITS = {
  /** THIN: S/4HANA Cloud publishes no rate limit; 0 = unlimited. Tests set one to see the gateway's spike arrest. */
  requestsPerSecond: 0,
  /** How long a CSRF token / session stays valid [~]. */
  sessionLifetimeSeconds: 1800,
  /** THIN: how long an asynchronous clearing message waits in the queue before it is processed. */
  clearingDelayMs: 50,
};

export interface SapOptions extends StartOptions {
  /** Communication user of the communication arrangement (SAP_COM_0109 / 0008 / 0120). */
  user?: string;
  password?: string;
  seed?: boolean;
}

const ODATA = "/sap/opu/odata/sap";
const SERVICES = { salesOrder: "API_SALES_ORDER_SRV", businessPartner: "API_BUSINESS_PARTNER", billing: "API_BILLING_DOCUMENT_SRV", journalItems: "API_OPLACCTGDOCITEMCUBE_SRV" } as const;
/** SOAP services of SAP_COM_0002 on the -api host; S/4HANA Cloud shortens the service names to 30 characters. */
const SOAP = "/sap/bc/srt/scs_ext/sap";
const JOURNAL_ENTRY_POST = `${SOAP}/journalentrycreaterequestconfi`;
const JOURNAL_ENTRY_CLEARING = `${SOAP}/journalentrybulkclearingreques`;

interface EntitySet {
  service: string;
  type: string;
  key: string;
  fields: Record<string, "string" | "decimal" | "date" | "datetimeoffset" | "boolean">;
  /** Navigation properties → entity set holding the children and the child's field pointing back; single = 0..1. */
  navs: Record<string, { set: string; back: string; single?: boolean }>;
  component: string;
}

const SETS: Record<string, EntitySet> = {
  A_SalesOrder: {
    service: SERVICES.salesOrder,
    type: "API_SALES_ORDER_SRV.A_SalesOrderType",
    key: "SalesOrder",
    fields: { SalesOrder: "string", SalesOrderType: "string", SalesOrganization: "string", DistributionChannel: "string", OrganizationDivision: "string", SoldToParty: "string", PurchaseOrderByCustomer: "string", CustomerPurchaseOrderDate: "date", SalesOrderDate: "date", RequestedDeliveryDate: "date", TotalNetAmount: "decimal", TransactionCurrency: "string", OverallSDProcessStatus: "string", OverallTotalDeliveryStatus: "string", HeaderBillingBlockReason: "string", DeliveryBlockReason: "string", CreatedByUser: "string", CreationDate: "date", LastChangeDateTime: "datetimeoffset" },
    navs: { to_Item: { set: "A_SalesOrderItem", back: "SalesOrder" } },
    component: "SD-SLS-API",
  },
  A_SalesOrderItem: {
    service: SERVICES.salesOrder,
    type: "API_SALES_ORDER_SRV.A_SalesOrderItemType",
    key: "SalesOrderItem",
    fields: { SalesOrder: "string", SalesOrderItem: "string", Material: "string", MaterialByCustomer: "string", SalesOrderItemText: "string", RequestedQuantity: "decimal", RequestedQuantityUnit: "string", NetAmount: "decimal", TransactionCurrency: "string" },
    navs: {},
    component: "SD-SLS-API",
  },
  A_BusinessPartner: {
    service: SERVICES.businessPartner,
    type: "API_BUSINESS_PARTNER.A_BusinessPartnerType",
    key: "BusinessPartner",
    fields: { BusinessPartner: "string", Customer: "string", BusinessPartnerCategory: "string", BusinessPartnerFullName: "string", OrganizationBPName1: "string", OrganizationBPName2: "string", SearchTerm1: "string", SearchTerm2: "string", CreationDate: "date", LastChangeDate: "date" },
    navs: { to_Customer: { set: "A_Customer", back: "Customer", single: true } },
    component: "LO-MD-BP",
  },
  A_Customer: {
    service: SERVICES.businessPartner,
    type: "API_BUSINESS_PARTNER.A_CustomerType",
    key: "Customer",
    fields: { Customer: "string", CustomerName: "string", CustomerFullName: "string", CustomerAccountGroup: "string", CreationDate: "date" },
    navs: {},
    component: "LO-MD-BP",
  },
  A_BillingDocument: {
    service: SERVICES.billing,
    type: "API_BILLING_DOCUMENT_SRV.A_BillingDocumentType",
    key: "BillingDocument",
    fields: { BillingDocument: "string", BillingDocumentType: "string", SoldToParty: "string", PayerParty: "string", BillingDocumentDate: "date", TotalNetAmount: "decimal", TaxAmount: "decimal", TotalGrossAmount: "decimal", TransactionCurrency: "string", OverallBillingStatus: "string", AccountingPostingStatus: "string", InvoiceClearingStatus: "string", BillingDocumentIsCancelled: "string", PurchaseOrderByCustomer: "string", CompanyCode: "string", FiscalYear: "string", AccountingDocument: "string", LastChangeDateTime: "datetimeoffset" },
    navs: { to_Item: { set: "A_BillingDocumentItem", back: "BillingDocument" } },
    component: "SD-BIL-API",
  },
  A_BillingDocumentItem: {
    service: SERVICES.billing,
    type: "API_BILLING_DOCUMENT_SRV.A_BillingDocumentItemType",
    key: "BillingDocumentItem",
    fields: { BillingDocument: "string", BillingDocumentItem: "string", Material: "string", BillingQuantity: "decimal", NetAmount: "decimal", TransactionCurrency: "string", ReferenceSDDocument: "string", ReferenceSDDocumentItem: "string", SalesDocument: "string" },
    navs: {},
    component: "SD-BIL-API",
  },
  // Read-only; the fields this sandbox fills, named and typed as in the service's metadata.
  A_OperationalAcctgDocItemCube: {
    service: SERVICES.journalItems,
    type: "API_OPLACCTGDOCITEMCUBE_SRV.A_OperationalAcctgDocItemCubeType",
    key: "AccountingDocumentItem",
    fields: { CompanyCode: "string", FiscalYear: "string", AccountingDocument: "string", AccountingDocumentItem: "string", AccountingDocumentType: "string", PostingDate: "date", DocumentDate: "date", DocumentReferenceID: "string", AccountingDocumentHeaderText: "string", FinancialAccountType: "string", Customer: "string", GLAccount: "string", DebitCreditCode: "string", AmountInTransactionCurrency: "decimal", TransactionCurrency: "string", AssignmentReference: "string", DocumentItemText: "string", BillingDocument: "string", ClearingAccountingDocument: "string", ClearingDate: "date", ClearingDocFiscalYear: "string", IsCleared: "boolean" },
    navs: {},
    component: "FI-GL-IS",
  },
};

/** Company codes and their currency, the sandbox's chart of accounts (YCOA) and the FI document types it posts. */
const COMPANY_CODES: Record<string, string> = { "1010": "EUR", "1710": "USD" };
const GL_ACCOUNTS: Record<string, { text: string; reconciliation?: boolean }> = { "0011001000": { text: "Bank 1 (Main Account)" }, "0011002000": { text: "Bank 2 (Incoming Payments)" }, "0012100000": { text: "Receivables Domestic", reconciliation: true }, "0041000000": { text: "Revenue Domestic" }, "0022000000": { text: "Output Tax" } };
const RECEIVABLES = "0012100000";
const DOCUMENT_TYPES = ["SA", "DZ", "DA", "AB", "RV"];

/** Materials the sandbox's pricing knows (net price per piece). */
const MATERIALS: Record<string, { text: string; price: number }> = { TG11: { text: "Trading Good 11", price: 12.5 }, TG12: { text: "Trading Good 12", price: 7.25 }, "WID-1": { text: "Widget", price: 9.995 }, "GAD-2": { text: "Gadget", price: 150 } };
const SALES_AREA = { SalesOrganization: "1010", DistributionChannel: "10", OrganizationDivision: "00" };

const sapDate = (ms: number) => `/Date(${Date.UTC(new Date(ms).getUTCFullYear(), new Date(ms).getUTCMonth(), new Date(ms).getUTCDate())})/`;
const sapDateTimeOffset = (ms: number) => `/Date(${ms}+0000)/`;
/** "/Date(ms)/" and "/Date(ms+0000)/" as ISO, for filtering and sorting. */
const isoOf = (v: unknown) => {
  const m = typeof v === "string" ? /^\/Date\((-?\d+)([+-]\d{4})?\)\/$/.exec(v) : null;
  return m ? new Date(Number(m[1])).toISOString() : v;
};

/** Credentials the sandbox accepts unless start() is given others. */
export const SAP_DEFAULTS = { user: "KEELSON_COMM", password: "keelson-sandbox-password" };

export async function start(options: SapOptions = {}): Promise<RunningSandbox> {
  const user = options.user ?? SAP_DEFAULTS.user;
  const password = options.password ?? SAP_DEFAULTS.password;

  return serve(SAP_LIMITS, options, (k: Kernel) => {
    let orderNumber = 1000013600;
    let partnerNumber = 10100000;
    let billingNumber = 90000000;
    // FI number ranges per document type [~]: invoices (RV) 94…, payments (DZ, SA…) 14…, clearing (AB) 01….
    const FI_START = { RV: 9400000000, DZ: 1400000000, AB: 100000000 };
    const fiNumbers = { ...FI_START };
    let clearingMessages = 0;
    const rate = new SlidingWindow(() => 1000);

    const error = (status: number, code: string, message: string, set?: EntitySet, details: { code: string; message: string; target?: string; severity?: string }[] = []): Halt =>
      new Halt({
        status,
        body: {
          error: {
            code,
            message: { lang: "en", value: message },
            innererror: {
              application: { component_id: set?.component ?? "", service_namespace: "/SAP/", service_id: set?.service ?? "", service_version: "0001" },
              transactionid: randomBytes(16).toString("hex").toUpperCase(),
              timestamp: new Date().toISOString().replace(/[-:T]/g, "").replace("Z", "0000").replace(/\.(\d{3})/, ".$1"),
              Error_Resolution: { SAP_Transaction: "For backend administrators: use ADT feed reader \"SAP Gateway Error Log\" or run transaction /IWFND/ERROR_LOG on SAP Gateway hub system and search for entries with the timestamp above for more details", SAP_Note: "See SAP Note 1797736 for error analysis (https://service.sap.com/sap/support/notes/1797736)" },
              errordetails: [{ code, message, propertyref: "", severity: "error", target: "" }, ...details.map((d) => ({ code: d.code, message: d.message, propertyref: "", severity: d.severity ?? "error", target: d.target ?? "" }))],
            },
          },
        },
      });

    const setOf = (req: SandboxRequest): EntitySet => {
      const s = SETS[req.params.set!];
      if (!s || s.service !== req.params.service) throw error(404, "/IWFND/MED/170", `No service found for namespace '/SAP/', name '${req.params.service}', version '0001'`);
      return s;
    };
    const base = (req: SandboxRequest, service: string) => `http://${req.header("host")}${ODATA}/${service}`;
    const keyText = (set: EntitySet, r: StoredRecord) =>
      set === SETS.A_SalesOrderItem ? `SalesOrder='${r.SalesOrder}',SalesOrderItem='${r.SalesOrderItem}'`
      : set === SETS.A_BillingDocumentItem ? `BillingDocument='${r.BillingDocument}',BillingDocumentItem='${r.BillingDocumentItem}'`
      : set === SETS.A_OperationalAcctgDocItemCube ? `CompanyCode='${r.CompanyCode}',FiscalYear='${r.FiscalYear}',AccountingDocument='${r.AccountingDocument}',AccountingDocumentItem='${r.AccountingDocumentItem}'`
      : `'${r[set.key]}'`;
    const etag = (r: StoredRecord) => (typeof r.LastChangeDateTime === "string" ? `W/"datetimeoffset'${encodeURIComponent(String(isoOf(r.LastChangeDateTime)).replace("Z", "0000Z"))}'"` : undefined);

    const present = (req: SandboxRequest, setName: string, r: StoredRecord, select?: string[], expand: string[] = []): Record<string, unknown> => {
      const set = SETS[setName]!;
      const uri = `${base(req, set.service)}/${setName}(${keyText(set, r)})`;
      const out: Record<string, unknown> = { __metadata: { id: uri, uri, type: set.type, ...(etag(r) ? { etag: etag(r) } : {}) } };
      for (const f of Object.keys(set.fields)) if (!select || select.includes(f)) out[f] = r[f] ?? (set.fields[f] === "decimal" ? "0" : set.fields[f] === "boolean" ? false : set.fields[f] === "date" ? null : "");
      for (const [nav, rel] of Object.entries(set.navs)) {
        const children = () => k.store.all(rel.set).filter((c) => c[rel.back] === r[set.key]).map((c) => present(req, rel.set, c));
        if (expand.includes(nav)) out[nav] = rel.single ? (children()[0] ?? null) : { results: children() };
        else if (!select) out[nav] = { __deferred: { uri: `${uri}/${nav}` } };
      }
      return out;
    };

    // ---- handlers ---------------------------------------------------------------------------------------------

    /** JSON only: OData V2 defaults to Atom XML, which the sandbox does not produce. */
    const wantsJson = (req: SandboxRequest) => req.query.get("$format") === "json" || /application\/json/i.test(req.header("accept") ?? "");
    const requireJson = (req: SandboxRequest) => {
      if (!wantsJson(req)) throw error(406, "SANDBOX/ATOM", "This sandbox serves JSON only: send Accept: application/json or $format=json (the real service would answer Atom XML).");
    };

    const serviceRoot = (req: SandboxRequest): Reply => {
      const service = req.params.service!;
      if (!Object.values(SERVICES).includes(service as never)) throw error(404, "/IWFND/MED/170", `No service found for namespace '/SAP/', name '${service}', version '0001'`);
      const sets = Object.entries(SETS).filter(([, s]) => s.service === service).map(([n]) => n);
      return { status: 200, body: { d: { EntitySets: sets } } };
    };

    const list = (req: SandboxRequest): Reply => {
      requireJson(req);
      const set = setOf(req);
      const setName = req.params.set!;
      const select = req.query.get("$select")?.split(",").map((s) => s.trim()).filter(Boolean);
      const expand = req.query.get("$expand")?.split(",").map((s) => s.trim()).filter(Boolean) ?? [];
      for (const f of select ?? []) if (!set.fields[f] && !set.navs[f]) throw error(400, "/IWBEP/CM_MGW_RT/022", `Property '${f}' not found in type '${set.type}'.`, set); // [~]
      for (const n of expand) if (!set.navs[n]) throw error(400, "/IWBEP/CM_MGW_RT/021", `Navigation property '${n}' not found in type '${set.type}'.`, set); // [~]
      let rows = k.store.all(setName);
      const filter = req.query.get("$filter");
      if (filter) {
        let expr;
        try {
          expr = parseFilter(filter);
        } catch (e) {
          if (e instanceof FilterError) throw error(400, "/IWBEP/CM_MGW_RT/004", `Invalid filter expression: '${filter}'.`, set); // [~]
          throw e;
        }
        for (const f of filterFields(expr)) if (!set.fields[f]) throw error(400, "/IWBEP/CM_MGW_RT/022", `Property '${f}' not found in type '${set.type}'.`, set);
        rows = rows.filter((r) => evaluateFilter(expr, (f) => isoOf(r[f])));
      }
      const orderby = req.query.get("$orderby");
      if (orderby) {
        const order = orderby.split(",").map((p) => p.trim().split(/\s+/));
        rows = [...rows].sort((a, b) => {
          for (const [f, dir] of order) {
            const x = String(isoOf(a[f!]) ?? "");
            const y = String(isoOf(b[f!]) ?? "");
            const d = set.fields[f!] === "decimal" ? Number(x) - Number(y) : x.localeCompare(y);
            if (d) return dir?.toLowerCase() === "desc" ? -d : d;
          }
          return 0;
        });
      }
      const count = rows.length;
      const skip = Number(req.query.get("$skip") ?? 0);
      const top = req.query.get("$top");
      rows = rows.slice(skip, top === null ? undefined : skip + Number(top));
      const d: Record<string, unknown> = { results: rows.map((r) => present(req, setName, r, select, expand)) };
      if (req.query.get("$inlinecount") === "allpages") d.__count = String(count);
      return { status: 200, body: { d } };
    };

    const findByKey = (req: SandboxRequest, set: EntitySet): StoredRecord => {
      const raw = req.params.key!;
      const single = /^'([^']*)'$/.exec(raw);
      const named = new Map([...raw.matchAll(/(\w+)='([^']*)'/g)].map((m) => [m[1]!, m[2]!]));
      const r = single ? k.store.all(req.params.set!).find((x) => x[set.key] === single[1]) : k.store.all(req.params.set!).find((x) => [...named].every(([f, v]) => x[f] === v) && named.size > 0);
      if (!r) throw error(404, "/IWBEP/CM_MGW_RT/020", `Resource not found for segment '${set.type.split(".")[1]}'.`, set); // [~]
      return r;
    };

    const getOne = (req: SandboxRequest): Reply => {
      requireJson(req);
      const set = setOf(req);
      const r = findByKey(req, set);
      const select = req.query.get("$select")?.split(",").map((s) => s.trim()).filter(Boolean);
      const expand = req.query.get("$expand")?.split(",").map((s) => s.trim()).filter(Boolean) ?? [];
      const tag = etag(r);
      return { status: 200, headers: tag ? { etag: tag } : {}, body: { d: present(req, req.params.set!, r, select, expand) } };
    };

    const getNav = (req: SandboxRequest): Reply => {
      requireJson(req);
      const set = setOf(req);
      const r = findByKey(req, set);
      const rel = set.navs[req.params.nav!];
      if (!rel) throw error(404, "/IWBEP/CM_MGW_RT/021", `Navigation property '${req.params.nav}' not found.`, set);
      const children = k.store.all(rel.set).filter((c) => c[rel.back] === r[set.key]).map((c) => present(req, rel.set, c));
      if (rel.single) {
        if (!children[0]) throw error(404, "/IWBEP/CM_MGW_RT/020", `Resource not found for segment '${req.params.nav}'.`, set); // [~]
        return { status: 200, body: { d: children[0] } };
      }
      return { status: 200, body: { d: { results: children } } };
    };

    const decimalString = (set: EntitySet, field: string, v: unknown): string => {
      // Edm.Decimal travels as a JSON string in OData V2 [~ strictness].
      if (typeof v !== "string" || !/^-?\d+(\.\d+)?$/.test(v)) throw error(400, "/IWBEP/CM_MGW_RT/000", `Failed to read property '${field}' at offset 0: a decimal must be a JSON string like "5".`, set);
      return v;
    };

    const checkFields = (set: EntitySet, body: Record<string, unknown>, allowedNavs: string[]): void => {
      for (const f of Object.keys(body)) {
        if (f === "__metadata" || allowedNavs.includes(f)) continue;
        if (!set.fields[f]) throw error(400, "/IWBEP/CM_MGW_RT/000", `Property '${f}' is invalid.`, set); // [~]
        if (set.fields[f] === "decimal" && body[f] !== undefined) decimalString(set, f, body[f]);
      }
    };

    /** Sales orders are created by deep insert only: header and items in one POST. */
    const createSalesOrder = (req: SandboxRequest): Reply => {
      requireJson(req);
      const set = SETS.A_SalesOrder!;
      const body = req.json() as Record<string, unknown>;
      if (!body || typeof body !== "object") throw error(400, "/IWBEP/CM_MGW_RT/000", "The request body must be a JSON object.", set);
      checkFields(set, body, ["to_Item", "to_Partner", "to_PricingElement", "to_Text"]);
      const required = ["SalesOrderType", "SalesOrganization", "DistributionChannel", "OrganizationDivision", "SoldToParty"];
      const missingFields = required.filter((f) => !body[f]);
      if (missingFields.length) throw error(400, "V1/384", `Enter ${missingFields.join(", ")}`, set, missingFields.map((f) => ({ code: "V1/384", message: `Field ${f} is required`, target: f }))); // [~] code
      const customer = k.store.all("A_BusinessPartner").find((bp) => bp.Customer === body.SoldToParty);
      if (!customer) throw error(400, "V1/302", `Sold-to party ${body.SoldToParty} not maintained for sales area ${body.SalesOrganization}/${body.DistributionChannel}/${body.OrganizationDivision}`, set); // [~] code
      if (body.SalesOrganization !== SALES_AREA.SalesOrganization) throw error(400, "V1/302", `Sales area ${body.SalesOrganization}/${body.DistributionChannel}/${body.OrganizationDivision} is not defined`, set); // [~]
      const rawItems = Array.isArray(body.to_Item) ? body.to_Item : (body.to_Item as { results?: unknown[] } | undefined)?.results;
      if (!rawItems?.length) throw error(400, "V1/555", "Sales document contains no items; create items by deep insert with the header", set); // [~] code and wording
      const itemSet = SETS.A_SalesOrderItem!;
      const salesOrder = String(++orderNumber);
      const now = Date.now();
      const currency = (body.TransactionCurrency as string) ?? (customer.Currency as string | undefined) ?? "EUR";
      const items = rawItems.map((raw, i) => {
        const it = raw as Record<string, unknown>;
        checkFields(itemSet, it, []);
        const material = MATERIALS[it.Material as string];
        if (!material) throw error(400, "V1/392", `Material ${String(it.Material)} does not exist`, set, [{ code: "V1/392", message: `Material ${String(it.Material)} does not exist`, target: `to_Item(${i})/Material` }]); // [~] code
        const qty = decimalString(itemSet, "RequestedQuantity", it.RequestedQuantity ?? "");
        return { SalesOrder: salesOrder, SalesOrderItem: String((i + 1) * 10), Material: it.Material, MaterialByCustomer: it.MaterialByCustomer ?? "", SalesOrderItemText: it.SalesOrderItemText ?? material.text, RequestedQuantity: qty, RequestedQuantityUnit: it.RequestedQuantityUnit ?? "PC", NetAmount: (Math.round(Number(qty) * material.price * 100) / 100).toFixed(2), TransactionCurrency: currency };
      });
      const warnings: { code: string; message: string }[] = [];
      const po = body.PurchaseOrderByCustomer as string | undefined;
      const twin = po ? k.store.all("A_SalesOrder").find((o) => o.SoldToParty === body.SoldToParty && o.PurchaseOrderByCustomer === po) : undefined;
      // [~] SAP warns (and still saves) when the customer's PO number was used before: the hook for duplicate checks.
      if (twin) warnings.push({ code: "V4/115", message: `Purchase order number ${po} already exists in sales order ${twin.SalesOrder}` });
      const header: StoredRecord = {
        SalesOrder: salesOrder, SalesOrderType: body.SalesOrderType, ...SALES_AREA, SoldToParty: body.SoldToParty, PurchaseOrderByCustomer: po ?? "", CustomerPurchaseOrderDate: body.CustomerPurchaseOrderDate ?? null,
        SalesOrderDate: sapDate(now), RequestedDeliveryDate: body.RequestedDeliveryDate ?? sapDate(now + 7 * 86_400_000), TotalNetAmount: items.reduce((s, i) => s + Number(i.NetAmount), 0).toFixed(2), TransactionCurrency: currency,
        OverallSDProcessStatus: "A", OverallTotalDeliveryStatus: "A", HeaderBillingBlockReason: "", DeliveryBlockReason: "", CreatedByUser: user, CreationDate: sapDate(now), LastChangeDateTime: sapDateTimeOffset(now),
      };
      k.store.insert("A_SalesOrder", salesOrder, header);
      for (const it of items) k.store.insert("A_SalesOrderItem", `${salesOrder}/${it.SalesOrderItem}`, it);
      const headers: Record<string, string> = { location: `${base(req, set.service)}/A_SalesOrder('${salesOrder}')`, dataserviceversion: "2.0" };
      if (warnings.length) headers["sap-message"] = JSON.stringify({ code: warnings[0]!.code, message: warnings[0]!.message, target: "", severity: "warning", transition: false, details: warnings.slice(1).map((w) => ({ ...w, target: "", severity: "warning", transition: false })) });
      return { status: 201, headers, body: { d: present(req, "A_SalesOrder", header, undefined, ["to_Item"]) } };
    };

    /** Header updates need the entity's ETag: 428 without If-Match, 412 when it is stale [~]. */
    const updateSalesOrder = (req: SandboxRequest): Reply => {
      const set = setOf(req);
      if (req.params.set !== "A_SalesOrder") throw error(405, "/IWBEP/CM_MGW_RT/000", "Method not allowed for this entity set.", set);
      const r = findByKey(req, set);
      const ifMatch = req.header("if-match");
      if (!ifMatch) throw error(428, "/IWBEP/CM_MGW_RT/000", "The request must be conditional: supply an If-Match header with the entity's ETag.", set);
      if (ifMatch !== "*" && ifMatch !== etag(r)) throw error(412, "/IWBEP/CM_MGW_RT/000", "The entity has been modified by another user: the ETag does not match.", set);
      const body = req.json() as Record<string, unknown>;
      checkFields(set, body, []);
      const editable = ["PurchaseOrderByCustomer", "CustomerPurchaseOrderDate", "RequestedDeliveryDate", "HeaderBillingBlockReason", "DeliveryBlockReason"];
      for (const f of Object.keys(body)) {
        if (f === "__metadata") continue;
        if (!editable.includes(f)) throw error(400, "/IWBEP/CM_MGW_RT/000", `Property '${f}' cannot be changed.`, set); // [~]
        r[f] = body[f];
      }
      // Keep the ETag strictly increasing even for two updates in the same millisecond.
      const last = Number(/\((\d+)/.exec(String(r.LastChangeDateTime))?.[1] ?? 0);
      r.LastChangeDateTime = sapDateTimeOffset(Math.max(Date.now(), last + 1));
      return { status: 204, headers: { dataserviceversion: "2.0" } };
    };

    /** A business partner in the customer role is also a customer (same number). */
    const storePartner = (bp: StoredRecord, seed: boolean): StoredRecord => {
      k.store.insert("A_BusinessPartner", bp.BusinessPartner as string, bp, { seed });
      if (bp.Customer) k.store.insert("A_Customer", bp.Customer as string, { Customer: bp.Customer, CustomerName: bp.OrganizationBPName1, CustomerFullName: bp.BusinessPartnerFullName ?? bp.OrganizationBPName1, CustomerAccountGroup: "CUST", CreationDate: bp.CreationDate }, { seed });
      return bp;
    };

    const createBusinessPartner = (req: SandboxRequest): Reply => {
      requireJson(req);
      const set = SETS.A_BusinessPartner!;
      const body = req.json() as Record<string, unknown>;
      checkFields(set, body ?? {}, ["to_BusinessPartnerRole", "to_Customer", "to_BusinessPartnerAddress"]);
      if (!body.BusinessPartnerCategory) throw error(400, "R11/401", "Enter a business partner category", set); // [~]
      if (body.BusinessPartnerCategory === "2" && !body.OrganizationBPName1) throw error(400, "R11/401", "Enter a name for the organization", set); // [~]
      const roles = ((body.to_BusinessPartnerRole as { results?: { BusinessPartnerRole?: string }[] } | undefined)?.results ?? (body.to_BusinessPartnerRole as { BusinessPartnerRole?: string }[] | undefined) ?? []).map((r) => r.BusinessPartnerRole);
      const number = String(++partnerNumber);
      const bp: StoredRecord = { BusinessPartner: number, Customer: roles.includes("FLCU01") || roles.includes("FLCU00") ? number : "", BusinessPartnerCategory: body.BusinessPartnerCategory, BusinessPartnerFullName: [body.OrganizationBPName1, body.OrganizationBPName2].filter(Boolean).join(" "), OrganizationBPName1: body.OrganizationBPName1 ?? "", OrganizationBPName2: body.OrganizationBPName2 ?? "", SearchTerm1: body.SearchTerm1 ?? "", SearchTerm2: body.SearchTerm2 ?? "", CreationDate: sapDate(Date.now()), LastChangeDate: sapDate(Date.now()) };
      storePartner(bp, false);
      return { status: 201, headers: { location: `${base(req, set.service)}/A_BusinessPartner('${number}')`, dataserviceversion: "2.0" }, body: { d: present(req, "A_BusinessPartner", bp) } };
    };

    /** $batch needs the CSRF token like any write; changesets are atomic, later parts still run after a failure [~]. */
    const batch = (req: SandboxRequest): Promise<Reply> =>
      runBatch({
        kernel: k,
        outer: req,
        serviceRoot: `${ODATA}/${req.params.service}`,
        maxRequests: 1000,
        stopOnError: false,
        badRequest: (message) => error(400, "/IWFND/CM_MGW/096", message), // [~] code
        malformedJson: () => error(400, "/IWBEP/CM_MGW_RT/000", "Malformed JSON in the request body.").reply,
        createdHeader: "location",
        versionHeader: ["DataServiceVersion", "2.0"],
        jsonContentType: "application/json",
      });

    // ---- FI: journal entries, their items, incoming payments and clearing (SAP_COM_0002) -----------------------

    type ItemInput = { FinancialAccountType: string; Customer: string; GLAccount: string; DebitCreditCode: string; AmountInTransactionCurrency: string; AssignmentReference: string; DocumentItemText: string; BillingDocument: string };
    /** Stores a journal entry's items in the operational item view; numbers come from one range per document type [~]. */
    const postJournalEntry = (head: { companyCode: string; documentType: string; postingDate: string; documentDate: string; reference: string; headerText: string; currency: string; seed: boolean }, items: ItemInput[]): { accountingDocument: string; fiscalYear: string } => {
      const accountingDocument = String(++fiNumbers[head.documentType === "RV" ? "RV" : head.documentType === "AB" ? "AB" : "DZ"]).padStart(10, "0");
      const fiscalYear = head.postingDate.slice(0, 4);
      items.forEach((item, i) => {
        const row: StoredRecord = { CompanyCode: head.companyCode, FiscalYear: fiscalYear, AccountingDocument: accountingDocument, AccountingDocumentItem: String(i + 1).padStart(3, "0"), AccountingDocumentType: head.documentType, PostingDate: sapDate(Date.parse(head.postingDate)), DocumentDate: sapDate(Date.parse(head.documentDate)), DocumentReferenceID: head.reference, AccountingDocumentHeaderText: head.headerText, TransactionCurrency: head.currency, ClearingAccountingDocument: "", ClearingDate: null, ClearingDocFiscalYear: "", IsCleared: false, ...item };
        k.store.insert("A_OperationalAcctgDocItemCube", `${head.companyCode}/${fiscalYear}/${accountingDocument}/${row.AccountingDocumentItem}`, row, { seed: head.seed });
      });
      return { accountingDocument, fiscalYear };
    };

    type LogItem = { TypeID: string; SeverityCode: "1" | "2" | "3"; Note: string };
    const soapXml = (status: number, body: string): Reply => ({ status, headers: { "content-type": "text/xml; charset=utf-8" }, body: `<soap-env:Envelope xmlns:soap-env="http://schemas.xmlsoap.org/soap/envelope/"><soap-env:Header/><soap-env:Body>${body}</soap-env:Body></soap-env:Envelope>` });
    /** The SOAP runtime's fault: HTTP 500, details only in the provider's error log [~ wording]. */
    const soapFault = (code: "Client" | "Server", text: string): Halt =>
      new Halt(soapXml(500, `<soap-env:Fault><faultcode>soap-env:${code}</faultcode><faultstring xml:lang="en">${xmlText(text)}</faultstring><detail/></soap-env:Fault>`));
    const messageHeader = (referenceId?: string) => `<MessageHeader><UUID>${randomUUID()}</UUID>${referenceId ? `<ReferenceID>${xmlText(referenceId)}</ReferenceID>` : ""}<CreationDateTime>${new Date().toISOString()}</CreationDateTime><SenderBusinessSystemID>KEE_100</SenderBusinessSystemID></MessageHeader>`;
    const logXml = (items: LogItem[]) => (items.length === 0 ? "<Log/>" : `<Log><MaximumLogItemSeverityCode>${items.reduce((m, i) => (i.SeverityCode > m ? i.SeverityCode : m), "1")}</MaximumLogItemSeverityCode>${items.map((i) => `<Item><TypeID>${i.TypeID}</TypeID><SeverityCode>${i.SeverityCode}</SeverityCode><Note>${xmlText(i.Note)}</Note></Item>`).join("")}</Log>`);

    /** The SOAP envelope of a request: its one Body child, or a fault. */
    const soapBody = (req: SandboxRequest, root: string, action: string): XmlNode => {
      if (!/^(text\/xml|application\/soap\+xml)/i.test(req.header("content-type") ?? "")) throw soapFault("Client", "Content-Type must be text/xml (SOAP 1.1) or application/soap+xml (SOAP 1.2)");
      const soapAction = (req.header("soapaction") ?? /action="([^"]*)"/.exec(req.header("content-type") ?? "")?.[1] ?? "").replace(/^"|"$/g, "");
      if (soapAction && soapAction !== action) throw soapFault("Client", `SOAP action ${soapAction} is not offered by this endpoint`); // [~]
      let envelope: XmlNode;
      try {
        envelope = parseXml(req.raw.toString("utf8"));
      } catch (e) {
        throw soapFault("Client", `Web service processing error: the XML is not well-formed (${(e as Error).message})`); // [~]
      }
      const body = envelope.name === "Envelope" ? child(envelope, "Body") : undefined;
      const request = body?.children[0];
      if (!request || request.name !== root) throw soapFault("Server", `Web service processing error; more details in the web service error log on provider side (UTC timestamp ${utcStamp()}; Transaction ID ${randomBytes(16).toString("hex").toUpperCase()})`);
      return request;
    };

    /**
     * One JournalEntry of a JournalEntryCreateRequest: checked as FI would check it; posted only when no error.
     * Log texts of F5/102 and F5/507 and the generic RW/609 follow SAP's real confirmations; the others are [~].
     */
    const postFromSoap = (je: XmlNode): { log: LogItem[]; posted?: { accountingDocument: string; fiscalYear: string; companyCode: string } } => {
      const errors: LogItem[] = [];
      const err = (TypeID: string, Note: string) => errors.push({ TypeID, SeverityCode: "3", Note });
      const companyCode = text(je, "CompanyCode");
      const documentType = text(je, "AccountingDocumentType");
      const reference = text(je, "DocumentReferenceID");
      const postingDate = text(je, "PostingDate");
      const documentDate = text(je, "DocumentDate") || postingDate;
      if (!companyCode) err("208(F5)", "Enter a company code"); // [~]
      else if (!COMPANY_CODES[companyCode]) err("165(F5)", `Company code ${companyCode} does not exist`); // [~]
      if (!documentType) err("004(F5)", "Enter a document type"); // [~]
      else if (!DOCUMENT_TYPES.includes(documentType)) err("814(F5)", `Document type ${documentType} is not defined`); // [~]
      if (!/^\d{4}-\d{2}-\d{2}$/.test(postingDate) || Number.isNaN(Date.parse(postingDate))) err("308(F5)", `Posting date ${postingDate} is not a valid date`); // [~]
      if (reference.length > 16) throw soapFault("Server", "Web service processing error: DocumentReferenceID is longer than 16 characters"); // [~] schema check
      const items: ItemInput[] = [];
      let currency = "";
      const amountOf = (item: XmlNode, where: string): { amount: string; dc: string } | undefined => {
        const node = child(item, "AmountInTransactionCurrency");
        const amount = node?.text.trim() ?? "";
        const itemCurrency = node?.attrs.currencyCode ?? "";
        const dc = text(item, "DebitCreditCode");
        if (!/^-?\d+(\.\d+)?$/.test(amount)) return void err("201(F5)", `${where}: enter an amount in transaction currency`); // [~]
        if (!itemCurrency) return void err("219(F5)", `${where}: enter a currency`); // [~]
        if (currency && itemCurrency !== currency) return void err("161(F5)", `Only one transaction currency per document (${currency}, ${itemCurrency})`); // [~]
        currency = itemCurrency;
        if (dc !== "S" && dc !== "H") return void err("303(F5)", `${where}: debit/credit code must be S or H`); // [~]
        if ((dc === "S") !== Number(amount) >= 0) return void err("306(F5)", `${where}: the sign of the amount does not match debit/credit code ${dc}`); // [~]
        return { amount: Number(amount).toFixed(currencyDigits(itemCurrency)), dc };
      };
      for (const gl of children(je, "Item")) {
        const account = text(gl, "GLAccount");
        const where = `Item ${text(gl, "ReferenceDocumentItem")}`;
        if (!GL_ACCOUNTS[account]) err("507(F5)", `G/L account ${account} is not defined in chart of accounts YCOA`);
        else if (GL_ACCOUNTS[account]!.reconciliation) err("351(F5)", `Account ${account} is a reconciliation account and cannot be posted to directly`); // [~]
        const a = amountOf(gl, where);
        if (a) items.push({ FinancialAccountType: "S", Customer: "", GLAccount: account, DebitCreditCode: a.dc, AmountInTransactionCurrency: a.amount, AssignmentReference: text(gl, "AssignmentReference"), DocumentItemText: text(gl, "DocumentItemText"), BillingDocument: "" });
      }
      for (const debtor of children(je, "DebtorItem")) {
        // The SOAP proxy does no ALPHA conversion: customer numbers arrive with their leading zeros [~].
        const raw = text(debtor, "Debtor");
        const customer = /^\d{10}$/.test(raw) ? k.store.get("A_Customer", raw.replace(/^0+/, "")) : undefined;
        if (!customer) err("102(F5)", `Customer ${raw} is not defined in company code ${companyCode}`);
        const a = amountOf(debtor, `DebtorItem ${text(debtor, "ReferenceDocumentItem")}`);
        if (a) items.push({ FinancialAccountType: "D", Customer: customer ? String(customer.Customer) : raw, GLAccount: RECEIVABLES, DebitCreditCode: a.dc, AmountInTransactionCurrency: a.amount, AssignmentReference: text(debtor, "AssignmentReference"), DocumentItemText: text(debtor, "DocumentItemText"), BillingDocument: "" });
      }
      if (items.length < 2 && errors.length === 0) err("154(F5)", "A document needs at least two items"); // [~]
      const balance = items.reduce((sum, i) => sum + Math.round(Number(i.AmountInTransactionCurrency) * 1000), 0);
      if (errors.length === 0 && balance !== 0) err("702(F5)", `Balance in transaction currency: ${(balance / 1000).toFixed(currencyDigits(currency))} ${currency}`); // [~] number
      if (errors.length) return { log: [{ TypeID: "609(RW)", SeverityCode: "3", Note: "Error in document: BKPFF $ KEE_100" }, ...errors] };
      const posted = postJournalEntry({ companyCode, documentType, postingDate, documentDate, reference, headerText: text(je, "DocumentHeaderText"), currency, seed: false }, items);
      return { posted: { ...posted, companyCode }, log: [{ TypeID: "605(RW)", SeverityCode: "1", Note: `Document posted successfully: BKPFF ${posted.accountingDocument}${companyCode}${posted.fiscalYear} KEE_100` }] }; // [~] wording
    };

    /** Journal Entry - Post (Synchronous): HTTP 200 either way; a rejected entry has a blank number and error log items. */
    const journalEntryPost = (req: SandboxRequest): Reply => {
      const bulk = soapBody(req, "JournalEntryBulkCreateRequest", "http://sap.com/xi/SAPSCORE/SFIN/JournalEntryCreateRequestConfirmation_In/JournalEntryCreateRequestConfirmation_InRequest");
      const requests = children(bulk, "JournalEntryCreateRequest");
      if (requests.length === 0) throw soapFault("Server", "Web service processing error: no JournalEntryCreateRequest in the message"); // [~]
      const confirmations = requests.map((request) => {
        const je = child(request, "JournalEntry");
        const result = je ? postFromSoap(je) : { log: [{ TypeID: "609(RW)", SeverityCode: "3" as const, Note: "Error in document: BKPFF $ KEE_100" }] };
        const keys = "posted" in result && result.posted ? `<AccountingDocument>${result.posted.accountingDocument}</AccountingDocument><CompanyCode>${result.posted.companyCode}</CompanyCode><FiscalYear>${result.posted.fiscalYear}</FiscalYear>` : "<AccountingDocument> </AccountingDocument><CompanyCode> </CompanyCode><FiscalYear>0000</FiscalYear>";
        return `<JournalEntryCreateConfirmation>${messageHeader(text(child(request, "MessageHeader"), "ID"))}<JournalEntryCreateConfirmation>${keys}</JournalEntryCreateConfirmation>${logXml(result.log)}</JournalEntryCreateConfirmation>`;
      });
      return soapXml(200, `<n0:JournalEntryBulkCreateConfirmation xmlns:n0="http://sap.com/xi/SAPSCORE/SFIN">${messageHeader(text(child(bulk, "MessageHeader"), "ID"))}${confirmations.join("")}<Log/></n0:JournalEntryBulkCreateConfirmation>`);
    };

    /**
     * Journal Entry - Clearing (Asynchronous): the message is accepted (202, no body) and processed later; its result
     * goes to the message monitor (records "ClearingMessage", as the Message Dashboard shows it) and, when it worked,
     * into the items' clearing fields and the billing document's clearing status.
     */
    const journalEntryClearing = (req: SandboxRequest): Reply => {
      const bulk = soapBody(req, "JournalEntryBulkClearingRequest", "http://sap.com/xi/SAPSCORE/SFIN/JournalEntryBulkClearingRequest_In/JournalEntryBulkClearingRequest_InRequest");
      const messageId = text(child(bulk, "MessageHeader"), "ID") || randomUUID();
      const requests = children(bulk, "JournalEntryClearingRequest").map((r) => child(r, "JournalEntry")).filter((je): je is XmlNode => je !== undefined);
      if (requests.length === 0) throw soapFault("Server", "Web service processing error: no JournalEntryClearingRequest with a JournalEntry in the message"); // [~]
      const message = k.store.insert("ClearingMessage", `${messageId}/${++clearingMessages}`, { MessageID: messageId, status: "queued", log: [], receivedAt: new Date().toISOString() });
      const timer = setTimeout(() => {
        const log = requests.flatMap(clearFromSoap);
        message.log = log;
        message.status = log.some((l) => l.SeverityCode === "3") ? "error" : "processed";
      }, k.limits.clearingDelayMs!);
      timer.unref();
      return { status: 202 };
    };

    const clearFromSoap = (je: XmlNode): LogItem[] => {
      const errors: LogItem[] = [];
      const err = (TypeID: string, Note: string) => errors.push({ TypeID, SeverityCode: "3", Note });
      const companyCode = text(je, "CompanyCode");
      const currency = text(je, "CurrencyCode");
      const postingDate = text(je, "PostingDate") || isoDay(Date.now());
      if (!COMPANY_CODES[companyCode]) err("165(F5)", `Company code ${companyCode} does not exist`); // [~]
      const items: StoredRecord[] = [];
      for (const ap of children(je, "APARItems")) {
        const key = `${text(ap, "CompanyCode") || companyCode}/${text(ap, "FiscalYear")}/${text(ap, "AccountingDocument")}/${text(ap, "AccountingDocumentItem").padStart(3, "0")}`;
        const item = k.store.get("A_OperationalAcctgDocItemCube", key);
        const account = text(ap, "APARAccount").replace(/^0+/, "");
        if (!item || text(ap, "AccountType") !== "D" || item.FinancialAccountType !== "D" || item.Customer !== account) err("147(F5)", `Item ${key} is not an open item of customer ${text(ap, "APARAccount")}`); // [~]
        else if (item.ClearingAccountingDocument) err("148(F5)", `Item ${key} is already cleared (clearing document ${String(item.ClearingAccountingDocument)})`); // [~]
        else if (currency && item.TransactionCurrency !== currency) err("162(F5)", `Item ${key} is in ${String(item.TransactionCurrency)}, the clearing in ${currency}`); // [~]
        else items.push(item);
      }
      if (errors.length === 0 && items.length < 2) err("150(F5)", "Select at least two open items to clear"); // [~]
      const balance = items.reduce((sum, i) => sum + Math.round(Number(i.AmountInTransactionCurrency) * 1000), 0);
      if (errors.length === 0 && balance !== 0) err("263(F5)", "Difference too large for clearing"); // [~] number; partial clearing is not modelled
      if (errors.length) return errors;
      const clearing = String(++fiNumbers.AB).padStart(10, "0");
      const year = postingDate.slice(0, 4);
      for (const item of items) Object.assign(item, { ClearingAccountingDocument: clearing, ClearingDate: sapDate(Date.parse(postingDate)), ClearingDocFiscalYear: year, IsCleared: true });
      // A cleared invoice item clears its billing document (status C) [~ when SAP updates CLRST].
      for (const item of items) {
        const billing = item.BillingDocument ? k.store.get("A_BillingDocument", String(item.BillingDocument)) : undefined;
        if (billing) Object.assign(billing, { InvoiceClearingStatus: "C", LastChangeDateTime: sapDateTimeOffset(Math.max(Date.now(), Number(/\((\d+)/.exec(String(billing.LastChangeDateTime))?.[1] ?? 0) + 1)) });
      }
      return [{ TypeID: "312(F5)", SeverityCode: "1", Note: `Document ${clearing} was posted in company code ${companyCode}` }]; // [~]
    };

    const S = `(?<service>${Object.values(SERVICES).join("|")})`;
    const routes: Route[] = [
      { method: "GET", path: new RegExp(`^${ODATA}/${S}/?$`), handler: serviceRoot },
      { method: "HEAD", path: new RegExp(`^${ODATA}/${S}/?$`), handler: serviceRoot },
      { method: "GET", path: new RegExp(`^${ODATA}/${S}/\\$metadata$`), handler: (req) => ({ status: 200, headers: { "content-type": "application/xml" }, body: `<?xml version="1.0" encoding="utf-8"?><edmx:Edmx Version="1.0" xmlns:edmx="http://schemas.microsoft.com/ado/2007/06/edmx"><edmx:DataServices m:DataServiceVersion="2.0" xmlns:m="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata"><Schema Namespace="${req.params.service}" xmlns="http://schemas.microsoft.com/ado/2008/09/edm"/></edmx:DataServices></edmx:Edmx>` }) },
      { method: "POST", path: new RegExp(`^${ODATA}/${S}/\\$batch$`), handler: batch },
      { method: "GET", path: new RegExp(`^${ODATA}/${S}/(?<set>A_\\w+)$`), handler: list },
      { method: "GET", path: new RegExp(`^${ODATA}/${S}/(?<set>A_\\w+)\\((?<key>[^)]*)\\)$`), handler: getOne },
      { method: "HEAD", path: new RegExp(`^${ODATA}/${S}/(?<set>A_\\w+)\\((?<key>[^)]*)\\)$`), handler: (req) => {
        findByKey(req, setOf(req));
        return { status: 200 };
      } },
      { method: "GET", path: new RegExp(`^${ODATA}/${S}/(?<set>A_\\w+)\\((?<key>[^)]*)\\)/(?<nav>to_\\w+)$`), handler: getNav },
      { method: "POST", path: new RegExp(`^${ODATA}/(?<service>${SERVICES.salesOrder})/A_SalesOrder$`), handler: createSalesOrder },
      { method: "POST", path: new RegExp(`^${ODATA}/(?<service>${SERVICES.businessPartner})/A_BusinessPartner$`), handler: createBusinessPartner },
      { method: "PATCH", path: new RegExp(`^${ODATA}/${S}/(?<set>A_\\w+)\\((?<key>[^)]*)\\)$`), handler: updateSalesOrder },
      { method: "MERGE", path: new RegExp(`^${ODATA}/${S}/(?<set>A_\\w+)\\((?<key>[^)]*)\\)$`), handler: updateSalesOrder },
      { method: "POST", path: JOURNAL_ENTRY_POST, handler: journalEntryPost },
      { method: "POST", path: JOURNAL_ENTRY_CLEARING, handler: journalEntryClearing },
    ];

    /** Bills a sales order completely: one invoice (F2) with one item per order item, posted to FI at once. */
    const bill = (salesOrder: StoredRecord, seed: boolean): StoredRecord => {
      const number = String(++billingNumber);
      const net = Number(salesOrder.TotalNetAmount);
      const tax = Math.round(net * 0.19 * 100) / 100;
      const gross = (net + tax).toFixed(2);
      const now = Date.now();
      const companyCode = salesOrder.SalesOrganization === "1710" ? "1710" : "1010";
      const currency = salesOrder.TransactionCurrency as string;
      // The accounting document of the invoice: the customer's open item (debit, gross), revenue and tax (credit).
      const journal = postJournalEntry({ companyCode, documentType: "RV", postingDate: isoDay(now), documentDate: isoDay(now), reference: number, headerText: "", currency, seed }, [
        { FinancialAccountType: "D", Customer: salesOrder.SoldToParty as string, GLAccount: RECEIVABLES, DebitCreditCode: "S", AmountInTransactionCurrency: gross, AssignmentReference: number, DocumentItemText: "", BillingDocument: number },
        { FinancialAccountType: "S", Customer: "", GLAccount: "0041000000", DebitCreditCode: "H", AmountInTransactionCurrency: (-net).toFixed(2), AssignmentReference: "", DocumentItemText: "", BillingDocument: number },
        { FinancialAccountType: "S", Customer: "", GLAccount: "0022000000", DebitCreditCode: "H", AmountInTransactionCurrency: (-tax).toFixed(2), AssignmentReference: "", DocumentItemText: "", BillingDocument: number },
      ]);
      const doc: StoredRecord = { BillingDocument: number, BillingDocumentType: "F2", SoldToParty: salesOrder.SoldToParty, PayerParty: salesOrder.SoldToParty, BillingDocumentDate: sapDate(now), TotalNetAmount: net.toFixed(2), TaxAmount: tax.toFixed(2), TotalGrossAmount: gross, TransactionCurrency: currency, OverallBillingStatus: "C", AccountingPostingStatus: "C", InvoiceClearingStatus: "A", BillingDocumentIsCancelled: "", PurchaseOrderByCustomer: salesOrder.PurchaseOrderByCustomer, CompanyCode: companyCode, FiscalYear: journal.fiscalYear, AccountingDocument: journal.accountingDocument, LastChangeDateTime: sapDateTimeOffset(now) };
      k.store.insert("A_BillingDocument", number, doc, { seed });
      k.store.all("A_SalesOrderItem").filter((i) => i.SalesOrder === salesOrder.SalesOrder).forEach((i, n) => {
        k.store.insert("A_BillingDocumentItem", `${number}/${(n + 1) * 10}`, { BillingDocument: number, BillingDocumentItem: String((n + 1) * 10), Material: i.Material, BillingQuantity: i.RequestedQuantity, NetAmount: i.NetAmount, TransactionCurrency: i.TransactionCurrency, ReferenceSDDocument: salesOrder.SalesOrder, ReferenceSDDocumentItem: i.SalesOrderItem, SalesDocument: salesOrder.SalesOrder }, { seed });
      });
      salesOrder.OverallSDProcessStatus = "C";
      return doc;
    };

    const seed = (): void => {
      const partner = (name: string, currency: string) => {
        const n = String(++partnerNumber);
        return storePartner({ BusinessPartner: n, Customer: n, BusinessPartnerCategory: "2", BusinessPartnerFullName: name, OrganizationBPName1: name, OrganizationBPName2: "", SearchTerm1: name.split(" ")[0]!.toUpperCase(), SearchTerm2: "", CreationDate: sapDate(Date.now()), LastChangeDate: sapDate(Date.now()), Currency: currency }, true);
      };
      const inlandsKunde = partner("Inlandskunde DE 1", "EUR");
      partner("Globex GmbH", "EUR");
      partner("Acme Corporation", "USD");
      const so = String(++orderNumber);
      const now = Date.now();
      const header = k.store.insert("A_SalesOrder", so, { SalesOrder: so, SalesOrderType: "OR", ...SALES_AREA, SoldToParty: inlandsKunde.Customer, PurchaseOrderByCustomer: "PO-SEED-1", CustomerPurchaseOrderDate: null, SalesOrderDate: sapDate(now), RequestedDeliveryDate: sapDate(now), TotalNetAmount: "171.25", TransactionCurrency: "EUR", OverallSDProcessStatus: "A", OverallTotalDeliveryStatus: "C", HeaderBillingBlockReason: "", DeliveryBlockReason: "", CreatedByUser: user, CreationDate: sapDate(now), LastChangeDateTime: sapDateTimeOffset(now) }, { seed: true });
      k.store.insert("A_SalesOrderItem", `${so}/10`, { SalesOrder: so, SalesOrderItem: "10", Material: "TG11", MaterialByCustomer: "", SalesOrderItemText: MATERIALS.TG11!.text, RequestedQuantity: "5", RequestedQuantityUnit: "PC", NetAmount: "62.50", TransactionCurrency: "EUR" }, { seed: true });
      k.store.insert("A_SalesOrderItem", `${so}/20`, { SalesOrder: so, SalesOrderItem: "20", Material: "TG12", MaterialByCustomer: "", SalesOrderItemText: MATERIALS.TG12!.text, RequestedQuantity: "15", RequestedQuantityUnit: "PC", NetAmount: "108.75", TransactionCurrency: "EUR" }, { seed: true });
      bill(header, true);
    };

    /** Issues a CSRF token bound to a new session cookie. */
    const issueSession = (): { cookie: string; csrf: string } => {
      const csrf = randomBytes(18).toString("base64");
      const session = k.tokens.issue(user, k.limits.sessionLifetimeSeconds!, { csrf });
      return { cookie: session.token, csrf };
    };
    const cookieOf = (req: SandboxRequest) => /(?:^|;\s*)SAP_SESSIONID_KEE_100=([^;]+)/.exec(req.header("cookie") ?? "")?.[1];

    return {
      vendor: "sap",
      routes,
      before(req) {
        const creds = basicAuth(req);
        if (!creds || creds.user !== user || creds.password !== password) {
          return { status: 401, headers: { "www-authenticate": 'Basic realm="SAP NetWeaver Application Server [KEE/100]"', "content-type": "text/html; charset=utf-8" }, body: "<html><head><title>Logon Error Message</title></head><body>Anmeldung fehlgeschlagen / Logon failed</body></html>" };
        }
        req.principal = creds.user;
        if (k.limits.requestsPerSecond! > 0) {
          if (rate.count() >= k.limits.requestsPerSecond!) return spikeArrest(k.limits.requestsPerSecond!);
          rate.add();
        }
        const modifying = !["GET", "HEAD"].includes(req.method);
        // The SOAP runtime takes the communication user's credentials alone; CSRF protects the OData services only.
        if (!modifying || req.path.startsWith(SOAP)) return undefined;
        const session = k.tokens.check(cookieOf(req));
        const presented = req.header("x-csrf-token");
        if (!session || session === "expired" || !presented || presented !== session.data.csrf) {
          return { status: 403, headers: { "x-csrf-token": "Required", "content-type": "text/plain; charset=utf-8" }, body: "CSRF token validation failed" };
        }
        return undefined;
      },
      decorate(req, reply) {
        const headers: Record<string, string | string[]> = { ...reply.headers };
        if (/^fetch$/i.test(req.header("x-csrf-token") ?? "") && ["GET", "HEAD"].includes(req.method) && reply.status < 400) {
          const existing = k.tokens.check(cookieOf(req));
          const s = existing && existing !== "expired" ? { cookie: cookieOf(req)!, csrf: existing.data.csrf as string } : issueSession();
          headers["x-csrf-token"] = s.csrf;
          headers["set-cookie"] = [`SAP_SESSIONID_KEE_100=${s.cookie}; path=/; HttpOnly`, "sap-usercontext=sap-client=100; path=/"];
        }
        if (req.path.startsWith(ODATA) && reply.body && typeof reply.body === "object" && !Buffer.isBuffer(reply.body)) headers["content-type"] ??= "application/json; charset=utf-8";
        reply.headers = headers;
      },
      serverError: (status, req) => {
        if (req.path.startsWith(SOAP)) return { ...soapFault("Server", `Web service processing error; more details in the web service error log on provider side (UTC timestamp ${utcStamp()}; Transaction ID ${randomBytes(16).toString("hex").toUpperCase()})`).reply, status }; // [~]
        const h = error(status, status === 503 ? "/IWFND/CM_BEC/026" : "/IWBEP/CM_MGW_RT/000", status === 503 ? "Service temporarily unavailable" : "In the context of Data Services an unknown internal server error occurred"); // [~]
        return h.reply;
      },
      // THIN: no published S/4HANA limit; in front of it SAP API Management's spike arrest answers like this [~].
      throttled: () => spikeArrest(k.limits.requestsPerSecond || 10),
      malformedBody: () => error(400, "/IWBEP/CM_MGW_RT/000", "Malformed JSON in the request body.").reply, // [~]
      notFound: (req) => error(404, "/IWFND/MED/170", `No service found for namespace '/SAP/', name '${req.path.split("/")[5] ?? ""}', version '0001'`).reply,
      seedRecord(type, input) {
        if (type === "A_BillingDocument") {
          const so = k.store.get("A_SalesOrder", String(input.SalesOrder ?? ""));
          if (!so) throw new Error("seed a billing document with {SalesOrder} of an existing order");
          return bill(so, true);
        }
        if (type === "A_BusinessPartner") {
          const n = String(++partnerNumber);
          return storePartner({ BusinessPartner: n, Customer: n, BusinessPartnerCategory: "2", OrganizationBPName1: "", CreationDate: sapDate(Date.now()), ...input }, true);
        }
        throw new Error("seed A_BusinessPartner or A_BillingDocument (sales orders: POST A_SalesOrder)");
      },
      reset() {
        orderNumber = 1000013600;
        partnerNumber = 10100000;
        billingNumber = 90000000;
        Object.assign(fiNumbers, FI_START);
        clearingMessages = 0;
        rate.clear();
        if (options.seed ?? true) seed();
      },
    };
  });
}

function spikeArrest(rate: number): Reply {
  return { status: 429, headers: { "retry-after": "1" }, body: { fault: { faultstring: `Spike arrest violation. Allowed rate : ${rate}ps`, detail: { errorcode: "policies.ratelimit.SpikeArrestViolation" } } } };
}

// ---- a small XML reader for the SOAP requests (elements, attributes, text; namespace prefixes dropped) ----------

interface XmlNode {
  name: string;
  attrs: Record<string, string>;
  children: XmlNode[];
  text: string;
}

const ENTITIES: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };
const decodeXml = (s: string) =>
  s.replace(/&(#x[0-9a-fA-F]+|#\d+|\w+);/g, (m, e: string) => (e[0] === "#" ? String.fromCodePoint(e[1] === "x" ? parseInt(e.slice(2), 16) : Number(e.slice(1))) : (ENTITIES[e] ?? m)));
const localName = (qname: string) => qname.slice(qname.indexOf(":") + 1);

function parseXml(source: string): XmlNode {
  const root: XmlNode = { name: "#document", attrs: {}, children: [], text: "" };
  const stack: XmlNode[] = [root];
  const tag = /<!--[\s\S]*?-->|<\?[\s\S]*?\?>|<!\[CDATA\[([\s\S]*?)\]\]>|<\/([\w.:-]+)\s*>|<([\w.:-]+)((?:\s+[\w.:-]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>|([^<]+)|(<)/g;
  for (let m; (m = tag.exec(source)); ) {
    const top = stack[stack.length - 1]!;
    if (m[7]) throw new Error(`unexpected "<" at ${m.index}`);
    if (m[1] !== undefined) top.text += m[1];
    else if (m[2]) {
      if (stack.length === 1 || top.name !== localName(m[2])) throw new Error(`unexpected </${m[2]}> at ${m.index}`);
      stack.pop();
    } else if (m[3]) {
      const attrs: Record<string, string> = {};
      for (const a of (m[4] ?? "").matchAll(/([\w.:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g)) attrs[localName(a[1]!)] = decodeXml(a[2] ?? a[3] ?? "");
      const node: XmlNode = { name: localName(m[3]), attrs, children: [], text: "" };
      if (stack.length === 1 && root.children.length > 0) throw new Error("more than one root element");
      top.children.push(node);
      if (!m[5]) stack.push(node);
    } else if (m[6] !== undefined) {
      if (stack.length === 1) {
        if (m[6].trim()) throw new Error("text outside the root element");
      } else top.text += decodeXml(m[6]);
    }
  }
  if (stack.length !== 1 || !root.children[0]) throw new Error("the document ends inside an element");
  return root.children[0];
}

const child = (node: XmlNode | undefined, name: string) => node?.children.find((c) => c.name === name);
const children = (node: XmlNode | undefined, name: string) => node?.children.filter((c) => c.name === name) ?? [];
const text = (node: XmlNode | undefined, name: string) => child(node, name)?.text.trim() ?? "";
const xmlText = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
const utcStamp = () => new Date().toISOString().replace(/\D/g, "").slice(0, 14);
const isoDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const currencyDigits = (c: string) => (["JPY", "KRW", "CLP", "ISK", "VND"].includes(c) ? 0 : ["BHD", "JOD", "KWD", "OMR", "TND"].includes(c) ? 3 : 2);
