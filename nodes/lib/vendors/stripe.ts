/**
 * Stripe, the billing side (erp-crm-wire.md §10). An "order" here is a draft invoice with its invoice items, and
 * every POST carries an Idempotency-Key derived from the business key, so a repeat after a lost answer replays
 * Stripe's stored result instead of billing twice. Bodies are form-encoded with Stripe's bracket notation.
 */
import { Connection } from "../resilience/connection";
import { BusinessError, TechnicalError } from "../resilience/errors";
import { VENDOR_LIMITS } from "../resilience/vendor-limits";
import { parseStripeShouldRetry } from "../resilience/signals";
import { bearerToken } from "../http/auth";
import type { HttpResponse } from "../http/client";
import { ErpAdapterBase, externalIdOf, unreadableRepeatable, withRef } from "./erp-base";
import type { CallContext, CreateOrderContext, CrossRef, Customer, ErpAdapterOptions, Invoice, InvoicePage, OrderOutcome, Payment, SalesOrder } from "./erp";

export interface StripeOptions extends ErpAdapterOptions {
  secretKey: string;
}

const DEFAULT_PAGE = 100;

export class StripeAdapter extends ErpAdapterBase {
  readonly system = "stripe";
  readonly connection: Connection;

  constructor(stripe: StripeOptions) {
    super(stripe, {
      orderOut: "salesorder-to-stripe-invoice",
      orderIn: "stripe-invoice-to-salesorder",
      customerOut: "customer-to-stripe-customer",
      invoiceIn: "stripe-invoice-to-invoice",
    });
    const { timeoutMs, tls, ...limits } = stripe.connection ?? {};
    this.connection = new Connection({
      name: stripe.name,
      http: { baseUrl: stripe.baseUrl, ...(timeoutMs !== undefined ? { timeoutMs } : {}), ...(tls ? { tls } : {}) },
      auth: () => bearerToken(stripe.secretKey),
      ...VENDOR_LIMITS.stripe,
      ...limits,
      hooks: {
        classify: (response, request) => unreadableRepeatable(response, request) ?? classifyStripe(response),
        requestId: { header: "request-id", label: "stripeRequestId" },
      },
    });
  }

  async ensureCustomer(customer: Customer, ctx: CallContext): Promise<{ ref: CrossRef; created: boolean }> {
    const own = this.ownRef(customer.refs);
    if (own) return { ref: own, created: false };
    const externalId = externalIdOf(customer, this.system);
    if (!externalId) throw new BusinessError({ code: "NO_EXTERNAL_ID", field: "customer.refs", message: "no external id to find the Stripe customer by", hint: "add the CRM's cross-reference (system and id)" });
    if (typeof customer.email === "string") {
      const listed = await this.connection.request({ method: "GET", path: "v1/customers", query: { email: customer.email, limit: 100 }, correlationId: ctx.correlationId });
      const match = (listed.body as { data?: { id: string; metadata?: Record<string, string> }[] }).data?.find((c) => c.metadata?.external_id === externalId);
      if (match) return { ref: { system: this.system, id: match.id, type: "customer" }, created: false };
    }
    const response = await this.post("v1/customers", await this.map("customerOut", { ...customer, externalId }), `keelson-customer-${externalId}`, ctx);
    return { ref: { system: this.system, id: String((response.body as { id: string }).id), type: "customer" }, created: response.headers["idempotent-replayed"] !== "true" };
  }

  async createOrder(order: SalesOrder, ctx: CreateOrderContext): Promise<OrderOutcome> {
    if (!this.ownRef(order.customer.refs)) throw new BusinessError({ code: "CUSTOMER_NOT_LINKED", field: "customer.refs", message: "the order's customer has no Stripe customer id", hint: "turn on \"ensure customer\" or add the Stripe customer's cross-reference" });
    const body = (await this.map("orderOut", this.withDefaults(order))) as { invoice: Record<string, unknown>; items: Record<string, unknown>[] };
    const key = `keelson-order-${order.externalReference}`;
    const response = await this.post("v1/invoices", body.invoice, key, ctx);
    const invoice = response.body as { id: string; number?: string | null };
    for (const [i, item] of (body.items ?? []).entries()) {
      await this.post("v1/invoiceitems", { ...item, customer: body.invoice.customer, invoice: invoice.id }, `${key}-line-${i + 1}`, ctx);
    }
    const ref: CrossRef = { system: this.system, id: invoice.id, type: "invoice", ...(invoice.number ? { number: invoice.number } : {}) };
    return { order: { ...withRef(order, ref), status: "accepted" }, created: response.headers["idempotent-replayed"] !== "true" };
  }

  async getOrder(key: { id?: string; externalReference?: string }, ctx: CallContext): Promise<SalesOrder | undefined> {
    const invoice = key.id !== undefined ? await this.invoice(key.id, ctx) : await this.searchByReference(key.externalReference ?? "", ctx);
    return invoice ? ((await this.map("orderIn", invoice)) as SalesOrder) : undefined;
  }

  /**
   * Stripe lists newest first and has no "changed since" filter: the watermark is the newest invoice id seen, and
   * later runs walk forward from it with ending_before. A first run walks the whole list backwards and stores the
   * watermark after its last page (a crash before that replays the run; the gate downstream drops the repeats).
   */
  async *listInvoices(watermark: string | undefined, ctx: CallContext & { pageSize?: number }): AsyncGenerator<InvoicePage> {
    const limit = ctx.pageSize ?? DEFAULT_PAGE;
    if (!watermark) {
      let newest: string | undefined;
      let cursor: string | undefined;
      for (;;) {
        const page = await this.page({ limit, ...(cursor ? { starting_after: cursor } : {}) }, ctx);
        if (page.data.length === 0) return;
        newest ??= page.data[0]!.id;
        cursor = page.data[page.data.length - 1]!.id;
        const mapped = await this.mapAll(page.data.slice().reverse());
        if (!page.has_more) {
          yield { ...mapped, watermark: newest };
          return;
        }
        yield { ...mapped, watermark };
      }
    }
    let cursor = watermark;
    for (;;) {
      const page = await this.page({ limit, ending_before: cursor }, ctx);
      if (page.data.length === 0) return;
      cursor = page.data[0]!.id;
      yield { ...(await this.mapAll(page.data.slice().reverse())), watermark: cursor };
      if (!page.has_more) return;
    }
  }

  async getInvoice(id: string, ctx: CallContext): Promise<Invoice | undefined> {
    const invoice = await this.invoice(id, ctx);
    return invoice ? ((await this.map("invoiceIn", invoice)) as Invoice) : undefined;
  }

  /** Marks the invoice paid outside Stripe (the money came by bank transfer, say); Stripe pays an invoice in full. */
  async recordPayment(payment: Payment, ctx: CallContext): Promise<Payment> {
    const { invoiceId, reference } = this.paymentTarget(payment, "Stripe id");
    const response = await this.post(`v1/invoices/${encodeURIComponent(invoiceId)}/pay`, { paid_out_of_band: true }, `keelson-payment-${reference}`, ctx);
    const paid = response.body as { id: string; status?: string };
    return { ...withRef(payment, { system: this.system, id: paid.id, type: "invoice" }), status: paid.status === "paid" ? "succeeded" : "pending" };
  }

  private post(path: string, params: Record<string, unknown>, idempotencyKey: string, ctx: CallContext): Promise<HttpResponse> {
    // With the key, sending again after a lost answer is safe: Stripe replays the first result.
    return this.connection.request({ method: "POST", path, body: toForm(params), headers: { "Idempotency-Key": idempotencyKey }, idempotent: true, correlationId: ctx.correlationId });
  }

  private async page(query: Record<string, string | number>, ctx: CallContext): Promise<{ data: { id: string }[]; has_more: boolean }> {
    const response = await this.connection.request({ method: "GET", path: "v1/invoices", query, correlationId: ctx.correlationId });
    const body = response.body as { data?: { id: string }[]; has_more?: boolean };
    if (!Array.isArray(body?.data)) throw new TechnicalError({ kind: "protocol", retryable: false, message: `GET ${response.url}: no data list in the answer` });
    return { data: body.data, has_more: body.has_more === true };
  }

  private mapAll(objects: { id: string }[]): Promise<Pick<InvoicePage, "invoices" | "rejected">> {
    return this.mapInvoices(objects as unknown as Record<string, unknown>[], (r) => String(r.id));
  }

  private async invoice(id: string, ctx: CallContext): Promise<Record<string, unknown> | undefined> {
    try {
      return (await this.connection.request({ method: "GET", path: `v1/invoices/${encodeURIComponent(id)}`, correlationId: ctx.correlationId })).body as Record<string, unknown>;
    } catch (err) {
      if (err instanceof BusinessError && err.status === 404) return undefined;
      throw err;
    }
  }

  private async searchByReference(reference: string, ctx: CallContext): Promise<Record<string, unknown> | undefined> {
    const response = await this.connection.request({ method: "GET", path: "v1/invoices/search", query: { query: `metadata['external_reference']:'${reference.replace(/'/g, "\\'")}'`, limit: 1 }, correlationId: ctx.correlationId });
    return (response.body as { data?: Record<string, unknown>[] }).data?.[0];
  }
}

/**
 * Stripe's own verdict first: Stripe-Should-Retry true on a 409 (the same key is still being processed) makes it
 * a retryable technical error; otherwise the default rules and Stripe's {error: {code, message, param}} apply.
 */
function classifyStripe(response: HttpResponse): BusinessError | TechnicalError | undefined {
  if (response.status === 409 && parseStripeShouldRetry(response.headers) === true) {
    return new TechnicalError({ kind: "server", retryable: true, status: 409, code: "idempotency_key_in_use", message: `${response.method} ${response.url}: another request with the same Idempotency-Key is in progress` });
  }
  if (response.status < 400 || response.status >= 500 || response.status === 401 || response.status === 403 || response.status === 429) return undefined;
  const error = (response.body as { error?: { type?: string; code?: string; message?: string; param?: string; decline_code?: string } } | undefined)?.error;
  if (!error || typeof error !== "object") return undefined;
  return new BusinessError({
    code: error.code ?? error.type ?? `HTTP_${response.status}`,
    message: error.message ?? `HTTP ${response.status}`,
    status: response.status,
    vendorBody: response.body,
    ...(error.param ? { field: error.param } : {}),
    ...(error.decline_code ? { hint: `decline code ${error.decline_code}` } : {}),
  });
}

/** Stripe's form encoding: nested objects as a[b]=…, arrays as a[0][b]=…; undefined and null are left out. */
export function toForm(params: Record<string, unknown>): URLSearchParams {
  const form = new URLSearchParams();
  const add = (prefix: string, value: unknown): void => {
    if (value === undefined || value === null) return;
    if (Array.isArray(value)) value.forEach((v, i) => add(`${prefix}[${i}]`, v));
    else if (typeof value === "object") for (const [k, v] of Object.entries(value)) add(`${prefix}[${k}]`, v);
    else form.append(prefix, String(value));
  };
  for (const [k, v] of Object.entries(params)) add(k, v);
  return form;
}
