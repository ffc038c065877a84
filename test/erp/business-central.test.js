"use strict";
// The Business Central adapter against the Business Central sandbox, started in-process: customers once by number,
// orders exactly once through every fault the sandbox injects, BC's error envelope as business rejections naming
// the field, Entra token expiry, invoices by watermark page by page, payments once per reference; and the ERP order
// and ERP invoice nodes on a real Node-RED runtime.
const test = require("node:test");
const assert = require("node:assert/strict");
const { helper } = require("../support/helper");
const { start, BUSINESS_CENTRAL_DEFAULTS: D } = require("../../dist/sandbox/business-central.js");
const { createErpAdapter } = require("../../dist/nodes/lib/vendors/erp.js");
const { BusinessError, TechnicalError } = require("../../dist/nodes/lib/resilience/errors.js");
const storeNode = require("../../dist/nodes/store/store.js");
const connectionNode = require("../../dist/nodes/erp-connection/erp-connection.js");
const orderNode = require("../../dist/nodes/erp-order/erp-order.js");
const invoiceNode = require("../../dist/nodes/erp-invoice/erp-invoice.js");
const { FAST, control } = require("./support");
const kit = require("./kit");

const SYSTEM = "business-central";
const sandbox = kit.useSandbox(start);
let adapter;
const base = () => sandbox.url;
const tokenUrl = () => `${sandbox.url}/${D.tenantId}/oauth2/v2.0/token`;
// BC's 429 says Retry-After: 5; the retry budget must have room for it.
const RETRY = { ...FAST, retry: { ...FAST.retry, maxElapsedMs: 20000 } };

function config(overrides = {}) {
  return { system: SYSTEM, name: "bc test", baseUrl: sandbox.url, tenantId: D.tenantId, environment: D.environment, companyId: D.companyId, clientId: D.clientId, clientSecret: D.clientSecret, tokenUrl: tokenUrl(), localCurrency: "GBP", connection: RETRY, ...overrides };
}

let sequence = 0;
function tag() {
  sequence++;
  return `${Date.now().toString(36)}${process.pid.toString(36)}${sequence}`;
}

async function seededCustomer() {
  const c = (await control.records(base(), "customers")).find((r) => r.number === "C-1001");
  return { system: SYSTEM, id: c.id, type: "customer", number: c.number };
}

function salesOrder(customerRef, { currency = "EUR", lines } = {}) {
  const t = tag();
  return {
    refs: [{ system: "salesforce", id: `006OPP${t}`, type: "Opportunity" }],
    externalReference: `SF-${t}`,
    customer: { refs: [{ system: "salesforce", id: `001${t}`.slice(-18), type: "Account" }, ...(customerRef ? [customerRef] : [])], name: `Account ${t}` },
    orderDate: "2026-11-20",
    currency,
    lines: lines ?? [
      { lineNumber: 1, product: { sku: "GAD-2" }, quantity: 2, unitPrice: { amount: "150.00", currency } },
      { lineNumber: 2, product: { sku: "SUP-12" }, quantity: 1, unitPrice: { amount: "250.00", currency } },
    ],
  };
}

const ordersWith = async (ref) => (await control.records(base(), "salesOrders")).filter((o) => o.externalDocumentNumber === ref);

test.beforeEach(() => {
  adapter = sandbox.track(createErpAdapter(config()));
});

test("ensure customer: created once with the CRM id as its number, then found by it", async () => {
  const t = tag();
  const customer = { refs: [{ system: "salesforce", id: `001${t}`.slice(-18) }], name: "Acme Robotics SAS", kind: "company", email: "ap@acme.example", billingAddress: { city: "Lyon", country: "FR" } };
  const first = await adapter.ensureCustomer(customer, {});
  assert.equal(first.created, true);
  assert.match(first.ref.id, /^[0-9a-f-]{36}$/);
  assert.equal(first.ref.number, customer.refs[0].id);
  const again = await adapter.ensureCustomer(customer, {});
  assert.deepEqual(again, { ref: first.ref, created: false });
  const stored = (await control.records(base(), "customers")).filter((c) => c.number === customer.refs[0].id);
  assert.equal(stored.length, 1);
  assert.equal(stored[0].city, "Lyon");
});

test("ensure customer: a lost answer to the create still leaves one customer", async () => {
  const customer = { refs: [{ system: "salesforce", id: `001${tag()}`.slice(-18) }], name: "Lost Answer Ltd" };
  const lostBefore = (await control.stats(base())).faults["lost-response"] ?? 0;
  await control.faults(base(), [{ kind: "lost-response", method: "POST", path: "*/customers", count: 1 }]);
  const got = await adapter.ensureCustomer(customer, {});
  assert.equal((await control.stats(base())).faults["lost-response"], lostBefore + 1);
  assert.equal(got.created, false, "found after the lost answer, not posted twice");
  assert.equal((await control.records(base(), "customers")).filter((c) => c.number === customer.refs[0].id).length, 1);
});

test("create an order: BC's id and number in refs, lines deep-inserted, read back by id and by external reference", async () => {
  const order = salesOrder(await seededCustomer());
  const { order: accepted, created } = await adapter.createOrder(order, { correlationId: "corr-bc-1" });
  assert.equal(created, true);
  const ref = accepted.refs.find((r) => r.system === SYSTEM);
  assert.match(ref.id, /^[0-9a-f-]{36}$/);
  assert.match(ref.number, /^\d+$/);
  assert.equal(accepted.orderNumber, ref.number);
  assert.equal(accepted.status, "accepted");
  const [stored] = await ordersWith(order.externalReference);
  assert.equal(stored.currencyCode, "EUR");
  assert.equal(stored.totalAmountIncludingTax, 550);

  const byId = await adapter.getOrder({ id: ref.id }, {});
  assert.equal(byId.externalReference, order.externalReference);
  assert.equal(byId.lines.length, 2);
  assert.deepEqual(byId.lines.map((l) => [l.lineNumber, l.product.sku, l.quantity, l.unitPrice.amount]), [[1, "GAD-2", 2, "150"], [2, "SUP-12", 1, "250"]]);
  assert.deepEqual(byId.totals.total, { amount: "550", currency: "EUR" });
  const byRef = await adapter.getOrder({ externalReference: order.externalReference }, {});
  assert.equal(byRef.refs[0].id, ref.id);
  assert.equal(await adapter.getOrder({ externalReference: "NO-SUCH-ORDER" }, {}), undefined);
  assert.equal(await adapter.getOrder({ id: "5d115c9c-0000-0000-0000-000000000000" }, {}), undefined);
});

test("the local currency is sent as BC's blank currency code and read back as its ISO code", async () => {
  const order = salesOrder(await seededCustomer(), { currency: "GBP" });
  const { order: accepted } = await adapter.createOrder(order, {});
  const [stored] = await ordersWith(order.externalReference);
  assert.equal(stored.currencyCode, "");
  assert.equal((await adapter.getOrder({ id: accepted.refs.at(-1).id }, {})).currency, "GBP");
});

test("a reclaimed business key (mayExist) finds the order instead of posting a second", async () => {
  const order = salesOrder(await seededCustomer());
  const first = await adapter.createOrder(order, {});
  const again = await adapter.createOrder(order, { mayExist: true });
  assert.equal(again.created, false);
  assert.equal(again.order.refs.at(-1).id, first.order.refs.at(-1).id);
  assert.equal((await ordersWith(order.externalReference)).length, 1);
});

for (const fault of [
  { kind: "lost-response", count: 1 },
  { kind: "malformed", count: 1 },
  { kind: "html-502", count: 1 },
  { kind: "error", status: 503, count: 2 },
  { kind: "throttle", count: 1 },
  { kind: "outage", durationMs: 600, mode: "reset" },
  { kind: "outage", durationMs: 600, mode: "503" },
  { kind: "latency", ms: 900, count: 1 }, // 1.5 × the timeout: the look-up after it (at 2 × the timeout) must come after the commit
]) {
  test(`${fault.kind}${fault.mode ? ` (${fault.mode})` : ""} on the order create → exactly one order`, async () => {
    const local = createErpAdapter(config(fault.kind === "latency" ? { connection: { ...RETRY, timeoutMs: 600 } } : fault.kind === "outage" ? { connection: { ...RETRY, retry: { ...RETRY.retry, maxAttempts: 40, baseDelayMs: 50, maxDelayMs: 100 }, breaker: { failureThreshold: 1000, minimumCalls: 1000 } } } : {}));
    try {
      const order = salesOrder(await seededCustomer());
      await local.ensureCustomer({ refs: [order.customer.refs[1]], name: "x" }, {}); // token first, so the fault meets the create
      await control.faults(base(), [{ ...fault, method: "POST", path: "*/salesOrders" }]);
      const { order: accepted } = await local.createOrder(order, {});
      assert.ok((await control.stats(base())).faults[fault.kind] >= 1, "the fault fired");
      if (fault.kind === "latency") await new Promise((r) => setTimeout(r, 900)); // the late original commits after we answered
      const stored = await ordersWith(order.externalReference);
      assert.equal(stored.length, 1);
      assert.equal(stored[0].id, accepted.refs.at(-1).id);
    } finally {
      await local.close();
    }
  });
}

test("a BC 500 is a technical failure, not retried, and creates nothing", async () => {
  const order = salesOrder(await seededCustomer());
  await control.faults(base(), [{ kind: "error", status: 500, method: "POST", path: "*/salesOrders" }]);
  const err = await adapter.createOrder(order, {}).then(() => undefined, (e) => e);
  assert.ok(err instanceof TechnicalError && !(err instanceof BusinessError), String(err));
  assert.equal(err.status, 500);
  assert.equal(err.retryable, false);
  assert.equal((await ordersWith(order.externalReference)).length, 0);
});

test("a 429 burst longer than the retry budget reaches the caller as a throttle", async () => {
  const local = createErpAdapter(config({ connection: { ...FAST, retry: { ...FAST.retry, maxElapsedMs: 1000 } } }));
  try {
    await control.faults(base(), [{ kind: "throttle", method: "GET", path: "*/salesOrders*", count: 3 }]);
    const err = await local.getOrder({ externalReference: "X" }, {}).then(() => undefined, (e) => e);
    assert.ok(err instanceof TechnicalError, String(err));
    assert.equal(err.kind, "throttled");
    assert.equal(err.status, 429);
    assert.equal(err.retryAfterMs, 5000, "BC's Retry-After was read");
  } finally {
    await local.close();
  }
});

test("an expired Entra token is renewed once and the order goes through", async () => {
  const customerRef = await seededCustomer();
  await adapter.createOrder(salesOrder(customerRef), {});
  const before = (await control.stats(base())).routes;
  await control.expireTokens(base());
  const order = salesOrder(customerRef);
  await adapter.createOrder(order, {});
  assert.equal((await ordersWith(order.externalReference)).length, 1);
  const after = (await control.stats(base())).routes;
  const count = (routes, match, status) => Object.entries(routes).filter(([k]) => match.test(k)).reduce((n, [, r]) => n + (status ? r.statuses[status] ?? 0 : r.requests), 0);
  assert.equal(count(after, /oauth2/) - count(before, /oauth2/), 1, "one new token");
  assert.ok(count(after, /./, "401") - count(before, /./, "401") >= 1, "the expired token was refused");
  assert.equal(adapter.connection.state().counters.reauthentications, 1);
});

test("wrong client secret: a technical auth error naming the token endpoint, nothing sent to the API", async () => {
  const local = createErpAdapter(config({ clientSecret: "wrong" }));
  try {
    const err = await local.getOrder({ externalReference: "X" }, {}).then(() => undefined, (e) => e);
    assert.ok(err instanceof TechnicalError, String(err));
    assert.equal(err.kind, "auth");
    assert.match(err.message, /token endpoint .* refused the login \(HTTP 401: invalid_client/);
  } finally {
    await local.close();
  }
});

test("business rejections carry BC's code, message and the field it names", async () => {
  const customerRef = await seededCustomer();
  const unknownItem = salesOrder(customerRef);
  unknownItem.lines[1].product = { sku: "NOPE-1" };
  let err = await adapter.createOrder(unknownItem, {}).then(() => undefined, (e) => e);
  assert.ok(err instanceof BusinessError, String(err));
  assert.equal(err.code, "Internal_RecordNotFound");
  assert.equal(err.field, "salesOrderLines.lineObjectNumber");
  assert.match(err.message, /The Item does not exist\. Identification fields and values: No\.='NOPE-1'$/, "CorrelationId stripped");
  assert.equal(err.status, 400);
  assert.ok(err.hint);
  assert.equal((await ordersWith(unknownItem.externalReference)).length, 0, "the deep insert is all or nothing");

  err = await adapter.createOrder(salesOrder(customerRef, { currency: "CHF" }), {}).then(() => undefined, (e) => e);
  assert.equal(err.code, "Application_FieldValidationException");
  assert.equal(err.field, "Currency Code");

  const long = salesOrder(customerRef);
  long.externalReference = "X".repeat(36);
  err = await adapter.createOrder(long, {}).then(() => undefined, (e) => e);
  assert.equal(err.code, "Application_StringExceededLength");

  err = await adapter.createOrder(salesOrder({ system: SYSTEM, id: "C-1001" }), {}).then(() => undefined, (e) => e);
  assert.equal(err.code, "INVALID_ID");
  assert.equal(err.field, "customer.refs");
  err = await adapter.createOrder(salesOrder(), {}).then(() => undefined, (e) => e);
  assert.equal(err.code, "CUSTOMER_NOT_LINKED");
});

test("a wrong company id is a configuration error, not a rejected record", async () => {
  const local = createErpAdapter(config({ companyId: "11111111-2222-3333-4444-555555555555" }));
  try {
    const err = await local.getOrder({ externalReference: "X" }, {}).then(() => undefined, (e) => e);
    assert.ok(err instanceof TechnicalError && !(err instanceof BusinessError), String(err));
    assert.equal(err.code, "Internal_CompanyNotFound");
    assert.match(err.message, /check the connection's tenant, environment and company/);
  } finally {
    await local.close();
  }
});

async function addInvoices(n) {
  const ids = [];
  for (let i = 0; i < n; i++) {
    const r = await control.seed(base(), "salesInvoices", { customerNumber: "C-1001", externalDocumentNumber: `INV-${tag()}`, salesInvoiceLines: [{ lineType: "Item", lineObjectNumber: "GAD-2", quantity: i + 1, unitPrice: 150 }] });
    ids.push((r.records ?? [r])[0].id);
  }
  return ids;
}

async function listAll(watermark, pageSize) {
  const pages = [];
  for await (const page of adapter.listInvoices(watermark, { pageSize })) pages.push(page);
  return pages;
}

test("invoices: every page oldest first, the odd one rejected not fatal, then only what changed after the watermark", async () => {
  const first = await listAll(undefined, 1);
  assert.ok(first.length >= 2, "more than one page");
  const listed = first.flatMap((p) => p.invoices.map((i) => i.refs[0].id));
  assert.equal(new Set(listed).size, listed.length, "no invoice twice");
  // The seeded PO-77 invoice has a 9.995 unit price, finer than EUR allows in a canonical Money.
  const rejected = first.flatMap((p) => p.rejected);
  assert.equal(rejected.length, 1);
  assert.match(rejected[0].error.message, /lines\[1\]\.unitPrice has more decimal places/);
  const versions = first.flatMap((p) => p.invoices.map((i) => i.version));
  assert.deepEqual(versions, [...versions].sort(), "oldest first");
  const watermark = first.at(-1).watermark;
  assert.match(watermark, /^\d{4}-\d\d-\d\dT[\d:.]+Z\|\d+$/);
  assert.equal((await listAll(watermark, 2)).length, 0, "nothing changed since");

  const added = await addInvoices(3);
  const next = await listAll(watermark, 2);
  assert.deepEqual(next.flatMap((p) => p.invoices.map((i) => i.refs[0].id)), added);
  assert.equal(next.length, 2);
  const inv = next[0].invoices[0];
  assert.equal(inv.status, "open");
  assert.equal(inv.currency, "EUR");
  assert.deepEqual(inv.totals.amountDue, { amount: "150", currency: "EUR" });
  await assert.rejects(adapter.listInvoices("yesterday", {}).next(), /Business Central watermark must be/);
});

test("get one invoice; a missing one is undefined", async () => {
  const [id] = await addInvoices(1);
  const inv = await adapter.getInvoice(id, {});
  assert.equal(inv.refs[0].id, id);
  assert.equal(inv.lines[0].product.sku, "GAD-2");
  assert.equal(await adapter.getInvoice("5d115c9c-0000-0000-0000-000000000000", {}), undefined);
  assert.equal(await adapter.getInvoice("not-a-guid", {}), undefined);
});

test("a payment is one journal line per reference, also after a lost answer", async () => {
  const [a, b] = await addInvoices(2);
  const payment = (invoice, reference) => ({ refs: [], amount: { amount: "100.00", currency: "EUR" }, paymentDate: "2026-11-22", method: "bank-transfer", reference, invoices: [{ refs: [{ system: SYSTEM, id: invoice }], amount: { amount: "100.00", currency: "EUR" } }] });
  const lines = async (ref) => (await control.records(base(), "customerPayments")).filter((p) => p.externalDocumentNumber === ref);
  const ref1 = `BANK-${tag()}`;
  const paid = await adapter.recordPayment(payment(a, ref1), {});
  assert.equal(paid.status, "pending");
  assert.ok(paid.refs.some((r) => r.system === SYSTEM && r.type === "customerPayment"));
  const again = await adapter.recordPayment(payment(a, ref1), {});
  assert.equal(again.refs.at(-1).id, paid.refs.at(-1).id);
  const [line] = await lines(ref1);
  assert.equal(line.amount, -100);
  assert.equal(line.appliesToInvoiceId, a);
  assert.equal((await lines(ref1)).length, 1);

  const ref2 = `BANK-${tag()}`;
  const lostBefore = (await control.stats(base())).faults["lost-response"] ?? 0;
  await control.faults(base(), [{ kind: "lost-response", method: "POST", path: "*/customerPayments", count: 1 }]);
  await adapter.recordPayment(payment(b, ref2), {});
  assert.equal((await control.stats(base())).faults["lost-response"], lostBefore + 1);
  assert.equal((await lines(ref2)).length, 1);

  const err = await adapter.recordPayment({ ...payment(a, "R"), invoices: [] }, {}).then(() => undefined, (e) => e);
  assert.equal(err.code, "UNSUPPORTED");
  const missing = await adapter.recordPayment(payment("5d115c9c-0000-0000-0000-000000000000", "R2"), {}).then(() => undefined, (e) => e);
  assert.ok(missing instanceof BusinessError);
  assert.equal(missing.field, "invoices[0].refs");
});

// ---- on a real Node-RED runtime ---------------------------------------------------------------------------------

function connectionDef(overrides = {}) {
  return {
    def: { id: "conn", type: "keelson-erp-connection", name: "bc sandbox", system: SYSTEM, baseUrl: sandbox.url, tenantId: D.tenantId, environment: D.environment, companyId: D.companyId, tokenUrl: tokenUrl(), scope: "", localCurrency: "GBP", paymentJournal: "CASHRCPT", orderDefaults: "", maxAttempts: 6, timeoutSeconds: 2, ...overrides },
    creds: { conn: { clientId: D.clientId, clientSecret: D.clientSecret } },
  };
}

/** Sends msg into `node` and resolves with the first of the named outputs that answers. */
function first(node, msg, outs) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no answer within 15 s")), 15000);
    for (const out of outs) {
      helper.getNode(out).once("input", (m) => {
        clearTimeout(timer);
        for (const o of outs) helper.getNode(o).removeAllListeners("input");
        resolve({ out, msg: m });
      });
    }
    helper.getNode(node).receive(msg);
  });
}

test("node-red: ERP order ensures the customer, creates once through a lost answer, rejects with BC's field", async () => {
  const { def, creds } = connectionDef();
  await helper.load([connectionNode, orderNode], [
    { id: "tab", type: "tab" }, def,
    { id: "order", type: "keelson-erp-order", z: "tab", connection: "conn", operation: "create", ensureCustomer: true, customer: "customer", customerType: "msg", wires: [["accepted"], ["rejected"]] },
    { id: "accepted", type: "helper", z: "tab" }, { id: "rejected", type: "helper", z: "tab" },
    { id: "catcher", type: "catch", z: "tab", scope: ["order"], wires: [["caught"]] }, { id: "caught", type: "helper", z: "tab" },
  ], creds);
  const outs = ["accepted", "rejected", "caught"];
  const order = salesOrder();
  await control.faults(base(), [{ kind: "lost-response", method: "POST", path: "*/salesOrders", count: 1 }]);
  const ok = await first("order", { payload: order, correlationId: "corr-bc-node" }, outs);
  assert.equal(ok.out, "accepted", JSON.stringify(ok.msg.error));
  assert.equal(ok.msg.erp.customerCreated, true);
  assert.ok(ok.msg.payload.refs.some((r) => r.system === SYSTEM && r.number));
  assert.equal(ok.msg.correlationId, "corr-bc-node");
  assert.equal((await ordersWith(order.externalReference)).length, 1);

  const bad = salesOrder(await seededCustomer());
  bad.lines[0].product = { sku: "NOPE-2" };
  const rejected = await first("order", { payload: bad }, outs);
  assert.equal(rejected.out, "rejected");
  assert.equal(rejected.msg.error.code, "Internal_RecordNotFound");
  assert.equal(rejected.msg.error.field, "salesOrderLines.lineObjectNumber");
  assert.match(rejected.msg.error.message, /NOPE-2/);

  await control.faults(base(), [{ kind: "error", status: 500, method: "POST", path: "*/salesOrders" }]);
  const failed = await first("order", { payload: salesOrder(await seededCustomer()) }, outs);
  assert.equal(failed.out, "caught");
  assert.match(failed.msg.error.message, /500/);
});

test("node-red: ERP invoice lists by the stored watermark and records a payment once", async () => {
  const { def, creds } = connectionDef();
  const flow = (operation) => [
    { id: "tab", type: "tab" },
    { id: "st", type: "keelson-store", backend: "memory", dir: "", redisUrl: "", prefix: "", postgresUrl: "", schema: "", tablePrefix: "", timeout: 1000 },
    def,
    { id: "inv", type: "keelson-erp-invoice", z: "tab", connection: "conn", operation, store: "st", watermark: "bc-test", pageSize: 2, wires: [["out"], ["rejected"]] },
    { id: "out", type: "helper", z: "tab" }, { id: "rejected", type: "helper", z: "tab" },
    { id: "catcher", type: "catch", z: "tab", scope: ["inv"], wires: [["caught"]] }, { id: "caught", type: "helper", z: "tab" },
    { id: "completer", type: "complete", z: "tab", scope: ["inv"], wires: [["completed"]] }, { id: "completed", type: "helper", z: "tab" },
  ];
  const run = (msg) => new Promise((resolve, reject) => {
    const seen = { out: [], rejected: [], caught: [] };
    const timer = setTimeout(() => reject(new Error("not done within 10 s")), 10000);
    helper.getNode("out").on("input", (m) => seen.out.push(m));
    helper.getNode("rejected").on("input", (m) => seen.rejected.push(m));
    const finish = () => { clearTimeout(timer); setImmediate(() => { for (const id of ["out", "rejected", "caught", "completed"]) helper.getNode(id).removeAllListeners("input"); resolve(seen); }); };
    helper.getNode("caught").on("input", (m) => { seen.caught.push(m); finish(); });
    helper.getNode("completed").once("input", finish);
    helper.getNode("inv").receive(msg);
  });
  await helper.load([storeNode, connectionNode, invoiceNode], flow("list"), creds);
  await control.faults(base(), [{ kind: "error", status: 503, method: "GET", path: "*/salesInvoices", count: 1 }]);
  const all = await run({ payload: "" });
  assert.equal(all.caught.length, 0, JSON.stringify(all.caught[0]?.error));
  assert.ok(all.out.length >= 2);
  assert.ok(all.rejected.length >= 1, "the 9.995 invoice leaves by output 2");
  const added = await addInvoices(2);
  const next = await run({ payload: "" });
  assert.deepEqual(next.out.map((m) => m.payload.refs[0].id), added);

  await helper.unload();
  await helper.load([storeNode, connectionNode, invoiceNode], flow("payment"), creds);
  const reference = `BANK-${tag()}`;
  const payment = { refs: [], amount: { amount: "50.00", currency: "EUR" }, paymentDate: "2026-11-22", reference, invoices: [{ refs: [{ system: SYSTEM, id: added[0] }], amount: { amount: "50.00", currency: "EUR" } }] };
  const paid = await run({ payload: payment });
  assert.equal(paid.out.length, 1, JSON.stringify(paid.caught[0]?.error ?? paid.rejected[0]?.error));
  await run({ payload: payment });
  assert.equal((await control.records(base(), "customerPayments")).filter((p) => p.externalDocumentNumber === reference).length, 1);
});

test("connection config: BC's tenant, environment and company come from the dialog or the environment, missing ones named", () => {
  const { configOf } = require("../../dist/nodes/erp-connection/config.js");
  const def = { id: "c1", name: "", system: "business-central", baseUrl: "https://api.businesscentral.dynamics.com", tenantId: "contoso.onmicrosoft.com", environment: "", companyId: D.companyId, tokenUrl: "", scope: "", localCurrency: "USD", paymentJournal: "" };
  const got = configOf(def, { clientId: "app", clientSecret: "s" });
  assert.equal(got.system, SYSTEM);
  assert.equal(got.environment, "production", "BC's default environment name");
  assert.equal(got.localCurrency, "USD");
  assert.equal(got.tokenUrl, undefined, "the adapter's default (Entra for the tenant)");
  assert.throws(() => configOf({ ...def, companyId: "" }, { clientId: "app", clientSecret: "s" }), /company id \(or ERP_COMPANY_ID\) is missing/);
  assert.throws(() => configOf(def, { clientId: "app" }), /clientSecret \(credentials, or ERP_CLIENT_SECRET\) is missing/);
  process.env.ERP_TENANT_ID = "from-env";
  try {
    assert.equal(configOf({ ...def, tenantId: "" }, { clientId: "app", clientSecret: "s" }).tenantId, "from-env");
  } finally {
    delete process.env.ERP_TENANT_ID;
  }
});
