/**
 * Microsoft Dynamics 365 Business Central API v2.0 (erp-crm-wire.md §6): Entra ID client credentials, one company
 * under `v2.0/{tenant}/{environment}/api/v2.0/companies({id})`, OData v4 bodies, BC's `{error: {code, message}}`.
 * BC has no idempotency key, so a create whose outcome is unknown is looked up before it is posted again: orders by
 * `externalDocumentNumber` (the external reference) and customer, customers by their number (the CRM account id,
 * BC's primary key, so a second create is refused with Internal_EntityWithSameKeyExists instead of duplicating),
 * payments by `externalDocumentNumber` in the payment journal.
 */
import { Connection } from "../resilience/connection";
import { BusinessError, TechnicalError } from "../resilience/errors";
import { VENDOR_LIMITS } from "../resilience/vendor-limits";
import { OAuth2ClientCredentials } from "../http/auth";
import type { HttpResponse } from "../http/client";
import { ErpAdapterBase, externalIdOf, withRef } from "./erp-base";
import type { CallContext, CreateOrderContext, CrossRef, Customer, ErpAdapterOptions, Invoice, InvoicePage, OrderOutcome, Payment, SalesOrder } from "./erp";

export interface BusinessCentralOptions extends ErpAdapterOptions {
  /** Entra tenant (GUID or domain). */
  tenantId: string;
  /** Environment name ("production", "sandbox"). */
  environment: string;
  /** The company's id (GUID), as GET …/companies lists it. */
  companyId: string;
  clientId: string;
  clientSecret: string;
  /** Token endpoint; default Entra's for the tenant. */
  tokenUrl?: string;
  /** Default `https://api.businesscentral.dynamics.com/.default`. */
  scope?: string;
  /** The company's local currency (LCY): BC leaves currencyCode blank on documents in it. Default EUR. */
  localCurrency?: string;
  /** Code of the customer payment journal that payments are written to; default the first one listed. */
  paymentJournal?: string;
}

const SYSTEM = "business-central";
const DEFAULT_PAGE = 100;
const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

export class BusinessCentralAdapter extends ErpAdapterBase {
  readonly system = SYSTEM;
  readonly connection: Connection;
  private readonly company: string;
  private readonly localCurrency: string;
  private journalId: string | undefined;

  constructor(private readonly bc: BusinessCentralOptions) {
    super(bc, {
      orderOut: "salesorder-to-businesscentral-salesorder",
      orderIn: "businesscentral-salesorder-to-salesorder",
      customerOut: "customer-to-businesscentral-customer",
      invoiceIn: "businesscentral-salesinvoice-to-invoice",
      paymentOut: "payment-to-businesscentral-customerpayment",
    });
    this.company = `v2.0/${encodeURIComponent(bc.tenantId)}/${encodeURIComponent(bc.environment)}/api/v2.0/companies(${bc.companyId})`;
    this.localCurrency = (bc.localCurrency || "EUR").toUpperCase();
    const { timeoutMs, tls, ...limits } = bc.connection ?? {};
    const tokenUrl = bc.tokenUrl || `https://login.microsoftonline.com/${encodeURIComponent(bc.tenantId)}/oauth2/v2.0/token`;
    this.connection = new Connection({
      name: bc.name,
      http: { baseUrl: bc.baseUrl, ...(timeoutMs !== undefined ? { timeoutMs } : {}), ...(tls ? { tls } : {}) },
      auth: (http) => new OAuth2ClientCredentials(http, { tokenUrl, clientId: bc.clientId, clientSecret: bc.clientSecret, scope: bc.scope || "https://api.businesscentral.dynamics.com/.default" }),
      ...VENDOR_LIMITS[SYSTEM],
      ...limits,
      hooks: { classify: classifyBusinessCentral },
    });
  }

  async ensureCustomer(customer: Customer, ctx: CallContext): Promise<{ ref: CrossRef; created: boolean }> {
    const own = this.ownRef(customer.refs);
    if (own) return { ref: own, created: false };
    const externalId = externalIdOf(customer, this.system);
    if (!externalId) throw new BusinessError({ code: "NO_EXTERNAL_ID", field: "customer.refs", message: "no external id to find the Business Central customer by", hint: "add the CRM's cross-reference (system and id)" });
    const find = async (): Promise<CrossRef | undefined> => {
      const found = (await this.list("customers", { $filter: `number eq ${literal(externalId)}`, $select: "id,number", $top: 1 }, ctx))[0];
      return found ? customerRef(found) : undefined;
    };
    const existing = await find();
    if (existing) return { ref: existing, created: false };
    const body = await this.map("customerOut", { ...this.withDefaults(customer as never), externalId });
    const post = async (): Promise<CrossRef> => {
      try {
        return customerRef(entity(await this.connection.request({ method: "POST", path: `${this.company}/customers`, body, correlationId: ctx.correlationId })));
      } catch (err) {
        // The number is BC's key: a customer created by an attempt we lost track of refuses the second one.
        if (err instanceof BusinessError && err.code === "Internal_EntityWithSameKeyExists") {
          const found = await find();
          if (found) return found;
        }
        throw err;
      }
    };
    const { value, created } = await this.postOnce(find, post, false);
    return { ref: value, created };
  }

  async createOrder(order: SalesOrder, ctx: CreateOrderContext): Promise<OrderOutcome> {
    const customerId = this.ownRef(order.customer.refs)?.id;
    if (!customerId) throw new BusinessError({ code: "CUSTOMER_NOT_LINKED", field: "customer.refs", message: "the order's customer has no Business Central id", hint: "turn on \"ensure customer\" or add the BC customer's cross-reference" });
    if (!GUID.test(customerId)) throw new BusinessError({ code: "INVALID_ID", field: "customer.refs", message: `the Business Central customer id ${JSON.stringify(customerId)} is not a GUID`, hint: "use the customer's id (GUID) from BC, not its number" });
    const prepared = this.withDefaults(order);
    const bcExt = prepared.extensions?.[SYSTEM] ?? {};
    const input = { ...prepared, extensions: { ...prepared.extensions, [SYSTEM]: { currencyCode: this.currencyCodeOf(order.currency), ...bcExt } } };
    const body = await this.map("orderOut", input);
    const find = async (): Promise<Record<string, unknown> | undefined> =>
      (await this.list("salesOrders", { $filter: `externalDocumentNumber eq ${literal(order.externalReference)} and customerId eq ${customerId}`, $select: "id,number,status", $top: 1 }, ctx))[0];
    const post = async (): Promise<Record<string, unknown>> => entity(await this.connection.request({ method: "POST", path: `${this.company}/salesOrders`, body, correlationId: ctx.correlationId }));
    const { value, created } = await this.postOnce(find, post, ctx.mayExist === true);
    const number = String(value.number);
    return { order: { ...withRef(order, { system: this.system, id: String(value.id), type: "salesOrder", number }), orderNumber: number, status: value.status === "In Review" ? "pending-approval" : "accepted" }, created };
  }

  async getOrder(key: { id?: string; externalReference?: string }, ctx: CallContext): Promise<SalesOrder | undefined> {
    const expand = { $expand: "salesOrderLines" };
    const record = key.id !== undefined ? await this.one("salesOrders", key.id, expand, ctx) : (await this.list("salesOrders", { ...expand, $filter: `externalDocumentNumber eq ${literal(key.externalReference ?? "")}`, $top: 1 }, ctx))[0];
    return record ? ((await this.map("orderIn", this.withCurrency(record))) as SalesOrder) : undefined;
  }

  /**
   * Posted invoices (drafts are not yet the customer's) in (lastModifiedDateTime, number) order: the watermark is
   * the last invoice's pair, so a listing resumed from it skips nothing and repeats nothing, even on equal times.
   */
  async *listInvoices(watermark: string | undefined, ctx: CallContext & { pageSize?: number }): AsyncGenerator<InvoicePage> {
    const pageSize = ctx.pageSize ?? DEFAULT_PAGE;
    let after = parseWatermark(watermark);
    for (;;) {
      const since = after ? `(lastModifiedDateTime gt ${after.at} or (lastModifiedDateTime eq ${after.at} and number gt ${literal(after.number)}))` : undefined;
      const rows = await this.list("salesInvoices", { $filter: `status ne 'Draft'${since ? ` and ${since}` : ""}`, $orderby: "lastModifiedDateTime,number", $top: pageSize, $expand: "salesInvoiceLines" }, ctx);
      if (rows.length === 0) return;
      const last = rows[rows.length - 1]!;
      after = { at: new Date(String(last.lastModifiedDateTime)).toISOString(), number: String(last.number) };
      yield { ...(await this.mapInvoices(rows.map((r) => this.withCurrency(r)), (r) => String(r.id))), watermark: `${after.at}|${after.number}` };
      if (rows.length < pageSize) return;
    }
  }

  async getInvoice(id: string, ctx: CallContext): Promise<Invoice | undefined> {
    const record = await this.one("salesInvoices", id, { $expand: "salesInvoiceLines" }, ctx);
    return record ? ((await this.map("invoiceIn", this.withCurrency(record))) as Invoice) : undefined;
  }

  /**
   * A customer payment journal line applied to the invoice, found by its external document number (the payment's
   * reference) before it is written, so it is written once. The journal is not posted here: posting a journal posts
   * every line in it, other users' too, which is accounting's call (THIN: how posted payment lines can be found
   * again — customer ledger entries — is not in the material, so a payment replayed after posting is not caught
   * here; the idempotency gate in front of this node is what stops it).
   */
  async recordPayment(payment: Payment, ctx: CallContext): Promise<Payment> {
    const { invoiceId, reference } = this.paymentTarget(payment, "Business Central id");
    const invoice = await this.one("salesInvoices", invoiceId, { $select: "id,number,customerId,status" }, ctx);
    if (!invoice) throw new BusinessError({ code: "Internal_RecordNotFound", field: "invoices[0].refs", message: `no Business Central sales invoice ${invoiceId}` });
    const journal = `${this.company}/customerPaymentJournals(${await this.paymentJournal(ctx)})/customerPayments`;
    const body = await this.map("paymentOut", { ...payment, reference, extensions: { ...payment.extensions, [SYSTEM]: { ...payment.extensions?.[SYSTEM], customerId: invoice.customerId, invoiceId: invoice.id } } });
    const find = async (): Promise<Record<string, unknown> | undefined> => {
      const response = await this.connection.request({ method: "GET", path: journal, query: { $filter: `externalDocumentNumber eq ${literal(reference)}`, $top: 1 }, correlationId: ctx.correlationId });
      return values(response)[0];
    };
    const post = async (): Promise<Record<string, unknown>> => entity(await this.connection.request({ method: "POST", path: journal, body, correlationId: ctx.correlationId }));
    const { value } = await this.postOnce(find, post, true);
    return { ...withRef(payment, { system: this.system, id: String(value.id), type: "customerPayment" }), reference, status: "pending" };
  }

  private async paymentJournal(ctx: CallContext): Promise<string> {
    if (this.journalId) return this.journalId;
    const code = this.bc.paymentJournal;
    const journal = (await this.list("customerPaymentJournals", { ...(code ? { $filter: `code eq ${literal(code)}` } : {}), $select: "id,code", $top: 1 }, ctx))[0];
    if (!journal) throw new TechnicalError({ kind: "protocol", retryable: false, message: `${this.system}: no customer payment journal${code ? ` with code ${code}` : ""} in the company; set the connection's payment journal` });
    return (this.journalId = String(journal.id));
  }

  private currencyCodeOf(currency: string): string {
    return currency.toUpperCase() === this.localCurrency ? "" : currency.toUpperCase();
  }

  /** A blank currency code is the company's local currency. */
  private withCurrency(record: Record<string, unknown>): Record<string, unknown> {
    return record.currencyCode ? record : { ...record, currencyCode: this.localCurrency };
  }

  private async list(set: string, query: Record<string, string | number>, ctx: CallContext): Promise<Record<string, unknown>[]> {
    return values(await this.connection.request({ method: "GET", path: `${this.company}/${set}`, query, correlationId: ctx.correlationId }));
  }

  private async one(set: string, id: string, query: Record<string, string>, ctx: CallContext): Promise<Record<string, unknown> | undefined> {
    if (!GUID.test(id)) return undefined;
    try {
      return entity(await this.connection.request({ method: "GET", path: `${this.company}/${set}(${id})`, query, correlationId: ctx.correlationId }));
    } catch (err) {
      if (err instanceof BusinessError && err.status === 404) return undefined;
      throw err;
    }
  }
}

function customerRef(record: Record<string, unknown>): CrossRef {
  return { system: SYSTEM, id: String(record.id), type: "customer", ...(record.number ? { number: String(record.number) } : {}) };
}

/** Codes that say the URL names no tenant, environment or company: the connection's settings, not the data. */
const MISCONFIGURED = new Set(["Internal_CompanyNotFound", "BadRequest_NotFound"]);

/**
 * BC's `{error: {code, message}}` as a BusinessError for 4xx (the code families BadRequest_*, Internal_*,
 * Application_*), with the field BC names in its message where it names one. 401, 429 and 5xx keep the default
 * rules (re-auth, Retry-After, retry on 503 Internal_TenantUnavailable). A 404 for the tenant, environment or
 * company is a configuration error, not a rejection of the record.
 */
function classifyBusinessCentral(response: HttpResponse): BusinessError | TechnicalError | undefined {
  const { status } = response;
  if (status < 400 || status >= 500 || status === 401 || status === 403 || status === 429 || status === 408) return undefined;
  const error = (response.body as { error?: { code?: string; message?: string } } | undefined)?.error;
  if (!error || typeof error !== "object") return undefined;
  const code = error.code ?? `HTTP_${status}`;
  const message = (error.message ?? `HTTP ${status}`).replace(/\s*CorrelationId:\s*[0-9a-fA-F-]+\.?\s*$/, "");
  if (MISCONFIGURED.has(code) || (status === 404 && /^(Tenant|Environment) '/.test(message))) {
    return new TechnicalError({ kind: "protocol", retryable: false, status, code, message: `${response.method} ${response.url}: ${message} (check the connection's tenant, environment and company)`, vendorBody: response.body });
  }
  const field = fieldOf(message);
  return new BusinessError({ code, message, status, vendorBody: response.body, ...(field ? { field } : {}), ...(HINTS[code] ? { hint: HINTS[code] } : {}) });
}

function fieldOf(message: string): string | undefined {
  return (
    /property (?:named )?'(\w+)'/.exec(message)?.[1] ??
    /^The field (.+?) of table/.exec(message)?.[1] ??
    (/^The Item does not exist/.test(message) ? "salesOrderLines.lineObjectNumber" : undefined) ??
    (/^The Customer does not exist/.test(message) ? "customerId" : undefined)
  );
}

const HINTS: Record<string, string> = {
  Internal_RecordNotFound: "the record BC names does not exist in the company: check the item number or customer id",
  Application_FieldValidationException: "the value must exist in BC's related table (currency, payment terms…)",
  Application_StringExceededLength: "shorten the value to BC's field length",
  Internal_EntityWithSameKeyExists: "a record with the same number already exists in BC",
  Application_DialogException: "BC refused the document: read the message and fix the data in BC or the order",
};

function entity(response: HttpResponse): Record<string, unknown> {
  const body = response.body;
  if (!body || typeof body !== "object" || Array.isArray(body) || (body as { id?: unknown }).id === undefined) {
    throw new TechnicalError({ kind: "protocol", retryable: false, status: response.status, message: `${response.method} ${response.url}: no entity with an id in the answer` });
  }
  return body as Record<string, unknown>;
}

function values(response: HttpResponse): Record<string, unknown>[] {
  const value = (response.body as { value?: unknown } | undefined)?.value;
  if (!Array.isArray(value)) throw new TechnicalError({ kind: "protocol", retryable: false, status: response.status, message: `${response.method} ${response.url}: no value list in the answer` });
  return value as Record<string, unknown>[];
}

/** An OData string literal. */
function literal(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

function parseWatermark(watermark: string | undefined): { at: string; number: string } | undefined {
  if (!watermark) return undefined;
  const bar = watermark.indexOf("|");
  const at = watermark.slice(0, bar);
  const number = watermark.slice(bar + 1);
  if (bar < 0 || Number.isNaN(Date.parse(at)) || !number) throw new TypeError(`Business Central watermark must be "<ISO time>|<invoice number>", got ${JSON.stringify(watermark)}`);
  return { at: new Date(at).toISOString(), number };
}
