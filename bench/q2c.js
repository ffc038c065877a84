"use strict";
// bench/q2c: quote-to-cash end to end — webhook POST → order.created on MQTT — against the Salesforce and NetSuite
// sandboxes (no injected latency, limits raised so neither side is throttled), side by side in one run, each in its
// own real Node-RED process:
//   keelson     flows/quote-to-cash.json as shipped: gate, validation, DLQ, durable file store;
//   hand-wired  the same vendor calls wired from core nodes only (http in/response, http request, change, function,
//               mqtt out): no gate, no validation, no DLQ, nothing durable — the most favourable hand-built flow.
// Prints orders/s and p50/p99 latency of each and the ratio keelson / hand-wired (target ≥ 0.70), and the vendor
// calls per order each made (they should match: a ratio means little if one side does less work).
//   BENCH_ORDERS=200        orders per measured round and variant
//   BENCH_CONCURRENCY=8     webhook calls in flight (closed loop)
//   BENCH_ROUNDS=3          measured rounds, alternating the variants' order, after one warm-up round
//   the variant "keelson+telemetry" runs the same flow with Keelson's recording on (metrics and trace, see
//   TELEMETRY_SETTINGS; target: at most 10 % fewer orders/s); BENCH_TELEMETRY_LOGS=1 adds JSON step logs to it
//   BENCH_CPU_PROFILE=dir   runs each Node-RED with --cpu-prof, profiles written to dir
const assert = require("node:assert/strict");
const fs = require("node:fs");
const net = require("node:net");
const os = require("node:os");
const path = require("node:path");
const mqtt = require("mqtt");
const { startNodeRed, freePort } = require("../test/support/nodered");
const { userDirWithPackage } = require("../test/support/browser");
const salesforce = require("../dist/sandbox/salesforce.js");
const netsuite = require("../dist/sandbox/netsuite.js");
const { sandboxEnvironment } = require("../scripts/demo-records");
const { fmt } = require("./lib/harness");

const ORDERS = Number(process.env.BENCH_ORDERS || 200);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY || 8);
const ROUNDS = Number(process.env.BENCH_ROUNDS || 3);
const WARMUP_ORDERS = Math.max(20, Math.floor(ORDERS / 4));
const FLOW_FILE = path.join(__dirname, "..", "flows", "quote-to-cash.json");
const API = "/services/data/v59.0";

/** settings.js `keelson` turning the recording on (README, Telemetry); JSON step logs only when asked. */
const TELEMETRY_SETTINGS = { keelson: { metrics: { enabled: true }, trace: { enabled: true }, logs: { json: Boolean(process.env.BENCH_TELEMETRY_LOGS) } } };

async function main() {
  if (!fs.existsSync(FLOW_FILE)) throw new Error(`${path.relative(process.cwd(), FLOW_FILE)} is missing: the Keelson side of the comparison is the shipped quote-to-cash flow`);
  const load = os.loadavg().map((l) => l.toFixed(2)).join(" ");
  console.log(`bench/q2c — quote-to-cash end to end (webhook → order.created), Salesforce + NetSuite sandboxes, no injected latency; ${ORDERS} orders × ${ROUNDS} rounds, ${CONCURRENCY} in flight; load average at start ${load} on ${os.cpus().length} cores`);

  const sf = await salesforce.start({ port: 0, limits: { dailyApiRequests: 100_000_000 } });
  const ns = await netsuite.start({ port: 0, limits: { concurrentRequests: 1000 } });
  const broker = await startBroker();
  const events = await subscribe(broker.url);
  const variants = [];
  try {
    const seed = await seedVendors(sf.url, ns.url);
    const vendorEnv = environment(sf.url, ns.url, broker.url);
    variants.push(await startVariant("keelson", { flows: keelsonFlows(), env: vendorEnv, webhook: "/keelson/q2c/opportunity-won" }));
    variants.push(await startVariant("keelson+telemetry", { flows: keelsonFlows(), env: vendorEnv, settings: TELEMETRY_SETTINGS, webhook: "/keelson/q2c/opportunity-won" }));
    variants.push(await startVariant("hand-wired", { flows: handWiredFlows(sf.url, ns.url), env: vendorEnv, settings: { functionExternalModules: true }, webhook: "/handwired/q2c/opportunity-won", ready: (v) => waitForToken(v) }));

    const results = Object.fromEntries(variants.map((v) => [v.name, { rates: [], latencies: [], calls: {}, cpuMs: 0 }]));
    for (let round = 0; round <= ROUNDS; round++) {
      const order = round % 2 === 0 ? variants : [...variants].reverse();
      for (const v of order) {
        const n = round === 0 ? WARMUP_ORDERS : ORDERS;
        const opportunities = await seed.opportunities(n);
        const before = await callCounts(sf.url, ns.url);
        const cpuBefore = cpuMs(v.red.proc.pid);
        const run = await drive(v, opportunities, events);
        await new Promise((r) => setTimeout(r, 300)); // the write-backs that follow the last events
        const cpu = cpuMs(v.red.proc.pid) - cpuBefore;
        const after = await callCounts(sf.url, ns.url);
        await assertOrdersCreated(ns.url, opportunities, v.name);
        if (round === 0) continue;
        results[v.name].rates.push(run.rate);
        results[v.name].latencies.push(...run.latencies);
        results[v.name].cpuMs += cpu;
        for (const [route, count] of Object.entries(after)) results[v.name].calls[route] = (results[v.name].calls[route] ?? 0) + count - (before[route] ?? 0);
        console.log(`  round ${round} ${v.name.padEnd(18)} ${fmt(run.rate).padStart(5)} orders/s  p50 ${run.p50.toFixed(1)} ms  p99 ${run.p99.toFixed(1)} ms  Node-RED CPU ${(cpu / n).toFixed(2)} ms/order`);
      }
    }

    console.log("");
    console.log(`  ${"variant".padEnd(18)} ${"orders/s".padStart(9)} ${"best".padStart(6)} ${"p50 ms".padStart(8)} ${"p99 ms".padStart(8)} ${"CPU ms/order".padStart(13)}  vendor calls per order`);
    const summary = {};
    for (const v of variants) {
      const r = results[v.name];
      const rates = [...r.rates].sort((a, b) => a - b);
      const lat = [...r.latencies].sort((a, b) => a - b);
      summary[v.name] = { median: rates[Math.floor(rates.length / 2)], best: rates[rates.length - 1], p50: percentile(lat, 0.5), p99: percentile(lat, 0.99), cpu: r.cpuMs / (ORDERS * ROUNDS) };
      const perOrder = Object.entries(r.calls).filter(([, c]) => c > 0).map(([route, c]) => `${route} ${(c / (ORDERS * ROUNDS)).toFixed(2)}`).join(", ");
      const s = summary[v.name];
      console.log(`  ${v.name.padEnd(18)} ${fmt(s.median).padStart(9)} ${fmt(s.best).padStart(6)} ${s.p50.toFixed(1).padStart(8)} ${s.p99.toFixed(1).padStart(8)} ${s.cpu.toFixed(2).padStart(13)}  ${perOrder}`);
    }
    const ratio = summary.keelson.median / summary["hand-wired"].median;
    console.log(`  ratio keelson / hand-wired (median orders/s): ${ratio.toFixed(2)} (target ≥ 0.70); p50 ${(summary.keelson.p50 / summary["hand-wired"].p50).toFixed(2)}×, p99 ${(summary.keelson.p99 / summary["hand-wired"].p99).toFixed(2)}× the hand-wired latency`);
    // CPU per order is what the machine's other load disturbs least: the cost of each flow itself.
    console.log(`  Node-RED CPU per order keelson / hand-wired: ${(summary.keelson.cpu / summary["hand-wired"].cpu).toFixed(2)}× (hand-wired / keelson ${(summary["hand-wired"].cpu / summary.keelson.cpu).toFixed(2)})`);
    const recording = summary["keelson+telemetry"].median / summary.keelson.median;
    console.log(`  telemetry on / off (${TELEMETRY_SETTINGS.keelson.logs.json ? "metrics, trace, JSON logs" : "metrics and trace"}): orders/s ${recording.toFixed(2)} (target ≥ 0.90), CPU per order ${(summary["keelson+telemetry"].cpu / summary.keelson.cpu).toFixed(2)}×`);
    console.log(`  load average at end ${os.loadavg().map((l) => l.toFixed(2)).join(" ")} (other work on this machine skews both sides alike, not necessarily equally)`);
  } finally {
    for (const v of variants) await v.stop();
    await events.close();
    await broker.close();
    await sf.close();
    await ns.close();
  }
}

/** The shipped flow, unchanged: it reads its endpoints from the environment. */
function keelsonFlows() {
  return JSON.parse(fs.readFileSync(FLOW_FILE, "utf8"));
}

/** What scripts/start.js gives the flows: the sandboxes' endpoints and credentials, MQTT, a file store. */
function environment(sfUrl, nsUrl, mqttUrl) {
  return sandboxEnvironment({ crm: "salesforce", erp: "netsuite", urls: { salesforce: sfUrl, netsuite: nsUrl }, mqttUrl, store: "file" });
}

async function startVariant(name, { flows, env, settings = {}, webhook, ready }) {
  const userDir = userDirWithPackage(fs.mkdtempSync(path.join(os.tmpdir(), `keelson-bench-q2c-${name.replace(/\W/g, "")}-`)));
  const profileDir = process.env.BENCH_CPU_PROFILE ? path.resolve(process.env.BENCH_CPU_PROFILE) : undefined;
  if (profileDir) fs.mkdirSync(profileDir, { recursive: true });
  const red = await startNodeRed({
    userDir,
    flows,
    env,
    execArgv: profileDir ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=q2c-${name.replace(/\W/g, "")}.cpuprofile`] : [],
    settings: { logging: { console: { level: "warn", metrics: false, audit: false } }, ...settings },
    timeoutMs: 60000,
  });
  const variant = {
    name,
    url: red.url + webhook,
    red,
    async stop() {
      await red.stop(profileDir ? "SIGINT" : "SIGTERM");
      fs.rmSync(userDir, { recursive: true, force: true });
    },
  };
  if (ready) await ready(variant);
  return variant;
}

/**
 * Closed loop: CONCURRENCY workers each POST the next opportunity's webhook and wait for its order.created event.
 * Latency is POST sent → event received; the rate is orders over the whole run's wall time.
 */
async function drive(variant, opportunities, events) {
  const latencies = [];
  let next = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < opportunities.length) {
      const id = opportunities[next++];
      const t0 = performance.now();
      const arrived = events.waitFor(id, variant);
      const res = await fetch(variant.url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ opportunityId: id }) });
      await res.arrayBuffer();
      if (res.status !== 202) {
        events.forget(id);
        throw new Error(`${variant.name}: webhook answered ${res.status} for ${id}`);
      }
      await arrived;
      latencies.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, opportunities.length) }, worker));
  const ms = performance.now() - started;
  const sorted = [...latencies].sort((a, b) => a - b);
  return { rate: (opportunities.length * 1000) / ms, latencies, p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99) };
}

/** User + system CPU time a process has used, in ms (Linux /proc; clock ticks of 10 ms). */
function cpuMs(pid) {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)];

/** order.created events, matched to the opportunity that caused them by the opportunity id they carry. */
async function subscribe(url) {
  const client = await mqtt.connectAsync(url, { clean: true });
  const waiting = new Map();
  client.on("message", (topic, payload) => {
    if (!/order[./_-]?created/i.test(topic)) return;
    const text = payload.toString();
    for (const [id, w] of waiting) {
      if (text.includes(id)) {
        waiting.delete(id);
        clearTimeout(w.timer);
        w.resolve();
        return;
      }
    }
  });
  await client.subscribeAsync("#", { qos: 0 });
  return {
    waitFor(id, variant) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting.delete(id);
          reject(new Error(`${variant.name}: no order.created for ${id} within 30 s\n${variant.red.log.slice(-3000)}`));
        }, 30000);
        waiting.set(id, { resolve, timer });
      });
    },
    forget(id) {
      const w = waiting.get(id);
      if (w) clearTimeout(w.timer);
      waiting.delete(id);
    },
    close: () => client.endAsync(),
  };
}

async function startBroker() {
  const { Aedes } = await import("aedes");
  const broker = await Aedes.createBroker();
  const server = net.createServer(broker.handle);
  const port = await freePort();
  await new Promise((resolve, reject) => server.once("error", reject).listen(port, "127.0.0.1", resolve));
  return { url: `mqtt://127.0.0.1:${port}`, close: () => new Promise((resolve) => broker.close(() => server.close(() => resolve()))) };
}

async function control(base, method, route, body) {
  const res = await fetch(base + route, { method, headers: { "content-type": "application/json" }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${route}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

/**
 * Two products known to both systems (NetSuite items with the SKU as external id), one account already linked to a
 * NetSuite customer (a repeat customer: the common case), and on demand N fresh won opportunities of two lines.
 */
async function seedVendors(sfUrl, nsUrl) {
  const tag = Date.now().toString(36);
  await control(nsUrl, "POST", "/__sandbox/records/inventoryItem", [
    { itemId: `BENCH-A-${tag}`, displayName: "Bench widget", basePrice: 12.5, externalId: `BENCH-A-${tag}` },
    { itemId: `BENCH-B-${tag}`, displayName: "Bench gadget", basePrice: 40, externalId: `BENCH-B-${tag}` },
  ]);
  const customers = (await control(nsUrl, "GET", "/__sandbox/records/customer")).records;
  const customer = customers[0];
  const [a] = await seedOne(sfUrl, "Product2", { Name: "Bench widget", ProductCode: `BENCH-A-${tag}`, IsActive: true });
  const [b] = await seedOne(sfUrl, "Product2", { Name: "Bench gadget", ProductCode: `BENCH-B-${tag}`, IsActive: true });
  const [account] = await seedOne(sfUrl, "Account", { Name: "Bench Customer Ltd", BillingStreet: "1 Bench Road", BillingCity: "Leeds", BillingPostalCode: "LS1 1AA", BillingCountry: "United Kingdom", BillingCountryCode: "GB", ERP_Customer_Id__c: String(customer.id), ERP_System__c: "netsuite" });
  return {
    async opportunities(n) {
      const opps = await seedOne(sfUrl, "Opportunity", Array.from({ length: n }, (_, i) => ({ Name: `Bench deal ${i}`, AccountId: account.Id, StageName: "Closed Won", CloseDate: "2026-11-20", Amount: 65, PO_Number__c: `PO-${i}` })));
      const lines = opps.flatMap((o) => [
        { OpportunityId: o.Id, Product2Id: a.Id, Quantity: 2, UnitPrice: 12.5 },
        { OpportunityId: o.Id, Product2Id: b.Id, Quantity: 1, UnitPrice: 40 },
      ]);
      await seedOne(sfUrl, "OpportunityLineItem", lines);
      return opps.map((o) => o.Id);
    },
  };
}

async function seedOne(base, type, body) {
  const answer = await control(base, "POST", `/__sandbox/records/${type}`, body);
  const records = Array.isArray(answer) ? answer : answer.records ?? [answer];
  return records;
}

/** Requests each sandbox answered so far, by route (both sandboxes, prefixed with the vendor). */
async function callCounts(sfUrl, nsUrl) {
  const counts = {};
  for (const [vendor, base] of [["sf", sfUrl], ["ns", nsUrl]]) {
    const stats = await control(base, "GET", "/__sandbox/stats");
    for (const [route, s] of Object.entries(stats.routes)) counts[`${vendor} ${route}`] = s.requests;
  }
  return counts;
}

/** Every opportunity of the round has exactly one NetSuite sales order (external id SF-<opportunity id>). */
async function assertOrdersCreated(nsUrl, opportunities, name) {
  const orders = (await control(nsUrl, "GET", "/__sandbox/records/salesOrder")).records;
  const byRef = new Map();
  for (const o of orders) byRef.set(o.externalId, (byRef.get(o.externalId) ?? 0) + 1);
  const missing = opportunities.filter((id) => byRef.get(`SF-${id}`) !== 1);
  assert.equal(missing.length, 0, `${name}: ${missing.length} opportunities without exactly one sales order (e.g. ${missing[0]})`);
}

/** Resolves once the hand-wired flow holds its Salesforce token (fetched once at start, as a hand-built flow would). */
async function waitForToken(variant) {
  const deadline = Date.now() + 20000;
  while (!/salesforce token ready/.test(variant.red.log)) {
    if (Date.now() > deadline) throw new Error(`hand-wired flow got no Salesforce token:\n${variant.red.log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * The hand-built quote-to-cash: the vendor calls Keelson makes for a linked customer (Salesforce query of the
 * opportunity with its lines and account, NetSuite eid: upsert of the sales order, NetSuite read of its number,
 * order.created on MQTT, Salesforce write-back of number and status), wired from core nodes; NetSuite token-based
 * auth signed in a function node (crypto), the Salesforce token fetched once at start.
 */
function handWiredFlows(sfUrl, nsUrl) {
  const d = netsuite.NETSUITE_DEFAULTS;
  const sfAuth = salesforce.SALESFORCE_DEFAULTS;
  const tab = "b2c0000000000001";
  let seq = 1;
  const id = () => `b2c00000000001${String(seq++).padStart(2, "0")}`;
  const ids = { start: id(), tokenForm: id(), tokenReq: id(), tokenSet: id(), tokenLog: id(), webhook: id(), accept: id(), respond: id(), query: id(), queryReq: id(), toOrder: id(), orderReq: id(), readBack: id(), readReq: id(), fanOut: id(), mqtt: id(), writeReq: id(), broker: id() };
  // OAuth 1.0a HMAC-SHA256 header for NetSuite TBA: realm = account id, query parameters signed.
  const signer = `
const pct = (s) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());
function tba(method, url) {
  const u = new URL(url);
  const oauth = [["oauth_consumer_key", ${JSON.stringify(d.tba.consumerKey)}], ["oauth_token", ${JSON.stringify(d.tba.tokenId)}], ["oauth_signature_method", "HMAC-SHA256"], ["oauth_timestamp", String(Math.floor(Date.now() / 1000))], ["oauth_nonce", crypto.randomBytes(16).toString("hex")], ["oauth_version", "1.0"]];
  const params = [...oauth, ...u.searchParams].map(([n, v]) => [pct(n), pct(v)]).sort((a, b) => (a[0] === b[0] ? (a[1] < b[1] ? -1 : 1) : a[0] < b[0] ? -1 : 1));
  const base = method + "&" + pct(u.origin + u.pathname) + "&" + pct(params.map(([n, v]) => n + "=" + v).join("&"));
  const signature = crypto.createHmac("sha256", pct(${JSON.stringify(d.tba.consumerSecret)}) + "&" + pct(${JSON.stringify(d.tba.tokenSecret)})).update(base).digest("base64");
  return "OAuth realm=\\"" + ${JSON.stringify(d.accountId)} + "\\"," + [...oauth, ["oauth_signature", signature]].map(([n, v]) => n + "=\\"" + pct(v) + "\\"").join(",");
}
`;
  const libs = [{ var: "crypto", module: "crypto" }];
  const fn = (key, name, func, outputs, wires, extra = {}) => ({ id: ids[key], type: "function", z: tab, name, func, outputs, timeout: 0, noerr: 0, initialize: "", finalize: "", libs: [], x: 0, y: 0, wires, ...extra });
  const http = (key, name, wires) => ({ id: ids[key], type: "http request", z: tab, name, method: "use", ret: "obj", paytoqs: "ignore", url: "", tls: "", persist: true, proxy: "", insecureHTTPParser: false, authType: "", senderr: false, headers: [], x: 0, y: 0, wires });
  const query = `SELECT Id, Name, StageName, IsClosed, IsWon, CloseDate, Amount, AccountId, LastModifiedDate, Account.Id, Account.Name, Account.ERP_Customer_Id__c, Account.ERP_System__c, (SELECT Id, Product2Id, Product2.Name, Product2.ProductCode, ProductCode, Name, Description, Quantity, UnitPrice, TotalPrice FROM OpportunityLineItems ORDER BY SortOrder, Id) FROM Opportunity WHERE Id = `;
  return [
    { id: tab, type: "tab", label: "Quote to cash, hand-wired" },
    { id: ids.broker, type: "mqtt-broker", name: "bench broker", broker: "${MQTT_URL}", port: "", clientid: "", autoConnect: true, usetls: false, protocolVersion: "4", keepalive: "60", cleansession: true },
    // Salesforce token, once at start.
    { id: ids.start, type: "inject", z: tab, name: "at start", props: [], repeat: "", once: true, onceDelay: 0.1, topic: "", x: 0, y: 0, wires: [[ids.tokenForm]] },
    fn("tokenForm", "token request", `msg.payload = ${JSON.stringify(`grant_type=client_credentials&client_id=${encodeURIComponent(sfAuth.clientId)}&client_secret=${encodeURIComponent(sfAuth.clientSecret)}`)};
msg.headers = { "content-type": "application/x-www-form-urlencoded" };
return msg;`, 1, [[ids.tokenReq]]),
    { id: ids.tokenReq, type: "http request", z: tab, name: "Salesforce token", method: "POST", ret: "obj", paytoqs: "ignore", url: `${sfUrl}/services/oauth2/token`, tls: "", persist: false, proxy: "", authType: "", senderr: false, headers: [], x: 0, y: 0, wires: [[ids.tokenSet]] },
    { id: ids.tokenSet, type: "change", z: tab, name: "keep token", rules: [{ t: "set", p: "sfToken", pt: "flow", to: "payload.access_token", tot: "msg" }], x: 0, y: 0, wires: [[ids.tokenLog]] },
    fn("tokenLog", "log ready", 'node.warn("salesforce token ready"); return null;', 1, [[]]),
    // Webhook: 202 at once, the work goes on.
    { id: ids.webhook, type: "http in", z: tab, name: "opportunity won", url: "/handwired/q2c/opportunity-won", method: "post", upload: false, swaggerDoc: "", x: 0, y: 0, wires: [[ids.accept]] },
    fn("accept", "accept", `const id = msg.payload && msg.payload.opportunityId;
if (typeof id !== "string" || !id) { msg.statusCode = 400; msg.payload = { error: "opportunityId missing" }; return [msg, null]; }
const work = { opportunityId: id };
msg.statusCode = 202; msg.payload = { accepted: id };
return [msg, work];`, 2, [[ids.respond], [ids.query]]),
    { id: ids.respond, type: "http response", z: tab, name: "202", statusCode: "", headers: {}, x: 0, y: 0, wires: [] },
    fn("query", "query opportunity", `msg.method = "GET";
msg.url = ${JSON.stringify(sfUrl + API + "/query?q=")} + encodeURIComponent(${JSON.stringify(query)} + "'" + msg.opportunityId.replace(/'/g, "\\\\'") + "'");
msg.headers = { authorization: "Bearer " + flow.get("sfToken"), accept: "application/json" };
delete msg.payload;
return msg;`, 1, [[ids.queryReq]]),
    http("queryReq", "Salesforce query", [[ids.toOrder]]),
    fn("toOrder", "to NetSuite order", `${signer}
if (msg.statusCode !== 200 || !msg.payload.records || !msg.payload.records[0]) { node.error("query failed: " + msg.statusCode, msg); return null; }
const o = msg.payload.records[0];
msg.opportunity = { id: o.Id, name: o.Name };
const externalId = "SF-" + o.Id;
msg.payload = {
  externalId,
  entity: { id: o.Account.ERP_Customer_Id__c },
  tranDate: o.CloseDate,
  otherRefNum: o.PO_Number__c || undefined,
  subsidiary: { id: "1" },
  item: { items: o.OpportunityLineItems.records.map((l) => ({ item: { externalId: l.Product2.ProductCode }, quantity: l.Quantity, rate: l.UnitPrice })) },
};
msg.method = "PUT";
msg.url = ${JSON.stringify(nsUrl + "/services/rest/record/v1/salesOrder/eid:")} + encodeURIComponent(externalId);
msg.headers = { authorization: tba("PUT", msg.url), "content-type": "application/json", accept: "application/json" };
return msg;`, 1, [[ids.orderReq]], { libs }),
    http("orderReq", "NetSuite upsert order", [[ids.readBack]]),
    fn("readBack", "read order number", `${signer}
if (msg.statusCode !== 204) { node.error("order failed: " + msg.statusCode + " " + JSON.stringify(msg.payload), msg); return null; }
const id = String(msg.headers.location).split("/").pop();
msg.orderId = id;
msg.method = "GET";
msg.url = ${JSON.stringify(nsUrl + "/services/rest/record/v1/salesOrder/")} + id + "?fields=tranId,status";
msg.headers = { authorization: tba("GET", msg.url), accept: "application/json" };
delete msg.payload;
return msg;`, 1, [[ids.readReq]], { libs }),
    http("readReq", "NetSuite read order", [[ids.fanOut]]),
    fn("fanOut", "event + write-back", `if (msg.statusCode !== 200) { node.error("read failed: " + msg.statusCode, msg); return null; }
const number = msg.payload.tranId;
const status = msg.payload.status && (msg.payload.status.refName || msg.payload.status.id);
const event = { topic: "handwired/order.created", payload: JSON.stringify({ type: "order.created", opportunityId: msg.opportunityId, orderId: msg.orderId, orderNumber: number }) };
const writeBack = {
  method: "PATCH",
  url: ${JSON.stringify(sfUrl + API + "/sobjects/Opportunity/")} + encodeURIComponent(msg.opportunityId),
  headers: { authorization: "Bearer " + flow.get("sfToken"), "content-type": "application/json" },
  payload: { ERP_Order_Number__c: number, ERP_Order_Status__c: status },
};
return [event, writeBack];`, 2, [[ids.mqtt], [ids.writeReq]]),
    { id: ids.mqtt, type: "mqtt out", z: tab, name: "order.created", topic: "", qos: "1", retain: "false", respTopic: "", contentType: "", userProps: "", correl: "", expiry: "", broker: ids.broker, x: 0, y: 0, wires: [] },
    http("writeReq", "Salesforce write-back", [[]]),
  ];
}

main().catch((err) => {
  console.error(`bench/q2c failed: ${err.stack || err.message}`);
  process.exitCode = 1;
});
