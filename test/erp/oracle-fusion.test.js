"use strict";
// Oracle Fusion Order Hub: the adapter against the sandbox (Basic and OAuth, every fault kind on create, the
// order key refusing a twin, ADF errors as business rejections), then keelson-erp-order / -invoice in Node-RED.
const test = require("node:test");
const assert = require("node:assert/strict");
const { start, ORACLE_FUSION_DEFAULTS: D } = require("../../dist/sandbox/oracle-fusion.js");
const { createErpAdapter } = require("../../dist/nodes/lib/vendors/erp.js");
const { BusinessError, TechnicalError } = require("../../dist/nodes/lib/resilience/errors.js");
const kit = require("./kit");
const { control, helper } = kit;

const CREATE = "/fscmRestApi/resources/11.13.18.05/salesOrdersForOrderHub";
let sb;
const adapters = [];

function adapter({ auth = "basic", connection = {}, ...rest } = {}) {
  const a = createErpAdapter({
    system: "oracle-fusion",
    name: "fusion test",
    baseUrl: sb.url,
    auth: auth === "basic" ? { kind: "basic", user: D.username, password: D.password } : { kind: "oauth2", clientId: D.clientId, clientSecret: D.clientSecret },
    orderDefaults: { businessUnitName: "Vision Operations" },
    connection: { ...kit.FAST, ...connection },
    ...rest,
  });
  adapters.push(a);
  return a;
}

const order = (overrides = {}) => kit.salesOrder({ system: "oracle-fusion", type: "party" }, overrides);

const ordersWith = async (ref) => (await control.records(sb.url, "salesOrdersForOrderHub")).filter((r) => r.SourceTransactionId === ref);

test.before(async () => {
  sb = await start({ port: 0 });
  await helper.startServer();
});
test.after(async () => {
  await sb.close();
  await helper.stopServer();
});
test.afterEach(async () => {
  // Sessions count against the licence (Acumatica): every adapter a test opened is closed after it.
  for (const a of adapters.splice(0)) await a.close();
  await helper.unload();
  await control.clearFaults(sb.url);
});

test("oracle-fusion: create with Basic auth: HeaderId and order number in refs; a second create finds the same order", async () => {
  const a = adapter();
  const o = order();
  const first = await a.createOrder(o, { correlationId: "c-1" });
  assert.equal(first.created, true);
  const ref = first.order.refs.find((r) => r.system === "oracle-fusion");
  assert.match(ref.id, /^\d+$/);
  assert.ok(ref.number, "submitted orders have an order number");
  assert.equal(first.order.orderNumber, ref.number);
  assert.equal(first.order.status, "accepted");
  const [stored] = await ordersWith(o.externalReference);
  assert.equal(stored.SourceTransactionSystem, "KEELSON");
  assert.equal(stored.BusinessUnitName, "Vision Operations", "order defaults reach the body");
  assert.equal(stored.StatusCode, "OPEN");
  assert.deepEqual(stored.lines.map((l) => [l.ProductNumber, l.OrderedQuantity, l.UnitSellingPrice]), [["GAD-2", 2, 150], ["WID-1", 3, 9.99]]);

  const again = await a.createOrder(o, {});
  assert.equal(again.created, false, "the order key refuses a twin; the adapter reads the order back");
  assert.equal(again.order.refs.find((r) => r.system === "oracle-fusion").id, ref.id);
  assert.equal((await ordersWith(o.externalReference)).length, 1);
});

test("oracle-fusion: OAuth client credentials; an expired token is renewed once without failing the call", async () => {
  const a = adapter({ auth: "oauth2" });
  assert.equal((await a.createOrder(order(), {})).created, true);
  await control.expireTokens(sb.url);
  const o = order();
  assert.equal((await a.createOrder(o, {})).created, true);
  const stats = await control.stats(sb.url);
  assert.equal(kit.requests(stats, "POST", "token"), 2, "one login, one renewal");
  assert.equal((await ordersWith(o.externalReference)).length, 1);
});

test("oracle-fusion: a wrong password is an auth failure, not retried", async () => {
  const a = createErpAdapter({ system: "oracle-fusion", name: "bad", baseUrl: sb.url, auth: { kind: "basic", user: D.username, password: "wrong" }, orderDefaults: { businessUnitName: "Vision Operations" }, connection: kit.FAST });
  adapters.push(a);
  await assert.rejects(a.createOrder(order(), {}), (err) => err instanceof TechnicalError && err.kind === "auth" && err.retryable === false);
});

// Order Hub's 429 asks for 60 s (Retry-After): a burst is its own test below.
for (const { fault, connection, settleMs } of kit.CREATE_FAULTS.filter((c) => c.fault.kind !== "throttle")) {
  test(`oracle-fusion: ${kit.name(fault)} on create → exactly one order`, async () => {
    const a = adapter({ connection });
    const o = order();
    await control.faults(sb.url, [{ ...fault, method: "POST", path: CREATE }]);
    const outcome = await a.createOrder(o, {});
    assert.ok(outcome.order.refs.some((r) => r.system === "oracle-fusion"));
    assert.ok(((await control.stats(sb.url)).faults[fault.kind] ?? 0) >= 1, "the fault fired");
    if (settleMs) await new Promise((r) => setTimeout(r, settleMs));
    assert.equal((await ordersWith(o.externalReference)).length, 1);
  });
}

test("oracle-fusion: a 500 is a technical failure and no order is written", async () => {
  const a = adapter({ connection: { retry: { maxAttempts: 1 } } });
  const o = order();
  await control.faults(sb.url, [{ kind: "error", status: 500, method: "POST", path: CREATE }]);
  await assert.rejects(a.createOrder(o, {}), (err) => err instanceof TechnicalError && err.status === 500);
  assert.equal((await ordersWith(o.externalReference)).length, 0);
});

test("oracle-fusion: a 429 burst: Retry-After (60 s) past the retry budget surfaces as throttled, nothing written; the rerun creates one", async () => {
  const a = adapter();
  const o = order();
  await control.faults(sb.url, [{ kind: "throttle", method: "POST", path: CREATE, count: 2 }]);
  await assert.rejects(a.createOrder(o, {}), (err) => err instanceof TechnicalError && err.kind === "throttled" && err.retryable && err.retryAfterMs === 60000);
  assert.equal((await ordersWith(o.externalReference)).length, 0);
  await assert.rejects(a.createOrder(o, { mayExist: true }), (err) => err instanceof TechnicalError && err.kind === "throttled");
  assert.equal((await a.createOrder(o, { mayExist: true })).created, true);
  assert.equal((await ordersWith(o.externalReference)).length, 1);
});

test("oracle-fusion: ADF errors are business rejections naming code, message and attribute", async () => {
  const a = adapter();
  const badItem = order({ lines: [{ lineNumber: 1, product: { sku: "NOPE-1" }, quantity: 1 }] });
  await assert.rejects(a.createOrder(badItem, {}), (err) => err instanceof BusinessError && err.code === "DOO-2684010" && err.field === "ProductNumber" && /NOPE-1/.test(err.message));
  const noUnit = adapter({ orderDefaults: {} });
  await assert.rejects(noUnit.createOrder(order(), {}), (err) => err instanceof BusinessError && err.code === "DOO-2684001" && err.field === "BusinessUnitName");
  const unknownParty = order();
  unknownParty.customer.refs[1].id = "C-9999";
  await assert.rejects(a.createOrder(unknownParty, {}), (err) => err instanceof BusinessError && err.code === "DOO-2684012" && err.field === "BuyingPartyNumber");
  assert.equal((await ordersWith(badItem.externalReference)).length, 0);
});

test("oracle-fusion: a customer without a party number is refused before any call", async () => {
  const a = adapter();
  const o = order();
  o.customer.refs = o.customer.refs.filter((r) => r.system !== "oracle-fusion");
  await assert.rejects(a.createOrder(o, {}), (err) => err instanceof BusinessError && err.code === "CUSTOMER_NOT_LINKED");
  await assert.rejects(a.ensureCustomer({ refs: [{ system: "salesforce", id: "001X" }], name: "X" }, {}), (err) => err instanceof BusinessError && err.code === "CUSTOMER_NOT_LINKED" && /creates no customers/.test(err.message));
  assert.deepEqual((await a.ensureCustomer({ refs: [{ system: "oracle-fusion", id: "C-1002" }], name: "Umbrella" }, {})).ref, { system: "oracle-fusion", id: "C-1002" });
});

test("oracle-fusion: mayExist reads the order by its key and posts nothing when it is there", async () => {
  const a = adapter();
  const o = order();
  await a.createOrder(o, {});
  const before = kit.requests(await control.stats(sb.url), "POST", "salesOrdersForOrderHub$");
  const again = await a.createOrder(o, { mayExist: true });
  assert.equal(again.created, false);
  assert.equal(kit.requests(await control.stats(sb.url), "POST", "salesOrdersForOrderHub$"), before, "no second POST");
});

test("oracle-fusion: get an order by HeaderId and by external reference; a missing one is undefined", async () => {
  const a = adapter();
  const o = order({ extensions: { "oracle-fusion": { submit: false } } });
  const { order: created } = await a.createOrder(o, {});
  assert.equal(created.status, "draft", "an order not submitted stays a draft");
  const id = created.refs.find((r) => r.system === "oracle-fusion").id;
  const byId = await a.getOrder({ id }, {});
  assert.equal(byId.externalReference, o.externalReference);
  assert.equal(byId.status, "draft");
  assert.equal(byId.lines.length, 2);
  assert.deepEqual(byId.lines[1].unitPrice, { amount: "9.99", currency: "EUR" });
  const byRef = await a.getOrder({ externalReference: o.externalReference }, {});
  assert.equal(byRef.refs[0].id, id);
  assert.equal(await a.getOrder({ externalReference: "NO-SUCH" }, {}), undefined);
  // The seeded order has a list price of 9.995, rounded to the currency's cents on the way in.
  const seeded = await a.getOrder({ externalReference: "SO-EXT-1" }, {});
  assert.deepEqual(seeded.lines.find((l) => l.product.sku === "WID-1").unitPrice, { amount: "10.00", currency: "EUR" });
});

test("oracle-fusion: invoices and payments are not offered by Order Hub", async () => {
  const a = adapter();
  await assert.rejects(a.listInvoices(undefined, {}).next(), /list invoices.*not offered/);
  await assert.rejects(a.getInvoice("1", {}), /get invoice.*not offered/);
  await assert.rejects(a.recordPayment({ refs: [], amount: { amount: "1.00", currency: "EUR" }, paymentDate: "2026-11-21" }, {}), /record payment.*not offered/);
});

// ---- Node-RED -------------------------------------------------------------------------------------------------

function connectionNode(fields = {}) {
  return kit.connection(
    { system: "oracle-fusion", baseUrl: sb.url, fusionAuth: "basic", orderDefaults: JSON.stringify({ businessUnitName: "Vision Operations" }), ...fields },
    fields.fusionAuth === "oauth2" ? { clientId: D.clientId, clientSecret: D.clientSecret } : { user: D.username, password: D.password },
  );
}

test("oracle-fusion in Node-RED: keelson-erp-order creates once through a lost response and rejects bad data on output 2", async () => {
  const run = await kit.orderFlow(connectionNode({ fusionAuth: "oauth2" }));
  const o = order();
  await control.faults(sb.url, [{ kind: "lost-response", method: "POST", path: CREATE, count: 1 }]);
  const ok = await run({ payload: o, correlationId: "nr-1" });
  assert.equal(ok.out, "accepted", JSON.stringify(ok.msg.error));
  assert.ok(ok.msg.payload.refs.some((r) => r.system === "oracle-fusion" && r.number));
  assert.equal(ok.msg.correlationId, "nr-1");
  assert.equal((await ordersWith(o.externalReference)).length, 1);

  const bad = await run({ payload: order({ lines: [{ lineNumber: 1, product: { sku: "NOPE-2" }, quantity: 1, unitPrice: { amount: "1.00", currency: "EUR" } }] }) });
  assert.equal(bad.out, "rejected");
  assert.equal(bad.msg.error.code, "DOO-2684010");
  assert.equal(bad.msg.error.field, "ProductNumber");
  assert.match(bad.msg.error.message, /NOPE-2/);
});

test("oracle-fusion in Node-RED: order status by external reference; listing invoices reaches Catch as not offered", async () => {
  const status = await kit.orderFlow(connectionNode(), { operation: "status" });
  const got = await status({ payload: { externalReference: "SO-EXT-1", refs: [] } });
  assert.equal(got.out, "accepted", JSON.stringify(got.msg.error));
  assert.equal(got.msg.payload.orderNumber, "84001");
  await helper.unload();
  const list = await kit.invoiceFlow(connectionNode());
  const listed = await list();
  assert.equal(listed.caught.length, 1);
  assert.match(listed.caught[0].error.message, /list invoices.*not offered/);
});
