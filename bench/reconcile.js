#!/usr/bin/env node
"use strict";
// Reconcile benchmark: N × N invoices (1% mismatched, 0.5% only-left, 0.5% only-right), three ways, side by side:
//   node  — the keelson-reconcile node inside a Node-RED runtime, input in chunks of 10,000 with msg.parts
//   pg    — PostgreSQL: COPY both sets in, FULL OUTER JOIN with the same rules, control totals (timed together)
//   map   — a hand-written JS Map join with the same rules (the limit)
// Each variant runs in its own process so its peak RSS is its own. Data is generated before the clock starts.
// On a shared machine wall time is stretched by whatever else runs: each variant runs --rounds times, in rotating
// order, and its best round counts; CPU time (and the PostgreSQL server process's CPU) is printed beside it.
// Usage: node bench/reconcile.js [--n 1000000] [--chunk 10000] [--variants map,node,pg] [--rounds 1]
const { execFileSync } = require("node:child_process");
const path = require("node:path");
const data = require("./lib/reconcile-data.js");

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
}
const N = Number(arg("n", 1_000_000));
const CHUNK = Number(arg("chunk", 10_000));

function pregenerate() {
  return { left: [...data.chunks("left", N, CHUNK)], right: [...data.chunks("right", N, CHUNK)] };
}

let cpuAtStart;
/** Starts the clock; CPU time is reported beside wall time, since a shared machine stretches the latter. */
function startClock() {
  cpuAtStart = process.cpuUsage();
  return process.hrtime.bigint();
}

function report(result) {
  result.peakRssMB = Math.round(process.resourceUsage().maxRSS / 1024);
  const cpu = process.cpuUsage(cpuAtStart);
  result.cpuSeconds = (cpu.user + cpu.system) / 1e6;
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
}

// ---------------------------------------------------------------- hand-written Map join
function runMap() {
  const { left, right } = pregenerate();
  const t0 = startClock();
  const fold = (s) => s.trim().replace(/\s+/g, " ").toLowerCase();
  const minor = (amount, currency) => Math.round(Number(amount) * 10 ** data.DIGITS[currency]);
  const sums = { left: new Map(), right: new Map() };
  const add = (side, currency, m) => sums[side].set(currency, (sums[side].get(currency) ?? 0n) + BigInt(m));
  const index = new Map();
  for (const chunk of left) {
    for (const r of chunk) {
      index.set(r.invoice.trim().toLowerCase(), r);
      add("left", r.currency, minor(r.total, r.currency));
    }
  }
  const out = { matched: [], mismatched: [], onlyLeft: [], onlyRight: [] };
  for (const chunk of right) {
    for (const r of chunk) {
      const key = r.number.trim().toLowerCase();
      add("right", r.currency, minor(r.amount_due, r.currency));
      const l = index.get(key);
      if (!l) {
        out.onlyRight.push({ key, right: r });
        continue;
      }
      index.delete(key);
      const diffs = [];
      if (l.currency !== r.currency || minor(l.total, l.currency) !== minor(r.amount_due, r.currency)) diffs.push({ field: "total", left: l.total, right: r.amount_due });
      if (fold(l.name) !== fold(r.customer_name)) diffs.push({ field: "name", left: l.name, right: r.customer_name });
      if (Math.abs(Date.parse(l.issued) - Date.parse(r.created)) > 86400_000) diffs.push({ field: "issued", left: l.issued, right: r.created });
      if (diffs.length) out.mismatched.push({ key, left: l, right: r, diffs });
      else out.matched.push({ key, left: l, right: r });
    }
  }
  for (const [key, l] of index) out.onlyLeft.push({ key, left: l });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  report({ variant: "map", seconds, counts: Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.length])) });
}

// ---------------------------------------------------------------- the node in Node-RED
async function runNode() {
  const helper = require("node-red-node-test-helper");
  const reconcileNode = require("../dist/nodes/reconcile/reconcile.js");
  helper.init(require.resolve("node-red"));
  await helper.startServer();
  const flow = [
    { id: "t1", type: "tab", label: "bench" },
    {
      id: "rec", z: "t1", type: "keelson-reconcile", name: "bench",
      leftKey: "invoice", leftKeyType: "fields", rightKey: "number", rightKeyType: "fields",
      trimKeys: true, ignoreCase: true, stripLeadingZeros: false,
      rules: data.RULES, compareOtherFields: false, outputMode: "chunk", chunkSize: 1000, memoryBudget: 1024,
      wires: [["o1"], ["o2"], ["o3"], ["o4"], ["o5"]],
    },
    ...["o1", "o2", "o3", "o4", "o5", "caught"].map((id) => ({ id, z: "t1", type: "helper" })),
    { id: "catcher", z: "t1", type: "catch", scope: ["rec"], uncaught: false, wires: [["caught"]] },
  ];
  await helper.load(reconcileNode, flow);
  // The helper's sinon spies record the arguments of every send(): they would hold every result in memory. Each
  // node copied the spied send() when its wires were set, so the wires are set again after the spies are gone.
  helper._sandbox.restore();
  helper.getNode("rec").updateWires(helper.getNode("rec").wires);
  const counts = { matched: 0, mismatched: 0, onlyLeft: 0, onlyRight: 0 };
  ["o1", "o2", "o3", "o4"].forEach((id, i) => {
    const outcome = ["matched", "mismatched", "onlyLeft", "onlyRight"][i];
    helper.getNode(id).on("input", (msg) => (counts[outcome] += msg.payload.length));
  });
  const { left, right } = pregenerate();
  const rec = helper.getNode("rec");
  const errors = [];
  helper.getNode("caught").on("input", (m) => errors.push(m.error.message));
  const finished = new Promise((resolve) => helper.getNode("o5").on("input", resolve));
  const t0 = startClock();
  // Interleaved, as two paginated reads running side by side would send them.
  for (let i = 0; i < Math.max(left.length, right.length); i++) {
    if (i < left.length) rec.receive({ side: "left", payload: left[i], parts: { id: "erp", index: i, count: left.length } });
    if (i < right.length) rec.receive({ side: "right", payload: right[i], parts: { id: "billing", index: i, count: right.length } });
    left[i] = right[i] = undefined; // the node holds what it needs; the bench keeps nothing
  }
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no summary: ${errors.join("; ")}`)), 600_000);
  });
  const summary = await Promise.race([finished, timeout]);
  clearTimeout(timer);
  await new Promise((resolve) => setImmediate(resolve));
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const s = summary.payload;
  await helper.unload();
  await helper.stopServer();
  report({ variant: "node", seconds, counts, path: s.path, totalsDifference: s.totals.difference.sums.total });
  process.exit(0); // the runtime keeps timers of its own
}

// ---------------------------------------------------------------- PostgreSQL
async function runPg() {
  const { Client } = require("pg");
  const { from: copyFrom } = require("pg-copy-streams");
  const { left, right } = pregenerate();
  const schema = `bench_reconcile_${process.pid}`;
  const client = new Client({ host: "127.0.0.1", port: 5432, database: "test", user: process.env.PGUSER || "postgres" });
  await client.connect();
  const backend = (await client.query("SELECT pg_backend_pid() AS pid")).rows[0].pid;
  const fs = require("node:fs");
  // utime + stime of the server process serving this connection (parallel workers, if any, are not counted).
  const backendCpu = () => {
    try {
      const fields = fs.readFileSync(`/proc/${backend}/stat`, "utf8").split(") ")[1].split(" ");
      return (Number(fields[11]) + Number(fields[12])) / 100;
    } catch {
      return NaN;
    }
  };
  const backendPeak = () => {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${backend}/status`, "utf8"));
      return m ? Math.round(Number(m[1]) / 1024) : undefined;
    } catch {
      return undefined;
    }
  };
  const copy = (table, columns, chunks, row) =>
    new Promise((resolve, reject) => {
      const stream = client.query(copyFrom(`COPY ${schema}.${table} (${columns}) FROM STDIN WITH (FORMAT text)`));
      stream.on("error", reject);
      stream.on("finish", resolve);
      let i = 0;
      const pump = () => {
        while (i < chunks.length) {
          const text = chunks[i++].map(row).join("");
          if (!stream.write(text)) return stream.once("drain", pump);
        }
        stream.end();
      };
      pump();
    });
  try {
    const serverCpuAtStart = backendCpu();
    const t0 = startClock();
    await client.query(`SET TIME ZONE 'UTC'; CREATE SCHEMA ${schema}`);
    await client.query(`CREATE TABLE ${schema}.l (invoice text, name text, total numeric, currency text, issued date, status text)`);
    await client.query(`CREATE TABLE ${schema}.r (number text, customer_name text, amount_due numeric, currency text, created timestamptz)`);
    await copy("l", "invoice, name, total, currency, issued, status", left, (r) => `${r.invoice}\t${r.name}\t${r.total}\t${r.currency}\t${r.issued}\t${r.status}\n`);
    await copy("r", "number, customer_name, amount_due, currency, created", right, (r) => `${r.number}\t${r.customer_name}\t${r.amount_due}\t${r.currency}\t${r.created}\n`);
    const loaded = Number(process.hrtime.bigint() - t0) / 1e9;
    await client.query(`CREATE TABLE ${schema}.digits (currency text PRIMARY KEY, d int)`);
    await client.query(`INSERT INTO ${schema}.digits VALUES ${Object.entries(data.DIGITS).map(([c, d]) => `('${c}', ${d})`).join(",")}`);
    const join = await client.query(`
      WITH j AS (
        SELECT l.invoice IS NOT NULL AS has_l, r.number IS NOT NULL AS has_r,
               (l.currency = r.currency
                AND round(l.total * 10 ^ dl.d) = round(r.amount_due * 10 ^ dr.d)) AS same_total,
               lower(regexp_replace(btrim(l.name), '\\s+', ' ', 'g')) = lower(regexp_replace(btrim(r.customer_name), '\\s+', ' ', 'g')) AS same_name,
               abs(extract(epoch FROM (l.issued::timestamptz - r.created))) <= 86400 AS same_issued
        FROM ${schema}.l l
        FULL OUTER JOIN ${schema}.r r ON lower(btrim(l.invoice)) = lower(btrim(r.number))
        LEFT JOIN ${schema}.digits dl ON dl.currency = l.currency
        LEFT JOIN ${schema}.digits dr ON dr.currency = r.currency)
      SELECT count(*) FILTER (WHERE has_l AND has_r AND same_total AND same_name AND same_issued) AS matched,
             count(*) FILTER (WHERE has_l AND has_r AND NOT (same_total AND same_name AND same_issued)) AS mismatched,
             count(*) FILTER (WHERE has_l AND NOT has_r) AS "onlyLeft",
             count(*) FILTER (WHERE has_r AND NOT has_l) AS "onlyRight"
      FROM j`);
    const totals = await client.query(`
      SELECT currency, sum(l) AS l, sum(r) AS r FROM (
        SELECT currency, total AS l, 0 AS r FROM ${schema}.l UNION ALL SELECT currency, 0, amount_due FROM ${schema}.r) t
      GROUP BY currency ORDER BY currency`);
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const counts = Object.fromEntries(Object.entries(join.rows[0]).map(([k, v]) => [k, Number(v)]));
    const totalsDifference = Object.fromEntries(totals.rows.map((t) => [t.currency, String(Number(t.l) - Number(t.r))]));
    const serverCpuSeconds = backendCpu() - serverCpuAtStart;
    report({ variant: "pg", seconds, loadSeconds: loaded, counts, backendPeakRssMB: backendPeak(), serverCpuSeconds, totalsDifference });
  } finally {
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await client.end();
  }
}

// ---------------------------------------------------------------- driver
function child(variant) {
  const out = execFileSync(process.execPath, ["--max-old-space-size=4096", __filename, "--variant", variant, "--n", String(N), "--chunk", String(CHUNK)], {
    encoding: "utf8",
    maxBuffer: 1 << 26,
    stdio: ["ignore", "pipe", "inherit"],
  });
  const line = out.split("\n").find((l) => l.startsWith("RESULT "));
  if (!line) throw new Error(`${variant}: no result`);
  return JSON.parse(line.slice(7));
}

function main() {
  const variants = arg("variants", "map,node,pg").split(",");
  const expected = data.expected(N);
  console.log(`reconcile bench: ${N.toLocaleString("en")} × ${N.toLocaleString("en")} records, chunks of ${CHUNK}, best of ${arg("rounds", 1)} round(s), expected ${JSON.stringify(expected)}`);
  const rounds = Number(arg("rounds", 1));
  const results = {};
  const peak = {};
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < variants.length; k++) {
      const v = variants[(k + round) % variants.length];
      const r = child(v);
      peak[v] = Math.max(peak[v] ?? 0, r.peakRssMB);
      if (JSON.stringify(r.counts) !== JSON.stringify(expected)) throw new Error(`${v}: WRONG counts ${JSON.stringify(r.counts)}`);
      if (!results[v] || r.seconds < results[v].seconds) results[v] = r;
    }
  }
  for (const v of variants) {
    const r = results[v];
    r.peakRssMB = peak[v];
    const extra = v === "pg" ? `, load ${r.loadSeconds.toFixed(2)} s, server process CPU ${r.serverCpuSeconds.toFixed(2)} s, peak RSS ${r.backendPeakRssMB ?? "?"} MB` : v === "node" ? `, ${r.path}` : "";
    console.log(`${v.padEnd(5)} ${r.seconds.toFixed(2).padStart(7)} s (CPU ${r.cpuSeconds.toFixed(2).padStart(6)} s)   peak RSS ${String(r.peakRssMB).padStart(5)} MB   counts as expected${extra}`);
  }
  if (results.node && results.map) {
    console.log(`node / map: ${(results.node.seconds / results.map.seconds).toFixed(2)}× wall, ${(results.node.cpuSeconds / results.map.cpuSeconds).toFixed(2)}× CPU (target ≤ 2)`);
  }
  if (results.node && results.pg) {
    const pgCpu = results.pg.cpuSeconds + results.pg.serverCpuSeconds;
    console.log(`pg / node: ${(results.pg.seconds / results.node.seconds).toFixed(2)}× wall, ${(pgCpu / results.node.cpuSeconds).toFixed(2)}× CPU (client + server) (target > 1: the node is faster)`);
  }
  if (results.node) {
    console.log(`node targets: ${results.node.seconds <= 10 ? "✓" : "✗"} ≤ 10 s, ${results.node.peakRssMB <= 1536 ? "✓" : "✗"} ≤ 1.5 GB RSS (at 1M × 1M)`);
  }
}

const variant = arg("variant");
if (variant === "map") runMap();
else if (variant === "node") runNode().catch((err) => { console.error(err); process.exit(1); });
else if (variant === "pg") runPg().catch((err) => { console.error(err); process.exit(1); });
else main();
