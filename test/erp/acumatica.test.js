"use strict";
// Acumatica contract-based REST: the adapter against the sandbox (cookie session and its renewal, every fault
// kind on create, look-up by CustomerOrder before a repost, 422 / PX errors as business rejections, invoices by
// watermark, a payment recorded and released once), then keelson-erp-order / -invoice in Node-RED.
const test = require("node:test");
const assert = require("node:assert/strict");
const { start, ACUMATICA_DEFAULTS: D } = require("../../dist/sandbox/acumatica.js");
const { createErpAdapter } = require("../../dist/nodes/lib/vendors/erp.js");
const { BusinessError, TechnicalError } = require("../../dist/nodes/lib/resilience/errors.js");
const kit = require("./kit");
const { control, helper } = kit;

const ENTITY = "/entity/Default/24.200.001";
const sandbox = kit.useSandbox(start);

function adapter({ connection = {}, ...rest } = {}) {
  const a = createErpAdapter({ system: "acumatica", name: "acumatica test", baseUrl: sandbox.url, user: D.name, password: D.password, tenant: D.tenant, connection: { ...kit.FAST, ...connection }, ...rest });
  sandbox.track(a);
  return a;
}

const order = (overrides = {}) => kit.salesOrder({ system: "acumatica", type: "Customer" }, overrides);

const ordersWith = async (ref) => (await control.records(sandbox.url, "SalesOrder")).filter((r) => r.CustomerOrder === ref);
const paymentsWith = async (ref) => (await control.records(sandbox.url, "Payment")).filter((r) => r.PaymentRef === ref);
/** A released (Open) invoice of C-1001 for qty × 150 EUR; resolves with its reference number. */
async function openInvoice(qty = 1) {
  const [inv] = await control.seed(sandbox.url, "SalesInvoice", { CustomerID: "C-1001", Details: [{ InventoryID: "GAD-2", Qty: qty }] });
  const a = await fetch(`${sandbox.url}/entity/auth/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: D.name, password: D.password, tenant: D.tenant }) });
  const cookie = a.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ");
  const res = await fetch(`${sandbox.url}${ENTITY}/SalesInvoice/ReleaseSalesInvoice`, { method: "POST", headers: { "content-type": "application/json", cookie }, body: JSON.stringify({ entity: { id: inv.id } }) });
  assert.equal(res.status, 202);
  await fetch(`${sandbox.url}/entity/auth/logout`, { method: "POST", headers: { cookie } });
  return inv.ReferenceNbr;
}
const payment = (invoice, reference, amount = "100.00") => ({ refs: [], amount: { amount, currency: "EUR" }, paymentDate: "2026-11-21", method: "bank-transfer", reference, invoices: [{ refs: [{ system: "acumatica", id: invoice }], amount: { amount, currency: "EUR" } }] });

test("acumatica: ensure customer creates it once keyed by the CRM id, then finds it", async () => {
  const a = adapter();
  const t = kit.tag();
  const customer = { refs: [{ system: "salesforce", id: `001${t}` }], name: `Initech ${t}`, email: "ap@initech.example", currency: "USD" };
  const first = await a.ensureCustomer(customer, {});
  assert.deepEqual(first, { ref: { system: "acumatica", id: `001${t}`, type: "Customer", number: `001${t}` }, created: true });
  const again = await a.ensureCustomer(customer, {});
  assert.equal(again.created, false);
  const stored = (await control.records(sandbox.url, "Customer")).filter((c) => c.CustomerID === `001${t}`);
  assert.equal(stored.length, 1);
  assert.equal(stored[0].CustomerName, `Initech ${t}`);
  assert.equal(stored[0].CurrencyID, "USD");
  assert.equal((await a.ensureCustomer({ refs: [{ system: "acumatica", id: "C-1002" }], name: "Umbrella" }, {})).created, false);
});

test("acumatica: create an order: its number in refs, CustomerOrder = external reference, one login for many calls", async () => {
  const logins = kit.requests(await control.stats(sandbox.url), "POST", "login");
  const a = adapter();
  const o = order();
  const { order: created, created: isNew } = await a.createOrder(o, { correlationId: "c-1" });
  assert.equal(isNew, true);
  const ref = created.refs.find((r) => r.system === "acumatica");
  assert.match(ref.number, /^SO\d+$/);
  assert.equal(created.orderNumber, ref.number);
  assert.equal(created.status, "accepted");
  const [stored] = await ordersWith(o.externalReference);
  assert.equal(stored.OrderNbr, ref.number);
  assert.deepEqual(stored.Details.map((l) => [l.InventoryID, l.OrderQty, l.UnitPrice]), [["GAD-2", 2, 150], ["WID-1", 3, 9.99]]);
  await a.createOrder(order(), {});
  assert.equal(kit.requests(await control.stats(sandbox.url), "POST", "login"), logins + 1, "the session is reused");
});

test("acumatica: mayExist finds the order by CustomerOrder and posts nothing", async () => {
  const a = adapter();
  const o = order();
  const first = await a.createOrder(o, {});
  const again = await a.createOrder(o, { mayExist: true });
  assert.equal(again.created, false);
  assert.equal(again.order.orderNumber, first.order.orderNumber);
  assert.equal((await ordersWith(o.externalReference)).length, 1);
});

test("acumatica: an expired session is renewed by logging in again; close logs out", async () => {
  const a = createErpAdapter({ system: "acumatica", name: "session", baseUrl: sandbox.url, user: D.name, password: D.password, tenant: D.tenant, connection: kit.FAST });
  await a.createOrder(order(), {});
  const before = kit.requests(await control.stats(sandbox.url), "POST", "login");
  await control.expireTokens(sandbox.url);
  const o = order();
  assert.equal((await a.createOrder(o, {})).created, true);
  assert.equal(kit.requests(await control.stats(sandbox.url), "POST", "login"), before + 1);
  assert.equal((await ordersWith(o.externalReference)).length, 1);
  const logouts = kit.requests(await control.stats(sandbox.url), "POST", "logout");
  await a.close();
  assert.equal(kit.requests(await control.stats(sandbox.url), "POST", "logout"), logouts + 1);
});

test("acumatica: a wrong password is an auth failure, not retried", async () => {
  const a = adapter({ password: "wrong" });
  await assert.rejects(a.createOrder(order(), {}), (err) => err instanceof TechnicalError && err.kind === "auth" && !err.retryable && /Invalid credentials/.test(err.message));
  assert.equal(kit.requests(await control.stats(sandbox.url), "POST", "login") > 0, true);
});

for (const { fault, connection, settleMs } of kit.CREATE_FAULTS) {
  test(`acumatica: ${kit.name(fault)} on create → exactly one order`, async () => {
    const a = adapter({ connection });
    const o = order();
    await control.faults(sandbox.url, [{ ...fault, method: "PUT", path: `${ENTITY}/SalesOrder` }]);
    const outcome = await a.createOrder(o, {});
    assert.ok(outcome.order.refs.some((r) => r.system === "acumatica"));
    assert.ok(((await control.stats(sandbox.url)).faults[fault.kind] ?? 0) >= 1, "the fault fired");
    if (settleMs) await new Promise((r) => setTimeout(r, settleMs));
    assert.equal((await ordersWith(o.externalReference)).length, 1);
  });
}

test("acumatica: a 500 System.Exception is technical; nothing written", async () => {
  const a = adapter({ connection: { retry: { maxAttempts: 1 } } });
  const o = order();
  await control.faults(sandbox.url, [{ kind: "error", status: 500, method: "PUT", path: `${ENTITY}/SalesOrder` }]);
  await assert.rejects(a.createOrder(o, {}), (err) => err instanceof TechnicalError && err.status === 500);
  assert.equal((await ordersWith(o.externalReference)).length, 0);
});

test("acumatica: 422 field errors and PX exceptions are business rejections naming the field", async () => {
  const a = adapter();
  const badItem = order({ lines: [{ lineNumber: 1, product: { sku: "NOPE-1" }, quantity: 1, unitPrice: { amount: "1.00", currency: "EUR" } }] });
  await assert.rejects(a.createOrder(badItem, {}), (err) => err instanceof BusinessError && err.code === "VALIDATION_FAILED" && err.field === "Details[0].InventoryID" && /NOPE-1/.test(err.message));
  const badCustomer = order();
  badCustomer.customer.refs[1].id = "C-9999";
  await assert.rejects(a.createOrder(badCustomer, {}), (err) => err instanceof BusinessError && err.field === "CustomerID" && /cannot be found/.test(err.message));
  assert.equal((await ordersWith(badItem.externalReference)).length, 0);
  const [draft] = await control.seed(sandbox.url, "SalesInvoice", { CustomerID: "C-1001", Details: [{ InventoryID: "GAD-2", Qty: 1 }] });
  const ref = `BANK-${kit.tag()}`;
  await assert.rejects(a.recordPayment(payment(draft.ReferenceNbr, ref), {}), (err) => err instanceof BusinessError && err.field === "DocumentsToApply[0].ReferenceNbr" && /not an open invoice/.test(err.message));
  assert.equal((await paymentsWith(ref)).length, 0);
});

test("acumatica: a wrong endpoint version is a configuration (technical) failure, not a business rejection", async () => {
  const a = adapter({ endpointVersion: "20.200.001" });
  await assert.rejects(a.getOrder({ externalReference: "X" }, {}), (err) => err instanceof TechnicalError && err.status === 404 && /endpoint/.test(err.message));
});

test("acumatica: get an order by number and by external reference; a missing one is undefined", async () => {
  const a = adapter();
  const o = order();
  const { order: created } = await a.createOrder(o, {});
  const byId = await a.getOrder({ id: created.orderNumber }, {});
  assert.equal(byId.externalReference, o.externalReference);
  assert.equal(byId.lines.length, 2);
  assert.deepEqual(byId.lines[1].unitPrice, { amount: "9.99", currency: "EUR" });
  assert.equal((await a.getOrder({ externalReference: o.externalReference }, {})).orderNumber, created.orderNumber);
  assert.equal(await a.getOrder({ id: "SO999999" }, {}), undefined);
  assert.equal(await a.getOrder({ externalReference: "NO-SUCH" }, {}), undefined);
});

test("acumatica: invoices by watermark: oldest first, page by page, an unmappable one rejected, then only newer ones", async () => {
  const a = adapter();
  const pages = [];
  for await (const page of a.listInvoices(undefined, { pageSize: 2 })) pages.push(page);
  const all = pages.flatMap((p) => p.invoices.map((i) => i.refs[0].id));
  assert.ok(all.length >= 2 && pages.length >= 1);
  const watermark = pages[pages.length - 1].watermark;
  assert.match(watermark, /^\d{4}-.*Z\|AR\d+$/);

  const fresh = [];
  for (let i = 0; i < 3; i++) fresh.push((await control.seed(sandbox.url, "SalesInvoice", { CustomerID: "C-1002", Details: [{ InventoryID: "SUP-12", Qty: i + 1 }] }))[0].ReferenceNbr);
  const [odd] = await control.seed(sandbox.url, "SalesInvoice", { CustomerID: "C-1002", CurrencyID: "EURO", Details: [{ InventoryID: "SUP-12", Qty: 1 }] });
  const next = [];
  for await (const page of a.listInvoices(watermark, { pageSize: 2 })) next.push(page);
  assert.equal(next.length, 2, "four changed invoices in pages of two");
  assert.deepEqual(next.flatMap((p) => p.invoices.map((i) => i.refs[0].id)), fresh);
  assert.deepEqual(next.flatMap((p) => p.rejected.map((r) => r.id)), [odd.ReferenceNbr]);
  assert.equal(next[0].invoices[0].status, "draft", "a balanced invoice is not released yet");
  assert.deepEqual(next[0].invoices[0].totals.total, { amount: "250.00", currency: "USD" });
  const after = [];
  for await (const page of a.listInvoices(next[1].watermark, { pageSize: 2 })) after.push(page);
  assert.deepEqual(after, [], "nothing changed since the last watermark");
});

test("acumatica: get one invoice; a missing one is undefined", async () => {
  const a = adapter();
  const invoice = await a.getInvoice("AR000001", {});
  assert.equal(invoice.invoiceNumber, "AR000001");
  assert.equal(invoice.salesOrder[0].id, "SO000001");
  assert.equal(await a.getInvoice("AR999999", {}), undefined);
});

test("acumatica: a payment is recorded and released once per reference, even after lost responses", async () => {
  const a = adapter();
  const inv = await openInvoice(2);
  const ref = `BANK-${kit.tag()}`;
  const one = await a.recordPayment(payment(inv, ref), {});
  assert.equal(one.status, "succeeded");
  assert.ok(one.refs.some((r) => r.system === "acumatica" && r.type === "Payment"));
  await a.recordPayment(payment(inv, ref), {});
  assert.equal((await paymentsWith(ref)).length, 1, "a repeat finds the payment by PaymentRef");

  const ref2 = `BANK-${kit.tag()}`;
  const lostBefore = (await control.stats(sandbox.url)).faults["lost-response"] ?? 0;
  await control.faults(sandbox.url, [
    { kind: "lost-response", method: "PUT", path: `${ENTITY}/Payment`, count: 1 },
    { kind: "lost-response", method: "POST", path: `${ENTITY}/Payment/ReleasePayment`, count: 1 },
  ]);
  const lost = await a.recordPayment(payment(inv, ref2), {});
  assert.equal(lost.status, "succeeded");
  assert.equal((await control.stats(sandbox.url)).faults["lost-response"], lostBefore + 2, "both answers were lost");
  assert.equal((await paymentsWith(ref2)).length, 1);
  const invoice = (await control.records(sandbox.url, "SalesInvoice")).find((r) => r.ReferenceNbr === inv);
  assert.equal(invoice.Balance, 100, "300 less two payments of 100");
  assert.equal((await a.getInvoice(inv, {})).status, "partially-paid");
});

// ---- Node-RED -------------------------------------------------------------------------------------------------

function connectionNode(fields = {}) {
  return kit.connection({ system: "acumatica", baseUrl: sandbox.url, acumaticaTenant: D.tenant, acumaticaEndpoint: "Default/24.200.001", ...fields }, { user: D.name, password: D.password });
}

test("acumatica in Node-RED: keelson-erp-order ensures the customer and creates the order; bad data leaves by output 2", async () => {
  const run = await kit.orderFlow(connectionNode(), { ensureCustomer: true });
  const o = order();
  o.customer.refs = o.customer.refs.filter((r) => r.system !== "acumatica");
  const ok = await run({ payload: o, customer: { refs: o.customer.refs, name: "Hooli", email: "ap@hooli.example" }, correlationId: "nr-1" });
  assert.equal(ok.out, "accepted", JSON.stringify(ok.msg.error));
  assert.equal(ok.msg.erp.customerCreated, true);
  assert.ok(ok.msg.payload.refs.some((r) => r.system === "acumatica" && r.number));
  assert.equal((await ordersWith(o.externalReference)).length, 1);
  assert.equal((await ordersWith(o.externalReference))[0].CustomerID, o.customer.refs[0].id);

  const bad = await run({ payload: order({ lines: [{ lineNumber: 1, product: { sku: "NOPE-2" }, quantity: 1, unitPrice: { amount: "1.00", currency: "EUR" } }] }) });
  assert.equal(bad.out, "rejected");
  assert.equal(bad.msg.error.code, "VALIDATION_FAILED");
  assert.equal(bad.msg.error.field, "Details[0].InventoryID");
});

test("acumatica in Node-RED: keelson-erp-invoice lists by watermark, then records a payment once", async () => {
  const list = await kit.invoiceFlow(connectionNode(), { pageSize: 2, watermark: "acu" });
  const first = await list();
  assert.equal(first.caught.length, 0, JSON.stringify(first.caught[0]?.error));
  assert.ok(first.out.length >= 2);
  assert.ok(first.out.some((m) => m.watermark.page >= 2), "more than one page");
  assert.match(await list.watermark(), /\|AR\d+$/);
  assert.equal((await list()).out.length, 0, "nothing changed since");
  const inv = await openInvoice(1);
  const third = await list();
  assert.deepEqual(third.out.map((m) => m.payload.refs[0].id), [inv]);
  assert.equal(third.out[0].payload.status, "open");
  await helper.unload();

  const pay = await kit.invoiceFlow(connectionNode(), { operation: "payment" });
  const ref = `BANK-${kit.tag()}`;
  const got = await pay({ payload: payment(inv, ref, "150.00") });
  assert.equal(got.out.length, 1, JSON.stringify(got.caught[0]?.error ?? got.rejected[0]?.error));
  assert.equal(got.out[0].payload.status, "succeeded");
  await pay({ payload: payment(inv, ref, "150.00") });
  assert.equal((await paymentsWith(ref)).length, 1);
  assert.equal((await control.records(sandbox.url, "SalesInvoice")).find((r) => r.ReferenceNbr === inv).Status, "Closed");
});
