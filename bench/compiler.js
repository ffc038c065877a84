"use strict";
// The Salesforce Opportunity → SalesOrder mapping three ways, side by side in one run: compiled by Keelson's
// JSONata compiler, interpreted by jsonata 2.x, and written by hand in plain JavaScript. All three outputs are
// checked equal before timing; every evaluate() is awaited. Run: npm run build && node bench/compiler.js
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");
const jsonata = require("jsonata");
const { compileJsonata } = require("../dist/nodes/lib/mapping/compiler/index.js");
const { cleanResult } = require("../dist/nodes/lib/mapping/mapping.js");
// the hand-written version the other benchmarks use too
const { salesforceToSalesOrder: handwritten } = require("./lib/salesforce-to-salesorder");

const ID = "salesforce-opportunity-to-salesorder";
const expression = fs.readFileSync(path.join(__dirname, "..", "nodes", "lib", "mapping", "library", `${ID}.jsonata`), "utf8");
const input = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "test", "fixtures", "mappings", ID, "input.json"), "utf8"));
const LIMITS = { timeoutMs: 1000, maxDepth: 500 };

const plain = (v) => JSON.parse(JSON.stringify(cleanResult(v)));

async function main() {
  const compiled = compileJsonata(expression, LIMITS);
  assert.equal(compiled.mode, "compiled", `the mapping did not compile: ${compiled.reason}`);
  const interpreter = jsonata(expression, { timeout: LIMITS.timeoutMs, stack: LIMITS.maxDepth });

  const fromCompiled = plain(await compiled.evaluate(input));
  const fromInterpreter = plain(await interpreter.evaluate(input));
  const byHand = plain(handwritten(input));
  assert.deepEqual(fromCompiled, fromInterpreter, "compiled and interpreted outputs differ");
  assert.deepEqual(byHand, fromInterpreter, "hand-written and interpreted outputs differ");

  const runners = {
    compiled: async (n) => {
      for (let i = 0; i < n; i++) await compiled.evaluate(input);
    },
    interpreter: async (n) => {
      for (let i = 0; i < n; i++) await interpreter.evaluate(input);
    },
    handwritten: async (n) => {
      let sink = 0;
      for (let i = 0; i < n; i++) sink += handwritten(input).lines.length;
      if (sink === -1) console.log(sink);
    },
  };
  const iterations = { compiled: 20000, interpreter: 400, handwritten: 50000 };

  // warm-up, then alternate the order of the three in each round so no one always runs on a cold or hot CPU
  for (const name of Object.keys(runners)) await runners[name](Math.ceil(iterations[name] / 4));
  // Timed in CPU time of this process as well as wall time: on a shared machine the wall clock also counts
  // time other processes ran, while the CPU time is what the mapping itself cost.
  const rounds = 5;
  const wall = { compiled: 0, interpreter: 0, handwritten: 0 };
  const cpu = { compiled: 0, interpreter: 0, handwritten: 0 };
  const order = Object.keys(runners);
  for (let r = 0; r < rounds; r++) {
    const names = r % 2 === 0 ? order : [...order].reverse();
    for (const name of names) {
      const start = process.hrtime.bigint();
      const startCpu = process.cpuUsage();
      await runners[name](iterations[name]);
      const used = process.cpuUsage(startCpu);
      wall[name] += Number(process.hrtime.bigint() - start) / 1e9;
      cpu[name] += (used.user + used.system) / 1e6;
    }
  }
  const ops = {};
  const cpuOps = {};
  for (const name of order) {
    ops[name] = (iterations[name] * rounds) / wall[name];
    cpuOps[name] = (iterations[name] * rounds) / cpu[name];
  }
  for (const name of order) {
    const perWall = Math.round(ops[name]).toLocaleString("en-US").padStart(10);
    const perCpu = Math.round(cpuOps[name]).toLocaleString("en-US").padStart(10);
    console.log(`${name.padEnd(12)} ${perWall} ops/s  ${perCpu} ops per CPU second`);
  }
  console.log(`compiled / interpreter: ${(ops.compiled / ops.interpreter).toFixed(1)}x faster (CPU time: ${(cpuOps.compiled / cpuOps.interpreter).toFixed(1)}x)`);
  console.log(
    `handwritten / compiled: ${(ops.handwritten / ops.compiled).toFixed(2)}x (CPU time: ${(cpuOps.handwritten / cpuOps.compiled).toFixed(2)}x; target: within 3x)`,
  );
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
