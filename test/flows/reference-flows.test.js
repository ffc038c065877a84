"use strict";
// The two reference flows (flows/quote-to-cash.json, flows/invoice-sync.json) as shipped, in a real Node-RED process,
// against in-process sandboxes, configured by nothing but the environment. Events are read off the real Mosquitto on
// 127.0.0.1:1883 and told apart from other runs' by correlation id (quote to cash) or by this run's record ids.
// Salesforce, HubSpot and Dynamics 365 (Dataverse) each with NetSuite and with SAP S/4HANA, and a quote-to-cash smoke
// run (Salesforce) on the generic REST profile (the in-house ERP sandbox), Business Central, Odoo (JSON-2 and
// JSON-RPC), Oracle Fusion, Acumatica and Dynamics 365 F&O.
const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const http = require("node:http");
const path = require("node:path");
const { startNodeRed } = require("../support/nodered");
const { root, makeUserDir, request } = require("../support/flows");
const demo = require("../../scripts/demo-records");
const mqtt = require("mqtt");

const Q2C = JSON.parse(fs.readFileSync(path.join(root, "flows", "quote-to-cash.json"), "utf8"));
const INVOICES = JSON.parse(fs.readFileSync(path.join(root, "flows", "invoice-sync.json"), "utf8"));
const WEBHOOK = "/keelson/q2c/opportunity-won";
const INVOICE_POLL = "1a5c000000000003";
const RECONCILE = "1a5c000000000021";
const MQTT_URL = process.env.KEELSON_TEST_MQTT_URL || "mqtt://127.0.0.1:1883";
const SANDBOX_FILE = demo.SANDBOX_OF;

/** Every JSON event on keelson/v1/# while the test runs. */
async function listen(t) {
  const client = mqtt.connect(MQTT_URL, { clientId: `keelson-test-${process.pid}-${Date.now()}` });
  await new Promise((resolve, reject) => client.once("connect", resolve).once("error", reject));
  await new Promise((resolve, reject) => client.subscribe("keelson/v1/#", { qos: 1 }, (err) => (err ? reject(err) : resolve())));
  const events = [];
  client.on("message", (topic, payload) => {
    try {
      events.push({ topic, body: JSON.parse(String(payload)) });
    } catch {
      events.push({ topic, body: String(payload) });
    }
  });
  t.after(() => new Promise((resolve) => client.end(false, {}, resolve)));
  return events;
}

async function until(what, check, timeoutMs = 30000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Warnings and errors in a Node-RED log, but for the two Node-RED prints at every start-up of a fresh user dir. */
const problems = (log) => log.split("\n").filter((l) => /\[(warn|error)\]/.test(l) && !/Projects disabled|Encrypted credentials not found/.test(l));

const settle = (ms = 1500) => new Promise((r) => setTimeout(r, ms));

async function startSandboxes(t, systems) {
  const urls = {};
  for (const system of systems) {
    const file = SANDBOX_FILE[system];
    const sb = await require(`../../dist/sandbox/${file}.js`).start({ port: 0 });
    t.after(() => sb.close());
    urls[file] = sb.url;
  }
  return urls;
}

/** Node-RED with both reference flows deployed, pointed at the sandboxes through the environment. */
async function startFlows(t, env, userDir = makeUserDir("reference")) {
  const red = await startNodeRed({ userDir, flows: [...Q2C, ...INVOICES], env: { ...env, MQTT_URL }, settings: { logging: { console: { level: "warn", metrics: false, audit: false } } } });
  t.after(() => red.stop("SIGKILL"));
  // Flows report started before the HTTP routes exist: wait until the webhook answers.
  await until("the webhook route", async () => (await request(`${red.url}${WEBHOOK}`, { method: "POST", body: {} }).catch(() => ({}))).status === 400);
  return { red, userDir };
}

const won = (red, body, headers) => request(`${red.url}${WEBHOOK}`, { method: "POST", body, headers });

/** POSTs a raw body (for the malformed cases). */
function rawPost(url, text, contentType = "application/json") {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: "POST", headers: { "Content-Type": contentType, "Content-Length": Buffer.byteLength(text) } }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode, body: body ? JSON.parse(body) : undefined }));
    });
    req.on("error", reject);
    req.end(text);
  });
}

/** The ERP orders whose external reference names this opportunity. */
async function ordersFor(erp, opportunityId) {
  const key = opportunityId.replace(/-/g, "");
  return (await erp.orders()).filter((o) => typeof o.externalReference === "string" && o.externalReference.endsWith(key));
}

const LINES = [{ sku: "WID-1", quantity: 3, unitPrice: "9.99" }, { sku: "GAD-2", quantity: 1, unitPrice: "150" }];

test("each reference flow: its own tab, a comment explaining it, every node named, Keelson and core nodes only, no endpoint or secret", () => {
  const CORE = new Set(["tab", "comment", "inject", "debug", "function", "change", "switch", "catch", "complete", "http in", "http response", "mqtt out", "mqtt-broker"]);
  const keelson = new Set(Object.keys(require("../../package.json")["node-red"].nodes));
  for (const [file, flow] of [["quote-to-cash", Q2C], ["invoice-sync", INVOICES]]) {
    const tabs = flow.filter((n) => n.type === "tab");
    assert.equal(tabs.length, 1, file);
    const comment = flow.find((n) => n.type === "comment" && n.z === tabs[0].id);
    assert.ok(comment && comment.info.length > 500, `${file}: a comment node explains the flow`);
    const ids = new Set();
    for (const n of flow) {
      assert.ok(!ids.has(n.id), `${file}: ${n.id} is unique`);
      ids.add(n.id);
      assert.ok(CORE.has(n.type) || keelson.has(n.type), `${file}: ${n.type} is a core or Keelson node`);
      if (n.type !== "tab") assert.ok(typeof n.name === "string" && n.name.trim(), `${file}: ${n.type} ${n.id} is named`);
      if (n.type !== "tab" && !["keelson-store", "keelson-crm-connection", "keelson-erp-connection", "mqtt-broker"].includes(n.type)) assert.equal(n.z, tabs[0].id, `${file}: ${n.id} is on the tab`);
      for (const value of Object.values(n.credentials ?? {})) assert.match(value, /^\$\{[A-Z_]+\}$/, `${file}: ${n.id} credentials name environment variables only`);
      for (const key of ["baseUrl", "broker", "tokenUrl", "redisUrl", "postgresUrl"]) if (n[key] && (n.type !== "mqtt out" || key !== "broker")) assert.match(n[key], /^\$\{[A-Z_]+\}$/, `${file}: ${n.id}.${key} is an environment variable`);
    }
    for (const n of flow) for (const out of n.wires ?? []) for (const target of out) assert.ok(ids.has(target), `${file}: ${n.id} is wired to ${target}, which exists`);
  }
  assert.ok(Q2C.some((n) => n.type === "http in" && n.url === WEBHOOK && n.method === "post"));
  const topics = [...Q2C, ...INVOICES].flatMap((n) => (n.rules ?? []).filter((r) => r.p === "topic").map((r) => r.to));
  assert.deepEqual([...new Set(topics)].sort(), ["keelson/v1/dlq/captured", "keelson/v1/invoice/posted", "keelson/v1/order/created"]);
  for (const out of [...Q2C, ...INVOICES].filter((n) => n.type === "mqtt out")) assert.equal(out.qos, "1", out.name);
});

const COMBINATIONS = [
  ["salesforce", "netsuite"],
  ["salesforce", "sap-s4hana"],
  ["hubspot", "netsuite"],
  ["hubspot", "sap-s4hana"],
  ["dataverse", "netsuite"],
  ["dataverse", "sap-s4hana"],
];

for (const [crmSystem, erpSystem] of COMBINATIONS) {
  test(`${crmSystem} + ${erpSystem}: quote to cash and invoice sync`, { timeout: 240000 }, async (t) => {
    const urls = await startSandboxes(t, [crmSystem, erpSystem, "stripe"]);
    const env = demo.sandboxEnvironment({ crm: crmSystem, erp: erpSystem, urls });
    const crm = demo.crm(crmSystem, env.CRM_BASE_URL);
    const erp = demo.erp(erpSystem, env.ERP_BASE_URL);
    await erp.prepare();
    const events = await listen(t);
    let { red, userDir } = await startFlows(t, env);
    const eventsFor = (topic, correlationId) => events.filter((e) => e.topic === topic && e.body.correlationId === correlationId);

    let ordered;
    await t.test("a won opportunity: 202 at once, one ERP order, customer linked back, event, write-back", async () => {
      const opp = await crm.opportunity({ name: `Q2C ${crmSystem} ${erpSystem}`, lines: LINES });
      const res = await won(red, { opportunityId: opp.id });
      assert.equal(res.status, 202, res.text);
      assert.equal(res.body.status, "accepted");
      assert.equal(res.body.opportunityId, opp.id);
      assert.match(res.body.correlationId, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      const [event] = await until("order.created", () => eventsFor("keelson/v1/order/created", res.body.correlationId).length && eventsFor("keelson/v1/order/created", res.body.correlationId));
      const body = event.body;
      assert.equal(body.event, "order.created");
      assert.deepEqual(body.opportunity, { system: crmSystem, id: opp.id });
      assert.equal(body.order.system, erpSystem);
      assert.equal(body.created, true);
      const orders = await ordersFor(erp, opp.id);
      assert.equal(orders.length, 1, JSON.stringify(orders));
      assert.equal(orders[0].id, body.order.id);
      // The new ERP customer is linked back to the CRM account.
      const erpCustomer = body.customer.refs.find((r) => r.system === erpSystem);
      assert.ok(erpCustomer, JSON.stringify(body.customer));
      assert.equal(body.customer.created, true);
      const linked = await until("the account link", async () => ((await crm.erpCustomer(opp.accountId))?.id ? crm.erpCustomer(opp.accountId) : undefined));
      assert.deepEqual(linked, { id: erpCustomer.id, system: erpSystem });
      const written = await until("the write-back", async () => ((await crm.writeBack(opp.id))?.orderNumber ? crm.writeBack(opp.id) : undefined));
      assert.equal(written.orderNumber, body.order.orderNumber);
      assert.equal(written.status, "accepted");
      ordered = { opp, orderId: body.order.id, correlationId: res.body.correlationId };
    });

    await t.test("the same webhook again, and three at once for another: no second order", async () => {
      assert.ok(ordered, "needs the first order");
      const again = await won(red, { opportunityId: ordered.opp.id });
      assert.equal(again.status, 202);
      assert.notEqual(again.body.correlationId, ordered.correlationId);
      const opp = await crm.opportunity({ name: `Q2C burst ${crmSystem}`, lines: LINES.slice(0, 1) });
      const burst = await Promise.all([1, 2, 3].map(() => won(red, { opportunityId: opp.id })));
      for (const r of burst) assert.equal(r.status, 202);
      await until("one order for the burst", async () => (await ordersFor(erp, opp.id)).length === 1);
      await until("its event", () => burst.some((r) => eventsFor("keelson/v1/order/created", r.body.correlationId).length));
      await settle();
      assert.equal((await ordersFor(erp, ordered.opp.id)).length, 1, "the repeated webhook made no second order");
      assert.equal(eventsFor("keelson/v1/order/created", again.body.correlationId).length, 0);
      assert.equal(burst.filter((r) => eventsFor("keelson/v1/order/created", r.body.correlationId).length).length, 1, "one order.created for three webhooks");
      assert.equal((await ordersFor(erp, opp.id)).length, 1);
    });

    await t.test("the caller's correlation id is kept (header, else body)", async () => {
      const opp = await crm.opportunity({ name: `Q2C corr ${crmSystem}`, lines: LINES.slice(1) });
      const id = `test-${process.pid}-${Date.now()}`;
      const res = await won(red, { opportunityId: opp.id, correlationId: "from-the-body" }, { "X-Correlation-Id": id });
      assert.equal(res.status, 202);
      assert.equal(res.body.correlationId, id);
      await until("order.created with the caller's id", () => eventsFor("keelson/v1/order/created", id).length === 1);
      const fromBody = await won(red, { opportunityId: opp.id, correlationId: `${id}-body` });
      assert.equal(fromBody.body.correlationId, `${id}-body`);
    });

    await t.test("malformed bodies: 400 saying what is wrong, nothing ordered", async () => {
      const before = (await erp.orders()).length;
      const cases = [
        [[{ opportunityId: "x" }], /JSON object/],
        ["just a string", /JSON object/],
        [42, /JSON object/],
        [null, /JSON object/],
        [{}, /opportunityId is missing/],
        [{ opportunityId: "" }, /opportunityId is empty/],
        [{ opportunityId: "   " }, /opportunityId is empty/],
        [{ opportunityId: 42 }, /opportunityId must be a string, got number/],
        [{ opportunityId: ["a"] }, /opportunityId must be a string, got an array/],
        [{ opportunityId: "x'; DROP TABLE" }, /letters, digits/],
        [{ opportunityId: "a".repeat(101) }, /1 to 100/],
        [{ opportunityId: "006x", note: "x".repeat(20000) }, /at most 16384/],
      ];
      for (const [body, message] of cases) {
        const res = await won(red, body);
        assert.equal(res.status, 400, `${JSON.stringify(body).slice(0, 60)} → ${res.status}`);
        assert.match(res.body.message, message, JSON.stringify(body).slice(0, 60));
      }
      const broken = await rawPost(`${red.url}${WEBHOOK}`, '{"opportunityId": "006x"');
      assert.equal(broken.status, 400);
      assert.match(broken.body.message, /not valid JSON/);
      const text = await rawPost(`${red.url}${WEBHOOK}`, "opportunityId=006x", "application/x-www-form-urlencoded");
      assert.equal(text.status, 400);
      await settle(500);
      assert.equal((await erp.orders()).length, before);
      assert.deepEqual(problems(red.log), []);
    });

    await t.test("a business rejection goes back to the opportunity as a message to act on", async () => {
      const opp = await crm.opportunity({ name: `Q2C unknown item ${crmSystem}`, lines: [{ sku: "NOPE-404", quantity: 1, unitPrice: "5" }] });
      const res = await won(red, { opportunityId: opp.id });
      assert.equal(res.status, 202);
      const written = await until("the rejection on the opportunity", async () => ((await crm.writeBack(opp.id))?.status === "rejected" ? crm.writeBack(opp.id) : undefined));
      assert.match(written.message, /^\S+: .*(NOPE-404|item|material)/i, written.message);
      assert.ok(written.message.length <= 255);
      assert.ok(!written.orderNumber, "no order number on a rejected opportunity");
      assert.equal((await ordersFor(erp, opp.id)).length, 0);
      assert.equal(eventsFor("keelson/v1/order/created", res.body.correlationId).length, 0);
      // Nothing went to the dead letters for it: a rejection is not a failure.
      assert.equal(eventsFor("keelson/v1/dlq/captured", res.body.correlationId).length, 0);
    });

    await t.test("a technical failure lands in the DLQ (dlq.captured); the replay orders once", async () => {
      const opp = await crm.opportunity({ name: `Q2C outage ${crmSystem}`, lines: LINES });
      const orderPath = erpSystem === "netsuite" ? "*salesOrder*" : "*A_SalesOrder*";
      await demo.control(env.ERP_BASE_URL, "PUT", "/faults", { faults: [{ kind: "error", status: 503, method: erpSystem === "netsuite" ? "PUT" : "POST", path: orderPath }] });
      const res = await won(red, { opportunityId: opp.id });
      assert.equal(res.status, 202);
      const [captured] = await until("dlq.captured", () => eventsFor("keelson/v1/dlq/captured", res.body.correlationId).length && eventsFor("keelson/v1/dlq/captured", res.body.correlationId), 60000);
      assert.equal(captured.body.event, "dlq.captured");
      assert.equal(captured.body.queue, "q2c-orders");
      assert.equal(captured.body.flow, "quote-to-cash");
      assert.equal(captured.body.idempotencyKey, `q2c:${crmSystem}:${opp.id}`);
      assert.match(captured.body.error, /503|unavailable/i);
      assert.equal((await ordersFor(erp, opp.id)).length, 0);
      const entry = await request(`${red.url}/keelson/dlq/entries/${captured.body.id}`);
      assert.equal(entry.status, 200);
      assert.equal(entry.body.message.opportunityId, opp.id);

      await demo.control(env.ERP_BASE_URL, "DELETE", "/faults");
      const replay = await request(`${red.url}/keelson/dlq/entries/${captured.body.id}/replay`, { method: "POST", body: {} });
      assert.deepEqual(replay.body, { replayed: 1 });
      await until("the replayed order's event", () => eventsFor("keelson/v1/order/created", res.body.correlationId).length === 1).catch((e) => {
        throw new Error(`${e.message}\n${red.log}\n${JSON.stringify(events.filter((x) => x.body.correlationId === res.body.correlationId))}`);
      });
      const written = await until("the write-back after replay", async () => ((await crm.writeBack(opp.id))?.orderNumber ? crm.writeBack(opp.id) : undefined));
      assert.equal(written.status, "accepted");
      // Replaying it once more is stopped by the gate: still one order.
      const gone = await request(`${red.url}/keelson/dlq/entries/${captured.body.id}`);
      assert.equal(gone.status, 404, "a replayed entry leaves the queue");
      await won(red, { opportunityId: opp.id });
      await settle();
      assert.equal((await ordersFor(erp, opp.id)).length, 1);
    });

    let invoiced;
    await t.test("invoice sync: a new ERP invoice updates the opportunity and is posted once", async () => {
      assert.ok(ordered, "needs the first order");
      const invoice = await erp.invoice(ordered.orderId);
      await request(`${red.url}/inject/${INVOICE_POLL}`, { method: "POST" });
      const posted = (e) => e.topic === "keelson/v1/invoice/posted" && e.body.invoice?.id === invoice.id && e.body.opportunity?.id === ordered.opp.id;
      const event = await until("invoice.posted", () => events.find(posted));
      assert.equal(event.body.event, "invoice.posted");
      assert.equal(event.body.invoice.system, erpSystem);
      assert.equal(event.body.invoice.status, "open");
      assert.deepEqual(event.body.opportunity, { system: crmSystem, id: ordered.opp.id });
      assert.ok(event.body.correlationId.endsWith(`:${invoice.id}`), event.body.correlationId);
      assert.equal(event.body.salesOrder[0].id, ordered.orderId);
      const written = await until("the invoice status on the opportunity", async () => ((await crm.writeBack(ordered.opp.id))?.status === "invoice open" ? crm.writeBack(ordered.opp.id) : undefined));
      assert.match(written.message, new RegExp(`^Invoice ${event.body.invoice.number ?? invoice.id}: `));
      assert.equal(written.orderNumber, (await crm.writeBack(ordered.opp.id)).orderNumber, "the order number stays");
      // Polling again posts nothing new for it.
      await request(`${red.url}/inject/${INVOICE_POLL}`, { method: "POST" });
      await settle();
      assert.equal(events.filter(posted).length, 1);
      invoiced = { invoice, event };
    });

    await t.test("reconcile: a billing total that differs is a dead letter and shows in the report", async () => {
      assert.ok(invoiced, "needs the invoice");
      // The run at start-up has reported first, so this run is the one under test.
      await until("the first report", async () => (await request(`${red.url}/keelson/invoice-sync/report`)).body?.at);
      const { invoice } = invoiced;
      const total = invoiced.event.body.invoice.total;
      const wrong = (Number(total.amount) + 1).toFixed(2);
      await demo.billingInvoice(env.BILLING_BASE_URL, { erpSystem, erpInvoiceId: invoice.id, total: wrong, currency: total.currency });
      const before = (await request(`${red.url}/keelson/invoice-sync/report`)).body.at;
      await request(`${red.url}/inject/${RECONCILE}`, { method: "POST" });
      const key = `reconcile:${erpSystem}:${invoice.id}`;
      const captured = await until("the mismatch's dlq.captured", () => events.find((e) => e.topic === "keelson/v1/dlq/captured" && e.body.idempotencyKey === key));
      assert.equal(captured.body.queue, "invoice-reconcile");
      assert.match(captured.body.error, new RegExp(`invoice ${invoice.id}: total`));
      const report = await until("a new report", async () => {
        const r = (await request(`${red.url}/keelson/invoice-sync/report`)).body;
        return r.at !== before && r;
      });
      assert.ok(report.counts.mismatched >= 1, JSON.stringify(report));
      assert.ok(report.mismatchesByField.total >= 1, JSON.stringify(report));
      const queue = await request(`${red.url}/keelson/dlq/queues/invoice-reconcile/entries`);
      assert.ok(queue.body.entries.some((e) => e.idempotencyKey === key));
    });

    await t.test("the invoice watermark survives a restart", async () => {
      assert.ok(invoiced, "needs the invoice");
      await red.stop();
      const { openStore } = require("../../dist/nodes/lib/state");
      const store = await openStore({ backend: "file", dir: path.join(userDir, "keelson-state", "invoice-sync") });
      const watermark = await store.getWatermark("invoice-sync-erp");
      await store.close();
      assert.ok(typeof watermark === "string" && watermark.length > 0, `watermark ${watermark}`);
      const since = events.length;
      ({ red } = await startFlows(t, env, userDir));
      const order = (await ordersFor(erp, ordered.opp.id))[0];
      const next = await erp.invoice(order.id);
      await request(`${red.url}/inject/${INVOICE_POLL}`, { method: "POST" });
      await until("the new invoice posted", () => events.slice(since).some((e) => e.topic === "keelson/v1/invoice/posted" && e.body.invoice?.id === next.id && e.body.opportunity?.id === ordered.opp.id));
      await settle();
      assert.equal(events.slice(since).filter((e) => e.topic === "keelson/v1/invoice/posted" && e.body.invoice?.id === invoiced.invoice.id && e.body.opportunity?.id === ordered.opp.id).length, 0, "the invoice before the restart is not listed again");
    });

    // The only errors logged are the injected outage's, which the flow caught.
    for (const line of problems(red.log)) assert.match(line, /\[error\].*(503|unavailable)/i, line);
  });
}

// Quote to cash on every other ERP, configured as `ERP_SYSTEM=<system> npm start` configures it: one order for a
// customer ensured in the ERP, the write-back, the event, and no second order for a repeated webhook. On Oracle
// Fusion the customer is a Trading Community party, and its Receivables invoice reaches the opportunity.
const SMOKE = [
  ["generic-rest", {}],
  ["business-central", {}],
  ["odoo", {}],
  ["odoo", { ERP_PROTOCOL: "jsonrpc" }],
  ["oracle-fusion", {}],
  ["acumatica", {}],
  ["dynamics-fo", {}],
];

for (const [erpSystem, extra] of SMOKE) {
  const label = extra.ERP_PROTOCOL ? `${erpSystem} (${extra.ERP_PROTOCOL})` : erpSystem;
  test(`salesforce + ${label}: quote to cash smoke run`, { timeout: 120000 }, async (t) => {
    const urls = await startSandboxes(t, ["salesforce", erpSystem, "stripe"]);
    const env = { ...demo.sandboxEnvironment({ crm: "salesforce", erp: erpSystem, urls }), ...extra };
    const crm = demo.crm("salesforce", env.CRM_BASE_URL);
    const erp = demo.erp(erpSystem, env.ERP_BASE_URL);
    await erp.prepare();
    const events = await listen(t);
    const { red } = await startFlows(t, env);
    const created = (correlationId) => events.filter((e) => e.topic === "keelson/v1/order/created" && e.body.correlationId === correlationId);

    const opp = await crm.opportunity({ name: `Q2C smoke ${label}`, lines: LINES, erpCustomer: erp.customer });
    const res = await won(red, { opportunityId: opp.id });
    assert.equal(res.status, 202, res.text);
    assert.equal(res.body.status, "accepted");
    const [event] = await until("order.created", () => created(res.body.correlationId).length && created(res.body.correlationId)).catch(async (err) => {
      throw new Error(`${err.message}\nwrite-back ${JSON.stringify(await crm.writeBack(opp.id))}\n${red.log}\n${JSON.stringify(events.filter((e) => e.body.correlationId === res.body.correlationId))}`);
    });
    assert.deepEqual(event.body.opportunity, { system: "salesforce", id: opp.id });
    assert.equal(event.body.order.system, erpSystem);
    assert.equal(event.body.created, true);
    assert.ok(event.body.order.orderNumber, JSON.stringify(event.body.order));
    const orders = await ordersFor(erp, opp.id);
    assert.equal(orders.length, 1, JSON.stringify(orders));
    assert.equal(orders[0].id, event.body.order.id);
    assert.equal(String(orders[0].number), event.body.order.orderNumber);
    const erpCustomer = event.body.customer.refs.find((r) => r.system === erpSystem);
    assert.ok(erpCustomer, JSON.stringify(event.body.customer));
    assert.equal(event.body.customer.created, true);
    const linked = await until("the account link", async () => ((await crm.erpCustomer(opp.accountId))?.id ? crm.erpCustomer(opp.accountId) : undefined));
    assert.deepEqual(linked, { id: erpCustomer.id, system: erpSystem });
    // Oracle Fusion: the party ensure customer made is the order's buying party.
    if (erpSystem === "oracle-fusion") assert.equal(orders[0].customer, erpCustomer.id);
    const written = await until("the write-back", async () => ((await crm.writeBack(opp.id))?.orderNumber ? crm.writeBack(opp.id) : undefined));
    assert.deepEqual([written.orderNumber, written.status], [event.body.order.orderNumber, "accepted"]);
    if (erpSystem === "odoo") {
      // The protocol the environment chose is the one spoken.
      const routes = Object.keys((await demo.control(env.ERP_BASE_URL, "GET", "/stats")).routes);
      const spoken = (proto) => routes.filter((r) => (proto === "jsonrpc" ? /\/jsonrpc/ : /\/json\/2\//).test(r));
      const expected = extra.ERP_PROTOCOL ?? "json2";
      assert.ok(spoken(expected).length > 0, JSON.stringify(routes));
      assert.deepEqual(spoken(expected === "json2" ? "jsonrpc" : "json2"), [], JSON.stringify(routes));
    }

    const again = await won(red, { opportunityId: opp.id });
    assert.equal(again.status, 202);
    assert.notEqual(again.body.correlationId, res.body.correlationId);
    await settle();
    assert.equal((await ordersFor(erp, opp.id)).length, 1, "the repeated webhook made no second order");
    assert.equal(created(again.body.correlationId).length, 0);

    if (erp.invoice) {
      // The ERP's invoice for the order is polled, traced back to the opportunity and posted.
      const invoice = await erp.invoice(orders[0].id);
      await request(`${red.url}/inject/${INVOICE_POLL}`, { method: "POST" });
      const posted = await until("invoice.posted", () => events.find((e) => e.topic === "keelson/v1/invoice/posted" && e.body.invoice?.id === invoice.id));
      assert.equal(posted.body.invoice.system, erpSystem);
      assert.deepEqual(posted.body.opportunity, { system: "salesforce", id: opp.id });
    }
    assert.deepEqual(problems(red.log), []);
  });
}
