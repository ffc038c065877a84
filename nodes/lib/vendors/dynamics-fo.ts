/**
 * Microsoft Dynamics 365 Finance & Operations, OData data entities under `/data` (erp-crm-wire.md has no section
 * on F&O: THIN throughout; the facts here are the sandbox's and Microsoft's public entity documentation).
 * Entra ID client credentials (scope `{environment}/.default`); every read and write names the legal entity
 * (`dataAreaId`) explicitly, with `cross-company=true` on queries, so the service principal's default company
 * does not decide where records land.
 *
 * Identity: a customer's key (CustomerAccount) is chosen here, so a repeated create is refused as "already
 * exists" and read back. A sales order is numbered by F&O: the header is looked up by CustomersOrderReference
 * (the external reference) before it is posted again, then each line by its line number, so a create cut off
 * half way is completed, not doubled. A line F&O refuses removes the header it belongs to (an order never stays
 * half written) and is reported as the business rejection.
 *
 * Payments: a customer payment is a line of a customer payment journal (CustomerPaymentJournalHeaders /
 * CustomerPaymentJournalLines, named in Microsoft's Common Data Model pages; THIN beyond the names): one journal per
 * payment, its Description "Keelson {reference}", holding one line (LineNumber 1) that credits the customer and
 * marks the invoice (MarkedInvoice) for settlement. The line is looked up by PaymentReference and customer account
 * before anything is written, and again after an unknown outcome; the journal is looked up by its Description, so
 * a journal left without its line by a failure is reused, not doubled. A journal per payment (not one per day) keeps
 * both keys ours: a resent line cannot become a second one (F&O refuses it, THIN: by "already exists" or by the
 * invoice's own mark, whichever check runs first; either way the line is then read back), a refused line removes only
 * its own empty journal, and no two payments contend for a shared journal that a batch job may post in between.
 * The price is one journal per payment for whoever posts them. Two concurrent calls with one reference could each
 * open a journal: the idempotency gate in front (in-flight) keeps them apart, as for orders.
 * No documented OData action posts a journal: posting is F&O's (a user or a batch job), so a recorded payment is
 * "pending" until its journal is posted, then "succeeded". THIN: a client-chosen LineNumber being accepted, the
 * Description's 60 characters (references up to 52), the infolog wording the fields are read from.
 *
 * Errors: OData `{error: {code: "", message, innererror: {message: "Write failed … Infolog: Error: …", type}}}`;
 * 400 / 404 / 412 with that body are business rejections, 429 + Retry-After is service protection (THIN).
 * Invoices (SalesInvoiceHeaders) are immutable once posted and carry no change time: the watermark is
 * (InvoiceDate, InvoiceNumber), so an invoice posted later with an earlier date than the watermark is missed
 * (THIN; use a reconcile run for back-dated postings).
 */
import { Connection } from "../resilience/connection";
import { BusinessError, TechnicalError } from "../resilience/errors";
import { OAuth2ClientCredentials } from "../http/auth";
import type { HttpResponse } from "../http/client";
import { ErpAdapterBase, externalIdOf, unreadableRepeatable, unsupported, withRef } from "./erp-base";
import type { CallContext, CreateOrderContext, CrossRef, Customer, ErpAdapterOptions, Invoice, InvoicePage, OrderOutcome, Payment, SalesOrder } from "./erp";

export interface DynamicsFoOptions extends ErpAdapterOptions {
  /** Entra ID tenant (GUID or domain). */
  tenantId: string;
  clientId: string;
  clientSecret: string;
  /** The legal entity (dataAreaId) orders, customers and invoices belong to, e.g. "usmf". */
  company: string;
  /** Token endpoint; default `https://login.microsoftonline.com/{tenantId}/oauth2/v2.0/token`. */
  tokenUrl?: string;
  /** Default `{baseUrl}/.default`. */
  scope?: string;
}

const SYSTEM = "dynamics-fo";
const DEFAULT_PAGE = 100;
const ODATA_HEADERS = { "OData-MaxVersion": "4.0", "OData-Version": "4.0", Accept: "application/json" };
const DUPLICATE = /record already exists/i;
/** The journal name customer payments go to unless extensions["dynamics-fo"].paymentJournal names another. */
const DEFAULT_PAYMENT_JOURNAL = "CustPay";
const JOURNAL_PREFIX = "Keelson ";
/** [~] A journal's Description (LedgerJournalTable.Name) holds 60 characters; a cut one could not be found again. */
const MAX_REFERENCE = 60 - JOURNAL_PREFIX.length;

type Row = Record<string, unknown>;

export class DynamicsFoAdapter extends ErpAdapterBase {
  readonly system = SYSTEM;
  readonly connection: Connection;
  private readonly company: string;

  constructor(fo: DynamicsFoOptions) {
    super(fo, {
      orderOut: "salesorder-to-dynamics-fo-salesorder",
      orderIn: "dynamics-fo-salesorder-to-salesorder",
      customerOut: "customer-to-dynamics-fo-customer",
      invoiceIn: "dynamics-fo-salesinvoice-to-invoice",
      paymentOut: "payment-to-dynamics-fo-paymentjournalline",
    });
    if (!fo.company) throw new TypeError("dynamics-fo: the company (dataAreaId) is required");
    this.company = fo.company.toLowerCase();
    const base = fo.baseUrl.replace(/\/+$/, "");
    const { timeoutMs, tls, ...limits } = fo.connection ?? {};
    this.connection = new Connection({
      name: fo.name,
      http: { baseUrl: base, headers: ODATA_HEADERS, ...(timeoutMs !== undefined ? { timeoutMs } : {}), ...(tls ? { tls } : {}) },
      auth: (http) =>
        new OAuth2ClientCredentials(http, {
          tokenUrl: fo.tokenUrl || `https://login.microsoftonline.com/${encodeURIComponent(fo.tenantId)}/oauth2/v2.0/token`,
          clientId: fo.clientId,
          clientSecret: fo.clientSecret,
          scope: fo.scope || `${base}/.default`,
        }),
      ...limits,
      hooks: { classify: (response, request) => unreadableRepeatable(response, request) ?? classifyFo(response, request.path) },
    });
  }

  async ensureCustomer(customer: Customer, ctx: CallContext): Promise<{ ref: CrossRef; created: boolean }> {
    const own = this.ownRef(customer.refs);
    if (own) return { ref: own, created: false };
    const externalId = externalIdOf(customer, this.system);
    if (!externalId) throw new BusinessError({ code: "NO_EXTERNAL_ID", field: "customer.refs", message: "no external id to key the F&O customer account by", hint: "add the CRM's cross-reference (system and id)" });
    const body: Row = { ...(await this.map("customerOut", { ...this.withDefaults(customer as never), externalId })), dataAreaId: this.company };
    const account = typeof body.CustomerAccount === "string" && body.CustomerAccount ? body.CustomerAccount : undefined;
    const find = async (): Promise<Row | undefined> => (account ? this.one("CustomersV3", { CustomerAccount: account }, ctx) : undefined);
    const found = await find();
    if (found) return { ref: customerRef(found), created: false };
    try {
      // With the account number chosen here, F&O refuses a second create: a repeat after a lost answer is safe.
      const response = await this.connection.request({ method: "POST", path: "data/CustomersV3", body, idempotent: account !== undefined, correlationId: ctx.correlationId });
      return { ref: customerRef(response.body as Row), created: true };
    } catch (err) {
      if (!(err instanceof BusinessError) || !DUPLICATE.test(err.message)) throw err;
      const existing = await find();
      if (!existing) throw err;
      return { ref: customerRef(existing), created: false };
    }
  }

  async createOrder(order: SalesOrder, ctx: CreateOrderContext): Promise<OrderOutcome> {
    const account = this.ownRef(order.customer.refs)?.id;
    if (!account) throw new BusinessError({ code: "CUSTOMER_NOT_LINKED", field: "customer.refs", message: "the order's customer has no F&O customer account", hint: "turn on \"ensure customer\" or add the ERP customer's cross-reference" });
    const mapped = await this.map("orderOut", this.withDefaults(order));
    const header = { ...(mapped.header as Row), dataAreaId: this.company };
    const lines = (mapped.lines as Row[] | undefined) ?? [];
    const find = async (): Promise<Row | undefined> =>
      (await this.query("SalesOrderHeadersV2", `CustomersOrderReference eq ${literal(order.externalReference)} and OrderingCustomerAccountNumber eq ${literal(account)}`, { $top: 1 }, ctx))[0];
    const post = async (): Promise<Row> => (await this.connection.request({ method: "POST", path: "data/SalesOrderHeadersV2", body: header, correlationId: ctx.correlationId })).body as Row;
    const { value: written, created } = await this.postOnce(find, post, ctx.mayExist === true);
    const number = String(written.SalesOrderNumber);
    await this.writeLines(number, lines, ctx);
    return { order: { ...withRef(order, { system: this.system, id: number, type: "SalesOrderHeadersV2", number }), orderNumber: number, status: "accepted" }, created };
  }

  async getOrder(key: { id?: string; externalReference?: string }, ctx: CallContext): Promise<SalesOrder | undefined> {
    const header = key.id !== undefined ? await this.one("SalesOrderHeadersV2", { SalesOrderNumber: key.id }, ctx) : (await this.query("SalesOrderHeadersV2", `CustomersOrderReference eq ${literal(key.externalReference ?? "")}`, { $top: 1 }, ctx))[0];
    if (!header) return undefined;
    const lines = await this.query("SalesOrderLines", `SalesOrderNumber eq ${literal(String(header.SalesOrderNumber))}`, { $orderby: "LineNumber" }, ctx);
    return (await this.map("orderIn", { ...header, lines })) as SalesOrder;
  }

  async *listInvoices(watermark: string | undefined, ctx: CallContext & { pageSize?: number }): AsyncGenerator<InvoicePage> {
    const pageSize = ctx.pageSize ?? DEFAULT_PAGE;
    let after = parseWatermark(watermark);
    for (;;) {
      const since = after ? `InvoiceDate gt ${after.at} or (InvoiceDate eq ${after.at} and InvoiceNumber gt ${literal(after.id)})` : undefined;
      const headers = await this.query("SalesInvoiceHeaders", since, { $orderby: "InvoiceDate,InvoiceNumber", $top: pageSize }, ctx);
      if (headers.length === 0) return;
      const records = await this.withInvoiceLines(headers, ctx);
      const last = headers[headers.length - 1]!;
      after = { at: isoOf(last.InvoiceDate), id: String(last.InvoiceNumber) };
      yield { ...(await this.mapInvoices(records, (r) => String(r.InvoiceNumber))), watermark: `${after.at}|${after.id}` };
      if (headers.length < pageSize) return;
    }
  }

  async getInvoice(id: string, ctx: CallContext): Promise<Invoice | undefined> {
    const header = await this.one("SalesInvoiceHeaders", { InvoiceNumber: id }, ctx);
    if (!header) return undefined;
    const [record] = await this.withInvoiceLines([header], ctx);
    return (await this.map("invoiceIn", record)) as Invoice;
  }

  /**
   * Records the payment as a customer payment journal line marking its one invoice, exactly once per reference and
   * customer; the journal stays unposted (F&O or a batch job posts it), so the payment is "pending" until then.
   */
  async recordPayment(payment: Payment, ctx: CallContext): Promise<Payment> {
    const invoices = payment.invoices ?? [];
    if (invoices.length !== 1) throw unsupported(this.system, "a payment applied to other than exactly one invoice");
    const invoiceNumber = this.ownRef(invoices[0]!.refs)?.id;
    if (!invoiceNumber) throw new BusinessError({ code: "INVOICE_NOT_LINKED", field: "invoices[0].refs", message: "the payment's invoice has no F&O invoice number", hint: 'put the invoice\'s {system: "dynamics-fo", id} in invoices[0].refs' });
    const reference = payment.reference ?? externalIdOf(payment, this.system);
    if (!reference) throw new BusinessError({ code: "NO_EXTERNAL_ID", field: "reference", message: "a payment needs a reference to be recorded exactly once", hint: "set reference (the bank transaction id, say)" });
    if (reference.length > MAX_REFERENCE) throw new BusinessError({ code: "REFERENCE_TOO_LONG", field: "reference", message: `the payment reference has ${reference.length} characters; F&O journals keep ${MAX_REFERENCE}`, hint: "shorten the reference" });
    if (!(Number(payment.amount.amount) > 0)) throw new BusinessError({ code: "NOT_A_RECEIPT", field: "amount.amount", message: `a customer payment must be a positive amount, got ${payment.amount.amount}`, hint: "record refunds in F&O" });
    const invoice = await this.one("SalesInvoiceHeaders", { InvoiceNumber: invoiceNumber }, ctx);
    if (!invoice) throw new BusinessError({ code: "NOT_FOUND", field: "invoices[0].refs", message: `no F&O invoice ${invoiceNumber} in company ${this.company}` });
    const customerAccount = this.ownRef((payment.customer as { refs?: CrossRef[] } | undefined)?.refs)?.id ?? String(invoice.InvoiceCustomerAccountNumber);
    const settled = this.withDefaults(payment as never) as unknown as Payment;
    const settings = settled.extensions?.[SYSTEM] ?? {};
    const journalName = typeof settings.paymentJournal === "string" && settings.paymentJournal ? settings.paymentJournal : DEFAULT_PAYMENT_JOURNAL;
    const line = await this.map("paymentOut", { ...settled, reference, customerAccount, invoiceNumber, company: this.company });

    const find = async (): Promise<Row | undefined> =>
      (await this.query("CustomerPaymentJournalLines", `PaymentReference eq ${literal(reference)} and AccountDisplayValue eq ${literal(customerAccount)}`, { $top: 1 }, ctx))[0];
    const post = async (): Promise<Row> => {
      const batch = await this.paymentJournal(journalName, reference, ctx);
      const body = { ...line, dataAreaId: this.company, JournalBatchNumber: batch, LineNumber: 1 };
      try {
        // The line's key (journal, line 1) is ours: a repeat cannot add a second line, so it may be resent.
        return (await this.connection.request({ method: "POST", path: "data/CustomerPaymentJournalLines", body, idempotent: true, correlationId: ctx.correlationId })).body as Row;
      } catch (err) {
        if (!(err instanceof BusinessError)) throw err;
        // A resent line is refused by whichever check F&O runs first ("already exists", or its own mark on the
        // invoice; THIN): if the line is there, this payment is recorded.
        const existing = await find();
        if (existing) return existing;
        if (!DUPLICATE.test(err.message)) await this.removeEmptyJournal(batch, ctx).catch(() => undefined);
        throw err;
      }
    };
    // A payment is money: always look for it by its reference before writing.
    const { value: written, created } = await this.postOnce(find, post, true);
    const batch = String(written.JournalBatchNumber);
    const journal = created ? undefined : await this.one("CustomerPaymentJournalHeaders", { JournalBatchNumber: batch }, ctx);
    const voucher = typeof written.Voucher === "string" && written.Voucher ? written.Voucher : undefined;
    return { ...withRef(payment, { system: this.system, id: batch, type: "CustomerPaymentJournalLines", ...(voucher ? { number: voucher } : {}) }), reference, status: journal?.IsPosted === "Yes" ? "succeeded" : "pending" };
  }

  /** The unposted journal of this payment (found by its Description), created when there is none. */
  private async paymentJournal(journalName: string, reference: string, ctx: CallContext): Promise<string> {
    const description = JOURNAL_PREFIX + reference;
    const find = async (): Promise<Row | undefined> =>
      (await this.query("CustomerPaymentJournalHeaders", `Description eq ${literal(description)} and JournalName eq ${literal(journalName)} and IsPosted eq Microsoft.Dynamics.DataEntities.NoYes'No'`, { $top: 1 }, ctx))[0];
    const post = async (): Promise<Row> => (await this.connection.request({ method: "POST", path: "data/CustomerPaymentJournalHeaders", body: { dataAreaId: this.company, JournalName: journalName, Description: description }, correlationId: ctx.correlationId })).body as Row;
    const { value } = await this.postOnce(find, post, true);
    return String(value.JournalBatchNumber);
  }

  /** Deletes a journal this adapter opened whose line F&O refused, so no empty journal is left behind. */
  private async removeEmptyJournal(batch: string, ctx: CallContext): Promise<void> {
    if ((await this.query("CustomerPaymentJournalLines", `JournalBatchNumber eq ${literal(batch)}`, { $top: 1 }, ctx)).length > 0) return;
    try {
      await this.connection.request({ method: "DELETE", path: `data/CustomerPaymentJournalHeaders(${keyOf({ dataAreaId: this.company, JournalBatchNumber: batch })})`, correlationId: ctx.correlationId });
    } catch (err) {
      if (!(err instanceof BusinessError && err.status === 404)) throw err;
    }
  }

  /** Posts the lines the order does not have yet (by line number); a refused line removes the order again. */
  private async writeLines(orderNumber: string, lines: Row[], ctx: CallContext): Promise<void> {
    const existing = await this.query("SalesOrderLines", `SalesOrderNumber eq ${literal(orderNumber)}`, {}, ctx);
    const have = new Set(existing.map((l) => Number(l.LineNumber)));
    try {
      for (const line of lines) {
        const lineNumber = Number(line.LineNumber);
        if (have.has(lineNumber)) continue;
        const body = { ...line, dataAreaId: this.company, SalesOrderNumber: orderNumber };
        const find = async (): Promise<Row | undefined> =>
          (await this.query("SalesOrderLines", `SalesOrderNumber eq ${literal(orderNumber)} and LineNumber eq ${lineNumber}`, { $top: 1 }, ctx))[0];
        await this.postOnce(find, async () => (await this.connection.request({ method: "POST", path: "data/SalesOrderLines", body, correlationId: ctx.correlationId })).body as Row, false);
      }
    } catch (err) {
      if (err instanceof BusinessError) await this.removeOrder(orderNumber, ctx).catch(() => undefined);
      throw err;
    }
  }

  private async removeOrder(orderNumber: string, ctx: CallContext): Promise<void> {
    try {
      await this.connection.request({ method: "DELETE", path: `data/SalesOrderHeadersV2(${keyOf({ dataAreaId: this.company, SalesOrderNumber: orderNumber })})`, correlationId: ctx.correlationId });
    } catch (err) {
      if (!(err instanceof BusinessError && err.status === 404)) throw err;
    }
  }

  /** Invoice headers with their lines under `lines`: one query per page of headers. */
  private async withInvoiceLines(headers: Row[], ctx: CallContext): Promise<Row[]> {
    const numbers = headers.map((h) => `InvoiceNumber eq ${literal(String(h.InvoiceNumber))}`).join(" or ");
    const lines = await this.query("SalesInvoiceLines", `(${numbers})`, { $orderby: "InvoiceNumber,LineNumber" }, ctx);
    return headers.map((h) => ({ ...h, lines: lines.filter((l) => l.InvoiceNumber === h.InvoiceNumber) }));
  }

  /** Rows of an entity in this company matching the filter, following @odata.nextLink to the end. */
  private async query(entity: string, filter: string | undefined, options: Record<string, string | number>, ctx: CallContext): Promise<Row[]> {
    const company = `dataAreaId eq ${literal(this.company)}`;
    let path = `data/${entity}`;
    let query: Record<string, string | number> | undefined = { "cross-company": "true", $filter: filter ? `${company} and (${filter})` : company, ...options };
    const rows: Row[] = [];
    for (;;) {
      const response = await this.connection.request({ method: "GET", path, ...(query ? { query } : {}), correlationId: ctx.correlationId });
      const body = response.body as { value?: unknown; "@odata.nextLink"?: string } | undefined;
      if (!Array.isArray(body?.value)) throw new TechnicalError({ kind: "protocol", retryable: false, status: response.status, message: `GET ${response.url}: no value array in the answer` });
      rows.push(...(body.value as Row[]));
      // $top is a cap the caller chose: a next link beyond it would read more than asked for.
      const next = body["@odata.nextLink"];
      if (!next || (options.$top !== undefined && rows.length >= Number(options.$top))) return rows;
      path = next;
      query = undefined;
    }
  }

  /** One row by its key in this company, or undefined when F&O has none. */
  private async one(entity: string, key: Record<string, string>, ctx: CallContext): Promise<Row | undefined> {
    try {
      const response = await this.connection.request({ method: "GET", path: `data/${entity}(${keyOf({ dataAreaId: this.company, ...key })})`, query: { "cross-company": "true" }, correlationId: ctx.correlationId });
      return response.body as Row;
    } catch (err) {
      if (err instanceof BusinessError && err.status === 404) return undefined;
      throw err;
    }
  }
}

function customerRef(row: Row): CrossRef {
  const account = String(row.CustomerAccount);
  return { system: SYSTEM, id: account, type: "CustomersV3", number: account };
}

/** An OData string literal. */
function literal(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** An entity key: dataAreaId='usmf',SalesOrderNumber='000123', URL-encoded inside the parentheses. */
function keyOf(key: Record<string, string>): string {
  return Object.entries(key)
    .map(([name, value]) => `${name}=${encodeURIComponent(literal(value))}`)
    .join(",");
}

function isoOf(value: unknown): string {
  const time = typeof value === "string" ? Date.parse(value) : NaN;
  if (Number.isNaN(time)) throw new TechnicalError({ kind: "protocol", retryable: false, message: `Dynamics F&O: unreadable InvoiceDate ${JSON.stringify(value)}` });
  return new Date(time).toISOString();
}

function parseWatermark(watermark: string | undefined): { at: string; id: string } | undefined {
  if (!watermark) return undefined;
  const bar = watermark.indexOf("|");
  const at = watermark.slice(0, bar);
  const id = watermark.slice(bar + 1);
  if (bar <= 0 || Number.isNaN(Date.parse(at)) || !id) throw new TypeError(`Dynamics F&O watermark must be "<ISO time>|<invoice number>", got ${JSON.stringify(watermark)}`);
  return { at: new Date(at).toISOString(), id };
}

/** Per entity, the fields its infolog names in words, and the entity field each one is (THIN: the sandbox's wording). */
const INFOLOG_FIELDS: Record<string, [RegExp, string][]> = {
  SalesOrderHeadersV2: [[/^Customer account /i, "OrderingCustomerAccountNumber"]],
  SalesOrderLines: [
    [/^Item number /i, "ItemNumber"],
    [/^Sales order \S+ does not exist/i, "SalesOrderNumber"],
  ],
  CustomerPaymentJournalHeaders: [[/relating table 'Journal names'/i, "JournalName"]],
  CustomerPaymentJournalLines: [
    [/for transaction type Customer /i, "AccountDisplayValue"],
    [/for transaction type Bank /i, "OffsetAccountDisplayValue"],
    [/^Invoice \S+ is (not an open|already marked)/i, "MarkedInvoice"],
    [/^The currency /i, "CurrencyCode"],
    [/in field 'Currency'/i, "CurrencyCode"],
    [/in field 'Method of payment'/i, "PaymentMethodName"],
    [/^Journal \S+ /i, "JournalBatchNumber"],
    [/debit amount or a credit amount/i, "CreditAmount"],
  ],
};

/** The entity set a request path names: "data/CustomerPaymentJournalLines(…)" → CustomerPaymentJournalLines. */
function entityOf(path: string): string | undefined {
  return /(?:^|\/)data\/(\w+)/.exec(path)?.[1];
}

/**
 * F&O's OData error as a BusinessError (THIN): the infolog line of `innererror.message` is the message; the
 * field is the one the text names ('Field' must be filled in, field 'Customer group', property 'X'). 5xx, 401,
 * 403 and 429 are left to the default rules (technical; 429 honours Retry-After).
 */
function classifyFo(response: HttpResponse, path: string): BusinessError | undefined {
  if (response.status < 400 || response.status >= 500 || response.status === 401 || response.status === 403 || response.status === 429) return undefined;
  const error = (response.body as { error?: { code?: string; message?: string; innererror?: { message?: string; type?: string } } } | undefined)?.error;
  if (!error || typeof error !== "object") return undefined;
  const inner = error.innererror?.message;
  const infolog = inner ? (/Infolog: (?:Error: )?([\s\S]*)$/.exec(inner)?.[1] ?? inner).trim() : undefined;
  const message = infolog ?? error.message ?? `HTTP ${response.status}`;
  const field =
    /Field '(\w+)'/.exec(message)?.[1] ??
    /property(?: named)? '(\w+)'/.exec(message)?.[1] ??
    INFOLOG_FIELDS[entityOf(path) ?? ""]?.find(([pattern]) => pattern.test(message))?.[1] ??
    /in field '([^']+)'/.exec(message)?.[1];
  const type = error.innererror?.type;
  return new BusinessError({
    code: error.code || (type ? type.slice(type.lastIndexOf(".") + 1) : `HTTP_${response.status}`),
    message,
    status: response.status,
    vendorBody: response.body,
    ...(field ? { field } : {}),
    ...(response.status === 412 ? { hint: "the record changed since it was read; read it again" } : {}),
  });
}
