/**
 * The one CRM adapter interface: what the CRM account and opportunity nodes ask of Salesforce, HubSpot and
 * Dataverse, in the domain's words. Each adapter speaks its vendor's wire (vendors/<system>.ts) through one
 * Connection of the resilience core; the nodes pick an adapter with `createCrmAdapter` and never see a URL.
 * Records cross this boundary in the vendor's own shape: the shipped mappings (mapping/library) turn them into
 * canonical objects, so a user can swap a mapping without touching an adapter.
 */
import {
  BusinessError,
  Connection,
  TechnicalError,
  VENDOR_LIMITS,
  type BreakerOptions,
  type ConnectionOptions,
  type HttpRequest,
  type HttpResponse,
  type Logger,
  type RateLimit,
  type RetryPolicy,
  type TlsOptions,
} from "../resilience";

export const CRM_SYSTEMS = ["salesforce", "hubspot", "dataverse"] as const;
export type CrmSystem = (typeof CRM_SYSTEMS)[number];

/** A vendor record as the vendor sends it (Salesforce sObject, HubSpot object, Dataverse row). */
export type VendorRecord = Record<string, unknown>;

/** Per-call context: the correlation id travels to the vendor as a header. */
export interface CallContext {
  correlationId?: string;
}

/** How an account is looked up: by the connection's upsert key, or by the ERP customer number field. */
export type AccountKey = "externalId" | "erpId";

export interface UpsertResult {
  /** The CRM's own id of the account. */
  id: string;
  /** True when the upsert created the account (undefined when the vendor does not say). */
  created: boolean | undefined;
}

/** The ERP side of an account, written back once the ERP customer exists. */
export interface ErpCustomerLink {
  erpSystem: string;
  erpCustomerId: string;
  /** The customer's status in the ERP ("active", "on-hold"…), when the flow knows it. */
  erpStatus?: string;
}

/** What the ERP made of an opportunity, for the sales user to see on it. */
export interface OrderWriteBack {
  orderNumber?: string;
  status?: string;
  /** For a rejection: what went wrong and what to fix, in words a sales user can act on. */
  message?: string;
}

/** One page of changed accounts; `watermark` is the newest change time on the page (ISO 8601). */
export interface ChangedPage {
  records: VendorRecord[];
  watermark: string | undefined;
}

/** Library mapping ids an adapter's records go through. */
export interface CrmMappings {
  accountToCustomer: string;
  customerToAccount: string;
  opportunityToQuote: string;
}

export interface CrmAdapter {
  readonly system: CrmSystem;
  readonly connection: Connection;
  readonly mappings: CrmMappings;
  /** Reads one account by the CRM's own id; a missing account is a BusinessError NOT_FOUND. */
  getAccount(id: string, ctx?: CallContext): Promise<VendorRecord>;
  /** The account whose key field holds `value`, or undefined. */
  findAccount(by: AccountKey, value: string, ctx?: CallContext): Promise<VendorRecord | undefined>;
  /**
   * Creates or updates the account whose upsert key holds `externalId`. Calls close together are coalesced
   * into the vendor's batch API; each caller gets its own record's result or error.
   */
  upsertAccount(externalId: string, fields: VendorRecord, ctx?: CallContext): Promise<UpsertResult>;
  /** Writes the ERP customer number, system and status onto the account. */
  linkErpCustomer(accountId: string, link: ErpCustomerLink, ctx?: CallContext): Promise<void>;
  /** Pages of accounts changed at or after `since` (ISO 8601; all when undefined), oldest change first, to the end. */
  listAccountsChangedSince(since: string | undefined, options?: { pageSize?: number } & CallContext): AsyncGenerator<ChangedPage>;
  /** The opportunity with its line items and account, shaped as its `opportunityToQuote` mapping expects. */
  getOpportunity(id: string, ctx?: CallContext): Promise<VendorRecord>;
  /** Writes the ERP order number, status and message onto the opportunity. */
  writeBackOrder(opportunityId: string, writeBack: OrderWriteBack, ctx?: CallContext): Promise<void>;
  /** Sends what is waiting for a batch and closes the connection. */
  close(): Promise<void>;
}

/** Secrets and identities per auth method; only the fields of the chosen method are read. */
export interface CrmCredentials {
  clientId?: string;
  clientSecret?: string;
  /** Salesforce JWT bearer: PEM private key that signs the assertion. */
  privateKey?: string;
  /** Salesforce JWT bearer: the integration user. */
  username?: string;
  /** HubSpot private app token. */
  accessToken?: string;
  /** HubSpot OAuth refresh token. */
  refreshToken?: string;
}

export type CrmAuthMethod = "client-credentials" | "jwt-bearer" | "private-app" | "oauth-refresh";

export interface CrmConnectionSettings {
  system: CrmSystem;
  /** Instance / API / org URL: `https://acme.my.salesforce.com`, `https://api.hubapi.com`, `https://org.crm.dynamics.com`. */
  baseUrl: string;
  /** Names the connection in errors and logs. */
  name?: string;
  auth: CrmAuthMethod;
  credentials: CrmCredentials;
  /** Token endpoint; each adapter has a default on the base URL (Dataverse: the Entra authority's). */
  tokenUrl?: string;
  /** Entra tenant, for the default Dataverse token URL. */
  tenantId?: string;
  /** Dataverse scope; default `{baseUrl}/.default`. */
  scope?: string;
  /** Salesforce JWT audience; default the login host (`https://login.salesforce.com`). */
  audience?: string;
  /** Upsert key field of accounts (Salesforce External ID field, HubSpot unique property, Dataverse alternate key). */
  externalIdField?: string;
  rateLimit?: RateLimit;
  concurrency?: number;
  retry?: Partial<RetryPolicy>;
  breaker?: Partial<BreakerOptions>;
  timeoutMs?: number;
  tls?: TlsOptions;
  /** How long an upsert waits for company before its batch goes out. Default 20 ms. */
  batchWindowMs?: number;
  /** Records per batch call, at most the vendor's ceiling. */
  maxBatchSize?: number;
  logger?: Logger;
}

/** The vendor's published defaults with the user's overrides on top; the batch size never exceeds the vendor's ceiling. */
export function connectionLimits(settings: CrmConnectionSettings): Pick<ConnectionOptions, "rateLimit" | "concurrency"> & { maxBatchSize: number } {
  const vendor = VENDOR_LIMITS[settings.system] ?? {};
  const rateLimit = settings.rateLimit ?? vendor.rateLimit;
  const concurrency = settings.concurrency ?? vendor.concurrency;
  const ceiling = vendor.maxBatchSize ?? 1;
  const maxBatchSize = Math.max(1, Math.min(ceiling, settings.maxBatchSize ?? ceiling));
  return { ...(rateLimit ? { rateLimit } : {}), ...(concurrency ? { concurrency } : {}), maxBatchSize };
}

/**
 * The Connection options every CRM adapter takes from its settings alike: HTTP timeout and TLS on the base URL, the
 * limits it enforces (a vendor that counts differently passes only some), retry policy, breaker and logger.
 */
export function sharedConnectionOptions(
  settings: CrmConnectionSettings,
  baseUrl: string,
  limits: Pick<ConnectionOptions, "rateLimit" | "concurrency">,
): Pick<ConnectionOptions, "http" | "rateLimit" | "concurrency" | "retry" | "breaker" | "logger"> {
  return {
    http: { baseUrl, ...(settings.timeoutMs ? { timeoutMs: settings.timeoutMs } : {}), ...(settings.tls ? { tls: settings.tls } : {}) },
    ...(limits.rateLimit ? { rateLimit: limits.rateLimit } : {}),
    ...(limits.concurrency ? { concurrency: limits.concurrency } : {}),
    ...(settings.retry ? { retry: settings.retry } : {}),
    ...(settings.breaker ? { breaker: settings.breaker } : {}),
    ...(settings.logger ? { logger: settings.logger } : {}),
  };
}

/** Checks the settings a user typed, naming the field. */
export function validateSettings(settings: CrmConnectionSettings): void {
  if (!CRM_SYSTEMS.includes(settings.system)) throw new TypeError(`system must be one of ${CRM_SYSTEMS.join(", ")}, got ${JSON.stringify(settings.system)}`);
  if (typeof settings.baseUrl !== "string" || !/^https?:\/\/[^/\s]+/i.test(settings.baseUrl)) throw new TypeError(`base URL must be an http(s) URL, got ${JSON.stringify(settings.baseUrl)}`);
  const methods: Record<CrmSystem, CrmAuthMethod[]> = { salesforce: ["client-credentials", "jwt-bearer"], hubspot: ["private-app", "oauth-refresh"], dataverse: ["client-credentials"] };
  if (!methods[settings.system].includes(settings.auth)) throw new TypeError(`auth for ${settings.system} must be one of ${methods[settings.system].join(", ")}, got ${JSON.stringify(settings.auth)}`);
  const need = (field: keyof CrmCredentials): void => {
    if (!settings.credentials[field]) throw new TypeError(`credential ${field} is required for ${settings.system} ${settings.auth}`);
  };
  if (settings.auth === "client-credentials") ["clientId", "clientSecret"].forEach((f) => need(f as keyof CrmCredentials));
  if (settings.auth === "jwt-bearer") ["clientId", "privateKey", "username"].forEach((f) => need(f as keyof CrmCredentials));
  if (settings.auth === "private-app") need("accessToken");
  if (settings.auth === "oauth-refresh") ["clientId", "clientSecret", "refreshToken"].forEach((f) => need(f as keyof CrmCredentials));
  if (settings.batchWindowMs !== undefined && !(settings.batchWindowMs >= 0)) throw new TypeError(`batch window must be ≥ 0 ms, got ${settings.batchWindowMs}`);
}

/** A 2xx whose body we could not read: for a call that is safe to repeat, worth another try. */
export function unreadableButRepeatable(response: HttpResponse, idempotent: boolean | undefined): TechnicalError | undefined {
  if (!idempotent || response.status < 200 || response.status >= 300) return undefined;
  const html = /^\s*<(?:!doctype html|html)\b/i.test(response.text.slice(0, 200)) || response.contentType.startsWith("text/html");
  if (response.parseError === undefined && !html) return undefined;
  return new TechnicalError({ kind: "protocol", retryable: true, status: response.status, message: `${response.method} ${response.url}: HTTP ${response.status} with an unreadable body; the call is safe to repeat` });
}

/** A lookup that found nothing, as a business exception the sender can act on. */
export function notFound(what: string, field: string, value: string): BusinessError {
  return new BusinessError({ code: "NOT_FOUND", message: `no ${what} with ${field} ${JSON.stringify(value)}`, field, hint: `check ${field}, or create the ${what} first` });
}

/** Quotes a value for a query language whose strings use single quotes with a backslash escape (SOQL). */
export function soqlString(value: string): string {
  return `'${value.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

/** Quotes a value as an OData string literal (single quotes doubled). */
export function odataString(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** The correlation id of one call, when the message has one. */
export function corr(ctx: CallContext): Pick<HttpRequest, "correlationId"> {
  return ctx.correlationId ? { correlationId: ctx.correlationId } : {};
}

/** A batch call carries its first caller's correlation id; each message logs its own. */
export function batchCorrelation(items: Array<{ correlationId: string | undefined }>): Pick<HttpRequest, "correlationId"> {
  const first = items.find((i) => i.correlationId)?.correlationId;
  return first ? { correlationId: first } : {};
}

/** Builds the adapter for a system. Adapters are loaded on demand so a flow pays only for the vendor it uses. */
export function createCrmAdapter(settings: CrmConnectionSettings): CrmAdapter {
  validateSettings(settings);
  switch (settings.system) {
    case "salesforce":
      return new (require("./salesforce") as typeof import("./salesforce")).SalesforceAdapter(settings);
    case "hubspot":
      return new (require("./hubspot") as typeof import("./hubspot")).HubSpotAdapter(settings);
    case "dataverse":
      return new (require("./dataverse") as typeof import("./dataverse")).DataverseAdapter(settings);
  }
}
