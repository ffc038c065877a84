"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const { lib, vendor, json } = require("./helpers");
const { Connection } = lib("resilience/connection");
const { CircuitBreaker } = lib("resilience/breaker");
const { TechnicalError } = lib("resilience/errors");

const NO_RETRY = { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 1, maxElapsedMs: 1000 };

test("the breaker opens after N consecutive failures, fails fast, and recovers through one half-open probe", async (t) => {
  let healthy = false;
  const v = await vendor((req, res) => (healthy ? json(res, 200, { ok: true }) : json(res, 500, { message: "boom" })));
  t.after(() => v.close());
  const c = new Connection({ name: "erp", http: { baseUrl: v.url }, retry: NO_RETRY, breaker: { failureThreshold: 3, resetTimeoutMs: 100 } });
  t.after(() => c.close());
  const changes = [];
  c.on("breaker", (state, previous) => changes.push(`${previous}->${state}`));

  for (let i = 0; i < 3; i++) await assert.rejects(c.request({ method: "GET", path: "/x" }), (e) => e.kind === "server");
  assert.equal(c.state().breaker, "open");
  const fast = await c.request({ method: "GET", path: "/x" }).catch((e) => e);
  assert.ok(fast instanceof TechnicalError);
  assert.equal(fast.kind, "unavailable");
  assert.match(fast.message, /erp: circuit breaker open/);
  assert.ok(fast.retryAfterMs > 0 && fast.retryAfterMs <= 100);
  assert.equal(v.requests.length, 3, "the open breaker sent nothing");

  await new Promise((r) => setTimeout(r, 200));
  assert.equal(c.state().breaker, "half-open", "visible without traffic, for the node status");
  healthy = true;
  const [probe, second] = await Promise.allSettled([c.request({ method: "GET", path: "/probe" }), c.request({ method: "GET", path: "/second" })]);
  assert.equal(probe.status, "fulfilled");
  assert.equal(second.status, "rejected", "only one probe while half-open");
  assert.equal(second.reason.kind, "unavailable");
  assert.equal(c.state().breaker, "closed");
  await c.request({ method: "GET", path: "/after" });
  assert.deepEqual(changes, ["closed->open", "open->half-open", "half-open->closed"]);
});

test("a failed probe opens the breaker again", async (t) => {
  const v = await vendor((req, res) => json(res, 503, {}));
  t.after(() => v.close());
  const c = new Connection({ name: "erp", http: { baseUrl: v.url }, retry: NO_RETRY, breaker: { failureThreshold: 2, resetTimeoutMs: 60 } });
  t.after(() => c.close());
  await c.request({ method: "GET", path: "/x" }).catch(() => {});
  await c.request({ method: "GET", path: "/x" }).catch(() => {});
  await new Promise((r) => setTimeout(r, 80));
  await c.request({ method: "GET", path: "/probe" }).catch(() => {});
  assert.equal(c.state().breaker, "open");
  assert.equal(v.requests.length, 3);
});

test("business errors, throttles and refused credentials do not open the breaker", async (t) => {
  const answers = [400, 429, 401, 404, 400, 429];
  const v = await vendor((req, res, r, i) => json(res, answers[i % answers.length], { message: "x" }));
  t.after(() => v.close());
  const c = new Connection({ name: "crm", http: { baseUrl: v.url }, retry: NO_RETRY, breaker: { failureThreshold: 2, minimumCalls: 2 } });
  t.after(() => c.close());
  for (let i = 0; i < 12; i++) await c.request({ method: "GET", path: "/x" }).catch(() => {});
  assert.equal(c.state().breaker, "closed");
  assert.equal(v.requests.length, 12);
});

test("the error-rate threshold opens the breaker even without consecutive failures", () => {
  const b = new CircuitBreaker({ failureThreshold: 100, errorRateThreshold: 0.5, minimumCalls: 10, windowMs: 10_000 });
  for (let i = 0; i < 4; i++) {
    b.admit();
    b.record("success");
    b.admit();
    b.record("failure");
  }
  assert.equal(b.state, "closed", "8 calls: below the minimum");
  b.admit();
  b.record("success");
  b.admit();
  b.record("failure");
  assert.equal(b.state, "open", "5 of 10 failed");
  b.dispose();
});

test("a raised failure threshold raises the calls the error rate needs; an explicit minimum still wins", () => {
  const alternate = (b, pairs) => {
    for (let i = 0; i < pairs; i++) {
      b.admit();
      b.record("success");
      b.admit();
      b.record("failure");
    }
  };
  assert.equal(new CircuitBreaker().options.minimumCalls, 10);
  assert.equal(new CircuitBreaker({ failureThreshold: 3 }).options.minimumCalls, 10);
  const tolerant = new CircuitBreaker({ failureThreshold: 50 });
  assert.equal(tolerant.options.minimumCalls, 100);
  alternate(tolerant, 49);
  assert.equal(tolerant.state, "closed", "98 calls, half failed: below the minimum of 100");
  alternate(tolerant, 1);
  assert.equal(tolerant.state, "open", "100 calls, half failed");
  tolerant.dispose();
  const explicit = new CircuitBreaker({ failureThreshold: 50, minimumCalls: 10 });
  alternate(explicit, 5);
  assert.equal(explicit.state, "open");
  explicit.dispose();
});

test("failures that fell out of the rolling window no longer count", async () => {
  const b = new CircuitBreaker({ failureThreshold: 100, errorRateThreshold: 0.5, minimumCalls: 4, windowMs: 100 });
  for (let i = 0; i < 3; i++) b.record("failure");
  await new Promise((r) => setTimeout(r, 130));
  for (let i = 0; i < 3; i++) b.record("success");
  b.record("failure");
  assert.equal(b.state, "closed", "1 of 4 in the window");
  b.dispose();
});
