"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const { lib, vendor, json, FAST_RETRY } = require("./helpers");
const { Batcher } = lib("resilience/batcher");
const { Connection } = lib("resilience/connection");
const { BusinessError, TechnicalError } = lib("resilience/errors");

test("items arriving within the window go out as one batch, each caller getting its own result", async () => {
  const batches = [];
  const batcher = new Batcher({
    maxBatchSize: 100,
    windowMs: 20,
    sendBatch: async (items) => {
      batches.push(items);
      return items.map((n) => ({ ok: true, value: n * 10 }));
    },
  });
  const results = await Promise.all(Array.from({ length: 30 }, (_, i) => batcher.add(i)));
  assert.deepEqual(results, Array.from({ length: 30 }, (_, i) => i * 10));
  assert.equal(batches.length, 1);
  assert.equal(batches[0].length, 30);
});

test("items further apart than the window go out in separate batches", async () => {
  const batches = [];
  const batcher = new Batcher({ maxBatchSize: 100, windowMs: 10, sendBatch: async (items) => (batches.push(items), items.map((v) => ({ ok: true, value: v }))) });
  const first = batcher.add("a");
  await new Promise((r) => setTimeout(r, 40));
  await Promise.all([first, batcher.add("b")]);
  assert.deepEqual(batches, [["a"], ["b"]]);
});

test("the max batch size splits a burst, and a full batch goes out without waiting for the window", async () => {
  const batches = [];
  const batcher = new Batcher({
    maxBatchSize: 4,
    windowMs: 10_000,
    sendBatch: async (items) => (batches.push(items), items.map((v) => ({ ok: true, value: v }))),
  });
  const started = Date.now();
  const results = await Promise.all(Array.from({ length: 8 }, (_, i) => batcher.add(i)));
  assert.ok(Date.now() - started < 1000, "full batches did not wait for the 10 s window");
  assert.deepEqual(results, [0, 1, 2, 3, 4, 5, 6, 7]);
  assert.deepEqual(batches, [[0, 1, 2, 3], [4, 5, 6, 7]]);
  const tail = batcher.add(8);
  assert.equal(batcher.waiting, 1);
  batcher.flush();
  assert.equal(await tail, 8);
  assert.deepEqual(batches[2], [8]);
});

test("one refused record fails only its own caller", async () => {
  const batcher = new Batcher({
    maxBatchSize: 10,
    sendBatch: async (items) =>
      items.map((name) => (name === "bad" ? { ok: false, error: new BusinessError({ code: "INVALID_EMAIL", message: "email is invalid", field: "email" }) } : { ok: true, value: name.toUpperCase() })),
  });
  const settled = await Promise.allSettled(["a", "bad", "c"].map((x) => batcher.add(x)));
  assert.deepEqual(settled.map((s) => s.status), ["fulfilled", "rejected", "fulfilled"]);
  assert.equal(settled[0].value, "A");
  assert.ok(settled[1].reason instanceof BusinessError);
  assert.equal(settled[1].reason.field, "email");
});

test("a batch-level failure fails every caller of that batch, and only that batch", async () => {
  let call = 0;
  const batcher = new Batcher({
    maxBatchSize: 2,
    sendBatch: async (items) => {
      call++;
      if (call === 1) throw new TechnicalError({ kind: "server", message: "HTTP 500", retryable: false });
      return items.map((v) => ({ ok: true, value: v }));
    },
  });
  const settled = await Promise.allSettled([1, 2, 3, 4].map((x) => batcher.add(x)));
  assert.deepEqual(settled.map((s) => s.status), ["rejected", "rejected", "fulfilled", "fulfilled"]);
  assert.equal(settled[0].reason, settled[1].reason);
});

test("an answer with the wrong number of results fails the whole batch as a protocol error", async () => {
  const batcher = new Batcher({ maxBatchSize: 3, sendBatch: async () => [{ ok: true, value: 1 }] });
  const settled = await Promise.allSettled([1, 2, 3].map((x) => batcher.add(x)));
  assert.ok(settled.every((s) => s.status === "rejected" && s.reason.kind === "protocol"));
  assert.match(settled[0].reason.message, /batch of 3 answered with 1 results/);
  assert.throws(() => new Batcher({ maxBatchSize: 0, sendBatch: async () => [] }), /maxBatchSize/);
});

test("batching over a connection: one HubSpot-style batch upsert, a 207 with one item error, a 503 retried for the batch", async (t) => {
  let calls = 0;
  const v = await vendor((req, res, record) => {
    calls++;
    if (calls === 1) return json(res, 503, { message: "busy" });
    const { inputs } = JSON.parse(record.body);
    const results = inputs.filter((i) => i.id !== "C-bad").map((i) => ({ id: `hs-${i.id}`, properties: i.properties }));
    const errors = inputs.filter((i) => i.id === "C-bad").map((i) => ({ status: "error", category: "VALIDATION_ERROR", message: "name missing", context: { id: [i.id] } }));
    json(res, errors.length ? 207 : 200, { status: "COMPLETE", results, errors });
  });
  t.after(() => v.close());
  const c = new Connection({ name: "hubspot", http: { baseUrl: v.url }, retry: FAST_RETRY });
  t.after(() => c.close());
  const batcher = new Batcher({
    maxBatchSize: 100,
    sendBatch: async (items) => {
      const res = await c.request({
        method: "POST",
        path: "/crm/v3/objects/companies/batch/upsert",
        idempotent: true, // upsert on a unique property
        body: { inputs: items.map((i) => ({ idProperty: "erp_id", id: i.erpId, properties: { name: i.name } })) },
      });
      return items.map((i) => {
        const hit = res.body.results.find((r) => r.id === `hs-${i.erpId}`);
        if (hit) return { ok: true, value: hit.id };
        const error = res.body.errors.find((e) => e.context.id.includes(i.erpId));
        return { ok: false, error: new BusinessError({ code: error.category, message: error.message, vendorBody: error }) };
      });
    },
  });
  const settled = await Promise.allSettled(["C-1", "C-bad", "C-3"].map((erpId) => batcher.add({ erpId, name: erpId })));
  assert.equal(calls, 2, "one batch call, retried once after the 503");
  assert.deepEqual(settled.map((s) => s.status), ["fulfilled", "rejected", "fulfilled"]);
  assert.equal(settled[2].value, "hs-C-3");
  assert.equal(settled[1].reason.code, "VALIDATION_ERROR");
});
