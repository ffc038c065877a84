"use strict";
// bench/telemetry: what the recording costs. A chain of Keelson nodes with no vendor in it — canonical map
// (Salesforce Opportunity → SalesOrder) → gate claim → gate complete on the memory store — inside a real Node-RED
// runtime, loaded fresh per round with telemetry off and with every part on (metrics, trace, JSON logs to a
// discarded stream), in alternating rounds. Without vendor round trips each message costs the nodes little, so this is
// the worst case for the ratio; the quote-to-cash flow (bench/q2c) spends most of its time waiting on vendors.
// Target: telemetry on ≥ 0.90 × off. (Node ids avoid "claim" and "complete": Node-RED takes a property value equal to a
// node id for a reference to that node.)
// Usage: npm run build && node --expose-gc bench/telemetry.js   (BENCH_ROUNDS, BENCH_MESSAGES to change the sizes)
const fs = require("node:fs");
const path = require("node:path");
const { helper, drive, unspy, fmt } = require("./lib/harness");
const nodes = ["store", "gate", "mapper"].map((n) => require(`../dist/nodes/${n}/${n}.js`));

const ROUNDS = Number(process.env.BENCH_ROUNDS || 5);
const MESSAGES = Number(process.env.BENCH_MESSAGES || 5000);
const opportunity = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "test", "fixtures", "mappings", "salesforce-opportunity-to-salesorder", "input.json"), "utf8"));

const VARIANTS = [
  ["telemetry off", undefined],
  ["metrics", { metrics: { enabled: true } }],
  ["metrics + trace", { metrics: { enabled: true }, trace: { enabled: true } }],
  ["metrics + trace + JSON logs", { metrics: { enabled: true }, trace: { enabled: true }, logs: { json: true } }],
];
const flow = () => [
  { id: "t", type: "tab", label: "bench" },
  { id: "store", type: "keelson-store", backend: "memory", dir: "", redisUrl: "", prefix: "", postgresUrl: "", schema: "", tablePrefix: "", timeout: 5000 },
  { id: "entry", type: "keelson-mapper", z: "t", mappingSource: "library", library: "salesforce-opportunity-to-salesorder", expression: "", targetSchema: "SalesOrder@1", source: "payload", sourceType: "msg", target: "payload", targetType: "msg", timeout: 1000, maxDepth: 500, wires: [["claimGate"], []] },
  { id: "claimGate", type: "keelson-gate", z: "t", store: "store", action: "claim", key: "payload.externalReference", keyType: "msg", fingerprint: "", fingerprintType: "none", leaseSeconds: 600, retentionDays: 1, waitSeconds: 0, wires: [["completeGate"], [], [], []] },
  { id: "completeGate", type: "keelson-gate", z: "t", store: "store", action: "complete", key: "idempotency.key", keyType: "msg", fingerprint: "", fingerprintType: "none", result: "payload", resultType: "msg", leaseSeconds: 600, retentionDays: 1, waitSeconds: 0, wires: [["sink"]] },
  { id: "sink", type: "helper", z: "t" },
];

let serial = 0;
const makeInputs = (n) => Array.from({ length: n }, () => {
  const payload = structuredClone(opportunity);
  payload.Id = `006B${(serial++).toString(36).padStart(11, "0")}`;
  return { payload, correlationId: `bench-${serial}` };
});

async function round(settings) {
  helper.settings(settings ? { keelson: settings } : {});
  await helper.load(nodes, flow());
  unspy(["store", "entry", "claimGate", "completeGate", "sink"]);
  try {
    await drive(helper.getNode("entry"), helper.getNode("sink"), makeInputs(500));
    const inputs = makeInputs(MESSAGES);
    if (global.gc) global.gc();
    const ms = await drive(helper.getNode("entry"), helper.getNode("sink"), inputs);
    return (inputs.length / ms) * 1000;
  } finally {
    await helper.unload();
  }
}

async function main() {
  // JSON log lines go to stdout: here to a stream that drops them, so the terminal's speed is not measured.
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = (chunk, ...rest) => (typeof chunk === "string" && chunk.startsWith('{"time"') ? true : write(chunk, ...rest));
  await helper.startServer();
  const rates = VARIANTS.map(() => []);
  for (const [, settings] of VARIANTS) await round(settings);
  for (let i = 0; i < ROUNDS; i++) {
    const order = VARIANTS.map((_, k) => k);
    if (i % 2) order.reverse();
    for (const k of order) rates[k].push(await round(VARIANTS[k][1]));
  }
  await helper.stopServer();
  const median = (list) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)];
  const off = median(rates[0]);
  console.log(`bench/telemetry — ${MESSAGES} msgs × ${ROUNDS} rounds, map → claim → complete (memory store), median msgs/s, ratio to off`);
  VARIANTS.forEach(([name], k) => console.log(`  ${name.padEnd(40)} ${fmt(median(rates[k])).padStart(9)} msgs/s   ${(median(rates[k]) / off).toFixed(3)}`));
  console.log("  target: every part on ≥ 0.90 × off");
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
