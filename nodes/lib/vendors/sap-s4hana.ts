/**
 * SAP S/4HANA Cloud OData V2 (erp-crm-wire.md §5): API_SALES_ORDER_SRV, API_BUSINESS_PARTNER,
 * API_BILLING_DOCUMENT_SRV, with Basic auth of the communication user and the CSRF handshake for writes.
 * SAP has no idempotency key, so a create whose outcome is unknown is looked up by its external reference
 * (PurchaseOrderByCustomer for orders, SearchTerm2 for business partners) before it is posted again.
 *
 * Incoming payments are FI postings, and S/4HANA Cloud has no "post incoming payment" API: SAP's own guidance
 * (blog series on the Journal Entry APIs of communication scenario SAP_COM_0002, "Finance - Posting Integration")
 * is to post the payment with the SOAP service Journal Entry - Post (Synchronous),
 * JournalEntryCreateRequestConfirmation_In (bank G/L item debit, customer item credit, document type DZ), and to
 * clear it against the invoice's open item with Journal Entry - Clearing (Asynchronous),
 * JournalEntryBulkClearingRequest_In: the Clearing API cannot post, the Post API cannot clear. The clearing answers
 * 202 and is processed later, so a payment stays "pending" until a read (API_OPLACCTGDOCITEMCUBE_SRV, or the
 * billing document's InvoiceClearingStatus) shows it cleared. The payment is found again by its reference
 * (DocumentReferenceID, 16 characters) on the customer's items before it is posted, and after an unknown outcome.
 * THIN: the posting key SAP derives for the customer item (11, not the 15 of "Post Incoming Payments"), every
 * message number but F5/102 and F5/507, partial clearing (partial payments stay on account, not cleared), and
 * whether SAP upper-cases DocumentReferenceID (the adapter does, so both readings agree).
 */
import { randomUUID } from "node:crypto";
import { Connection } from "../resilience/connection";
import { BusinessError, TechnicalError, UnknownOutcomeError } from "../resilience/errors";
import { CsrfToken, basicAuth, type AuthProvider, type Authorization } from "../http/auth";
import type { HttpRequest, HttpResponse } from "../http/client";
import { ErpAdapterBase, externalIdOf, unreadableRepeatable, unsupported, withRef } from "./erp-base";
import type { CallContext, CreateOrderContext, CrossRef, Customer, ErpAdapterOptions, Invoice, InvoicePage, OrderOutcome, Payment, SalesOrder } from "./erp";

export interface SapOptions extends ErpAdapterOptions {
  /** Communication user and password of the communication arrangements (SAP_COM_0109, 0008, 0120, 0002). */
  user: string;
  password: string;
}

const ODATA = "sap/opu/odata/sap";
const ORDERS = `${ODATA}/API_SALES_ORDER_SRV`;
const PARTNERS = `${ODATA}/API_BUSINESS_PARTNER`;
const BILLING = `${ODATA}/API_BILLING_DOCUMENT_SRV`;
const JOURNAL_ITEMS = `${ODATA}/API_OPLACCTGDOCITEMCUBE_SRV/A_OperationalAcctgDocItemCube`;
/** SAP_COM_0002's SOAP services; S/4HANA Cloud cuts service names to 30 characters. */
const SOAP = "sap/bc/srt/scs_ext/sap";
const SFIN = "http://sap.com/xi/SAPSCORE/SFIN";
const JOURNAL_ENTRY_POST = { path: `${SOAP}/journalentrycreaterequestconfi`, action: `${SFIN}/JournalEntryCreateRequestConfirmation_In/JournalEntryCreateRequestConfirmation_InRequest` };
const JOURNAL_ENTRY_CLEARING = { path: `${SOAP}/journalentrybulkclearingreques`, action: `${SFIN}/JournalEntryBulkClearingRequest_In/JournalEntryBulkClearingRequest_InRequest` };
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
      paymentOut: "payment-to-sap-journalentry",
    });
    const { timeoutMs, tls, ...limits } = sap.connection ?? {};
    this.connection = new Connection({
      name: sap.name,
      http: { baseUrl: sap.baseUrl, ...(timeoutMs !== undefined ? { timeoutMs } : {}), ...(tls ? { tls } : {}) },
      auth: (http) => {
        const user = basicAuth(sap.user, sap.password);
        return new SapAuth(user, new CsrfToken(http, user, { fetchPath: `${ORDERS}/`, fetchMethod: "HEAD" }));
      },
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

  /**
   * Posts the payment as a journal entry (document type DZ by default) and asks SAP to clear it against the
   * invoice's open item. Money first, exactly once: the customer's items are searched for the payment's reference
   * before posting and after any unknown outcome. "succeeded" once SAP shows the payment cleared; "pending" while
   * the asynchronous clearing is queued, or when the payment is partial and stays on account.
   */
  async recordPayment(payment: Payment, ctx: CallContext): Promise<Payment> {
    const invoices = payment.invoices ?? [];
    if (invoices.length !== 1) throw unsupported(this.system, "a payment applied to other than exactly one invoice");
    const billingDocument = this.ownRef(invoices[0]!.refs)?.id;
    if (!billingDocument) throw new BusinessError({ code: "INVOICE_NOT_LINKED", field: "invoices[0].refs", message: "the payment's invoice has no SAP billing document number", hint: "put the invoice's {system: \"sap-s4hana\", id} in invoices[0].refs" });
    const reference = (payment.reference ?? externalIdOf(payment, this.system))?.toUpperCase();
    if (!reference) throw new BusinessError({ code: "NO_EXTERNAL_ID", field: "reference", message: "a payment needs a reference to be recorded exactly once", hint: "set reference (the bank transaction id, say)" });
    if (reference.length > 16) throw new BusinessError({ code: "REFERENCE_TOO_LONG", field: "reference", message: `SAP keeps a journal entry's reference (DocumentReferenceID) in 16 characters; ${JSON.stringify(reference)} has ${reference.length}`, hint: "send a shorter payment reference" });
    const amount = payment.amount;
    if (!(Number(amount.amount) > 0)) throw new BusinessError({ code: "AMOUNT_NOT_POSITIVE", field: "amount.amount", message: `an incoming payment needs a positive amount, got ${amount.amount}` });
    const applied = invoices[0]!.amount;
    if (applied && (applied.currency !== amount.currency || scaled(applied.amount) !== scaled(amount.amount))) throw unsupported(this.system, "a payment only part of which is applied to its invoice");

    const invoice = await this.one(`${BILLING}/A_BillingDocument(${literal(billingDocument)})`, { $select: "BillingDocument,PayerParty,SoldToParty,CompanyCode,FiscalYear,AccountingDocument,TransactionCurrency,BillingDocumentIsCancelled" }, ctx);
    if (!invoice) throw new BusinessError({ code: "NOT_FOUND", field: "invoices[0].refs", message: `no SAP billing document ${billingDocument}` });
    if (invoice.BillingDocumentIsCancelled === true || invoice.BillingDocumentIsCancelled === "X") throw new BusinessError({ code: "INVOICE_CANCELLED", field: "invoices[0].refs", message: `billing document ${billingDocument} is cancelled` });
    if (invoice.TransactionCurrency !== amount.currency) throw new BusinessError({ code: "CURRENCY_MISMATCH", field: "amount.currency", message: `billing document ${billingDocument} is in ${String(invoice.TransactionCurrency)}, the payment in ${amount.currency}`, hint: "record the payment in the invoice's currency" });
    const invoiceItem = invoice.AccountingDocument ? await this.customerItem({ CompanyCode: invoice.CompanyCode, FiscalYear: invoice.FiscalYear, AccountingDocument: invoice.AccountingDocument }, ctx) : undefined;
    if (!invoiceItem) throw new BusinessError({ code: "INVOICE_NOT_POSTED", field: "invoices[0].refs", message: `billing document ${billingDocument} has no open item in accounting yet`, hint: "wait until SAP has transferred the billing document to accounting" });
    const companyCode = String(invoiceItem.CompanyCode);
    const customer = String(invoiceItem.Customer);
    // The payment is posted where the invoice's open item is: clearing cannot reach across company codes.
    const sap = { ...this.options.orderDefaults, ...payment.extensions?.[this.system] };
    if (sap.companyCode !== undefined && sap.companyCode !== "" && String(sap.companyCode) !== companyCode) throw new BusinessError({ code: "COMPANY_CODE_MISMATCH", field: 'extensions["sap-s4hana"].companyCode', message: `billing document ${billingDocument} is in company code ${companyCode}, the payment names ${String(sap.companyCode)}`, hint: "leave companyCode out: the invoice's company code is used" });

    const find = async (): Promise<Row | undefined> =>
      (await this.list(JOURNAL_ITEMS, { $filter: `CompanyCode eq ${literal(companyCode)} and DocumentReferenceID eq ${literal(reference)} and FinancialAccountType eq 'D' and Customer eq ${literal(customer)}`, $top: 1 }, ctx))[0];
    const already = await find();
    if (!already) {
      if (invoiceItem.ClearingAccountingDocument) throw new BusinessError({ code: "INVOICE_CLEARED", field: "invoices[0].refs", message: `billing document ${billingDocument} is already cleared (clearing document ${String(invoiceItem.ClearingAccountingDocument)})` });
      if (scaled(amount.amount) > scaled(String(invoiceItem.AmountInTransactionCurrency))) throw new BusinessError({ code: "AMOUNT_EXCEEDS_OPEN_ITEM", field: "amount.amount", message: `the payment (${amount.amount} ${amount.currency}) is more than billing document ${billingDocument} has open (${String(invoiceItem.AmountInTransactionCurrency)})` });
    }
    const post = async (): Promise<Row> => {
      const entry = await this.map("paymentOut", { ...payment, reference, extensions: { ...payment.extensions, [this.system]: { ...sap, companyCode, customer, billingDocument } } });
      const keys = await this.postJournalEntry(entry, ctx);
      const item = await this.customerItem(keys, ctx);
      if (!item) throw new TechnicalError({ kind: "protocol", retryable: false, message: `SAP posted journal entry ${keys.AccountingDocument} but shows no customer item for it` });
      return item;
    };
    // Looked up just above; postOnce looks again only after an unknown outcome.
    const { value: paid } = already ? { value: already } : await this.postOnce(find, post, false);

    const status: Payment["status"] = paid.ClearingAccountingDocument ? "succeeded" : "pending";
    const clearable = status === "pending" && !invoiceItem.ClearingAccountingDocument && scaled(String(invoiceItem.AmountInTransactionCurrency)) === -scaled(String(paid.AmountInTransactionCurrency));
    if (clearable) await this.requestClearing(invoiceItem, paid, { currency: amount.currency, date: payment.paymentDate, documentType: typeof sap.clearingDocumentType === "string" ? sap.clearingDocumentType : "AB" }, ctx);
    const number = String(paid.AccountingDocument);
    return { ...withRef(payment, { system: this.system, id: `${companyCode}/${String(paid.FiscalYear)}/${number}`, type: "JournalEntry", number }), reference, status };
  }

  /** Journal Entry - Post (Synchronous). A rejection still answers 200: a blank document number and error log items. */
  private async postJournalEntry(entry: Record<string, unknown>, ctx: CallContext): Promise<Row> {
    const header = messageHeader();
    const xml = soapEnvelope(`<sfin:JournalEntryBulkCreateRequest>${header}<JournalEntryCreateRequest>${header}${toXml(entry)}</JournalEntryCreateRequest></sfin:JournalEntryBulkCreateRequest>`);
    const response = await this.connection.request({ method: "POST", path: JOURNAL_ENTRY_POST.path, body: xml, headers: soapHeaders(JOURNAL_ENTRY_POST.action), correlationId: ctx.correlationId });
    const confirmation = readConfirmation(response);
    if (confirmation.accountingDocument) return { CompanyCode: confirmation.companyCode, FiscalYear: confirmation.fiscalYear, AccountingDocument: confirmation.accountingDocument };
    throw journalEntryRejection(confirmation.log);
  }

  /**
   * Journal Entry - Clearing (Asynchronous): the invoice's open item and the payment's item, which balance to zero.
   * Sending it twice does no harm (SAP refuses to clear a cleared item), so it is retried like a read.
   */
  private async requestClearing(invoiceItem: Row, paymentItem: Row, how: { currency: string; date: string; documentType: string }, ctx: CallContext): Promise<void> {
    const item = (row: Row, n: number) =>
      `<APARItems><ReferenceDocumentItem>${n}</ReferenceDocumentItem><CompanyCode>${xmlEscape(String(row.CompanyCode))}</CompanyCode><AccountType>D</AccountType><APARAccount>${xmlEscape(alpha(String(row.Customer)))}</APARAccount><FiscalYear>${xmlEscape(String(row.FiscalYear))}</FiscalYear><AccountingDocument>${xmlEscape(String(row.AccountingDocument))}</AccountingDocument><AccountingDocumentItem>${xmlEscape(String(row.AccountingDocumentItem))}</AccountingDocumentItem></APARItems>`;
    const entry = `<JournalEntry><CompanyCode>${xmlEscape(String(invoiceItem.CompanyCode))}</CompanyCode><AccountingDocumentType>${xmlEscape(how.documentType)}</AccountingDocumentType><DocumentDate>${xmlEscape(how.date)}</DocumentDate><PostingDate>${xmlEscape(how.date)}</PostingDate><CurrencyCode>${xmlEscape(how.currency)}</CurrencyCode>${item(invoiceItem, 1)}${item(paymentItem, 2)}</JournalEntry>`;
    const header = messageHeader("<TestDataIndicator>false</TestDataIndicator>");
    const xml = soapEnvelope(`<sfin:JournalEntryBulkClearingRequest>${header}<JournalEntryClearingRequest>${messageHeader()}${entry}</JournalEntryClearingRequest></sfin:JournalEntryBulkClearingRequest>`);
    await this.connection.request({ method: "POST", path: JOURNAL_ENTRY_CLEARING.path, body: xml, headers: soapHeaders(JOURNAL_ENTRY_CLEARING.action), idempotent: true, correlationId: ctx.correlationId });
  }

  /** The customer item (account type D) of a journal entry, from the operational journal entry item view. */
  private async customerItem(keys: Row, ctx: CallContext): Promise<Row | undefined> {
    const filter = `CompanyCode eq ${literal(String(keys.CompanyCode))} and FiscalYear eq ${literal(String(keys.FiscalYear))} and AccountingDocument eq ${literal(String(keys.AccountingDocument))} and FinancialAccountType eq 'D'`;
    return (await this.list(JOURNAL_ITEMS, { $filter: filter, $top: 1 }, ctx))[0];
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
function classifySap(response: HttpResponse, request: HttpRequest): BusinessError | TechnicalError | undefined {
  const unreadable = unreadableRepeatable(response, request);
  if (unreadable) return unreadable;
  const fault = response.status === 500 ? soapFault(response.text) : undefined;
  // A SOAP fault is the SOAP runtime refusing the message (schema, processing error): nothing was posted.
  if (fault) return new TechnicalError({ kind: "server", retryable: false, status: 500, message: `${response.method} ${response.url}: SOAP fault ${fault}` });
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

type Row = Record<string, unknown>;

/** CSRF protects SAP's OData services only; the SOAP runtime takes the communication user's credentials alone. */
class SapAuth implements AuthProvider {
  constructor(
    private readonly user: AuthProvider,
    private readonly odata: CsrfToken,
  ) {}

  authorize(request: HttpRequest): Promise<Authorization> {
    return request.path.startsWith(SOAP) ? this.user.authorize(request) : this.odata.authorize(request);
  }

  isRejected(response: HttpResponse): boolean {
    return this.odata.isRejected(response);
  }

  invalidate(authorization: Authorization, response: HttpResponse): void {
    if (authorization.credential === undefined) this.user.invalidate(authorization, response);
    else this.odata.invalidate(authorization, response);
  }

  observe(response: HttpResponse, authorization: Authorization): void {
    if (authorization.credential !== undefined) this.odata.observe(response, authorization);
  }

  close(): Promise<void> {
    return this.odata.close();
  }
}

/** A decimal string as an integer of thousandths, so amounts compare exactly. */
function scaled(amount: string): number {
  return Math.round(Number(amount) * 1000);
}

/** SAP's internal format of a numeric key (customer, G/L account): the SOAP proxy does no ALPHA conversion [~]. */
function alpha(value: string): string {
  return /^\d{1,9}$/.test(value) ? value.padStart(10, "0") : value;
}

function xmlEscape(value: string): string {
  return value.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&apos;");
}

const XML_NAME = /^[A-Za-z_][\w.-]*$/;

/**
 * A mapping's output as XML elements, in key order: an array repeats its element, "@name" keys are attributes and
 * "#text" the text; null and undefined are left out. Every name is checked and every value escaped.
 */
function toXml(value: unknown, name?: string): string {
  if (value === null || value === undefined) return "";
  if (Array.isArray(value)) return value.map((v) => toXml(v, name)).join("");
  const open = (attrs: string) => {
    if (name === undefined) return ["", ""];
    if (!XML_NAME.test(name)) throw new TechnicalError({ kind: "protocol", retryable: false, code: "MAPPING_INVALID", message: `sap-s4hana: the paymentOut mapping produced ${JSON.stringify(name)}, which is not an XML element name` });
    return [`<${name}${attrs}>`, `</${name}>`];
  };
  if (typeof value !== "object") {
    const [start, end] = open("");
    return `${start}${xmlEscape(String(value))}${end}`;
  }
  let attrs = "";
  let body = "";
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    if (key.startsWith("@")) {
      if (!XML_NAME.test(key.slice(1))) throw new TechnicalError({ kind: "protocol", retryable: false, code: "MAPPING_INVALID", message: `sap-s4hana: the paymentOut mapping produced the attribute ${JSON.stringify(key)}` });
      if (v !== null && v !== undefined) attrs += ` ${key.slice(1)}="${xmlEscape(String(v))}"`;
    } else if (key === "#text") body += v === null || v === undefined ? "" : xmlEscape(String(v));
    else body += toXml(v, key);
  }
  const [start, end] = open(attrs);
  return `${start}${body}${end}`;
}

function soapEnvelope(body: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:sfin="${SFIN}"><soapenv:Header/><soapenv:Body>${body}</soapenv:Body></soapenv:Envelope>`;
}

function soapHeaders(action: string): Record<string, string> {
  return { "Content-Type": "text/xml; charset=utf-8", Accept: "text/xml", SOAPAction: `"${action}"` };
}

/** A MessageHeader with a fresh message id (SAP's message monitor lists messages by it). */
function messageHeader(extra = ""): string {
  return `<MessageHeader><ID>${randomUUID().replace(/-/g, "").toUpperCase()}</ID><CreationDateTime>${new Date().toISOString()}</CreationDateTime>${extra}</MessageHeader>`;
}

const XML_ENTITIES: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };

function xmlDecode(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#\d+|\w+);/g, (whole, e: string) => (e[0] === "#" ? String.fromCodePoint(e[1] === "x" ? parseInt(e.slice(2), 16) : Number(e.slice(1))) : (XML_ENTITIES[e] ?? whole)));
}

/** The decoded text of each element with this local name (any namespace prefix) in a fragment. */
function elements(xml: string, name: string): string[] {
  const pattern = new RegExp(`<(?:[\\w.-]+:)?${name}(?:\\s[^>]*)?(?:/>|>([\\s\\S]*?)</(?:[\\w.-]+:)?${name}\\s*>)`, "g");
  return [...xml.matchAll(pattern)].map((m) => m[1] ?? "");
}

/** "faultcode: faultstring" of a SOAP fault, if the text is one. */
function soapFault(text: string): string | undefined {
  if (elements(text, "Fault").length === 0) return undefined;
  const code = elements(text, "faultcode")[0];
  const reason = elements(text, "faultstring")[0] ?? elements(text, "Text")[0];
  return [code, reason].filter((s) => s !== undefined).map((s) => xmlDecode(s!).trim()).join(": ") || "(no fault text)";
}

interface LogItem {
  typeId: string;
  severity: string;
  note: string;
}

/**
 * The few parts of a JournalEntryBulkCreateConfirmation the adapter needs: the new document's keys and the log.
 * Anything else in a 200 means we cannot tell whether SAP posted: an unknown outcome, so the payment is looked up.
 */
function readConfirmation(response: HttpResponse): { accountingDocument?: string; companyCode: string; fiscalYear: string; log: LogItem[] } {
  const text = response.text;
  if (elements(text, "JournalEntryBulkCreateConfirmation").length === 0) {
    throw new UnknownOutcomeError({ kind: "protocol", status: response.status, message: `${response.method} ${response.url}: HTTP ${response.status} without a JournalEntryBulkCreateConfirmation; the journal entry may have been posted` });
  }
  const first = (name: string) => xmlDecode(elements(text, name)[0] ?? "").trim();
  const log = elements(text, "Item").map((item) => ({ typeId: xmlDecode(elements(item, "TypeID")[0] ?? "").trim(), severity: xmlDecode(elements(item, "SeverityCode")[0] ?? "").trim(), note: xmlDecode(elements(item, "Note")[0] ?? "").trim() }));
  const document = first("AccountingDocument");
  return { ...(/^\d+$/.test(document) && !/^0+$/.test(document) ? { accountingDocument: document } : {}), companyCode: first("CompanyCode"), fiscalYear: first("FiscalYear"), log };
}

/**
 * Which field of the request a log message is about. Message numbers from SAP's confirmations: F5/102 (customer
 * not in company code), F5/507 (G/L account not in the chart of accounts); the others are [~] (THIN).
 */
const FIELD_OF_MESSAGE: Record<string, { field: string; hint?: string }> = {
  "102(F5)": { field: "DebtorItem.Debtor", hint: "the invoice's customer is not set up in the company code" },
  "507(F5)": { field: "Item.GLAccount", hint: "set bankGLAccount in the connection's defaults or in extensions[\"sap-s4hana\"]" },
  "351(F5)": { field: "Item.GLAccount", hint: "set bankGLAccount to a bank account, not a reconciliation account" },
  "208(F5)": { field: "JournalEntry.CompanyCode", hint: "set companyCode in the connection's defaults or in extensions[\"sap-s4hana\"]" },
  "165(F5)": { field: "JournalEntry.CompanyCode" },
  "004(F5)": { field: "JournalEntry.AccountingDocumentType" },
  "814(F5)": { field: "JournalEntry.AccountingDocumentType", hint: "set paymentDocumentType to a document type of the company (DZ by default)" },
  "308(F5)": { field: "JournalEntry.PostingDate" },
  "702(F5)": { field: "Item.AmountInTransactionCurrency" },
};

/** The first specific error of a rejected journal entry (RW/609 only says "error in document") as a BusinessError. */
function journalEntryRejection(log: LogItem[]): BusinessError {
  const errors = log.filter((i) => i.severity === "3" || i.severity === "4");
  const first = errors.find((i) => i.typeId !== "609(RW)") ?? errors[0];
  const known = first ? FIELD_OF_MESSAGE[first.typeId] : undefined;
  return new BusinessError({
    code: first?.typeId || "JOURNAL_ENTRY_REJECTED",
    message: first?.note || "SAP did not post the journal entry and gave no reason",
    ...(known ? { field: known.field } : {}),
    ...(known?.hint ? { hint: known.hint } : {}),
    vendorBody: { log },
  });
}