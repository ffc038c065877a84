"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { helper, nextMessage, noMessage } = require("../support/helper");
const storeNode = require("../../dist/nodes/store/store.js");
const gateNode = require("../../dist/nodes/gate/gate.js");

const nodes = [storeNode, gateNode];

function flow({ store = { backend: "memory" }, claim = {}, complete = {}, release = {} } = {}) {
  return [
    { id: "tab", type: "tab", label: "gate" },
    { id: "st", type: "keelson-store", name: "", dir: "", redisUrl: "", prefix: "", postgresUrl: "", schema: "", tablePrefix: "", timeout: 1000, ...store },
    { id: "gClaim", type: "keelson-gate", z: "tab", store: "st", action: "claim", key: 'payload.id ? "crm:" & payload.id', keyType: "jsonata", fingerprint: "", fingerprintType: "none", leaseSeconds: 600, retentionDays: 30, waitSeconds: 0, ...claim, wires: [["new"], ["dup"], ["busy"], ["conflict"]] },
    { id: "gComplete", type: "keelson-gate", z: "tab", store: "st", action: "complete", key: "idempotency.key", keyType: "msg", result: "payload.order", resultType: "msg", ...complete, wires: [["completed"]] },
    { id: "gRelease", type: "keelson-gate", z: "tab", store: "st", action: "release", key: "idempotency.key", keyType: "msg", releaseMode: "retry", ...release, wires: [["released"]] },
    ...["new", "dup", "busy", "conflict", "completed", "released", "caught"].map((id) => ({ id, type: "helper", z: "tab" })),
    { id: "catcher", type: "catch", z: "tab", scope: null, uncaught: false, wires: [["caught"]] },
  ];
}

async function send(nodeId, msg, outId) {
  const got = nextMessage(helper.getNode(outId));
  helper.getNode(nodeId).receive(msg);
  return got;
}

test.before(() => helper.startServer());
test.after(() => helper.stopServer());
test.afterEach(() => helper.unload());

test("claim → new; complete stores the result; the same key again → duplicate with the stored result", async () => {
  await helper.load(nodes, flow());
  const first = await send("gClaim", { payload: { id: "006A" } }, "new");
  assert.equal(first.idempotency.key, "crm:006A");
  assert.equal(first.idempotency.state, "claimed");
  assert.equal(first.idempotency.reclaimed, false);
  assert.match(first.idempotency.claimedAt, /^\d{4}-\d\d-\d\dT/);
  assert.equal(typeof first.idempotency.token, "string");

  first.payload.order = { erpId: "SO-1" };
  const done = await send("gComplete", first, "completed");
  assert.equal(done.idempotency.state, "completed");
  assert.equal(done.idempotency.token, undefined, "the token is spent");

  const again = await send("gClaim", { payload: { id: "006A" } }, "dup");
  assert.equal(again.idempotency.state, "completed");
  assert.deepEqual(again.idempotency.result, { erpId: "SO-1" });
});

test("a concurrent duplicate leaves by in-flight; with a wait it leaves as duplicate once the first completes", async () => {
  await helper.load(nodes, flow());
  const first = await send("gClaim", { payload: { id: "B" } }, "new");
  const busy = await send("gClaim", { payload: { id: "B" } }, "busy");
  assert.equal(busy.idempotency.state, "in-flight");
  assert.ok(busy.idempotency.leaseExpiresAt);
  await helper.unload();

  await helper.load(nodes, flow({ claim: { waitSeconds: 5 } }));
  const owner = await send("gClaim", { payload: { id: "C" } }, "new");
  const waiting = nextMessage(helper.getNode("dup"), 5000);
  helper.getNode("gClaim").receive({ payload: { id: "C" } });
  await new Promise((r) => setTimeout(r, 150));
  owner.payload.order = { erpId: "SO-9" };
  await send("gComplete", owner, "completed");
  const dup = await waiting;
  assert.deepEqual(dup.idempotency.result, { erpId: "SO-9" });
  void first;
});

test("same key with a different payload fingerprint → conflict", async () => {
  await helper.load(nodes, flow({ claim: { fingerprint: "payload", fingerprintType: "msg" } }));
  await send("gClaim", { payload: { id: "D", amount: 10 } }, "new");
  const conflict = await send("gClaim", { payload: { id: "D", amount: 11 } }, "conflict");
  assert.equal(conflict.idempotency.state, "conflict");
  // the same payload with its keys in another order is the same fingerprint
  const busy = await send("gClaim", { payload: { amount: 10, id: "D" } }, "busy");
  assert.equal(busy.idempotency.state, "in-flight");
});

test("release for retry lets the key through again; release as failed keeps it out with its reason", async () => {
  await helper.load(nodes, flow());
  const first = await send("gClaim", { payload: { id: "E" } }, "new");
  await send("gRelease", first, "released");
  const retry = await send("gClaim", { payload: { id: "E" } }, "new");
  assert.equal(retry.idempotency.state, "claimed");
  await helper.unload();

  await helper.load(nodes, flow({ release: { releaseMode: "failed" } }));
  const owner = await send("gClaim", { payload: { id: "F" } }, "new");
  owner.error = { message: "ERP said: subsidiary missing" };
  const released = await send("gRelease", owner, "released");
  assert.equal(released.idempotency.state, "failed");
  const later = await send("gClaim", { payload: { id: "F" } }, "dup");
  assert.equal(later.idempotency.state, "failed");
  assert.equal(later.idempotency.reason, "ERP said: subsidiary missing");
});

test("an expired lease is reclaimed and says so", async () => {
  await helper.load(nodes, flow({ claim: { leaseSeconds: 0.05 } }));
  await send("gClaim", { payload: { id: "G" } }, "new");
  await new Promise((r) => setTimeout(r, 120));
  const again = await send("gClaim", { payload: { id: "G" } }, "new");
  assert.equal(again.idempotency.reclaimed, true);
});

test("bad input: missing key, non-string key, an array key, a stale token — each reaches Catch and nothing passes", async () => {
  await helper.load(nodes, flow());
  const quiet = ["new", "dup", "busy", "conflict"].map((id) => noMessage(helper.getNode(id), 400));
  let caught = await send("gClaim", { payload: {} }, "caught");
  assert.match(caught.error.message, /idempotency key is missing: the key expression payload.id \? "crm:" & payload.id gave undefined/);
  await helper.unload();

  await helper.load(nodes, flow({ claim: { key: "payload.id", keyType: "msg" } }));
  caught = await send("gClaim", { payload: { id: { nested: true } } }, "caught");
  assert.match(caught.error.message, /idempotency key must be a string, but msg.payload.id gave object/);
  caught = await send("gClaim", { payload: { id: ["a"] } }, "caught");
  assert.match(caught.error.message, /gave an array/);
  const numeric = await send("gClaim", { payload: { id: 42 } }, "new");
  assert.equal(numeric.idempotency.key, "42");
  caught = await send("gComplete", { payload: {}, idempotency: { key: "42", token: "not-the-token" } }, "caught");
  assert.match(caught.error.message, /claim/i);
  caught = await send("gComplete", { payload: {}, idempotency: { key: "42" } }, "caught");
  assert.match(caught.error.message, /msg.idempotency.token is missing/);
  await Promise.all(quiet).catch(() => undefined);
});

test("store unavailable → fail closed: the message reaches Catch, not an output", async () => {
  // Nothing listens on this port: the Redis store cannot connect.
  await helper.load(nodes, flow({ store: { backend: "redis", redisUrl: "redis://127.0.0.1:1", timeout: 300 } }));
  const none = noMessage(helper.getNode("new"), 800);
  const caught = await send("gClaim", { payload: { id: "H" } }, "caught");
  assert.match(caught.error.message, /redis/i);
  await none;
});

test("the file store keeps claims across a redeploy", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "keelson-gate-"));
  try {
    await helper.load(nodes, flow({ store: { backend: "file", dir } }));
    const first = await send("gClaim", { payload: { id: "K" } }, "new");
    first.payload.order = { erpId: "SO-K" };
    await send("gComplete", first, "completed");
    await helper.unload();
    await helper.load(nodes, flow({ store: { backend: "file", dir } }));
    const dup = await send("gClaim", { payload: { id: "K" } }, "dup");
    assert.deepEqual(dup.idempotency.result, { erpId: "SO-K" });
  } finally {
    await helper.unload();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
