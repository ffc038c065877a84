"use strict";
// Dynamics 365 F&O: the adapter against the sandbox (Entra token and its renewal, dataAreaId scoping, every fault
// kind on the header and line creates, look-up by CustomersOrderReference / line number before a repost, a
// refused line removing its order, infolog errors as business rejections, invoices by watermark, payments as
// customer payment journal lines written once through every fault and settled when posted), then
// keelson-erp-order / -invoice in Node-RED.
const test = require("node:test");
const assert = require("node:assert/strict");
const { start, DYNAMICS_FO_DEFAULTS: D } = require("../../dist/sandbox/dynamics-fo.js");
const { createErpAdapter } = require("../../dist/nodes/lib/vendors/erp.js");
const { BusinessError, TechnicalError } = require("../../dist/nodes/lib/resilience/errors.js");
const kit = require("./kit");
const { control, helper } = kit;

const sandbox = kit.useSandbox(start);

function adapter({ connection = {}, ...rest } = {}) {
  const a = createErpAdapter({
    system: "dynamics-fo",
    name: "fo test",
    baseUrl: sandbox.url,
    tenantId: D.tenantId,
    clientId: D.clientId,
    clientSecret: D.clientSecret,
    company: "USMF",
    tokenUrl: `${sandbox.url}/${D.tenantId}/oauth2/v2.0/token`,
    orderDefaults: { customerGroupId: "30" },
    connection: { ...kit.FAST, ...connection },
    ...rest,
  });
  sandbox.track(a);
  return a;
}

const order = (overrides = {}) => kit.salesOrder({ system: "dynamics-fo", type: "CustomersV3" }, overrides);

const headersWith = async (ref) => (await control.records(sandbox.url, "SalesOrderHeadersV2")).filter((r) => r.CustomersOrderReference === ref);
const linesOf = async (number) => (await control.records(sandbox.url, "SalesOrderLines")).filter((l) => l.SalesOrderNumber === number && l.dataAreaId === "usmf");
/** Exactly one header for the reference, with exactly the order's lines once each. */
async function exactlyOne(o) {
  const headers = await headersWith(o.externalReference);
  assert.equal(headers.length, 1, "one order header");
  const lines = await linesOf(headers[0].SalesOrderNumber);
  assert.deepEqual(lines.map((l) => l.LineNumber).sort(), o.lines.map((l) => l.lineNumber), "each line once");
}

test("dynamics-fo: create an order in the configured company: header then lines, number in refs; mayExist finds it", async () => {
  const a = adapter();
  const o = order();
  const first = await a.createOrder(o, {});
  assert.equal(first.created, true);
  const ref = first.order.refs.find((r) => r.system === "dynamics-fo");
  assert.match(ref.number, /^\d{6}$/);
  assert.equal(first.order.orderNumber, ref.number);
  const [header] = await headersWith(o.externalReference);
  assert.equal(header.dataAreaId, "usmf");
  assert.equal(header.OrderingCustomerAccountNumber, "C-1001");
  assert.deepEqual((await linesOf(ref.number)).map((l) => [l.LineNumber, l.ItemNumber, l.OrderedSalesQuantity, l.SalesPrice]), [[1, "GAD-2", 2, 150], [2, "WID-1", 3, 9.99]]);
  const again = await a.createOrder(o, { mayExist: true });
  assert.equal(again.created, false);
  assert.equal(again.order.orderNumber, ref.number);
  await exactlyOne(o);
});

test("dynamics-fo: an expired token is renewed once; a wrong secret is an auth failure", async () => {
  const a = adapter();
  await a.createOrder(order(), {});
  const tokens = kit.requests(await control.stats(sandbox.url), "POST", "token");
  await control.expireTokens(sandbox.url);
  const o = order();
  assert.equal((await a.createOrder(o, {})).created, true);
  assert.equal(kit.requests(await control.stats(sandbox.url), "POST", "token"), tokens + 1);
  await exactlyOne(o);
  const bad = adapter({ clientSecret: "wrong" });
  await assert.rejects(bad.getOrder({ id: "000001" }, {}), (err) => err instanceof TechnicalError && err.kind === "auth" && !err.retryable && /AADSTS7000215/.test(err.message));
});

// F&O's 429 asks for 5 s (Retry-After): the burst case gets a retry budget that covers it.
const faults = kit.CREATE_FAULTS.map((c) => (c.fault.kind === "throttle" ? { fault: { kind: "throttle", count: 1 }, connection: { retry: { maxAttempts: 4, baseDelayMs: 5, maxDelayMs: 20, maxElapsedMs: 9000 } } } : c));
for (const [target, path] of [["header", "/data/SalesOrderHeadersV2"], ["line", "/data/SalesOrderLines"]]) {
  for (const { fault, connection, settleMs } of faults) {
    if (target === "line" && !["lost-response", "malformed", "html-502", "error"].includes(fault.kind)) continue;
    test(`dynamics-fo: ${kit.name(fault)} on the ${target} create → exactly one order, each line once`, async () => {
      const a = adapter({ connection });
      const o = order();
      const before = (await control.stats(sandbox.url)).faults[fault.kind] ?? 0;
      await control.faults(sandbox.url, [{ ...fault, method: "POST", path }]);
      const outcome = await a.createOrder(o, {});
      assert.ok(outcome.order.refs.some((r) => r.system === "dynamics-fo"));
      assert.ok(((await control.stats(sandbox.url)).faults[fault.kind] ?? 0) > before, "the fault fired");
      if (settleMs) await new Promise((r) => setTimeout(r, settleMs));
      await exactlyOne(o);
    });
  }
}

test("dynamics-fo: a 500 is technical; nothing written", async () => {
  const a = adapter({ connection: { retry: { maxAttempts: 1 } } });
  const o = order();
  await control.faults(sandbox.url, [{ kind: "error", status: 500, method: "POST", path: "/data/SalesOrderHeadersV2" }]);
  await assert.rejects(a.createOrder(o, {}), (err) => err instanceof TechnicalError && err.status === 500);
  assert.equal((await headersWith(o.externalReference)).length, 0);
});

test("dynamics-fo: infolog errors are business rejections naming the field; a refused line removes its order", async () => {
  const a = adapter();
  const badLine = order({ lines: [{ lineNumber: 1, product: { sku: "GAD-2" }, quantity: 1, unitPrice: { amount: "1.00", currency: "EUR" } }, { lineNumber: 2, product: { sku: "NOPE-1" }, quantity: 1, unitPrice: { amount: "1.00", currency: "EUR" } }] });
  await assert.rejects(a.createOrder(badLine, {}), (err) => err instanceof BusinessError && err.field === "ItemNumber" && /Item number NOPE-1 does not exist/.test(err.message) && err.code === "AxODataWriteException");
  assert.equal((await headersWith(badLine.externalReference)).length, 0, "no half-written order is left");
  const badCustomer = order();
  badCustomer.customer.refs[1].id = "C-9999";
  await assert.rejects(a.createOrder(badCustomer, {}), (err) => err instanceof BusinessError && err.field === "OrderingCustomerAccountNumber");
  const noGroup = adapter({ orderDefaults: {} });
  await assert.rejects(noGroup.ensureCustomer({ refs: [{ system: "salesforce", id: `001${kit.tag()}` }], name: "No Group" }, {}), (err) => err instanceof BusinessError && err.field === "CustomerGroupId");
  const unknownGroup = adapter({ orderDefaults: { customerGroupId: "77" } });
  await assert.rejects(unknownGroup.ensureCustomer({ refs: [{ system: "salesforce", id: `001${kit.tag()}` }], name: "Bad Group" }, {}), (err) => err instanceof BusinessError && err.field === "Customer group");
});

test("dynamics-fo: ensure customer creates it once in the configured company, keyed by the CRM id", async () => {
  const a = adapter({ company: "demf" });
  const t = kit.tag().slice(-12);
  const customer = { refs: [{ system: "salesforce", id: `001${t}` }], name: `Contoso ${t}`, currency: "EUR", billingAddress: { city: "Munich", country: "DE" } };
  await control.faults(sandbox.url, [{ kind: "lost-response", method: "POST", path: "/data/CustomersV3", count: 1 }]);
  const first = await a.ensureCustomer(customer, {});
  assert.deepEqual(first.ref, { system: "dynamics-fo", id: `001${t}`, type: "CustomersV3", number: `001${t}` });
  assert.equal((await a.ensureCustomer(customer, {})).created, false);
  const stored = (await control.records(sandbox.url, "CustomersV3")).filter((c) => c.CustomerAccount === `001${t}`);
  assert.equal(stored.length, 1);
  assert.equal(stored[0].dataAreaId, "demf");
  assert.equal(stored[0].AddressCountryRegionId, "DEU");
  assert.equal(await a.getOrder({ externalReference: "PO-77" }, {}), undefined, "usmf's order is not visible from demf");
});

test("dynamics-fo: get an order by number and by external reference; a missing one is undefined", async () => {
  const a = adapter();
  const o = order();
  const { order: created } = await a.createOrder(o, {});
  const byId = await a.getOrder({ id: created.orderNumber }, {});
  assert.equal(byId.externalReference, o.externalReference);
  assert.deepEqual(byId.lines.map((l) => [l.lineNumber, l.product.sku, l.unitPrice.amount]), [[1, "GAD-2", "150.00"], [2, "WID-1", "9.99"]]);
  assert.equal((await a.getOrder({ externalReference: o.externalReference }, {})).orderNumber, created.orderNumber);
  assert.equal(await a.getOrder({ id: "999999" }, {}), undefined);
  assert.equal(await a.getOrder({ externalReference: "NO-SUCH" }, {}), undefined);
});

/** Creates n orders and invoices each; resolves with the invoice numbers. */
async function invoices(a, n) {
  const numbers = [];
  for (let i = 0; i < n; i++) {
    const { order: o } = await a.createOrder(order(), {});
    numbers.push((await control.seed(sandbox.url, "SalesInvoiceHeaders", { SalesOrderNumber: o.orderNumber }))[0].InvoiceNumber);
  }
  return numbers;
}

test("dynamics-fo: invoices by watermark: oldest first, page by page, an unmappable one rejected, then only newer ones", async () => {
  const a = adapter();
  const pages = [];
  for await (const page of a.listInvoices(undefined, { pageSize: 2 })) pages.push(page);
  assert.ok(pages.length >= 1);
  const watermark = pages[pages.length - 1].watermark;
  assert.match(watermark, /^\d{4}-\d\d-\d\dT.*Z\|CIV-\d+$/);

  const fresh = await invoices(a, 2);
  const [odd] = await control.seed(sandbox.url, "SalesOrderHeadersV2", { OrderingCustomerAccountNumber: "C-1001", CustomersOrderReference: `ODD-${kit.tag()}`, CurrencyCode: "EURO" });
  await control.seed(sandbox.url, "SalesOrderLines", { SalesOrderNumber: odd.SalesOrderNumber, ItemNumber: "SUP-12", OrderedSalesQuantity: 1 });
  const [oddInvoice] = await control.seed(sandbox.url, "SalesInvoiceHeaders", { SalesOrderNumber: odd.SalesOrderNumber });
  const last = await invoices(a, 1);
  const next = [];
  for await (const page of a.listInvoices(watermark, { pageSize: 2 })) next.push(page);
  assert.equal(next.length, 2);
  assert.deepEqual(next.flatMap((p) => p.invoices.map((i) => i.invoiceNumber)), [...fresh, ...last]);
  assert.deepEqual(next.flatMap((p) => p.rejected.map((r) => r.id)), [oddInvoice.InvoiceNumber]);
  const first = next[0].invoices[0];
  assert.deepEqual(first.totals.total, { amount: "329.97", currency: "EUR" });
  assert.equal(first.lines.length, 2);
  const after = [];
  for await (const page of a.listInvoices(next[1].watermark, { pageSize: 2 })) after.push(page);
  assert.deepEqual(after, []);
  assert.equal((await a.getInvoice(fresh[0], {})).invoiceNumber, fresh[0]);
  assert.equal(await a.getInvoice("CIV-999999", {}), undefined);
});

// ---- payments: customer payment journals ------------------------------------------------------------------------

/** A canonical Payment of one invoice (EUR). */
const payment = (invoice, reference, amount = "100.00", overrides = {}) => ({
  refs: [],
  amount: { amount, currency: "EUR" },
  paymentDate: "2026-11-21",
  method: "bank-transfer",
  reference,
  invoices: [{ refs: [{ system: "dynamics-fo", id: invoice }], amount: { amount, currency: "EUR" } }],
  ...overrides,
});
const journalsOf = async (ref) => (await control.records(sandbox.url, "CustomerPaymentJournalHeaders")).filter((h) => h.Description === `Keelson ${ref}`);
const paymentLinesOf = async (ref) => (await control.records(sandbox.url, "CustomerPaymentJournalLines")).filter((l) => l.PaymentReference === ref);
const settlementsOf = async (invoice) => (await control.records(sandbox.url, "CustSettlement")).filter((x) => x.InvoiceNumber === invoice);
/** Exactly one journal for the reference, holding exactly one line: the payment's. */
async function exactlyOnePayment(ref) {
  const journals = await journalsOf(ref);
  assert.equal(journals.length, 1, "one journal");
  const lines = await paymentLinesOf(ref);
  assert.equal(lines.length, 1, "one line");
  assert.equal(lines[0].JournalBatchNumber, journals[0].JournalBatchNumber);
  return { journal: journals[0], line: lines[0] };
}
/** F&O's posting of a journal (a user or a batch job), done by the sandbox's control plane. */
const postJournal = (batch) => control.seed(sandbox.url, "CustomerPaymentJournalHeaders", { JournalBatchNumber: batch, IsPosted: "Yes" });

test("dynamics-fo: a payment is one journal line marking its invoice, pending until posted; a repeat finds it; posting settles", async () => {
  const a = adapter();
  const [inv] = await invoices(a, 1);
  const ref = `BANK-${kit.tag()}`;
  const recorded = await a.recordPayment(payment(inv, ref), {});
  assert.equal(recorded.status, "pending");
  assert.equal(recorded.reference, ref);
  const { journal, line } = await exactlyOnePayment(ref);
  assert.deepEqual(recorded.refs, [{ system: "dynamics-fo", id: journal.JournalBatchNumber, type: "CustomerPaymentJournalLines", number: line.Voucher }]);
  assert.deepEqual([journal.dataAreaId, journal.JournalName, journal.IsPosted], ["usmf", "CustPay", "No"]);
  assert.deepEqual(
    [line.dataAreaId, line.LineNumber, line.AccountType, line.AccountDisplayValue, line.CreditAmount, line.DebitAmount, line.CurrencyCode, line.TransactionDate, line.MarkedInvoice, line.MarkedInvoiceCompany, line.OffsetAccountType, line.OffsetAccountDisplayValue],
    ["usmf", 1, "Cust", "C-1001", 100, 0, "EUR", "2026-11-21T12:00:00Z", inv, "usmf", "Bank", "USMF OPER"],
  );
  const again = await a.recordPayment(payment(inv, ref), {});
  assert.deepEqual([again.status, again.refs], ["pending", recorded.refs]);
  await exactlyOnePayment(ref);
  assert.deepEqual(await settlementsOf(inv), [], "nothing settles before posting");

  await postJournal(journal.JournalBatchNumber);
  assert.deepEqual((await settlementsOf(inv)).map((x) => x.SettleAmount), [100]);
  assert.equal((await a.recordPayment(payment(inv, ref), {})).status, "succeeded", "the posted journal's payment has succeeded");
  await exactlyOnePayment(ref);

  // The rest of the invoice, then nothing is open any more.
  const rest = `BANK-${kit.tag()}`;
  const second = await a.recordPayment(payment(inv, rest, "229.97"), {});
  await postJournal(second.refs[0].id);
  assert.deepEqual((await settlementsOf(inv)).map((x) => x.SettleAmount).sort(), [100, 229.97]);
  const late = `BANK-${kit.tag()}`;
  await assert.rejects(a.recordPayment(payment(inv, late, "1.00"), {}), (err) => err instanceof BusinessError && err.field === "MarkedInvoice" && /not an open transaction/.test(err.message));
  assert.deepEqual([(await journalsOf(late)).length, (await paymentLinesOf(late)).length], [0, 0], "a refused line leaves no empty journal");
});

test("dynamics-fo: journal name, bank account and method of payment from the order defaults; the payment's own win", async () => {
  const a = adapter({ orderDefaults: { customerGroupId: "30", paymentJournal: "CustPayEUR", bankAccount: "USMF EUR", paymentMethod: "ELECTRONIC" } });
  const [inv] = await invoices(a, 1);
  const ref = `BANK-${kit.tag()}`;
  await a.recordPayment(payment(inv, ref, "50.00", { extensions: { "dynamics-fo": { paymentMethod: "CHECK" } } }), {});
  const { journal, line } = await exactlyOnePayment(ref);
  assert.equal(journal.JournalName, "CustPayEUR");
  assert.deepEqual([line.OffsetAccountType, line.OffsetAccountDisplayValue, line.PaymentMethodName], ["Bank", "USMF EUR", "CHECK"]);
});

// Every fault on the journal and on the line create: one journal, one line. (F&O's 429 asks for 5 s: see `faults`.)
for (const [target, path] of [["journal", "/data/CustomerPaymentJournalHeaders"], ["line", "/data/CustomerPaymentJournalLines"]]) {
  for (const { fault, connection, settleMs } of faults) {
    test(`dynamics-fo: ${kit.name(fault)} on the payment ${target} create → one journal, one line`, async () => {
      const a = adapter({ connection });
      const [inv] = await invoices(a, 1);
      const ref = `BANK-${kit.tag()}`;
      const before = (await control.stats(sandbox.url)).faults[fault.kind] ?? 0;
      await control.faults(sandbox.url, [{ ...fault, method: "POST", path }]);
      const recorded = await a.recordPayment(payment(inv, ref), {});
      assert.equal(recorded.status, "pending");
      assert.ok(((await control.stats(sandbox.url)).faults[fault.kind] ?? 0) > before, "the fault fired");
      if (settleMs) await new Promise((r) => setTimeout(r, settleMs));
      const { journal } = await exactlyOnePayment(ref);
      assert.equal(recorded.refs[0].id, journal.JournalBatchNumber);
    });
  }
}

test("dynamics-fo: answers lost after both commits → one journal, one line; failing look-ups are retried", async () => {
  const a = adapter({ connection: { retry: { maxAttempts: 4, baseDelayMs: 5, maxDelayMs: 20, maxElapsedMs: 9000 } } });
  const [inv] = await invoices(a, 1);
  const ref = `BANK-${kit.tag()}`;
  await control.faults(sandbox.url, [
    { kind: "lost-response", method: "POST", path: "/data/CustomerPaymentJournalHeaders", count: 1 },
    { kind: "lost-response", method: "POST", path: "/data/CustomerPaymentJournalLines", count: 1 },
    { kind: "error", status: 503, method: "GET", path: "/data/CustomerPaymentJournalLines", count: 1 },
    { kind: "error", status: 503, method: "GET", path: "/data/CustomerPaymentJournalHeaders", count: 1 },
  ]);
  await a.recordPayment(payment(inv, ref), {});
  const stats = await control.stats(sandbox.url);
  assert.deepEqual([stats.faults["lost-response"] >= 2, stats.faults.error >= 2], [true, true], "every fault fired");
  await exactlyOnePayment(ref);
});

test("dynamics-fo: a journal left without its line by a failure is reused, not doubled; a 500 is technical", async () => {
  const a = adapter({ connection: { retry: { maxAttempts: 1 } } });
  const [inv] = await invoices(a, 1);
  const ref = `BANK-${kit.tag()}`;
  await control.faults(sandbox.url, [{ kind: "error", status: 500, method: "POST", path: "/data/CustomerPaymentJournalLines", count: 1 }]);
  await assert.rejects(a.recordPayment(payment(inv, ref), {}), (err) => err instanceof TechnicalError && err.status === 500);
  const [left] = await journalsOf(ref);
  assert.ok(left, "the journal was written");
  assert.equal((await paymentLinesOf(ref)).length, 0);
  const recorded = await a.recordPayment(payment(inv, ref), {});
  const { journal } = await exactlyOnePayment(ref);
  assert.equal(journal.JournalBatchNumber, left.JournalBatchNumber);
  assert.equal(recorded.refs[0].id, left.JournalBatchNumber);
});

test("dynamics-fo: F&O's refusals of a payment are business rejections naming the field; no empty journal is left", async () => {
  const a = adapter();
  const [inv, other] = await invoices(a, 2);
  const refused = async (p, field, pattern, connectionDefaults) => {
    const who = connectionDefaults ? adapter({ orderDefaults: connectionDefaults }) : a;
    await assert.rejects(who.recordPayment(p, {}), (err) => {
      assert.ok(err instanceof BusinessError, String(err));
      assert.equal(err.field, field, err.message);
      assert.match(err.message, pattern);
      return true;
    });
    assert.deepEqual([(await journalsOf(p.reference)).length, (await paymentLinesOf(p.reference)).length], [0, 0], `nothing left for ${field}`);
  };
  const ref = () => `BANK-${kit.tag()}`;
  await refused(payment(inv, ref()), "JournalName", /'NOPE' in field 'Name'.*Journal names/, { paymentJournal: "NOPE" });
  await refused(payment(inv, ref(), "10.00", { customer: { refs: [{ system: "dynamics-fo", id: "C-9999" }] } }), "AccountDisplayValue", /'C-9999' for transaction type Customer does not exist/);
  await refused(payment(inv, ref(), "10.00", { customer: { refs: [{ system: "dynamics-fo", id: "C-1002" }] }, amount: { amount: "10.00", currency: "USD" } }), "MarkedInvoice", /not an open transaction for customer account C-1002/);
  await refused(payment(inv, ref(), "10.00", { amount: { amount: "10.00", currency: "USD" } }), "CurrencyCode", /currency USD of the payment differs from the currency EUR/);
  await refused(payment(inv, ref()), "OffsetAccountDisplayValue", /'NO BANK' for transaction type Bank/, { bankAccount: "NO BANK" });
  await refused(payment(inv, ref()), "PaymentMethodName", /'WAMPUM' in field 'Method of payment'/, { paymentMethod: "WAMPUM" });
  // An invoice marked by another payment's unposted journal cannot be marked again until that journal is posted.
  const first = await a.recordPayment(payment(other, ref(), "10.00"), {});
  await refused(payment(other, ref(), "10.00"), "MarkedInvoice", new RegExp(`already marked for settlement in journal ${first.refs[0].id}`));
  await postJournal(first.refs[0].id);
  assert.equal((await a.recordPayment(payment(other, ref(), "10.00"), {})).status, "pending", "marked again once posted");
  // An invoice F&O does not have is the adapter's own rejection.
  await refused(payment("CIV-999999", ref()), "invoices[0].refs", /no F&O invoice CIV-999999/);
});

test("dynamics-fo: bad payments are rejected before anything is written", async () => {
  const a = adapter();
  const [inv] = await invoices(a, 1);
  const before = (await control.records(sandbox.url, "CustomerPaymentJournalHeaders")).length;
  const two = payment(inv, `BANK-${kit.tag()}`);
  two.invoices.push(two.invoices[0]);
  const cases = [
    [two, "UNSUPPORTED", undefined],
    [payment(inv, undefined), "NO_EXTERNAL_ID", "reference"],
    [payment(inv, `BANK-${"X".repeat(60)}`), "REFERENCE_TOO_LONG", "reference"],
    [payment(inv, `BANK-${kit.tag()}`, "0.00"), "NOT_A_RECEIPT", "amount.amount"],
    [payment(inv, `BANK-${kit.tag()}`, "-5.00"), "NOT_A_RECEIPT", "amount.amount"],
    [{ ...payment(inv, `BANK-${kit.tag()}`), invoices: [{ refs: [{ system: "salesforce", id: "a0X1" }], amount: { amount: "1.00", currency: "EUR" } }] }, "INVOICE_NOT_LINKED", "invoices[0].refs"],
  ];
  for (const [p, code, field] of cases) await assert.rejects(a.recordPayment(p, {}), (err) => err instanceof BusinessError && err.code === code && err.field === field, code);
  assert.equal((await control.records(sandbox.url, "CustomerPaymentJournalHeaders")).length, before);
});

// ---- Node-RED -------------------------------------------------------------------------------------------------

function connectionNode(fields = {}) {
  return kit.connection(
    { system: "dynamics-fo", baseUrl: sandbox.url, foTenantId: D.tenantId, foCompany: "usmf", tokenUrl: `${sandbox.url}/${D.tenantId}/oauth2/v2.0/token`, orderDefaults: JSON.stringify({ customerGroupId: "30" }), ...fields },
    { clientId: D.clientId, clientSecret: D.clientSecret },
  );
}

test("dynamics-fo in Node-RED: keelson-erp-order ensures the customer and creates once through a lost response; bad data on output 2", async () => {
  const run = await kit.orderFlow(connectionNode(), { ensureCustomer: true });
  const o = order();
  o.customer.refs = o.customer.refs.filter((r) => r.system !== "dynamics-fo");
  o.customer.refs[0].id = o.customer.refs[0].id.slice(-18);
  await control.faults(sandbox.url, [{ kind: "lost-response", method: "POST", path: "/data/SalesOrderHeadersV2", count: 1 }]);
  const ok = await run({ payload: o, correlationId: "nr-1" });
  assert.equal(ok.out, "accepted", JSON.stringify(ok.msg.error));
  assert.equal(ok.msg.erp.customerCreated, true);
  assert.equal(ok.msg.correlationId, "nr-1");
  await exactlyOne(o);
  assert.equal((await headersWith(o.externalReference))[0].OrderingCustomerAccountNumber, o.customer.refs[0].id);

  const bad = await run({ payload: order({ lines: [{ lineNumber: 1, product: { sku: "NOPE-2" }, quantity: 1, unitPrice: { amount: "1.00", currency: "EUR" } }] }) });
  assert.equal(bad.out, "rejected");
  assert.equal(bad.msg.error.field, "ItemNumber");
  assert.match(bad.msg.error.message, /NOPE-2/);
});

test("dynamics-fo in Node-RED: keelson-erp-invoice lists by watermark, records a payment once, rejects on output 2", async () => {
  const list = await kit.invoiceFlow(connectionNode(), { pageSize: 2, watermark: "fo" });
  const first = await list();
  assert.equal(first.caught.length, 0, JSON.stringify(first.caught[0]?.error));
  assert.ok(first.out.length >= 1);
  assert.match(await list.watermark(), /\|CIV-\d+$/);
  assert.equal((await list()).out.length, 0);
  const a = adapter();
  const fresh = await invoices(a, 3);
  const third = await list();
  assert.deepEqual(third.out.map((m) => m.payload.invoiceNumber), fresh);
  assert.ok(third.out.some((m) => m.watermark.page >= 2), "more than one page");
  await helper.unload();

  const pay = await kit.invoiceFlow(connectionNode({ orderDefaults: JSON.stringify({ customerGroupId: "30", paymentMethod: "ELECTRONIC" }) }), { operation: "payment" });
  const ref = `BANK-${kit.tag()}`;
  await control.faults(sandbox.url, [{ kind: "lost-response", method: "POST", path: "/data/CustomerPaymentJournalLines", count: 1 }]);
  const got = await pay({ payload: payment(fresh[0], ref, "150.00"), correlationId: "nr-pay" });
  assert.equal(got.out.length, 1, JSON.stringify(got.caught[0]?.error ?? got.rejected[0]?.error));
  assert.equal(got.out[0].payload.status, "pending");
  assert.equal(got.out[0].correlationId, "nr-pay");
  assert.ok(got.out[0].payload.refs.some((r) => r.system === "dynamics-fo" && r.type === "CustomerPaymentJournalLines"));
  await pay({ payload: payment(fresh[0], ref, "150.00") });
  const { line } = await exactlyOnePayment(ref);
  assert.equal(line.PaymentMethodName, "ELECTRONIC");

  const usd = await pay({ payload: payment(fresh[1], `BANK-${kit.tag()}`, "5.00", { amount: { amount: "5.00", currency: "USD" } }) });
  assert.equal(usd.rejected.length, 1);
  assert.equal(usd.rejected[0].error.field, "CurrencyCode");
  assert.match(usd.rejected[0].error.message, /differs from the currency EUR/);
  const malformed = await pay({ payload: { ...payment(fresh[1], `BANK-${kit.tag()}`), amount: 5 } });
  assert.equal(malformed.caught.length, 1);
  assert.match(malformed.caught[0].error.message, /msg\.payload is not a valid Payment/);
});

test("the connection dialog builds each new system's config and names what is missing", () => {
  const { configOf } = require("../../dist/nodes/erp-connection/config.js");
  const def = { id: "c", name: "", baseUrl: "https://fo.example", system: "dynamics-fo", foTenantId: "t-1", foCompany: "usmf", tokenUrl: "", scope: "" };
  const fo = configOf(def, { clientId: "id", clientSecret: "secret" });
  assert.deepEqual([fo.system, fo.tenantId, fo.company, fo.clientId, fo.clientSecret, fo.tokenUrl], ["dynamics-fo", "t-1", "usmf", "id", "secret", undefined]);
  const company = process.env.ERP_COMPANY;
  delete process.env.ERP_COMPANY;
  try {
    assert.throws(() => configOf({ ...def, foCompany: "" }, { clientId: "id", clientSecret: "secret" }), /company \(dataAreaId/);
  } finally {
    if (company !== undefined) process.env.ERP_COMPANY = company;
  }
  const acu = configOf({ ...def, system: "acumatica", acumaticaTenant: "Keelson", acumaticaBranch: "", acumaticaEndpoint: "Default/23.200.001" }, { user: "admin", password: "pw" });
  assert.deepEqual([acu.user, acu.tenant, acu.branch, acu.endpoint, acu.endpointVersion], ["admin", "Keelson", undefined, "Default", "23.200.001"]);
  const fusion = configOf({ ...def, system: "oracle-fusion", fusionAuth: "oauth2", tokenUrl: "https://idcs.example/oauth2/v1/token" }, { clientId: "id", clientSecret: "secret" });
  assert.deepEqual(fusion.auth, { kind: "oauth2", clientId: "id", clientSecret: "secret", tokenUrl: "https://idcs.example/oauth2/v1/token" });
  assert.equal(configOf({ ...def, system: "oracle-fusion", fusionAuth: "basic" }, { user: "u", password: "p" }).auth.kind, "basic");
});
