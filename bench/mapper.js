"use strict";
// bench/mapper: the Salesforce Opportunity (5 lines) → SalesOrder mapping inside a real Node-RED runtime,
// three ways in one run: the Keelson canonical map node (schema validation included), a core change node with
// the same JSONata (no validation), and the mapping hand-written in a function node (the limit).
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");
const { helper, core, compare, unspy, fmt } = require("./lib/harness");
const { salesforceToSalesOrder } = require("./lib/salesforce-to-salesorder");
const mapperNode = require("../dist/nodes/mapper/mapper.js");
const { mappingExpression } = require("../dist/nodes/lib/mapping/library.js");

const ROUNDS = Number(process.env.BENCH_ROUNDS || 5);
const MESSAGES = Number(process.env.BENCH_MESSAGES || 5000);
const opportunity = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "test", "fixtures", "mappings", "salesforce-opportunity-to-salesorder", "input.json"), "utf8"));
const expected = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "test", "fixtures", "mappings", "salesforce-opportunity-to-salesorder", "expected.json"), "utf8"));
const expression = mappingExpression("salesforce-opportunity-to-salesorder");

const flow = [
  { id: "t", type: "tab", label: "bench" },
  { id: "ours", type: "keelson-mapper", z: "t", mappingSource: "library", library: "salesforce-opportunity-to-salesorder", expression: "", targetSchema: "SalesOrder@1", source: "payload", sourceType: "msg", target: "payload", targetType: "msg", timeout: 1000, maxDepth: 500, wires: [["oursOut"], []] },
  { id: "oursOut", type: "helper", z: "t" },
  // The change node evaluates against msg, so the same mapping is applied to msg.payload.
  { id: "viaChange", type: "change", z: "t", rules: [{ t: "set", p: "payload", pt: "msg", to: `payload.(${expression})`, tot: "jsonata" }], wires: [["changeOut"]] },
  { id: "changeOut", type: "helper", z: "t" },
  { id: "fn", type: "function", z: "t", func: `${salesforceToSalesOrder.toString()}\nfunction text(v) { return v !== null && v !== undefined && v !== "" ? v : undefined; }\nmsg.payload = salesforceToSalesOrder(msg.payload);\nreturn msg;`, outputs: 1, timeout: 0, noerr: 0, initialize: "", finalize: "", libs: [], wires: [["fnOut"]] },
  { id: "fnOut", type: "helper", z: "t" },
  { id: "catchAll", type: "catch", z: "t", scope: null, uncaught: false, wires: [["errs"]] },
  { id: "errs", type: "helper", z: "t" },
];

async function main() {
  await helper.startServer();
  await helper.load([mapperNode, core.change, core.function], flow);
  // The test helper records every send for assertions; a benchmark measures the nodes, not that recording.
  unspy(flow.filter((n) => n.z).map((n) => n.id));
  const errors = helper.getNode("errs");
  const variants = [
    { name: "keelson canonical map (with validation)", entry: helper.getNode("ours"), sink: helper.getNode("oursOut"), errors },
    { name: "core change node, same JSONata (no validation)", entry: helper.getNode("viaChange"), sink: helper.getNode("changeOut"), errors },
    { name: "function node, hand-written JS", entry: helper.getNode("fn"), sink: helper.getNode("fnOut"), errors },
  ];
  // Same output from all three before anything is timed.
  for (const v of variants) {
    const got = new Promise((resolve) => v.sink.once("input", resolve));
    v.entry.receive({ payload: structuredClone(opportunity) });
    assert.deepEqual(JSON.parse(JSON.stringify((await got).payload)), expected, v.name);
  }
  const makeInputs = () => Array.from({ length: MESSAGES }, () => ({ payload: structuredClone(opportunity) }));
  const r = await compare(variants, { rounds: ROUNDS, makeInputs });
  const [ours, change, fn] = variants.map((v) => r[v.name].median);
  console.log(`bench/mapper — ${MESSAGES} msgs × ${ROUNDS} rounds, median msgs/s in a Node-RED ${require("node-red/package.json").version} runtime`);
  for (const v of variants) console.log(`  ${v.name.padEnd(50)} ${fmt(r[v.name].median).padStart(9)} msgs/s`);
  console.log(`  ratio keelson / change node: ${(ours / change).toFixed(2)}   (targets: ≥ 1.0 foundation, ≥ 30 compiled)`);
  console.log(`  ratio keelson / hand-written function node: ${(ours / fn).toFixed(2)}`);
  await helper.unload();
  await helper.stopServer();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
