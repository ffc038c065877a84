"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { Reconciler, ReconcileInputError, KeyIndex } = require("../../dist/nodes/lib/reconcile/reconciler.js");
const { ReconcileConfigError } = require("../../dist/nodes/lib/reconcile/rules.js");
const { SideSequence, SequenceError } = require("../../dist/nodes/lib/reconcile/sequence.js");
const { csvCell } = require("../../dist/nodes/lib/reconcile/csv.js");

async function reconcile(spec, left, right, options) {
  const r = new Reconciler(spec);
  await r.add("left", left);
  await r.add("right", right);
  const results = [];
  const summary = await r.reconcile((o, res) => results.push([o, res]), options);
  return { results, summary };
}

test("configuration errors name what is wrong", () => {
  assert.throws(() => new Reconciler({}), (e) => e instanceof ReconcileConfigError && /no key/.test(e.message));
  assert.throws(() => new Reconciler({ key: { left: { fields: [] } } }), /no key: name the left key field/);
  assert.throws(() => new Reconciler({ key: { left: { fields: ["id"] }, right: { fields: ["a..b"] } } }), /right key: field path "a..b"/);
  assert.throws(() => new Reconciler({ key: { left: { expression: "$$.(" } } }), /left key: the JSONata expression does not compile/);
  assert.throws(() => new Reconciler({ key: { left: { fields: ["id"] } }, fields: [{ field: "x", rule: "nope" }] }), /field "x": unknown rule/);
});

test("bad input is refused with the side, the record and the field named", async () => {
  const spec = { key: { left: { fields: ["id"] }, right: { fields: ["ref"] } } };
  await assert.rejects(new Reconciler(spec).add("left", { id: 1 }, "msg.payload.left"), (e) => e instanceof ReconcileInputError && e.message === "msg.payload.left must be an array of records, got an object");
  await assert.rejects(new Reconciler(spec).add("right", "x", "msg.billing"), /msg.billing must be an array of records, got a string/);
  await assert.rejects(new Reconciler(spec).add("left", [{ id: 1 }, 7]), /left record 1 is a number, not an object/);
  await assert.rejects(new Reconciler(spec).add("left", [{ id: 1 }, null]), /left record 1 is null, not an object/);
  const r = new Reconciler(spec);
  await r.add("right", [{ ref: "a" }, { ref: "b" }]);
  await assert.rejects(r.add("right", [{ ref: "c" }, { id: "d" }]), /right record 3 has no key field "ref"/);
  assert.equal(r.counts.right, 2, "a chunk with a bad record is refused whole");
  await r.add("right", [{ ref: "c" }]);
  const summary = await r.reconcile(() => {});
  assert.deepEqual([summary.counts.right, summary.counts.onlyRight, summary.totals.right.count], [3, 3, 3]);
  await assert.rejects(new Reconciler(spec).add("left", [{ id: "  " }]), /left record 0 has an empty key field "id"/);
  await assert.rejects(new Reconciler(spec).add("left", [{ id: { x: 1 } }]), /left record 0 has an object as its key field "id"/);
  const composite = new Reconciler({ key: { left: { fields: ["country", "vat"] } } });
  await assert.rejects(composite.add("left", [{ country: "DE" }]), /left record 0 has no key field "vat"/);
});

test("composite keys, JSONata keys, mixed key types and normalisation", async () => {
  const { results } = await reconcile(
    { key: { left: { fields: ["country", "vat"] }, right: { expression: "[cc, $string(tax.id)]" } }, normalise: { ignoreCase: true, stripLeadingZeros: true } },
    [{ country: "de", vat: "000123" }, { country: "FR", vat: 5 }],
    [{ cc: "DE", tax: { id: 123 } }, { cc: "FR", tax: { id: "6" } }],
  );
  assert.deepEqual(results.map(([o, r]) => [o, r.key]), [["matched", '["de","123"]'], ["onlyLeft", '["fr","5"]'], ["onlyRight", '["fr","6"]']]);
  await assert.rejects(
    reconcile({ key: { left: { expression: "missing" } } }, [{ id: 1 }], []),
    /left record 0 has no key: the key expression gave nothing/,
  );
});

test("duplicate keys are reported with every record, never collapsed", async () => {
  const { results, summary } = await reconcile(
    { key: { left: { fields: ["id"] } }, fields: [{ field: "v", rule: "exact" }] },
    [{ id: "a", v: 1 }, { id: "b", v: 1 }, { id: "a", v: 2 }, { id: "a", v: 3 }],
    [{ id: "a", v: 1 }, { id: "c", v: 1 }, { id: "c", v: 2 }],
  );
  const a = results.find(([, r]) => r.key === "a");
  assert.equal(a[0], "matched", "the first record of a key is compared");
  assert.deepEqual(a[1].duplicates, { left: [{ id: "a", v: 2 }, { id: "a", v: 3 }] });
  const c = results.find(([, r]) => r.key === "c");
  assert.equal(c[0], "onlyRight");
  assert.deepEqual(c[1].duplicates, { right: [{ id: "c", v: 2 }] });
  assert.deepEqual(summary.duplicates, { left: [{ key: "a", count: 3 }], right: [{ key: "c", count: 2 }], truncated: false });
  assert.equal(summary.counts.duplicateKeysLeft, 1);
  assert.equal(summary.counts.left, 4);
});

test("compare all other fields exactly, except keys, ruled and ignored fields", async () => {
  const { results, summary } = await reconcile(
    { key: { left: { fields: ["id"] } }, fields: [{ field: "name", rule: "text" }, { field: "updated", rule: "ignore" }], compareOtherFields: true },
    [{ id: 1, name: "A", updated: 1, status: "open", extra: { a: 1 } }],
    [{ id: "1", name: "a", updated: 2, status: "closed", extra: { a: 1 }, only: true }],
  );
  assert.equal(results[0][0], "mismatched");
  assert.deepEqual(results[0][1].diffs.map((d) => d.field), ["status", "only"]);
  assert.deepEqual(summary.mismatchesByField, { status: 1, only: 1 });
});

test("the CSV report lists every exception, quoted and safe to open in a spreadsheet", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "keelson-reconcile-csv-"));
  try {
    const csvPath = path.join(dir, "report.csv");
    const { summary } = await reconcile(
      { key: { left: { fields: ["id"] } }, fields: [{ field: "amount", rule: "money", currency: "USD" }, { field: "name", rule: "exact" }] },
      [{ id: "1", amount: "10.00", name: 'Acme, "the" Corp' }, { id: "2", amount: "1" }, { id: "2", amount: "2" }, { id: "=cmd", amount: "1" }],
      [{ id: "1", amount: "10.01", name: "=HYPERLINK()" }, { id: "3", amount: "3" }],
      { csvPath },
    );
    assert.equal(summary.csv, csvPath);
    const lines = fs.readFileSync(csvPath, "utf8").trim().split("\n");
    assert.deepEqual(lines, [
      "outcome,key,field,right_field,left,right,rule,difference,reason",
      "mismatched,1,amount,,10.00,10.01,money,-0.01,",
      `mismatched,1,name,,"Acme, ""the"" Corp",'=HYPERLINK(),exact,,`,
      `only-left,2,,,"{""id"":""2"",""amount"":""1""}",,,,`,
      `duplicate-left,2,,,"{""id"":""2"",""amount"":""2""}",,,,`,
      `only-left,'=cmd,,,"{""id"":""=cmd"",""amount"":""1""}",,,,`,
      `only-right,3,,,,"{""id"":""3"",""amount"":""3""}",,,`,
    ]);
    assert.equal(csvCell("-0.01"), "-0.01", "negative numbers stay numbers");
    assert.equal(csvCell("-cmd"), "'-cmd");
    await assert.rejects(reconcile({ key: { left: { fields: ["id"] } } }, [{ id: 1 }], [], { csvPath: path.join(dir, "no", "such", "dir.csv") }), /ENOENT/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("more than 1000 duplicate keys: the summary lists the first 1000 in key order and says so", async () => {
  const left = [];
  for (let i = 0; i < 1001; i++) left.push({ id: `k${String(i).padStart(4, "0")}` }, { id: `k${String(i).padStart(4, "0")}` });
  const { summary } = await reconcile({ key: { left: { fields: ["id"] } } }, left, []);
  assert.equal(summary.counts.duplicateKeysLeft, 1001);
  assert.equal(summary.duplicates.left.length, 1000);
  assert.equal(summary.duplicates.left[0].key, "k0000");
  assert.equal(summary.duplicates.truncated, true);
});

test("a reconciliation runs once", async () => {
  const r = new Reconciler({ key: { left: { fields: ["id"] } } });
  await r.reconcile(() => {});
  await assert.rejects(r.reconcile(() => {}), /already run/);
});

test("a sink that waits holds the join (back-pressure), and its failure fails the run", async () => {
  const r = new Reconciler({ key: { left: { fields: ["id"] } } });
  await r.add("left", Array.from({ length: 50 }, (_, i) => ({ id: i })));
  let inFlight = 0;
  let seen = 0;
  await r.reconcile(async () => {
    assert.equal(inFlight, 0);
    inFlight++;
    await new Promise((resolve) => setImmediate(resolve));
    inFlight--;
    seen++;
  });
  assert.equal(seen, 50);
  const f = new Reconciler({ key: { left: { fields: ["id"] } } });
  await f.add("left", [{ id: 1 }]);
  await assert.rejects(f.reconcile(() => Promise.reject(new Error("downstream broke"))), /downstream broke/);
});

test("chunk sequences: complete when every part arrived once; malformed sequences are named", () => {
  const s = new SideSequence("left");
  assert.equal(s.accept({ id: "a", index: 1 }), false, "out of order, count not known yet");
  assert.equal(s.accept({ id: "a", index: 0 }), false);
  assert.equal(s.accept({ id: "a", index: 2, count: 3 }), true, "a streaming split sends the count with the last part");
  assert.throws(() => s.accept({ id: "a", index: 3, count: 3 }), /left side has already ended/);

  const bad = (steps, pattern) => {
    const q = new SideSequence("right");
    assert.throws(() => steps.forEach((p) => (p === "end" ? q.end() : q.accept(p))), (e) => e instanceof SequenceError && pattern.test(e.message));
  };
  bad([{ id: "a", index: 0, count: 3 }, { id: "a", index: 0, count: 3 }], /right side: msg.parts.index 0 arrived twice/);
  bad([{ id: "a", index: 3, count: 3 }], /msg.parts.index 3 is past msg.parts.count 3/);
  bad([{ id: "a", index: 5 }, { id: "a", index: 0, count: 2 }], /msg.parts.index 5 is past msg.parts.count 2/);
  bad([{ id: "a", index: 0, count: 3 }, { id: "a", index: 1, count: 4 }], /msg.parts.count changed from 3 to 4/);
  bad([{ id: "a", index: 0, count: 3 }, { id: "b", index: 1, count: 3 }], /msg.parts.id changed from a to b/);
  bad([{ id: "a", index: -1 }], /msg.parts.index must be a whole number ≥ 0, got -1/);
  bad([{ id: "a", index: "1" }], /msg.parts.index must be a whole number/);
  bad([{ index: 0 }], /msg.parts.id is missing/);
  bad([{ id: "a", index: 0, count: 0 }], /msg.parts.count must be a whole number ≥ 1/);
  bad([{ id: "a", index: 0, count: 3 }, "end"], /end arrived after 1 of 3 parts/);
  bad([{ id: "a", index: 0 }, { id: "a", index: 2 }, "end"], /end arrived while parts before index 2 are missing/);
  bad([undefined, { id: "a", index: 0 }], /a chunk with msg.parts arrived after chunks without/);
  bad([{ id: "a", index: 0 }, undefined], /a chunk without msg.parts arrived inside the sequence a/);

  const plain = new SideSequence("left");
  assert.equal(plain.accept(undefined), false);
  plain.end();
  assert.equal(plain.complete, true);
  const open = new SideSequence("left");
  open.accept({ id: "x", index: 0 });
  open.end();
  assert.equal(open.complete, true, "a sequence whose count never came ends with an end message");
});

test("the key index grows past one map's limit and still finds every key once", () => {
  const index = new KeyIndex(4);
  for (let i = 0; i < 10; i++) assert.equal(index.put(`k${i}`, i), true);
  assert.equal(index.put("k1", 100), false, "a key in the first map");
  assert.equal(index.put("k9", 900), false, "a key in the last map");
  assert.equal(index.get("k1"), 100);
  assert.equal(index.get("k9"), 900);
  assert.equal(index.get("k5"), 5);
  assert.equal(index.get("k10"), undefined);
  assert.equal(index.put("k10", 10), true);
  assert.equal(index.get("k10"), 10);
});
