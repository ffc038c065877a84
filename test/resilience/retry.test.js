"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const { lib, vendor, json, memoryLogger, FAST_RETRY } = require("./helpers");
const { Connection } = lib("resilience/connection");
const { BusinessError, TechnicalError, UnknownOutcomeError } = lib("resilience/errors");
const { backoffDelay, nextDelay, validateRetryPolicy } = lib("resilience/retry");

function connect(t, v, extra = {}) {
  const connection = new Connection({ name: "test", http: { baseUrl: v.url }, retry: FAST_RETRY, ...extra });
  t.after(() => connection.close());
  return connection;
}

test("full jitter: each backoff lies in [0, min(max, base·2^(n-1))), and grows with the attempt", () => {
  const policy = { maxAttempts: 10, baseDelayMs: 100, maxDelayMs: 1000, maxElapsedMs: 60_000 };
  assert.equal(backoffDelay(1, policy, () => 0.999), 99);
  assert.equal(backoffDelay(3, policy, () => 0.999), 399);
  assert.equal(backoffDelay(8, policy, () => 0.999), 999, "capped by maxDelayMs");
  assert.equal(backoffDelay(3, policy, () => 0), 0);
  const draws = Array.from({ length: 200 }, () => backoffDelay(4, policy));
  assert.ok(draws.every((d) => d >= 0 && d < 800));
  assert.ok(new Set(draws).size > 50, "delays are spread, not all equal");
});

test("the policy stops at maxAttempts and before a wait would pass maxElapsedMs; Retry-After replaces the backoff", () => {
  const policy = { maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 1000, maxElapsedMs: 1000 };
  assert.equal(nextDelay(3, 0, policy), undefined);
  assert.equal(nextDelay(1, 0, policy, 700), 700);
  assert.equal(nextDelay(1, 400, policy, 700), undefined);
  assert.throws(() => validateRetryPolicy({ maxAttempts: 0, baseDelayMs: 1, maxDelayMs: 1, maxElapsedMs: 1 }), /maxAttempts/);
  assert.throws(() => validateRetryPolicy({ maxAttempts: 2, baseDelayMs: -1, maxDelayMs: 1, maxElapsedMs: 1 }), /baseDelayMs/);
});

test("a 503 is retried and the request then succeeds, with the same correlation id on every attempt", async (t) => {
  const v = await vendor((req, res, r, i) => (i < 2 ? json(res, 503, { message: "busy" }) : json(res, 200, { id: "42" })));
  t.after(() => v.close());
  const c = connect(t, v);
  const res = await c.request({ method: "GET", path: "/orders/42", correlationId: "c-1" });
  assert.deepEqual(res.body, { id: "42" });
  assert.equal(v.requests.length, 3);
  assert.deepEqual(v.requests.map((r) => r.headers["x-correlation-id"]), ["c-1", "c-1", "c-1"]);
  const { counters } = c.state();
  assert.equal(counters.retries, 2);
  assert.equal(counters.succeeded, 1);
  assert.equal(counters.sent, 3);
});

test("Retry-After (seconds) is honoured: the retry waits at least that long", async (t) => {
  const v = await vendor((req, res, r, i) => (i === 0 ? json(res, 429, { message: "slow down" }, { "Retry-After": "1" }) : json(res, 200, {})));
  t.after(() => v.close());
  const c = connect(t, v);
  const throttled = [];
  c.on("throttled", (until) => throttled.push(until));
  await c.request({ method: "GET", path: "/x" });
  const waited = v.requests[1].at - v.requests[0].at;
  assert.ok(waited >= 950 && waited < 2500, `waited ${waited} ms`);
  assert.equal(throttled.length, 1);
  assert.equal(c.state().counters.throttled, 1);
});

test("Retry-After as an HTTP date is honoured too, and holds the other callers of the connection", async (t) => {
  let pauseEnds = 0;
  const v = await vendor((req, res, r, i) => {
    if (i === 0) {
      // HTTP dates have whole seconds: ask for the next second boundary at least 300 ms away.
      const at = new Date(Math.ceil((Date.now() + 300) / 1000) * 1000);
      pauseEnds = at.getTime();
      return json(res, 503, {}, { "Retry-After": at.toUTCString() });
    }
    json(res, 200, {});
  });
  t.after(() => v.close());
  const c = connect(t, v);
  const first = c.request({ method: "GET", path: "/a" });
  for (let i = 0; i < 50 && c.state().throttledUntil === undefined; i++) await new Promise((r) => setTimeout(r, 5));
  const until = c.state().throttledUntil;
  assert.ok(Math.abs(until - pauseEnds) <= 10, `paused until ${until - pauseEnds} ms off the vendor's date`);
  await Promise.all([first, c.request({ method: "GET", path: "/b" })]);
  const b = v.requests.find((r) => r.url === "/b");
  const retry = v.requests.filter((r) => r.url === "/a")[1];
  assert.ok(retry.at >= pauseEnds - 20, `retry ${pauseEnds - retry.at} ms early`);
  assert.ok(b.at >= pauseEnds - 20, `other caller ${pauseEnds - b.at} ms early`);
  assert.equal(v.requests.length, 3);
});

test("a business 4xx is never retried and arrives as a BusinessError with the vendor's body", async (t) => {
  const body = [{ message: "Required fields are missing: [Name]", errorCode: "REQUIRED_FIELD_MISSING", fields: ["Name"] }];
  const v = await vendor((req, res) => json(res, 400, body));
  t.after(() => v.close());
  const c = connect(t, v);
  const err = await c.request({ method: "POST", path: "/sobjects/Account", body: {} }).catch((e) => e);
  assert.ok(err instanceof BusinessError, String(err));
  assert.equal(err.code, "REQUIRED_FIELD_MISSING");
  assert.equal(err.field, "Name");
  assert.equal(err.status, 400);
  assert.equal(err.message, "Required fields are missing: [Name]");
  assert.deepEqual(err.vendorBody, body);
  assert.equal(v.requests.length, 1);
  assert.equal(c.state().counters.businessErrors, 1);
  assert.equal(c.state().breaker, "closed");
});

test("a 429 burst: every caller eventually succeeds, the vendor sees each request once after the burst", async (t) => {
  let burst = 10;
  const v = await vendor((req, res) => {
    if (burst > 0) {
      burst--;
      return json(res, 429, { status: "error", policyName: "TEN_SECONDLY_ROLLING" });
    }
    json(res, 200, { path: req.url });
  });
  t.after(() => v.close());
  const c = connect(t, v, { retry: { maxAttempts: 8, baseDelayMs: 10, maxDelayMs: 40, maxElapsedMs: 5000 } });
  const results = await Promise.all(Array.from({ length: 10 }, (_, i) => c.request({ method: "GET", path: `/r${i}` })));
  assert.deepEqual(results.map((r) => r.body.path).sort(), Array.from({ length: 10 }, (_, i) => `/r${i}`).sort());
  const ok = v.requests.slice(10);
  assert.equal(ok.length, 10, "after the 10 throttled answers, exactly one successful call per caller");
  assert.equal(c.state().counters.throttled, 10);
});

test("retries stop at maxAttempts and the last TechnicalError is reported", async (t) => {
  const v = await vendor((req, res) => json(res, 503, { message: "down" }));
  t.after(() => v.close());
  const logger = memoryLogger();
  const c = connect(t, v, { retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2, maxElapsedMs: 5000 }, logger, breaker: { failureThreshold: 100 } });
  const err = await c.request({ method: "GET", path: "/x" }).catch((e) => e);
  assert.ok(err instanceof TechnicalError);
  assert.equal(err.status, 503);
  assert.equal(err.kind, "server");
  assert.equal(v.requests.length, 3);
  assert.equal(logger.lines.filter((l) => l.startsWith("debug test: retry")).length, 2);
});

test("a Retry-After longer than the elapsed budget is not waited out: the throttle is reported at once", async (t) => {
  const v = await vendor((req, res) => json(res, 429, {}, { "Retry-After": "120" }));
  t.after(() => v.close());
  const c = connect(t, v);
  const started = Date.now();
  const err = await c.request({ method: "GET", path: "/x" }).catch((e) => e);
  assert.ok(Date.now() - started < 1000);
  assert.equal(err.kind, "throttled");
  assert.equal(err.retryAfterMs, 120_000);
  assert.ok(c.state().throttledUntil > Date.now() + 100_000, "the connection stays paused for the vendor's time");
});

test("a 502 on a POST is an unknown outcome, not retried; on a GET it is retried", async (t) => {
  const v = await vendor((req, res, r, i) => (i === 0 || req.method === "POST" ? json(res, 502, { message: "bad gateway" }) : json(res, 200, {})));
  t.after(() => v.close());
  const c = connect(t, v);
  await c.request({ method: "GET", path: "/x" });
  assert.equal(v.requests.length, 2);
  const err = await c.request({ method: "POST", path: "/orders", body: {} }).catch((e) => e);
  assert.ok(err instanceof UnknownOutcomeError, String(err));
  assert.equal(v.requests.length, 3);
  assert.equal(c.state().counters.unknownOutcomes, 1);
});

test("an unknown outcome after a lost response is never retried", async (t) => {
  const v = await vendor((req) => req.socket.destroy());
  t.after(() => v.close());
  const c = connect(t, v);
  const err = await c.request({ method: "POST", path: "/orders", body: { ref: "SO-1" } }).catch((e) => e);
  assert.ok(err instanceof UnknownOutcomeError);
  assert.equal(v.requests.length, 1);
});

test("malformed JSON is a TechnicalError that says so and quotes the start of the body", async (t) => {
  const v = await vendor((req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end('{"id": "42", "name": ');
  });
  t.after(() => v.close());
  const c = connect(t, v);
  const get = await c.request({ method: "GET", path: "/orders/42" }).catch((e) => e);
  assert.ok(get instanceof TechnicalError && !(get instanceof UnknownOutcomeError), String(get));
  assert.equal(get.kind, "protocol");
  assert.match(get.message, /GET http:\/\/127\.0\.0\.1:\d+\/orders\/42: HTTP 200 with malformed JSON \(.+\), starting "\{\\"id\\": \\"42\\", \\"name\\": "/);
  assert.equal(v.requests.length, 1, "not retried");
  const post = await c.request({ method: "POST", path: "/orders", body: {} }).catch((e) => e);
  assert.ok(post instanceof UnknownOutcomeError, "a 2xx answer to a POST that cannot be read leaves the outcome unknown");
  assert.match(post.message, /malformed JSON/);
});

test("an HTML 502 page from a proxy is a TechnicalError naming the page, retried for a GET", async (t) => {
  const page = "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><h1>nginx</h1></body></html>";
  const v = await vendor((req, res) => {
    res.writeHead(502, { "content-type": "text/html" });
    res.end(page);
  });
  t.after(() => v.close());
  const c = connect(t, v, { retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 1, maxElapsedMs: 1000 } });
  const err = await c.request({ method: "GET", path: "/x" }).catch((e) => e);
  assert.ok(err instanceof TechnicalError, String(err));
  assert.equal(err.status, 502);
  assert.equal(err.retryable, true);
  assert.match(err.message, /HTTP 502 from a gateway with an HTML page \("502 Bad Gateway"\) instead of the API's answer/);
  assert.equal(v.requests.length, 2);
});

test("an HTML page with 200 (a login page) or 404 (a wrong base URL) is a technical, not a business, error", async (t) => {
  const v = await vendor((req, res) => {
    res.writeHead(req.url === "/login" ? 200 : 404, { "content-type": "text/html; charset=utf-8" });
    res.end("<html><title>Sign in</title></html>");
  });
  t.after(() => v.close());
  const c = connect(t, v);
  const ok = await c.request({ method: "GET", path: "/login" }).catch((e) => e);
  const missing = await c.request({ method: "GET", path: "/nope" }).catch((e) => e);
  for (const err of [ok, missing]) {
    assert.ok(err instanceof TechnicalError, String(err));
    assert.equal(err.kind, "protocol");
    assert.match(err.message, /HTML page \("Sign in"\)/);
  }
});

test("the adapter's classifier turns a vendor throttle in disguise into a retry (Salesforce 403 REQUEST_LIMIT_EXCEEDED)", async (t) => {
  const v = await vendor((req, res, r, i) =>
    i === 0 ? json(res, 403, [{ message: "TotalRequests Limit exceeded.", errorCode: "REQUEST_LIMIT_EXCEEDED" }]) : json(res, 200, { done: true }),
  );
  t.after(() => v.close());
  const hooks = {
    classify(response) {
      if (response.status === 403 && Array.isArray(response.body) && response.body[0]?.errorCode === "REQUEST_LIMIT_EXCEEDED") {
        return new TechnicalError({ kind: "throttled", retryable: true, status: 403, message: response.body[0].message });
      }
      return undefined;
    },
  };
  const c = connect(t, v, { hooks });
  const res = await c.request({ method: "GET", path: "/query" });
  assert.deepEqual(res.body, { done: true });
  assert.equal(v.requests.length, 2);
  // Without the hook the same 403 is an auth failure and is not retried.
  const v2 = await vendor((req, res) => json(res, 403, [{ message: "TotalRequests Limit exceeded.", errorCode: "REQUEST_LIMIT_EXCEEDED" }]));
  t.after(() => v2.close());
  const err = await connect(t, v2).request({ method: "GET", path: "/q" }).catch((e) => e);
  assert.equal(err.kind, "auth");
  assert.equal(v2.requests.length, 1);
});
