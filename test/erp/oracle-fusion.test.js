"use strict";
// Oracle Fusion: the adapter against the sandbox. Order Hub orders (Basic and OAuth, every fault kind on create, the
// order key refusing a twin, ADF errors as business rejections), Trading Community parties found by their source
// system reference or created once, Receivables invoices by watermark across pages, and payments as standard
// receipts applied to the invoice once whatever the wire does; then keelson-erp-order / -invoice in Node-RED.
const test = require("node:test");
const assert = require("node:assert/strict");
const { start, ORACLE_FUSION_DEFAULTS: D } = require("../../dist/sandbox/oracle-fusion.js");
const { createErpAdapter } = require("../../dist/nodes/lib/vendors/erp.js");
const { BusinessError, TechnicalError } = require("../../dist/nodes/lib/resilience/errors.js");
const kit = require("./kit");
const { control, helper } = kit;

const CREATE = "/fscmRestApi/resources/11.13.18.05/salesOrdersForOrderHub";
const RECEIPTS = "/fscmRestApi/resources/11.13.18.05/standardReceipts";
const APPLY = `${RECEIPTS}/*/action/applyReceipt`;
const PARTIES = "/crmRestApi/resources/11.13.18.05/hubOrganizations";
/** Receipt defaults as a connection's order defaults carry them. */
const RECEIPT_DEFAULTS = { receiptMethod: "Manual", remittanceBankAccountNumber: "10271-17621-619" };
const sandbox = kit.useSandbox(start);

function adapter({ auth = "basic", connection = {}, ...rest } = {}) {
  const a = createErpAdapter({
    system: "oracle-fusion",
    name: "fusion test",
    baseUrl: sandbox.url,
    auth: auth === "basic" ? { kind: "basic", user: D.username, password: D.password } : { kind: "oauth2", clientId: D.clientId, clientSecret: D.clientSecret },
    orderDefaults: { businessUnitName: "Vision Operations", ...RECEIPT_DEFAULTS },
    connection: { ...kit.FAST, ...connection },
    ...rest,
  });
  sandbox.track(a);
  return a;
}

const order = (overrides = {}) => kit.salesOrder({ system: "oracle-fusion", type: "party" }, overrides);

const ordersWith = async (ref) => (await control.records(sandbox.url, "salesOrdersForOrderHub")).filter((r) => r.SourceTransactionId === ref);
const receiptsWith = async (ref) => (await control.records(sandbox.url, "standardReceipts")).filter((r) => r.ReceiptNumber === ref);
const partiesWith = async (value) => (await control.records(sandbox.url, "hubOrganizations")).filter((o) => o.references.some((x) => x.SourceSystemReferenceValue === value));
const invoiceRecord = async (id) => (await control.records(sandbox.url, "receivablesInvoices")).find((r) => String(r.CustomerTransactionId) === String(id));
/** An open Receivables invoice of Globex (account 1001) for qty × 150 EUR; resolves with its CustomerTransactionId. */
async function openInvoice(qty = 1, extra = {}) {
  const [inv] = await control.seed(sandbox.url, "receivablesInvoices", { BillToCustomerNumber: "1001", InvoiceCurrencyCode: "EUR", receivablesInvoiceLines: [{ ItemNumber: "GAD-2", Quantity: qty }], ...extra });
  return String(inv.CustomerTransactionId);
}
const payment = (invoice, reference, amount = "100.00", currency = "EUR") => ({ refs: [], amount: { amount, currency }, paymentDate: "2026-11-21", method: "bank-transfer", reference, invoices: [{ refs: [{ system: "oracle-fusion", id: invoice }], amount: { amount, currency } }] });
/** The receipt for `ref` and its applications, after checking there is exactly one. */
async function oneReceipt(ref) {
  const receipts = await receiptsWith(ref);
  assert.equal(receipts.length, 1, `one receipt numbered ${ref}`);
  return receipts[0];
}

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
  await control.expireTokens(sandbox.url);
  const o = order();
  assert.equal((await a.createOrder(o, {})).created, true);
  const stats = await control.stats(sandbox.url);
  assert.equal(kit.requests(stats, "POST", "token"), 2, "one login, one renewal");
  assert.equal((await ordersWith(o.externalReference)).length, 1);
});

test("oracle-fusion: a wrong password is an auth failure, not retried", async () => {
  const a = createErpAdapter({ system: "oracle-fusion", name: "bad", baseUrl: sandbox.url, auth: { kind: "basic", user: D.username, password: "wrong" }, orderDefaults: { businessUnitName: "Vision Operations" }, connection: kit.FAST });
  sandbox.track(a);
  await assert.rejects(a.createOrder(order(), {}), (err) => err instanceof TechnicalError && err.kind === "auth" && err.retryable === false);
});

// Order Hub's 429 asks for 60 s (Retry-After): a burst is its own test below.
for (const { fault, connection, settleMs } of kit.CREATE_FAULTS.filter((c) => c.fault.kind !== "throttle")) {
  test(`oracle-fusion: ${kit.name(fault)} on create → exactly one order`, async () => {
    const a = adapter({ connection });
    const o = order();
    await control.faults(sandbox.url, [{ ...fault, method: "POST", path: CREATE }]);
    const outcome = await a.createOrder(o, {});
    assert.ok(outcome.order.refs.some((r) => r.system === "oracle-fusion"));
    assert.ok(((await control.stats(sandbox.url)).faults[fault.kind] ?? 0) >= 1, "the fault fired");
    if (settleMs) await new Promise((r) => setTimeout(r, settleMs));
    assert.equal((await ordersWith(o.externalReference)).length, 1);
  });
}

test("oracle-fusion: a 500 is a technical failure and no order is written", async () => {
  const a = adapter({ connection: { retry: { maxAttempts: 1 } } });
  const o = order();
  await control.faults(sandbox.url, [{ kind: "error", status: 500, method: "POST", path: CREATE }]);
  await assert.rejects(a.createOrder(o, {}), (err) => err instanceof TechnicalError && err.status === 500);
  assert.equal((await ordersWith(o.externalReference)).length, 0);
});

test("oracle-fusion: a 429 burst: Retry-After (60 s) past the retry budget surfaces as throttled, nothing written; the rerun creates one", async () => {
  const a = adapter();
  const o = order();
  await control.faults(sandbox.url, [{ kind: "throttle", method: "POST", path: CREATE, count: 2 }]);
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

test("oracle-fusion: an order whose customer has no party number is refused before any call", async () => {
  const a = adapter();
  const o = order();
  o.customer.refs = o.customer.refs.filter((r) => r.system !== "oracle-fusion");
  const before = kit.requests(await control.stats(sandbox.url), "POST", "salesOrdersForOrderHub");
  await assert.rejects(a.createOrder(o, {}), (err) => err instanceof BusinessError && err.code === "CUSTOMER_NOT_LINKED" && /ensure customer/.test(err.hint));
  assert.equal(kit.requests(await control.stats(sandbox.url), "POST", "salesOrdersForOrderHub"), before);
  // A customer already linked is taken as it is, without a call.
  assert.deepEqual((await a.ensureCustomer({ refs: [{ system: "oracle-fusion", id: "C-1002" }], name: "Umbrella" }, {})).ref, { system: "oracle-fusion", id: "C-1002" });
});

test("oracle-fusion: ensure customer creates the party once, keyed by the CRM id as a source system reference, then finds it", async () => {
  const a = adapter();
  const t = kit.tag();
  const customer = { refs: [{ system: "salesforce", id: `001${t}` }], name: `Initech ${t}`, email: "ap@initech.example", currency: "USD", billingAddress: { line1: "1 Main St", city: "Austin", country: "US" } };
  const first = await a.ensureCustomer(customer, { correlationId: "c-1" });
  assert.equal(first.created, true);
  assert.match(first.ref.id, /^CDRM_\d+$/);
  assert.deepEqual(first.ref, { system: "oracle-fusion", id: first.ref.id, type: "party" });
  const [party] = await partiesWith(`001${t}`);
  assert.equal(party.PartyNumber, first.ref.id);
  assert.equal(party.OrganizationName, `Initech ${t}`);
  assert.equal(party.PartyUsageCode, "CUSTOMER");
  assert.deepEqual(party.references, [{ SourceSystem: "KEELSON", SourceSystemReferenceValue: `001${t}` }]);
  assert.equal(party.addresses[0].City, "Austin");
  const again = await a.ensureCustomer(customer, {});
  assert.deepEqual(again, { ref: first.ref, created: false });
  assert.equal((await partiesWith(`001${t}`)).length, 1);
  // The source system comes from the order defaults; one Fusion does not know is the data's fault, named.
  const sfdc = adapter({ orderDefaults: { businessUnitName: "Vision Operations", customerSourceSystem: "SFDC" } });
  assert.equal((await sfdc.ensureCustomer({ refs: [{ system: "salesforce", id: `002${t}` }], name: "Hooli" }, {})).created, true);
  assert.deepEqual((await partiesWith(`002${t}`))[0].references, [{ SourceSystem: "SFDC", SourceSystemReferenceValue: `002${t}` }]);
  const unknown = adapter({ orderDefaults: { customerSourceSystem: "NOPE" } });
  await assert.rejects(unknown.ensureCustomer({ refs: [{ system: "salesforce", id: `003${t}` }], name: "Pied Piper" }, {}), (err) => err instanceof BusinessError && err.field === "SourceSystem" && /NOPE/.test(err.message));
  await assert.rejects(a.ensureCustomer({ refs: [], name: "Nobody" }, {}), (err) => err instanceof BusinessError && err.code === "NO_EXTERNAL_ID");
  assert.equal((await partiesWith(`003${t}`)).length, 0);
});

for (const { fault, connection, settleMs } of kit.CREATE_FAULTS.filter((c) => c.fault.kind !== "throttle")) {
  test(`oracle-fusion: ${kit.name(fault)} on the party create → exactly one party`, async () => {
    const a = adapter({ connection });
    const id = `001${kit.tag()}`;
    await control.faults(sandbox.url, [{ ...fault, method: "POST", path: PARTIES }]);
    const { ref } = await a.ensureCustomer({ refs: [{ system: "salesforce", id }], name: "Globex Widgets" }, {});
    assert.ok(((await control.stats(sandbox.url)).faults[fault.kind] ?? 0) >= 1, "the fault fired");
    if (settleMs) await new Promise((r) => setTimeout(r, settleMs));
    const parties = await partiesWith(id);
    assert.equal(parties.length, 1);
    assert.equal(parties[0].PartyNumber, ref.id);
  });
}

test("oracle-fusion: create order after ensure customer: the new party is the buying party", async () => {
  const a = adapter();
  const o = order();
  o.customer.refs = o.customer.refs.filter((r) => r.system !== "oracle-fusion");
  const { ref } = await a.ensureCustomer({ refs: o.customer.refs, name: "Soylent Corp" }, {});
  o.customer.refs.push(ref);
  const outcome = await a.createOrder(o, {});
  assert.equal(outcome.created, true);
  const [stored] = await ordersWith(o.externalReference);
  assert.equal(stored.BuyingPartyNumber, ref.id);
  assert.equal(stored.BuyingPartyName, "Soylent Corp");
});

test("oracle-fusion: mayExist reads the order by its key and posts nothing when it is there", async () => {
  const a = adapter();
  const o = order();
  await a.createOrder(o, {});
  const before = kit.requests(await control.stats(sandbox.url), "POST", "salesOrdersForOrderHub$");
  const again = await a.createOrder(o, { mayExist: true });
  assert.equal(again.created, false);
  assert.equal(kit.requests(await control.stats(sandbox.url), "POST", "salesOrdersForOrderHub$"), before, "no second POST");
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
  // Receivables invoices name orders by their number: that finds it too.
  assert.equal((await a.getOrder({ id: "84001" }, {})).externalReference, "SO-EXT-1");
  const seeded = await a.getOrder({ externalReference: "SO-EXT-1" }, {});
  assert.deepEqual(seeded.lines.find((l) => l.product.sku === "WID-1").unitPrice, { amount: "10.00", currency: "EUR" });
});

test("oracle-fusion: invoices by watermark: oldest first, every page, ties broken by id, an unmappable one rejected, then only newer ones", async () => {
  const a = adapter();
  const pages = [];
  for await (const page of a.listInvoices(undefined, { pageSize: 2 })) pages.push(page);
  const all = pages.flatMap((p) => p.invoices.map((i) => i.refs[0].id));
  assert.ok(pages.length >= 2 && all.length >= 3, JSON.stringify(all));
  assert.equal(new Set(all).size, all.length, "no invoice twice");
  const watermark = pages[pages.length - 1].watermark;
  assert.match(watermark, /^\d{4}-.*Z\|\d+$/);
  const globex = pages[0].invoices.find((i) => i.salesOrder);
  assert.deepEqual(globex.customer, { refs: [{ system: "oracle-fusion", id: "1001", type: "customerAccount" }], name: "Globex GmbH" });
  assert.deepEqual(globex.totals.total, { amount: "699.95", currency: "EUR" });
  assert.equal(globex.lines.length, 2);

  // Three invoices changed at the same instant: a page ends inside the tie, and the next one goes on by id.
  const at = new Date(Date.now() + 2000).toISOString();
  const tied = [];
  for (let i = 0; i < 3; i++) tied.push(await openInvoice(i + 1, { LastUpdateDate: at }));
  const [odd] = await control.seed(sandbox.url, "receivablesInvoices", { BillToCustomerNumber: "1002", InvoiceCurrencyCode: "EURO", LastUpdateDate: new Date(Date.now() + 3000).toISOString(), receivablesInvoiceLines: [{ ItemNumber: "SUP-12", Quantity: 1 }] });
  const next = [];
  for await (const page of a.listInvoices(watermark, { pageSize: 2 })) next.push(page);
  assert.equal(next.length, 2, "four changed invoices in pages of two");
  assert.deepEqual(next.flatMap((p) => p.invoices.map((i) => i.refs[0].id)), tied);
  assert.deepEqual(next.flatMap((p) => p.rejected.map((r) => r.id)), [String(odd.CustomerTransactionId)]);
  assert.equal(next[0].watermark, `${at}|${tied[1]}`);
  assert.deepEqual(next[0].invoices[0].totals.total, { amount: "150.00", currency: "EUR" });
  assert.equal(next[0].invoices[0].status, "open");
  const after = [];
  for await (const page of a.listInvoices(next[1].watermark, { pageSize: 2 })) after.push(page);
  assert.deepEqual(after, [], "nothing changed since the last watermark");
  await assert.rejects(a.listInvoices("yesterday", {}).next(), /watermark must be/);
});

test("oracle-fusion: get one invoice with its lines; a missing one is undefined", async () => {
  const a = adapter();
  const [first] = await control.records(sandbox.url, "receivablesInvoices");
  const invoice = await a.getInvoice(String(first.CustomerTransactionId), {});
  assert.equal(invoice.invoiceNumber, first.TransactionNumber);
  assert.deepEqual(invoice.salesOrder, [{ system: "oracle-fusion", id: "84001", type: "salesOrderNumber", number: "84001" }]);
  assert.deepEqual(invoice.lines.map((l) => [l.product.sku, l.quantity, l.amount.amount]), [["GAD-2", 4, "600.00"], ["WID-1", 10, "99.95"]]);
  assert.equal(await a.getInvoice("300000299999", {}), undefined);
  assert.equal(await a.getInvoice("INV-1", {}), undefined);
});

test("oracle-fusion: a payment is one standard receipt, applied once to the invoice; a repeat finds both", async () => {
  const a = adapter();
  const inv = await openInvoice(2);
  const ref = `BANK-${kit.tag()}`;
  const one = await a.recordPayment(payment(inv, ref), { correlationId: "p-1" });
  assert.equal(one.status, "succeeded");
  const receipt = await oneReceipt(ref);
  assert.deepEqual(one.refs, [{ system: "oracle-fusion", id: String(receipt.StandardReceiptId), type: "standardReceipt", number: ref }]);
  assert.deepEqual([receipt.ReceiptMethod, receipt.BusinessUnit, receipt.CustomerAccountNumber, receipt.RemittanceBankAccountNumber, receipt.Amount, receipt.Currency, receipt.ReceiptDate], ["Manual", "Vision Operations", "1001", "10271-17621-619", "100.00", "EUR", "2026-11-21"]);
  assert.equal(receipt.applications.length, 1);
  assert.equal(receipt.UnappliedAmount, "0.00");
  assert.equal((await invoiceRecord(inv)).InvoiceBalanceAmount, 200);
  const posts = kit.requests(await control.stats(sandbox.url), "POST", "standardReceipts");
  await a.recordPayment(payment(inv, ref), {});
  assert.equal(kit.requests(await control.stats(sandbox.url), "POST", "standardReceipts"), posts, "the repeat posted nothing");
  assert.equal((await oneReceipt(ref)).applications.length, 1);
  const read = await a.getInvoice(inv, {});
  assert.equal(read.status, "partially-paid");
  assert.deepEqual(read.totals.amountPaid, { amount: "100.00", currency: "EUR" });
  // The rest settles it.
  await a.recordPayment(payment(inv, `${ref}-2`, "200.00"), {});
  assert.equal((await a.getInvoice(inv, {})).status, "paid");
});

test("oracle-fusion: answers lost after commit, on the receipt and on its application → one receipt, one application", async () => {
  const a = adapter();
  const inv = await openInvoice(2);
  const ref = `BANK-${kit.tag()}`;
  const lostBefore = (await control.stats(sandbox.url)).faults["lost-response"] ?? 0;
  await control.faults(sandbox.url, [
    { kind: "lost-response", method: "POST", path: RECEIPTS, count: 1 },
    { kind: "lost-response", method: "POST", path: APPLY, count: 1 },
  ]);
  const paid = await a.recordPayment(payment(inv, ref), {});
  assert.equal(paid.status, "succeeded");
  assert.equal((await control.stats(sandbox.url)).faults["lost-response"], lostBefore + 2, "both answers were lost");
  assert.equal((await oneReceipt(ref)).applications.length, 1);
  assert.equal((await invoiceRecord(inv)).InvoiceBalanceAmount, 200);
});

for (const { fault, connection, settleMs } of kit.CREATE_FAULTS.filter((c) => c.fault.kind !== "throttle")) {
  for (const [what, path] of [["the receipt", RECEIPTS], ["applyReceipt", APPLY]]) {
    test(`oracle-fusion: ${kit.name(fault)} on ${what} → one receipt, applied once`, async () => {
      const a = adapter({ connection });
      const inv = await openInvoice(1);
      const ref = `BANK-${kit.tag()}`;
      await control.faults(sandbox.url, [{ ...fault, method: "POST", path }]);
      const paid = await a.recordPayment(payment(inv, ref, "150.00"), {});
      assert.equal(paid.status, "succeeded");
      assert.ok(((await control.stats(sandbox.url)).faults[fault.kind] ?? 0) >= 1, "the fault fired");
      if (settleMs) await new Promise((r) => setTimeout(r, settleMs));
      assert.equal((await oneReceipt(ref)).applications.length, 1);
      assert.equal((await invoiceRecord(inv)).InvoiceBalanceAmount, 0);
    });
  }
}

test("oracle-fusion: a 429 on the receipt (Retry-After 60 s, past the retry budget) surfaces as throttled with nothing written; a rerun records once", async () => {
  const a = adapter();
  const inv = await openInvoice(1);
  const ref = `BANK-${kit.tag()}`;
  await control.faults(sandbox.url, [{ kind: "throttle", method: "POST", path: RECEIPTS, count: 1 }]);
  await assert.rejects(a.recordPayment(payment(inv, ref), {}), (err) => err instanceof TechnicalError && err.kind === "throttled" && err.retryable && err.retryAfterMs === 60000);
  assert.equal((await receiptsWith(ref)).length, 0);
  // A fresh connection: the first one holds its calls back for the 60 s the gateway asked for.
  assert.equal((await adapter().recordPayment(payment(inv, ref), {})).status, "succeeded");
  assert.equal((await oneReceipt(ref)).applications.length, 1);
});

test("oracle-fusion: a 500 on applyReceipt is a technical failure; the receipt stays unapplied and the rerun applies it once", async () => {
  const a = adapter({ connection: { retry: { maxAttempts: 1 } } });
  const inv = await openInvoice(1);
  const ref = `BANK-${kit.tag()}`;
  await control.faults(sandbox.url, [{ kind: "error", status: 500, method: "POST", path: APPLY, count: 1 }]);
  await assert.rejects(a.recordPayment(payment(inv, ref), {}), (err) => err instanceof TechnicalError && err.status === 500);
  assert.equal((await oneReceipt(ref)).applications.length, 0);
  await a.recordPayment(payment(inv, ref), {});
  assert.equal((await oneReceipt(ref)).applications.length, 1);
});

test("oracle-fusion: Receivables rejections are business errors naming the receipt attribute", async () => {
  const inv = await openInvoice(1);
  const ref = `BANK-${kit.tag()}`;
  const badMethod = adapter({ orderDefaults: { ...RECEIPT_DEFAULTS, receiptMethod: "Barter" } });
  await assert.rejects(badMethod.recordPayment(payment(inv, ref), {}), (err) => err instanceof BusinessError && err.code === "AR-855006" && err.field === "ReceiptMethod" && /Barter/.test(err.message));
  const noBank = adapter({ orderDefaults: { receiptMethod: "Manual" } });
  await assert.rejects(noBank.recordPayment(payment(inv, ref), {}), (err) => err instanceof BusinessError && err.code === "AR-855004" && err.field === "RemittanceBankAccountNumber");
  assert.equal((await receiptsWith(ref)).length, 0);
  // More than the invoice's balance: the receipt is recorded, its application refused on amountApplied.
  const a = adapter();
  await assert.rejects(a.recordPayment(payment(inv, ref, "400.00"), {}), (err) => err instanceof BusinessError && err.code === "AR-855028" && err.field === "amountApplied");
  assert.equal((await oneReceipt(ref)).applications.length, 0);
  assert.equal((await invoiceRecord(inv)).InvoiceBalanceAmount, 150);
});

test("oracle-fusion: bad payments are refused before any receipt is written", async () => {
  const a = adapter();
  const inv = await openInvoice(1);
  const ref = `BANK-${kit.tag()}`;
  await assert.rejects(a.recordPayment({ ...payment(inv, ref), reference: undefined }, {}), (err) => err instanceof BusinessError && err.code === "NO_EXTERNAL_ID" && err.field === "reference");
  const two = payment(inv, ref);
  two.invoices.push(two.invoices[0]);
  await assert.rejects(a.recordPayment(two, {}), (err) => err instanceof BusinessError && err.code === "UNSUPPORTED");
  const unlinked = payment(inv, ref);
  unlinked.invoices[0].refs = [{ system: "netsuite", id: "42" }];
  await assert.rejects(a.recordPayment(unlinked, {}), (err) => err instanceof BusinessError && err.code === "INVOICE_NOT_LINKED");
  await assert.rejects(a.recordPayment(payment(inv, ref, "0.00"), {}), (err) => err instanceof BusinessError && err.code === "INVALID_AMOUNT");
  await assert.rejects(a.recordPayment(payment("300000299999", ref), {}), (err) => err instanceof BusinessError && err.code === "NOT_FOUND" && err.field === "invoices[0].refs");
  await assert.rejects(a.recordPayment(payment(inv, ref, "100.00", "USD"), {}), (err) => err instanceof BusinessError && err.code === "CURRENCY_MISMATCH" && err.field === "amount.currency");
  assert.equal((await receiptsWith(ref)).length, 0);
});

// ---- Node-RED -------------------------------------------------------------------------------------------------

function connectionNode(fields = {}) {
  return kit.connection(
    { system: "oracle-fusion", baseUrl: sandbox.url, fusionAuth: "basic", orderDefaults: JSON.stringify({ businessUnitName: "Vision Operations", ...RECEIPT_DEFAULTS }), ...fields },
    fields.fusionAuth === "oauth2" ? { clientId: D.clientId, clientSecret: D.clientSecret } : { user: D.username, password: D.password },
  );
}

test("oracle-fusion in Node-RED: keelson-erp-order creates once through a lost response and rejects bad data on output 2", async () => {
  const run = await kit.orderFlow(connectionNode({ fusionAuth: "oauth2" }));
  const o = order();
  await control.faults(sandbox.url, [{ kind: "lost-response", method: "POST", path: CREATE, count: 1 }]);
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

test("oracle-fusion in Node-RED: keelson-erp-order ensures the customer (a new party) and creates the order", async () => {
  const run = await kit.orderFlow(connectionNode(), { ensureCustomer: true });
  const o = order();
  o.customer.refs = o.customer.refs.filter((r) => r.system !== "oracle-fusion");
  const ok = await run({ payload: o, customer: { refs: o.customer.refs, name: "Hooli XYZ", email: "ap@hooli.example" }, correlationId: "nr-2" });
  assert.equal(ok.out, "accepted", JSON.stringify(ok.msg.error));
  assert.equal(ok.msg.erp.customerCreated, true);
  const [party] = await partiesWith(o.customer.refs[0].id);
  assert.equal(party.OrganizationName, "Hooli XYZ");
  assert.equal((await ordersWith(o.externalReference))[0].BuyingPartyNumber, party.PartyNumber);
  const status = await run({ payload: order({ externalReference: o.externalReference, customer: { refs: o.customer.refs } }), customer: { refs: o.customer.refs, name: "Hooli XYZ" } });
  assert.equal(status.out, "accepted");
  assert.equal(status.msg.erp.customerCreated, false);
  assert.equal((await partiesWith(o.customer.refs[0].id)).length, 1);
  assert.equal((await ordersWith(o.externalReference)).length, 1);
});

test("oracle-fusion in Node-RED: order status by external reference", async () => {
  const status = await kit.orderFlow(connectionNode(), { operation: "status" });
  const got = await status({ payload: { externalReference: "SO-EXT-1", refs: [] } });
  assert.equal(got.out, "accepted", JSON.stringify(got.msg.error));
  assert.equal(got.msg.payload.orderNumber, "84001");
});

test("oracle-fusion in Node-RED: keelson-erp-invoice lists by watermark, records a payment once, and rejects a bad one on output 2", async () => {
  const list = await kit.invoiceFlow(connectionNode(), { pageSize: 2, watermark: "fusion" });
  const first = await list();
  assert.equal(first.caught.length, 0, JSON.stringify(first.caught[0]?.error));
  assert.ok(first.out.length >= 3);
  assert.ok(first.out.some((m) => m.watermark.page >= 2), "more than one page");
  assert.match(await list.watermark(), /Z\|\d+$/);
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
  assert.equal((await oneReceipt(ref)).applications.length, 1);
  assert.equal((await invoiceRecord(inv)).InvoiceBalanceAmount, 0);
  await helper.unload();

  const badPay = await kit.invoiceFlow(connectionNode({ orderDefaults: JSON.stringify({ receiptMethod: "Barter", remittanceBankAccountNumber: "10271-17621-619" }) }), { operation: "payment" });
  const inv2 = await openInvoice(1);
  const bad = await badPay({ payload: payment(inv2, `BANK-${kit.tag()}`) });
  assert.equal(bad.rejected.length, 1, JSON.stringify(bad));
  assert.equal(bad.rejected[0].error.code, "AR-855006");
  assert.equal(bad.rejected[0].error.field, "ReceiptMethod");
});
