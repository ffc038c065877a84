"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const { lib, vendor, json } = require("./helpers");
const { classifyResponse, vendorMessage, htmlTitle } = lib("resilience/classify");
const { BusinessError, TechnicalError, UnknownOutcomeError, isRetryable } = lib("resilience/errors");
const { Connection } = lib("resilience/connection");

function response(status, body, extra = {}) {
  const text = body === undefined ? "" : typeof body === "string" ? body : JSON.stringify(body);
  return {
    status,
    headers: {},
    setCookie: [],
    body,
    text,
    contentType: typeof body === "string" ? "text/plain" : "application/json",
    parseError: undefined,
    method: "POST",
    url: "https://erp.example/api/orders",
    durationMs: 1,
    ...extra,
  };
}
const POST = { method: "POST", idempotent: false };
const GET = { method: "GET", idempotent: true };

test("status rules: success, throttle, gateway, auth, server, redirect, business", () => {
  assert.equal(classifyResponse(response(201, { id: 1 }), POST), undefined);
  assert.equal(classifyResponse(response(204, undefined), POST), undefined);
  const throttled = classifyResponse(response(429, {}), POST, 2000);
  assert.ok(throttled instanceof TechnicalError && throttled.kind === "throttled" && throttled.retryable && throttled.retryAfterMs === 2000);
  assert.ok(isRetryable(classifyResponse(response(503, {}), POST)), "503: not processed, safe to retry even a POST");
  assert.ok(classifyResponse(response(504, {}), POST) instanceof UnknownOutcomeError);
  assert.ok(isRetryable(classifyResponse(response(504, {}), GET)));
  assert.ok(isRetryable(classifyResponse(response(408, {}), POST)));
  assert.equal(classifyResponse(response(401, {}), GET).kind, "auth");
  const server = classifyResponse(response(500, { message: "NullPointerException" }), POST);
  assert.equal(server.kind, "server");
  assert.equal(server.retryable, false, "a 500 to a POST: not sent again");
  assert.match(server.message, /HTTP 500: NullPointerException/);
  assert.equal(classifyResponse(response(500, { message: "UNKNOWN_EXCEPTION" }), GET).retryable, true, "a 500 to a read: asked again");
  const redirect = classifyResponse(response(302, "", { headers: { location: "https://login.example/sso?token=abc" } }), GET);
  assert.equal(redirect.kind, "protocol");
  assert.match(redirect.message, /unexpected HTTP 302 to https:\/\/login\.example\/sso$/, "the redirect's query is not echoed");
  const business = classifyResponse(response(409, { message: "Contact already exists. Existing ID: 1948209", category: "CONFLICT" }), POST);
  assert.ok(business instanceof BusinessError);
  assert.equal(business.code, "CONFLICT");
  assert.equal(business.status, 409);
  assert.ok(!isRetryable(business));
});

test("a business error without a readable vendor message still names the call and status", () => {
  const err = classifyResponse(response(422, undefined), POST);
  assert.ok(err instanceof BusinessError);
  assert.equal(err.code, "HTTP_422");
  assert.equal(err.message, "POST https://erp.example/api/orders: HTTP 422");
});

test("vendor error shapes: Salesforce, HubSpot, OData/SAP, Business Central, NetSuite, Stripe, OAuth, text", () => {
  assert.deepEqual(vendorMessage([{ message: "Required fields are missing: [Name]", errorCode: "REQUIRED_FIELD_MISSING", fields: ["Name"] }]), {
    code: "REQUIRED_FIELD_MISSING",
    message: "Required fields are missing: [Name]",
    field: "Name",
  });
  assert.deepEqual(vendorMessage({ status: "error", message: "Property values were not valid", correlationId: "u", category: "VALIDATION_ERROR" }), {
    code: "VALIDATION_ERROR",
    message: "Property values were not valid",
  });
  assert.deepEqual(vendorMessage({ error: { code: "V1/302", message: { lang: "en", value: "Sold-to party 1 not defined" }, innererror: {} } }), {
    code: "V1/302",
    message: "Sold-to party 1 not defined",
  });
  assert.deepEqual(vendorMessage({ error: { code: "Internal_EntityWithSameKeyExists", message: "The record already exists. CorrelationId: x." } }), {
    code: "Internal_EntityWithSameKeyExists",
    message: "The record already exists. CorrelationId: x.",
  });
  assert.deepEqual(
    vendorMessage({ type: "https://www.w3.org/…", title: "Bad Request", status: 400, "o:errorDetails": [{ detail: "Invalid Field Value 9999 for item", "o:errorCode": "INVALID_CONTENT", "o:errorPath": "item.items[0].item" }] }),
    { code: "INVALID_CONTENT", message: "Invalid Field Value 9999 for item", field: "item.items[0].item" },
  );
  assert.deepEqual(vendorMessage({ error: { type: "invalid_request_error", code: "parameter_missing", message: "Missing required param: customer.", param: "customer" } }), {
    code: "parameter_missing",
    message: "Missing required param: customer.",
    field: "customer",
  });
  assert.deepEqual(vendorMessage({ error: "invalid_grant", error_description: "authentication failure" }), { code: "invalid_grant", message: "authentication failure" });
  assert.deepEqual(vendorMessage("CSRF token validation failed"), { message: "CSRF token validation failed" });
  assert.deepEqual(vendorMessage(null), {});
  assert.deepEqual(vendorMessage([]), {});
});

test("HTML title extraction", () => {
  assert.equal(htmlTitle("<html><head><title> 504 Gateway Time-out </title>"), "504 Gateway Time-out");
  assert.equal(htmlTitle("<html><body>no title</body></html>"), undefined);
});

test("an HTML body is recognised even when the content type claims JSON", () => {
  const err = classifyResponse(response(200, "<!DOCTYPE html><html><title>Login</title></html>", { contentType: "application/json", parseError: "Unexpected token <" }), GET);
  assert.equal(err.kind, "protocol");
  assert.match(err.message, /HTML page \("Login"\)/);
});

test("when the breaker opens between retries, the caller gets the vendor's failure, not 'breaker open'", async (t) => {
  const v = await vendor((req, res) => json(res, 503, { message: "maintenance" }));
  t.after(() => v.close());
  const c = new Connection({ name: "erp", http: { baseUrl: v.url }, retry: { maxAttempts: 5, baseDelayMs: 1, maxDelayMs: 2, maxElapsedMs: 5000 }, breaker: { failureThreshold: 2 } });
  t.after(() => c.close());
  const err = await c.request({ method: "GET", path: "/x" }).catch((e) => e);
  assert.equal(err.status, 503);
  assert.equal(v.requests.length, 2);
  const next = await c.request({ method: "GET", path: "/x" }).catch((e) => e);
  assert.equal(next.code, "BREAKER_OPEN");
});
