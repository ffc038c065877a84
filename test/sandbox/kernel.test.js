"use strict";
const { test, before, after, beforeEach } = require("node:test");
const assert = require("node:assert/strict");
const { serve, SlidingWindow, TokenRegistry } = require("../../dist/sandbox/kernel.js");
const { call, control } = require("./helpers.js");

// A toy vendor: enough to exercise the kernel's routing, faults, stats and store without any vendor's rules.
let sb;
before(async () => {
  sb = await serve({ gadgets: 5 }, { limits: { gadgets: 3 } }, (k) => ({
    vendor: "toy",
    routes: [
      {
        method: "POST",
        path: "/things",
        handler: (req) => {
          const body = req.json();
          const id = String(k.store.all("thing").length + 1);
          k.store.insert("thing", id, { id, ...body });
          return { status: 201, body: { id, note: "created with a longish body to truncate" } };
        },
      },
      { method: "GET", path: "/things/:id", handler: (req) => ({ status: 200, body: k.store.get("thing", req.params.id) ?? null }) },
      { method: "GET", path: "/slow", handler: async () => { await new Promise((r) => setTimeout(r, 80)); return { status: 200, body: {} }; } },
    ],
    serverError: (status) => ({ status, body: { toy: "boom", status } }),
    throttled: () => ({ status: 429, headers: { "retry-after": "1" }, body: { toy: "slow down" } }),
    malformedBody: () => ({ status: 400, body: { toy: "bad json" } }),
    notFound: () => ({ status: 404, body: { toy: "nope" } }),
    concurrency: { limit: () => 2, refused: () => ({ status: 429, body: { toy: "too many at once" } }) },
    seedRecord: (type, input) => k.store.insert(type, String(input.id), input, { seed: true }),
    reset: () => k.store.insert("thing", "seeded", { id: "seeded" }, { seed: true }),
  }));
});
after(() => sb.close());
beforeEach(() => control.reset(sb.url));

test("routes, params, vendor 404 and malformed body", async () => {
  const created = await call(sb.url, "POST", "/things", { body: { name: "a" } });
  assert.equal(created.status, 201);
  const read = await call(sb.url, "GET", `/things/${created.json.id}`);
  assert.deepEqual(read.json, { id: created.json.id, name: "a" });
  assert.deepEqual((await call(sb.url, "GET", "/nowhere")).json, { toy: "nope" });
  const bad = await call(sb.url, "POST", "/things", { body: "{not json" });
  assert.equal(bad.status, 400);
  assert.deepEqual(bad.json, { toy: "bad json" });
});

test("limits are merged from defaults and options, changeable at runtime, unknown ones refused", async () => {
  assert.deepEqual((await call(sb.url, "GET", "/__sandbox/limits")).json.limits, { gadgets: 3 });
  assert.equal((await control.limits(sb.url, { gadgets: 1 })).json.limits.gadgets, 1);
  assert.equal((await control.limits(sb.url, { nope: 1 })).status, 400);
  assert.equal((await control.limits(sb.url, { gadgets: -1 })).status, 400);
  await control.reset(sb.url);
  assert.equal((await call(sb.url, "GET", "/__sandbox/limits")).json.limits.gadgets, 3, "reset restores the start limits");
});

test("fault rules are validated", async () => {
  assert.equal((await control.faults(sb.url, [{ kind: "meteor" }])).status, 400);
  assert.equal((await control.faults(sb.url, [{ kind: "error", probability: 2 }])).status, 400);
  assert.equal((await control.faults(sb.url, [{ kind: "outage" }])).status, 400);
  assert.equal((await control.faults(sb.url, [{ kind: "latency", msec: 5 }])).status, 400, "a misspelt field is refused");
  assert.equal((await call(sb.url, "PUT", "/__sandbox/faults", { body: "{" })).status, 400);
  const ok = await control.faults(sb.url, [{ kind: "error", count: 1 }]);
  assert.equal(ok.status, 200);
  assert.equal((await call(sb.url, "GET", "/__sandbox/faults")).json.faults.length, 1);
  await control.clearFaults(sb.url);
  assert.equal((await call(sb.url, "GET", "/__sandbox/faults")).json.faults.length, 0);
});

test("latency with jitter delays the answer", async () => {
  await control.faults(sb.url, [{ kind: "latency", ms: 60, jitterMs: 20, path: "/things/*" }]);
  const t0 = Date.now();
  await call(sb.url, "GET", "/things/seeded");
  assert.ok(Date.now() - t0 >= 60, "delayed");
  const t1 = Date.now();
  await call(sb.url, "POST", "/things", { body: {} });
  assert.ok(Date.now() - t1 < 60, "other paths not delayed");
});

test("error and throttle bursts answer with the vendor's bodies, commit nothing, then stop", async () => {
  await control.faults(sb.url, [{ kind: "error", status: 503, count: 1, method: "POST" }, { kind: "throttle", count: 2, method: "POST" }]);
  const e = await call(sb.url, "POST", "/things", { body: {} });
  assert.equal(e.status, 503);
  assert.deepEqual(e.json, { toy: "boom", status: 503 });
  const t = await call(sb.url, "POST", "/things", { body: {} });
  assert.equal(t.status, 429);
  assert.equal(t.headers.get("retry-after"), "1");
  assert.equal((await call(sb.url, "POST", "/things", { body: {} })).status, 429);
  assert.equal((await call(sb.url, "POST", "/things", { body: {} })).status, 201);
  const stats = await control.stats(sb.url);
  assert.equal(stats.created.thing, 1);
  assert.deepEqual(stats.routes["POST /things"].statuses, { 201: 1, 429: 2, 503: 1 });
  assert.deepEqual(stats.faults, { error: 1, throttle: 2 });
});

test("outage: connection reset, or the vendor's 503, until the window ends", async () => {
  await control.faults(sb.url, [{ kind: "outage", durationMs: 150, mode: "reset" }]);
  await assert.rejects(call(sb.url, "GET", "/things/seeded"));
  await new Promise((r) => setTimeout(r, 170));
  assert.equal((await call(sb.url, "GET", "/things/seeded")).status, 200);
  await control.faults(sb.url, [{ kind: "outage", durationMs: 5000, mode: "503" }]);
  const r = await call(sb.url, "GET", "/things/seeded");
  assert.equal(r.status, 503);
  assert.equal(r.json.toy, "boom");
});

test("lost response: the record is committed but the connection drops", async () => {
  await control.faults(sb.url, [{ kind: "lost-response", probability: 1, count: 1 }]);
  await assert.rejects(call(sb.url, "POST", "/things", { body: { name: "ghost" } }));
  const stored = await control.records(sb.url, "thing");
  assert.ok(stored.some((r) => r.name === "ghost"));
  assert.equal((await control.stats(sb.url)).routes["POST /things"].statuses.lost, 1);
});

test("malformed body: 200 with truncated JSON, after commit", async () => {
  await control.faults(sb.url, [{ kind: "malformed", count: 1 }]);
  const r = await call(sb.url, "POST", "/things", { body: {} });
  assert.equal(r.status, 200);
  assert.throws(() => JSON.parse(r.text));
  assert.ok(r.text.startsWith('{"id":'));
  assert.equal((await control.stats(sb.url)).created.thing, 1);
});

test("html-502: a proxy page, not the vendor's JSON", async () => {
  await control.faults(sb.url, [{ kind: "html-502", count: 1 }]);
  const r = await call(sb.url, "GET", "/things/seeded");
  assert.equal(r.status, 502);
  assert.match(r.headers.get("content-type"), /text\/html/);
  assert.match(r.text, /Bad Gateway/);
});

test("probability 0 never fires", async () => {
  await control.faults(sb.url, [{ kind: "error", probability: 0 }]);
  for (let i = 0; i < 5; i++) assert.equal((await call(sb.url, "GET", "/things/seeded")).status, 200);
});

test("concurrency gate refuses requests beyond the limit while others are in flight", async () => {
  const results = await Promise.all([1, 2, 3, 4].map(() => call(sb.url, "GET", "/slow")));
  const statuses = results.map((r) => r.status).sort();
  assert.deepEqual(statuses, [200, 200, 429, 429]);
});

test("records: seed through the control plane, inspect, and reset restores the seed", async () => {
  const seeded = await call(sb.url, "POST", "/__sandbox/records/thing", { body: [{ id: "x1" }, { id: "x2" }] });
  assert.equal(seeded.status, 201);
  assert.equal((await control.records(sb.url, "thing")).length, 3);
  assert.equal((await control.stats(sb.url)).created.thing, undefined, "seeds are not side effects");
  await control.reset(sb.url);
  assert.deepEqual(await control.records(sb.url, "thing"), [{ id: "seeded" }]);
  assert.equal((await call(sb.url, "GET", "/__sandbox/nothing")).status, 404);
});

test("SlidingWindow and TokenRegistry", () => {
  const w = new SlidingWindow(() => 1000);
  w.add(0);
  w.add(500);
  assert.equal(w.count(900), 2);
  assert.equal(w.count(1200), 1);
  assert.equal(w.msUntilBelow(1, 1200), 300);
  assert.equal(w.msUntilBelow(2, 1200), 0);
  const t = new TokenRegistry();
  const tok = t.issue("me", 60);
  assert.equal(t.check(tok.token).subject, "me");
  assert.equal(t.check("other"), undefined);
  t.expireAll();
  assert.equal(t.check(tok.token), "expired");
});

test("RecordStore: restore undoes changes made in place, inserts and deletes; the copy keeps Dates and Buffers", () => {
  const { RecordStore } = require("../../dist/sandbox/kernel.js");
  const store = new RecordStore();
  const when = new Date("2026-11-24T08:00:00Z");
  store.insert("order", "1", { id: "1", lines: [{ qty: 1 }], at: when, blob: Buffer.from("ab"), meta: { tags: ["a"] } }, { seed: true });
  store.insert("order", "2", { id: "2", lines: [] }, { seed: true });
  const snapshot = store.snapshot();
  const first = store.get("order", "1");
  first.lines.push({ qty: 2 });
  first.lines[0].qty = 9;
  first.meta.tags.push("b");
  first.blob[0] = 0x7a;
  store.delete("order", "2");
  store.insert("order", "3", { id: "3" });
  store.insert("invoice", "i1", { id: "i1" });
  assert.equal(store.created.order, 1);
  store.restore(snapshot);
  const restored = store.get("order", "1");
  assert.deepEqual(restored.lines, [{ qty: 1 }]);
  assert.deepEqual(restored.meta, { tags: ["a"] });
  assert.ok(restored.at instanceof Date && restored.at.getTime() === when.getTime());
  assert.ok(Buffer.isBuffer(restored.blob) || restored.blob instanceof Uint8Array);
  assert.equal(Buffer.from(restored.blob).toString(), "ab");
  assert.deepEqual(store.all("order").map((r) => r.id), ["1", "2"]);
  assert.deepEqual(store.all("invoice"), []);
  assert.equal(store.created.order, undefined);
});
