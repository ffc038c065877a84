"use strict";
// Shared by the telemetry tests: the Salesforce and SAP sandboxes seeded for a small quote-to-cash run, the flow that
// runs it in a real Node-RED (webhook → CRM read → map → gate → ERP order with customer → gate → CRM write-back;
// invoice posted → CRM updated; failures → dead-letter queue, replays → the gate again), and metric parsing. Not a test file.
const salesforce = require("../../dist/sandbox/salesforce.js");
const sap = require("../../dist/sandbox/sap.js");
const { nodeId, readyProbe } = require("../support/flows");

async function control(url, method, path, body) {
  const res = await fetch(`${url}/__sandbox${path}`, { method, headers: { "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  const json = await res.json();
  if (!res.ok) throw new Error(`control ${method} ${path}: ${JSON.stringify(json)}`);
  return json;
}
const seed = async (url, type, body) => (await control(url, "POST", `/records/${type}`, body)).records ?? [];
const records = async (url, type) => (await control(url, "GET", `/records/${type}`)).records;

/** Both sandboxes, with `count` won opportunities whose lines name SAP materials, and one whose price SAP cannot take. */
async function startSandboxes(count) {
  const crm = await salesforce.start({ port: 0 });
  const erp = await sap.start({ port: 0 });
  const account = (await records(crm.url, "Account"))[0];
  const [product] = await seed(crm.url, "Product2", { Name: "Trading good 11", ProductCode: "TG11" });
  const opportunities = [];
  for (let i = 0; i < count; i++) {
    const [opp] = await seed(crm.url, "Opportunity", { Name: `Telemetry ${i}`, AccountId: account.Id, StageName: "Closed Won", CloseDate: "2026-11-20", CurrencyIsoCode: "EUR" });
    await seed(crm.url, "OpportunityLineItem", { OpportunityId: opp.Id, Product2Id: product.Id, ProductCode: "TG11", Quantity: i + 1, UnitPrice: 12.5, TotalPrice: 12.5 * (i + 1), CurrencyIsoCode: "EUR" });
    opportunities.push(opp.Id);
  }
  // 9.995 EUR has more decimals than the currency: the mapper's schema check turns it away (a business exception).
  const [bad] = await seed(crm.url, "Opportunity", { Name: "Telemetry bad price", AccountId: account.Id, StageName: "Closed Won", CloseDate: "2026-11-20", CurrencyIsoCode: "EUR" });
  await seed(crm.url, "OpportunityLineItem", { OpportunityId: bad.Id, Product2Id: product.Id, ProductCode: "TG11", Quantity: 1, UnitPrice: 9.995, TotalPrice: 9.995, CurrencyIsoCode: "EUR" });
  return { crm, erp, opportunities, badOpportunity: bad.Id, async close() { await crm.close(); await erp.close(); } };
}

/** Route counts the sandbox saw, vendor traffic only (no control plane). */
async function stats(url) {
  return control(url, "GET", "/stats");
}

const ORDER_PATH = "/sap/opu/odata/sap/API_SALES_ORDER_SRV/A_SalesOrder";

/** The quote-to-cash flow, with the ids of the nodes a test looks at. */
function q2cFlow({ crmUrl, erpUrl }) {
  const id = Object.fromEntries(["tab", "store", "crmConn", "erpConn", "wonIn", "wonOk", "fromWebhook", "read", "map", "claim", "order", "complete", "writeBackBody", "writeBack", "release", "catcher", "giveBack", "dlq", "invoiceIn", "invoiceOk", "fromInvoiceHook", "invoice", "invoiceBody", "invoiceWriteBack"].map((k) => [k, nodeId()]));
  const fn = (nid, name, func, wires) => ({ id: nid, type: "function", z: id.tab, name, func, outputs: 1, timeout: 0, noerr: 0, initialize: "", finalize: "", libs: [], wires });
  const flows = [
    { id: id.tab, type: "tab", label: "quote to cash" },
    { id: id.store, type: "keelson-store", name: "state", backend: "file", dir: "keelson-state", redisUrl: "", prefix: "", postgresUrl: "", schema: "", tablePrefix: "", timeout: 5000 },
    {
      id: id.crmConn, type: "keelson-crm-connection", name: "salesforce", system: "salesforce", baseUrl: crmUrl, auth: "client-credentials", tokenUrl: "", tenantId: "", scope: "", audience: "", externalIdField: "",
      rateLimit: "", rateWindow: "", concurrency: "", maxAttempts: 3, baseDelay: 5, maxDelay: 20, maxElapsed: 5000, breakerFailures: 50, breakerReset: 1000, timeout: 5000, tlsCa: "", tlsInsecure: false, batchWindow: 5, batchSize: "",
      credentials: { clientId: salesforce.SALESFORCE_DEFAULTS.clientId, clientSecret: salesforce.SALESFORCE_DEFAULTS.clientSecret },
    },
    {
      id: id.erpConn, type: "keelson-erp-connection", name: "sap", system: "sap-s4hana", baseUrl: erpUrl, accountId: "", netsuiteAuth: "m2m", certificateId: "", genericAuth: "none", apiKeyHeader: "", tokenUrl: "", scope: "", profile: "", mappings: "",
      orderDefaults: JSON.stringify({ salesOrganization: "1010", distributionChannel: "10", organizationDivision: "00" }), currencies: "", concurrency: "", rateLimit: "", rateWindowSeconds: "", maxAttempts: 1, timeoutSeconds: 5, breakerFailures: 50, breakerResetSeconds: 1, tlsInsecure: false, tlsCa: "",
      credentials: { user: sap.SAP_DEFAULTS.user, password: sap.SAP_DEFAULTS.password },
    },
    // Opportunity won: answer the webhook at once, then work.
    { id: id.wonIn, type: "http in", z: id.tab, url: "/keelson/q2c/opportunity-won", method: "post", upload: false, wires: [[id.wonOk, id.fromWebhook]] },
    { id: id.wonOk, type: "http response", z: id.tab, statusCode: "202", headers: {}, wires: [] },
    fn(id.fromWebhook, "from webhook", "const h = msg.req.headers; msg.opportunityId = msg.payload.opportunityId; if (h['x-correlation-id']) msg.correlationId = h['x-correlation-id']; delete msg.req; delete msg.res; return msg;", [[id.read]]),
    { id: id.read, type: "keelson-crm-opportunity", z: id.tab, name: "read opportunity", connection: id.crmConn, operation: "get", includeRaw: true, wires: [[id.map], []] },
    { id: id.map, type: "keelson-mapper", z: id.tab, name: "to SalesOrder", mappingSource: "library", library: "salesforce-opportunity-to-salesorder", expression: "", targetSchema: "SalesOrder@1", source: "raw", sourceType: "msg", target: "payload", targetType: "msg", timeout: "", maxDepth: "", wires: [[id.claim], []] },
    { id: id.claim, type: "keelson-gate", z: id.tab, name: "once per opportunity", store: id.store, action: "claim", key: '"order:" & payload.externalReference', keyType: "jsonata", fingerprint: "", fingerprintType: "none", result: "payload", resultType: "msg", releaseMode: "retry", leaseSeconds: 600, retentionDays: 30, waitSeconds: 0, outputs: 4, wires: [[id.order], [], [], []] },
    { id: id.order, type: "keelson-erp-order", z: id.tab, name: "create order", connection: id.erpConn, operation: "create", ensureCustomer: true, customer: "customer", customerType: "msg", wires: [[id.complete], []] },
    { id: id.complete, type: "keelson-gate", z: id.tab, name: "remember the order", store: id.store, action: "complete", key: "idempotency.key", keyType: "msg", fingerprint: "", fingerprintType: "none", result: "payload", resultType: "msg", releaseMode: "retry", leaseSeconds: 600, retentionDays: 30, waitSeconds: 0, outputs: 1, wires: [[id.writeBackBody]] },
    fn(id.writeBackBody, "write-back body", "const ref = msg.payload.refs.find((r) => r.system === 'sap-s4hana'); msg.payload = { orderNumber: ref.id, status: 'booked' }; return msg;", [[id.writeBack]]),
    { id: id.writeBack, type: "keelson-crm-opportunity", z: id.tab, name: "write order back", connection: id.crmConn, operation: "write-back", includeRaw: false, wires: [[], []] },
    // A technical failure of the order: the key goes back, the message to the dead-letter queue; replays claim again.
    { id: id.catcher, type: "catch", z: id.tab, name: "order failed", scope: [id.order], uncaught: false, wires: [[id.giveBack]] },
    { id: id.giveBack, type: "keelson-gate", z: id.tab, name: "give the key back", store: id.store, action: "release", key: "idempotency.key", keyType: "msg", fingerprint: "", fingerprintType: "none", result: "payload", resultType: "msg", releaseMode: "retry", leaseSeconds: 600, retentionDays: 30, waitSeconds: 0, outputs: 1, wires: [[id.dlq]] },
    { id: id.dlq, type: "keelson-dlq", z: id.tab, name: "failed orders", store: id.store, queue: "q2c-orders", maxAttempts: 5, retentionDays: 30, redactPaths: "", maxKb: 1024, wires: [[id.claim], []] },
    // Invoice posted: read it from SAP, say so on the opportunity.
    { id: id.invoiceIn, type: "http in", z: id.tab, url: "/keelson/q2c/invoice-posted", method: "post", upload: false, wires: [[id.invoiceOk, id.fromInvoiceHook]] },
    { id: id.invoiceOk, type: "http response", z: id.tab, statusCode: "202", headers: {}, wires: [] },
    fn(id.fromInvoiceHook, "from invoice webhook", "msg.opportunityId = msg.payload.opportunityId; msg.correlationId = msg.req.headers['x-correlation-id']; msg.payload = msg.payload.invoiceId; delete msg.req; delete msg.res; return msg;", [[id.invoice]]),
    { id: id.invoice, type: "keelson-erp-invoice", z: id.tab, name: "read invoice", connection: id.erpConn, operation: "get", store: "", watermark: "", pageSize: 100, wires: [[id.invoiceBody], []] },
    fn(id.invoiceBody, "invoice write-back body", "msg.payload = { status: 'invoiced', message: 'invoice ' + msg.payload.invoiceNumber }; return msg;", [[id.invoiceWriteBack]]),
    { id: id.invoiceWriteBack, type: "keelson-crm-opportunity", z: id.tab, name: "invoice to CRM", connection: id.crmConn, operation: "write-back", includeRaw: false, wires: [[], []] },
    ...readyProbe(id.tab),
  ];
  return { flows, id };
}

/** Parses the Prometheus text: [{name, labels, value}]. */
function parseMetrics(text) {
  const out = [];
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels = {};
    if (m[2]) for (const pair of m[2].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1]] = pair[2];
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

/** Sum of the samples named `name` whose labels include `match`. */
function sum(samples, name, match = {}) {
  return samples.filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v)).reduce((t, s) => t + s.value, 0);
}

module.exports = { startSandboxes, stats, records, seed, control, q2cFlow, parseMetrics, sum, ORDER_PATH };
