"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const { helper, nextMessage, noMessage } = require("../support/helper");
const storeNode = require("../../dist/nodes/store/store.js");
const dlqNode = require("../../dist/nodes/dlq/dlq.js");
const path = require("node:path");
const coreDir = path.dirname(require.resolve("@node-red/nodes/package.json"));
const functionNode = require(path.join(coreDir, "core/function/10-function.js"));

const nodes = [storeNode, dlqNode, functionNode];

// A function node that fails for messages with payload.fail, a Catch that feeds the DLQ, and the DLQ's replay
// output wired back into the function node — the shape of a real flow.
function flow(dlq = {}) {
  return [
    { id: "tab", type: "tab", label: "dlq" },
    { id: "st", type: "keelson-store", backend: "memory", timeout: 1000 },
    { id: "work", type: "function", z: "tab", name: "post order", func: "if (msg.payload.fail) { throw new Error('ERP timeout for ' + msg.payload.id); }\nreturn msg;", outputs: 1, timeout: 0, noerr: 0, initialize: "", finalize: "", libs: [], wires: [["ok"]] },
    { id: "ok", type: "helper", z: "tab" },
    { id: "catcher", type: "catch", z: "tab", scope: ["work"], uncaught: false, wires: [["q"]] },
    { id: "q", type: "keelson-dlq", z: "tab", store: "st", queue: "orders", maxAttempts: 3, retentionDays: 30, redactPaths: "payload.customer.taxId", maxKb: 64, ...dlq, wires: [["work"], ["events"]] },
    { id: "events", type: "helper", z: "tab" },
  ];
}

/** The next error the DLQ node reports with done(err) (what a Catch node scoped to it would receive). */
function nextError(ms = 3000) {
  const node = helper.getNode("q");
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no error reported")), ms);
    node.once("call:error", (call) => {
      clearTimeout(timer);
      const [err] = call.args;
      resolve({ error: { message: err instanceof Error ? err.message : String(err) } });
    });
  });
}

test.before(() => helper.startServer());
test.after(() => helper.stopServer());
test.afterEach(() => helper.unload());

test("a failure caught by Catch becomes a durable entry with error, source and ids; secrets are redacted", async () => {
  await helper.load(nodes, flow());
  const event = nextMessage(helper.getNode("events"));
  helper.getNode("work").receive({
    payload: { id: "A1", fail: true, customer: { name: "Acme", taxId: "FR123" } },
    headers: { Authorization: "Bearer abc.def", "X-Api-Key": "k-123" },
    password: "hunter2",
    correlationId: "corr-1",
    idempotency: { key: "crm:A1", token: "t" },
  });
  const captured = await event;
  assert.equal(captured.topic, "dlq/captured");
  assert.equal(captured.payload.queue, "orders");
  assert.equal(captured.payload.attempts, 1);
  assert.equal(captured.payload.state, "pending");
  assert.match(captured.payload.error, /ERP timeout for A1/);
  assert.deepEqual(captured.payload.source, { id: "work", type: "function", name: "post order" });
  assert.equal(captured.payload.correlationId, "corr-1");
  assert.equal(captured.payload.idempotencyKey, "crm:A1");

  const res = await helper.request().get(`/keelson/dlq/entries/${captured.payload.id}`).expect(200);
  const entry = res.body;
  assert.equal(entry.message.payload.customer.taxId, "[redacted]");
  assert.equal(entry.message.headers.Authorization, "[redacted]");
  assert.equal(entry.message.headers["X-Api-Key"], "[redacted]");
  assert.equal(entry.message.password, "[redacted]");
  assert.equal(entry.message.payload.customer.name, "Acme");
  assert.match(entry.error.stack, /ERP timeout/);
  for (const secret of ["FR123", "abc.def", "k-123", "hunter2"]) assert.ok(!JSON.stringify(entry).includes(secret), secret);
});

test("replay sends the message back through the flow; a second failure updates the same entry; it parks at max attempts", async () => {
  await helper.load(nodes, flow());
  const events = helper.getNode("events");
  let e = nextMessage(events);
  helper.getNode("work").receive({ payload: { id: "B", fail: true } });
  const id = (await e).payload.id;

  for (const attempt of [2, 3]) {
    e = nextMessage(events);
    const replayAck = nextMessage(events);
    helper.getNode("q").receive({ dlq: { action: "replay", ids: [id] } });
    const [first, second] = await Promise.all([replayAck, e]);
    const recapture = [first, second].find((m) => m.topic && m.topic.startsWith("dlq/"));
    assert.equal(recapture.payload.id, id, "same entry");
    assert.equal(recapture.payload.attempts, attempt);
    assert.equal(recapture.topic, attempt === 3 ? "dlq/parked" : "dlq/captured");
  }
  const list = await helper.request().get("/keelson/dlq/queues/orders/entries").expect(200);
  assert.equal(list.body.entries.length, 1);
  assert.equal(list.body.entries[0].state, "parked");
});

test("an edited replay succeeds and drains the queue", async () => {
  await helper.load(nodes, flow());
  const e = nextMessage(helper.getNode("events"));
  helper.getNode("work").receive({ payload: { id: "C", fail: true } });
  const id = (await e).payload.id;
  const entry = (await helper.request().get(`/keelson/dlq/entries/${id}`).expect(200)).body;
  entry.message.payload.fail = false;
  await helper.request().put(`/keelson/dlq/entries/${id}`).send({ message: entry.message }).expect(200);
  const ok = nextMessage(helper.getNode("ok"));
  await helper.request().post(`/keelson/dlq/entries/${id}/replay`).send({}).expect(200);
  const done = await ok;
  assert.equal(done.payload.id, "C");
  assert.deepEqual(done.dlq.id, id);
  const queues = (await helper.request().get("/keelson/dlq/queues").expect(200)).body;
  assert.equal(queues.find((q) => q.queue === "orders").depth, 0);
});

test("list, discard and bulk replay by message and by the admin API", async () => {
  await helper.load(nodes, flow());
  const events = helper.getNode("events");
  const ids = [];
  for (const n of [1, 2, 3, 4]) {
    const e = nextMessage(events);
    helper.getNode("work").receive({ payload: { id: `L${n}`, fail: true } });
    ids.push((await e).payload.id);
  }
  let r = nextMessage(events);
  helper.getNode("q").receive({ action: "list", limit: 2 });
  const page = await r;
  assert.equal(page.payload.length, 2);
  assert.ok(page.cursor, "a cursor for the next page");

  r = nextMessage(events);
  helper.getNode("q").receive({ dlq: { action: "discard", ids: [ids[0]] } });
  assert.deepEqual((await r).payload, { action: "discard", queue: "orders", count: 1, ids: [ids[0]] });

  await helper.request().delete(`/keelson/dlq/entries/${ids[1]}`).expect(200);
  await helper.request().delete(`/keelson/dlq/entries/${ids[1]}`).expect(404);
  const res = await helper.request().post("/keelson/dlq/queues/orders/bulk").send({ action: "discard", all: true }).expect(200);
  assert.equal(res.body.discarded, 2);
  await helper.request().post("/keelson/dlq/queues/orders/bulk").send({ action: "explode" }).expect(400);
  await helper.request().post("/keelson/dlq/queues/nope/bulk").send({ action: "replay", all: true }).expect(404);
});

test("bad input: unknown action, a command without ids, an oversized message, a circular one", async () => {
  await helper.load(nodes, flow({ maxKb: 1 }));
  let caught = nextError();
  helper.getNode("q").receive({ action: "explode" });
  assert.match((await caught).error.message, /unknown dead-letter action "explode"/);

  caught = nextError();
  helper.getNode("q").receive({ dlq: { action: "replay" } });
  assert.match((await caught).error.message, /needs "ids", "filter" or "all": true/);

  caught = nextError();
  helper.getNode("q").receive({ payload: "x".repeat(5000), error: { message: "boom" } });
  assert.match((await caught).error.message, /larger than|too large|exceeds/i);

  const circular = { id: "Z" };
  circular.self = circular;
  const e = nextMessage(helper.getNode("events"));
  helper.getNode("q").receive({ payload: circular, error: { message: "loop" } });
  const captured = await e;
  const entry = (await helper.request().get(`/keelson/dlq/entries/${captured.payload.id}`).expect(200)).body;
  assert.equal(entry.message.payload.self, "[circular]");
});

test("store down → the capture fails loudly to Catch", async () => {
  await helper.load(nodes, [
    ...flow().filter((n) => n.id !== "st"),
    { id: "st", type: "keelson-store", backend: "redis", redisUrl: "redis://127.0.0.1:1", timeout: 300 },
  ]);
  const none = noMessage(helper.getNode("events"), 600);
  const caught = nextError();
  helper.getNode("q").receive({ payload: { id: "D" }, error: { message: "boom" } });
  assert.match((await caught).error.message, /redis/i);
  await none;
});

test("a burst of captures publishes the queue depth to editors once per interval, ending with the full depth", async () => {
  const { events } = require("@node-red/util");
  const published = [];
  const onComms = (m) => m.topic === "keelson/dlq" && published.push(m.data);
  events.on("comms", onComms);
  try {
    await helper.load(nodes, flow());
    const sink = helper.getNode("events");
    let seen = 0;
    const all = new Promise((resolve) => sink.on("input", () => ++seen === 200 && resolve()));
    for (let i = 0; i < 200; i++) helper.getNode("q").receive({ payload: { id: `B${i}` }, error: { message: "ERP down" } });
    await all;
    await new Promise((r) => setTimeout(r, 700));
    assert.ok(published.length >= 1 && published.length <= 4, `${published.length} depth updates for 200 captures`);
    assert.deepEqual({ queue: published.at(-1).queue, depth: published.at(-1).depth }, { queue: "orders", depth: 200 });
  } finally {
    events.removeListener("comms", onComms);
  }
});
