#!/usr/bin/env node
// Account upserts against each CRM sandbox with its vendor's rate limit and 20 ms latency per call, in one run:
// the keelson-crm-account node (batched) vs a core `http request` flow doing one record per call with a retry
// loop, vs the ceiling (sustained rate × batch size). Then the same node at 10 % transient faults: calls per record
// against the minimum that fault rate allows. `BENCH_RECORDS` scales the node runs (default 10,000);
// `BENCH_VENDORS=hubspot,dataverse` runs only those.
"use strict";
const path = require("node:path");
const { helper, core, unspy } = require("./lib/harness");
const salesforce = require("../dist/sandbox/salesforce.js");
const hubspot = require("../dist/sandbox/hubspot.js");
const dataverse = require("../dist/sandbox/dataverse.js");
const connectionNode = require("../dist/nodes/crm-connection/crm-connection.js");
const accountNode = require("../dist/nodes/crm-account/crm-account.js");

const coreDir = path.dirname(require.resolve("@node-red/nodes/package.json"));
const delayNode = require(path.join(coreDir, "core/function/89-delay.js"));
const RECORDS = Number(process.env.BENCH_RECORDS) || 10_000;
const LATENCY = { kind: "latency", ms: 20 };
const FAULT_RATE = 0.1;

/**
 * Per vendor: the sustained rate the vendor allows (requests per second, as the connection is told), the batch
 * size, how the one-per-call flow addresses one record, and how many records each run takes.
 */
const VENDORS = [
  {
    system: "hubspot",
    // Private app, Professional/Enterprise: 190 per rolling 10 s = 19 a second sustained.
    sustained: { limit: 19, windowMs: 1000 },
    vendorRate: "190 requests / 10 s (sandbox-enforced)",
    batch: 100,
    nodeRecords: RECORDS,
    singleRecords: Math.min(RECORDS, 300),
    start: () => hubspot.start({ port: 0 }),
    settings: (sb) => ({ auth: "private-app", credentials: { accessToken: hubspot.HUBSPOT_DEFAULTS.privateAppToken } }),
    token: async () => hubspot.HUBSPOT_DEFAULTS.privateAppToken,
    // v3 has no single-record upsert: one call per record is a batch upsert of one input.
    one: (sb, key) => ({ method: "POST", url: `${sb.url}/crm/v3/objects/companies/batch/upsert`, payload: { inputs: [{ idProperty: "erp_customer_id", id: key, properties: { name: `Bench ${key}` } }] } }),
    upsertRoute: "batch/upsert",
    stored: async (sb) => (await control(sb, "GET", "/records/companies")).records.filter((r) => /^BN-|^BS-|^BF-/.test(r.properties.erp_customer_id ?? "")).length,
  },
  {
    system: "salesforce",
    // No per-second limit: the 24 h allocation (Enterprise base 100,000) spread evenly = 1.157 a second.
    sustained: { limit: 1, windowMs: 864 },
    vendorRate: "100,000 requests / 24 h allocation, spent evenly (sandbox enforces the 24 h total)",
    batch: 200,
    nodeRecords: RECORDS,
    singleRecords: Math.min(RECORDS, 25),
    start: () => salesforce.start({ port: 0 }),
    settings: () => ({ auth: "client-credentials", credentials: { clientId: salesforce.SALESFORCE_DEFAULTS.clientId, clientSecret: salesforce.SALESFORCE_DEFAULTS.clientSecret } }),
    token: async (sb) => {
      const form = new URLSearchParams({ grant_type: "client_credentials", client_id: salesforce.SALESFORCE_DEFAULTS.clientId, client_secret: salesforce.SALESFORCE_DEFAULTS.clientSecret });
      return (await (await fetch(`${sb.url}/services/oauth2/token`, { method: "POST", body: form })).json()).access_token;
    },
    one: (sb, key) => ({ method: "PATCH", url: `${sb.url}/services/data/v59.0/sobjects/Account/ERP_Customer_Id__c/${key}`, payload: { Name: `Bench ${key}` } }),
    upsertRoute: "composite/sobjects",
    stored: async (sb) => (await control(sb, "GET", "/records/Account")).records.filter((r) => /^BN-|^BS-|^BF-/.test(r.ERP_Customer_Id__c ?? "")).length,
  },
  {
    system: "dataverse",
    // Service protection: 6,000 per 5 minutes = 20 a second, counted per request inside a $batch too.
    sustained: { limit: 20, windowMs: 1000 },
    vendorRate: "6,000 requests / 300 s per user, inner $batch requests counted (sandbox-enforced)",
    batch: 100,
    countsInner: true,
    nodeRecords: Math.min(RECORDS, 1_000),
    singleRecords: Math.min(RECORDS, 200),
    start: () => dataverse.start({ port: 0 }),
    settings: (sb) => ({ auth: "client-credentials", tokenUrl: `${sb.url}/${dataverse.DATAVERSE_DEFAULTS.tenantId}/oauth2/v2.0/token`, credentials: { clientId: dataverse.DATAVERSE_DEFAULTS.clientId, clientSecret: dataverse.DATAVERSE_DEFAULTS.clientSecret } }),
    token: async (sb) => {
      const form = new URLSearchParams({ grant_type: "client_credentials", client_id: dataverse.DATAVERSE_DEFAULTS.clientId, client_secret: dataverse.DATAVERSE_DEFAULTS.clientSecret, scope: `${sb.url}/.default` });
      return (await (await fetch(`${sb.url}/${dataverse.DATAVERSE_DEFAULTS.tenantId}/oauth2/v2.0/token`, { method: "POST", body: form })).json()).access_token;
    },
    one: (sb, key) => ({ method: "PATCH", url: `${sb.url}/api/data/v9.2/accounts(keelson_erpcustomerid='${key}')`, payload: { name: `Bench ${key}` } }),
    upsertRoute: "$batch",
    stored: async (sb) => (await control(sb, "GET", "/records/accounts")).records.filter((r) => /^BN-|^BS-|^BF-/.test(r.keelson_erpcustomerid ?? "")).length,
  },
];

async function control(sb, method, p, body) {
  const res = await fetch(`${sb.url}/__sandbox${p}`, { method, headers: { "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  return res.json();
}

/** Calls the vendor answered on data routes, and how many of those were throttle answers. */
async function callStats(sb, routePart) {
  const s = await control(sb, "GET", "/stats");
  let calls = 0;
  let throttled = 0;
  let upserts = 0;
  for (const [route, v] of Object.entries(s.routes)) {
    if (/token/.test(route)) continue;
    calls += v.requests;
    throttled += (v.statuses["429"] ?? 0) + (v.statuses["403"] ?? 0);
    if (route.includes(routePart)) upserts += v.requests;
  }
  return { calls, throttled, upserts };
}

/** Pushes inputs into entry keeping at most `window` in flight; resolves with ms once all reached the sinks. */
function drive(entry, sinks, inputs, window, timeoutMs) {
  return new Promise((resolve, reject) => {
    let received = 0;
    let sent = 0;
    const started = Date.now();
    const timer = setTimeout(() => reject(new Error(`only ${received} of ${inputs.length} messages arrived`)), timeoutMs);
    const pump = () => {
      while (sent < inputs.length && sent - received < window) entry.receive(inputs[sent++]);
    };
    const onInput = () => {
      received++;
      if (received === inputs.length) {
        clearTimeout(timer);
        for (const s of sinks) s.removeListener("input", onInput);
        resolve(Date.now() - started);
      } else if (sent - received < window / 2) setImmediate(pump);
    };
    for (const s of sinks) s.on("input", onInput);
    pump();
  });
}

const customer = (key) => ({ refs: [{ system: "netsuite", id: key, type: "customer" }], name: `Bench ${key}`, kind: "company" });

function connection(v, sb, rate, extra = {}) {
  const s = v.settings(sb);
  return {
    def: { id: "conn", type: "keelson-crm-connection", name: "", system: v.system, baseUrl: sb.url, auth: s.auth, tokenUrl: s.tokenUrl ?? "", tenantId: "", scope: "", audience: "", externalIdField: "", rateLimit: rate ? rate.limit : "", rateWindow: rate ? rate.windowMs : "", concurrency: "", maxAttempts: 8, baseDelay: 50, maxDelay: 2000, maxElapsed: 120000, breakerFailures: 1000, breakerReset: 1000, timeout: 10000, tlsCa: "", tlsInsecure: false, batchWindow: 20, batchSize: "", ...extra },
    credentials: s.credentials,
  };
}

/** The keelson-crm-account node upserting `n` Customers; returns elapsed ms. */
async function runNode(v, sb, n, prefix, rate) {
  const conn = connection(v, sb, rate);
  const flow = [
    { id: "tab", type: "tab", label: "bench" },
    conn.def,
    { id: "acct", type: "keelson-crm-account", z: "tab", name: "", connection: "conn", operation: "upsert", findBy: "externalId", store: "", watermark: "", pageSize: "", includeRaw: false, wires: [["ok"], ["rejected"]] },
    { id: "ok", type: "helper", z: "tab" },
    { id: "rejected", type: "helper", z: "tab" },
  ];
  await helper.load([connectionNode, accountNode], flow, { conn: conn.credentials });
  unspy(["conn", "acct", "ok", "rejected"]);
  let rejected = 0;
  helper.getNode("rejected").on("input", () => rejected++);
  const inputs = Array.from({ length: n }, (_, i) => ({ payload: customer(`${prefix}-${i}`), externalId: `${prefix}-${i}` }));
  const ms = await drive(helper.getNode("acct"), [helper.getNode("ok"), helper.getNode("rejected")], inputs, v.batch * 10, 900_000);
  await helper.unload();
  return { ms, rejected };
}

/**
 * What a Node-RED user wires without Keelson: a delay node in rate-limit mode, a function node that builds the
 * request, the core http request node, and a retry loop (function + delay) for 429 / 403 limit / 5xx answers.
 */
async function runOnePerCall(v, sb, n, perSecond) {
  const token = await v.token(sb);
  const flow = [
    { id: "tab", type: "tab", label: "one per call" },
    { id: "limit", type: "delay", z: "tab", name: "", pauseType: "rate", timeout: "5", timeoutUnits: "seconds", rate: String(perSecond.rate), nbRateUnits: String(perSecond.every), rateUnits: "second", randomFirst: "1", randomLast: "5", randomUnits: "seconds", drop: false, allowrate: false, outputs: 1, wires: [["build"]] },
    { id: "build", type: "function", z: "tab", name: "", func: `const r = (${v.one.toString()})({ url: ${JSON.stringify(sb.url)} }, msg.key);\nmsg.method = r.method; msg.url = r.url; msg.payload = r.payload;\nmsg.headers = { Authorization: "Bearer ${token}", "Content-Type": "application/json", "OData-Version": "4.0" };\nreturn msg;`, outputs: 1, timeout: 0, noerr: 0, initialize: "", finalize: "", libs: [], wires: [["http"]] },
    { id: "http", type: "http request", z: "tab", name: "", method: "use", ret: "obj", paytoqs: "ignore", url: "", tls: "", persist: true, proxy: "", insecureHTTPParser: false, authType: "", senderr: false, headers: [], wires: [["check"]] },
    { id: "check", type: "function", z: "tab", name: "retry?", func: "const s = msg.statusCode;\nif (s >= 200 && s < 300) return [msg, null];\nmsg.attempt = (msg.attempt || 1) + 1;\nconst retryable = s === 429 || s >= 500 || (s === 403 && JSON.stringify(msg.payload).includes('REQUEST_LIMIT_EXCEEDED'));\nif (!retryable || msg.attempt > 8) return [msg, null];\nconst after = Number(msg.headers && msg.headers['retry-after']);\nmsg.delay = after > 0 ? after * 1000 : Math.min(2000, 50 * 2 ** msg.attempt);\nreturn [null, msg];", outputs: 2, timeout: 0, noerr: 0, initialize: "", finalize: "", libs: [], wires: [["ok"], ["backoff"]] },
    { id: "backoff", type: "delay", z: "tab", name: "", pauseType: "delayv", timeout: "1", timeoutUnits: "seconds", rate: "1", nbRateUnits: "1", rateUnits: "second", randomFirst: "1", randomLast: "5", randomUnits: "seconds", drop: false, allowrate: false, outputs: 1, wires: [["limit"]] },
    { id: "ok", type: "helper", z: "tab" },
  ];
  await helper.load([core.function, core.httpRequest, delayNode], flow);
  const inputs = Array.from({ length: n }, (_, i) => ({ key: `BS-${i}` }));
  const ms = await drive(helper.getNode("limit"), [helper.getNode("ok")], inputs, n, 900_000);
  await helper.unload();
  return { ms };
}

const f = (n, d = 0) => Number(n).toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: d });

async function main() {
  await helper.startServer();
  const rows = [];
  const only = process.env.BENCH_VENDORS ? process.env.BENCH_VENDORS.split(",") : undefined;
  for (const v of VENDORS.filter((x) => !only || only.includes(x.system))) {
    const { sustained } = v;
    const perSecond = (sustained.limit * 1000) / sustained.windowMs;
    // The vendor counts every record of a Dataverse $batch, so batching cannot lift its ceiling.
    const ceiling = perSecond * (v.countsInner ? 1 : v.batch);

    // 1. The node, rate-limited as the vendor sustains it, 20 ms per call.
    let sb = await v.start();
    await control(sb, "PUT", "/faults", { faults: [LATENCY] });
    const node = await runNode(v, sb, v.nodeRecords, "BN", sustained);
    const nodeCalls = await callStats(sb, v.upsertRoute);
    const nodeStored = await v.stored(sb);
    await sb.close();

    // 2. One record per call through core nodes.
    sb = await v.start();
    await control(sb, "PUT", "/faults", { faults: [LATENCY] });
    const interval = 1000 / perSecond;
    const single = await runOnePerCall(v, sb, v.singleRecords, { rate: 1, every: interval / 1000 });
    const singleCalls = await callStats(sb, v.upsertRoute);
    const singleStored = await v.stored(sb);
    await sb.close();

    // 3. The node at 10 % transient faults (503 on the upsert route), rate limit lifted: calls per record.
    sb = await v.start();
    if (v.system === "dataverse") await control(sb, "PUT", "/limits", { windowRequests: 1_000_000 });
    await control(sb, "PUT", "/faults", { faults: [LATENCY, { kind: "error", status: 503, probability: FAULT_RATE, path: `*${v.upsertRoute}*` }] });
    // Without a rate limit every vendor takes the full count: a few batches would make the fault rate a coin toss.
    const faultRecords = RECORDS;
    const faulty = await runNode(v, sb, faultRecords, "BF", undefined);
    const faultCalls = await callStats(sb, v.upsertRoute);
    const faultStored = await v.stored(sb);
    await sb.close();

    const nodeRate = (v.nodeRecords / node.ms) * 1000;
    const singleRate = (v.singleRecords / single.ms) * 1000;
    const minCallsPerRecord = 1 / ((1 - FAULT_RATE) * v.batch);
    const callsPerRecord = faultCalls.upserts / faultRecords;
    rows.push({ v, ceiling, nodeRate, singleRate, node, nodeCalls, nodeStored, single, singleCalls, singleStored, faulty, faultCalls, faultStored, faultRecords, minCallsPerRecord, callsPerRecord, perSecond });
  }
  await helper.stopServer();

  const load = require("node:os").loadavg().map((l) => l.toFixed(1)).join(" ");
  console.log(`\nCRM account upserts, 20 ms latency per call, vendor rate limits (one run, ${new Date().toISOString()}, ${require("node:os").cpus().length} cores, load average ${load})\n`);
  for (const r of rows) {
    const { v } = r;
    console.log(`${v.system} — ${v.vendorRate}; sustained ${f(r.perSecond, 3)} calls/s; batch ${v.batch}`);
    console.log(`  keelson node    ${f(v.nodeRecords)} records in ${f(r.node.ms / 1000, 1)} s = ${f(r.nodeRate, 1)} rec/s; ceiling ${f(r.ceiling, 1)} rec/s → ${f((100 * r.nodeRate) / r.ceiling, 1)} % of ceiling; ${r.nodeStored} stored, ${r.node.rejected} rejected`);
    console.log(`                  ${r.nodeCalls.calls} calls, ${r.nodeCalls.throttled} throttled answers = ${f((100 * r.nodeCalls.throttled) / Math.max(1, r.nodeCalls.calls), 2)} %`);
    console.log(`  one per call    ${f(v.singleRecords)} records${v.singleRecords < v.nodeRecords ? " (fewer: the ratio is rate-based)" : ""} in ${f(r.single.ms / 1000, 1)} s = ${f(r.singleRate, 2)} rec/s; ${r.singleCalls.calls} calls, ${r.singleCalls.throttled} throttled; ${r.singleStored} stored`);
    console.log(`  node / one-per-call = ${f(r.nodeRate / r.singleRate, 1)}×${v.countsInner ? " (Dataverse counts every record of a $batch against service protection: no batch gain is possible)" : ""}`);
    console.log(`  10 % faults     ${f(r.faultRecords)} records in ${f(r.faulty.ms / 1000, 1)} s (${f((r.faultRecords / r.faulty.ms) * 1000, 0)} rec/s with the rate limit lifted: what this machine processes), ${r.faultCalls.upserts} upsert calls = ${f(r.callsPerRecord, 5)} calls/record; minimum ${f(r.minCallsPerRecord, 5)} → ${f(r.callsPerRecord / r.minCallsPerRecord, 3)}×; ${r.faultStored} stored, ${r.faulty.rejected} rejected`);
    console.log("");
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
