#!/usr/bin/env node
// Claims per second for each store against its natural limit, measured side by side in one run:
//   memory store   vs a Map-based dedupe in plain JS (the in-process limit)      target >= 50 %
//   file store     durable: each claim answered after its record is fdatasync'ed  target >= 20,000 claims/s
//   redis store    vs raw ioredis SET NX PX, auto-pipelined, same concurrency     target >= 50 %
//   postgres store (no target: one statement per claim, bounded by the server's commits)
//   dead-letter capture to the file store, durable                                target >= 10,000 entries/s
// Every variant runs `--concurrency` claimers over `--claims` unique keys (plus 10 % repeats that must come out as
// duplicates or in-flight), `--rounds` times in alternating order. Targets are checked on each variant's best round:
// on a shared machine noise only ever slows a round down, so the best round is the most repeatable figure; the
// median is printed beside it.
// Usage: npm run build && node bench/store.js [--claims 50000] [--concurrency 256] [--rounds 3]
"use strict";
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { randomUUID } = require("node:crypto");
const Redis = require("ioredis").default;
const { openStore } = require("../dist/nodes/lib/state/index.js");

const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, arg, i, all) => (arg.startsWith("--") ? [...pairs, [arg.slice(2), Number(all[i + 1])]] : pairs), []),
);
const CLAIMS = args.claims || 50_000;
const CONCURRENCY = args.concurrency || 256;
const ROUNDS = args.rounds || 3;
const REDIS_URL = process.env.KEELSON_TEST_REDIS_URL || "redis://127.0.0.1:6379";
const POSTGRES_URL = process.env.KEELSON_TEST_POSTGRES_URL || "postgres://postgres@127.0.0.1:5432/test";
const LEASE_MS = 600_000;

/** Runs `op(key)` over CLAIMS unique keys and 10 % repeats with CONCURRENCY workers; returns ops/s and outcome counts. */
async function drive(count, op) {
  const run = randomUUID();
  const keys = Array.from({ length: count }, (_, i) => `${run}:${i}`);
  for (let i = 0; i < count / 10; i++) keys.push(keys[(i * 7919) % count]);
  const outcomes = {};
  let next = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < keys.length) {
        const { outcome } = await op(keys[next++]);
        outcomes[outcome] = (outcomes[outcome] || 0) + 1;
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (outcomes.new !== count) throw new Error(`expected ${count} new, got ${JSON.stringify(outcomes)}`);
  return { perSecond: keys.length / seconds, outcomes };
}

/** The in-process limit: a Map of key → lease expiry, behind the same call shape as a store (a promise of an outcome). */
function mapDedupe() {
  const seen = new Map();
  const NEW = { outcome: "new" };
  const DUPLICATE = { outcome: "duplicate" };
  return {
    async claim(key) {
      const now = Date.now();
      const until = seen.get(key);
      if (until !== undefined && until > now) return DUPLICATE;
      seen.set(key, now + LEASE_MS);
      return NEW;
    },
    close: async () => {},
  };
}

const CLAIM_OPTIONS = { leaseMs: LEASE_MS };

function storeClaims(store) {
  return {
    claim: (key) => store.claim(key, CLAIM_OPTIONS),
    close: () => store.close(),
  };
}

/** The Redis limit: one auto-pipelined client doing nothing but SET key token NX PX lease. */
function rawRedis(prefix) {
  const client = new Redis(REDIS_URL, { enableAutoPipelining: true });
  return {
    claim: async (key) => ({ outcome: (await client.set(prefix + key, "1", "PX", LEASE_MS, "NX")) === "OK" ? "new" : "duplicate" }),
    close: async () => client.quit(),
  };
}

async function cleanupRedis(prefix) {
  const client = new Redis(REDIS_URL);
  let cursor = "0";
  do {
    const [nextCursor, keys] = await client.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 5000);
    cursor = nextCursor;
    if (keys.length) await client.unlink(...keys);
  } while (cursor !== "0");
  await client.quit();
}

const median = (values) => values.slice().sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function main() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "keelson-bench-"));
  const prefix = `keelson-bench:${process.pid}:`;
  const schema = `keelson_bench_${process.pid}`;
  const variants = {
    map: { count: CLAIMS, open: async () => mapDedupe() },
    memory: { count: CLAIMS, open: async () => storeClaims(await openStore({ backend: "memory" })) },
    file: {
      count: CLAIMS,
      open: async () => {
        const dir = fs.mkdtempSync(path.join(tmp, "file-"));
        return storeClaims(await openStore({ backend: "file", dir }));
      },
    },
    "redis-raw": { count: CLAIMS, open: async () => rawRedis(`${prefix}raw:`) },
    redis: { count: CLAIMS, open: async () => storeClaims(await openStore({ backend: "redis", url: REDIS_URL, prefix: `${prefix}store:` })) },
    postgres: { count: Math.min(CLAIMS, 10_000), open: async () => storeClaims(await openStore({ backend: "postgres", connectionString: POSTGRES_URL, schema, timeoutMs: 60_000 })) },
    "dlq-file": {
      count: CLAIMS,
      open: async () => {
        const dir = fs.mkdtempSync(path.join(tmp, "dlq-"));
        const store = await openStore({ backend: "file", dir });
        const message = { _msgid: "m", topic: "orders", payload: { orderId: "SO-1", customer: "C-42", lines: [{ sku: "A", qty: 2, price: "10.00" }] } };
        return {
          // Re-captures (the repeated keys) count as "updated".
          claim: async (id) => ({ outcome: (await store.capture({ id, queue: "orders", message, error: { message: "ERP said 503" }, source: { id: "n1", type: "keelson-erp-order" } })).attempts === 1 ? "new" : "updated" }),
          close: () => store.close(),
        };
      },
    },
  };
  const results = Object.fromEntries(Object.keys(variants).map((name) => [name, []]));
  const order = Object.keys(variants);
  try {
    // Warm-up (JIT, script loading, schema creation) with a small run of each.
    for (const name of order) {
      const v = await variants[name].open();
      await drive(2000, v.claim);
      await v.close();
    }
    for (let round = 0; round < ROUNDS; round++) {
      const sequence = round % 2 ? order.slice().reverse() : order;
      for (const name of sequence) {
        const v = await variants[name].open();
        const { perSecond } = await drive(variants[name].count, v.claim);
        await v.close();
        results[name].push(perSecond);
      }
    }
  } finally {
    await cleanupRedis(prefix).catch(() => undefined);
    const { Client } = require("pg");
    const pg = new Client({ connectionString: POSTGRES_URL });
    await pg.connect().then(() => pg.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)).catch(() => undefined);
    await pg.end().catch(() => undefined);
    fs.rmSync(tmp, { recursive: true, force: true });
  }

  const m = Object.fromEntries(Object.entries(results).map(([name, values]) => [name, Math.max(...values)]));
  const fmt = (n) => Math.round(n).toLocaleString("en-US").padStart(10);
  console.log(`store claims/s — ${CLAIMS} unique keys + 10 % repeats, concurrency ${CONCURRENCY}, best of ${ROUNDS} rounds (node ${process.version}, ${os.cpus().length} cores, load ${os.loadavg()[0].toFixed(1)})`);
  for (const name of order) console.log(`  ${name.padEnd(10)} ${fmt(m[name])} /s   median ${fmt(median(results[name])).trim()}   rounds: ${results[name].map((v) => Math.round(v)).join(", ")}`);
  const checks = [
    ["memory / map", m.memory / m.map, 0.5, "ratio"],
    ["redis / redis-raw", m.redis / m["redis-raw"], 0.5, "ratio"],
    ["file (durable)", m.file, 20_000, "claims/s"],
    ["dlq-file (durable)", m["dlq-file"], 10_000, "entries/s"],
  ];
  let failed = 0;
  for (const [label, value, target, unit] of checks) {
    const ok = value >= target;
    if (!ok) failed++;
    const shown = unit === "ratio" ? `${(value * 100).toFixed(1)} %` : `${fmt(value).trim()} ${unit}`;
    const goal = unit === "ratio" ? `${target * 100} %` : `${target.toLocaleString("en-US")} ${unit}`;
    console.log(`  ${ok ? "ok  " : "MISS"} ${label.padEnd(20)} ${shown.padStart(16)}  (target >= ${goal})`);
  }
  console.log(`  postgres / redis ${(m.postgres / m.redis * 100).toFixed(1)} %, file / memory ${(m.file / m.memory * 100).toFixed(1)} %`);
  process.exitCode = failed ? 1 : 0;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
