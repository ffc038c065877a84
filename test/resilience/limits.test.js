"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const { lib, vendor, json, FAST_RETRY } = require("./helpers");
const { Connection } = lib("resilience/connection");
const { RateLimiter } = lib("resilience/rate-limiter");
const { ConcurrencyLimiter } = lib("resilience/concurrency");
const { VENDOR_LIMITS } = lib("resilience/vendor-limits");
const signals = lib("resilience/signals");

test("the rate limiter keeps every window within the configured rate, counted at the server", async (t) => {
  const v = await vendor((req, res) => json(res, 200, {}));
  t.after(() => v.close());
  const c = new Connection({ name: "hubspot", http: { baseUrl: v.url }, rateLimit: { limit: 5, windowMs: 200 } });
  t.after(() => c.close());
  const started = Date.now();
  await Promise.all(Array.from({ length: 15 }, (_, i) => c.request({ method: "GET", path: `/r${i}` })));
  const elapsed = Date.now() - started;
  const times = v.requests.map((r) => r.at).sort((a, b) => a - b);
  assert.equal(times.length, 15);
  // No slack needed: a slot is held until a window after the answer, so arrival jitter cannot bunch requests.
  for (let i = 5; i < times.length; i++) assert.ok(times[i] - times[i - 5] >= 199, `6 requests within ${times[i] - times[i - 5]} ms at the server`);
  assert.ok(elapsed >= 400 && elapsed < 3000, `15 requests at 5 per 200 ms took ${elapsed} ms`);
});

test("a rate slot stays taken while its request runs", async () => {
  const limiter = new RateLimiter({ limit: 2, windowMs: 30 });
  const first = await limiter.acquire();
  const second = await limiter.acquire();
  let third = false;
  const pending = limiter.acquire().then((release) => ((third = true), release));
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(third, false, "two requests still running: a window has passed but no slot is free");
  const ended = Date.now();
  first();
  first(); // a second release is harmless
  (await pending)();
  assert.ok(Date.now() - ended >= 29, "the slot frees a window after its request ended");
  second();
  assert.throws(() => new RateLimiter({ limit: 0, windowMs: 1 }), /whole number/);
});

test("the concurrency limiter caps the requests in flight", async (t) => {
  let inFlight = 0;
  let peak = 0;
  const v = await vendor((req, res) => {
    inFlight++;
    peak = Math.max(peak, inFlight);
    setTimeout(() => {
      inFlight--;
      json(res, 200, {});
    }, 60);
  });
  t.after(() => v.close());
  const c = new Connection({ name: "netsuite", http: { baseUrl: v.url }, concurrency: 3 });
  t.after(() => c.close());
  const all = Promise.all(Array.from({ length: 12 }, (_, i) => c.request({ method: "GET", path: `/r${i}` })));
  await new Promise((r) => setTimeout(r, 5));
  assert.equal(c.state().inFlight, 3);
  assert.equal(c.state().waiting, 9);
  await all;
  assert.equal(peak, 3);
  assert.equal(v.requests.length, 12);
  assert.equal(c.state().inFlight, 0);
});

test("a concurrency slot is released on failure too", async () => {
  const limiter = new ConcurrencyLimiter(1);
  const release = await limiter.acquire();
  const next = limiter.acquire();
  assert.equal(limiter.waiting, 1);
  release();
  release(); // a second call is harmless
  const release2 = await next;
  assert.equal(limiter.inFlight, 1);
  release2();
  assert.equal(limiter.inFlight, 0);
  assert.throws(() => new ConcurrencyLimiter(0), /whole number/);
});

test("a low quota signal spaces calls out; a recovered quota lifts the spacing", async () => {
  const limiter = new RateLimiter({ limit: 1000, windowMs: 1000 });
  limiter.observeQuota({ remaining: 10, limit: 100, windowMs: 1000 });
  assert.equal(limiter.quotaSpacingMs, 0, "10 % left: no spacing yet");
  limiter.observeQuota({ remaining: 9, limit: 100, windowMs: 1000 });
  assert.equal(Math.round(limiter.quotaSpacingMs), 11, "just under 10 %: about the vendor's average pace, 1000 ms / 100");
  limiter.observeQuota({ remaining: 2, limit: 100, windowMs: 1000 });
  assert.equal(limiter.quotaSpacingMs, 50, "stretched as the allowance runs out");
  const started = Date.now();
  for (let i = 0; i < 4; i++) await limiter.acquire();
  assert.ok(Date.now() - started >= 140, `4 calls at 50 ms spacing took ${Date.now() - started} ms`);
  limiter.observeQuota({ remaining: 50, limit: 100 });
  assert.equal(limiter.quotaSpacingMs, 0);
  const quick = Date.now();
  for (let i = 0; i < 4; i++) await limiter.acquire();
  assert.ok(Date.now() - quick < 40);
});

test("the connection reads HubSpot quota headers through its hook and slows down", async (t) => {
  const v = await vendor((req, res) =>
    json(res, 200, {}, { "X-HubSpot-RateLimit-Max": "190", "X-HubSpot-RateLimit-Remaining": "4", "X-HubSpot-RateLimit-Interval-Milliseconds": "2000" }),
  );
  t.after(() => v.close());
  const c = new Connection({
    name: "hubspot",
    http: { baseUrl: v.url },
    hooks: { readSignals: (res) => ({ ...signals.standardSignals(res), quota: signals.parseHubSpotRateLimit(res.headers) }) },
  });
  t.after(() => c.close());
  const started = Date.now();
  await c.request({ method: "GET", path: "/a" });
  assert.equal(c.state().quotaSpacingMs, 50, "4 left of 190 in a 2 s window: one call per 50 ms");
  await c.request({ method: "GET", path: "/b" });
  await c.request({ method: "GET", path: "/c" });
  // Measured on the caller's clock: /c cannot start before two spacings have passed since /a.
  assert.ok(Date.now() - started >= 98, `three calls took ${Date.now() - started} ms`);
});

test("closing a connection fails the callers still waiting for a slot", async (t) => {
  const v = await vendor((req, res) => json(res, 429, {}, { "Retry-After": "30" }));
  t.after(() => v.close());
  const c = new Connection({ name: "x", http: { baseUrl: v.url }, retry: FAST_RETRY });
  await c.request({ method: "GET", path: "/a" }).catch(() => {});
  const waiting = c.request({ method: "GET", path: "/b" });
  await new Promise((r) => setTimeout(r, 10));
  await c.close();
  const err = await waiting.catch((e) => e);
  assert.equal(err.kind, "unavailable");
  assert.match(err.message, /connection closed/);
  assert.equal(v.requests.length, 1);
});

test("signal parsers: Retry-After, Sforce-Limit-Info, HubSpot, Dataverse, Stripe", () => {
  const now = Date.parse("2026-11-24T10:00:00Z");
  assert.equal(signals.parseRetryAfter("120", now), 120_000);
  assert.equal(signals.parseRetryAfter("0.5", now), 500);
  assert.equal(signals.parseRetryAfter("Tue, 24 Nov 2026 10:00:30 GMT", now), 30_000);
  assert.equal(signals.parseRetryAfter("Tue, 24 Nov 2026 09:00:00 GMT", now), 0);
  assert.equal(signals.parseRetryAfter("soon", now), undefined);
  assert.equal(signals.parseRetryAfter("-3", now), undefined);
  assert.equal(signals.parseRetryAfter(undefined, now), undefined);
  assert.deepEqual(signals.parseSforceLimitInfo("api-usage=18/5000"), { remaining: 4982, limit: 5000, windowMs: 86_400_000 });
  assert.deepEqual(signals.parseSforceLimitInfo("api-usage=10018/100000; api-bursts=1/750"), { remaining: 89_982, limit: 100_000, windowMs: 86_400_000 });
  assert.equal(signals.parseSforceLimitInfo("per-app-api-usage=1/2"), undefined);
  assert.deepEqual(
    signals.parseHubSpotRateLimit({ "x-hubspot-ratelimit-max": "190", "x-hubspot-ratelimit-remaining": "12", "x-hubspot-ratelimit-interval-milliseconds": "10000" }),
    { remaining: 12, limit: 190, windowMs: 10_000 },
  );
  assert.equal(signals.parseHubSpotRateLimit({ "x-hubspot-ratelimit-remaining": "12" }), undefined);
  assert.deepEqual(signals.parseDataverseRemaining({ "x-ms-ratelimit-burst-remaining-xrm-requests": "4999" }), { remaining: 4999, limit: 6000, windowMs: 300_000 });
  assert.equal(signals.parseStripeShouldRetry({ "stripe-should-retry": "false" }), false);
  assert.equal(signals.parseStripeShouldRetry({}), undefined);
});

test("vendor defaults carry the published figures", () => {
  assert.deepEqual(VENDOR_LIMITS.hubspot.rateLimit, { limit: 190, windowMs: 10_000 });
  assert.deepEqual(VENDOR_LIMITS["business-central"], { rateLimit: { limit: 6000, windowMs: 300_000 }, concurrency: 5, maxBatchSize: 100 });
  assert.equal(VENDOR_LIMITS.dataverse.concurrency, 52);
  assert.equal(VENDOR_LIMITS.salesforce.maxBatchSize, 200);
  assert.deepEqual(VENDOR_LIMITS.stripe.rateLimit, { limit: 25, windowMs: 1000 });
});

test("closing lets a request already on the wire finish", async (t) => {
  const v = await vendor((req, res) => setTimeout(() => json(res, 201, { id: "SO-1" }), 80));
  t.after(() => v.close());
  const c = new Connection({ name: "x", http: { baseUrl: v.url } });
  const posting = c.request({ method: "POST", path: "/orders", body: {} });
  await new Promise((r) => setTimeout(r, 20));
  await c.close();
  const res = await posting;
  assert.equal(res.status, 201, "not cut off into an unknown outcome");
  await assert.rejects(c.request({ method: "GET", path: "/x" }), (e) => e.code === "CONNECTION_CLOSED");
});
