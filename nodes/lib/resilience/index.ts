/**
 * The connectivity core in one import for vendor adapters and connection config nodes. An adapter builds one
 * Connection per configured vendor system and sends every call through it:
 *
 *   const connection = new Connection({
 *     name: "salesforce prod",
 *     http: { baseUrl: `${instanceUrl}/services/data/v59.0`, timeoutMs: 30_000, tls },
 *     auth: (http) => new OAuth2ClientCredentials(http, { tokenUrl, clientId, clientSecret }),
 *     ...VENDOR_LIMITS.salesforce, // then the user's overrides
 *     retry: { maxAttempts: 5 },
 *     hooks: {
 *       classify: (response) => ..., // BusinessError from the vendor's body, throttles in disguise
 *       readSignals: (response) => ({ ...standardSignals(response), quota: parseSforceLimitInfo(response.headers["sforce-limit-info"]) }),
 *     },
 *   });
 *   const response = await connection.request({ method: "POST", path: "sobjects/Account", body, correlationId });
 *
 * and, for many records at once, a Batcher whose sendBatch makes one connection.request per batch.
 */
export * from "./errors";
export * from "./classify";
export * from "./retry";
export * from "./rate-limiter";
export * from "./concurrency";
export * from "./breaker";
export * from "./signals";
export * from "./batcher";
export * from "./connection";
export * from "./vendor-limits";
export * from "../http/client";
export * from "../http/auth";
