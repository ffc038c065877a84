"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const helper = require("node-red-node-test-helper");
const reconcileNode = require("../../dist/nodes/reconcile/reconcile.js");

helper.init(require.resolve("node-red"));

const RULES = [
  { field: "total", rightField: "amount_due", rule: "money", currencyField: "currency" },
  { field: "customer", rightField: "customer_name", rule: "text" },
];
const LEFT = [
  { invoice: "INV-1", customer: "Acme", total: "10.00", currency: "USD" },
  { invoice: "INV-2", customer: "Globex", total: "1200", currency: "JPY" },
  { invoice: "INV-3", customer: "Initech", total: "1.250", currency: "BHD" },
  { invoice: "INV-4", customer: "Umbrella", total: "5.00", currency: "USD" },
];
const RIGHT = [
  { number: "inv-1", customer_name: "ACME", amount_due: 10, currency: "USD" },
  { number: "inv-2", customer_name: "Globex", amount_due: "1201", currency: "JPY" },
  { number: "inv-3", customer_name: "Initech", amount_due: "1.25", currency: "BHD" },
  { number: "inv-5", customer_name: "Hooli", amount_due: "7.00", currency: "USD" },
];

function flow(overrides = {}) {
  return [
    { id: "t1", type: "tab", label: "reconcile test" },
    {
      id: "rec", z: "t1", type: "keelson-reconcile", name: "",
      left: "payload.left", leftType: "msg", right: "payload.right", rightType: "msg", sideProperty: "side",
      leftKey: "invoice", leftKeyType: "fields", rightKey: "number", rightKeyType: "fields",
      trimKeys: true, ignoreCase: true, stripLeadingZeros: false, rules: RULES, compareOtherFields: false,
      outputMode: "chunk", chunkSize: 2, memoryBudget: 1024, tempDir: "", csvPath: "",
      ...overrides,
      wires: [["o1"], ["o2"], ["o3"], ["o4"], ["o5"]],
    },
    ...["o1", "o2", "o3", "o4", "o5", "caught"].map((id) => ({ id, z: "t1", type: "helper" })),
    { id: "catcher", z: "t1", type: "catch", scope: null, uncaught: false, wires: [["caught"]] },
  ];
}

/** Collects what leaves each output until the summary arrives (or an error reaches the Catch node). */
function collect() {
  const out = { matched: [], mismatched: [], onlyLeft: [], onlyRight: [], messages: [] };
  const names = ["matched", "mismatched", "onlyLeft", "onlyRight"];
  names.forEach((name, i) =>
    helper.getNode(`o${i + 1}`).on("input", (msg) => {
      out.messages.push(msg);
      out[name].push(...(Array.isArray(msg.payload) ? msg.payload : [msg.payload]));
    }),
  );
  out.summary = new Promise((resolve) => helper.getNode("o5").on("input", resolve));
  out.error = new Promise((resolve) => helper.getNode("caught").on("input", resolve));
  return out;
}

const within = (promise, ms = 4000) => Promise.race([promise, new Promise((_, reject) => setTimeout(() => reject(new Error("timed out")), ms).unref())]);
const keys = (list) => list.map((r) => r.key).sort();

test.beforeEach(() => helper.startServer());
test.afterEach(async () => {
  await helper.unload();
  await helper.stopServer();
});

test("both sets in one message: results on four outputs, the summary on the fifth", { timeout: 10000 }, async () => {
  await helper.load(reconcileNode, flow());
  const out = collect();
  helper.getNode("rec").receive({ payload: { left: LEFT, right: RIGHT }, correlationId: "c-1", reconcileId: "nov" });
  const summary = await within(out.summary);
  assert.deepEqual(keys(out.matched), ["inv-1", "inv-3"]);
  assert.deepEqual(keys(out.mismatched), ["inv-2"]);
  assert.deepEqual(out.mismatched[0].diffs, [{ field: "total", rightField: "amount_due", left: "1200", right: "1201", rule: "money", difference: "-1" }]);
  assert.deepEqual(keys(out.onlyLeft), ["inv-4"]);
  assert.deepEqual(keys(out.onlyRight), ["inv-5"]);
  assert.ok(out.messages.every((m) => m.reconcileId === "nov" && m.correlationId === "c-1"));
  assert.equal(out.messages.find((m) => m.topic === "matched").payload.length, 2, "arrays of chunkSize");
  const s = summary.payload;
  assert.equal(summary.correlationId, "c-1", "the input message is reused for the summary");
  assert.equal(s.reconcileId, "nov");
  assert.deepEqual({ ...s.counts }, { left: 4, right: 4, matched: 2, mismatched: 1, onlyLeft: 1, onlyRight: 1, duplicateKeysLeft: 0, duplicateKeysRight: 0 });
  assert.deepEqual(s.totals.left.sums.total, { BHD: "1.250", JPY: "1200", USD: "15.00" });
  assert.deepEqual(s.totals.difference.sums.total, { BHD: "0.000", JPY: "-1", USD: "-2.00" });
  assert.deepEqual(s.mismatchesByField, { total: 1 });
  assert.equal(s.path, "memory");
});

test("typedInput sides (msg.erp, msg.billing) and one message per record", { timeout: 10000 }, async () => {
  await helper.load(reconcileNode, flow({ left: "erp", right: "billing", outputMode: "record" }));
  const out = collect();
  helper.getNode("rec").receive({ erp: LEFT, billing: RIGHT });
  await within(out.summary);
  assert.equal(out.messages.length, 5);
  assert.ok(out.messages.every((m) => !Array.isArray(m.payload) && typeof m.payload.key === "string"));
});

test("chunks with msg.parts, interleaved, give the one-shot result", { timeout: 10000 }, async () => {
  await helper.load(reconcileNode, flow());
  const out = collect();
  const rec = helper.getNode("rec");
  rec.receive({ side: "right", payload: RIGHT.slice(2), parts: { id: "r", index: 1, count: 2 } });
  rec.receive({ side: "left", payload: LEFT[0], parts: { id: "l", index: 0, count: 4 } });
  rec.receive({ side: "left", payload: [LEFT[1]], parts: { id: "l", index: 1, count: 4 } });
  rec.receive({ side: "right", payload: RIGHT.slice(0, 2), parts: { id: "r", index: 0, count: 2 } });
  rec.receive({ side: "left", payload: [LEFT[3]], parts: { id: "l", index: 3, count: 4 } });
  rec.receive({ side: "left", payload: [LEFT[2]], parts: { id: "l", index: 2, count: 4 } });
  const summary = await within(out.summary);
  assert.deepEqual(keys(out.matched), ["inv-1", "inv-3"]);
  assert.deepEqual(keys(out.mismatched), ["inv-2"]);
  assert.deepEqual(keys(out.onlyLeft), ["inv-4"]);
  assert.deepEqual(keys(out.onlyRight), ["inv-5"]);
  assert.equal(summary.payload.reconcileId, "default");
  assert.equal(summary.side, "left", "the summary leaves on the message that completed the run");
  const statuses = rec.status.args.map((a) => a[0]);
  assert.deepEqual(statuses.at(-1), { fill: "yellow", shape: "dot", text: "✓2 ≠1 L1 R1" }, "exceptions show yellow with the counts");
  assert.equal(summary.parts, undefined, "and is no part of the sequence");
});

test("chunks without parts end with {action: 'end'}, per side or both; runs keyed by msg.reconcileId run side by side", { timeout: 10000 }, async () => {
  await helper.load(reconcileNode, flow());
  const out = collect();
  const summaries = [];
  helper.getNode("o5").on("input", (m) => summaries.push(m.payload));
  const rec = helper.getNode("rec");
  rec.receive({ side: "left", reconcileId: "A", payload: LEFT });
  rec.receive({ side: "left", reconcileId: "B", payload: LEFT.slice(0, 1) });
  rec.receive({ side: "right", reconcileId: "A", payload: RIGHT });
  rec.receive({ action: "end", side: "left", reconcileId: "A" });
  rec.receive({ side: "right", reconcileId: "B", payload: RIGHT.slice(0, 1) });
  rec.receive({ action: "end", reconcileId: "B" });
  await within(out.summary);
  assert.equal(summaries.length, 1);
  assert.equal(summaries[0].reconcileId, "B");
  assert.equal(summaries[0].counts.matched, 1);
  rec.receive({ action: "end", side: "right", reconcileId: "A" });
  await within(new Promise((resolve) => helper.getNode("o5").on("input", resolve)));
  assert.equal(summaries[1].reconcileId, "A");
  assert.deepEqual([summaries[1].counts.left, summaries[1].counts.right, summaries[1].counts.matched], [4, 4, 2]);
});

test("reset drops a run: its records are gone", { timeout: 10000 }, async () => {
  await helper.load(reconcileNode, flow());
  const out = collect();
  const rec = helper.getNode("rec");
  rec.receive({ side: "left", payload: LEFT });
  rec.receive({ action: "reset" });
  rec.receive({ side: "right", payload: RIGHT.slice(0, 1) });
  rec.receive({ action: "end" });
  const s = (await within(out.summary)).payload;
  assert.deepEqual([s.counts.left, s.counts.right, s.counts.onlyRight], [0, 1, 1]);
});

test("spills to disk under a tiny budget and writes the CSV report", { timeout: 10000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "keelson-reconcile-node-"));
  try {
    const csvPath = path.join(dir, "report.csv");
    await helper.load(reconcileNode, flow({ memoryBudget: 0.000001, tempDir: dir, csvPath }));
    const out = collect();
    helper.getNode("rec").receive({ payload: { left: LEFT, right: RIGHT } });
    const s = (await within(out.summary)).payload;
    assert.equal(s.path, "spill");
    assert.equal(s.csv, csvPath);
    assert.deepEqual(keys(out.mismatched), ["inv-2"]);
    const csv = fs.readFileSync(csvPath, "utf8").trim().split("\n");
    assert.equal(csv.length, 4, "header, one difference, one only-left, one only-right");
    assert.deepEqual(fs.readdirSync(dir), ["report.csv"], "spill runs removed");
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// Node-RED's Catch node shows the error as text with its class name in front.
const ERROR_CASES = [
  [{ payload: { left: LEFT, right: { not: "an array" } } }, /^Error: msg\.payload\.right must be an array of records, got an object$/],
  [{ payload: { left: [{ id: 1 }], right: [] } }, /left record 0 has no key field "invoice"/],
  [{ side: "middle", payload: [] }, /msg\.side must be "left" or "right", got "middle"/],
  [{ action: "explode" }, /msg\.action must be "end" or "reset", got "explode"/],
  [{ side: "left", payload: 5 }, /left record 0 is a number, not an object/],
];
for (const [msg, pattern] of ERROR_CASES) {
  test(`an error reaches a Catch node: ${pattern.source}`, { timeout: 10000 }, async () => {
    await helper.load(reconcileNode, flow());
    const out = collect();
    helper.getNode("rec").receive(msg);
    const caught = await within(out.error);
    assert.match(caught.error.message, pattern);
    assert.equal(caught.error.source.type, "keelson-reconcile");
  });
}

test("a malformed chunk sequence fails the run: further chunks are ignored, its end reports the failure, then a new run starts", { timeout: 10000 }, async () => {
  await helper.load(reconcileNode, flow());
  const out = collect();
  const errors = [];
  helper.getNode("caught").on("input", (m) => errors.push(m.error.message));
  const rec = helper.getNode("rec");
  rec.receive({ side: "left", payload: LEFT.slice(0, 2), parts: { id: "l", index: 0, count: 2 } });
  rec.receive({ side: "left", payload: LEFT.slice(2), parts: { id: "l", index: 0, count: 2 } });
  await within(out.error);
  assert.match(errors[0], /left side: msg.parts.index 0 arrived twice/);
  rec.receive({ side: "right", payload: RIGHT, parts: { id: "r", index: 0, count: 1 } });
  rec.receive({ action: "end" });
  await within(new Promise((resolve) => (errors.length > 1 ? resolve() : helper.getNode("caught").on("input", resolve))));
  assert.match(errors[1], /reconciliation default failed earlier: left side: msg.parts.index 0 arrived twice/);
  assert.equal(errors.length, 2, "the ignored chunk raised nothing");
  rec.receive({ side: "left", payload: LEFT.slice(0, 1) });
  rec.receive({ side: "right", payload: RIGHT.slice(0, 1) });
  rec.receive({ action: "end" });
  const s = (await within(out.summary)).payload;
  assert.equal(s.counts.matched, 1);
});

test("a configuration error shows at deploy and goes to Catch with each message", { timeout: 10000 }, async () => {
  await helper.load(reconcileNode, flow({ leftKey: "", rightKey: "" }));
  const out = collect();
  helper.getNode("rec").receive({ payload: { left: [], right: [] } });
  const caught = await within(out.error);
  assert.match(caught.error.message, /^Error: not reconciled: no key: name the key field/);
});

test("the example flow does what its comment says", { timeout: 10000 }, async () => {
  const core = path.dirname(require.resolve("@node-red/nodes/package.json"));
  const inject = require(path.join(core, "core/common/20-inject.js"));
  const debug = require(path.join(core, "core/common/21-debug.js"));
  const comment = require(path.join(core, "core/common/90-comment.js"));
  const example = JSON.parse(fs.readFileSync(path.join(__dirname, "../../flows/reconcile-example.json"), "utf8"));
  assert.ok(example.some((n) => n.type === "comment"), "the example explains itself");
  await helper.load([reconcileNode, inject, debug, comment], example);
  const byName = (name) => helper.getNode(example.find((n) => n.name === name).id);
  const got = {};
  for (const name of ["matched", "mismatched", "only in ERP", "only in billing"]) {
    byName(name).on("input", (msg) => (got[name] = msg.payload));
  }
  const summary = new Promise((resolve) => byName("summary").on("input", resolve));
  byName("ERP and billing invoices").receive({});
  const s = (await within(summary)).payload;
  assert.deepEqual(keys(got.matched), ["inv-1001", "inv-1003"]);
  assert.deepEqual(keys(got.mismatched), ["inv-1002", "inv-1004"]);
  assert.deepEqual(got.mismatched.map((r) => r.diffs.map((d) => d.field)), [["total"], ["issued"]]);
  assert.deepEqual(keys(got["only in ERP"]), ["inv-1005"]);
  assert.equal(got["only in ERP"][0].duplicates.left.length, 1);
  assert.deepEqual(keys(got["only in billing"]), ["inv-1006"]);
  assert.deepEqual(s.duplicates.left, [{ key: "inv-1005", count: 2 }]);
  assert.deepEqual(s.totals.difference.sums.total, { BHD: "0.000", EUR: "-9.00", GBP: "620.00", JPY: "0", USD: "-75.00" });
});

test("an end message before every part arrived fails the run, naming the gap", { timeout: 10000 }, async () => {
  await helper.load(reconcileNode, flow());
  const out = collect();
  const errors = [];
  helper.getNode("caught").on("input", (m) => errors.push(m.error.message));
  const rec = helper.getNode("rec");
  rec.receive({ side: "left", payload: LEFT, parts: { id: "l", index: 0, count: 2 } });
  rec.receive({ action: "end" });
  await within(out.error);
  assert.match(errors[0], /left side: end arrived after 1 of 2 parts/);
  rec.receive({ side: "left", payload: LEFT, parts: { id: "l", index: 1, count: 2 } });
  rec.receive({ action: "end" });
  await within(new Promise((resolve) => helper.getNode("caught").on("input", resolve)));
  assert.match(errors[1], /reconciliation default failed earlier: left side: end arrived after 1 of 2 parts/);
});
