"use strict";
// bench/gate: claims/s of the idempotency gate node inside a real Node-RED runtime, per store, side by side with
// its limits, in alternating rounds:
//   gate on memory    vs a function node doing a Map-based dedupe (the in-process limit)         target ≥ 50 %
//   gate on file      durable: each claim leaves the node once its record is fdatasync'ed          target ≥ 20,000 claims/s
//   gate on redis     vs a raw auto-pipelined ioredis client doing SET NX PX, same concurrency     target ≥ 50 %
//   gate on postgres  (no target: one statement per claim, bounded by the server's commits)
// Messages are pushed into each node with the harness's window (at most 256 in flight) and counted at a sink wired
// to all of its outputs; every input is a fresh key except 10 % repeats. The raw client runs 256 workers.
// Usage: npm run build && node --expose-gc bench/gate.js   (BENCH_ROUNDS, BENCH_MESSAGES to change the sizes)
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { randomUUID } = require("node:crypto");
const Redis = require("ioredis").default;
const { helper, core, drive, unspy, fmt } = require("./lib/harness");
const storeNode = require("../dist/nodes/store/store.js");
const gateNode = require("../dist/nodes/gate/gate.js");

const ROUNDS = Number(process.env.BENCH_ROUNDS || 5);
const MESSAGES = Number(process.env.BENCH_MESSAGES || 20000);
const POSTGRES_MESSAGES = Math.min(MESSAGES, 5000);
const CONCURRENCY = 256;
const LEASE_MS = 600000;
const REDIS_URL = process.env.KEELSON_TEST_REDIS_URL || "redis://127.0.0.1:6379";
const POSTGRES_URL = process.env.KEELSON_TEST_POSTGRES_URL || "postgres://postgres@127.0.0.1:5432/test";

const run = `${process.pid}_${Date.now().toString(36)}`;
const prefix = `keelson-bench-gate:${run}:`;
const schema = `keelson_bench_gate_${run}`;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "keelson-bench-gate-"));

const store = (backend, extra = {}) => ({ id: "store", type: "keelson-store", backend, dir: "", redisUrl: "", prefix: "", postgresUrl: "", schema: "", tablePrefix: "", timeout: 30000, ...extra });
const gateFlow = (storeNode) => [
  { id: "t", type: "tab", label: "bench" },
  storeNode,
  { id: "entry", type: "keelson-gate", z: "t", store: "store", action: "claim", key: "payload.key", keyType: "msg", fingerprint: "", fingerprintType: "none", leaseSeconds: LEASE_MS / 1000, retentionDays: 1, waitSeconds: 0, wires: [["sink"], ["sink"], ["sink"], ["sink"]] },
  { id: "sink", type: "helper", z: "t" },
];
// The in-process limit: a function node keeping key → lease expiry in a Map (held in its context once).
const mapFlow = [
  { id: "t", type: "tab", label: "bench" },
  {
    id: "entry",
    type: "function",
    z: "t",
    func: [
      'let seen = context.get("seen");',
      'if (!seen) { seen = new Map(); context.set("seen", seen); }',
      "const key = msg.payload.key;",
      "const now = Date.now();",
      "const until = seen.get(key);",
      "if (until !== undefined && until > now) return [null, msg];",
      `seen.set(key, now + ${LEASE_MS});`,
      "return [msg, null];",
    ].join("\n"),
    outputs: 2,
    timeout: 0,
    noerr: 0,
    initialize: "",
    finalize: "",
    libs: [],
    wires: [["sink"], ["sink"]],
  },
  { id: "sink", type: "helper", z: "t" },
];

/** Fresh keys for one round, 10 % of them sent twice. */
function makeInputs(count) {
  const round = randomUUID();
  const keys = Array.from({ length: count }, (_, i) => `${round}:${i}`);
  for (let i = 0; i < count / 10; i++) keys.push(keys[(i * 7919) % count]);
  return keys.map((key) => ({ payload: { key } }));
}

/** The Redis limit: SET key 1 NX PX lease over one auto-pipelined client, CONCURRENCY workers. Returns ms. */
async function rawRedis(client, inputs) {
  let next = 0;
  let fresh = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < inputs.length) {
        const { key } = inputs[next++].payload;
        if ((await client.set(`${prefix}raw:${key}`, "1", "PX", LEASE_MS, "NX")) === "OK") fresh++;
      }
    }),
  );
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (fresh !== Math.ceil(inputs.length / 1.1)) throw new Error(`raw redis: ${fresh} fresh keys`);
  return ms;
}

/** Counts the outcomes a gate sent: every fresh key let through once, every repeat held back. */
function checkOutcomes(name, sink, inputs) {
  const seen = {};
  sink.on("input", (msg) => {
    if (msg.idempotency) seen[msg.idempotency.state] = (seen[msg.idempotency.state] || 0) + 1;
  });
  return () => {
    const fresh = new Set(inputs.map((m) => m.payload.key)).size;
    const held = (seen.completed ?? 0) + (seen["in-flight"] ?? 0);
    if (seen.claimed !== fresh || held !== inputs.length - fresh) throw new Error(`${name}: outcomes ${JSON.stringify(seen)} for ${fresh} fresh keys of ${inputs.length}`);
  };
}

/**
 * One variant in a Node-RED flow of its own, loaded fresh for each round (so no variant carries another's state in
 * the heap): a warm-up, then the timed run. Returns ms.
 */
function nodeVariant(name, nodes, flow, count = MESSAGES, gate = true) {
  return {
    name,
    count,
    async run(inputs) {
      await helper.load(nodes, flow());
      unspy(["store", "entry", "sink"]);
      try {
        await drive(helper.getNode("entry"), helper.getNode("sink"), makeInputs(1000), { window: CONCURRENCY });
        const check = gate ? checkOutcomes(name, helper.getNode("sink"), inputs) : () => undefined;
        const ms = await drive(helper.getNode("entry"), helper.getNode("sink"), inputs, { window: CONCURRENCY });
        check();
        return ms;
      } finally {
        await helper.unload();
      }
    },
  };
}

async function main() {
  await helper.startServer();
  const variants = [
    nodeVariant("function node, Map dedupe (in-process limit)", [core.function], () => mapFlow, MESSAGES, false),
    nodeVariant("gate, memory store", [storeNode, gateNode], () => gateFlow(store("memory"))),
    nodeVariant("gate, file store (durable)", [storeNode, gateNode], () => gateFlow(store("file", { dir: fs.mkdtempSync(path.join(dir, "file-")) }))),
    {
      name: "raw ioredis SET NX PX, pipelined (Redis limit)",
      count: MESSAGES,
      async run(inputs) {
        const client = new Redis(REDIS_URL, { enableAutoPipelining: true });
        try {
          await rawRedis(client, makeInputs(1000));
          return await rawRedis(client, inputs);
        } finally {
          client.disconnect();
        }
      },
    },
    nodeVariant("gate, redis store", [storeNode, gateNode], () => gateFlow(store("redis", { redisUrl: REDIS_URL, prefix }))),
    nodeVariant("gate, postgres store", [storeNode, gateNode], () => gateFlow(store("postgres", { postgresUrl: POSTGRES_URL, schema })), POSTGRES_MESSAGES),
  ];
  const rates = Object.fromEntries(variants.map((v) => [v.name, []]));
  try {
    for (let round = 0; round < ROUNDS; round++) {
      for (const v of round % 2 ? [...variants].reverse() : variants) {
        const inputs = makeInputs(v.count);
        if (global.gc) global.gc();
        const ms = await v.run(inputs);
        rates[v.name].push((inputs.length / ms) * 1000);
      }
    }
  } finally {
    await helper.stopServer();
    await cleanup();
  }

  const median = (list) => list.slice().sort((a, b) => a - b)[Math.floor(list.length / 2)];
  const m = Object.fromEntries(Object.entries(rates).map(([name, list]) => [name, median(list)]));
  const [map, memory, file, raw, redis, postgres] = variants.map((v) => m[v.name]);
  console.log(`bench/gate — ${MESSAGES} claims (postgres ${POSTGRES_MESSAGES}) incl. 10 % repeats × ${ROUNDS} rounds, ≤ ${CONCURRENCY} in flight, median claims/s in a Node-RED ${require("node-red/package.json").version} runtime (node ${process.version}, ${os.cpus().length} cores, load ${os.loadavg()[0].toFixed(1)})`);
  for (const v of variants) console.log(`  ${v.name.padEnd(50)} ${fmt(m[v.name]).padStart(9)} claims/s   rounds: ${rates[v.name].map((r) => fmt(r)).join(", ")}`);
  const checks = [
    ["gate memory / function-node Map", memory / map, 0.5, "ratio"],
    ["gate file (durable)", file, 20000, "claims/s"],
    ["gate redis / raw pipelined ioredis", redis / raw, 0.5, "ratio"],
  ];
  let missed = 0;
  for (const [label, value, target, unit] of checks) {
    const ok = value >= target;
    if (!ok) missed++;
    const shown = unit === "ratio" ? `${(value * 100).toFixed(1)} %` : `${fmt(value)} ${unit}`;
    const goal = unit === "ratio" ? `${target * 100} %` : `${fmt(target)} ${unit}`;
    console.log(`  ${ok ? "ok  " : "MISS"} ${label.padEnd(36)} ${shown.padStart(16)}  (target ≥ ${goal})`);
  }
  console.log(`  gate postgres / gate redis ${((postgres / redis) * 100).toFixed(1)} %, gate file / gate memory ${((file / memory) * 100).toFixed(1)} %`);
  process.exitCode = missed ? 1 : 0;
}

async function cleanup() {
  const client = new Redis(REDIS_URL);
  let cursor = "0";
  do {
    const [next, keys] = await client.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 5000);
    cursor = next;
    if (keys.length) await client.unlink(...keys);
  } while (cursor !== "0");
  await client.quit();
  const { Client } = require("pg");
  const pg = new Client({ connectionString: POSTGRES_URL });
  await pg.connect().then(() => pg.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)).catch(() => undefined);
  await pg.end().catch(() => undefined);
  fs.rmSync(dir, { recursive: true, force: true });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
