"use strict";
// Shared by the benchmarks: a real Node-RED runtime (the one node-red-node-test-helper starts), core node
// modules, and timing of message chains measured side by side in alternating rounds.
const path = require("node:path");
const helper = require("node-red-node-test-helper");

helper.init(require.resolve("node-red"));
const coreDir = path.dirname(require.resolve("@node-red/nodes/package.json"));
const core = {
  change: require(path.join(coreDir, "core/function/15-change.js")),
  function: require(path.join(coreDir, "core/function/10-function.js")),
  httpRequest: require(path.join(coreDir, "core/network/21-httprequest.js")),
};

/**
 * Sends `inputs` into `entry` and resolves with the elapsed ms once `count` messages reached `sink`.
 * Messages are pushed in windows of `window` so the runtime's queue stays bounded, as a real source would.
 */
function drive(entry, sink, inputs, { window = 256, errors } = {}) {
  return new Promise((resolve, reject) => {
    let received = 0;
    let sent = 0;
    const started = process.hrtime.bigint();
    const timer = setTimeout(() => reject(new Error(`only ${received} of ${inputs.length} messages arrived`)), 600000);
    // A message that fails never reaches the sink: stop at the first error and say what it was.
    const onError = (msg) => {
      clearTimeout(timer);
      reject(new Error(`a message failed in ${entry.type}: ${msg.error && msg.error.message}`));
    };
    if (errors) errors.once("input", onError);
    const pump = () => {
      while (sent < inputs.length && sent - received < window) entry.receive(inputs[sent++]);
    };
    const onInput = () => {
      received++;
      if (received === inputs.length) {
        clearTimeout(timer);
        sink.removeListener("input", onInput);
        if (errors) errors.removeListener("input", onError);
        resolve(Number(process.hrtime.bigint() - started) / 1e6);
      } else if (sent - received < window / 2) setImmediate(pump);
    };
    sink.on("input", onInput);
    pump();
  });
}

/** Runs each variant `rounds` times in alternating order after a warm-up; returns the best msgs/s of each. */
async function compare(variants, { rounds = 5, warmup = 1, makeInputs }) {
  const rates = Object.fromEntries(variants.map((v) => [v.name, []]));
  for (let round = 0; round < warmup + rounds; round++) {
    const order = round % 2 === 0 ? variants : [...variants].reverse();
    for (const v of order) {
      const inputs = makeInputs();
      if (global.gc) global.gc();
      const ms = await drive(v.entry, v.sink, inputs, { errors: v.errors });
      if (round >= warmup) rates[v.name].push((inputs.length / ms) * 1000);
    }
  }
  const summary = {};
  for (const [name, list] of Object.entries(rates)) {
    list.sort((a, b) => a - b);
    summary[name] = { median: list[Math.floor(list.length / 2)], best: list[list.length - 1] };
  }
  return summary;
}

/**
 * The test helper spies on every node's send, status, log… and keeps each call, message included, for assertions:
 * in a benchmark that costs more than most nodes do (sinon and the garbage collector took two thirds of the time of a
 * gate round). Call after helper.load with the ids of the flow's nodes: removes the spies, also from the copy of
 * send each wired node took at start.
 */
function unspy(ids) {
  helper._sandbox.restore();
  const send = helper._NodePrototype.send;
  for (const id of ids) {
    const node = helper.getNode(id);
    if (node && node._wireCount > 0) node.send = send;
  }
}

const fmt = (n) => Math.round(n).toLocaleString("en-US");

module.exports = { helper, core, drive, compare, unspy, fmt };
