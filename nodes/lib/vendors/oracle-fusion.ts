/**
 * Oracle Fusion Cloud on one connection (erp-crm-wire.md §8): Order Management's Order Hub
 * (`salesOrdersForOrderHub`), Receivables (`receivablesInvoices`, `standardReceipts`) and Trading Community
 * (`hubOrganizations`), all on the same host with HTTP Basic or an OAuth client-credentials bearer, ADF paging
 * (`items/count/hasMore/limit/offset`), `q=` filters and `orderBy`.
 *
 * Identity: an order's key is `{SourceTransactionSystem}:{SourceTransactionId}` and a second create with the same
 * key is refused, so a create is safe to repeat. A customer is an organization party found by its source system
 * reference (the CRM account's id); a payment is a standard receipt found by its ReceiptNumber (the payment's
 * reference) and then applied to the invoice's installment with the `applyReceipt` action. Neither the receipt nor
 * its application is idempotent on Oracle's side, so each is looked up (and the application read back from the
 * receipt's unapplied amount) before it is sent again.
 *
 * THIN (§8 and the Receivables / Trading Community docs): Oracle publishes neither the error body nor rate limits.
 * Requests ask for REST-Framework-Version 4, whose errors the sandbox answers in ADF's JSON error shape
 * (`o:errorDetails`); a plain-text body (version 1) is read as the message. 429 / Retry-After are honoured if a
 * gateway sends them. That receivablesInvoices carries LastUpdateDate and accepts the documented ADF row-match
 * `q` with `or` and parentheses, that hubOrganizations can be queried by SourceSystem and
 * SourceSystemReferenceValue, and that an installment's InstallmentId is the payment schedule id applyReceipt
 * takes, are read from the resource descriptions, not from captured traffic. The REST surface creates the party
 * only: the customer (billing) account a receipt names is created in Fusion (its SOAP CustomerAccountService or
 * the UI), so receipts take the account number from the invoice they pay.
 */
import { Connection } from "../resilience/connection";
import { BusinessError, TechnicalError } from "../resilience/errors";
import { OAuth2ClientCredentials, basicAuth } from "../http/auth";
import type { HttpResponse } from "../http/client";
import { ErpAdapterBase, externalIdOf, unreadableRepeatable, withRef } from "./erp-base";
import type { CallContext, CreateOrderContext, CrossRef, Customer, ErpAdapterOptions, Invoice, InvoicePage, OrderOutcome, Payment, SalesOrder } from "./erp";

export type OracleFusionAuth =
  | { kind: "basic"; user: string; password: string }
  /** Oracle IAM / IDCS client credentials; the token URL defaults to `/oauth2/v1/token` on the base URL's host. */
  | { kind: "oauth2"; clientId: string; clientSecret: string; tokenUrl?: string; scope?: string };

export interface OracleFusionOptions extends ErpAdapterOptions {
  auth: OracleFusionAuth;
  /** REST resource version; default 11.13.18.05. */
  version?: string;
}

const SYSTEM = "oracle-fusion";
const RESOURCE = "salesOrdersForOrderHub";
const INVOICES = "receivablesInvoices";
const RECEIPTS = "standardReceipts";
const ORGANIZATIONS = "hubOrganizations";
const DEFAULT_PAGE = 25;
/** The source system orders are keyed under unless the order (or the order defaults) names another. */
const DEFAULT_SOURCE_SYSTEM = "KEELSON";
/** §8 names no error code for "already exists"; the sandbox's THIN code, and its wording as a fallback. */
const DUPLICATE = /already exists/i;
const HEADERS = { "REST-Framework-Version": "4" };
/** ADF actions take their own media type (standardReceipts …/action/applyReceipt). */
const ACTION = { "Content-Type": "application/vnd.oracle.adf.action+json" };
/** Amounts compared after rounding to a thousandth of a unit: Oracle answers them as strings or numbers. */
const CENT = 0.0005;

type Row = Record<string, unknown>;

export class OracleFusionAdapter extends ErpAdapterBase {
  readonly system = SYSTEM;
  readonly connection: Connection;
  private readonly root: string;
  private readonly fscm: string;
  private readonly crm: string;

  constructor(fusion: OracleFusionOptions) {
    super(fusion, {
      orderOut: "salesorder-to-oracle-fusion-salesorder",
      orderIn: "oracle-fusion-salesorder-to-salesorder",
      customerOut: "customer-to-oracle-fusion-organization",
      invoiceIn: "oracle-fusion-receivablesinvoice-to-invoice",
      paymentOut: "payment-to-oracle-fusion-standardreceipt",
    });
    const version = fusion.version ?? "11.13.18.05";
    this.fscm = `fscmRestApi/resources/${version}`;
    this.crm = `crmRestApi/resources/${version}`;
    this.root = `${this.fscm}/${RESOURCE}`;
    const { timeoutMs, tls, ...limits } = fusion.connection ?? {};
    const auth = fusion.auth;
    this.connection = new Connection({
      name: fusion.name,
      http: { baseUrl: fusion.baseUrl, headers: HEADERS, ...(timeoutMs !== undefined ? { timeoutMs } : {}), ...(tls ? { tls } : {}) },
      auth: (http) =>
        auth.kind === "basic"
          ? basicAuth(auth.user, auth.password)
          : new OAuth2ClientCredentials(http, {
              tokenUrl: auth.tokenUrl || new URL("/oauth2/v1/token", fusion.baseUrl).toString(),
              clientId: auth.clientId,
              clientSecret: auth.clientSecret,
              scope: auth.scope || "urn:opc:resource:consumer::all",
              clientAuthentication: "basic",
            }),
      ...limits,
      hooks: { classify: (response, request) => unreadableRepeatable(response, request) ?? classifyFusion(response) },
    });
  }

  /**
   * The organization party whose source system reference is the CRM account's id; created with the CUSTOMER usage
   * when there is none. Order Hub takes its PartyNumber as the buying party.
   */
  async ensureCustomer(customer: Customer, ctx: CallContext): Promise<{ ref: CrossRef; created: boolean }> {
    const own = this.ownRef(customer.refs);
    if (own) return { ref: own, created: false };
    const externalId = externalIdOf(customer, this.system);
    if (!externalId) throw new BusinessError({ code: "NO_EXTERNAL_ID", field: "customer.refs", message: "no external id to find the Oracle Fusion party by", hint: "add the CRM's cross-reference (system and id)" });
    const sourceSystem = this.sourceSystem();
    const body = await this.map("customerOut", { ...this.withDefaults(customer as never), externalId, sourceSystem });
    const find = async (): Promise<Row | undefined> =>
      (await this.list(`${this.crm}/${ORGANIZATIONS}`, { q: `SourceSystem=${literal(sourceSystem)} and SourceSystemReferenceValue=${literal(externalId)}`, fields: "PartyId,PartyNumber,OrganizationName", limit: "1" }, ctx)).items[0];
    const post = async (): Promise<Row> => {
      try {
        return (await this.connection.request({ method: "POST", path: `${this.crm}/${ORGANIZATIONS}`, body, correlationId: ctx.correlationId })).body as Row;
      } catch (err) {
        // A reference already taken means an earlier attempt (or someone else) made the party: use that one.
        const existing = err instanceof BusinessError && DUPLICATE.test(err.message) ? await find() : undefined;
        if (!existing) throw err;
        return existing;
      }
    };
    // Parties are not idempotent on Oracle's side: always look for the reference first.
    const { value, created } = await this.postOnce(find, post, true);
    if (value.PartyNumber === undefined || value.PartyNumber === null) throw new TechnicalError({ kind: "protocol", retryable: false, message: `${ORGANIZATIONS}: no PartyNumber in the answer` });
    return { ref: { system: this.system, id: String(value.PartyNumber), type: "party" }, created };
  }

  async createOrder(order: SalesOrder, ctx: CreateOrderContext): Promise<OrderOutcome> {
    if (!this.ownRef(order.customer.refs)) throw notLinked();
    const body = await this.map("orderOut", this.withDefaults(order));
    const key = `${String(body.SourceTransactionSystem)}:${String(body.SourceTransactionId)}`;
    if (ctx.mayExist) {
      const existing = await this.read(key, ctx, {});
      if (existing) return { order: this.accepted(order, existing), created: false };
    }
    try {
      // The order key refuses a second create, so a repeat after a lost answer cannot make a twin.
      const response = await this.connection.request({ method: "POST", path: this.root, body, idempotent: true, correlationId: ctx.correlationId });
      return { order: this.accepted(order, response.body as Record<string, unknown>), created: true };
    } catch (err) {
      if (!(err instanceof BusinessError) || !DUPLICATE.test(err.message)) throw err;
      const existing = await this.read(key, ctx, {});
      if (!existing) throw err;
      return { order: this.accepted(order, existing), created: false };
    }
  }

  async getOrder(key: { id?: string; externalReference?: string }, ctx: CallContext): Promise<SalesOrder | undefined> {
    const source = String((this.options.orderDefaults as { sourceTransactionSystem?: unknown } | undefined)?.sourceTransactionSystem ?? DEFAULT_SOURCE_SYSTEM);
    let record = await this.read(key.id ?? `${source}:${key.externalReference ?? ""}`, ctx, { expand: "lines" });
    // Receivables invoices name their order by number (receivablesInvoiceLines.SalesOrder): an id that is no
    // HeaderId is tried as an order number.
    if (!record && key.id !== undefined) record = (await this.list(this.root, { q: `OrderNumber=${literal(key.id)}`, expand: "lines", limit: "1" }, ctx)).items[0];
    return record ? ((await this.map("orderIn", record)) as SalesOrder) : undefined;
  }

  /**
   * Receivables invoices changed after the watermark (`LastUpdateDate|CustomerTransactionId`), oldest first. Each
   * page asks again from the last invoice delivered (offset 0, limit = page size) rather than moving the offset:
   * an invoice updated while the listing runs moves to the end of the order, which would shift every later
   * offset and skip one.
   */
  async *listInvoices(watermark: string | undefined, ctx: CallContext & { pageSize?: number }): AsyncGenerator<InvoicePage> {
    const pageSize = ctx.pageSize ?? DEFAULT_PAGE;
    let after = parseWatermark(watermark);
    for (;;) {
      const query: Record<string, string> = { orderBy: "LastUpdateDate:asc,CustomerTransactionId:asc", limit: String(pageSize), offset: "0", expand: "receivablesInvoiceLines" };
      if (after) query.q = `(LastUpdateDate > ${literal(after.at)}) or (LastUpdateDate = ${literal(after.at)} and CustomerTransactionId > ${after.id})`;
      const page = await this.list(`${this.fscm}/${INVOICES}`, query, ctx);
      const last = page.items[page.items.length - 1];
      if (!last) return;
      after = { at: updatedAt(last), id: String(last.CustomerTransactionId) };
      yield { ...(await this.mapInvoices(page.items, (r) => String(r.CustomerTransactionId))), watermark: `${after.at}|${after.id}` };
      if (!page.hasMore) return;
    }
  }

  async getInvoice(id: string, ctx: CallContext): Promise<Invoice | undefined> {
    if (!/^\d+$/.test(id)) return undefined;
    const record = await this.invoice(id, ctx, "receivablesInvoiceLines");
    return record ? ((await this.map("invoiceIn", record)) as Invoice) : undefined;
  }

  /**
   * A standard receipt numbered by the payment's reference, applied to the invoice's open installment. The receipt
   * is looked up by ReceiptNumber (and the invoice's customer account) before every post, and the application is read back from the receipt's
   * unapplied amount before it is sent (again), so a lost answer makes neither twice.
   */
  async recordPayment(payment: Payment, ctx: CallContext): Promise<Payment> {
    const { invoiceId, reference } = this.paymentTarget(payment, "Oracle Fusion CustomerTransactionId");
    const invoices = payment.invoices!;
    if (!/^\d+$/.test(invoiceId)) throw new BusinessError({ code: "INVOICE_NOT_LINKED", field: "invoices[0].refs", message: "the payment's invoice has no Oracle Fusion CustomerTransactionId", hint: 'put the invoice\'s {system: "oracle-fusion", id: <CustomerTransactionId>} in invoices[0].refs' });
    const applied = Number(invoices[0]!.amount?.amount ?? payment.amount.amount);
    if (!(applied > 0) || applied > Number(payment.amount.amount) + CENT) throw new BusinessError({ code: "INVALID_AMOUNT", field: "invoices[0].amount", message: `the amount applied to the invoice (${String(invoices[0]!.amount?.amount)}) must be positive and at most the payment's ${payment.amount.amount}` });
    const invoice = await this.invoice(invoiceId, ctx, "receivablesInvoiceInstallments");
    if (!invoice) throw new BusinessError({ code: "NOT_FOUND", field: "invoices[0].refs", message: `no Oracle Fusion receivables invoice ${invoiceId}`, hint: "the invoice does not exist, or the user lacks data access to its business unit" });
    if (invoice.InvoiceCurrencyCode !== payment.amount.currency) throw new BusinessError({ code: "CURRENCY_MISMATCH", field: "amount.currency", message: `the payment is in ${payment.amount.currency}, invoice ${invoiceId} in ${String(invoice.InvoiceCurrencyCode)}`, hint: "record cross-currency receipts in Fusion" });
    const installment = children(invoice.receivablesInvoiceInstallments).find((i) => (amountOf(i.InstallmentBalanceDue) ?? 0) > 0) ?? children(invoice.receivablesInvoiceInstallments)[0];
    if (!installment || installment.InstallmentId === undefined) throw new TechnicalError({ kind: "protocol", retryable: false, message: `${INVOICES}/${invoiceId}: no installment to apply the receipt to` });

    const body = await this.map("paymentOut", { ...this.withDefaults(payment as never), reference, invoice });
    const find = async (): Promise<Row | undefined> =>
      (await this.list(`${this.fscm}/${RECEIPTS}`, { q: `ReceiptNumber=${literal(reference)} and CustomerAccountNumber=${literal(String(invoice.BillToCustomerNumber))}`, limit: "1" }, ctx)).items[0];
    const post = async (): Promise<Row> => (await this.connection.request({ method: "POST", path: `${this.fscm}/${RECEIPTS}`, body, correlationId: ctx.correlationId })).body as Row;
    // A receipt is money: always look for it by its number before posting.
    const { value: receipt } = await this.postOnce(find, post, true);
    const receiptId = String(receipt.StandardReceiptId);

    // Applied once: the receipt's unapplied amount says whether the application already happened.
    const isApplied = (r: Row): boolean => {
      const amount = amountOf(r.Amount) ?? 0;
      const unapplied = amountOf(r.UnappliedAmount) ?? amount;
      return amount - unapplied >= applied - CENT;
    };
    const readApplied = async (): Promise<Row | undefined> => {
      const now = await this.receipt(receiptId, ctx);
      return now && isApplied(now) ? now : undefined;
    };
    const apply = async (): Promise<Row> => {
      await this.connection.request({
        method: "POST",
        path: `${this.fscm}/${RECEIPTS}/${receiptId}/action/applyReceipt`,
        headers: ACTION,
        body: { amountApplied: applied, appliedPaymentScheduleId: Number(installment.InstallmentId), calledFrom: "Keelson" },
        correlationId: ctx.correlationId,
      });
      return (await this.receipt(receiptId, ctx)) ?? receipt;
    };
    await this.postOnce(readApplied, apply, true);
    return { ...withRef(payment, { system: this.system, id: receiptId, type: "standardReceipt", number: String(receipt.ReceiptNumber ?? reference) }), status: "succeeded" };
  }

  private accepted(order: SalesOrder, record: Record<string, unknown>): SalesOrder {
    const number = record.OrderNumber === null || record.OrderNumber === undefined ? undefined : String(record.OrderNumber);
    return {
      ...withRef(order, { system: this.system, id: String(record.HeaderId), type: RESOURCE, ...(number ? { number } : {}) }),
      ...(number ? { orderNumber: number } : {}),
      // An order not submitted stays a draft in Order Hub (no order number yet).
      status: record.StatusCode === "DOO_DRAFT" ? "draft" : "accepted",
    };
  }

  /** An order by HeaderId or order key, or undefined when Order Hub says there is none. */
  private async read(key: string, ctx: CallContext, query: Record<string, string>): Promise<Record<string, unknown> | undefined> {
    try {
      const response = await this.connection.request({ method: "GET", path: `${this.root}/${encodeURIComponent(key).replace(/%3A/gi, ":")}`, query: { onlyData: "true", ...query }, correlationId: ctx.correlationId });
      return response.body as Record<string, unknown>;
    } catch (err) {
      if (err instanceof BusinessError && err.status === 404) return undefined;
      throw err;
    }
  }

  /** One page of an ADF collection: its items and whether more follow. */
  private async list(path: string, query: Record<string, string>, ctx: CallContext): Promise<{ items: Row[]; hasMore: boolean }> {
    const response = await this.connection.request({ method: "GET", path, query: { onlyData: "true", ...query }, correlationId: ctx.correlationId });
    const body = response.body as { items?: unknown; hasMore?: unknown } | undefined;
    if (!body || !Array.isArray(body.items)) throw new TechnicalError({ kind: "protocol", retryable: false, status: response.status, message: `GET ${response.url}: expected an ADF collection (items)` });
    return { items: body.items as Row[], hasMore: body.hasMore === true };
  }

  /** A Receivables invoice with one child expanded, or undefined when there is none. */
  private async invoice(id: string, ctx: CallContext, expand: string): Promise<Row | undefined> {
    return this.item(`${this.fscm}/${INVOICES}/${encodeURIComponent(id)}`, { expand }, ctx);
  }

  private async receipt(id: string, ctx: CallContext): Promise<Row | undefined> {
    return this.item(`${this.fscm}/${RECEIPTS}/${encodeURIComponent(id)}`, {}, ctx);
  }

  private async item(path: string, query: Record<string, string>, ctx: CallContext): Promise<Row | undefined> {
    try {
      return (await this.connection.request({ method: "GET", path, query: { onlyData: "true", ...query }, correlationId: ctx.correlationId })).body as Row;
    } catch (err) {
      if (err instanceof BusinessError && err.status === 404) return undefined;
      throw err;
    }
  }

  /** The Trading Community source system the CRM's ids are registered under. */
  private sourceSystem(): string {
    const d = (this.options.orderDefaults ?? {}) as { customerSourceSystem?: unknown; sourceTransactionSystem?: unknown };
    return String(d.customerSourceSystem ?? d.sourceTransactionSystem ?? DEFAULT_SOURCE_SYSTEM);
  }
}

/**
 * ADF's error as a BusinessError (THIN, §8): `o:errorDetails[0]` (detail, o:errorCode, o:errorPath) in framework
 * version 2+, else the plain-text message. The field is the error path, or the attribute the message names.
 */
function classifyFusion(response: HttpResponse): BusinessError | undefined {
  if (response.status < 400 || response.status >= 500 || response.status === 401 || response.status === 403 || response.status === 429) return undefined;
  const body = response.body as { title?: string; "o:errorDetails"?: { detail?: string; "o:errorCode"?: string; "o:errorPath"?: string | null }[] } | string | undefined;
  const detail = typeof body === "object" ? body?.["o:errorDetails"]?.[0] : undefined;
  const message = detail?.detail ?? (typeof body === "string" && body.trim() && !/^\s*</.test(body) ? body.trim() : undefined);
  if (message === undefined) return undefined;
  const field = detail?.["o:errorPath"] ?? /attribute (\w+)/i.exec(message)?.[1];
  return new BusinessError({
    code: detail?.["o:errorCode"] ?? `HTTP_${response.status}`,
    message,
    status: response.status,
    vendorBody: response.body,
    ...(field ? { field } : {}),
    ...(response.status === 404 ? { hint: "the record does not exist, or the user lacks data access to its business unit" } : {}),
  });
}

/** An order whose customer has no Oracle Fusion party number: ensure customer (or a link) gives it one. */
function notLinked(): BusinessError {
  return new BusinessError({
    code: "CUSTOMER_NOT_LINKED",
    field: "customer.refs",
    message: "the order's customer has no Oracle Fusion party number",
    hint: 'turn on "ensure customer", or add {system: "oracle-fusion", id: <party number>} to customer.refs',
  });
}

/** An ADF `q` string literal. */
function literal(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** Oracle answers amounts as JSON numbers or as decimal strings (its receipt examples); undefined when absent. */
function amountOf(value: unknown): number | undefined {
  const n = typeof value === "number" ? value : typeof value === "string" && value.trim() !== "" ? Number(value) : NaN;
  return Number.isFinite(n) ? n : undefined;
}

/** An expanded ADF child: an array, or a collection with items. */
function children(value: unknown): Row[] {
  if (Array.isArray(value)) return value as Row[];
  const items = (value as { items?: unknown } | undefined)?.items;
  return Array.isArray(items) ? (items as Row[]) : [];
}

function updatedAt(row: Row): string {
  const value = row.LastUpdateDate;
  const time = typeof value === "string" ? Date.parse(value) : NaN;
  if (Number.isNaN(time)) throw new TechnicalError({ kind: "protocol", retryable: false, message: `${INVOICES}: unreadable LastUpdateDate ${JSON.stringify(value)}` });
  return new Date(time).toISOString();
}

function parseWatermark(watermark: string | undefined): { at: string; id: string } | undefined {
  if (!watermark) return undefined;
  const bar = watermark.lastIndexOf("|");
  const at = watermark.slice(0, bar);
  const id = watermark.slice(bar + 1);
  if (bar <= 0 || Number.isNaN(Date.parse(at)) || !/^\d+$/.test(id)) throw new TypeError(`Oracle Fusion watermark must be "<ISO time>|<CustomerTransactionId>", got ${JSON.stringify(watermark)}`);
  return { at: new Date(at).toISOString(), id };
}
