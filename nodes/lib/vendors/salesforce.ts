/**
 * Salesforce REST adapter (erp-crm-wire.md §1): OAuth2 client credentials or JWT bearer, accounts upserted by
 * External ID through sObject Collections (200 per call), SOQL with nextRecordsUrl paging, error arrays turned
 * into business exceptions, 403 REQUEST_LIMIT_EXCEEDED treated as the throttle it is, Sforce-Limit-Info read
 * on every answer.
 */
import { createSign } from "node:crypto";
import {
  Batcher,
  BearerTokenAuth,
  BusinessError,
  Connection,
  OAuth2ClientCredentials,
  TechnicalError,
  loginError,
  parseSforceLimitInfo,
  standardSignals,
  type BatchResult,
  type Credential,
  type HttpClient,
  type HttpRequest,
  type HttpResponse,
} from "../resilience";
import {
  batchCorrelation,
  connectionLimits,
  corr,
  notFound,
  sharedConnectionOptions,
  soqlString,
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

const API = "services/data/v59.0";
const ACCOUNT_FIELDS = [
  "Id", "Name", "AccountNumber", "Phone", "Website", "Industry", "Description",
  "BillingStreet", "BillingCity", "BillingState", "BillingPostalCode", "BillingCountry", "BillingCountryCode",
  "ERP_Customer_Id__c", "ERP_System__c", "ERP_Status__c", "CurrencyIsoCode", "LastModifiedDate", "SystemModstamp",
];
/** Custom fields Keelson writes back; an org installs them with the package's setup notes. */
const ERP_FIELDS = { customerId: "ERP_Customer_Id__c", system: "ERP_System__c", status: "ERP_Status__c", orderNumber: "ERP_Order_Number__c", orderStatus: "ERP_Order_Status__c", message: "ERP_Message__c" };

interface SfError {
  message?: string;
  errorCode?: string;
  statusCode?: string;
  fields?: string[];
}

interface UpsertItem {
  externalId: string;
  fields: VendorRecord;
  correlationId: string | undefined;
}

export class SalesforceAdapter implements CrmAdapter {
  readonly system = "salesforce" as const;
  readonly connection: Connection;
  readonly mappings = { accountToCustomer: "salesforce-account-to-customer", customerToAccount: "customer-to-salesforce-account", opportunityToQuote: "salesforce-opportunity-to-quote" };
  private readonly externalIdField: string;
  private readonly upserts: Batcher<UpsertItem, UpsertResult>;
  private readonly multiCurrency = { known: false, value: true };

  constructor(settings: CrmConnectionSettings) {
    const base = settings.baseUrl.replace(/\/+$/, "");
    const limits = connectionLimits(settings);
    this.externalIdField = settings.externalIdField || ERP_FIELDS.customerId;
    this.connection = new Connection({
      name: settings.name ?? `salesforce ${base}`,
      ...sharedConnectionOptions(settings, base, limits),
      auth: (http) => salesforceAuth(http, settings, base),
      hooks: {
        classify: classifySalesforce,
        readSignals: (response) => {
          const quota = parseSforceLimitInfo(response.headers["sforce-limit-info"]);
          return { ...standardSignals(response), ...(quota ? { quota } : {}) };
        },
      },
    });
    this.upserts = new Batcher({ maxBatchSize: limits.maxBatchSize, windowMs: settings.batchWindowMs ?? 20, sendBatch: (items) => this.sendUpserts(items) });
  }

  async getAccount(id: string, ctx: CallContext = {}): Promise<VendorRecord> {
    const rows = await this.query(`SELECT ${await this.accountFields(ctx)} FROM Account WHERE Id = ${soqlString(id)}`, ctx);
    const row = rows[0];
    if (!row) throw notFound("Account", "Id", id);
    return row;
  }

  async findAccount(by: AccountKey, value: string, ctx: CallContext = {}): Promise<VendorRecord | undefined> {
    const field = by === "externalId" ? this.externalIdField : ERP_FIELDS.customerId;
    const rows = await this.query(`SELECT ${await this.accountFields(ctx)} FROM Account WHERE ${field} = ${soqlString(value)} LIMIT 2`, ctx);
    return rows[0];
  }

  upsertAccount(externalId: string, fields: VendorRecord, ctx: CallContext = {}): Promise<UpsertResult> {
    return this.upserts.add({ externalId, fields, correlationId: ctx.correlationId });
  }

  async linkErpCustomer(accountId: string, link: ErpCustomerLink, ctx: CallContext = {}): Promise<void> {
    const body: VendorRecord = { [ERP_FIELDS.customerId]: link.erpCustomerId, [ERP_FIELDS.system]: link.erpSystem };
    if (link.erpStatus !== undefined) body[ERP_FIELDS.status] = link.erpStatus;
    await this.connection.request({ method: "PATCH", path: `${API}/sobjects/Account/${encodeURIComponent(accountId)}`, body, idempotent: true, ...corr(ctx) });
  }

  async *listAccountsChangedSince(since: string | undefined, options: { pageSize?: number } & CallContext = {}): AsyncGenerator<ChangedPage> {
    const where = since ? ` WHERE SystemModstamp >= ${isoInstant(since)}` : "";
    const soql = `SELECT ${await this.accountFields(options)} FROM Account${where} ORDER BY SystemModstamp ASC, Id ASC`;
    const headers = options.pageSize ? { "Sforce-Query-Options": `batchSize=${options.pageSize}` } : undefined;
    let path: string | undefined = `${API}/query?q=${encodeURIComponent(soql)}`;
    while (path) {
      const response: HttpResponse = await this.connection.request({ method: "GET", path, ...(headers ? { headers } : {}), ...corr(options) });
      const body = response.body as { records?: VendorRecord[]; done?: boolean; nextRecordsUrl?: string };
      const records = body.records ?? [];
      const last = records[records.length - 1];
      yield { records, watermark: last ? toIso(last.SystemModstamp) : undefined };
      // nextRecordsUrl is a path from the host root, not from the API version.
      path = body.done === false && body.nextRecordsUrl ? body.nextRecordsUrl.replace(/^\/+/, "") : undefined;
    }
  }

  async getOpportunity(id: string, ctx: CallContext = {}): Promise<VendorRecord> {
    const currency = (await this.isMultiCurrency(ctx)) ? "CurrencyIsoCode, " : "";
    const account = ["Id", "Name", "Phone", "Website", "BillingStreet", "BillingCity", "BillingState", "BillingPostalCode", "BillingCountryCode", "ERP_Customer_Id__c", "ERP_System__c"].map((f) => `Account.${f}`).join(", ");
    const lines = `(SELECT Id, Product2Id, Product2.Name, Product2.ProductCode, ProductCode, Name, Description, Quantity, UnitPrice, TotalPrice FROM OpportunityLineItems ORDER BY SortOrder, Id)`;
    const soql = `SELECT Id, Name, StageName, IsClosed, IsWon, CloseDate, Amount, ${currency}AccountId, LastModifiedDate, ${account}, ${lines} FROM Opportunity WHERE Id = ${soqlString(id)}`;
    const rows = await this.query(soql, ctx);
    if (!rows[0]) throw notFound("Opportunity", "Id", id);
    return rows[0];
  }

  async writeBackOrder(opportunityId: string, writeBack: OrderWriteBack, ctx: CallContext = {}): Promise<void> {
    const body: VendorRecord = {};
    if (writeBack.orderNumber !== undefined) body[ERP_FIELDS.orderNumber] = writeBack.orderNumber;
    if (writeBack.status !== undefined) body[ERP_FIELDS.orderStatus] = writeBack.status;
    if (writeBack.message !== undefined) body[ERP_FIELDS.message] = writeBack.message;
    await this.connection.request({ method: "PATCH", path: `${API}/sobjects/Opportunity/${encodeURIComponent(opportunityId)}`, body, idempotent: true, ...corr(ctx) });
  }

  async close(): Promise<void> {
    this.upserts.flush();
    await this.connection.close();
  }

  /** One sObject Collections upsert for up to 200 accounts: one API call, one SaveResult per record. */
  private async sendUpserts(items: UpsertItem[]): Promise<Array<BatchResult<UpsertResult>>> {
    const records = items.map((item) => ({ attributes: { type: "Account" }, ...item.fields, [this.externalIdField]: item.externalId }));
    const response = await this.connection.request({
      method: "PATCH",
      path: `${API}/composite/sobjects/Account/${encodeURIComponent(this.externalIdField)}`,
      body: { allOrNone: false, records },
      // Upserting by External ID twice gives the same record: safe to resend after a lost answer.
      idempotent: true,
      ...batchCorrelation(items),
    });
    const results = response.body as Array<{ id?: string; success?: boolean; created?: boolean; errors?: SfError[] }>;
    if (!Array.isArray(results)) throw new TechnicalError({ kind: "protocol", retryable: false, message: "sObject Collections upsert answered without a result array" });
    return results.map((r): BatchResult<UpsertResult> =>
      r.success && r.id ? { ok: true, value: { id: r.id, created: r.created } } : { ok: false, error: salesforceBusinessError(r.errors ?? [], response.status) },
    );
  }

  private async query(soql: string, ctx: CallContext): Promise<VendorRecord[]> {
    const response = await this.connection.request({ method: "GET", path: `${API}/query`, query: { q: soql }, ...corr(ctx) });
    return ((response.body as { records?: VendorRecord[] }).records ?? []);
  }

  /** Account fields to select; CurrencyIsoCode exists only in multi-currency orgs. */
  private async accountFields(ctx: CallContext): Promise<string> {
    const multi = await this.isMultiCurrency(ctx);
    return ACCOUNT_FIELDS.filter((f) => multi || f !== "CurrencyIsoCode").join(", ");
  }

  /** Asked once per connection: selecting CurrencyIsoCode fails with INVALID_FIELD in a single-currency org. */
  private async isMultiCurrency(ctx: CallContext): Promise<boolean> {
    if (this.multiCurrency.known) return this.multiCurrency.value;
    try {
      await this.connection.request({ method: "GET", path: `${API}/query`, query: { q: "SELECT CurrencyIsoCode FROM Account LIMIT 1" }, ...corr(ctx) });
      this.multiCurrency.value = true;
    } catch (err) {
      if (!(err instanceof BusinessError && err.code === "INVALID_FIELD")) throw err;
      this.multiCurrency.value = false;
    }
    this.multiCurrency.known = true;
    return this.multiCurrency.value;
  }
}

/** A watermark as a SOQL datetime literal; anything else is refused rather than spliced into the query. */
function isoInstant(value: string): string {
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new TypeError(`watermark ${JSON.stringify(value)} is not an ISO 8601 date-time`);
  return new Date(ms).toISOString();
}

function toIso(value: unknown): string | undefined {
  if (typeof value !== "string") return undefined;
  const ms = Date.parse(value.replace(/\+0000$/, "Z"));
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

/** A Salesforce error array (errorCode at the top level, statusCode inside collections) as a business exception. */
export function salesforceBusinessError(errors: SfError[], status: number | undefined): BusinessError {
  const first = errors[0] ?? {};
  const code = first.errorCode ?? first.statusCode ?? "UNKNOWN_ERROR";
  const field = first.fields?.[0];
  return new BusinessError({
    code,
    message: errors.map((e) => e.message).filter(Boolean).join("; ") || code,
    ...(field ? { field } : {}),
    ...(hintFor(code, field) ? { hint: hintFor(code, field)! } : {}),
    ...(status !== undefined ? { status } : {}),
    vendorBody: errors,
  });
}

function hintFor(code: string, field: string | undefined): string | undefined {
  switch (code) {
    case "REQUIRED_FIELD_MISSING":
      return `fill in ${field ?? "the required field"} in the CRM or the mapping`;
    case "DUPLICATE_EXTERNAL_ID":
    case "DUPLICATES_DETECTED":
      return "more than one account holds this key: merge them in Salesforce";
    case "INVALID_FIELD":
    case "INVALID_FIELD_FOR_INSERT_UPDATE":
      return "the field is unknown or read-only for the integration user: check the mapping and field-level security";
    case "JSON_PARSER_ERROR":
      return `${field ?? "a field"} has the wrong type: check the mapping`;
    case "NOT_FOUND":
      return "check the id or External ID field";
    default:
      return undefined;
  }
}

/**
 * Salesforce's verdicts: 403 REQUEST_LIMIT_EXCEEDED is a throttle (no Retry-After, so the connection backs off);
 * 300 means an External ID matched several records; any other 4xx error array is a business exception.
 */
function classifySalesforce(response: HttpResponse, request: HttpRequest): BusinessError | TechnicalError | undefined {
  const repeatable = unreadableButRepeatable(response, request.idempotent);
  if (repeatable) return repeatable;
  const errors = Array.isArray(response.body) ? (response.body as SfError[]) : undefined;
  const code = errors?.[0]?.errorCode;
  if (response.status === 403 && code === "REQUEST_LIMIT_EXCEEDED") {
    return new TechnicalError({ kind: "throttled", retryable: true, status: 403, code, message: `${response.method} ${response.url}: ${errors?.[0]?.message ?? "request limit exceeded"}`, vendorBody: response.body });
  }
  if (response.status === 300) {
    return new BusinessError({ code: "DUPLICATE_EXTERNAL_ID", message: "the External ID matches more than one record", hint: hintFor("DUPLICATE_EXTERNAL_ID", undefined)!, status: 300, vendorBody: response.body });
  }
  if (response.status >= 400 && response.status < 500 && response.status !== 401 && response.status !== 403 && response.status !== 408 && response.status !== 429 && errors) {
    return salesforceBusinessError(errors, response.status);
  }
  return undefined;
}

function salesforceAuth(http: HttpClient, settings: CrmConnectionSettings, base: string): BearerTokenAuth {
  const tokenUrl = settings.tokenUrl || `${base}/services/oauth2/token`;
  const c = settings.credentials;
  if (settings.auth === "client-credentials") return new OAuth2ClientCredentials(http, { tokenUrl, clientId: c.clientId!, clientSecret: c.clientSecret! });
  const audience = settings.audience || "https://login.salesforce.com";
  return new BearerTokenAuth(() => jwtBearerLogin(http, tokenUrl, { clientId: c.clientId!, username: c.username!, privateKey: c.privateKey!, audience }));
}

/** OAuth 2.0 JWT bearer (RFC 7523): an assertion signed RS256 with the connected app's key; no refresh token. */
async function jwtBearerLogin(http: HttpClient, tokenUrl: string, o: { clientId: string; username: string; privateKey: string; audience: string }): Promise<Credential<string>> {
  const part = (value: object): string => Buffer.from(JSON.stringify(value)).toString("base64url");
  // Salesforce wants the assertion to expire within about three minutes.
  const unsigned = `${part({ alg: "RS256", typ: "JWT" })}.${part({ iss: o.clientId, sub: o.username, aud: o.audience, exp: Math.floor(Date.now() / 1000) + 180 })}`;
  let signature: string;
  try {
    signature = createSign("RSA-SHA256").update(unsigned).sign(o.privateKey, "base64url");
  } catch (err) {
    throw new TechnicalError({ kind: "auth", retryable: false, message: `the JWT private key could not sign the assertion: ${(err as Error).message}` });
  }
  const form = new URLSearchParams({ grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer", assertion: `${unsigned}.${signature}` });
  const response = await http.send({ method: "POST", path: tokenUrl, body: form, idempotent: true });
  const token = (response.body as { access_token?: unknown } | undefined)?.access_token;
  if (response.status === 200 && typeof token === "string") return { value: token };
  throw loginError(response, "Salesforce token endpoint");
}
