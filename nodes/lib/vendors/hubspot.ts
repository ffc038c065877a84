/**
 * HubSpot CRM v3 adapter (erp-crm-wire.md §2): private app token or OAuth refresh token, companies upserted
 * through batch/upsert on a unique property (100 per call), changes listed through search with `after` cursors,
 * deals read with their associated line items (batch read) and company, errors from HubSpot's category /
 * context envelope, X-HubSpot-RateLimit-* read on every answer.
 */
import {
  Batcher,
  BearerTokenAuth,
  BusinessError,
  Connection,
  RateLimiter,
  TechnicalError,
  bearerToken,
  loginError,
  parseHubSpotRateLimit,
  standardSignals,
  type AuthProvider,
  type BatchResult,
  type HttpClient,
  type HttpRequest,
  type HttpResponse,
} from "../resilience";
import {
  batchCorrelation,
  connectionLimits,
  corr,
  sharedConnectionOptions,
  unreadableButRepeatable,
  type AccountKey,
  type CallContext,
  type ChangedPage,
  type CrmAdapter,
  type CrmConnectionSettings,
  type ErpCustomerLink,
  type OrderWriteBack,
  type UpsertResult,
  type VendorRecord,
} from "./crm";

const COMPANY_PROPERTIES = ["name", "domain", "phone", "address", "city", "state", "zip", "country", "industry", "description", "website", "erp_customer_id", "erp_system", "hs_lastmodifieddate"];
const DEAL_PROPERTIES = ["dealname", "amount", "dealstage", "pipeline", "closedate", "deal_currency_code", "erp_order_number", "erp_order_status", "erp_message"];
const LINE_PROPERTIES = ["name", "quantity", "price", "amount", "discount", "hs_product_id", "hs_sku", "description"];
const ERP_PROPERTIES = { customerId: "erp_customer_id", system: "erp_system", status: "erp_status", orderNumber: "erp_order_number", orderStatus: "erp_order_status", message: "erp_message" };
/** Search never pages past 10,000 results; the listing starts a new search from the last change time before that. */
const SEARCH_MAX_RESULTS = 10_000;

interface UpsertItem {
  externalId: string;
  fields: VendorRecord;
  correlationId: string | undefined;
}

interface HubSpotObject {
  id: string;
  properties: Record<string, string | null>;
  updatedAt?: string;
  associations?: Record<string, { results?: Array<{ id: string }> }>;
}

interface HubSpotError {
  status?: string;
  category?: string;
  message?: string;
  context?: Record<string, unknown>;
  errors?: Array<{ message?: string; code?: string; context?: Record<string, unknown> }>;
}

export class HubSpotAdapter implements CrmAdapter {
  readonly system = "hubspot" as const;
  readonly connection: Connection;
  readonly mappings = { accountToCustomer: "hubspot-company-to-customer", customerToAccount: "customer-to-hubspot-company", opportunityToQuote: "hubspot-deal-to-quote" };
  private readonly externalIdProperty: string;
  private readonly upserts: Batcher<UpsertItem, UpsertResult>;
  // CRM search has its own, lower limit per token (about 4 a second) on top of the app's rolling window.
  private readonly searches = new RateLimiter({ limit: 4, windowMs: 1000 });

  constructor(settings: CrmConnectionSettings) {
    const base = settings.baseUrl.replace(/\/+$/, "");
    const limits = connectionLimits(settings);
    this.externalIdProperty = settings.externalIdField || ERP_PROPERTIES.customerId;
    this.connection = new Connection({
      name: settings.name ?? `hubspot ${base}`,
      ...sharedConnectionOptions(settings, base, limits),
      auth: (http) => hubspotAuth(http, settings, base),
      hooks: {
        classify: classifyHubSpot,
        requestId: { header: "x-hubspot-correlation-id", label: "hubspotRequestId" },
        readSignals: (response) => {
          const quota = parseHubSpotRateLimit(response.headers);
          return { ...standardSignals(response), ...(quota ? { quota } : {}) };
        },
      },
    });
    this.upserts = new Batcher({ maxBatchSize: limits.maxBatchSize, windowMs: settings.batchWindowMs ?? 20, sendBatch: (items) => this.sendUpserts(items) });
  }

  async getAccount(id: string, ctx: CallContext = {}): Promise<VendorRecord> {
    const response = await this.connection.request({ method: "GET", path: `crm/v3/objects/companies/${encodeURIComponent(id)}`, query: { properties: COMPANY_PROPERTIES.join(",") }, ...corr(ctx) });
    return response.body as VendorRecord;
  }

  async findAccount(by: AccountKey, value: string, ctx: CallContext = {}): Promise<VendorRecord | undefined> {
    const idProperty = by === "externalId" ? this.externalIdProperty : ERP_PROPERTIES.customerId;
    try {
      // A unique property is an id of its own: one GET, no search quota spent.
      const response = await this.connection.request({ method: "GET", path: `crm/v3/objects/companies/${encodeURIComponent(value)}`, query: { idProperty, properties: COMPANY_PROPERTIES.join(",") }, ...corr(ctx) });
      return response.body as VendorRecord;
    } catch (err) {
      if (err instanceof BusinessError && err.status === 404) return undefined;
      throw err;
    }
  }

  upsertAccount(externalId: string, fields: VendorRecord, ctx: CallContext = {}): Promise<UpsertResult> {
    return this.upserts.add({ externalId, fields, correlationId: ctx.correlationId });
  }

  async linkErpCustomer(accountId: string, link: ErpCustomerLink, ctx: CallContext = {}): Promise<void> {
    const properties: Record<string, string> = { [ERP_PROPERTIES.customerId]: link.erpCustomerId, [ERP_PROPERTIES.system]: link.erpSystem };
    if (link.erpStatus !== undefined) properties[ERP_PROPERTIES.status] = link.erpStatus;
    await this.connection.request({ method: "PATCH", path: `crm/v3/objects/companies/${encodeURIComponent(accountId)}`, body: { properties }, idempotent: true, ...corr(ctx) });
  }

  async *listAccountsChangedSince(since: string | undefined, options: { pageSize?: number } & CallContext = {}): AsyncGenerator<ChangedPage> {
    const limit = Math.min(200, Math.max(1, options.pageSize ?? 100));
    let from = since;
    let after: number | undefined;
    for (;;) {
      const filters = from ? [{ propertyName: "hs_lastmodifieddate", operator: "GTE", value: String(Date.parse(from)) }] : [];
      const body = { filterGroups: filters.length ? [{ filters }] : [], sorts: [{ propertyName: "hs_lastmodifieddate", direction: "ASCENDING" }], properties: COMPANY_PROPERTIES, limit, ...(after !== undefined ? { after: String(after) } : {}) };
      const release = await this.searches.acquire();
      let response: HttpResponse;
      try {
        // A search changes nothing: safe to repeat.
        response = await this.connection.request({ method: "POST", path: "crm/v3/objects/companies/search", body, idempotent: true, ...corr(options) });
      } finally {
        release();
      }
      const page = response.body as { results?: HubSpotObject[]; paging?: { next?: { after?: string } } };
      const records = page.results ?? [];
      const last = records[records.length - 1];
      const watermark = last ? (last.properties.hs_lastmodifieddate ?? last.updatedAt ?? undefined) : undefined;
      yield { records: records as unknown as VendorRecord[], watermark: watermark ? new Date(Date.parse(watermark)).toISOString() : undefined };
      const next = page.paging?.next?.after;
      if (next === undefined || records.length === 0) return;
      after = Number(next);
      if (after + limit > SEARCH_MAX_RESULTS) {
        from = watermark ?? from;
        after = undefined;
      }
    }
  }

  async getOpportunity(id: string, ctx: CallContext = {}): Promise<VendorRecord> {
    const dealResponse = await this.connection.request({ method: "GET", path: `crm/v3/objects/deals/${encodeURIComponent(id)}`, query: { properties: DEAL_PROPERTIES.join(","), associations: "companies,line_items" }, ...corr(ctx) });
    const deal = dealResponse.body as HubSpotObject;
    const assoc = deal.associations ?? {};
    const lineIds = (assoc["line items"] ?? assoc.line_items)?.results?.map((r) => r.id) ?? [];
    const companyId = assoc.companies?.results?.[0]?.id;
    const [lineItems, company] = await Promise.all([this.readLineItems(lineIds, ctx), companyId ? this.getAccount(companyId, ctx) : Promise.resolve(undefined)]);
    const { associations: _associations, ...plainDeal } = deal;
    return { deal: plainDeal, lineItems, ...(company ? { company } : {}) };
  }

  async writeBackOrder(opportunityId: string, writeBack: OrderWriteBack, ctx: CallContext = {}): Promise<void> {
    const properties: Record<string, string> = {};
    if (writeBack.orderNumber !== undefined) properties[ERP_PROPERTIES.orderNumber] = writeBack.orderNumber;
    if (writeBack.status !== undefined) properties[ERP_PROPERTIES.orderStatus] = writeBack.status;
    if (writeBack.message !== undefined) properties[ERP_PROPERTIES.message] = writeBack.message;
    await this.connection.request({ method: "PATCH", path: `crm/v3/objects/deals/${encodeURIComponent(opportunityId)}`, body: { properties }, idempotent: true, ...corr(ctx) });
  }

  async close(): Promise<void> {
    this.upserts.flush();
    this.searches.close();
    await this.connection.close();
  }

  /** Line items in id order of the deal's associations, 100 per batch read. */
  private async readLineItems(ids: string[], ctx: CallContext): Promise<VendorRecord[]> {
    const found = new Map<string, VendorRecord>();
    for (let i = 0; i < ids.length; i += 100) {
      const chunk = ids.slice(i, i + 100);
      // A batch read changes nothing: safe to repeat.
      const response = await this.connection.request({ method: "POST", path: "crm/v3/objects/line_items/batch/read", body: { inputs: chunk.map((id) => ({ id })), properties: LINE_PROPERTIES }, idempotent: true, ...corr(ctx) });
      for (const r of (response.body as { results?: HubSpotObject[] }).results ?? []) found.set(r.id, r as unknown as VendorRecord);
    }
    return ids.map((id) => found.get(id)).filter((r): r is VendorRecord => r !== undefined);
  }

  /**
   * batch/upsert of up to 100 companies on the unique property. HubSpot refuses a whole batch that names one key
   * twice, so repeated keys go out in a following call, in arrival order.
   */
  private async sendUpserts(items: UpsertItem[]): Promise<Array<BatchResult<UpsertResult>>> {
    const results: Array<BatchResult<UpsertResult>> = new Array(items.length);
    let remaining = items.map((item, index) => ({ item, index }));
    while (remaining.length) {
      const seen = new Set<string>();
      const round = remaining.filter(({ item }) => !seen.has(item.externalId) && seen.add(item.externalId) !== undefined);
      remaining = remaining.filter((entry) => !round.includes(entry));
      const outcomes = await this.upsertRound(round.map((r) => r.item));
      round.forEach((r, i) => (results[r.index] = outcomes[i]!));
    }
    return results;
  }

  private async upsertRound(items: UpsertItem[]): Promise<Array<BatchResult<UpsertResult>>> {
    const inputs = items.map((item, i) => ({ idProperty: this.externalIdProperty, id: item.externalId, properties: stringProperties(item.fields), objectWriteTraceId: String(i) }));
    const response = await this.connection.request({ method: "POST", path: "crm/v3/objects/companies/batch/upsert", body: { inputs }, idempotent: true, ...batchCorrelation(items) });
    const body = response.body as { results?: Array<HubSpotObject & { new?: boolean }>; errors?: HubSpotError[] };
    const byKey = new Map<string, HubSpotObject & { new?: boolean }>();
    for (const r of body.results ?? []) {
      const key = r.properties?.[this.externalIdProperty];
      if (typeof key === "string") byKey.set(key, r);
    }
    const errorsByTrace = new Map<string, HubSpotError>();
    for (const e of body.errors ?? []) {
      const traces = (e.context?.objectWriteTraceId as string[] | undefined) ?? [];
      for (const t of traces) errorsByTrace.set(t, e);
    }
    return items.map((item, i): BatchResult<UpsertResult> => {
      const error = errorsByTrace.get(String(i));
      if (error) return { ok: false, error: hubspotBusinessError(error, response.status) };
      const result = byKey.get(item.externalId);
      if (result) return { ok: true, value: { id: result.id, created: result.new } };
      return { ok: false, error: new TechnicalError({ kind: "protocol", retryable: false, message: `batch upsert answered without a result for ${this.externalIdProperty} ${item.externalId}` }) };
    });
  }
}

/** HubSpot property values travel as strings. */
function stringProperties(fields: VendorRecord): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) out[k] = v === null ? null : typeof v === "object" ? JSON.stringify(v) : String(v);
  return out;
}

/**
 * HubSpot's error envelope as a business exception: the category is the code; a VALIDATION_ERROR names the
 * property inside its message ("Property values were not valid: [{…, "name": "email"}]").
 */
export function hubspotBusinessError(body: HubSpotError, status: number | undefined): BusinessError {
  const category = body.category ?? "HUBSPOT_ERROR";
  let message = body.message ?? category;
  let field: string | undefined;
  let code = category;
  const embedded = /^Property values were not valid: (\[.*\])$/s.exec(message);
  if (embedded) {
    try {
      const first = (JSON.parse(embedded[1]!) as Array<{ name?: string; message?: string; error?: string }>)[0];
      field = first?.name;
      if (first?.message) message = first.message;
      if (first?.error) code = first.error;
    } catch {
      // The message stays as HubSpot wrote it.
    }
  }
  const property = /(?:property|Property) "?([a-z0-9_]+)"?/.exec(message)?.[1];
  field ??= property;
  const hint =
    category === "CONFLICT" ? "another company already holds this unique value: merge the companies or correct the value"
      : category === "OBJECT_NOT_FOUND" ? "check the id; the record may have been deleted"
        : category === "VALIDATION_ERROR" ? `correct ${field ?? "the property"} in the CRM or the mapping`
          : undefined;
  return new BusinessError({ code, message, ...(field ? { field } : {}), ...(hint ? { hint } : {}), ...(status !== undefined ? { status } : {}), vendorBody: body });
}

function classifyHubSpot(response: HttpResponse, request: HttpRequest): BusinessError | TechnicalError | undefined {
  const repeatable = unreadableButRepeatable(response, request.idempotent);
  if (repeatable) return repeatable;
  const body = response.body as HubSpotError | undefined;
  if (response.status >= 400 && response.status < 500 && ![401, 403, 408, 429].includes(response.status) && body && typeof body === "object" && typeof body.category === "string") {
    return hubspotBusinessError(body, response.status);
  }
  return undefined;
}

function hubspotAuth(http: HttpClient, settings: CrmConnectionSettings, base: string): AuthProvider {
  const c = settings.credentials;
  if (settings.auth === "private-app") return bearerToken(c.accessToken!);
  const tokenUrl = settings.tokenUrl || `${base}/oauth/v1/token`;
  return new BearerTokenAuth(async () => {
    const form = new URLSearchParams({ grant_type: "refresh_token", client_id: c.clientId!, client_secret: c.clientSecret!, refresh_token: c.refreshToken! });
    const response = await http.send({ method: "POST", path: tokenUrl, body: form, idempotent: true });
    const body = response.body as { access_token?: unknown; expires_in?: unknown } | undefined;
    if (response.status === 200 && typeof body?.access_token === "string") {
      const lifetime = Number(body.expires_in);
      return Number.isFinite(lifetime) && lifetime > 0 ? { value: body.access_token, expiresAt: Date.now() + lifetime * 1000 } : { value: body.access_token };
    }
    throw loginError(response, "HubSpot token endpoint");
  });
}
