#!/usr/bin/env node
"use strict";
// Reconcile at scale: N × N invoices (default 10 million a side) through the keelson-reconcile node in a Node-RED
// runtime, fed in chunks of 10,000 with back-pressure (the next chunk goes when the node has called done() for the
// last one), under a memory budget that sends the records to sorted runs on disk. Prints the time, the peak RSS
// against the 2 GB target, and whether the counts are the expected ones. Not for CI: it takes minutes.
// Run it as `npm run bench:reconcile:large`: the script caps V8's heap (--max-old-space-size=1536), as a Node-RED
// on a memory budget is run; without a cap V8 lets garbage grow towards its default limit before collecting.
// Usage: node --max-old-space-size=1536 bench/reconcile-large.js [--n 10000000] [--budget 512] [--chunk 10000]
const os = require("node:os");
const data = require("./lib/reconcile-data.js");

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
}
const N = Number(arg("n", 10_000_000));
const BUDGET_MB = Number(arg("budget", 512));
const CHUNK = Number(arg("chunk", 10_000));
const RSS_TARGET_MB = 2048;

async function main() {
  const helper = require("node-red-node-test-helper");
  const reconcileNode = require("../dist/nodes/reconcile/reconcile.js");
  helper.init(require.resolve("node-red"));
  await helper.startServer();
  await helper.load(reconcileNode, [
    { id: "t1", type: "tab", label: "bench" },
    {
      id: "rec", z: "t1", type: "keelson-reconcile", name: "bench",
      leftKey: "invoice", leftKeyType: "fields", rightKey: "number", rightKeyType: "fields",
      trimKeys: true, ignoreCase: true, stripLeadingZeros: false,
      rules: data.RULES, compareOtherFields: false, outputMode: "chunk", chunkSize: 1000,
      memoryBudget: BUDGET_MB, tempDir: os.tmpdir(),
      wires: [["o1"], ["o2"], ["o3"], ["o4"], ["o5"]],
    },
    ...["o1", "o2", "o3", "o4", "o5", "caught"].map((id) => ({ id, z: "t1", type: "helper" })),
    { id: "catcher", z: "t1", type: "catch", scope: ["rec"], uncaught: false, wires: [["caught"]] },
  ]);
  // The helper's sinon spies record the arguments of every send(): they would hold every result in memory. Each
  // node copied the spied send() when its wires were set, so the wires are set again after the spies are gone.
  helper._sandbox.restore();
  helper.getNode("rec").updateWires(helper.getNode("rec").wires);
  const counts = { matched: 0, mismatched: 0, onlyLeft: 0, onlyRight: 0 };
  ["matched", "mismatched", "onlyLeft", "onlyRight"].forEach((outcome, i) =>
    helper.getNode(`o${i + 1}`).on("input", (msg) => (counts[outcome] += msg.payload.length)),
  );
  let peakRss = 0;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 100);
  const rec = helper.getNode("rec");
  let failure;
  helper.getNode("caught").on("input", (m) => (failure = new Error(m.error.message)));
  let nextHandled;
  // A Complete node would get a deep copy of each 10,000-record chunk; the runtime's onComplete hook gets none.
  const { hooks } = require("@node-red/util");
  hooks.add("onComplete.reconcileBench", (event) => {
    if (event.node.id === "rec") nextHandled?.();
  });
  const finished = new Promise((resolve) => helper.getNode("o5").on("input", resolve));

  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const left = data.chunks("left", N, CHUNK);
  const right = data.chunks("right", N, CHUNK);
  const count = Math.ceil(N / CHUNK);
  let lastStatus = Date.now();
  for (let i = 0; i < count; i++) {
    for (const [side, source] of [["left", left], ["right", right]]) {
      const handled = new Promise((resolve) => (nextHandled = resolve));
      rec.receive({ side, payload: source.next().value, parts: { id: side, index: i, count } });
      await handled;
      if (failure) throw failure;
    }
    if (Date.now() - lastStatus > 10_000) {
      lastStatus = Date.now();
      console.error(`  read ${((i + 1) * CHUNK).toLocaleString("en")} a side, ${(Number(process.hrtime.bigint() - t0) / 1e9).toFixed(0)} s, RSS ${Math.round(process.memoryUsage.rss() / 2 ** 20)} MB`);
    }
  }
  const summary = (await finished).payload;
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  clearInterval(sampler);
  peakRss = Math.max(peakRss, process.resourceUsage().maxRSS * 1024);
  const expected = data.expected(N);
  const peakMB = Math.round(peakRss / 2 ** 20);
  console.log(`reconcile large: ${N.toLocaleString("en")} × ${N.toLocaleString("en")} records, memory budget ${BUDGET_MB} MB, chunks of ${CHUNK}`);
  console.log(`  ${seconds.toFixed(1)} s (CPU ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s, data generation included), path ${summary.path}, ${summary.spilledRuns} sorted runs on disk`);
  console.log(`  peak RSS ${peakMB} MB: ${peakMB <= RSS_TARGET_MB ? "✓" : "✗"} within ${RSS_TARGET_MB} MB`);
  console.log(`  counts ${JSON.stringify(counts) === JSON.stringify(expected) ? "as expected" : `WRONG ${JSON.stringify(counts)} expected ${JSON.stringify(expected)}`} ${JSON.stringify(counts)}`);
  console.log(`  control totals, left − right: ${JSON.stringify(summary.totals.difference.sums.total)}`);
  await helper.unload();
  await helper.stopServer();
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
