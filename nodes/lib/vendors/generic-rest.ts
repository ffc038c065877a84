/**
 * A configurable REST profile for ERPs without an adapter of their own (Infor, in-house systems): paths with
 * {placeholders}, and JSONata templates for request and response shapes, all set in the connection dialog.
 * Exactly-once: an idempotency header carrying the business key when the ERP honours one, otherwise a look-up
 * by external reference (the findOrder path) before posting again after an unknown outcome.
 */
import { Connection } from "../resilience/connection";
import { BusinessError, TechnicalError } from "../resilience/errors";
import { OAuth2ClientCredentials, apiKeyHeader, basicAuth, bearerToken, type AuthProvider } from "../http/auth";
import type { HttpResponse } from "../http/client";
import { CanonicalMapper } from "../mapping/mapping";
import { ErpAdapterBase, externalIdOf, notOffered, unreadableRepeatable, withRef } from "./erp-base";
import type { CallContext, CreateOrderContext, CrossRef, Customer, ErpAdapterOptions, Invoice, InvoicePage, OrderOutcome, Payment, SalesOrder } from "./erp";

export type GenericRestAuth =
  | { kind: "none" }
  | { kind: "bearer"; token: string }
  | { kind: "basic"; user: string; password: string }
  | { kind: "api-key"; header: string; key: string }
  | { kind: "oauth2"; tokenUrl: string; clientId: string; clientSecret: string; scope?: string };

/**
 * Paths relative to the base URL; {id}, {externalReference}, {externalId}, {invoiceId}, {reference}, {since} and
 * {limit} are filled in, encoded.
 */
export interface GenericRestPaths {
  createOrder?: string;
  getOrder?: string;
  /** GET by {externalReference}: how an order is found again after a lost response (or an idempotency header). */
  findOrder?: string;
  findCustomer?: string;
  createCustomer?: string;
  /**
   * GET of the invoices changed after {since} (the last watermark; empty the first time), oldest change first, at
   * most {limit}. Without those placeholders the query gets `since=<watermark>&limit=<n>`.
   */
  listInvoices?: string;
  getInvoice?: string;
  /** POST, with {invoiceId}. */
  recordPayment?: string;
  /** GET by {reference} (and {invoiceId}): how a payment is found again after a lost response. */
  findPayment?: string;
}

/** JSONata over a response body: where the new id is, where a list's items are. */
export interface GenericRestSelectors {
  /** From a create's response body to the new record's id (default `id`). */
  id?: string;
  /** From a create's response body to the record's number (default none). */
  number?: string;
  /** From a list or find response to its items (default `items`). */
  items?: string;
  /** From one invoice (as the ERP sent it) to its watermark value (default `updatedAt`). */
  watermark?: string;
}

export interface GenericRestOptions extends ErpAdapterOptions {
  /** The system name written into cross-references ("infor-m3"). */
  systemName?: string;
  auth: GenericRestAuth;
  paths: GenericRestPaths;
  selectors?: GenericRestSelectors;
  /** Header that carries the business key on creates, when the ERP de-duplicates by one ("Idempotency-Key"). */
  idempotencyHeader?: string;
}

export class GenericRestAdapter extends ErpAdapterBase {
  readonly system: string;
  readonly connection: Connection;
  private readonly selectors = new Map<string, CanonicalMapper>();

  constructor(private readonly rest: GenericRestOptions) {
    super(rest, {});
    this.system = rest.systemName || "generic-rest";
    // A create that cannot be found again and carries no idempotency key could be made twice after a lost answer.
    const { paths } = rest;
    if (!rest.idempotencyHeader) {
      if (paths.createOrder && !paths.findOrder) throw new TypeError(`${this.system}: createOrder needs findOrder or an idempotency header, so that an order is never created twice`);
      if (paths.recordPayment && !paths.findPayment) throw new TypeError(`${this.system}: recordPayment needs findPayment or an idempotency header, so that a payment is never recorded twice`);
    }
    const { timeoutMs, tls, ...limits } = rest.connection ?? {};
    const auth = rest.auth;
    this.connection = new Connection({
      name: rest.name,
      http: { baseUrl: rest.baseUrl, ...(timeoutMs !== undefined ? { timeoutMs } : {}), ...(tls ? { tls } : {}) },
      ...(auth.kind === "none" ? {} : { auth: (http) => authOf(http, auth) }),
      hooks: { classify: (response, request) => unreadableRepeatable(response, request) },
      ...limits,
    });
  }

  async ensureCustomer(customer: Customer, ctx: CallContext): Promise<{ ref: CrossRef; created: boolean }> {
    const own = this.ownRef(customer.refs);
    if (own) return { ref: own, created: false };
    const externalId = externalIdOf(customer, this.system);
    if (!externalId) throw new BusinessError({ code: "NO_EXTERNAL_ID", field: "customer.refs", message: "no external id to find the customer by" });
    const find = async (): Promise<CrossRef | undefined> => {
      const found = (await this.items(await this.get(this.path("findCustomer", { externalId }), ctx)))[0];
      return found === undefined ? undefined : await this.refOf(found, "customer");
    };
    const found = await find();
    if (found) return { ref: found, created: false };
    const body = await this.map("customerOut", { ...customer, externalId });
    const post = async (): Promise<CrossRef> => this.refOf((await this.send("POST", this.path("createCustomer", {}), body, `customer-${externalId}`, true, ctx)).body, "customer");
    const { value, created } = await this.postOnce(find, post, false);
    return { ref: value, created };
  }

  async createOrder(order: SalesOrder, ctx: CreateOrderContext): Promise<OrderOutcome> {
    const body = await this.map("orderOut", this.withDefaults(order));
    const find = async (): Promise<CrossRef | undefined> => {
      if (!this.rest.paths.findOrder) return undefined;
      const found = (await this.items(await this.get(this.path("findOrder", { externalReference: order.externalReference }), ctx)))[0];
      return found === undefined ? undefined : await this.refOf(found, "order");
    };
    const post = async (): Promise<CrossRef> => this.refOf((await this.send("POST", this.path("createOrder", {}), body, order.externalReference, this.rest.paths.findOrder !== undefined, ctx)).body, "order");
    const { value, created } = await this.postOnce(find, post, ctx.mayExist === true);
    return { order: { ...withRef(order, value), ...(value.number ? { orderNumber: value.number } : {}), status: "accepted" }, created };
  }

  async getOrder(key: { id?: string; externalReference?: string }, ctx: CallContext): Promise<SalesOrder | undefined> {
    let record: unknown;
    if (key.id !== undefined) record = await this.getOrUndefined(this.path("getOrder", { id: key.id }), ctx);
    else record = (await this.items(await this.get(this.path("findOrder", { externalReference: key.externalReference ?? "" }), ctx)))[0];
    return record === undefined ? undefined : ((await this.map("orderIn", record)) as SalesOrder);
  }

  /** The ERP answers invoices changed after `since` in change order; the watermark is read from the last one. */
  async *listInvoices(watermark: string | undefined, ctx: CallContext & { pageSize?: number }): AsyncGenerator<InvoicePage> {
    const limit = ctx.pageSize ?? 100;
    const template = this.rest.paths.listInvoices ?? "";
    const inPath = /\{(since|limit)\}/.test(template);
    let since = watermark;
    for (;;) {
      const path = this.path("listInvoices", { since: since ?? "", limit: String(limit) });
      const response = await this.connection.request({ method: "GET", path, ...(inPath ? {} : { query: { since, limit } }), correlationId: ctx.correlationId });
      const rows = await this.items(response.body);
      if (rows.length === 0) return;
      const next = await this.select("watermark", "updatedAt", rows[rows.length - 1]);
      if (typeof next !== "string" && typeof next !== "number") throw new TechnicalError({ kind: "protocol", retryable: false, message: `${this.system}: the watermark selector found nothing in the last invoice` });
      // An ERP that answers "at or after" would hand the same full page back for ever.
      if (rows.length >= limit && String(next) === since) throw new TechnicalError({ kind: "protocol", retryable: false, message: `${this.system}: a full page of invoices ended on the watermark it started from (${since}); the ERP must answer invoices changed strictly after it, or the page size must grow` });
      since = String(next);
      yield { ...(await this.mapInvoices(rows as Record<string, unknown>[], (r) => String(r.id ?? ""))), watermark: since };
      if (rows.length < limit) return;
    }
  }

  async getInvoice(id: string, ctx: CallContext): Promise<Invoice | undefined> {
    const record = await this.getOrUndefined(this.path("getInvoice", { id }), ctx);
    return record === undefined ? undefined : ((await this.map("invoiceIn", record)) as Invoice);
  }

  /** A payment is money: it is looked up by its reference before it is posted, and again after a lost answer. */
  async recordPayment(payment: Payment, ctx: CallContext): Promise<Payment> {
    const invoiceId = this.ownRef(payment.invoices?.[0]?.refs)?.id;
    if (!invoiceId) throw new BusinessError({ code: "INVOICE_NOT_LINKED", field: "invoices[0].refs", message: `the payment's invoice has no ${this.system} id` });
    const reference = payment.reference ?? externalIdOf(payment, this.system);
    if (!reference) throw new BusinessError({ code: "NO_EXTERNAL_ID", field: "reference", message: "a payment needs a reference to be recorded once", hint: "set payment.reference (the bank or PSP reference)" });
    const path = this.path("recordPayment", { invoiceId });
    const body = await this.map("paymentOut", { ...payment, reference });
    const find = async (): Promise<CrossRef | undefined> => {
      if (!this.rest.paths.findPayment) return undefined;
      const found = (await this.items(await this.get(this.path("findPayment", { reference, invoiceId }), ctx)))[0];
      return found === undefined ? undefined : await this.refOf(found, "payment");
    };
    const post = async (): Promise<CrossRef> => this.refOf((await this.send("POST", path, body, `payment-${reference}`, this.rest.paths.findPayment !== undefined, ctx)).body, "payment");
    const { value } = await this.postOnce(find, post, this.rest.paths.findPayment !== undefined);
    return { ...withRef(payment, value), reference, status: "succeeded" };
  }

  private path(name: keyof GenericRestPaths, values: Record<string, string>): string {
    const template = this.rest.paths[name];
    if (!template) throw notOffered(this.system, name);
    return template.replace(/\{(\w+)\}/g, (_, key: string) => {
      if (values[key] === undefined) throw new TypeError(`${this.system}: path ${name} names {${key}}, which ${name} does not provide`);
      return encodeURIComponent(values[key]);
    });
  }

  /**
   * A create, with the idempotency header when the ERP takes one. Where the record can also be found again, the
   * look-up decides after an unknown outcome (the header rides along): an ERP that ignores the header then still
   * makes one record. Only without a look-up is the header trusted to make a blind re-send safe.
   */
  private send(method: "POST", path: string, body: unknown, key: string, findable: boolean, ctx: CallContext): Promise<HttpResponse> {
    const header = this.rest.idempotencyHeader;
    return this.connection.request({ method, path, body, correlationId: ctx.correlationId, ...(header ? { headers: { [header]: key }, idempotent: !findable } : {}) });
  }

  private async get(path: string, ctx: CallContext): Promise<unknown> {
    return (await this.connection.request({ method: "GET", path, correlationId: ctx.correlationId })).body;
  }

  private async getOrUndefined(path: string, ctx: CallContext): Promise<unknown> {
    try {
      return await this.get(path, ctx);
    } catch (err) {
      if (err instanceof BusinessError && err.status === 404) return undefined;
      throw err;
    }
  }

  private async items(body: unknown): Promise<unknown[]> {
    const items = await this.select("items", "items", body);
    if (items === undefined) return [];
    return Array.isArray(items) ? items : [items];
  }

  private async refOf(body: unknown, type: string): Promise<CrossRef> {
    const id = await this.select("id", "id", body);
    if (id === undefined || id === null || id === "") throw new TechnicalError({ kind: "protocol", retryable: false, message: `${this.system}: the id selector found no id in the ${type} answer` });
    const number = this.rest.selectors?.number ? await this.select("number", "", body) : undefined;
    return { system: this.system, id: String(id), type, ...(number !== undefined && number !== null ? { number: String(number) } : {}) };
  }

  private async select(name: keyof GenericRestSelectors, fallback: string, input: unknown): Promise<unknown> {
    let mapper = this.selectors.get(name);
    if (!mapper) {
      mapper = new CanonicalMapper({ expression: this.rest.selectors?.[name] || fallback });
      this.selectors.set(name, mapper);
    }
    return (await mapper.map(input)).value;
  }
}

function authOf(http: Parameters<NonNullable<ConstructorParameters<typeof Connection>[0]["auth"]>>[0], auth: Exclude<GenericRestAuth, { kind: "none" }>): AuthProvider {
  switch (auth.kind) {
    case "bearer":
      return bearerToken(auth.token);
    case "basic":
      return basicAuth(auth.user, auth.password);
    case "api-key":
      return apiKeyHeader(auth.header, auth.key);
    case "oauth2":
      return new OAuth2ClientCredentials(http, { tokenUrl: auth.tokenUrl, clientId: auth.clientId, clientSecret: auth.clientSecret, ...(auth.scope ? { scope: auth.scope } : {}) });
  }
}
