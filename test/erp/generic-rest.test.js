"use strict";
// The generic REST profile against the in-house ERP sandbox, configured as resources/generic-rest-profile.json
// ships it: OAuth client credentials and token expiry, ensure customer, exactly one order under every fault kind
// (with the ERP's Idempotency-Key honoured, and with it ignored, when only the look-up by external reference
// stands between a lost answer and a twin), 422 field errors as business rejections, invoices by row version
// across pages, payments recorded once; then keelson-erp-order / -invoice in Node-RED.
const test = require("node:test");
const assert = require("node:assert/strict");
const { start, GENERIC_REST_DEFAULTS: D } = require("../../dist/sandbox/generic-rest.js");
const { createErpAdapter } = require("../../dist/nodes/lib/vendors/erp.js");
const { BusinessError, TechnicalError } = require("../../dist/nodes/lib/resilience/errors.js");
const shipped = require("../../resources/generic-rest-profile.json");
const kit = require("./kit");
const { control, helper } = kit;

const sandbox = kit.useSandbox(start, { afterEach: (url) => control.limits(url, { honourIdempotencyKey: 1 }) });

function adapter({ connection = {}, profile = {}, ...rest } = {}) {
  const p = { ...shipped.profile, ...profile, paths: { ...shipped.profile.paths, ...profile.paths }, selectors: { ...shipped.profile.selectors, ...profile.selectors } };
  const a = createErpAdapter({
    system: "generic-rest",
    name: "in-house test",
    baseUrl: sandbox.url,
    auth: { kind: "oauth2", tokenUrl: `${sandbox.url}/oauth/token`, clientId: D.clientId, clientSecret: D.clientSecret },
    ...p,
    mappings: shipped.mappings,
    connection: { ...kit.FAST, ...connection },
    ...rest,
  });
  sandbox.track(a);
  return a;
}

const order = (overrides = {}) => kit.salesOrder({ system: "generic-rest", type: "customer" }, overrides);
const ordersWith = async (ref) => (await control.records(sandbox.url, "orders")).filter((r) => r.externalReference === ref);
const paymentsWith = async (ref) => (await control.records(sandbox.url, "payments")).filter((r) => r.reference === ref);
const payment = (invoice, reference, amount = "10.00", currency = "EUR") => ({ refs: [], amount: { amount, currency }, paymentDate: "2026-11-24", method: "bank-transfer", ...(reference ? { reference } : {}), invoices: [{ refs: [{ system: "generic-rest", id: invoice }], amount: { amount, currency } }] });
/** A fresh open invoice of C-1001 for `total` EUR; resolves with its id. */
const openInvoice = async (total = 100) => (await control.seed(sandbox.url, "invoices", { customerId: "C-1001", total }))[0].id;

test("generic REST: a profile that could post twice is refused when the connection is made", () => {
  assert.throws(() => adapter({ profile: { idempotencyHeader: undefined, paths: { findOrder: undefined } } }), /createOrder needs findOrder or an idempotency header/);
  assert.throws(() => adapter({ profile: { idempotencyHeader: undefined, paths: { findPayment: undefined } } }), /recordPayment needs findPayment or an idempotency header/);
  // Either one is enough.
  adapter({ profile: { paths: { findOrder: undefined, findPayment: undefined } } });
  adapter({ profile: { idempotencyHeader: undefined } });
});

test("generic REST: ensure customer finds the CRM account's customer, else creates it once", async () => {
  const a = adapter();
  const seeded = await a.ensureCustomer({ refs: [{ system: "salesforce", id: D.customer.externalId }], name: "Globex GmbH" }, {});
  assert.deepEqual([seeded.ref.id, seeded.created], ["C-1001", false]);
  const accountId = `001${kit.tag()}`;
  const made = await a.ensureCustomer({ refs: [{ system: "salesforce", id: accountId }], name: "Hooli", email: "ap@hooli.example" }, {});
  assert.equal(made.created, true);
  assert.match(made.ref.id, /^C\d{5}$/);
  const again = await a.ensureCustomer({ refs: [{ system: "salesforce", id: accountId }], name: "Hooli" }, {});
  assert.deepEqual([again.ref.id, again.created], [made.ref.id, false]);
  assert.equal((await control.records(sandbox.url, "customers")).filter((c) => c.externalId === accountId).length, 1);
  await assert.rejects(a.ensureCustomer({ refs: [], name: "No id" }, {}), (err) => err instanceof BusinessError && err.code === "NO_EXTERNAL_ID");
});

test("generic REST: create an order, then read its status by id and by external reference", async () => {
  const a = adapter();
  const o = order();
  const { order: created, created: isNew } = await a.createOrder(o, {});
  assert.equal(isNew, true);
  const ref = created.refs.find((r) => r.system === "generic-rest");
  assert.match(ref.number, /^SO-\d{6}$/);
  assert.equal(created.orderNumber, ref.number);
  const [stored] = await ordersWith(o.externalReference);
  assert.deepEqual(stored.lines.map((l) => [l.sku, l.quantity, l.price]), [["GAD-2", 2, 150], ["WID-1", 3, 9.99]]);
  assert.equal(stored.total, 329.97);
  const byId = await a.getOrder({ id: ref.id }, {});
  assert.equal(byId.externalReference, o.externalReference);
  assert.equal(byId.status, "accepted");
  assert.deepEqual(byId.totals.total, { amount: "329.97", currency: "EUR" });
  assert.equal((await a.getOrder({ externalReference: o.externalReference }, {})).orderNumber, ref.number);
  assert.equal(await a.getOrder({ id: "999999" }, {}), undefined);
  assert.equal(await a.getOrder({ externalReference: "SF-NONE" }, {}), undefined);
  // A repeat after a reclaimed claim finds it rather than posting again.
  const repeat = await a.createOrder(o, { mayExist: true });
  assert.equal(repeat.created, false);
  assert.equal((await ordersWith(o.externalReference)).length, 1);
});

for (const honoured of [1, 0]) {
  for (const { fault, connection, settleMs } of kit.CREATE_FAULTS) {
    test(`generic REST (Idempotency-Key ${honoured ? "honoured" : "ignored"}): ${kit.name(fault)} on create → exactly one order`, async () => {
      await control.limits(sandbox.url, { honourIdempotencyKey: honoured });
      const a = adapter({ connection });
      const o = order();
      await control.faults(sandbox.url, [{ ...fault, method: "POST", path: "/api/v1/orders" }]);
      const outcome = await a.createOrder(o, {});
      assert.ok(outcome.order.refs.some((r) => r.system === "generic-rest" && r.number));
      assert.ok(((await control.stats(sandbox.url)).faults[fault.kind] ?? 0) >= 1, "the fault fired");
      if (settleMs) await new Promise((r) => setTimeout(r, settleMs));
      assert.equal((await ordersWith(o.externalReference)).length, 1);
    });
  }
}

test("generic REST: many lost answers after commit, key ignored by the ERP → still one order per reference", async () => {
  await control.limits(sandbox.url, { honourIdempotencyKey: 0 });
  const a = adapter({ connection: { breaker: { failureThreshold: 100, minimumCalls: 1000 } } });
  await control.faults(sandbox.url, [{ kind: "lost-response", method: "POST", path: "/api/v1/orders", probability: 0.4 }]);
  const orders = Array.from({ length: 20 }, () => order());
  await Promise.all(orders.map((o) => a.createOrder(o, {})));
  assert.ok((await control.stats(sandbox.url)).faults["lost-response"] >= 1);
  for (const o of orders) assert.equal((await ordersWith(o.externalReference)).length, 1, o.externalReference);
});

test("generic REST: the token expires in the middle of a run: one new token, no failed order", async () => {
  const a = adapter();
  await a.createOrder(order(), {});
  const tokensBefore = kit.requests(await control.stats(sandbox.url), "POST", "/oauth/token");
  await control.expireTokens(sandbox.url);
  const orders = [order(), order(), order()];
  await Promise.all(orders.map((o) => a.createOrder(o, {})));
  const stats = await control.stats(sandbox.url);
  assert.equal(kit.requests(stats, "POST", "/oauth/token") - tokensBefore, 1, "one refresh for the three");
  for (const o of orders) assert.equal((await ordersWith(o.externalReference)).length, 1);
});

test("generic REST: wrong client secret is an auth failure, not a retry loop", async () => {
  const a = adapter({ auth: { kind: "oauth2", tokenUrl: `${sandbox.url}/oauth/token`, clientId: D.clientId, clientSecret: "wrong" } });
  await assert.rejects(a.createOrder(order(), {}), (err) => /invalid_client|401/.test(err.message));
});

test("generic REST: 422 field errors are business rejections naming the ERP's field; nothing is written", async () => {
  const a = adapter();
  const cases = [
    [order({ lines: [{ lineNumber: 1, product: { sku: "NOPE-1" }, quantity: 1, unitPrice: { amount: "1.00", currency: "EUR" } }] }), "lines[0].sku", /no item NOPE-1/],
    [order({ lines: [{ lineNumber: 1, product: { sku: "GAD-2" }, quantity: 1, unitPrice: { amount: "1.00", currency: "EUR" } }, { lineNumber: 2, product: { sku: "WID-1" }, quantity: 0, unitPrice: { amount: "1.00", currency: "EUR" } }] }), "lines[1].quantity", /above zero/],
    [order({ lines: [] }), "lines", /at least one line/],
    [order({ currency: "HUF" }), "currency", /unknown currency HUF/],
    [order({ customer: { refs: [{ system: "generic-rest", id: "C-NOPE" }], name: "Nobody" } }), "customerId", /no customer C-NOPE/],
  ];
  for (const [o, field, message] of cases) {
    await assert.rejects(a.createOrder(o, {}), (err) => {
      assert.ok(err instanceof BusinessError, `${field}: ${err}`);
      assert.equal(err.code, "VALIDATION_FAILED");
      assert.equal(err.field, field);
      assert.match(err.message, message);
      return true;
    });
    assert.equal((await ordersWith(o.externalReference)).length, 0);
  }
});

test("generic REST: an HTML error page and an unreadable answer to a read are technical errors", async () => {
  const a = adapter({ connection: { retry: { maxAttempts: 1 } } });
  await control.faults(sandbox.url, [{ kind: "html-502", method: "GET", path: "/api/v1/orders/*" }]);
  await assert.rejects(a.getOrder({ id: "1" }, {}), (err) => err instanceof TechnicalError && err.status === 502 && /Bad Gateway/.test(err.message));
  await control.faults(sandbox.url, [{ kind: "malformed", method: "GET", path: "/api/v1/invoices/*" }]);
  await assert.rejects(a.getInvoice("INV-000001", {}), (err) => err instanceof TechnicalError && /malformed JSON/.test(err.message));
  // A proxy's page is retried when the retry policy allows.
  await control.faults(sandbox.url, [{ kind: "html-502", count: 1, method: "GET", path: "/api/v1/invoices/*" }]);
  assert.equal((await adapter().getInvoice("INV-000001", {})).invoiceNumber, "INV-000001");
});

test("generic REST: invoices by row version across pages; the watermark resumes after the last one", async () => {
  const a = adapter();
  const pages = [];
  for await (const page of a.listInvoices(undefined, { pageSize: 2 })) pages.push(page);
  assert.ok(pages.length >= 2, "more than one page");
  const all = pages.flatMap((p) => p.invoices);
  assert.equal(new Set(all.map((i) => i.refs[0].id)).size, all.length, "no invoice twice");
  assert.ok(all.some((i) => i.invoiceNumber === "INV-000001"));
  for (const i of all) assert.ok(["open", "partially-paid", "paid"].includes(i.status));
  const watermark = pages.at(-1).watermark;
  assert.match(watermark, /^\d+$/);
  const none = [];
  for await (const page of a.listInvoices(watermark, { pageSize: 2 })) none.push(page);
  assert.equal(none.flatMap((p) => p.invoices).length, 0);
  // A new invoice and a payment on an old one (which changes it) come next, in change order.
  const fresh = await openInvoice(70);
  await a.recordPayment(payment("INV-000001", `BANK-${kit.tag()}`, "20.00"), {});
  const next = [];
  for await (const page of a.listInvoices(watermark, { pageSize: 2 })) next.push(page);
  const listed = next.flatMap((p) => p.invoices);
  assert.deepEqual(listed.map((i) => i.refs[0].id), [fresh, "INV-000001"]);
  assert.equal(listed[1].status, "partially-paid");
  assert.deepEqual(listed[1].totals.amountPaid, { amount: "20.00", currency: "EUR" });
});

test("generic REST: an invoice the mapping cannot read is set aside; a watermark that does not move stops the listing", async () => {
  await openInvoice(5);
  const a = adapter({ mappings: { ...shipped.mappings, invoiceIn: shipped.mappings.invoiceIn.replace('"issueDate": issuedOn', '"issueDate": total < 10 ? 42 : issuedOn') } });
  const pages = [];
  for await (const page of a.listInvoices(undefined, { pageSize: 100 })) pages.push(page);
  const rejected = pages.flatMap((p) => p.rejected);
  assert.ok(rejected.length >= 1);
  assert.match(rejected[0].error.message, /invalid Invoice@1/);
  const stuck = adapter({ profile: { selectors: { watermark: "'1'" } } });
  await assert.rejects(async () => {
    for await (const _page of stuck.listInvoices("1", { pageSize: 1 })) void _page;
  }, /ended on the watermark it started from/);
});

test("generic REST: record a payment once: partial then the rest; the same reference again is the same payment", async () => {
  const a = adapter();
  const inv = await openInvoice(100);
  const ref = `BANK-${kit.tag()}`;
  const first = await a.recordPayment(payment(inv, ref, "60.00"), {});
  assert.equal(first.status, "succeeded");
  assert.match(first.refs.find((r) => r.system === "generic-rest").id, /^PAY-\d{6}$/);
  const again = await a.recordPayment(payment(inv, ref, "60.00"), {});
  assert.equal(again.refs.at(-1).id, first.refs.at(-1).id);
  assert.equal((await paymentsWith(ref)).length, 1);
  await a.recordPayment(payment(inv, `${ref}-2`, "40.00"), {});
  const invoice = await a.getInvoice(inv, {});
  assert.equal(invoice.status, "paid");
  assert.deepEqual(invoice.totals.amountDue, { amount: "0.00", currency: "EUR" });
});

for (const honoured of [1, 0]) {
  for (const { fault, connection, settleMs } of kit.CREATE_FAULTS) {
    test(`generic REST (Idempotency-Key ${honoured ? "honoured" : "ignored"}): ${kit.name(fault)} on a payment → recorded once`, async () => {
      await control.limits(sandbox.url, { honourIdempotencyKey: honoured });
      const a = adapter({ connection });
      const inv = await openInvoice(50);
      const ref = `BANK-${kit.tag()}`;
      await control.faults(sandbox.url, [{ ...fault, method: "POST", path: "/api/v1/invoices/*/payments" }]);
      const paid = await a.recordPayment(payment(inv, ref, "50.00"), {});
      assert.ok(paid.refs.some((r) => r.system === "generic-rest"));
      assert.ok(((await control.stats(sandbox.url)).faults[fault.kind] ?? 0) >= 1, "the fault fired");
      if (settleMs) await new Promise((r) => setTimeout(r, settleMs));
      assert.equal((await paymentsWith(ref)).length, 1);
      assert.equal((await control.records(sandbox.url, "invoices")).find((i) => i.id === inv).openAmount, 0);
    });
  }
}

test("generic REST: payment refusals are business rejections naming the field; bad input never reaches the ERP", async () => {
  const a = adapter();
  const inv = await openInvoice(30);
  const cases = [
    [payment(inv, `B-${kit.tag()}`, "31.00"), "amount", /exceeds the open amount/],
    [payment(inv, `B-${kit.tag()}`, "10.00", "USD"), "currency", /invoice is in EUR/],
  ];
  for (const [p, field, message] of cases) {
    await assert.rejects(a.recordPayment(p, {}), (err) => err instanceof BusinessError && err.field === field && message.test(err.message));
  }
  await a.recordPayment(payment(inv, `B-${kit.tag()}`, "30.00"), {});
  await assert.rejects(a.recordPayment(payment(inv, `B-${kit.tag()}`, "1.00"), {}), (err) => err instanceof BusinessError && err.code === "INVOICE_PAID" && err.field === "invoiceId");
  await assert.rejects(a.recordPayment(payment("INV-NOPE", `B-${kit.tag()}`), {}), (err) => err instanceof BusinessError && err.status === 404);
  const before = (await control.records(sandbox.url, "payments")).length;
  await assert.rejects(a.recordPayment(payment(inv), {}), (err) => err instanceof BusinessError && err.code === "NO_EXTERNAL_ID" && err.field === "reference");
  await assert.rejects(a.recordPayment({ ...payment(inv, "B-X"), invoices: [] }, {}), (err) => err instanceof BusinessError && err.code === "UNSUPPORTED");
  await assert.rejects(a.recordPayment({ ...payment(inv, "B-X"), invoices: [{ refs: [{ system: "netsuite", id: "7" }], amount: { amount: "1.00", currency: "EUR" } }] }, {}), (err) => err instanceof BusinessError && err.code === "INVOICE_NOT_LINKED" && err.field === "invoices[0].refs");
  assert.equal((await control.records(sandbox.url, "payments")).length, before);
});

// ---- Node-RED -------------------------------------------------------------------------------------------------

function connectionNode() {
  return kit.connection(
    { system: "generic-rest", baseUrl: sandbox.url, genericAuth: "oauth2", tokenUrl: `${sandbox.url}/oauth/token`, profile: JSON.stringify(shipped.profile), mappings: JSON.stringify(shipped.mappings) },
    { clientId: D.clientId, clientSecret: D.clientSecret },
  );
}

test("generic REST in Node-RED: keelson-erp-order ensures the customer and creates the order; a refusal leaves by output 2", async () => {
  const run = await kit.orderFlow(connectionNode(), { ensureCustomer: true });
  const o = order();
  o.customer.refs = o.customer.refs.filter((r) => r.system !== "generic-rest");
  const ok = await run({ payload: o, customer: { refs: o.customer.refs, name: "Initech" }, correlationId: "nr-generic-1" });
  assert.equal(ok.out, "accepted", JSON.stringify(ok.msg.error));
  assert.equal(ok.msg.erp.customerCreated, true);
  const [stored] = await ordersWith(o.externalReference);
  assert.equal(stored.customerId, ok.msg.payload.customer.refs.find((r) => r.system === "generic-rest").id);
  const bad = await run({ payload: order({ currency: "HUF", lines: [{ lineNumber: 1, product: { sku: "GAD-2" }, quantity: 1, unitPrice: { amount: "5000", currency: "HUF" } }] }) });
  assert.equal(bad.out, "rejected");
  assert.deepEqual([bad.msg.error.code, bad.msg.error.field], ["VALIDATION_FAILED", "currency"]);
});

test("generic REST in Node-RED: keelson-erp-invoice lists by watermark, then records a payment once", async () => {
  const list = await kit.invoiceFlow(connectionNode(), { pageSize: 2, watermark: "inhouse" });
  const first = await list();
  assert.equal(first.caught.length, 0, JSON.stringify(first.caught[0]?.error));
  assert.ok(first.out.some((m) => m.watermark.page >= 2), "more than one page");
  assert.match(await list.watermark(), /^\d+$/);
  assert.equal((await list()).out.length, 0, "nothing changed since");
  const inv = await openInvoice(25);
  assert.deepEqual((await list()).out.map((m) => m.payload.refs[0].id), [inv]);
  await helper.unload();

  const pay = await kit.invoiceFlow(connectionNode(), { operation: "payment" });
  const ref = `BANK-${kit.tag()}`;
  const got = await pay({ payload: payment(inv, ref, "25.00") });
  assert.equal(got.out.length, 1, JSON.stringify(got.caught[0]?.error ?? got.rejected[0]?.error));
  await pay({ payload: payment(inv, ref, "25.00") });
  assert.equal((await paymentsWith(ref)).length, 1);
  const over = await pay({ payload: payment(inv, `${ref}-2`, "5.00") });
  assert.equal(over.rejected.length, 1);
  assert.equal(over.rejected[0].error.code, "INVOICE_PAID");
});
