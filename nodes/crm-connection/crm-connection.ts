import type { NodeAPI, NodeDef } from "node-red";
import { createCrmAdapter, type CrmAdapter, type CrmAuthMethod, type CrmConnectionSettings, type CrmCredentials, type CrmSystem } from "../lib/vendors/crm";
import type { CrmConnectionNode } from "./crm-node";
import { watchConnection } from "../common/telemetry";

interface CrmConnectionDef extends NodeDef {
  system: string;
  baseUrl: string;
  auth: string;
  tokenUrl: string;
  tenantId: string;
  scope: string;
  audience: string;
  externalIdField: string;
  rateLimit: string | number;
  rateWindow: string | number;
  concurrency: string | number;
  maxAttempts: string | number;
  baseDelay: string | number;
  maxDelay: string | number;
  maxElapsed: string | number;
  breakerFailures: string | number;
  breakerReset: string | number;
  timeout: string | number;
  tlsCa: string;
  tlsInsecure: boolean;
  batchWindow: string | number;
  batchSize: string | number;
}

/** A number the user typed, or undefined for "use the default". */
function optional(value: string | number | undefined): number | undefined {
  if (value === undefined || value === null || String(value).trim() === "") return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new TypeError(`${JSON.stringify(value)} is not a number ≥ 0`);
  return n;
}

/** Where an empty credential is read from, so the reference flows run from environment variables alone. */
const ENV_FALLBACK: Record<keyof CrmCredentials, string> = {
  clientId: "CRM_CLIENT_ID",
  clientSecret: "CRM_CLIENT_SECRET",
  privateKey: "CRM_PRIVATE_KEY",
  username: "CRM_USERNAME",
  accessToken: "CRM_ACCESS_TOKEN",
  refreshToken: "CRM_REFRESH_TOKEN",
};

export = function register(RED: NodeAPI): void {
  function CrmConnectionConfigNode(this: CrmConnectionNode, def: CrmConnectionDef) {
    RED.nodes.createNode(this, def);
    const node = this;
    // "${CRM_BASE_URL}" in a field reads the environment, as in the reference flows (credentials included).
    const env = (value: string | undefined): string | undefined => {
      if (!value) return undefined;
      const m = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/.exec(value.trim());
      if (!m) return value.trim();
      const found = RED.util.getSetting(node, m[1]!) as unknown;
      return typeof found === "string" && found !== "" ? found : undefined;
    };
    let adapter: CrmAdapter | undefined;
    let setupError: Error | undefined;
    let unwatch = (): void => undefined;
    node.system = env(def.system) as CrmSystem;
    try {
      // An empty credential is read from the environment (CRM_CLIENT_ID…): a flow file carries no credentials.
      const credentials: CrmCredentials = {};
      for (const [key, fallback] of Object.entries(ENV_FALLBACK) as Array<[keyof CrmCredentials, string]>) {
        const value = env(node.credentials?.[key]) ?? env(`\${${fallback}}`);
        if (value) credentials[key] = value;
      }
      const field = (name: string, value: string | number | undefined): number | undefined => {
        try {
          return optional(value);
        } catch (err) {
          throw new TypeError(`${name}: ${(err as Error).message}`);
        }
      };
      const rate = field("rate limit", def.rateLimit);
      const rateWindow = field("rate window", def.rateWindow);
      const retry = Object.fromEntries(
        Object.entries({ maxAttempts: field("attempts", def.maxAttempts), baseDelayMs: field("first backoff", def.baseDelay), maxDelayMs: field("longest backoff", def.maxDelay), maxElapsedMs: field("retry budget", def.maxElapsed) }).filter(([, v]) => v !== undefined),
      );
      const breaker = Object.fromEntries(Object.entries({ failureThreshold: field("breaker failures", def.breakerFailures), resetTimeoutMs: field("breaker reset", def.breakerReset) }).filter(([, v]) => v !== undefined));
      const ca = def.tlsCa?.trim();
      const concurrency = field("concurrency", def.concurrency);
      const timeoutMs = field("timeout", def.timeout);
      const batchWindowMs = field("batch window", def.batchWindow);
      const maxBatchSize = field("batch size", def.batchSize);
      const settings: CrmConnectionSettings = {
        system: node.system,
        baseUrl: env(def.baseUrl) ?? "",
        name: def.name || `${node.system} ${env(def.baseUrl) ?? ""}`,
        auth: (def.auth || defaultAuth(node.system)) as CrmAuthMethod,
        credentials,
        ...(env(def.tokenUrl) ? { tokenUrl: env(def.tokenUrl)! } : {}),
        ...(env(def.tenantId) ? { tenantId: env(def.tenantId)! } : {}),
        ...(env(def.scope) ? { scope: env(def.scope)! } : {}),
        ...(env(def.audience) ? { audience: env(def.audience)! } : {}),
        ...(def.externalIdField ? { externalIdField: def.externalIdField.trim() } : {}),
        ...(rate ? { rateLimit: { limit: Math.floor(rate), windowMs: rateWindow || 1000 } } : {}),
        ...(concurrency ? { concurrency: Math.floor(concurrency) } : {}),
        ...(Object.keys(retry).length ? { retry } : {}),
        ...(Object.keys(breaker).length ? { breaker } : {}),
        ...(timeoutMs ? { timeoutMs } : {}),
        ...(ca || def.tlsInsecure ? { tls: { ...(ca ? { ca } : {}), ...(def.tlsInsecure ? { insecure: true } : {}) } } : {}),
        ...(batchWindowMs !== undefined ? { batchWindowMs } : {}),
        ...(maxBatchSize ? { maxBatchSize: Math.floor(maxBatchSize) } : {}),
        logger: { warn: (message) => node.warn(message), debug: (message) => node.debug(message) },
      };
      adapter = createCrmAdapter(settings);
      unwatch = watchConnection(RED, node, node.system, adapter.connection);
    } catch (err) {
      setupError = err instanceof Error ? err : new Error(String(err));
      node.error(`CRM connection ${def.name || node.id}: ${setupError.message}`);
    }

    node.adapter = () => {
      if (!adapter) throw new Error(`CRM connection is not usable: ${setupError?.message ?? "not configured"}`);
      return adapter;
    };

    node.on("close", (done: () => void) => {
      unwatch();
      (adapter ? adapter.close() : Promise.resolve()).catch(() => undefined).then(() => done());
    });
  }

  function defaultAuth(system: string): CrmAuthMethod {
    return system === "hubspot" ? "private-app" : "client-credentials";
  }

  RED.nodes.registerType<CrmConnectionNode, CrmConnectionDef, object, CrmCredentials>("keelson-crm-connection", CrmConnectionConfigNode, {
    credentials: {
      clientId: { type: "text" },
      clientSecret: { type: "password" },
      privateKey: { type: "password" },
      username: { type: "text" },
      accessToken: { type: "password" },
      refreshToken: { type: "password" },
    },
  });
};
