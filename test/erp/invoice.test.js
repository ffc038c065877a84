"use strict";
// keelson-erp-invoice against each sandbox: list changed since the stored watermark (every page, the watermark
// moving only after a page is sent), get one, record a payment exactly once.
const test = require("node:test");
const assert = require("node:assert/strict");
const { helper, shownStatus } = require("../support/helper");
const connectionNode = require("../../dist/nodes/erp-connection/erp-connection.js");
const invoiceNode = require("../../dist/nodes/erp-invoice/erp-invoice.js");
const support = require("./support");
const kit = require("./kit");
const { SYSTEMS, control } = support;

const nodes = [connectionNode, invoiceNode];
const running = {};

/** keelson-erp-invoice (its watermark "test-<system>" in a memory store) on a connection to the system's sandbox. */
async function load(system, { operation = "list", pageSize = 2, connection = {} } = {}) {
  await kit.invoiceFlow(support.connectionNode(system, running[system].sb.url, connection), { operation, pageSize, watermark: `test-${system}` });
}

const run = (msg, options) => kit.sendInvoice(msg, options);

async function watermark(system) {
  return (await helper.getNode("st").store()).getWatermark(`test-${system}`);
}

/** Adds n invoices the way each vendor's sandbox takes them; resolves with their ERP ids. */
async function addInvoices(system, n) {
  const base = running[system].sb.url;
  const ids = [];
  for (let i = 0; i < n; i++) {
    if (system === "netsuite") {
      const [r] = (await control.seed(base, "invoice", { entity: { id: "101" }, currency: { id: "4" }, item: { items: [{ item: { externalId: "GAD-9" }, quantity: i + 1, rate: 40 }] } })).records;
      ids.push(r.id);
    } else if (system === "sap-s4hana") {
      const [r] = (await control.seed(base, "A_BillingDocument", { SalesOrder: "1000013601" })).records;
      ids.push(r.BillingDocument);
    } else {
      const customer = (await control.records(base, "customers"))[0].id;
      const [r] = (await control.seed(base, "invoices", { customer, currency: "eur", lines: [{ amount: 1000 * (i + 1), currency: "eur" }], finalize: true })).records;
      ids.push(r.id);
    }
  }
  return ids;
}

const idOf = (system, invoice) => invoice.refs.find((r) => r.system === system).id;

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
  test(`${system}: list every page, store the watermark, then only what changed after it`, async () => {
    await load(system, { pageSize: 2 });
    const seeded = await addInvoices(system, 3);
    const first = await run({ payload: "", correlationId: "list-1" });
    assert.equal(first.caught.length, 0, JSON.stringify(first.caught[0]?.error));
    const listed = first.out.map((m) => idOf(system, m.payload));
    for (const id of seeded) assert.ok(listed.includes(id), `${id} listed`);
    assert.equal(new Set(listed).size, listed.length, "no invoice twice");
    assert.ok(first.out.some((m) => m.watermark.page >= 2), "more than one page");
    assert.equal(first.out[0].correlationId, "list-1");
    for (const m of first.out) assert.ok(m.payload.totals && m.payload.currency, "canonical Invoice");
    assert.equal(typeof (await watermark(system)), "string");

    const second = await run();
    assert.equal(second.out.length, 0, "nothing changed since the watermark");

    const later = await addInvoices(system, 3);
    const third = await run();
    assert.deepEqual(third.out.map((m) => idOf(system, m.payload)), later, "exactly the new ones, oldest first");
  });

  test(`${system}: get one invoice by id`, async () => {
    const [id] = await addInvoices(system, 1);
    await load(system, { operation: "get" });
    const got = await run({ payload: id });
    assert.equal(got.out.length, 1);
    assert.equal(idOf(system, got.out[0].payload), id);
    const missing = await run({ payload: system === "stripe" ? "in_missing" : "99999999" });
    assert.equal(missing.rejected.length, 1);
    assert.equal(missing.rejected[0].error.code, "NOT_FOUND");
  });
}

test("netsuite: a failure on the second page leaves the watermark after the first; the next run lists the rest", async () => {
  const system = "netsuite";
  await load(system, { pageSize: 2, connection: { maxAttempts: 1 } });
  const caughtUp = await run();
  const ids = await addInvoices(system, 4);
  await control.faults(running[system].sb.url, [{ kind: "error", status: 500, method: "GET", path: `/services/rest/record/v1/invoice/${ids[2]}` }]);
  const broken = await run();
  assert.deepEqual(broken.out.map((m) => idOf(system, m.payload)), ids.slice(0, 2));
  assert.equal(broken.caught.length, 1, "the failure reaches Catch");
  assert.match(await watermark(system), new RegExp(`\\|${ids[1]}$`));
  const sent = caughtUp.out.length + 2;
  assert.deepEqual(await shownStatus(helper.getNode("inv")), { fill: "red", shape: "dot", text: `${sent} sent · ${caughtUp.rejected.length} rejected · 1 failed (last: server)` });
  await control.clearFaults(running[system].sb.url);
  const rest = await run();
  assert.deepEqual(rest.out.map((m) => idOf(system, m.payload)), ids.slice(2));
});

test("netsuite: an invoice the mapping rejects leaves by output 2 and does not hold the listing back", async () => {
  await load("netsuite", { pageSize: 5 });
  // The seeded invoice 107 has a unit price of 9.995 EUR, finer than the currency allows in a canonical Money.
  const first = await run();
  const rejected = first.rejected.find((m) => m.payload.id === "107");
  assert.ok(rejected, "invoice 107 rejected");
  assert.equal(rejected.error.code, "MAPPING_INVALID");
  assert.match(rejected.error.field, /unitPrice/);
  assert.ok(first.out.length >= 1, "the others still listed");
  assert.deepEqual(await shownStatus(helper.getNode("inv")), { fill: "yellow", shape: "dot", text: `${first.out.length} sent · ${first.rejected.length} rejected · 0 failed (last: MAPPING_INVALID)` });
});

test("netsuite: record a payment once per reference, even after a lost response", async () => {
  const system = "netsuite";
  const base = running[system].sb.url;
  const [a, b] = await addInvoices(system, 2);
  await load(system, { operation: "payment" });
  const payment = (invoice, reference) => ({ refs: [], amount: { amount: "40.00", currency: "EUR" }, paymentDate: "2026-11-21", method: "bank-transfer", reference, invoices: [{ refs: [{ system, id: invoice }], amount: { amount: "40.00", currency: "EUR" } }] });
  const count = async (ref) => (await control.records(base, "customerPayment")).filter((p) => p.externalId === ref).length;
  const one = await run({ payload: payment(a, `BANK-${a}`) });
  assert.equal(one.out.length, 1, JSON.stringify(one.caught[0]?.error ?? one.rejected[0]?.error));
  assert.ok(one.out[0].payload.refs.some((r) => r.system === system && r.type === "customerPayment"));
  assert.equal(one.out[0].payload.status, "succeeded");
  await run({ payload: payment(a, `BANK-${a}`) });
  assert.equal(await count(`BANK-${a}`), 1, "a repeat finds the payment by its reference");

  await control.faults(base, [{ kind: "lost-response", method: "POST", path: "*/!transform/customerPayment", count: 1 }]);
  const lost = await run({ payload: payment(b, `BANK-${b}`) });
  assert.equal(lost.out.length, 1, JSON.stringify(lost.caught[0]?.error));
  assert.equal(await count(`BANK-${b}`), 1);
  const invoice = (await control.records(base, "invoice")).find((r) => r.id === b);
  assert.equal(invoice.amountPaid, 40);
});

test("stripe: record a payment (paid out of band) once, even after a lost response", async () => {
  const system = "stripe";
  const base = running[system].sb.url;
  const [a] = await addInvoices(system, 1);
  await load(system, { operation: "payment" });
  await control.faults(base, [{ kind: "lost-response", method: "POST", path: "/v1/invoices/*/pay", count: 1 }]);
  const payment = { refs: [], amount: { amount: "10.00", currency: "EUR" }, paymentDate: "2026-11-21", reference: `BANK-${a}`, invoices: [{ refs: [{ system, id: a }], amount: { amount: "10.00", currency: "EUR" } }] };
  const paid = await run({ payload: payment });
  assert.equal(paid.out.length, 1, JSON.stringify(paid.caught[0]?.error ?? paid.rejected[0]?.error));
  assert.equal(paid.out[0].payload.status, "succeeded");
  const again = await run({ payload: payment });
  assert.equal(again.out.length, 1, "the repeat is Stripe's replay, not an 'already paid' rejection");
  const invoice = (await control.records(base, "invoices")).find((r) => r.id === a);
  assert.equal(invoice.status, "paid");
  assert.equal(invoice.paid_out_of_band, true);
});

test("sap-s4hana: record a payment (journal entry, then clearing) once per reference; the invoice reads as paid", async () => {
  const system = "sap-s4hana";
  const base = running[system].sb.url;
  const [id] = await addInvoices(system, 1);
  const invoice = (await control.records(base, "A_BillingDocument")).find((r) => r.BillingDocument === id);
  await load(system, { operation: "payment", connection: { orderDefaults: { bankGLAccount: "11001000" } } });
  const reference = `SAP-${id}`;
  const amount = { amount: invoice.TotalGrossAmount, currency: invoice.TransactionCurrency };
  const payment = { refs: [], amount, paymentDate: "2026-11-21", reference, invoices: [{ refs: [{ system, id }], amount }] };
  const paid = await run({ payload: payment });
  assert.equal(paid.out.length, 1, JSON.stringify(paid.caught[0]?.error ?? paid.rejected[0]?.error));
  assert.equal(paid.out[0].payload.status, "pending", "SAP clears asynchronously");
  const postings = async () => (await control.records(base, "A_OperationalAcctgDocItemCube")).filter((i) => i.DocumentReferenceID === reference && i.FinancialAccountType === "D");
  for (let i = 0; i < 100 && !(await postings())[0]?.ClearingAccountingDocument; i++) await new Promise((r) => setTimeout(r, 20));
  const again = await run({ payload: payment });
  assert.equal(again.out[0].payload.status, "succeeded");
  assert.equal((await postings()).length, 1, "the repeat found the journal entry by its reference");
  await helper.unload();
  await load(system, { operation: "get" });
  const got = await run({ payload: id });
  assert.equal(got.out[0].payload.status, "paid");
});

test("a payment that is not a valid Payment is refused naming the field", async () => {
  await load("netsuite", { operation: "payment" });
  const got = await run({ payload: { refs: [], paymentDate: "2026-11-21" } });
  assert.equal(got.caught.length, 1);
  assert.match(got.caught[0].error.message, /msg\.payload is not a valid Payment: .*amount/);
});

test("listing without a store is a configuration error that reaches Catch", async () => {
  const { def, creds } = support.connectionNode("stripe", running.stripe.sb.url);
  await helper.load(nodes, [
    { id: "tab", type: "tab" }, def,
    { id: "inv", type: "keelson-erp-invoice", z: "tab", connection: "conn", operation: "list", store: "", wires: [["out"], ["rejected"]] },
    { id: "out", type: "helper", z: "tab" }, { id: "rejected", type: "helper", z: "tab" },
    { id: "catcher", type: "catch", z: "tab", scope: ["inv"], wires: [["caught"]] }, { id: "caught", type: "helper", z: "tab" },
    { id: "completer", type: "complete", z: "tab", scope: ["inv"], wires: [["completed"]] }, { id: "completed", type: "helper", z: "tab" },
  ], creds);
  const got = await run();
  assert.match(got.caught[0].error.message, /needs a store/);
});
