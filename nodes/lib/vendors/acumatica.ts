/**
 * Acumatica contract-based REST (erp-crm-wire.md §9, THIN): a cookie session from `POST /entity/auth/login`
 * (renewed on 401, ended with logout on close: sessions count against the licence), entities under
 * `/entity/{endpoint}/{version}` written with PUT, every field wrapped as `{"value": …}`.
 *
 * Identity: PUT is an upsert on an entity's key fields. A customer's key (CustomerID) is chosen here, so writing
 * it twice is harmless; a sales order, invoice or payment is numbered by Acumatica, so a PUT without its number
 * creates a new one each time: the order is looked up by CustomerOrder (the external reference) and the payment
 * by PaymentRef before they are posted again.
 *
 * THIN: the error body is not captured in §9. Validation errors are read as the sandbox answers them: 422 with the
 * entity echoed and `error` on the faulty field, 400 with `modelState`, and PX exceptions as 500
 * `{exceptionMessage, exceptionType}` (business when the type is Acumatica's own `PX.*`, technical otherwise).
 * A wrong endpoint or version is a 404 (configuration). Rate limits are licence tiers (429 honoured).
 * The contract-based API has no $orderby, so invoices changed since the watermark are read whole, then sorted.
 */
import { Connection } from "../resilience/connection";
import { BusinessError, TechnicalError } from "../resilience/errors";
import { CookieSession } from "../http/auth";
import type { HttpResponse } from "../http/client";
import { ErpAdapterBase, externalIdOf, unreadableRepeatable, withRef } from "./erp-base";
import type { CallContext, CreateOrderContext, CrossRef, Customer, ErpAdapterOptions, Invoice, InvoicePage, OrderOutcome, Payment, SalesOrder } from "./erp";

export interface AcumaticaOptions extends ErpAdapterOptions {
  /** Login name and password of the API user. */
  user: string;
  password: string;
  /** Tenant (company) to log in to; may be omitted on a single-tenant site. */
  tenant?: string;
  branch?: string;
  /** Endpoint name and version, default "Default" and "24.200.001". */
  endpoint?: string;
  endpointVersion?: string;
}

const SYSTEM = "acumatica";
const DEFAULT_PAGE = 100;
/** Rows read per request while collecting changed invoices. */
const READ_PAGE = 500;
/** Polls of a long operation (an action answered 202) before giving up. */
const ACTION_POLLS = 20;

type Row = Record<string, unknown>;

export class AcumaticaAdapter extends ErpAdapterBase {
  readonly system = SYSTEM;
  readonly connection: Connection;
  private readonly base: string;

  constructor(acu: AcumaticaOptions) {
    super(acu, {
      orderOut: "salesorder-to-acumatica-salesorder",
      orderIn: "acumatica-salesorder-to-salesorder",
      customerOut: "customer-to-acumatica-customer",
      invoiceIn: "acumatica-salesinvoice-to-invoice",
      paymentOut: "payment-to-acumatica-payment",
    });
    this.base = `entity/${acu.endpoint || "Default"}/${acu.endpointVersion || "24.200.001"}`;
    const { timeoutMs, tls, ...limits } = acu.connection ?? {};
    const credentials = { name: acu.user, password: acu.password, ...(acu.tenant ? { tenant: acu.tenant } : {}), ...(acu.branch ? { branch: acu.branch } : {}) };
    this.connection = new Connection({
      name: acu.name,
      http: { baseUrl: acu.baseUrl, ...(timeoutMs !== undefined ? { timeoutMs } : {}), ...(tls ? { tls } : {}) },
      auth: (http) => new CookieSession(http, { login: { method: "POST", path: "entity/auth/login", body: credentials }, logout: { method: "POST", path: "entity/auth/logout" } }),
      ...limits,
      hooks: { classify: (response, request) => unreadableRepeatable(response, request) ?? classifyAcumatica(response) },
    });
  }

  async ensureCustomer(customer: Customer, ctx: CallContext): Promise<{ ref: CrossRef; created: boolean }> {
    const own = this.ownRef(customer.refs);
    if (own) return { ref: own, created: false };
    const externalId = externalIdOf(customer, this.system);
    if (!externalId) throw new BusinessError({ code: "NO_EXTERNAL_ID", field: "customer.refs", message: "no external id to key the Acumatica customer by", hint: "add the CRM's cross-reference (system and id)" });
    const body = await this.map("customerOut", { ...this.withDefaults(customer as never), externalId });
    const customerId = unwrap(body.CustomerID);
    if (typeof customerId !== "string" || !customerId) throw new BusinessError({ code: "NO_CUSTOMER_ID", field: "CustomerID", message: "the customer mapping gave no CustomerID", hint: "Acumatica does not number customers: the mapping must set CustomerID" });
    const found = (await this.list("Customer", { $filter: `CustomerID eq ${literal(customerId)}`, $top: 1 }, ctx))[0];
    if (found) return { ref: customerRef(found), created: false };
    // PUT upserts on CustomerID: a repeat after a lost answer writes the same customer again.
    const written = await this.put("Customer", body, ctx, true);
    return { ref: customerRef(written), created: true };
  }

  async createOrder(order: SalesOrder, ctx: CreateOrderContext): Promise<OrderOutcome> {
    const customerId = this.ownRef(order.customer.refs)?.id;
    if (!customerId) throw new BusinessError({ code: "CUSTOMER_NOT_LINKED", field: "customer.refs", message: "the order's customer has no Acumatica CustomerID", hint: "turn on \"ensure customer\" or add the ERP customer's cross-reference" });
    const body = await this.map("orderOut", this.withDefaults(order));
    const find = async (): Promise<Row | undefined> =>
      (await this.list("SalesOrder", { $filter: `CustomerOrder eq ${literal(order.externalReference)} and CustomerID eq ${literal(customerId)}`, $top: 1 }, ctx))[0];
    const { value, created } = await this.postOnce(find, () => this.put("SalesOrder", body, ctx, false), ctx.mayExist === true);
    const number = String(unwrap(value.OrderNbr));
    const status = unwrap(value.Status);
    return {
      order: { ...withRef(order, { system: this.system, id: number, type: "SalesOrder", number }), orderNumber: number, status: status === "On Hold" || status === "Pending Approval" ? "pending-approval" : "accepted" },
      created,
    };
  }

  async getOrder(key: { id?: string; externalReference?: string }, ctx: CallContext): Promise<SalesOrder | undefined> {
    const filter = key.id !== undefined ? `OrderNbr eq ${literal(key.id)}` : `CustomerOrder eq ${literal(key.externalReference ?? "")}`;
    const record = (await this.list("SalesOrder", { $filter: filter, $expand: "Details", $top: 1 }, ctx))[0];
    return record ? ((await this.map("orderIn", record)) as SalesOrder) : undefined;
  }

  async *listInvoices(watermark: string | undefined, ctx: CallContext & { pageSize?: number }): AsyncGenerator<InvoicePage> {
    const pageSize = ctx.pageSize ?? DEFAULT_PAGE;
    const after = parseWatermark(watermark);
    // No $orderby in the contract-based API [THIN]: read everything changed since the watermark (ge: the same
    // instant may hold more invoices), drop what the watermark already covers, and sort.
    const rows: Row[] = [];
    for (let skip = 0; ; skip += READ_PAGE) {
      const query: Record<string, string | number> = { $expand: "Details", $top: READ_PAGE, $skip: skip };
      if (after) query.$filter = `LastModifiedDateTime ge datetimeoffset'${after.at}'`;
      const page = await this.list("SalesInvoice", query, ctx);
      rows.push(...page);
      if (page.length < READ_PAGE) break;
    }
    const keyed = rows
      .map((row) => ({ row, at: modifiedAt(row), id: String(unwrap(row.ReferenceNbr)) }))
      .filter((x) => !after || x.at > after.at || (x.at === after.at && x.id > after.id))
      .sort((a, b) => (a.at === b.at ? (a.id < b.id ? -1 : a.id > b.id ? 1 : 0) : a.at < b.at ? -1 : 1));
    for (let i = 0; i < keyed.length; i += pageSize) {
      const slice = keyed.slice(i, i + pageSize);
      const last = slice[slice.length - 1]!;
      yield { ...(await this.mapInvoices(slice.map((x) => x.row), (r) => String(unwrap(r.ReferenceNbr)))), watermark: `${last.at}|${last.id}` };
    }
  }

  async getInvoice(id: string, ctx: CallContext): Promise<Invoice | undefined> {
    const record = (await this.list("SalesInvoice", { $filter: `ReferenceNbr eq ${literal(id)}`, $expand: "Details", $top: 1 }, ctx))[0];
    return record ? ((await this.map("invoiceIn", record)) as Invoice) : undefined;
  }

  /** A payment applied to one invoice, released; found by PaymentRef before it is posted (or released) again. */
  async recordPayment(payment: Payment, ctx: CallContext): Promise<Payment> {
    const { invoiceId: invoiceNbr, reference } = this.paymentTarget(payment, "Acumatica reference number");
    const invoice = (await this.list("SalesInvoice", { $filter: `ReferenceNbr eq ${literal(invoiceNbr)}`, $top: 1 }, ctx))[0];
    if (!invoice) throw new BusinessError({ code: "NOT_FOUND", field: "invoices[0].refs", message: `no Acumatica invoice ${invoiceNbr}` });
    const customerId = String(unwrap(invoice.CustomerID));
    const body = await this.map("paymentOut", { ...payment, reference, customerId, invoiceNumber: invoiceNbr });
    const find = async (): Promise<Row | undefined> => (await this.list("Payment", { $filter: `PaymentRef eq ${literal(reference)} and CustomerID eq ${literal(customerId)}`, $top: 1 }, ctx))[0];
    // A payment is money: always look for it by its reference before posting.
    let { value: record } = await this.postOnce(find, () => this.put("Payment", body, ctx, false), true);
    if (unwrap(record.Status) === "Balanced") {
      // Releasing twice is refused ("only balanced payments"), so a repeat after a lost answer reads the status.
      await this.action("Payment", "ReleasePayment", { id: record.id }, ctx).catch(async (err: unknown) => {
        const now = await find();
        if (!now || unwrap(now.Status) === "Balanced") throw err;
      });
      record = (await find()) ?? record;
    }
    const status = unwrap(record.Status);
    return { ...withRef(payment, { system: this.system, id: String(unwrap(record.ReferenceNbr)), type: "Payment", number: String(unwrap(record.ReferenceNbr)) }), status: status === "Open" || status === "Closed" ? "succeeded" : "pending" };
  }

  private async list(entity: string, query: Record<string, string | number>, ctx: CallContext): Promise<Row[]> {
    const response = await this.connection.request({ method: "GET", path: `${this.base}/${entity}`, query, correlationId: ctx.correlationId });
    if (!Array.isArray(response.body)) throw new TechnicalError({ kind: "protocol", retryable: false, status: response.status, message: `GET ${response.url}: expected a JSON array` });
    return response.body as Row[];
  }

  private async put(entity: string, body: Record<string, unknown>, ctx: CallContext, upsertOnKey: boolean): Promise<Row> {
    const response = await this.connection.request({ method: "PUT", path: `${this.base}/${entity}`, body, idempotent: upsertOnKey, correlationId: ctx.correlationId });
    const row = response.body as Row | undefined;
    if (!row || typeof row !== "object" || typeof row.id !== "string") throw new TechnicalError({ kind: "protocol", retryable: false, status: response.status, message: `PUT ${response.url}: no entity in the answer` });
    return row;
  }

  /** Runs an action and waits for its long operation: 202 + Location to poll until 204. */
  private async action(entity: string, name: string, entityKey: Row, ctx: CallContext): Promise<void> {
    const response = await this.connection.request({ method: "POST", path: `${this.base}/${entity}/${name}`, body: { entity: entityKey }, correlationId: ctx.correlationId });
    let location = response.status === 202 ? response.headers.location : undefined;
    for (let poll = 0; location && poll < ACTION_POLLS; poll++) {
      const status = await this.connection.request({ method: "GET", path: new URL(location, this.connection.http.resolve("")).toString(), correlationId: ctx.correlationId });
      if (status.status !== 202) return;
      await new Promise((resolve) => setTimeout(resolve, 100 * (poll + 1)));
      location = status.headers.location ?? location;
    }
    if (location) throw new TechnicalError({ kind: "timeout", retryable: false, message: `${entity} ${name}: the long operation did not finish` });
  }
}

/** `{value: x}` → x; anything else as is. */
function unwrap(field: unknown): unknown {
  return field && typeof field === "object" && !Array.isArray(field) && "value" in field ? (field as { value: unknown }).value : field;
}

function customerRef(row: Row): CrossRef {
  const id = String(unwrap(row.CustomerID));
  return { system: SYSTEM, id, type: "Customer", number: id };
}

function modifiedAt(row: Row): string {
  const value = unwrap(row.LastModifiedDateTime);
  const time = typeof value === "string" ? Date.parse(value) : NaN;
  if (Number.isNaN(time)) throw new TechnicalError({ kind: "protocol", retryable: false, message: `Acumatica: unreadable LastModifiedDateTime ${JSON.stringify(value)}` });
  return new Date(time).toISOString();
}

/** An OData string literal. */
function literal(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

function parseWatermark(watermark: string | undefined): { at: string; id: string } | undefined {
  if (!watermark) return undefined;
  const bar = watermark.lastIndexOf("|");
  const at = watermark.slice(0, bar);
  const id = watermark.slice(bar + 1);
  if (bar <= 0 || Number.isNaN(Date.parse(at)) || !id) throw new TypeError(`Acumatica watermark must be "<ISO time>|<reference number>", got ${JSON.stringify(watermark)}`);
  return { at: new Date(at).toISOString(), id };
}

/**
 * Acumatica's answers as business errors (THIN): 422 (entity echoed, `error` = "Field: message" and the field's
 * own `error`), 400 `modelState`, 500 with a `PX.*` exception type. A 404 "No HTTP resource" is a wrong endpoint
 * or version: configuration, so technical and not retried.
 */
function classifyAcumatica(response: HttpResponse): BusinessError | TechnicalError | undefined {
  const body = response.body as { error?: unknown; modelState?: Record<string, string[]>; message?: string; exceptionMessage?: string; exceptionType?: string } | undefined;
  if (!body || typeof body !== "object") return undefined;
  if (response.status === 422 && typeof body.error === "string") {
    const m = /^([\w.[\]]+): ([\s\S]*)$/.exec(body.error);
    return new BusinessError({ code: "VALIDATION_FAILED", message: m ? m[2]! : body.error, status: 422, vendorBody: body, ...(m ? { field: m[1]! } : {}) });
  }
  if (response.status === 400 && body.modelState && typeof body.modelState === "object") {
    const [field, messages] = Object.entries(body.modelState)[0] ?? [];
    return new BusinessError({ code: "INVALID_REQUEST", message: messages?.[0] ?? body.message ?? "The request is invalid.", status: 400, vendorBody: body, ...(field ? { field } : {}) });
  }
  if (response.status === 404 && /No HTTP resource/i.test(body.message ?? "")) {
    return new TechnicalError({ kind: "protocol", retryable: false, status: 404, message: `${response.method} ${response.url}: ${body.message} (check the endpoint name and version)` });
  }
  if (response.status === 500 && typeof body.exceptionType === "string" && body.exceptionType.startsWith("PX.")) {
    return new BusinessError({ code: body.exceptionType.slice(body.exceptionType.lastIndexOf(".") + 1), message: body.exceptionMessage ?? body.message ?? "HTTP 500", status: 500, vendorBody: body });
  }
  return undefined;
}
