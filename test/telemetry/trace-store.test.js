"use strict";
// The trace kept in the Keelson store: two real Node-RED processes sharing Redis (a step recorded by one is found
// through the other's admin API), one process on the file store restarted (its trace survives), and the batching
// rules (steps leave in batches; a failing store drops the batch, counts it, and the trace answers from memory).
const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const { startNodeRed } = require("../support/nodered");
const { makeUserDir, runId, nodeId, postJson, readyProbe, waitUntilReady, LEAN_SETTINGS, dropRedisPrefix, REDIS_URL } = require("../support/flows");
const { Telemetry } = require("../../dist/nodes/lib/telemetry/telemetry.js");
const { openStore } = require("../../dist/nodes/lib/state/index.js");

/** http in POST /claim → gate claim (key from the body) → http response; the store from the environment. */
function claimFlow() {
  const tab = nodeId();
  const store = nodeId();
  const gate = nodeId();
  const response = nodeId();
  const httpIn = nodeId();
  return {
    store,
    gate,
    flows: [
      { id: tab, type: "tab", label: "claims" },
      { id: store, type: "keelson-store", backend: "env", dir: "", redisUrl: "", prefix: "${KEELSON_TEST_PREFIX}", postgresUrl: "", schema: "", tablePrefix: "", timeout: 10000 },
      { id: httpIn, type: "http in", z: tab, url: "/claim", method: "post", upload: false, wires: [[gate]] },
      { id: gate, type: "keelson-gate", z: tab, store, action: "claim", key: "payload.key", keyType: "msg", fingerprint: "", fingerprintType: "none", leaseSeconds: 600, retentionDays: 1, waitSeconds: 0, wires: [[response], [response], [response], [response]] },
      { id: response, type: "http response", z: tab, statusCode: "", headers: {}, wires: [] },
      ...readyProbe(tab),
    ],
  };
}

const SETTINGS = { ...LEAN_SETTINGS, keelson: { trace: { enabled: true } } };

async function trace(url, id) {
  const res = await fetch(`${url}/keelson/trace/${encodeURIComponent(id)}`);
  assert.equal(res.status, 200);
  return res.json();
}

/** Polls the trace until `ready(body)`; the steps reach the store in a batch a moment after the message. */
async function traceUntil(url, id, ready, what) {
  for (let i = 0; i < 200; i++) {
    const body = await trace(url, id);
    if (ready(body)) return body;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`the trace of ${id} never showed ${what}: ${JSON.stringify(await trace(url, id))}`);
}

test("two Node-RED processes sharing Redis: each answers for the steps the other recorded", { timeout: 120000 }, async (t) => {
  const run = runId();
  const prefix = `keelson-test:trace:${run}:`;
  t.after(() => dropRedisPrefix(prefix));
  const { flows, store, gate } = claimFlow();
  const dirs = [makeUserDir("trace-a"), makeUserDir("trace-b")];
  t.after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
  const env = { KEELSON_STORE: "redis", REDIS_URL, KEELSON_TEST_PREFIX: prefix };
  const [a, b] = await Promise.all(dirs.map((userDir) => startNodeRed({ userDir, flows, env, settings: SETTINGS })));
  t.after(() => Promise.all([a, b].map((r) => r.stop("SIGKILL"))));
  await Promise.all([a, b].map((r) => waitUntilReady(r.url)));

  const key = `order-${run}`;
  assert.equal((await postJson(`${a.url}/claim`, { key })).status, 200);
  // Process B never saw the message: the step comes from Redis.
  const first = await traceUntil(b.url, key, (body) => body.steps.length === 1, "A's gate step");
  assert.equal(first.source.store, store);
  assert.match(first.source.name, /^redis redis:\/\//);
  assert.equal(first.source.error, undefined);
  assert.equal(first.steps[0].node.id, gate);
  assert.equal(first.steps[0].outcome, "claimed");
  assert.equal(first.steps[0].ids.idempotencyKey, key);

  assert.equal((await postJson(`${b.url}/claim`, { key })).status, 200);
  const both = await traceUntil(a.url, key, (body) => body.steps.length === 2, "both processes' steps");
  assert.deepEqual(both.steps.map((s) => s.outcome), ["claimed", "in-flight"]);
  assert.equal(both.correlationIds.length, 2, "two messages, two correlation ids, found by the idempotency key");
  // By one message's correlation id, only that message's step.
  const own = await trace(b.url, both.steps[1].correlationId);
  assert.deepEqual(own.steps.map((s) => s.outcome), ["in-flight"]);
  assert.deepEqual((await trace(a.url, `unknown-${run}`)).steps, []);
  for (const red of [a, b]) assert.doesNotMatch(red.log, /\[error\]/);
});

test("one Node-RED process on the file store: the trace survives a restart", { timeout: 120000 }, async (t) => {
  const run = runId();
  const { flows, store } = claimFlow();
  const userDir = makeUserDir("trace-file");
  t.after(() => fs.rmSync(userDir, { recursive: true, force: true }));
  const env = { KEELSON_STORE: "file", KEELSON_TEST_PREFIX: "" };
  let red = await startNodeRed({ userDir, flows, env, settings: SETTINGS });
  t.after(() => red.stop("SIGKILL"));
  await waitUntilReady(red.url);
  const key = `order-${run}`;
  assert.equal((await postJson(`${red.url}/claim`, { key })).status, 200);
  await traceUntil(red.url, key, (body) => body.steps.length === 1, "the gate step");
  // A stop (SIGTERM) closes the store node, which flushes the steps not yet written (a kill loses at most ~250 ms).
  await red.stop();

  red = await startNodeRed({ userDir, flows, env, settings: SETTINGS });
  await waitUntilReady(red.url);
  const after = await trace(red.url, key);
  assert.equal(after.source.store, store);
  assert.deepEqual(after.steps.map((s) => s.outcome), ["claimed"], "the step recorded before the restart");
  assert.equal((await postJson(`${red.url}/claim`, { key })).status, 200);
  const both = await traceUntil(red.url, key, (body) => body.steps.length === 2, "the step after the restart");
  assert.deepEqual(both.steps.map((s) => s.outcome), ["claimed", "in-flight"]);
});

test("settings keelson.trace.store picks the store node the trace is kept in", { timeout: 120000 }, async (t) => {
  const run = runId();
  const { flows, store: gateStore } = claimFlow();
  const traceStore = nodeId();
  // The gate's store (first in the flow) keeps the claims in memory; the trace goes to the named file store.
  flows.splice(1, 0, { id: traceStore, type: "keelson-store", backend: "file", dir: "trace-only", redisUrl: "", prefix: "", postgresUrl: "", schema: "", tablePrefix: "", timeout: 10000 });
  flows.find((n) => n.id === gateStore).backend = "memory";
  const userDir = makeUserDir("trace-named");
  t.after(() => fs.rmSync(userDir, { recursive: true, force: true }));
  const red = await startNodeRed({ userDir, flows, env: { KEELSON_TEST_PREFIX: "" }, settings: { ...LEAN_SETTINGS, keelson: { trace: { enabled: true, store: traceStore } } } });
  t.after(() => red.stop("SIGKILL"));
  await waitUntilReady(red.url);
  const key = `order-${run}`;
  assert.equal((await postJson(`${red.url}/claim`, { key })).status, 200);
  const body = await traceUntil(red.url, key, (b) => b.steps.length === 1, "the gate step");
  assert.equal(body.source.store, traceStore);
  await red.stop();
  const file = fs.readFileSync(require("node:path").join(userDir, "trace-only", "trace-v1.log"), "utf8");
  assert.equal(file.trim().split("\n").length, 1);
  assert.ok(file.includes(key), "the step is in the named store's trace file");
});

const probeOf = (t) => t.probe({ id: "g1", type: "keelson-gate", flow: "f1" });

function handle(probe, correlationId, key) {
  const msg = { _msgid: correlationId, correlationId, idempotency: { key, state: "new" } };
  const handling = probe.begin(msg);
  probe.sent(handling, msg, 0);
  probe.end(handling, msg);
}

test("steps reach the store in batches, not one call per message", async () => {
  const store = await openStore({ backend: "memory" });
  const calls = [];
  const t = new Telemetry({ trace: { enabled: true, windowMinutes: 5 } });
  t.useStore(async () => ({
    appendSteps: (steps, options) => {
      calls.push({ count: steps.length, retentionMs: options.retentionMs });
      return store.appendSteps(steps, options);
    },
    findSteps: (id, options) => store.findSteps(id, options),
  }));
  const probe = probeOf(t);
  for (let i = 0; i < 600; i++) handle(probe, `c${i}`, `k${i % 3}`);
  handle(probe, "last", "k0");
  await t.flushSteps();
  assert.deepEqual(calls.map((c) => c.count), [256, 256, 89]);
  assert.ok(calls.every((c) => c.retentionMs === 300_000));
  assert.equal((await store.findSteps("k1", { limit: 10_000 })).length, 200);
  const answer = await t.lookup("last");
  assert.equal(answer.stored, true);
  assert.deepEqual(answer.steps.map((s) => [s.correlationId, s.outcome]), [["last", "new"]], "the store's and memory's copy of a step count once");
  await store.close();
});

test("a failing store drops the batch, counts it, and the trace answers from this process's memory", async () => {
  const t = new Telemetry({ trace: { enabled: true }, metrics: { enabled: true } });
  let failing = true;
  const stop = t.useStore(async () => {
    if (failing) throw new Error("redis is down");
    return { appendSteps: async () => {}, findSteps: async () => [] };
  });
  const probe = probeOf(t);
  handle(probe, "c1", "k1");
  handle(probe, "c2", "k1");
  await t.flushSteps();
  assert.match(await t.render(), /^keelson_trace_steps_dropped_total 2$/m);
  const answer = await t.lookup("k1");
  assert.equal(answer.storeError, "redis is down");
  assert.deepEqual(answer.steps.map((s) => s.correlationId), ["c1", "c2"]);
  failing = false;
  handle(probe, "c3", "k1");
  await stop();
  assert.match(await t.render(), /^keelson_trace_steps_dropped_total 2$/m, "the pending step was flushed on stop, not dropped");
  assert.equal(t.storing, false);
  assert.deepEqual((await t.lookup("k1")).stored, false);
});

test("a vendor's request id (Stripe Request-Id) lands on the step of the message being handled, error answers too", async (t) => {
  const { start } = require("../../dist/sandbox/stripe.js");
  const { StripeAdapter } = require("../../dist/nodes/lib/vendors/stripe.js");
  const { stepContext } = require("../../dist/nodes/lib/telemetry/context.js");
  const sb = await start({ secretKeys: ["sk_test_trace"] });
  t.after(() => sb.close());
  const stripe = new StripeAdapter({ name: "stripe test", baseUrl: sb.url, secretKey: "sk_test_trace", connection: { retry: { maxAttempts: 1 } } });
  t.after(() => stripe.connection.close?.());
  const step = {};
  await stepContext.run(step, async () => {
    await stripe.connection.request({ method: "GET", path: "v1/invoices" });
    await assert.rejects(stripe.connection.request({ method: "GET", path: "v1/invoices/in_missing" }));
  });
  assert.match(step.ids.stripeRequestId, /^req_/);
  assert.match(step.ids["stripeRequestId#2"], /^req_/);
  assert.notEqual(step.ids.stripeRequestId, step.ids["stripeRequestId#2"]);
  // Outside a step (no message being handled) nothing is recorded and nothing fails.
  const outside = await stripe.connection.request({ method: "GET", path: "v1/invoices" });
  assert.equal(outside.status, 200);
  assert.equal(Object.keys(step.ids).length, 2);
});
