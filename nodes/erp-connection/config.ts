/** The dialog fields of keelson-erp-connection, turned into an adapter configuration. */
import type { NodeDef } from "node-red";
import { ERP_SYSTEMS, type ErpConnectionConfig, type ErpMappings } from "../lib/vendors/erp";
import type { GenericRestAuth } from "../lib/vendors/generic-rest";
import type { ErpCredentials } from "./types";

export interface ErpConnectionDef extends NodeDef {
  system: string;
  baseUrl: string;
  accountId: string;
  netsuiteAuth: "m2m" | "tba";
  certificateId: string;
  genericAuth: GenericRestAuth["kind"];
  apiKeyHeader: string;
  tokenUrl: string;
  scope: string;
  profile: string;
  mappings: string;
  orderDefaults: string;
  currencies: string;
  concurrency: string | number;
  rateLimit: string | number;
  rateWindowSeconds: string | number;
  maxAttempts: string | number;
  timeoutSeconds: string | number;
  breakerFailures: string | number;
  breakerResetSeconds: string | number;
  tlsInsecure: boolean;
  tlsCa: string;
  tenantId: string;
  environment: string;
  companyId: string;
  localCurrency: string;
  paymentJournal: string;
  odooProtocol: "json2" | "jsonrpc";
  database: string;
  login: string;
  fusionAuth: "basic" | "oauth2";
  acumaticaTenant: string;
  acumaticaBranch: string;
  acumaticaEndpoint: string;
  foTenantId: string;
  foCompany: string;
}

/**
 * Where an empty credential is read from, so that one flow file runs against the sandboxes, a customer's
 * systems or a test harness with nothing but environment variables (credentials cannot travel in a flow file).
 */
const ENV_FALLBACK: Record<keyof ErpCredentials, string> = {
  user: "ERP_CLIENT_ID",
  password: "ERP_CLIENT_SECRET",
  clientId: "ERP_CLIENT_ID",
  clientSecret: "ERP_CLIENT_SECRET",
  privateKey: "ERP_PRIVATE_KEY",
  consumerKey: "ERP_CONSUMER_KEY",
  consumerSecret: "ERP_CONSUMER_SECRET",
  tokenId: "ERP_TOKEN_ID",
  tokenSecret: "ERP_TOKEN_SECRET",
  secretKey: "ERP_CLIENT_SECRET",
  token: "ERP_CLIENT_SECRET",
};

/** "${NAME}" in a field reads the environment variable, as Node-RED does for properties, also in credentials. */
export function env(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const m = /^\$\{(\w+)\}$/.exec(value.trim());
  return m ? process.env[m[1]!] : value;
}

function json<T>(text: string | undefined, what: string): T | undefined {
  if (!text || !text.trim()) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new Error(`${what} is not valid JSON: ${(err as Error).message}`);
  }
}

function number(value: string | number | undefined, what: string): number | undefined {
  if (value === undefined || value === "") return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${what} must be a number > 0, got ${JSON.stringify(value)}`);
  return n;
}

function required(value: string | undefined, what: string): string {
  if (!value) throw new Error(`${what} is missing`);
  return value;
}

/** The adapter configuration from the dialog and the credentials; throws naming the field that is wrong. */
export function configOf(def: ErpConnectionDef, creds: ErpCredentials): ErpConnectionConfig {
  const system = env(def.system === "env" || !def.system ? "${ERP_SYSTEM}" : def.system)?.trim().toLowerCase();
  if (!system || !(ERP_SYSTEMS as readonly string[]).includes(system)) throw new Error(`unknown ERP system ${JSON.stringify(system ?? "")}: use ${ERP_SYSTEMS.join(", ")}`);
  const rate = number(def.rateLimit, "rate limit");
  const common = {
    name: def.name || `${system} ${def.id}`,
    baseUrl: required(env(def.baseUrl), "base URL"),
    connection: {
      ...(number(def.concurrency, "concurrency") !== undefined ? { concurrency: number(def.concurrency, "concurrency")! } : {}),
      ...(rate !== undefined ? { rateLimit: { limit: Math.floor(rate), windowMs: (number(def.rateWindowSeconds, "rate window") ?? 1) * 1000 } } : {}),
      ...(number(def.maxAttempts, "attempts") !== undefined ? { retry: { maxAttempts: Math.floor(number(def.maxAttempts, "attempts")!) } } : {}),
      ...(number(def.timeoutSeconds, "timeout") !== undefined ? { timeoutMs: number(def.timeoutSeconds, "timeout")! * 1000 } : {}),
      breaker: {
        ...(number(def.breakerFailures, "breaker failures") !== undefined ? { failureThreshold: Math.floor(number(def.breakerFailures, "breaker failures")!) } : {}),
        ...(number(def.breakerResetSeconds, "breaker reset") !== undefined ? { resetTimeoutMs: number(def.breakerResetSeconds, "breaker reset")! * 1000 } : {}),
      },
      ...(def.tlsInsecure || def.tlsCa ? { tls: { ...(def.tlsInsecure ? { insecure: true } : {}), ...(def.tlsCa ? { ca: def.tlsCa } : {}) } } : {}),
    },
    ...(json<Record<string, unknown>>(env(def.orderDefaults), "order defaults") ? { orderDefaults: json<Record<string, unknown>>(env(def.orderDefaults), "order defaults")! } : {}),
    ...(json<ErpMappings>(env(def.mappings), "mappings") ? { mappings: json<ErpMappings>(env(def.mappings), "mappings")! } : {}),
  };
  // NetSuite TBA's consumer key and secret are its client id and secret; Stripe is the billing system (BILLING_API_KEY).
  const fallbacks = (name: keyof ErpCredentials): string[] =>
    system === "stripe" && name === "secretKey" ? ["BILLING_API_KEY", ENV_FALLBACK[name]]
    : name === "consumerKey" ? [ENV_FALLBACK[name], "ERP_CLIENT_ID"]
    : name === "consumerSecret" ? [ENV_FALLBACK[name], "ERP_CLIENT_SECRET"]
    : [ENV_FALLBACK[name]];
  const secret = (name: keyof ErpCredentials) =>
    required(env(creds[name]) || fallbacks(name).map((v) => process.env[v]).find((v) => v), `${name} (credentials, or ${fallbacks(name).join(" or ")})`);
  // An Entra / IAM token endpoint other than the vendor's default (a sandbox, a national cloud): dialog, else ERP_TOKEN_URL.
  const tokenUrl = env(def.tokenUrl) || process.env.ERP_TOKEN_URL;
  switch (system) {
    case "netsuite":
      return {
        system,
        ...common,
        accountId: required(env(def.accountId) || process.env.ERP_ACCOUNT_ID, "account id (or ERP_ACCOUNT_ID)"),
        auth:
          def.netsuiteAuth === "tba"
            ? { kind: "tba", consumerKey: secret("consumerKey"), consumerSecret: secret("consumerSecret"), tokenId: secret("tokenId"), tokenSecret: secret("tokenSecret") }
            : { kind: "m2m", clientId: secret("clientId"), certificateId: required(env(def.certificateId) || process.env.ERP_CERTIFICATE_ID, "certificate id (or ERP_CERTIFICATE_ID)"), privateKey: secret("privateKey") },
        ...(json<Record<string, string>>(def.currencies, "currencies") ? { currencies: json<Record<string, string>>(def.currencies, "currencies")! } : {}),
      };
    case "sap-s4hana":
      return { system, ...common, user: secret("user"), password: secret("password") };
    case "stripe":
      return { system, ...common, secretKey: secret("secretKey") };
    case "business-central":
      return {
        system,
        ...common,
        tenantId: required(env(def.tenantId) || process.env.ERP_TENANT_ID, "tenant id (or ERP_TENANT_ID)"),
        environment: required(env(def.environment) || process.env.ERP_ENVIRONMENT || "production", "environment"),
        companyId: required(env(def.companyId) || process.env.ERP_COMPANY_ID, "company id (or ERP_COMPANY_ID)"),
        clientId: secret("clientId"),
        clientSecret: secret("clientSecret"),
        ...(tokenUrl ? { tokenUrl } : {}),
        ...(def.scope ? { scope: def.scope } : {}),
        ...(def.localCurrency ? { localCurrency: def.localCurrency } : {}),
        ...(def.paymentJournal ? { paymentJournal: def.paymentJournal } : {}),
      };
    case "odoo": {
      // A flow file without the dialog's choice takes ERP_PROTOCOL (json2 | jsonrpc); JSON-2 otherwise.
      const protocol = (def.odooProtocol || process.env.ERP_PROTOCOL || "json2").trim().toLowerCase();
      if (protocol !== "json2" && protocol !== "jsonrpc") throw new Error(`Odoo protocol must be json2 or jsonrpc, got ${JSON.stringify(protocol)}`);
      return {
        system,
        ...common,
        protocol,
        database: required(env(def.database) || process.env.ERP_DATABASE, "database (or ERP_DATABASE)"),
        ...(protocol === "jsonrpc" ? { login: required(env(def.login) || process.env.ERP_CLIENT_ID, "login (or ERP_CLIENT_ID)") } : {}),
        password: secret("password"),
      };
    }
    case "oracle-fusion":
      return {
        system,
        ...common,
        auth:
          def.fusionAuth === "oauth2"
            ? { kind: "oauth2", clientId: secret("clientId"), clientSecret: secret("clientSecret"), ...(tokenUrl ? { tokenUrl } : {}), ...(def.scope ? { scope: def.scope } : {}) }
            : { kind: "basic", user: secret("user"), password: secret("password") },
      };
    case "acumatica": {
      // "Default/24.200.001": the endpoint name and version of the web service endpoint.
      const [endpoint, endpointVersion] = (env(def.acumaticaEndpoint) || "Default/24.200.001").split("/");
      return {
        system,
        ...common,
        user: secret("user"),
        password: secret("password"),
        ...(env(def.acumaticaTenant) ? { tenant: env(def.acumaticaTenant)! } : {}),
        ...(env(def.acumaticaBranch) ? { branch: env(def.acumaticaBranch)! } : {}),
        ...(endpoint ? { endpoint } : {}),
        ...(endpointVersion ? { endpointVersion } : {}),
      };
    }
    case "dynamics-fo":
      return {
        system,
        ...common,
        tenantId: required(env(def.foTenantId) || process.env.ERP_TENANT_ID, "tenant id (or ERP_TENANT_ID)"),
        clientId: secret("clientId"),
        clientSecret: secret("clientSecret"),
        company: required(env(def.foCompany) || process.env.ERP_COMPANY, "company (dataAreaId, or ERP_COMPANY)"),
        ...(tokenUrl ? { tokenUrl } : {}),
        ...(def.scope ? { scope: def.scope } : {}),
      };
    default: {
      const profile = json<Record<string, unknown>>(env(def.profile), "REST profile") ?? {};
      // The reference flows name no auth kind (their system is ERP_SYSTEM): ERP_AUTH says it there.
      const kind = (def.system === "env" && process.env.ERP_AUTH ? process.env.ERP_AUTH : def.genericAuth) || "none";
      if (!["none", "bearer", "basic", "api-key", "oauth2"].includes(kind)) throw new Error(`generic REST auth must be none, bearer, basic, api-key or oauth2, got ${JSON.stringify(kind)}`);
      const auth: GenericRestAuth =
        kind === "bearer" ? { kind, token: secret("token") }
        : kind === "basic" ? { kind, user: secret("user"), password: secret("password") }
        : kind === "api-key" ? { kind, header: required(def.apiKeyHeader, "API key header"), key: secret("token") }
        : kind === "oauth2" ? { kind, tokenUrl: required(tokenUrl, "token URL (or ERP_TOKEN_URL)"), clientId: secret("clientId"), clientSecret: secret("clientSecret"), ...(def.scope ? { scope: def.scope } : {}) }
        : { kind: "none" };
      return { system: "generic-rest", ...common, auth, paths: (profile.paths ?? {}) as never, ...(profile.selectors ? { selectors: profile.selectors as never } : {}), ...(typeof profile.idempotencyHeader === "string" ? { idempotencyHeader: profile.idempotencyHeader } : {}), ...(typeof profile.systemName === "string" ? { systemName: profile.systemName } : {}) };
    }
  }
}

