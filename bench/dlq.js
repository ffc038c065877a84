"use strict";
// bench/dlq: dead-letter captures/s of the DLQ node inside a real Node-RED runtime, counted at its second output
// (sent once the entry is durable), side by side in alternating rounds with:
//   the file store's capture called directly at the same concurrency (the store's own limit)
//   the DLQ node on the memory store (the node and runtime without the disk)
// Target: DLQ node → file store ≥ 10,000 entries/s, durable.
// Every message is a failed order (payload, headers with a secret to redact, msg.error from a Catch node) with its
// own correlation id; at most 256 in flight.
// Usage: npm run build && node --expose-gc bench/dlq.js   (BENCH_ROUNDS, BENCH_MESSAGES to change the sizes)
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { randomUUID } = require("node:crypto");
const { helper, drive, unspy, fmt } = require("./lib/harness");
const storeNode = require("../dist/nodes/store/store.js");
const dlqNode = require("../dist/nodes/dlq/dlq.js");
const { openStore, deadLetterOf } = require("../dist/nodes/lib/state/index.js");

const ROUNDS = Number(process.env.BENCH_ROUNDS || 5);
const MESSAGES = Number(process.env.BENCH_MESSAGES || 20000);
const CONCURRENCY = 256;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "keelson-bench-dlq-"));

function makeInputs(count) {
  const round = randomUUID();
  return Array.from({ length: count }, (_, i) => ({
    _msgid: `${round}-${i}`,
    topic: "orders",
    correlationId: `${round}:${i}`,
    headers: { Authorization: "Bearer abc.def", "Content-Type": "application/json" },
    payload: { orderId: `SO-${i}`, customer: { id: "C-42", name: "Acme" }, lines: [{ sku: "A-1", qty: 2, price: "10.00" }, { sku: "B-7", qty: 1, price: "99.90" }] },
    error: { message: "ERP said 503 Service Unavailable", source: { id: "n1", type: "keelson-erp-order", name: "post order" } },
  }));
}

const flow = (backend) => [
  { id: "t", type: "tab", label: "bench" },
  { id: "store", type: "keelson-store", backend, dir: backend === "file" ? fs.mkdtempSync(path.join(dir, "file-")) : "", redisUrl: "", prefix: "", postgresUrl: "", schema: "", tablePrefix: "", timeout: 30000 },
  { id: "entry", type: "keelson-dlq", z: "t", store: "store", queue: "orders", maxAttempts: 5, retentionDays: 30, redactPaths: "payload.customer.taxId", maxKb: 64, wires: [[], ["sink"]] },
  { id: "sink", type: "helper", z: "t" },
];

function nodeVariant(name, backend) {
  return {
    name,
    async run(inputs) {
      await helper.load([storeNode, dlqNode], flow(backend));
      unspy(["store", "entry", "sink"]);
      try {
        await drive(helper.getNode("entry"), helper.getNode("sink"), makeInputs(1000), { window: CONCURRENCY });
        let captured = 0;
        helper.getNode("sink").on("input", (msg) => {
          if (msg.topic === "dlq/captured" && msg.payload.attempts === 1) captured++;
        });
        const ms = await drive(helper.getNode("entry"), helper.getNode("sink"), inputs, { window: CONCURRENCY });
        if (captured !== inputs.length) throw new Error(`${name}: ${captured} of ${inputs.length} captured`);
        return ms;
      } finally {
        await helper.unload();
      }
    },
  };
}

/** The file store's capture with CONCURRENCY workers, given the same dead letters the node would build. */
const storeDirect = {
  name: "file store capture, called directly (store limit)",
  async run(inputs) {
    const store = await openStore({ backend: "file", dir: fs.mkdtempSync(path.join(dir, "direct-")) });
    const letterOf = (msg) => {
      const { error, ...message } = msg;
      return deadLetterOf({ queue: "orders", message, error, source: error.source, correlationId: msg.correlationId }, { paths: ["payload.customer.taxId"], maxBytes: 64 * 1024 });
    };
    const options = { maxAttempts: 5, retentionMs: 30 * 24 * 3600 * 1000 };
    const all = async (list) => {
      let next = 0;
      const started = process.hrtime.bigint();
      await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
        while (next < list.length) await store.capture(letterOf(list[next++]), options);
      }));
      return Number(process.hrtime.bigint() - started) / 1e6;
    };
    try {
      await all(makeInputs(1000));
      return await all(inputs);
    } finally {
      await store.close();
    }
  },
};

async function main() {
  await helper.startServer();
  const variants = [nodeVariant("DLQ node → file store (durable)", "file"), storeDirect, nodeVariant("DLQ node → memory store", "memory")];
  const rates = Object.fromEntries(variants.map((v) => [v.name, []]));
  try {
    for (let round = 0; round < ROUNDS; round++) {
      for (const v of round % 2 ? [...variants].reverse() : variants) {
        const inputs = makeInputs(MESSAGES);
        if (global.gc) global.gc();
        const ms = await v.run(inputs);
        rates[v.name].push((inputs.length / ms) * 1000);
      }
    }
  } finally {
    await helper.stopServer();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const median = (list) => list.slice().sort((a, b) => a - b)[Math.floor(list.length / 2)];
  const m = Object.fromEntries(Object.entries(rates).map(([name, list]) => [name, median(list)]));
  const [file, direct, memory] = variants.map((v) => m[v.name]);
  console.log(`bench/dlq — ${MESSAGES} captures × ${ROUNDS} rounds, ≤ ${CONCURRENCY} in flight, median entries/s in a Node-RED ${require("node-red/package.json").version} runtime (node ${process.version}, ${os.cpus().length} cores, load ${os.loadavg()[0].toFixed(1)})`);
  for (const v of variants) console.log(`  ${v.name.padEnd(52)} ${fmt(m[v.name]).padStart(9)} entries/s   rounds: ${rates[v.name].map((r) => fmt(r)).join(", ")}`);
  const ok = file >= 10000;
  console.log(`  ${ok ? "ok  " : "MISS"} DLQ node → file store (durable) ${fmt(file)} entries/s  (target ≥ 10,000 entries/s)`);
  console.log(`  node / direct store ${((file / direct) * 100).toFixed(1)} %, file / memory store ${((file / memory) * 100).toFixed(1)} %`);
  process.exitCode = ok ? 0 : 1;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
