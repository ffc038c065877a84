/**
 * Microsoft Dataverse Web API adapter (erp-crm-wire.md §3): Entra ID client credentials with a configurable
 * authority and scope, accounts upserted by alternate key (PATCH accounts(key='v')) coalesced into one `$batch`
 * with `odata.continue-on-error`, paging by `@odata.nextLink`, OData errors as business exceptions, 429 +
 * Retry-After honoured. Service protection counts every request inside a `$batch`, so this adapter spends one
 * rate slot per inner request, not per envelope.
 */
import { randomUUID } from "node:crypto";
import {
  Batcher,
  BusinessError,
  Connection,
  OAuth2ClientCredentials,
  RateLimiter,
  TechnicalError,
  nextDelay,
  parseDataverseRemaining,
  parseRetryAfter,
  sleep,
  standardSignals,
  type BatchResult,
  type HttpRequest,
  type HttpResponse,
} from "../resilience";
import {
  batchCorrelation,
  connectionLimits,
  corr,
  odataString,
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

const API = "api/data/v9.2";
const ACCOUNT_COLUMNS = [
  "accountid", "name", "accountnumber", "telephone1", "emailaddress1", "websiteurl", "address1_line1", "address1_city",
  "address1_stateorprovince", "address1_postalcode", "address1_country", "description", "keelson_erpcustomerid", "keelson_erpsystem", "modifiedon",
];
const ERP_COLUMNS = { customerId: "keelson_erpcustomerid", system: "keelson_erpsystem", status: "keelson_erpstatus", orderNumber: "keelson_erpordernumber", orderStatus: "keelson_erporderstatus", message: "keelson_erpmessage" };
const ODATA_HEADERS = { "OData-MaxVersion": "4.0", "OData-Version": "4.0", Accept: "application/json" };

interface UpsertItem {
  externalId: string;
  fields: VendorRecord;
  correlationId: string | undefined;
}

/** One inner answer of a `$batch`. */
interface InnerResponse {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

interface ODataError {
  error?: { code?: string; message?: string };
}

export class DataverseAdapter implements CrmAdapter {
  readonly system = "dataverse" as const;
  readonly connection: Connection;
  readonly mappings = { accountToCustomer: "dataverse-account-to-customer", customerToAccount: "customer-to-dataverse-account", opportunityToQuote: "dataverse-opportunity-to-quote" };
  private readonly base: string;
  private readonly keyColumn: string;
  private readonly upserts: Batcher<UpsertItem, UpsertResult>;
  /** Service protection, counted per inner request (the Connection only sees envelopes). */
  private readonly rate: RateLimiter;

  constructor(settings: CrmConnectionSettings) {
    this.base = settings.baseUrl.replace(/\/+$/, "");
    const limits = connectionLimits(settings);
    this.keyColumn = settings.externalIdField || ERP_COLUMNS.customerId;
    this.rate = new RateLimiter(limits.rateLimit);
    const tokenUrl = settings.tokenUrl || `https://login.microsoftonline.com/${settings.tenantId || "organizations"}/oauth2/v2.0/token`;
    const shared = sharedConnectionOptions(settings, this.base, { concurrency: limits.concurrency });
    this.connection = new Connection({
      name: settings.name ?? `dataverse ${this.base}`,
      // Dataverse counts every part of a $batch, so this adapter takes its rate slots itself: no connection-wide rate.
      ...shared,
      http: { ...shared.http, headers: ODATA_HEADERS },
      auth: (http) => new OAuth2ClientCredentials(http, { tokenUrl, clientId: settings.credentials.clientId!, clientSecret: settings.credentials.clientSecret!, scope: settings.scope || `${this.base}/.default` }),
      hooks: {
        classify: classifyDataverse,
        readSignals: (response) => {
          const quota = limits.rateLimit ? parseDataverseRemaining(response.headers, limits.rateLimit.limit) : parseDataverseRemaining(response.headers);
          return { ...standardSignals(response), ...(quota ? { quota } : {}) };
        },
      },
    });
    this.upserts = new Batcher({ maxBatchSize: limits.maxBatchSize, windowMs: settings.batchWindowMs ?? 20, sendBatch: (items) => this.sendUpserts(items) });
  }

  async getAccount(id: string, ctx: CallContext = {}): Promise<VendorRecord> {
    if (!/^[0-9a-fA-F-]{36}$/.test(id)) throw new BusinessError({ code: "INVALID_ID", message: `account id ${JSON.stringify(id)} is not a GUID`, field: "accountid", hint: "pass the account's GUID" });
    const response = await this.call({ method: "GET", path: `${API}/accounts(${id})`, query: { $select: ACCOUNT_COLUMNS.join(",") }, ...corr(ctx) });
    return response.body as VendorRecord;
  }

  async findAccount(by: AccountKey, value: string, ctx: CallContext = {}): Promise<VendorRecord | undefined> {
    const column = by === "externalId" ? this.keyColumn : ERP_COLUMNS.customerId;
    const response = await this.call({ method: "GET", path: `${API}/accounts`, query: { $select: ACCOUNT_COLUMNS.join(","), $filter: `${column} eq ${odataString(value)}`, $top: 2 }, ...corr(ctx) });
    return ((response.body as { value?: VendorRecord[] }).value ?? [])[0];
  }

  upsertAccount(externalId: string, fields: VendorRecord, ctx: CallContext = {}): Promise<UpsertResult> {
    return this.upserts.add({ externalId, fields, correlationId: ctx.correlationId });
  }

  async linkErpCustomer(accountId: string, link: ErpCustomerLink, ctx: CallContext = {}): Promise<void> {
    const body: VendorRecord = { [ERP_COLUMNS.customerId]: link.erpCustomerId, [ERP_COLUMNS.system]: link.erpSystem };
    if (link.erpStatus !== undefined) body[ERP_COLUMNS.status] = link.erpStatus;
    await this.update("accounts", accountId, body, ctx);
  }

  async *listAccountsChangedSince(since: string | undefined, options: { pageSize?: number } & CallContext = {}): AsyncGenerator<ChangedPage> {
    const query: Record<string, string> = { $select: ACCOUNT_COLUMNS.join(","), $orderby: "modifiedon asc,accountid asc" };
    if (since) {
      const ms = Date.parse(since);
      if (Number.isNaN(ms)) throw new TypeError(`watermark ${JSON.stringify(since)} is not an ISO 8601 date-time`);
      query.$filter = `modifiedon ge ${new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z")}`;
    }
    const headers = { Prefer: `odata.maxpagesize=${Math.min(5000, Math.max(1, options.pageSize ?? 500))}` };
    let request: HttpRequest | undefined = { method: "GET", path: `${API}/accounts`, query, headers, ...corr(options) };
    while (request) {
      const response: HttpResponse = await this.call(request);
      const body = response.body as { value?: VendorRecord[]; "@odata.nextLink"?: string };
      const records = body.value ?? [];
      const last = records[records.length - 1];
      yield { records, watermark: typeof last?.modifiedon === "string" ? new Date(Date.parse(last.modifiedon)).toISOString() : undefined };
      const next = body["@odata.nextLink"];
      request = next ? { method: "GET", path: next, headers, ...corr(options) } : undefined;
    }
  }

  async getOpportunity(id: string, ctx: CallContext = {}): Promise<VendorRecord> {
    if (!/^[0-9a-fA-F-]{36}$/.test(id)) throw new BusinessError({ code: "INVALID_ID", message: `opportunity id ${JSON.stringify(id)} is not a GUID`, field: "opportunityid", hint: "pass the opportunity's GUID" });
    const expand = [
      `customerid_account($select=${ACCOUNT_COLUMNS.join(",")})`,
      "transactioncurrencyid($select=isocurrencycode)",
      "product_opportunities($select=opportunityproductid,productdescription,quantity,priceperunit,baseamount,manualdiscountamount,extendedamount,lineitemnumber,_productid_value;$orderby=lineitemnumber asc;$expand=productid($select=productid,name,productnumber))",
    ].join(",");
    const select = ["opportunityid", "name", "description", "estimatedvalue", "actualvalue", "estimatedclosedate", "actualclosedate", "stepname", "statecode", "statuscode", "modifiedon", "_customerid_value", "keelson_erpordernumber", "keelson_erporderstatus", "keelson_erpmessage"].join(",");
    const response = await this.call({ method: "GET", path: `${API}/opportunities(${id})`, query: { $select: select, $expand: expand }, ...corr(ctx) });
    return response.body as VendorRecord;
  }

  async writeBackOrder(opportunityId: string, writeBack: OrderWriteBack, ctx: CallContext = {}): Promise<void> {
    const body: VendorRecord = {};
    if (writeBack.orderNumber !== undefined) body[ERP_COLUMNS.orderNumber] = writeBack.orderNumber;
    if (writeBack.status !== undefined) body[ERP_COLUMNS.orderStatus] = writeBack.status;
    if (writeBack.message !== undefined) body[ERP_COLUMNS.message] = writeBack.message;
    await this.update("opportunities", opportunityId, body, ctx);
  }

  async close(): Promise<void> {
    this.upserts.flush();
    this.rate.close();
    await this.connection.close();
  }

  /** PATCH with If-Match: * so a wrong id is a 404, never a new record. */
  private async update(set: string, id: string, body: VendorRecord, ctx: CallContext): Promise<void> {
    if (!/^[0-9a-fA-F-]{36}$/.test(id)) throw new BusinessError({ code: "INVALID_ID", message: `${set} id ${JSON.stringify(id)} is not a GUID`, field: "id", hint: "pass the record's GUID" });
    await this.call({ method: "PATCH", path: `${API}/${set}(${id})`, body, headers: { "If-Match": "*" }, idempotent: true, ...corr(ctx) });
  }

  /**
   * One request through the connection, after taking `weight` service-protection slots. All but the last are
   * given back at once (they only mark arrivals in the window), so a batch larger than the limit cannot wait
   * for slots it holds itself.
   */
  private async call(request: HttpRequest, weight = 1): Promise<HttpResponse> {
    for (let i = 1; i < weight; i++) (await this.rate.acquire())();
    const release = await this.rate.acquire();
    try {
      return await this.connection.request(request);
    } finally {
      release();
    }
  }

  /**
   * Upserts by alternate key in one `$batch`, each as its own part so one refusal fails only its record
   * (`odata.continue-on-error`). Records the vendor throttled or failed technically inside the batch go out again
   * in a smaller batch, per the connection's retry policy; the others keep their answer.
   */
  private async sendUpserts(items: UpsertItem[]): Promise<Array<BatchResult<UpsertResult>>> {
    const results: Array<BatchResult<UpsertResult> | undefined> = new Array(items.length);
    let pending = items.map((item, index) => ({ item, index }));
    const started = Date.now();
    for (let attempt = 1; pending.length; attempt++) {
      const answers = await this.sendBatch(pending.map((p) => p.item));
      const retry: typeof pending = [];
      let retryAfterMs: number | undefined;
      pending.forEach((p, i) => {
        const answer = answers[i];
        if (answer && answer.status >= 200 && answer.status < 300) {
          results[p.index] = { ok: true, value: { id: entityId(answer) ?? "", created: answer.status === 201 ? true : answer.status === 200 ? false : undefined } };
        } else if (answer && answer.status >= 400 && answer.status < 500 && answer.status !== 429 && answer.status !== 408) {
          results[p.index] = { ok: false, error: dataverseBusinessError(answer.body as ODataError, answer.status) };
        } else {
          const wait = answer ? parseRetryAfter(answer.headers["retry-after"]) : undefined;
          if (wait !== undefined) retryAfterMs = Math.max(retryAfterMs ?? 0, wait);
          retry.push(p);
        }
      });
      if (!retry.length) break;
      const delay = nextDelay(attempt, Date.now() - started, this.connection.retryPolicy, retryAfterMs);
      if (delay === undefined) {
        const error = new TechnicalError({ kind: "throttled", retryable: false, message: `${retry.length} record(s) of a $batch were still refused after ${attempt} attempts` });
        for (const p of retry) results[p.index] = { ok: false, error };
        break;
      }
      if (retryAfterMs !== undefined) this.connection.pause(Date.now() + retryAfterMs);
      await sleep(delay);
      pending = retry;
    }
    return results.map((r) => r ?? { ok: false, error: new TechnicalError({ kind: "protocol", retryable: false, message: "no answer for a record of the $batch" }) });
  }

  private async sendBatch(items: UpsertItem[]): Promise<Array<InnerResponse | undefined>> {
    const boundary = `batch_${randomUUID()}`;
    const parts = items.map((item) => {
      const key = `${this.keyColumn}=${odataString(item.externalId)}`;
      return [
        `--${boundary}`,
        "Content-Type: application/http",
        "Content-Transfer-Encoding: binary",
        "",
        `PATCH ${this.base}/${API}/accounts(${encodeURI(key)})?$select=accountid HTTP/1.1`,
        "Content-Type: application/json",
        "Prefer: return=representation",
        "",
        JSON.stringify(item.fields),
      ].join("\r\n");
    });
    const body = `${parts.join("\r\n")}\r\n--${boundary}--\r\n`;
    const response = await this.call(
      {
        method: "POST",
        path: `${API}/$batch`,
        body,
        headers: { "Content-Type": `multipart/mixed; boundary=${boundary}`, Prefer: "odata.continue-on-error", Accept: "multipart/mixed" },
        // Upserts by alternate key: resending the batch gives the same records.
        idempotent: true,
        ...batchCorrelation(items),
      },
      items.length,
    );
    return parseBatchResponse(response);
  }
}

function entityId(answer: InnerResponse): string | undefined {
  const fromBody = (answer.body as { accountid?: unknown } | undefined)?.accountid;
  if (typeof fromBody === "string") return fromBody;
  return /\(([0-9a-fA-F-]{36})\)\s*$/.exec(answer.headers["odata-entityid"] ?? "")?.[1];
}

/** The parts of a `$batch` answer, in order (changesets are not used by this adapter). */
export function parseBatchResponse(response: HttpResponse): Array<InnerResponse | undefined> {
  const boundary = /boundary=("?)([^";]+)\1/i.exec(response.headers["content-type"] ?? "")?.[2];
  if (!boundary) throw new TechnicalError({ kind: "protocol", retryable: false, status: response.status, message: "$batch answered without a multipart boundary" });
  const chunks = response.text.split(`--${boundary}`).slice(1, -1);
  return chunks.map((chunk) => {
    const httpAt = chunk.search(/HTTP\/1\.1 \d{3}/);
    if (httpAt < 0) return undefined;
    const inner = chunk.slice(httpAt);
    const [head, ...rest] = inner.split(/\r?\n\r?\n/);
    const lines = (head ?? "").split(/\r?\n/);
    const status = Number(/HTTP\/1\.1 (\d{3})/.exec(lines[0] ?? "")?.[1]);
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(":");
      if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const text = rest.join("\r\n\r\n").trim();
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = text;
    }
    return { status, headers, body };
  });
}

/** An OData error as a business exception; Dataverse names the column in the message. */
export function dataverseBusinessError(body: ODataError | undefined, status: number | undefined): BusinessError {
  const code = body?.error?.code ?? `HTTP_${status ?? 400}`;
  const message = body?.error?.message ?? `HTTP ${status ?? 400}`;
  const field = /propert(?:y|ies) (?:named )?'([A-Za-z0-9_]+)'/.exec(message)?.[1] ?? /Attribute '([A-Za-z0-9_]+)'/.exec(message)?.[1];
  const hint =
    status === 404 ? "check the id or key; the record may have been deleted"
      : status === 412 ? "the record changed or already exists: read it again"
        : field ? `correct ${field} in the CRM or the mapping` : undefined;
  return new BusinessError({ code, message, ...(field ? { field } : {}), ...(hint ? { hint } : {}), ...(status !== undefined ? { status } : {}), vendorBody: body });
}

function classifyDataverse(response: HttpResponse, request: HttpRequest): BusinessError | TechnicalError | undefined {
  const repeatable = unreadableButRepeatable(response, request.idempotent);
  if (repeatable) return repeatable;
  if (request.path.endsWith("$batch") && response.status >= 200 && response.status < 300) {
    const boundary = /boundary=("?)([^";]+)\1/i.exec(response.headers["content-type"] ?? "")?.[2];
    if (!boundary || !response.text.includes(`--${boundary}--`)) {
      return new TechnicalError({ kind: "protocol", retryable: request.idempotent === true, status: response.status, message: `${response.method} ${response.url}: $batch answer cut short` });
    }
  }
  const body = response.body as ODataError | undefined;
  if (response.status >= 400 && response.status < 500 && ![401, 403, 408, 429].includes(response.status) && body && typeof body === "object" && body.error) {
    return dataverseBusinessError(body, response.status);
  }
  return undefined;
}
