"use strict";
// Shared by the per-vendor ERP tests (oracle-fusion, acumatica, dynamics-fo, sap-payment, generic-rest): the test
// file's sandbox and its lifecycle, the fault kinds every create must survive, and real Node-RED flows around
// keelson-erp-order / keelson-erp-invoice. Not a test file.
const test = require("node:test");
const { helper } = require("../support/helper");
const storeNode = require("../../dist/nodes/store/store.js");
const connectionNode = require("../../dist/nodes/erp-connection/erp-connection.js");
const orderNode = require("../../dist/nodes/erp-order/erp-order.js");
const invoiceNode = require("../../dist/nodes/erp-invoice/erp-invoice.js");

/** Fast retries so fault tests take milliseconds, not seconds. */
const FAST = { retry: { maxAttempts: 6, baseDelayMs: 5, maxDelayMs: 20, maxElapsedMs: 5000 }, timeoutMs: 2000 };

/** Every fault the sandboxes inject on a create, with the connection settings the case needs. */
const CREATE_FAULTS = [
  { fault: { kind: "throttle", count: 2 } },
  { fault: { kind: "error", status: 503, count: 2 } },
  { fault: { kind: "outage", durationMs: 600, mode: "reset" }, connection: { retry: { maxAttempts: 30, baseDelayMs: 20, maxDelayMs: 100, maxElapsedMs: 10000 }, breaker: { failureThreshold: 100, minimumCalls: 1000 } } },
  { fault: { kind: "outage", durationMs: 600, mode: "503" }, connection: { retry: { maxAttempts: 30, baseDelayMs: 20, maxDelayMs: 100, maxElapsedMs: 10000 }, breaker: { failureThreshold: 100, minimumCalls: 1000 } } },
  { fault: { kind: "html-502", count: 1 } },
  { fault: { kind: "malformed", count: 1 } },
  { fault: { kind: "lost-response", count: 1 } },
  // The late original of a timed-out request commits after the client gave up on it, but before the look-up that
  // follows (which waits as long as the request had).
  { fault: { kind: "latency", ms: 600, count: 1 }, connection: { timeoutMs: 400 }, settleMs: 400 },
];

/**
 * A test file's sandbox: started once (by `start({port: 0})`), with Node-RED's test server around the file; after
 * each test the adapters handed to `track` are closed (open sessions count against a licence, as at Acumatica), the
 * test's flows unloaded, the faults cleared, then `afterEach(url)` for whatever else the file resets.
 */
function useSandbox(start, { afterEach } = {}) {
  let sb;
  const adapters = [];
  test.before(async () => {
    sb = await start({ port: 0 });
    await helper.startServer();
  });
  test.after(async () => {
    await sb.close();
    await helper.stopServer();
  });
  test.afterEach(async () => {
    for (const a of adapters.splice(0)) await a.close();
    await helper.unload();
    await control.clearFaults(sb.url);
    if (afterEach) await afterEach(sb.url);
  });
  return {
    get url() {
      return sb.url;
    },
    get kernel() {
      return sb.kernel;
    },
    track(adapter) {
      adapters.push(adapter);
      return adapter;
    },
  };
}

const name = (f) => `${f.kind}${f.mode ? ` (${f.mode})` : ""}`;

async function json(base, method, path, body) {
  const res = await fetch(base + path, { method, headers: { "content-type": "application/json" }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

const control = {
  faults: (base, faults) => json(base, "PUT", "/__sandbox/faults", { faults }),
  clearFaults: (base) => json(base, "DELETE", "/__sandbox/faults"),
  limits: (base, limits) => json(base, "PUT", "/__sandbox/limits", limits),
  expireTokens: (base) => json(base, "POST", "/__sandbox/tokens/expire"),
  stats: (base) => json(base, "GET", "/__sandbox/stats"),
  records: async (base, type) => (await json(base, "GET", `/__sandbox/records/${type}`)).records,
  seed: async (base, type, body) => (await json(base, "POST", `/__sandbox/records/${type}`, body)).records,
};

/** Requests a route of the sandbox answered, by "METHOD pattern" substring. */
function requests(stats, method, fragment) {
  return Object.entries(stats.routes)
    .filter(([route]) => route.startsWith(`${method} `) && route.includes(fragment))
    .reduce((n, [, r]) => n + r.requests, 0);
}

/** A keelson-erp-connection node (id "conn") with its credentials. */
function connection(fields, credentials) {
  return {
    def: { id: "conn", type: "keelson-erp-connection", name: `${fields.system} sandbox`, maxAttempts: 6, timeoutSeconds: 2, orderDefaults: "", ...fields },
    creds: { conn: credentials },
  };
}

/** Loads connection + keelson-erp-order; run(msg) resolves with {out: accepted | rejected | caught, msg}. */
async function orderFlow({ def, creds }, { operation = "create", ensureCustomer = false } = {}) {
  await helper.load([connectionNode, orderNode], [
    { id: "tab", type: "tab", label: "erp" },
    def,
    { id: "order", type: "keelson-erp-order", z: "tab", connection: "conn", operation, ensureCustomer, customer: "customer", customerType: "msg", wires: [["accepted"], ["rejected"]] },
    { id: "accepted", type: "helper", z: "tab" },
    { id: "rejected", type: "helper", z: "tab" },
    { id: "catcher", type: "catch", z: "tab", scope: ["order"], uncaught: false, wires: [["caught"]] },
    { id: "caught", type: "helper", z: "tab" },
  ], creds);
  return sendOrder;
}

/** Sends msg into the loaded order node; resolves with {out: accepted | rejected | caught, msg}. */
function sendOrder(msg, ms = 10000) {
  const outs = ["accepted", "rejected", "caught"];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    for (const out of outs) {
      helper.getNode(out).once("input", (m) => {
        clearTimeout(timer);
        for (const o of outs) helper.getNode(o).removeAllListeners("input");
        resolve({ out, msg: m });
      });
    }
    helper.getNode("order").receive(msg);
  });
}

/** Loads store + connection + keelson-erp-invoice; run(msg) collects every output until Complete or Catch. */
async function invoiceFlow({ def, creds }, { operation = "list", pageSize = 2, watermark = "test" } = {}) {
  await helper.load([storeNode, connectionNode, invoiceNode], [
    { id: "tab", type: "tab", label: "erp" },
    { id: "st", type: "keelson-store", backend: "memory", dir: "", redisUrl: "", prefix: "", postgresUrl: "", schema: "", tablePrefix: "", timeout: 1000 },
    def,
    { id: "inv", type: "keelson-erp-invoice", z: "tab", connection: "conn", operation, store: "st", watermark, pageSize, wires: [["out"], ["rejected"]] },
    { id: "out", type: "helper", z: "tab" },
    { id: "rejected", type: "helper", z: "tab" },
    { id: "catcher", type: "catch", z: "tab", scope: ["inv"], uncaught: false, wires: [["caught"]] },
    { id: "caught", type: "helper", z: "tab" },
    { id: "completer", type: "complete", z: "tab", scope: ["inv"], uncaught: false, wires: [["completed"]] },
    { id: "completed", type: "helper", z: "tab" },
  ], creds);
  const run = (msg) => sendInvoice(msg);
  run.watermark = async () => (await helper.getNode("st").store()).getWatermark(watermark);
  return run;
}

/**
 * Sends msg into the loaded invoice node and collects every output until it is done (Complete) or fails (Catch);
 * `onFirst(msg)` sees the first invoice as it comes out.
 */
function sendInvoice(msg = { payload: "" }, { onFirst } = {}) {
  return new Promise((resolve, reject) => {
    const seen = { out: [], rejected: [], caught: [] };
    const timer = setTimeout(() => reject(new Error(`not done within 10 s: ${JSON.stringify(seen).slice(0, 300)}`)), 10000);
    helper.getNode("out").on("input", (m) => {
      if (seen.out.length === 0 && onFirst) onFirst(m);
      seen.out.push(m);
    });
    helper.getNode("rejected").on("input", (m) => seen.rejected.push(m));
    const finish = () => {
      clearTimeout(timer);
      // Messages sent just before done() are delivered first; give them a tick.
      setImmediate(() => {
        for (const id of ["out", "rejected", "caught", "completed"]) helper.getNode(id).removeAllListeners("input");
        resolve(seen);
      });
    };
    helper.getNode("caught").on("input", (m) => {
      seen.caught.push(m);
      finish();
    });
    helper.getNode("completed").once("input", finish);
    helper.getNode("inv").receive(msg);
  });
}

let sequence = 0;
/** A unique tag for external references. */
function tag() {
  sequence++;
  return `${Date.now().toString(36)}${process.pid.toString(36)}${sequence}`.toUpperCase();
}

/**
 * A canonical SalesOrder of a fresh Salesforce opportunity for Globex (two lines, EUR), its customer already linked to
 * the ERP's C-1001 as `customerRef` ({system, type}) names it.
 */
function salesOrder(customerRef, overrides = {}) {
  const t = tag();
  return {
    refs: [{ system: "salesforce", id: `006${t}`, type: "Opportunity" }],
    externalReference: `SF-${t}`,
    customer: { refs: [{ system: "salesforce", id: `001${t}` }, { id: "C-1001", ...customerRef }], name: "Globex GmbH" },
    orderDate: "2026-11-20",
    currency: "EUR",
    lines: [
      { lineNumber: 1, product: { sku: "GAD-2" }, quantity: 2, unitPrice: { amount: "150.00", currency: "EUR" } },
      { lineNumber: 2, product: { sku: "WID-1" }, quantity: 3, unitPrice: { amount: "9.99", currency: "EUR" } },
    ],
    ...overrides,
  };
}

module.exports = { useSandbox, FAST, CREATE_FAULTS, name, control, requests, connection, orderFlow, sendOrder, invoiceFlow, sendInvoice, tag, salesOrder, helper };
