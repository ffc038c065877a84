/**
 * Oracle NetSuite REST web services (erp-crm-wire.md §4). Identity: records carry `externalId`, and
 * `PUT …/record/v1/<type>/eid:<externalId>` is an upsert, so an order or customer is written once per external
 * reference however often the call is repeated. Invoices changed since a watermark come from SuiteQL in
 * (lastmodifieddate, id) order, so a watermark taken after each page never skips a record.
 */
import { constants, createHmac, createPrivateKey, randomBytes, sign, type KeyObject } from "node:crypto";
import { Connection } from "../resilience/connection";
import { BusinessError } from "../resilience/errors";
import { VENDOR_LIMITS } from "../resilience/vendor-limits";
import { BearerTokenAuth, loginError, type AuthProvider, type Authorization } from "../http/auth";
import type { HttpClient, HttpRequest, HttpResponse } from "../http/client";
import { TechnicalError } from "../resilience/errors";
import { ErpAdapterBase, externalIdOf, idFromLocation, unreadableRepeatable, withRef } from "./erp-base";
import type { CallContext, CreateOrderContext, CrossRef, Customer, ErpAdapterOptions, Invoice, InvoicePage, OrderOutcome, Payment, SalesOrder } from "./erp";

export type NetSuiteAuth =
  | { kind: "m2m"; clientId: string; certificateId: string; privateKey: string; algorithm?: "PS256" | "PS384" | "PS512" }
  | { kind: "tba"; consumerKey: string; consumerSecret: string; tokenId: string; tokenSecret: string };

export interface NetSuiteOptions extends ErpAdapterOptions {
  /** Account id (1234567_SB1): the realm of TBA signatures. */
  accountId: string;
  auth: NetSuiteAuth;
  /**
   * Currency record internal id → ISO code. NetSuite answers a currency as a reference to its currency record;
   * 1 USD, 2 GBP, 3 CAD, 4 EUR are the ids a new account starts with [~]; accounts that added others list them.
   */
  currencies?: Record<string, string>;
}

const RECORD = "services/rest/record/v1";
const SUITEQL = "services/rest/query/v1/suiteql";
const TOKEN = "services/rest/auth/oauth2/v1/token";
const DEFAULT_CURRENCIES: Record<string, string> = { "1": "USD", "2": "GBP", "3": "CAD", "4": "EUR" };
const DEFAULT_PAGE = 100;

export class NetSuiteAdapter extends ErpAdapterBase {
  readonly system = "netsuite";
  readonly connection: Connection;
  private readonly currencyIds: Map<string, string>;
  private readonly currencyCodes: Record<string, string>;

  constructor(ns: NetSuiteOptions) {
    super(ns, {
      orderOut: "salesorder-to-netsuite-salesorder",
      orderIn: "netsuite-salesorder-to-salesorder",
      customerOut: "customer-to-netsuite-customer",
      invoiceIn: "netsuite-invoice-to-invoice",
      paymentOut: "payment-to-netsuite-customerpayment",
    });
    this.currencyCodes = { ...DEFAULT_CURRENCIES, ...ns.currencies };
    this.currencyIds = new Map(Object.entries(this.currencyCodes).map(([id, code]) => [code.toUpperCase(), id]));
    const { timeoutMs, tls, ...limits } = ns.connection ?? {};
    this.connection = new Connection({
      name: ns.name,
      http: { baseUrl: ns.baseUrl, ...(timeoutMs !== undefined ? { timeoutMs } : {}), ...(tls ? { tls } : {}) },
      auth: (http) => (ns.auth.kind === "m2m" ? new NetSuiteM2M(http, ns.auth) : new NetSuiteTba(http, ns.accountId, ns.auth)),
      ...VENDOR_LIMITS.netsuite,
      ...limits,
      hooks: { classify: (response, request) => unreadableRepeatable(response, request) ?? classifyNetSuite(response) },
    });
  }

  async ensureCustomer(customer: Customer, ctx: CallContext): Promise<{ ref: CrossRef; created: boolean }> {
    const own = this.ownRef(customer.refs);
    if (own) return { ref: own, created: false };
    const externalId = externalIdOf(customer, this.system);
    if (!externalId) throw noExternalId("customer.refs");
    const found = await this.read("customer", `eid:${externalId}`, ctx, { fields: "entityId" });
    if (found) return { ref: { system: this.system, id: String(found.id), type: "customer", ...(found.entityId ? { number: String(found.entityId) } : {}) }, created: false };
    const body = await this.map("customerOut", { ...this.withDefaults(customer as never), externalId });
    const response = await this.connection.request({ method: "PUT", path: `${RECORD}/customer/${eid(externalId)}`, body, correlationId: ctx.correlationId });
    return { ref: { system: this.system, id: locationId(response), type: "customer" }, created: true };
  }

  async createOrder(order: SalesOrder, ctx: CreateOrderContext): Promise<OrderOutcome> {
    if (!this.ownRef(order.customer.refs)) throw customerNotLinked(this.system);
    const prepared = this.withDefaults(order);
    const ns = prepared.extensions?.netsuite ?? {};
    const currency = ns.currency ?? this.currencyIds.get(order.currency.toUpperCase());
    const input = { ...prepared, extensions: { ...prepared.extensions, netsuite: { ...ns, ...(currency ? { currency } : {}) } } };
    const key = `eid:${order.externalReference}`;
    if (ctx.mayExist) {
      const existing = await this.read("salesOrder", key, ctx, { fields: "tranId,status" });
      if (existing) return { order: this.accepted(order, existing), created: false };
    }
    // The eid: upsert is idempotent: a repeat after a lost answer writes the same order again, never a second one.
    const response = await this.connection.request({ method: "PUT", path: `${RECORD}/salesOrder/${eid(order.externalReference)}`, body: await this.map("orderOut", input), correlationId: ctx.correlationId });
    const id = locationId(response);
    const written = await this.read("salesOrder", id, ctx, { fields: "tranId,status" });
    return { order: this.accepted(order, written ?? { id }), created: true };
  }

  async getOrder(key: { id?: string; externalReference?: string }, ctx: CallContext): Promise<SalesOrder | undefined> {
    const record = await this.read("salesOrder", key.id ?? `eid:${key.externalReference}`, ctx, { expandSubResources: true });
    return record ? ((await this.map("orderIn", this.withCurrency(record))) as SalesOrder) : undefined;
  }

  async *listInvoices(watermark: string | undefined, ctx: CallContext & { pageSize?: number }): AsyncGenerator<InvoicePage> {
    const pageSize = ctx.pageSize ?? DEFAULT_PAGE;
    let after = parseWatermark(watermark);
    for (;;) {
      const where = after
        ? ` AND (lastmodifieddate > ${timestamp(after.at)} OR (lastmodifieddate = ${timestamp(after.at)} AND id > ${after.id}))`
        : "";
      const response = await this.connection.request({
        method: "POST",
        path: SUITEQL,
        query: { limit: pageSize, offset: 0 },
        headers: { Prefer: "transient" },
        body: { q: `SELECT id FROM transaction WHERE type = 'CustInvc'${where} ORDER BY lastmodifieddate, id` },
        idempotent: true,
        correlationId: ctx.correlationId,
      });
      const page = response.body as { items?: { id?: unknown }[]; hasMore?: boolean };
      const ids = (page.items ?? []).map((row) => String(row.id));
      if (ids.length === 0) return;
      const records: Record<string, unknown>[] = [];
      for (const id of ids) {
        const record = await this.read("invoice", id, ctx, { expandSubResources: true });
        if (record) records.push(this.withCurrency(record));
      }
      const last = records[records.length - 1];
      if (!last) return;
      after = { at: String(last.lastModifiedDate), id: String(last.id) };
      yield { ...(await this.mapInvoices(records, (r) => String(r.id))), watermark: `${after.at}|${after.id}` };
      if (!page.hasMore) return;
    }
  }

  async getInvoice(id: string, ctx: CallContext): Promise<Invoice | undefined> {
    const record = await this.read("invoice", id, ctx, { expandSubResources: true });
    return record ? ((await this.map("invoiceIn", this.withCurrency(record))) as Invoice) : undefined;
  }

  async recordPayment(payment: Payment, ctx: CallContext): Promise<Payment> {
    const { invoiceId, reference: externalId } = this.paymentTarget(payment, "NetSuite id");
    const body = await this.map("paymentOut", { ...payment, reference: externalId });
    const find = async (): Promise<string | undefined> => {
      const found = await this.read("customerPayment", `eid:${externalId}`, ctx, { fields: "tranId" });
      return found ? String(found.id) : undefined;
    };
    const post = async (): Promise<string> =>
      locationId(await this.connection.request({ method: "POST", path: `${RECORD}/invoice/${encodeURIComponent(invoiceId)}/!transform/customerPayment`, body, correlationId: ctx.correlationId }));
    // A payment is money: always look for it by its reference before posting.
    const { value: id } = await this.postOnce(find, post, true);
    return { ...withRef(payment, { system: this.system, id, type: "customerPayment" }), status: "succeeded" };
  }

  private accepted(order: SalesOrder, record: Record<string, unknown>): SalesOrder {
    const number = record.tranId === undefined ? undefined : String(record.tranId);
    const status = (record.status as { id?: string } | undefined)?.id;
    return {
      ...withRef(order, { system: this.system, id: String(record.id), type: "salesOrder", ...(number ? { number } : {}) }),
      ...(number ? { orderNumber: number } : {}),
      status: status === "A" ? "pending-approval" : "accepted",
    };
  }

  /** A record, or undefined when NetSuite says it does not exist. */
  private async read(type: string, key: string, ctx: CallContext, query: Record<string, string | boolean>): Promise<Record<string, unknown> | undefined> {
    try {
      const response = await this.connection.request({ method: "GET", path: `${RECORD}/${type}/${key.startsWith("eid:") ? eid(key.slice(4)) : encodeURIComponent(key)}`, query, correlationId: ctx.correlationId });
      return response.body as Record<string, unknown>;
    } catch (err) {
      if (err instanceof BusinessError && err.status === 404) return undefined;
      throw err;
    }
  }

  /** Adds the ISO code of the record's currency, which NetSuite gives as a reference to its currency record. */
  private withCurrency(record: Record<string, unknown>): Record<string, unknown> {
    if (record.currencySymbol) return record;
    const id = (record.currency as { id?: string } | undefined)?.id;
    const code = id === undefined ? undefined : this.currencyCodes[id];
    return code ? { ...record, currencySymbol: code } : record;
  }
}

/** NetSuite's o:errorDetails as a BusinessError naming the field (o:errorPath, or the field in the message). */
function classifyNetSuite(response: HttpResponse): BusinessError | undefined {
  if (response.status < 400 || response.status >= 500 || response.status === 401 || response.status === 403 || response.status === 429) return undefined;
  const body = response.body as { title?: string; "o:errorDetails"?: { detail?: string; "o:errorCode"?: string; "o:errorPath"?: string }[] } | undefined;
  const detail = body?.["o:errorDetails"]?.[0];
  if (!detail || typeof body !== "object") return undefined;
  const message = detail.detail ?? body.title ?? `HTTP ${response.status}`;
  const field = detail["o:errorPath"] ?? /Please enter value\(s\) for: ([^.]+)/.exec(message)?.[1]?.trim() ?? /for the following field: (\S+)/.exec(message)?.[1];
  const code = detail["o:errorCode"] ?? `HTTP_${response.status}`;
  return new BusinessError({ code, message, status: response.status, vendorBody: response.body, ...(field ? { field } : {}), ...(HINTS[code] ? { hint: HINTS[code] } : {}) });
}

const HINTS: Record<string, string> = {
  USER_ERROR: "fill the field NetSuite names (subsidiary, location… come from extensions.netsuite or the connection's order defaults)",
  INVALID_CONTENT: "check the value at the error path against the NetSuite account (internal ids, external ids of items)",
  NONEXISTENT_ID: "the record does not exist in NetSuite",
};

function noExternalId(field: string): BusinessError {
  return new BusinessError({ code: "NO_EXTERNAL_ID", field, message: `no external id to find the record by in ${field}`, hint: "add the CRM's cross-reference (system and id) or a reference" });
}

function customerNotLinked(system: string): BusinessError {
  return new BusinessError({ code: "CUSTOMER_NOT_LINKED", field: "customer.refs", message: `the order's customer has no ${system} id`, hint: "turn on \"ensure customer\" or add the ERP customer's cross-reference" });
}

function eid(externalId: string): string {
  return `eid:${encodeURIComponent(externalId)}`;
}

function locationId(response: HttpResponse): string {
  const id = idFromLocation(response.headers.location);
  if (!id) throw new TechnicalError({ kind: "protocol", retryable: false, status: response.status, message: `${response.method} ${response.url}: HTTP ${response.status} without the new record's Location` });
  return id;
}

function parseWatermark(watermark: string | undefined): { at: string; id: string } | undefined {
  if (!watermark) return undefined;
  const [at, id] = watermark.split("|");
  if (!at || Number.isNaN(Date.parse(at)) || !id || !/^\d+$/.test(id)) throw new TypeError(`NetSuite watermark must be "<ISO time>|<internal id>", got ${JSON.stringify(watermark)}`);
  return { at, id };
}

/** A SuiteQL timestamp literal for an ISO time, in UTC. */
function timestamp(iso: string): string {
  const text = new Date(iso).toISOString().slice(0, 19);
  return `TO_TIMESTAMP('${text}', 'YYYY-MM-DD"T"HH24:MI:SS')`;
}

/** OAuth 2.0 machine-to-machine: a client assertion JWT signed with the certificate's private key, per token. */
export class NetSuiteM2M extends BearerTokenAuth {
  constructor(http: HttpClient, auth: Extract<NetSuiteAuth, { kind: "m2m" }>) {
    const key = createPrivateKey(auth.privateKey);
    const algorithm = auth.algorithm ?? "PS256";
    super(async () => {
      const tokenUrl = http.resolve(TOKEN);
      const form = new URLSearchParams({
        grant_type: "client_credentials",
        client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        client_assertion: clientAssertion(key, algorithm, auth.certificateId, auth.clientId, tokenUrl),
      });
      const response = await http.send({ method: "POST", path: tokenUrl, body: form, idempotent: true });
      const body = response.body as { access_token?: unknown; expires_in?: unknown } | undefined;
      if (response.status === 200 && typeof body?.access_token === "string") {
        const lifetime = Number(body.expires_in);
        return { value: body.access_token, ...(lifetime > 0 ? { expiresAt: Date.now() + lifetime * 1000 } : {}) };
      }
      throw loginError(response, "NetSuite token endpoint");
    });
  }
}

/** The JWT NetSuite's client-credentials grant takes: kid = certificate id, iss = client id, aud = token URL, ≤ 60 min. */
export function clientAssertion(key: KeyObject, algorithm: "PS256" | "PS384" | "PS512", kid: string, clientId: string, tokenUrl: string): string {
  const now = Math.floor(Date.now() / 1000);
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const input = `${part({ alg: algorithm, typ: "JWT", kid })}.${part({ iss: clientId, scope: ["rest_webservices"], aud: tokenUrl, iat: now, exp: now + 3600 })}`;
  const signature = sign(`sha${algorithm.slice(2)}`, Buffer.from(input), { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST });
  return `${input}.${signature.toString("base64url")}`;
}

/** RFC 3986 percent-encoding, as OAuth 1.0a signs. */
const pct = (s: string): string => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** Token-based authentication: every request signed with OAuth 1.0a HMAC-SHA256, realm = account id. */
export class NetSuiteTba implements AuthProvider {
  constructor(
    private readonly http: HttpClient,
    private readonly realm: string,
    private readonly auth: Extract<NetSuiteAuth, { kind: "tba" }>,
  ) {}

  authorize(request: HttpRequest): Promise<Authorization> {
    const url = new URL(this.http.resolve(request.path));
    const params: [string, string][] = [
      ["oauth_consumer_key", this.auth.consumerKey],
      ["oauth_token", this.auth.tokenId],
      ["oauth_signature_method", "HMAC-SHA256"],
      ["oauth_timestamp", String(Math.floor(Date.now() / 1000))],
      ["oauth_nonce", randomBytes(16).toString("hex")],
      ["oauth_version", "1.0"],
    ];
    const signed: [string, string][] = [...params, ...url.searchParams];
    for (const [name, value] of Object.entries(request.query ?? {})) if (value !== undefined) signed.push([name, String(value)]);
    if (request.body instanceof URLSearchParams) signed.push(...request.body);
    const normalized = signed
      .map(([n, v]) => [pct(n), pct(v)] as const)
      .sort((a, b) => (a[0] === b[0] ? (a[1] < b[1] ? -1 : 1) : a[0] < b[0] ? -1 : 1))
      .map(([n, v]) => `${n}=${v}`)
      .join("&");
    const base = `${request.method}&${pct(`${url.protocol}//${url.host.toLowerCase()}${url.pathname}`)}&${pct(normalized)}`;
    const signature = createHmac("sha256", `${pct(this.auth.consumerSecret)}&${pct(this.auth.tokenSecret)}`).update(base).digest("base64");
    const header = [`realm="${this.realm}"`, ...params.map(([n, v]) => `${n}="${pct(v)}"`), `oauth_signature="${pct(signature)}"`].join(", ");
    return Promise.resolve({ headers: { Authorization: `OAuth ${header}` } });
  }

  /** A signature is made per request: a refusal is not cured by signing again. */
  isRejected(): boolean {
    return false;
  }

  invalidate(): void {}
}
