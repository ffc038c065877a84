"use strict";
// The way a vendor adapter is meant to use the core, end to end through the public index: a Salesforce-shaped
// vendor with OAuth, Sforce-Limit-Info, REQUEST_LIMIT_EXCEEDED throttles and sObject Collections of 200.
const test = require("node:test");
const assert = require("node:assert/strict");
const { vendor, json, FAST_RETRY } = require("./helpers");
const core = require("../../dist/nodes/lib/resilience/index.js");

test("the index exports the whole API", () => {
  for (const name of [
    "Connection", "HttpClient", "BusinessError", "TechnicalError", "UnknownOutcomeError", "Batcher", "RateLimiter",
    "ConcurrencyLimiter", "CircuitBreaker", "TokenCache", "OAuth2ClientCredentials", "BearerTokenAuth", "CookieSession",
    "CsrfToken", "StaticCredentials", "bearerToken", "basicAuth", "apiKeyHeader", "classifyResponse", "vendorMessage",
    "parseRetryAfter", "parseSforceLimitInfo", "parseHubSpotRateLimit", "standardSignals", "VENDOR_LIMITS",
    "DEFAULT_RETRY_POLICY", "backoffDelay",
  ]) {
    assert.ok(core[name] !== undefined, `${name} is exported`);
  }
});

test("a Salesforce-shaped adapter: one login, a batch of 450 in three collection calls, a throttle retried, quota read", async (t) => {
  let logins = 0;
  let collections = 0;
  const v = await vendor((req, res, record) => {
    if (req.url === "/services/oauth2/token") {
      logins++;
      return json(res, 200, { access_token: "00D!tok", instance_url: "x", token_type: "Bearer" });
    }
    collections++;
    if (collections === 2) return json(res, 403, [{ message: "ConcurrentPerOrgLongTxn Limit exceeded", errorCode: "REQUEST_LIMIT_EXCEEDED" }]);
    const { records } = JSON.parse(record.body);
    const results = records.map((r, i) =>
      r.Name ? { id: `001${String(i).padStart(3, "0")}`, success: true, errors: [] } : { success: false, errors: [{ statusCode: "REQUIRED_FIELD_MISSING", message: "Required fields are missing: [Name]", fields: ["Name"] }] },
    );
    json(res, 200, results, { "Sforce-Limit-Info": collections === 4 ? "api-usage=95100/100000" : "api-usage=1200/100000" });
  });
  t.after(() => v.close());

  const connection = new core.Connection({
    name: "salesforce",
    http: { baseUrl: `${v.url}/services/data/v59.0` },
    auth: (http) => new core.OAuth2ClientCredentials(http, { tokenUrl: `${v.url}/services/oauth2/token`, clientId: "c", clientSecret: "s" }),
    ...core.VENDOR_LIMITS.salesforce,
    retry: FAST_RETRY,
    hooks: {
      classify(response) {
        const first = Array.isArray(response.body) ? response.body[0] : undefined;
        if (response.status === 403 && first?.errorCode === "REQUEST_LIMIT_EXCEEDED") {
          return new core.TechnicalError({ kind: "throttled", retryable: true, status: 403, code: first.errorCode, message: first.message });
        }
        return undefined;
      },
      readSignals: (response) => ({ ...core.standardSignals(response), quota: core.parseSforceLimitInfo(response.headers["sforce-limit-info"]) }),
    },
  });
  t.after(() => connection.close());

  const batcher = new core.Batcher({
    maxBatchSize: core.VENDOR_LIMITS.salesforce.maxBatchSize,
    sendBatch: async (accounts) => {
      const res = await connection.request({ method: "POST", path: "composite/sobjects", idempotent: false, body: { allOrNone: false, records: accounts } });
      return res.body.map((r) =>
        r.success ? { ok: true, value: r.id } : { ok: false, error: new core.BusinessError({ code: r.errors[0].statusCode, message: r.errors[0].message, field: r.errors[0].fields[0], status: 200, vendorBody: r }) },
      );
    },
  });
  const accounts = Array.from({ length: 450 }, (_, i) => ({ attributes: { type: "Account" }, Name: i === 7 ? "" : `Acme ${i}` }));
  const settled = await Promise.allSettled(accounts.map((a) => batcher.add(a)));

  assert.equal(logins, 1);
  assert.equal(collections, 4, "3 collection calls (200 + 200 + 50), one of them throttled and retried");
  assert.equal(settled.filter((s) => s.status === "fulfilled").length, 449);
  const refused = settled[7];
  assert.equal(refused.status, "rejected");
  assert.ok(refused.reason instanceof core.BusinessError);
  assert.equal(refused.reason.field, "Name");
  const state = connection.state();
  assert.equal(state.counters.throttled, 1);
  assert.equal(state.counters.retries, 1);
  assert.equal(Math.round(state.quotaSpacingMs), 1763, "4.9 % of the daily allowance left: one call per 1.76 s from now on");
});
