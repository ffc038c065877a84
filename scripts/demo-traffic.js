#!/usr/bin/env node
// `npm run demo:traffic`: a steady stream of business for the reference flows that `npm start` runs, so the editor
// shows statuses moving and the Keelson sidebar's dead letters filling and draining. Until Ctrl-C:
//   - won opportunities seeded into the CRM sandbox (/__sandbox/records), then the opportunity-won webhook; some sent
//     twice, some malformed (400), some for an item the ERP does not know (a rejection written back to the CRM);
//   - every so often an ERP outage (/__sandbox/faults): orders fail and land in the DLQ; once it is over the DLQ is
//     replayed through the admin API and drains;
//   - invoices for the orders made, in the ERP and in billing (Stripe), a few of them with a total that differs, for
//     the invoice sync and its reconcile.
// One summary line per interval. Reads .node-red-user/demo.json (written by `npm start`).
//   npm run demo:traffic -- --rate 2 --interval 10      opportunities per second, seconds between summaries
//   npm run demo:traffic -- --outage 8 --outage-every 60   seconds of ERP outage, seconds of calm between two
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const demo = require("./demo-records.js");

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] !== undefined ? Number(process.argv[i + 1]) : fallback;
};
const RATE = arg("rate", 1);
const INTERVAL_S = arg("interval", 10);
/** An ERP outage this many seconds long, and the calm between two. */
const OUTAGE_S = arg("outage", 8);
const OUTAGE_EVERY_S = arg("outage-every", 60);

const where = path.join(__dirname, "..", ".node-red-user", "demo.json");
if (!fs.existsSync(where)) {
  console.error(`${where} is missing: start the demo first with \`npm start\` (in another terminal)`);
  process.exit(1);
}
const setup = JSON.parse(fs.readFileSync(where, "utf8"));
const crm = demo.crm(setup.crm.system, setup.crm.url);
const erp = demo.erp(setup.erp.system, setup.erp.url);
const webhook = `${setup.nodeRed}/keelson/q2c/opportunity-won`;
const ORDER_PATH = { netsuite: { method: "PUT", path: "*salesOrder*" }, "sap-s4hana": { method: "POST", path: "*A_SalesOrder*" }, stripe: { method: "POST", path: "*invoices*" } }[setup.erp.system];

const counts = { sent: 0, accepted: 0, badRequest: 0, duplicates: 0, unknownItem: 0, failedToSend: 0, invoices: 0, billing: 0, billingOff: 0, replayed: 0, outages: 0 };
const sent = [];
const invoicedOrders = new Set();
let outageUntil = 0;
let stopping = false;

async function post(body, raw) {
  const res = await fetch(webhook, { method: "POST", headers: { "Content-Type": "application/json" }, body: raw ?? JSON.stringify(body) });
  await res.arrayBuffer();
  counts.sent++;
  if (res.status === 202) counts.accepted++;
  else if (res.status === 400) counts.badRequest++;
  return res.status;
}

const pick = (list) => list[Math.floor(Math.random() * list.length)];
let n = 0;

/** One opportunity's worth of traffic: new, repeated, malformed or for an unknown item. */
async function opportunity() {
  const roll = Math.random();
  if (roll < 0.08) {
    await post(undefined, pick(['{"opportunityId": ', "[]", '{"opportunityId": ""}', '{"opportunityId": 42}', '"won"']));
    return;
  }
  if (roll < 0.18 && sent.length) {
    counts.duplicates++;
    await post({ opportunityId: pick(sent.slice(-20)) });
    return;
  }
  const unknown = roll < 0.25;
  if (unknown) counts.unknownItem++;
  const lines = unknown
    ? [{ sku: "NOPE-404", quantity: 1, unitPrice: "5" }]
    : Object.keys(demo.SKUS).filter(() => Math.random() < 0.7).map((sku) => ({ sku, quantity: 1 + Math.floor(Math.random() * 5), unitPrice: demo.SKUS[sku] }));
  if (!lines.length) lines.push({ sku: "WID-1", quantity: 2, unitPrice: demo.SKUS["WID-1"] });
  const opp = await crm.opportunity({ name: `Demo deal ${++n}`, lines, erpCustomer: erp.customer });
  sent.push(opp.id);
  await post({ opportunityId: opp.id });
}

/**
 * An ERP outage on the order path OUTAGE_S long, the first after 20 s, then OUTAGE_EVERY_S after the last one ended.
 * Orders fail into the DLQ (and open the connection's circuit breaker); 31 s after the outage, when the breaker lets
 * calls through again, the dead letters are replayed and the queue drains.
 */
let nextOutage = Date.now() + 20000;
async function outages() {
  const now = Date.now();
  if (!ORDER_PATH) return;
  if (outageUntil && now >= outageUntil) {
    outageUntil = 0;
    nextOutage = now + OUTAGE_EVERY_S * 1000;
    await demo.control(setup.erp.url, "DELETE", "/faults");
    setTimeout(() => void replayAll().catch(report), 31000).unref();
    return;
  }
  if (!outageUntil && now >= nextOutage) {
    counts.outages++;
    outageUntil = now + OUTAGE_S * 1000;
    await demo.control(setup.erp.url, "PUT", "/faults", { faults: [{ kind: "error", status: 503, method: ORDER_PATH.method, path: ORDER_PATH.path }] });
  }
}

async function replayAll() {
  for (const queue of ["q2c-orders", "invoice-sync"]) {
    const res = await fetch(`${setup.nodeRed}/keelson/dlq/queues/${queue}/bulk`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ action: "replay", state: "pending" }) });
    const body = await res.json().catch(() => ({}));
    counts.replayed += Number(body.replayed) || 0;
  }
}

/** Invoices for orders the flow made, in the ERP and (most of them equal, a few off by 1.00) in billing. */
async function invoices() {
  if (!erp.invoice) return; // no demo invoices for this ERP's sandbox yet
  const orders = (await erp.orders()).filter((o) => /^(SF|HS|DV)-/.test(o.externalReference ?? "") && !invoicedOrders.has(o.id));
  for (const order of orders.slice(0, 2)) {
    invoicedOrders.add(order.id);
    const invoice = await erp.invoice(order.id);
    counts.invoices++;
    const off = Math.random() < 0.15;
    if (off) counts.billingOff++;
    await demo.billingInvoice(setup.billing.url, { erpSystem: setup.erp.system, erpInvoiceId: invoice.id, total: off ? (Number(invoice.total) + 1).toFixed(2) : invoice.total, currency: invoice.currency });
    counts.billing++;
  }
}

async function depths() {
  const res = await fetch(`${setup.nodeRed}/keelson/dlq/queues`).catch(() => undefined);
  if (!res || !res.ok) return "DLQ ?";
  const queues = await res.json();
  return queues.map((q) => `${q.queue} ${q.depth}`).join(", ");
}

function report(err) {
  console.error(`  ! ${err.message}`);
}

async function summary() {
  const c = counts;
  const orders = (await erp.orders().catch(() => [])).filter((o) => /^(SF|HS|DV)-/.test(o.externalReference ?? "")).length;
  const time = new Date().toISOString().slice(11, 19);
  console.log(`[${time}] webhooks ${c.sent} (202 ${c.accepted}, 400 ${c.badRequest}; repeats ${c.duplicates}, unknown item ${c.unknownItem}) · ERP orders ${orders}${outageUntil ? " · ERP OUTAGE" : ""} · invoices ${c.invoices} (billing ${c.billing}, ${c.billingOff} off) · outages ${c.outages}, replayed ${c.replayed} · DLQ ${await depths()}`);
}

/** Node-RED answers the webhook (a 400 for an empty body) once its flows are started. */
async function ready() {
  const deadline = Date.now() + 120000;
  for (;;) {
    const res = await fetch(webhook, { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" }).catch(() => undefined);
    if (res) await res.arrayBuffer();
    if (res && res.status === 400) return;
    if (Date.now() > deadline) throw new Error(`${webhook} did not answer: is \`npm start\` running?`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function main() {
  await ready();
  console.log(`demo traffic → ${webhook} (CRM ${setup.crm.system}, ERP ${setup.erp.system}); ${RATE}/s, a summary every ${INTERVAL_S} s; Ctrl-C to stop`);
  // Dead letters left from an earlier run of this script (same `npm start`) go back through the flow first.
  await replayAll().catch(report);
  let last = Date.now();
  let lastInvoices = Date.now();
  while (!stopping) {
    await opportunity().catch((err) => {
      counts.failedToSend++;
      report(err);
    });
    await outages().catch(report);
    if (Date.now() - lastInvoices >= 5000) {
      lastInvoices = Date.now();
      await invoices().catch(report);
    }
    if (Date.now() - last >= INTERVAL_S * 1000) {
      last = Date.now();
      await summary().catch(report);
    }
    await new Promise((r) => setTimeout(r, 1000 / RATE));
  }
}

process.on("SIGINT", () => {
  if (stopping) process.exit(0);
  stopping = true;
  Promise.resolve(outageUntil ? demo.control(setup.erp.url, "DELETE", "/faults") : undefined)
    .then(() => summary())
    .catch(report)
    .then(() => process.exit(0));
});
main().catch((err) => {
  console.error(`demo traffic stopped: ${err.message}`);
  process.exit(1);
});
