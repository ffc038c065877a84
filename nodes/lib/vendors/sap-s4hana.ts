/**
 * SAP S/4HANA Cloud OData V2 (erp-crm-wire.md §5): API_SALES_ORDER_SRV, API_BUSINESS_PARTNER,
 * API_BILLING_DOCUMENT_SRV, with Basic auth of the communication user and the CSRF handshake for writes.
 * SAP has no idempotency key, so a create whose outcome is unknown is looked up by its external reference
 * (PurchaseOrderByCustomer for orders, SearchTerm2 for business partners) before it is posted again.
 */
import { Connection } from "../resilience/connection";
import { BusinessError, TechnicalError } from "../resilience/errors";
import { CsrfToken, basicAuth } from "../http/auth";
import type { HttpResponse } from "../http/client";
import { ErpAdapterBase, externalIdOf, notOffered, withRef } from "./erp-base";
import type { CallContext, CreateOrderContext, CrossRef, Customer, ErpAdapterOptions, Invoice, InvoicePage, OrderOutcome, Payment, SalesOrder } from "./erp";

export interface SapOptions extends ErpAdapterOptions {
  /** Communication user and password of the communication arrangement (SAP_COM_0109, 0008, 0120). */
  user: string;
  password: string;
}

const ODATA = "sap/opu/odata/sap";
const ORDERS = `${ODATA}/API_SALES_ORDER_SRV`;
const PARTNERS = `${ODATA}/API_BUSINESS_PARTNER`;
const BILLING = `${ODATA}/API_BILLING_DOCUMENT_SRV`;
const DEFAULT_PAGE = 100;

export class SapAdapter extends ErpAdapterBase {
  readonly system = "sap-s4hana";
  readonly connection: Connection;

  constructor(sap: SapOptions) {
    super(sap, {
      orderOut: "salesorder-to-sap-salesorder",
      orderIn: "sap-salesorder-to-salesorder",
      customerOut: "customer-to-sap-businesspartner",
      invoiceIn: "sap-billingdocument-to-invoice",
    });
    const { timeoutMs, tls, ...limits } = sap.connection ?? {};
    this.connection = new Connection({
      name: sap.name,
      http: { baseUrl: sap.baseUrl, ...(timeoutMs !== undefined ? { timeoutMs } : {}), ...(tls ? { tls } : {}) },
      auth: (http) => new CsrfToken(http, basicAuth(sap.user, sap.password), { fetchPath: `${ORDERS}/`, fetchMethod: "HEAD" }),
      ...limits,
      hooks: { classify: classifySap },
    });
  }

  async ensureCustomer(customer: Customer, ctx: CallContext): Promise<{ ref: CrossRef; created: boolean }> {
    const own = this.ownRef(customer.refs);
    if (own) return { ref: own, created: false };
    const externalId = externalIdOf(customer, this.system);
    if (!externalId) throw new BusinessError({ code: "NO_EXTERNAL_ID", field: "customer.refs", message: "no external id to find the business partner by", hint: "add the CRM's cross-reference (system and id)" });
    const find = async (): Promise<CrossRef | undefined> => {
      const rows = await this.list(`${PARTNERS}/A_BusinessPartner`, { $filter: `SearchTerm2 eq ${literal(externalId)}`, $top: 1 }, ctx);
      const bp = rows[0];
      return bp?.Customer ? { system: this.system, id: String(bp.Customer), type: "customer", number: String(bp.Customer) } : undefined;
    };
    const found = await find();
    if (found) return { ref: found, created: false };
    const body = await this.map("customerOut", { ...this.withDefaults(customer as never), externalId });
    const post = async (): Promise<CrossRef> => {
      const response = await this.connection.request({ method: "POST", path: `${PARTNERS}/A_BusinessPartner`, body, correlationId: ctx.correlationId });
      const d = entity(response);
      return { system: this.system, id: String(d.Customer || d.BusinessPartner), type: "customer", number: String(d.Customer || d.BusinessPartner) };
    };
    const { value, created } = await this.postOnce(find, post, false);
    return { ref: value, created };
  }

  async createOrder(order: SalesOrder, ctx: CreateOrderContext): Promise<OrderOutcome> {
    const soldTo = this.ownRef(order.customer.refs)?.id;
    if (!soldTo) throw new BusinessError({ code: "CUSTOMER_NOT_LINKED", field: "customer.refs", message: "the order's customer has no SAP customer number", hint: "turn on \"ensure customer\" or add the ERP customer's cross-reference" });
    const body = await this.map("orderOut", this.withDefaults(order));
    const find = async (): Promise<Record<string, unknown> | undefined> =>
      (await this.list(`${ORDERS}/A_SalesOrder`, { $filter: `PurchaseOrderByCustomer eq ${literal(order.externalReference)} and SoldToParty eq ${literal(soldTo)}`, $top: 1, $select: "SalesOrder,OverallSDProcessStatus" }, ctx))[0];
    const post = async (): Promise<Record<string, unknown>> => entity(await this.connection.request({ method: "POST", path: `${ORDERS}/A_SalesOrder`, body, correlationId: ctx.correlationId }));
    const { value, created } = await this.postOnce(find, post, ctx.mayExist === true);
    const number = String(value.SalesOrder);
    return { order: { ...withRef(order, { system: this.system, id: number, type: "A_SalesOrder", number }), orderNumber: number, status: "accepted" }, created };
  }

  async getOrder(key: { id?: string; externalReference?: string }, ctx: CallContext): Promise<SalesOrder | undefined> {
    let record: Record<string, unknown> | undefined;
    if (key.id !== undefined) record = await this.one(`${ORDERS}/A_SalesOrder(${literal(key.id)})`, { $expand: "to_Item" }, ctx);
    else record = (await this.list(`${ORDERS}/A_SalesOrder`, { $filter: `PurchaseOrderByCustomer eq ${literal(key.externalReference ?? "")}`, $top: 1, $expand: "to_Item" }, ctx))[0];
    return record ? ((await this.map("orderIn", record)) as SalesOrder) : undefined;
  }

  async *listInvoices(watermark: string | undefined, ctx: CallContext & { pageSize?: number }): AsyncGenerator<InvoicePage> {
    const pageSize = ctx.pageSize ?? DEFAULT_PAGE;
    let after = parseWatermark(watermark);
    for (;;) {
      const since = after ? `datetimeoffset'${after.at}'` : undefined;
      const query: Record<string, string | number> = { $orderby: "LastChangeDateTime,BillingDocument", $top: pageSize, $expand: "to_Item" };
      if (after) query.$filter = `LastChangeDateTime gt ${since} or (LastChangeDateTime eq ${since} and BillingDocument gt ${literal(after.id)})`;
      const rows = await this.list(`${BILLING}/A_BillingDocument`, query, ctx);
      if (rows.length === 0) return;
      const last = rows[rows.length - 1]!;
      after = { at: isoOf(last.LastChangeDateTime), id: String(last.BillingDocument) };
      yield { ...(await this.mapInvoices(rows, (r) => String(r.BillingDocument))), watermark: `${after.at}|${after.id}` };
      if (rows.length < pageSize) return;
    }
  }

  async getInvoice(id: string, ctx: CallContext): Promise<Invoice | undefined> {
    const record = await this.one(`${BILLING}/A_BillingDocument(${literal(id)})`, { $expand: "to_Item" }, ctx);
    return record ? ((await this.map("invoiceIn", record)) as Invoice) : undefined;
  }

  /** Incoming payments are FI postings (journal entries), not part of the billing document API. */
  recordPayment(_payment: Payment, _ctx: CallContext): Promise<Payment> {
    return Promise.reject(notOffered(this.system, "record payment"));
  }

  private async list(path: string, query: Record<string, string | number>, ctx: CallContext): Promise<Record<string, unknown>[]> {
    const response = await this.connection.request({ method: "GET", path, query: { ...query, $format: "json" }, correlationId: ctx.correlationId });
    const d = (response.body as { d?: { results?: unknown } } | undefined)?.d;
    if (!Array.isArray(d?.results)) throw new TechnicalError({ kind: "protocol", retryable: false, message: `GET ${response.url}: no d.results in the answer` });
    return d.results as Record<string, unknown>[];
  }

  private async one(path: string, query: Record<string, string>, ctx: CallContext): Promise<Record<string, unknown> | undefined> {
    try {
      return entity(await this.connection.request({ method: "GET", path, query: { ...query, $format: "json" }, correlationId: ctx.correlationId }));
    } catch (err) {
      if (err instanceof BusinessError && err.status === 404) return undefined;
      throw err;
    }
  }
}

/** SAP's error JSON as a BusinessError: the message class/number, and the target of the first detail that has one. */
function classifySap(response: HttpResponse): BusinessError | undefined {
  if (response.status < 400 || response.status >= 500 || response.status === 401 || response.status === 403 || response.status === 429) return undefined;
  const error = (response.body as { error?: { code?: string; message?: { value?: string }; innererror?: { errordetails?: { code?: string; message?: string; target?: string; severity?: string }[] } } } | undefined)?.error;
  if (!error || typeof error !== "object") return undefined;
  const details = error.innererror?.errordetails ?? [];
  const targeted = details.find((d) => d.target && d.severity !== "warning");
  return new BusinessError({
    code: error.code ?? `HTTP_${response.status}`,
    message: error.message?.value ?? `HTTP ${response.status}`,
    status: response.status,
    vendorBody: response.body,
    ...(targeted?.target ? { field: targeted.target } : {}),
    ...(targeted?.message && targeted.message !== error.message?.value ? { hint: targeted.message } : {}),
  });
}

function entity(response: HttpResponse): Record<string, unknown> {
  const d = (response.body as { d?: unknown } | undefined)?.d;
  if (!d || typeof d !== "object") throw new TechnicalError({ kind: "protocol", retryable: false, status: response.status, message: `${response.method} ${response.url}: no d object in the answer` });
  return d as Record<string, unknown>;
}

/** An OData string literal. */
function literal(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** "/Date(1700000000000+0000)/" as an ISO time. */
function isoOf(value: unknown): string {
  const m = typeof value === "string" ? /^\/Date\((-?\d+)([+-]\d{4})?\)\/$/.exec(value) : null;
  if (!m) throw new TechnicalError({ kind: "protocol", retryable: false, message: `SAP: unreadable LastChangeDateTime ${JSON.stringify(value)}` });
  return new Date(Number(m[1])).toISOString();
}

function parseWatermark(watermark: string | undefined): { at: string; id: string } | undefined {
  if (!watermark) return undefined;
  const [at, id] = watermark.split("|");
  if (!at || Number.isNaN(Date.parse(at)) || !id) throw new TypeError(`SAP watermark must be "<ISO time>|<billing document>", got ${JSON.stringify(watermark)}`);
  return { at, id };
}
