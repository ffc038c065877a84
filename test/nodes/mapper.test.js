"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");
const { helper, nextMessage, noMessage, statuses, waitFor } = require("../support/helper");
const mapperNode = require("../../dist/nodes/mapper/mapper.js");

const opportunity = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "fixtures", "mappings", "salesforce-opportunity-to-salesorder", "input.json"), "utf8"));
const expectedOrder = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "fixtures", "mappings", "salesforce-opportunity-to-salesorder", "expected.json"), "utf8"));

function flow(mapper) {
  return [
    { id: "tab", type: "tab", label: "test" },
    { id: "m", type: "keelson-mapper", z: "tab", name: "", source: "payload", sourceType: "msg", target: "payload", targetType: "msg", timeout: 1000, maxDepth: 500, ...mapper, wires: [["valid"], ["invalid"]] },
    { id: "valid", type: "helper", z: "tab" },
    { id: "invalid", type: "helper", z: "tab" },
    { id: "catcher", type: "catch", z: "tab", scope: null, uncaught: false, wires: [["caught"]] },
    { id: "caught", type: "helper", z: "tab" },
  ];
}
const library = (id, targetSchema) => ({ mappingSource: "library", library: id, expression: "", targetSchema });
const custom = (expression, targetSchema = "") => ({ mappingSource: "custom", library: "", expression, targetSchema });

test.before(() => helper.startServer());
test.after(() => helper.stopServer());
test.afterEach(() => helper.unload());

test("a library mapping turns an opportunity into a valid SalesOrder on output 1", async () => {
  await helper.load(mapperNode, flow(library("salesforce-opportunity-to-salesorder", "SalesOrder@1")));
  const valid = helper.getNode("valid");
  const got = nextMessage(valid);
  helper.getNode("m").receive({ payload: opportunity, _msgid: "abc" });
  const msg = await got;
  assert.deepEqual(JSON.parse(JSON.stringify(msg.payload)), expectedOrder);
  assert.equal(msg.errors, undefined);
});

test("an invalid result leaves by output 2 with every violation as {path, message}", async () => {
  await helper.load(mapperNode, flow(library("salesforce-opportunity-to-salesorder", "SalesOrder@1")));
  const bad = JSON.parse(JSON.stringify(opportunity));
  bad.CloseDate = "2026-11-31";
  bad.OpportunityLineItems.records[0].Quantity = 0;
  bad.OpportunityLineItems.records[1].UnitPrice = 1.005;
  const got = nextMessage(helper.getNode("invalid"));
  const none = noMessage(helper.getNode("valid"), 300);
  helper.getNode("m").receive({ payload: bad });
  const msg = await got;
  await none;
  assert.deepEqual(msg.errors, [
    { path: "orderDate", message: 'must match format "date"' },
    { path: "lines[0].quantity", message: "must be > 0" },
    { path: "lines[1].unitPrice", message: "has more decimal places than its currency allows" },
  ]);
  assert.equal(msg.payload.externalReference, "SF-006Dn00000A1b2cIAB", "the mapped object is kept for inspection");
});

test("a bad expression: red status naming the position, a log line, nothing passed on, Catch sees each message", async () => {
  await helper.load(mapperNode, flow(custom('{"a": payload.x,, }')));
  const m = helper.getNode("m");
  const errorLog = helper.log().args.filter((a) => a[0] && a[0].level === helper.log().ERROR && a[0].type === "keelson-mapper");
  assert.equal(errorLog.length, 1);
  assert.match(errorLog[0][0].msg, /at position 17/);
  const caught = nextMessage(helper.getNode("caught"));
  const none = noMessage(helper.getNode("valid"), 300);
  m.receive({ payload: { x: 1 } });
  const msg = await caught;
  await none;
  assert.match(msg.error.message, /not mapped: mapping expression error S0211 at position 17/);
  assert.equal(msg.error.source.type, "keelson-mapper");
});

test("bad expression status is red and names the position", async () => {
  await helper.load(mapperNode, flow(custom("payload.(")));
  // The status is set in the constructor; the helper's spy on Node.prototype.status has recorded it.
  const seen = helper.getNode("m").status.args.map((a) => a[0]);
  assert.ok(seen.some((s) => s.fill === "red" && /expression error \(position \d+\)/.test(s.text)), JSON.stringify(seen));
});

test("a runtime error reaches a Catch node and nothing is sent", async () => {
  await helper.load(mapperNode, flow(custom('{"total": a + b}')));
  const caught = nextMessage(helper.getNode("caught"));
  const none = noMessage(helper.getNode("valid"), 300);
  helper.getNode("m").receive({ payload: { a: 1, b: "x" } });
  const msg = await caught;
  await none;
  assert.match(msg.error.message, /mapping error T2002/);
  assert.deepEqual(msg.payload, { a: 1, b: "x" }, "the original payload reaches the Catch node unchanged");
});

test("a runaway mapping is stopped by the time limit and reported to Catch", async () => {
  await helper.load(mapperNode, flow({ ...custom("($f := function($n) { $n > 0 ? $f($n - 1) + $f($n - 1) : 1 }; $f(40))"), timeout: 100 }));
  const caught = nextMessage(helper.getNode("caught"), 3000);
  helper.getNode("m").receive({ payload: {} });
  const msg = await caught;
  assert.match(msg.error.message, /time limit of 100 ms/);
});

test("prototype keys from the input or the expression never reach the output", async () => {
  await helper.load(mapperNode, flow(custom('{"__proto__": {"admin": true}, "copy": $, "constructor": 1}')));
  const got = nextMessage(helper.getNode("valid"));
  helper.getNode("m").receive({ payload: JSON.parse('{"name": "x", "__proto__": {"admin": true}, "prototype": {"y": 1}}') });
  const msg = await got;
  assert.deepEqual(Object.keys(msg.payload), ["copy"]);
  assert.deepEqual(Object.keys(msg.payload.copy), ["name"]);
  assert.equal(msg.payload.admin, undefined);
  assert.equal({}.admin, undefined);
});

test("status counts valid and invalid messages", async () => {
  await helper.load(mapperNode, flow(custom('{"refs": [{"system": "hubspot", "id": id}], "name": name}', "Customer@1")));
  const m = helper.getNode("m");
  const seen = statuses(m);
  const valid = helper.getNode("valid");
  const invalid = helper.getNode("invalid");
  for (let i = 0; i < 3; i++) {
    const got = nextMessage(valid);
    m.receive({ payload: { id: String(i), name: `n${i}` } });
    await got;
  }
  const got = nextMessage(invalid);
  m.receive({ payload: { id: "9" } });
  await got;
  await waitFor(() => seen.find((s) => s.text === "3 valid, 1 invalid"), 2000, "status 3 valid, 1 invalid");
  assert.equal(seen.at(-1).fill, "yellow");
});

test("source and target may be flow and global context", async () => {
  await helper.load(mapperNode, flow({ ...custom('{"refs": [{"system": "hubspot", "id": id}], "name": name}', "Customer@1"), source: "incoming", sourceType: "flow", target: "mapped", targetType: "global" }));
  const m = helper.getNode("m");
  m.context().flow.set("incoming", { id: "42", name: "Acme" });
  const got = nextMessage(helper.getNode("valid"));
  m.receive({ payload: "untouched" });
  const msg = await got;
  assert.equal(msg.payload, "untouched");
  assert.deepEqual(m.context().global.get("mapped"), { refs: [{ system: "hubspot", id: "42" }], name: "Acme" });
});

test("the admin API lists the mapping library and the canonical types", async () => {
  await helper.load(mapperNode, flow(custom("payload")));
  const res = await helper.request().get("/keelson-mapper/library").expect(200);
  assert.ok(res.body.schemas.includes("SalesOrder@1"));
  const entry = res.body.mappings.find((x) => x.id === "stripe-invoice-to-invoice");
  assert.equal(entry.targetSchema, "Invoice@1");
  assert.match(entry.expression, /amount_remaining/);
  await helper.request().get("/keelson-mapper/library/hubspot-deal-to-quote").expect(200);
  await helper.request().get("/keelson-mapper/library/nope").expect(404);
});

test("the dialog learns whether an expression runs compiled or interpreted, and why", async () => {
  await helper.load(mapperNode, flow(custom("payload")));
  let res = await helper.request().post("/keelson-mapper/compile").send({ expression: '{"a": $sum(lines.amount)}' }).expect(200);
  assert.deepEqual(res.body, { mode: "compiled" });
  res = await helper.request().post("/keelson-mapper/compile").send({ expression: "Account.Contact.%.Name" }).expect(200);
  assert.equal(res.body.mode, "interpreted");
  assert.match(res.body.reason, /parent/i);
  res = await helper.request().post("/keelson-mapper/compile").send({ expression: "a +" }).expect(200);
  assert.match(res.body.error, /mapping expression error/);
  await helper.request().post("/keelson-mapper/compile").send({}).expect(400);
  const library = (await helper.request().get("/keelson-mapper/library").expect(200)).body.mappings;
  assert.ok(library.every((m) => m.mode === "compiled"), "every shipped mapping compiles");
});

test("the node's status says how its mapping runs", async () => {
  await helper.load(mapperNode, flow(library("salesforce-opportunity-to-salesorder", "SalesOrder@1")));
  const seen = helper.getNode("m").status.args.map((a) => a[0]);
  assert.ok(seen.some((s) => s.text === "→ SalesOrder@1 (compiled)"), JSON.stringify(seen));
});
