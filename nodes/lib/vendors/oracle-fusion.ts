/**
 * Oracle Fusion Cloud Order Management, Order Hub REST (erp-crm-wire.md §8): `salesOrdersForOrderHub` with HTTP
 * Basic or an OAuth client-credentials bearer. Identity is native: an order's key is
 * `{SourceTransactionSystem}:{SourceTransactionId}` and a second create with the same key is refused, so a create
 * is safe to repeat (the refusal means "already there": it is read back, never posted twice).
 *
 * THIN (§8): Oracle publishes neither the error body nor rate limits. Requests ask for REST-Framework-Version 4,
 * whose errors the sandbox answers in ADF's JSON error shape (`o:errorDetails`); a plain-text body (version 1)
 * is read as the message. 429 / Retry-After are honoured if a gateway sends them. Order Hub creates no
 * customers and the documented surface has no invoices or receipts (those are Receivables resources), so
 * ensure customer, invoices and payments are "not offered" on this connection.
 */
import { Connection } from "../resilience/connection";
import { BusinessError } from "../resilience/errors";
import { OAuth2ClientCredentials, basicAuth } from "../http/auth";
import type { HttpResponse } from "../http/client";
import { ErpAdapterBase, notOffered, unreadableRepeatable, withRef } from "./erp-base";
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
/** The source system orders are keyed under unless the order (or the order defaults) names another. */
const DEFAULT_SOURCE_SYSTEM = "KEELSON";
/** §8 names no error code for "already exists"; the sandbox's THIN code, and its wording as a fallback. */
const DUPLICATE = /already exists/i;
const HEADERS = { "REST-Framework-Version": "4" };

export class OracleFusionAdapter extends ErpAdapterBase {
  readonly system = SYSTEM;
  readonly connection: Connection;
  private readonly root: string;

  constructor(fusion: OracleFusionOptions) {
    super(fusion, { orderOut: "salesorder-to-oracle-fusion-salesorder", orderIn: "oracle-fusion-salesorder-to-salesorder" });
    this.root = `fscmRestApi/resources/${fusion.version ?? "11.13.18.05"}/${RESOURCE}`;
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

  /** Order Hub does not create or cross-reference customers over REST (§8): the buying party must be linked. */
  ensureCustomer(customer: Customer, _ctx: CallContext): Promise<{ ref: CrossRef; created: boolean }> {
    const own = this.ownRef(customer.refs);
    if (own) return Promise.resolve({ ref: own, created: false });
    // Order Hub creates no customers: an account not linked to a buying party is for someone to fix, not to retry.
    return Promise.reject(notLinked());
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
    const record = await this.read(key.id ?? `${source}:${key.externalReference ?? ""}`, ctx, { expand: "lines" });
    return record ? ((await this.map("orderIn", record)) as SalesOrder) : undefined;
  }

  /** Invoices live in Receivables (receivablesInvoices), outside the Order Hub surface this connection covers. */
  async *listInvoices(_watermark: string | undefined, _ctx: CallContext & { pageSize?: number }): AsyncGenerator<InvoicePage> {
    throw notOffered(this.system, "list invoices");
  }

  getInvoice(_id: string, _ctx: CallContext): Promise<Invoice | undefined> {
    return Promise.reject(notOffered(this.system, "get invoice"));
  }

  /** Receipts are Receivables' standardReceipts, not part of Order Management. */
  recordPayment(_payment: Payment, _ctx: CallContext): Promise<Payment> {
    return Promise.reject(notOffered(this.system, "record payment"));
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
    ...(response.status === 404 ? { hint: "the order does not exist, or the user lacks data access to its business unit" } : {}),
  });
}

/** A customer with no Oracle Fusion buying party number: Order Hub creates none, so the CRM account must be linked. */
function notLinked(): BusinessError {
  return new BusinessError({
    code: "CUSTOMER_NOT_LINKED",
    field: "customer.refs",
    message: "the customer has no Oracle Fusion buying party number (Order Hub creates no customers)",
    hint: 'link the CRM account to its party: add {system: "oracle-fusion", id: <party number>} to customer.refs',
  });
}
