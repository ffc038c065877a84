"use strict";
// keelson-erp-order against each sandbox: create (with and without ensure-customer), status, exactly one order per
// business key through every fault kind, expired tokens / CSRF sessions, business rejections and bad input.
const test = require("node:test");
const assert = require("node:assert/strict");
const { helper, nextMessage, noMessage, shownStatus } = require("../support/helper");
const connectionNode = require("../../dist/nodes/erp-connection/erp-connection.js");
const orderNode = require("../../dist/nodes/erp-order/erp-order.js");
const support = require("./support");
const kit = require("./kit");
const { SYSTEMS, salesOrder, customerOf, control, ordersWith, seededCustomer } = support;

const nodes = [connectionNode, orderNode];
const running = {};

/** keelson-erp-order on a connection to the system's sandbox, with accepted / rejected / caught helpers. */
async function load(system, { operation = "create", ensureCustomer = false, connection = {} } = {}) {
  await kit.orderFlow(support.connectionNode(system, running[system].sb.url, connection), { operation, ensureCustomer });
}

const run = (msg, ms = 8000) => kit.sendOrder(msg, ms);

test.before(async () => {
  await helper.startServer();
  for (const system of Object.keys(SYSTEMS)) running[system] = await SYSTEMS[system].start();
});
test.after(async () => {
  for (const r of Object.values(running)) await r.sb.close();
  await helper.stopServer();
});
test.afterEach(async () => {
  await helper.unload();
  for (const r of Object.values(running)) await control.clearFaults(r.sb.url);
});

for (const system of Object.keys(SYSTEMS)) {
  const base = () => running[system].sb.url;

  test(`${system}: create an order for a known ERP customer; the ERP's id and number come back in refs`, async () => {
    await load(system);
    const order = salesOrder(system, { customerRef: await seededCustomer(system, base()) });
    const { out, msg } = await run({ payload: order, correlationId: `corr-${system}-1` });
    assert.equal(out, "accepted", JSON.stringify(msg.error ?? msg.payload));
    const ref = msg.payload.refs.find((r) => r.system === system);
    assert.ok(ref && ref.id, "ERP id in refs");
    if (system !== "stripe") {
      assert.ok(ref.number, "ERP number in refs");
      assert.equal(msg.payload.orderNumber, ref.number);
    }
    assert.equal(msg.payload.status, "accepted");
    assert.equal(msg.erp.created, true);
    assert.equal(msg.correlationId, `corr-${system}-1`);
    assert.equal((await ordersWith(system, base(), order.externalReference)).length, 1);
  });

  test(`${system}: ensure customer creates the ERP customer once, from msg.customer, then finds it by the CRM id`, async () => {
    await load(system, { ensureCustomer: true });
    const order = salesOrder(system);
    const before = (await control.stats(base())).created;
    const first = await run({ payload: order, customer: customerOf(order) });
    assert.equal(first.out, "accepted", JSON.stringify(first.msg.error));
    assert.equal(first.msg.erp.customerCreated, true);
    const customerRef = first.msg.customer.refs.find((r) => r.system === system);
    assert.ok(customerRef, "msg.customer carries the ERP customer's ref");
    assert.deepEqual(first.msg.payload.customer.refs.find((r) => r.system === system), customerRef);

    const second = salesOrder(system, { account: order.customer.refs[0].id });
    const again = await run({ payload: second, customer: customerOf(second) });
    assert.equal(again.out, "accepted", JSON.stringify(again.msg.error));
    assert.equal(again.msg.erp.customerCreated, false);
    assert.equal(again.msg.customer.refs.find((r) => r.system === system).id, customerRef.id);
    const after = (await control.stats(base())).created;
    const customerType = { netsuite: "customer", "sap-s4hana": "A_BusinessPartner", stripe: "customers" }[system];
    assert.equal((after[customerType] ?? 0) - (before[customerType] ?? 0), 1, "one customer created for two orders");
  });

  test(`${system}: ensure customer without msg.customer builds it from the order's customer`, async () => {
    await load(system, { ensureCustomer: true });
    const order = salesOrder(system);
    const { out, msg } = await run({ payload: order });
    assert.equal(out, "accepted", JSON.stringify(msg.error));
    assert.ok(msg.payload.customer.refs.some((r) => r.system === system));
  });

  test(`${system}: read an order's status by ERP id and by external reference`, async () => {
    await load(system);
    const order = salesOrder(system, { customerRef: await seededCustomer(system, base()) });
    const created = await run({ payload: order });
    assert.equal(created.out, "accepted", JSON.stringify(created.msg.error));
    const id = created.msg.payload.refs.find((r) => r.system === system).id;
    await helper.unload();
    await load(system, { operation: "status" });
    const byId = await run({ payload: id });
    assert.equal(byId.out, "accepted", JSON.stringify(byId.msg.error));
    assert.equal(byId.msg.payload.refs[0].id, id);
    assert.equal(byId.msg.payload.status, "accepted");
    assert.equal(byId.msg.payload.lines.length, 2);
    const byRef = await run({ payload: { externalReference: order.externalReference, refs: [] } });
    assert.equal(byRef.out, "accepted");
    assert.equal(byRef.msg.payload.externalReference, order.externalReference);
    const missing = await run({ payload: { externalReference: "NO-SUCH-ORDER", refs: [] } });
    assert.equal(missing.out, "rejected");
    assert.equal(missing.msg.error.code, "NOT_FOUND");
  });

  test(`${system}: lost response after commit → still exactly one order`, async () => {
    await load(system);
    const order = salesOrder(system, { customerRef: await seededCustomer(system, base()) });
    await control.faults(base(), [{ kind: "lost-response", method: system === "netsuite" ? "PUT" : "POST", path: createPath(system), count: 1 }]);
    const { out, msg } = await run({ payload: order });
    assert.equal(out, "accepted", JSON.stringify(msg.error ?? msg.payload));
    assert.equal((await control.stats(base())).faults["lost-response"] >= 1, true, "the fault fired");
    assert.equal((await ordersWith(system, base(), order.externalReference)).length, 1);
    if (system === "sap-s4hana") assert.equal(msg.erp.created, false, "found by PurchaseOrderByCustomer, not posted twice");
  });

  test(`${system}: a reclaimed business key (earlier claimer may have posted) does not post a second order`, async () => {
    await load(system);
    const order = salesOrder(system, { customerRef: await seededCustomer(system, base()) });
    assert.equal((await run({ payload: order })).out, "accepted");
    const { out, msg } = await run({ payload: order, idempotency: { key: "k", state: "claimed", reclaimed: true } });
    assert.equal(out, "accepted");
    assert.equal(msg.erp.created, false);
    assert.ok(msg.payload.refs.some((r) => r.system === system));
    assert.equal((await ordersWith(system, base(), order.externalReference)).length, 1);
  });

  for (const fault of [
    { kind: "throttle", count: 2 },
    { kind: "error", status: 503, count: 2 },
    // Long enough to still be on when the first create goes out on a busy machine (token and CSRF come first).
    { kind: "outage", durationMs: 1500, mode: "reset" },
    { kind: "outage", durationMs: 1500, mode: "503" },
    { kind: "html-502", count: 1 },
    { kind: "malformed", count: 1 },
    { kind: "latency", ms: 1500, count: 1 },
  ]) {
    test(`${system}: ${fault.kind}${fault.mode ? ` (${fault.mode})` : ""} on create → exactly one order`, async () => {
      await load(system, { connection: fault.kind === "latency" ? { timeoutSeconds: 1 } : fault.kind === "outage" ? { maxAttempts: 12, breakerFailures: 50 } : {} });
      const order = salesOrder(system, { customerRef: await seededCustomer(system, base()) });
      await control.faults(base(), [{ ...fault, method: system === "netsuite" ? "PUT" : "POST", path: createPath(system) }]);
      const { out, msg } = await run({ payload: order }, 15000);
      assert.equal(out, "accepted", `${out}: ${JSON.stringify(msg.error ?? msg.payload)}`);
      assert.ok(((await control.stats(base())).faults[fault.kind] ?? 0) >= 1, "the fault fired");
      // The late original of a timed-out request commits after we answered: wait for it before counting.
      if (fault.kind === "latency") await new Promise((r) => setTimeout(r, 800));
      assert.equal((await ordersWith(system, base(), order.externalReference)).length, 1);
    });
  }

  test(`${system}: a vendor 500 is a technical failure: done(err) reaches Catch, nothing on the outputs`, async () => {
    await load(system, { connection: { maxAttempts: 1 } });
    const order = salesOrder(system, { customerRef: await seededCustomer(system, base()) });
    await control.faults(base(), [{ kind: "error", status: 500, method: system === "netsuite" ? "PUT" : "POST", path: createPath(system) }]);
    const { out, msg } = await run({ payload: order });
    assert.equal(out, "caught");
    assert.match(msg.error.message, /500/);
    assert.equal((await ordersWith(system, base(), order.externalReference)).length, 0);
  });

  test(`${system}: expired tokens / sessions mid-run are renewed without failing an order`, async () => {
    await load(system);
    const customerRef = await seededCustomer(system, base());
    assert.equal((await run({ payload: salesOrder(system, { customerRef }) })).out, "accepted");
    await control.expireTokens(base());
    const order = salesOrder(system, { customerRef });
    const { out, msg } = await run({ payload: order });
    assert.equal(out, "accepted", JSON.stringify(msg.error));
    assert.equal((await ordersWith(system, base(), order.externalReference)).length, 1);
    if (system !== "stripe") {
      const stats = await control.stats(base());
      const refused = Object.values(stats.routes).reduce((n, r) => n + (r.statuses["401"] ?? 0) + (r.statuses["403"] ?? 0), 0);
      assert.ok(refused >= 1, "the vendor refused the expired credential once");
    }
  });

  test(`${system}: bad input → a clear error naming the field, nothing sent to the ERP`, async () => {
    await load(system);
    const before = (await control.stats(base())).routes;
    const sent = (routes) => Object.values(routes).reduce((n, r) => n + r.requests, 0);
    const cases = [
      [{ ...salesOrder(system), lines: [] }, /lines/],
      [(() => { const o = salesOrder(system); o.lines[0].quantity = 0; return o; })(), /lines\[0\]\.quantity/],
      [(() => { const o = salesOrder(system); o.currency = "XXY"; return o; })(), /currency/],
      ["not an order", /msg\.payload is not a valid SalesOrder/],
    ];
    for (const [payload, field] of cases) {
      const { out, msg } = await run({ payload });
      assert.equal(out, "caught");
      assert.match(msg.error.message, field);
    }
    assert.equal(sent((await control.stats(base())).routes), sent(before));
  });
}

function createPath(system) {
  return { netsuite: "/services/rest/record/v1/salesOrder/*", "sap-s4hana": "*/A_SalesOrder", stripe: "/v1/invoices" }[system];
}

test("netsuite: a business rejection leaves by output 2 with NetSuite's error path", async () => {
  const system = "netsuite";
  await load(system);
  const order = salesOrder(system, { customerRef: await seededCustomer(system, running[system].sb.url) });
  order.lines[0].product = { sku: "NO-SUCH-ITEM" };
  const { out, msg } = await run({ payload: order });
  assert.equal(out, "rejected");
  assert.equal(msg.error.code, "INVALID_CONTENT");
  assert.equal(msg.error.field, "item.items[0].item");
  assert.match(msg.error.message, /Invalid Field Value/);
  assert.equal(msg.error.status, 400);
});

test("netsuite: the status counts created, rejected and failed orders, names the last error, and shows the breaker open", async () => {
  const system = "netsuite";
  await load(system, { connection: { maxAttempts: 1 } });
  const node = helper.getNode("order");
  assert.deepEqual(await shownStatus(node), { fill: "grey", shape: "ring", text: "create order" });
  const customerRef = await seededCustomer(system, running[system].sb.url);

  assert.equal((await run({ payload: salesOrder(system, { customerRef }) })).out, "accepted");
  assert.deepEqual(await shownStatus(node), { fill: "green", shape: "dot", text: "1 created · 0 rejected · 0 failed" });

  const refused = salesOrder(system, { customerRef });
  refused.lines[0].product = { sku: "NO-SUCH-ITEM" };
  assert.equal((await run({ payload: refused })).out, "rejected");
  assert.deepEqual(await shownStatus(node), { fill: "yellow", shape: "dot", text: "1 created · 1 rejected · 0 failed (last: INVALID_CONTENT)" });

  // Bad input fails before any call and names what was wrong.
  assert.equal((await run({ payload: { lines: [] } })).out, "caught");
  const invalid = await shownStatus(node);
  assert.deepEqual([invalid.fill, invalid.shape], ["red", "dot"]);
  assert.match(invalid.text, /^1 created · 1 rejected · 1 failed \(last: msg\.payload is not a valid SalesOrder: \S/);

  // Five failures in a row open the breaker: the status says so before the counts.
  await control.faults(running[system].sb.url, [{ kind: "error", status: 500, method: "PUT", path: createPath(system) }]);
  for (let i = 0; i < 4; i++) assert.equal((await run({ payload: salesOrder(system, { customerRef }) })).out, "caught");
  assert.deepEqual(await shownStatus(node), { fill: "red", shape: "dot", text: "1 created · 1 rejected · 5 failed (last: server)" });
  assert.equal((await run({ payload: salesOrder(system, { customerRef }) })).out, "caught");
  assert.deepEqual(await shownStatus(node), { fill: "red", shape: "ring", text: "breaker open · 1 created · 1 rejected · 6 failed" });
});

test("netsuite: a missing subsidiary when creating the customer is named as the field", async () => {
  const system = "netsuite";
  await load(system, { ensureCustomer: true, connection: { orderDefaults: {} } });
  const order = salesOrder(system);
  const { out, msg } = await run({ payload: order, customer: customerOf(order) });
  assert.equal(out, "rejected");
  assert.equal(msg.error.code, "USER_ERROR");
  assert.equal(msg.error.field, "Subsidiary");
  assert.ok(msg.error.hint);
});

test("sap-s4hana: business rejections name SAP's target: missing sales area, unknown material", async () => {
  const system = "sap-s4hana";
  await load(system, { connection: { orderDefaults: {} } });
  const customerRef = await seededCustomer(system, running[system].sb.url);
  const noArea = await run({ payload: salesOrder(system, { customerRef }) });
  assert.equal(noArea.out, "rejected");
  assert.equal(noArea.msg.error.code, "V1/384");
  assert.equal(noArea.msg.error.field, "SalesOrganization");
  await helper.unload();
  await load(system);
  const order = salesOrder(system, { customerRef });
  order.lines[1].product = { sku: "NOPE" };
  const bad = await run({ payload: order });
  assert.equal(bad.out, "rejected");
  assert.equal(bad.msg.error.code, "V1/392");
  assert.equal(bad.msg.error.field, "to_Item(1)/Material");
});

test("stripe: a business rejection names Stripe's param", async () => {
  const system = "stripe";
  await load(system);
  const order = salesOrder(system, { customerRef: await seededCustomer(system, running[system].sb.url) });
  order.extensions = { stripe: { daysUntilDue: "soon" } };
  const { out, msg } = await run({ payload: order });
  assert.equal(out, "rejected");
  assert.equal(msg.error.field, "days_until_due");
  assert.equal((await ordersWith(system, running[system].sb.url, order.externalReference)).length, 0);
});

test("an order whose customer has no ERP ref, without ensure-customer, is rejected naming customer.refs", async () => {
  await load("sap-s4hana");
  const { out, msg } = await run({ payload: salesOrder("sap-s4hana") });
  assert.equal(out, "rejected");
  assert.equal(msg.error.code, "CUSTOMER_NOT_LINKED");
  assert.equal(msg.error.field, "customer.refs");
});

test("netsuite: TBA (OAuth 1.0a HMAC-SHA256) signs every call", async () => {
  await load("netsuite", { connection: { auth: "tba" } });
  const order = salesOrder("netsuite", { customerRef: await seededCustomer("netsuite", running.netsuite.sb.url) });
  const { out, msg } = await run({ payload: order });
  assert.equal(out, "accepted", JSON.stringify(msg.error));
  assert.equal((await ordersWith("netsuite", running.netsuite.sb.url, order.externalReference)).length, 1);
});

test("the correlation id is sent to the ERP as a header", async () => {
  const http = require("node:http");
  let seen;
  const server = http.createServer((req, res) => {
    seen = req.headers["x-correlation-id"];
    res.writeHead(201, { "content-type": "application/json" }).end(JSON.stringify({ id: "42", number: "SO-42" }));
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  try {
    const conn = { id: "conn", type: "keelson-erp-connection", system: "generic-rest", baseUrl: `http://127.0.0.1:${server.address().port}`, genericAuth: "none", profile: JSON.stringify({ paths: { createOrder: "/orders" }, selectors: { number: "number" }, idempotencyHeader: "Idempotency-Key" }), mappings: JSON.stringify({ orderOut: "{ 'ref': externalReference }" }) };
    await helper.load(nodes, [
      { id: "tab", type: "tab" }, conn,
      { id: "order", type: "keelson-erp-order", z: "tab", connection: "conn", operation: "create", wires: [["accepted"], ["rejected"]] },
      { id: "accepted", type: "helper", z: "tab" }, { id: "rejected", type: "helper", z: "tab" },
      { id: "catcher", type: "catch", z: "tab", scope: ["order"], wires: [["caught"]] }, { id: "caught", type: "helper", z: "tab" },
    ]);
    const order = salesOrder("stripe", { customerRef: { system: "generic-rest", id: "C1" } });
    const { out, msg } = await run({ payload: order, correlationId: "corr-generic-7" });
    assert.equal(out, "accepted", JSON.stringify(msg.error));
    assert.equal(seen, "corr-generic-7");
    assert.deepEqual(msg.payload.refs.at(-1), { system: "generic-rest", id: "42", type: "order", number: "SO-42" });
  } finally {
    server.close();
  }
});

test("no connection configured → done(err), not a silent drop", async () => {
  await helper.load(nodes, [
    { id: "tab", type: "tab" },
    { id: "order", type: "keelson-erp-order", z: "tab", connection: "missing", operation: "create", wires: [["accepted"], ["rejected"]] },
    { id: "accepted", type: "helper", z: "tab" }, { id: "rejected", type: "helper", z: "tab" },
    { id: "catcher", type: "catch", z: "tab", scope: ["order"], wires: [["caught"]] }, { id: "caught", type: "helper", z: "tab" },
  ]);
  const { out, msg } = await run({ payload: salesOrder("netsuite") });
  assert.equal(out, "caught");
  assert.match(msg.error.message, /no ERP connection/);
  await noMessage(helper.getNode("accepted"), 50);
  void nextMessage;
});
