"use strict";
// The Odoo adapter against the Odoo sandbox, started in-process, over both transports (JSON-2 with an API key,
// JSON-RPC execute_kw with uid and password): partners once by ref, orders exactly once by client_order_ref through
// every fault the sandbox injects, Odoo's exceptions as business rejections or technical failures, invoices by
// (write_date, id) watermark page by page, payments through the Register Payment wizard once per reference (memo);
// and the ERP order and ERP invoice nodes on a real Node-RED runtime.
const test = require("node:test");
const assert = require("node:assert/strict");
const { helper } = require("../support/helper");
const { start, ODOO_DEFAULTS: D } = require("../../dist/sandbox/odoo.js");
const { createErpAdapter } = require("../../dist/nodes/lib/vendors/erp.js");
const { BusinessError, TechnicalError } = require("../../dist/nodes/lib/resilience/errors.js");
const storeNode = require("../../dist/nodes/store/store.js");
const connectionNode = require("../../dist/nodes/erp-connection/erp-connection.js");
const orderNode = require("../../dist/nodes/erp-order/erp-order.js");
const invoiceNode = require("../../dist/nodes/erp-invoice/erp-invoice.js");
const { FAST, control } = require("./support");
const kit = require("./kit");

const PROTOCOLS = ["json2", "jsonrpc"];
const sandbox = kit.useSandbox(start);
const base = () => sandbox.url;
const GADGET = "2"; // product.product ids in the sandbox's seed
const SUPPORT = "3";
const GLOBEX = "1";

function config(protocol, overrides = {}) {
  return { system: "odoo", name: `odoo ${protocol}`, baseUrl: sandbox.url, protocol, database: D.database, login: D.login, password: protocol === "json2" ? D.apiKey : D.password, connection: FAST, ...overrides };
}

let sequence = 0;
function tag() {
  sequence++;
  return `${Date.now().toString(36)}${process.pid.toString(36)}${sequence}`;
}

/** An order for a partner; lines by SKU, or by Odoo product id (no product look-up: the create is the first call). */
function salesOrder(partnerId, { byId = false, currency = "EUR" } = {}) {
  const t = tag();
  const product = (sku, id) => (byId ? { sku, refs: [{ system: "odoo", id }] } : { sku });
  return {
    refs: [{ system: "salesforce", id: `006OPP${t}`, type: "Opportunity" }],
    externalReference: `SF-${t}`,
    customer: { refs: [{ system: "salesforce", id: `001${t}`, type: "Account" }, ...(partnerId ? [{ system: "odoo", id: partnerId, type: "res.partner" }] : [])], name: `Account ${t}` },
    orderDate: "2026-11-20",
    currency,
    lines: [
      { lineNumber: 1, product: product("GAD-2", GADGET), quantity: 2, unitPrice: { amount: "150.00", currency } },
      { lineNumber: 2, product: product("SUP-12", SUPPORT), quantity: 1, unitPrice: { amount: "250.00", currency } },
    ],
  };
}

const ordersWith = async (ref) => (await control.records(base(), "sale.order")).filter((o) => o.client_order_ref === ref);
const faultCount = async (kind) => (await control.stats(base())).faults[kind] ?? 0;
const createPath = (protocol) => (protocol === "json2" ? "/json/2/sale.order/create" : "/jsonrpc");

async function addInvoices(n, extra = {}) {
  const ids = [];
  for (let i = 0; i < n; i++) {
    const r = await control.seed(base(), "account.move", { move_type: "out_invoice", partner_id: 1, ref: `INV-${tag()}`, invoice_line_ids: [[0, 0, { product_id: 2, quantity: i + 1 }]], state: "posted", ...extra });
    ids.push(String((r.records ?? [r])[0].id));
  }
  return ids;
}

/** A posted invoice of 150.00 (one Gadget) for Globex, in EUR unless currency_id says otherwise. */
const openInvoice = async (extra = {}) => (await addInvoices(1, extra))[0];
const invoiceRecord = async (id) => (await control.records(base(), "account.move")).find((m) => String(m.id) === id);
const paymentsWith = async (memo) => (await control.records(base(), "account.payment")).filter((p) => p.memo === memo);
const bankRef = () => `BANK-${tag()}`;

/** A canonical Payment of `amount` against one Odoo invoice. */
function payment(invoice, reference, amount = "100.00", { currency = "EUR", extensions } = {}) {
  return {
    refs: [{ system: "stripe", id: `py_${tag()}`, type: "payment" }],
    amount: { amount, currency },
    paymentDate: "2026-11-22",
    method: "bank-transfer",
    ...(reference === undefined ? {} : { reference }),
    invoices: [{ refs: [{ system: "odoo", id: invoice, type: "account.move" }], amount: { amount, currency } }],
    ...(extensions ? { extensions } : {}),
  };
}

/**
 * Arms sandbox faults the moment the adapter sends the call `method` (JSON-RPC has one path for every call, so a
 * fault set beforehand would meet the first call instead): the faults meet that very request.
 */
function armOn(adapter, method, faults) {
  const request = adapter.connection.request.bind(adapter.connection);
  let armed = false;
  adapter.connection.request = async (spec) => {
    const called = spec.path === "jsonrpc" ? spec.body?.params?.args?.[4] : String(spec.path).split("/").pop();
    if (!armed && called === method) {
      armed = true;
      await control.faults(base(), faults.map((f) => ({ ...f, method: "POST", path: spec.path === "jsonrpc" ? "/jsonrpc" : `/${spec.path}` })));
    }
    return request(spec);
  };
}

/** The faults a write (order create, payment) must come through exactly once. */
const WRITE_FAULTS = [
  { kind: "lost-response", count: 1 },
  { kind: "malformed", count: 1 },
  { kind: "html-502", count: 1 },
  { kind: "error", status: 503, count: 2 },
  { kind: "outage", durationMs: 500, mode: "reset" },
  { kind: "outage", durationMs: 500, mode: "503" },
  { kind: "latency", ms: 900, count: 1 }, // 1.5 × the timeout: the look-up after it (at 2 × the timeout) must come after the commit
];

for (const protocol of PROTOCOLS) {
  const withAdapter = (fn, overrides) => async () => {
    const adapter = createErpAdapter(config(protocol, overrides));
    try {
      await fn(adapter);
    } finally {
      await adapter.close();
    }
  };

  test(`${protocol}: ensure customer creates the partner once with ref = the CRM id, then finds it`, withAdapter(async (adapter) => {
    const customer = { refs: [{ system: "salesforce", id: `001${tag()}` }], name: "Acme Robotics SAS", kind: "company", email: "ap@acme.example", billingAddress: { city: "Lyon", country: "FR" } };
    const first = await adapter.ensureCustomer(customer, {});
    assert.equal(first.created, true);
    assert.match(first.ref.id, /^\d+$/);
    assert.deepEqual(await adapter.ensureCustomer(customer, {}), { ref: first.ref, created: false });
    const stored = (await control.records(base(), "res.partner")).filter((p) => p.ref === customer.refs[0].id);
    assert.equal(stored.length, 1);
    assert.equal(stored[0].city, "Lyon");
    assert.equal(stored[0].customer_rank, 1);
  }));

  test(`${protocol}: create and confirm an order; read it back by id and by external reference`, withAdapter(async (adapter) => {
    const order = salesOrder(GLOBEX);
    const { order: accepted, created } = await adapter.createOrder(order, { correlationId: `corr-${protocol}` });
    assert.equal(created, true);
    const ref = accepted.refs.find((r) => r.system === "odoo");
    assert.match(ref.id, /^\d+$/);
    assert.match(ref.number, /^S\d{5}$/);
    assert.equal(accepted.orderNumber, ref.number);
    assert.equal(accepted.status, "accepted");
    const [stored] = await ordersWith(order.externalReference);
    assert.equal(stored.state, "sale", "confirmed");
    assert.equal(stored.amount_total, 550);

    const byId = await adapter.getOrder({ id: ref.id }, {});
    assert.equal(byId.externalReference, order.externalReference);
    assert.deepEqual(byId.lines.map((l) => [l.lineNumber, l.product.refs[0].id, l.quantity, l.unitPrice.amount]), [[1, GADGET, 2, "150"], [2, SUPPORT, 1, "250"]]);
    assert.deepEqual(byId.totals.total, { amount: "550", currency: "EUR" });
    assert.equal((await adapter.getOrder({ externalReference: order.externalReference }, {})).refs[0].id, ref.id);
    assert.equal(await adapter.getOrder({ externalReference: "NO-SUCH-ORDER" }, {}), undefined);
    assert.equal(await adapter.getOrder({ id: "999999" }, {}), undefined);
    assert.equal(await adapter.getOrder({ id: "S00001" }, {}), undefined);
  }));

  test(`${protocol}: extensions.odoo.confirm = false leaves a quotation`, withAdapter(async (adapter) => {
    const order = { ...salesOrder(GLOBEX), extensions: { odoo: { confirm: false } } };
    const { order: got } = await adapter.createOrder(order, {});
    assert.equal(got.status, "draft");
    assert.equal((await ordersWith(order.externalReference))[0].state, "draft");
  }));

  test(`${protocol}: a reclaimed business key (mayExist) finds the order instead of creating a second`, withAdapter(async (adapter) => {
    const order = salesOrder(GLOBEX);
    const first = await adapter.createOrder(order, {});
    const again = await adapter.createOrder(order, { mayExist: true });
    assert.equal(again.created, false);
    assert.equal(again.order.refs.at(-1).id, first.order.refs.at(-1).id);
    assert.equal((await ordersWith(order.externalReference)).length, 1);
  }));

  for (const fault of WRITE_FAULTS) {
    test(`${protocol}: ${fault.kind}${fault.mode ? ` (${fault.mode})` : ""} on the order create → exactly one order`, withAdapter(async (adapter) => {
      await adapter.getOrder({ externalReference: "warm-up" }, {}); // the JSON-RPC uid first, so the fault meets the create
      const order = salesOrder(GLOBEX, { byId: true });
      const before = await faultCount(fault.kind);
      await control.faults(base(), [{ ...fault, method: "POST", path: createPath(protocol) }]);
      const { order: accepted } = await adapter.createOrder(order, {});
      assert.ok((await faultCount(fault.kind)) > before, "the fault fired");
      if (fault.kind === "latency") await new Promise((r) => setTimeout(r, 900)); // the late original commits after we answered
      const stored = await ordersWith(order.externalReference);
      assert.equal(stored.length, 1);
      assert.equal(String(stored[0].id), accepted.refs.at(-1).id);
      assert.equal(stored[0].state, "sale");
    }, fault.kind === "latency" ? { connection: { ...FAST, timeoutMs: 600 } } : fault.kind === "outage" ? { connection: { ...FAST, retry: { ...FAST.retry, maxAttempts: 40, baseDelayMs: 50, maxDelayMs: 100 }, breaker: { failureThreshold: 1000, minimumCalls: 1000 } } } : {}));
  }

  test(`${protocol}: a lost answer to action_confirm: the order's state says it took, one order, confirmed`, withAdapter(async (adapter) => {
    if (protocol === "jsonrpc") return; // JSON-RPC has one path for every call; the create tests above cover it
    const order = salesOrder(GLOBEX, { byId: true });
    await control.faults(base(), [{ kind: "lost-response", method: "POST", path: "/json/2/sale.order/action_confirm", count: 1 }]);
    const { order: accepted } = await adapter.createOrder(order, {});
    assert.equal(accepted.status, "accepted");
    const stored = await ordersWith(order.externalReference);
    assert.equal(stored.length, 1);
    assert.equal(stored[0].state, "sale");
  }));

  test(`${protocol}: a 429 (Retry-After 60) beyond the retry budget is a throttle: nothing created, the connection paused`, withAdapter(async (adapter) => {
    const order = salesOrder(GLOBEX, { byId: true });
    await adapter.getOrder({ externalReference: "warm-up" }, {});
    await control.faults(base(), [{ kind: "throttle", method: "POST", path: createPath(protocol), count: 1 }]);
    const err = await adapter.createOrder(order, {}).then(() => undefined, (e) => e);
    assert.ok(err instanceof TechnicalError, String(err));
    assert.equal(err.kind, "throttled");
    assert.equal(err.retryAfterMs, 60000);
    assert.ok(adapter.connection.state().throttledUntil > Date.now() + 50000, "every caller holds off");
    assert.equal((await ordersWith(order.externalReference)).length, 0);
  }));

  test(`${protocol}: an Odoo 500 is a technical failure, not retried, nothing created`, withAdapter(async (adapter) => {
    await adapter.getOrder({ externalReference: "warm-up" }, {});
    const order = salesOrder(GLOBEX, { byId: true });
    await control.faults(base(), [{ kind: "error", status: 500, method: "POST", path: createPath(protocol) }]);
    const err = await adapter.createOrder(order, {}).then(() => undefined, (e) => e);
    assert.ok(err instanceof TechnicalError && !(err instanceof BusinessError), String(err));
    assert.equal(err.status, 500);
    assert.equal((await ordersWith(order.externalReference)).length, 0);
  }));

  test(`${protocol}: business rejections: missing partner, unknown SKU, a bad value — Odoo's exception as code and field`, withAdapter(async (adapter) => {
    let err = await adapter.createOrder(salesOrder("99999"), {}).then(() => undefined, (e) => e);
    assert.ok(err instanceof BusinessError, String(err));
    assert.equal(err.code, "odoo.exceptions.MissingError");
    assert.equal(err.field, "res.partner");
    assert.match(err.message, /Record does not exist or has been deleted/);

    const unknown = salesOrder(GLOBEX);
    unknown.lines[1].product = { sku: "NOPE-9" };
    err = await adapter.createOrder(unknown, {}).then(() => undefined, (e) => e);
    assert.equal(err.code, "PRODUCT_NOT_FOUND");
    assert.equal(err.field, "lines[1].product.sku");

    const badDate = { ...salesOrder(GLOBEX), extensions: { odoo: { validityDate: "soon" } } };
    err = await adapter.createOrder(badDate, {}).then(() => undefined, (e) => e);
    assert.equal(err.code, "builtins.ValueError");
    assert.match(err.message, /time data 'soon'/);
    assert.equal((await ordersWith(badDate.externalReference)).length, 0, "one call, one transaction: nothing left");

    err = await adapter.createOrder(salesOrder(), {}).then(() => undefined, (e) => e);
    assert.equal(err.code, "CUSTOMER_NOT_LINKED");
  }));

  test(`${protocol}: invoices: every page oldest first (ties on write_date by id), the odd one rejected, then only the new`, withAdapter(async (adapter) => {
    const all = [];
    for await (const page of adapter.listInvoices(undefined, { pageSize: 1 })) all.push(page);
    assert.ok(all.length >= 2, "more than one page");
    const rejected = all.flatMap((p) => p.rejected);
    assert.ok(rejected.some((r) => /lines\[1\]\.unitPrice has more decimal places/.test(r.error.message)), "the seeded 9.995 invoice is set aside");
    const watermark = all.at(-1).watermark;
    assert.match(watermark, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\|\d+$/);
    const none = [];
    for await (const page of adapter.listInvoices(watermark, { pageSize: 2 })) none.push(page);
    assert.equal(none.length, 0);

    const added = await addInvoices(3); // within one second: the id breaks the tie
    const next = [];
    for await (const page of adapter.listInvoices(watermark, { pageSize: 2 })) next.push(page);
    assert.deepEqual(next.flatMap((p) => p.invoices.map((i) => i.refs[0].id)), added);
    assert.equal(next.length, 2);
    const inv = next[0].invoices[0];
    assert.equal(inv.status, "open");
    assert.equal(inv.lines.length, 1);
    assert.deepEqual(inv.totals.amountDue, { amount: "150", currency: "EUR" });
    await assert.rejects(adapter.listInvoices("2026-11-24T10:00:00Z", {}).next(), /Odoo watermark must be/);
  }));

  test(`${protocol}: get one invoice; a missing one is undefined`, withAdapter(async (adapter) => {
    const [id] = await addInvoices(1);
    const inv = await adapter.getInvoice(id, {});
    assert.equal(inv.refs[0].id, id);
    assert.match(inv.invoiceNumber, /^INV\/\d{4}\/\d+$/);
    assert.equal(await adapter.getInvoice("999999", {}), undefined);
    assert.equal(await adapter.getInvoice("INV/1", {}), undefined);
  }));

  test(`${protocol}: a payment leaves the invoice partially paid, a second pays it; a repeat of a reference finds its payment`, withAdapter(async (adapter) => {
    const inv = await openInvoice();
    const first = bankRef();
    const one = await adapter.recordPayment(payment(inv, first, "100.00"), { correlationId: `pay-${protocol}` });
    assert.equal(one.status, "succeeded");
    const ref = one.refs.find((r) => r.system === "odoo");
    assert.equal(ref.type, "account.payment");
    assert.match(ref.number, /^PBNK1\/2026\/\d{5}$/, "the default bank journal");
    assert.deepEqual([one.extensions.odoo.created, one.extensions.odoo.invoicePaymentState, one.extensions.odoo.invoiceStatus], [true, "partial", "partially-paid"]);
    assert.deepEqual(one.extensions.odoo.invoiceAmountDue, { amount: "50", currency: "EUR" });
    const [stored] = await paymentsWith(first);
    assert.deepEqual([stored.payment_type, stored.partner_type, stored.partner_id, stored.amount, stored.date, stored.state, stored.invoice_ids], ["inbound", "customer", 1, 100, "2026-11-22", "in_process", [Number(inv)]]);
    assert.equal((await adapter.getInvoice(inv, {})).status, "partially-paid");

    const again = await adapter.recordPayment(payment(inv, first, "100.00"), {});
    assert.equal(again.refs.find((r) => r.system === "odoo").id, ref.id);
    assert.equal(again.extensions.odoo.created, false);
    assert.equal((await paymentsWith(first)).length, 1, "no second payment");
    assert.equal((await invoiceRecord(inv)).amount_residual, 50, "paid once");

    const rest = await adapter.recordPayment(payment(inv, bankRef(), "50.00"), {});
    assert.equal(rest.extensions.odoo.invoicePaymentState, "in_payment", "a bank journal's payment waits for its statement");
    const paid = await adapter.getInvoice(inv, {});
    assert.equal(paid.status, "paid");
    assert.deepEqual(paid.totals.amountDue, { amount: "0", currency: "EUR" });
  }));

  test(`${protocol}: the journal by code from the payment, by code or id from the order defaults; one that is no bank or cash journal is refused`, withAdapter(async (adapter) => {
    const inv = await openInvoice();
    const cash = await adapter.recordPayment(payment(inv, bankRef(), "150.00", { extensions: { odoo: { journal: "CSH1" } } }), {});
    assert.match(cash.refs.at(-1).number, /^PCSH1\//);
    assert.deepEqual([cash.extensions.odoo.paymentState, cash.extensions.odoo.invoicePaymentState, cash.extensions.odoo.invoiceStatus], ["paid", "paid", "paid"]);

    for (const [setting, code] of [["CSH1", "CSH1"], ["2", "BNK1"], [3, "CSH1"]]) {
      const configured = createErpAdapter(config(protocol, { orderDefaults: { paymentJournal: setting } }));
      try {
        const got = await configured.recordPayment(payment(await openInvoice(), bankRef(), "10.00"), {});
        assert.match(got.refs.at(-1).number, new RegExp(`^P${code}/`), String(setting));
      } finally {
        await configured.close();
      }
    }
    for (const journal of ["NOPE", "INV", "1"]) {
      const reference = bankRef();
      const err = await adapter.recordPayment(payment(await openInvoice(), reference, "10.00", { extensions: { odoo: { journal } } }), {}).then(() => undefined, (e) => e);
      assert.ok(err instanceof BusinessError, String(err));
      assert.deepEqual([err.code, err.field], ["JOURNAL_NOT_FOUND", "journal_id"], journal);
      assert.equal((await paymentsWith(reference)).length, 0);
    }
  }));

  test(`${protocol}: paying more than is due pays the invoice (the rest is the customer's credit); another currency is converted at Odoo's rate`, withAdapter(async (adapter) => {
    const over = await openInvoice();
    const reference = bankRef();
    const got = await adapter.recordPayment(payment(over, reference, "200.00"), {});
    assert.equal(got.extensions.odoo.invoiceStatus, "paid");
    assert.deepEqual([(await invoiceRecord(over)).amount_residual, (await paymentsWith(reference))[0].amount], [0, 200]);

    const eur = await openInvoice();
    const usd = bankRef();
    const converted = await adapter.recordPayment(payment(eur, usd, "110.00", { currency: "USD" }), {});
    assert.deepEqual(converted.extensions.odoo.invoiceAmountDue, { amount: "50", currency: "EUR" }, "110 USD at 1.1 is 100 EUR");
    assert.equal((await paymentsWith(usd))[0].currency_id, 2);

    const inUsd = await openInvoice({ currency_id: 2 });
    const own = await adapter.recordPayment(payment(inUsd, bankRef(), "150.00", { currency: "USD" }), {});
    assert.equal(own.extensions.odoo.invoiceStatus, "paid");
    assert.match(own.refs.at(-1).number, /^PBNK2\//, "Odoo's default: the bank journal in the invoice's currency");

    const err = await adapter.recordPayment(payment(await openInvoice(), bankRef(), "10.00", { currency: "GBP" }), {}).then(() => undefined, (e) => e);
    assert.ok(err instanceof BusinessError, String(err));
    assert.deepEqual([err.code, err.field], ["CURRENCY_NOT_ACTIVE", "currency_id"]);
  }));

  test(`${protocol}: Odoo refuses a draft invoice and a paid one, naming the field; a reference paying another invoice is refused`, withAdapter(async (adapter) => {
    const draft = (await control.seed(base(), "account.move", { move_type: "out_invoice", partner_id: 1, invoice_line_ids: [[0, 0, { product_id: 2, quantity: 1 }]] })).records[0].id;
    const reference = bankRef();
    let err = await adapter.recordPayment(payment(String(draft), reference), {}).then(() => undefined, (e) => e);
    assert.ok(err instanceof BusinessError, String(err));
    assert.deepEqual([err.code, err.field], ["odoo.exceptions.UserError", "state"]);
    assert.match(err.message, /only register payment for posted journal entries/);
    assert.equal((await paymentsWith(reference)).length, 0);

    const paid = await openInvoice({ payment_state: "paid" });
    err = await adapter.recordPayment(payment(paid, reference), {}).then(() => undefined, (e) => e);
    assert.deepEqual([err.code, err.field], ["odoo.exceptions.UserError", "amount_residual"]);
    assert.match(err.message, /nothing left to pay/);
    assert.equal((await paymentsWith(reference)).length, 0, "one transaction: the wizard's failure leaves nothing");

    const used = bankRef();
    await adapter.recordPayment(payment(await openInvoice(), used, "10.00"), {});
    const other = await openInvoice();
    err = await adapter.recordPayment(payment(other, used, "10.00"), {}).then(() => undefined, (e) => e);
    assert.deepEqual([err.code, err.field], ["DUPLICATE_REFERENCE", "reference"]);
    assert.equal((await paymentsWith(used)).length, 1);
    assert.equal((await invoiceRecord(other)).amount_residual, 150);

    err = await adapter.recordPayment(payment("999999", bankRef()), {}).then(() => undefined, (e) => e);
    assert.deepEqual([err.code, err.field], ["NOT_FOUND", "invoices[0].refs"]);
  }));

  test(`${protocol}: bad payments are refused before any call: no reference, no Odoo invoice, zero or negative amount, two invoices`, withAdapter(async (adapter) => {
    const inv = await openInvoice();
    const requests = async () => Object.values((await control.stats(base())).routes).reduce((n, r) => n + r.requests, 0);
    const before = await requests();
    const refused = async (p) => {
      const err = await adapter.recordPayment(p, {}).then(() => assert.fail("accepted"), (e) => e);
      assert.ok(err instanceof BusinessError, String(err));
      return err;
    };
    let err = await refused({ ...payment(inv, undefined), refs: [] });
    assert.deepEqual([err.code, err.field], ["NO_EXTERNAL_ID", "reference"]);
    err = await refused({ ...payment(inv, bankRef()), invoices: [{ refs: [{ system: "netsuite", id: "77" }], amount: { amount: "1.00", currency: "EUR" } }] });
    assert.deepEqual([err.code, err.field], ["INVOICE_NOT_LINKED", "invoices[0].refs"]);
    for (const amount of ["0.00", "-5.00"]) {
      err = await refused(payment(inv, bankRef(), amount));
      assert.deepEqual([err.code, err.field], ["INVALID_AMOUNT", "amount.amount"], amount);
    }
    const two = payment(inv, bankRef());
    two.invoices.push({ refs: [{ system: "odoo", id: "1" }], amount: { amount: "1.00", currency: "EUR" } });
    err = await refused(two);
    assert.equal(err.code, "UNSUPPORTED");
    assert.equal(await requests(), before, "Odoo was not called");
    assert.equal((await invoiceRecord(inv)).amount_residual, 150);
  }));

  for (const fault of WRITE_FAULTS) {
    test(`${protocol}: ${fault.kind}${fault.mode ? ` (${fault.mode})` : ""} on action_create_payments → exactly one payment, the invoice paid once`, withAdapter(async (adapter) => {
      const inv = await openInvoice();
      const reference = bankRef();
      const before = await faultCount(fault.kind);
      armOn(adapter, "action_create_payments", [fault]);
      const got = await adapter.recordPayment(payment(inv, reference, "100.00"), {});
      assert.ok((await faultCount(fault.kind)) > before, "the fault fired");
      if (fault.kind === "latency") await new Promise((r) => setTimeout(r, 900)); // the late original commits after we answered
      const stored = await paymentsWith(reference);
      assert.equal(stored.length, 1);
      assert.equal(String(stored[0].id), got.refs.at(-1).id);
      assert.equal((await invoiceRecord(inv)).amount_residual, 50);
    }, fault.kind === "latency" ? { connection: { ...FAST, timeoutMs: 600 } } : fault.kind === "outage" ? { connection: { ...FAST, retry: { ...FAST.retry, maxAttempts: 40, baseDelayMs: 50, maxDelayMs: 100 }, breaker: { failureThreshold: 1000, minimumCalls: 1000 } } } : {}));
  }

  test(`${protocol}: a lost answer to the wizard's create: registered once; faults on the look-up are retried`, withAdapter(async (adapter) => {
    const inv = await openInvoice();
    const reference = bankRef();
    armOn(adapter, "create", [{ kind: "lost-response", count: 1 }]);
    await adapter.recordPayment(payment(inv, reference, "100.00"), {});
    assert.equal((await paymentsWith(reference)).length, 1);
    assert.equal((await control.records(base(), "account.payment.register")).filter((w) => w.communication === reference).length, 2, "the lost wizard stays behind, unused");

    const next = bankRef();
    armOn(adapter, "search_read", [{ kind: "malformed", count: 1 }, { kind: "error", status: 503, count: 1 }]);
    await adapter.recordPayment(payment(inv, next, "50.00"), {});
    assert.equal((await paymentsWith(next)).length, 1);
    assert.equal((await invoiceRecord(inv)).payment_state, "in_payment");
  }));

  test(`${protocol}: a 500 or a 429 (Retry-After 60) on action_create_payments: a technical failure, no payment`, withAdapter(async (adapter) => {
    // The 429 last: it holds every later call on this connection for a minute.
    for (const fault of [{ kind: "error", status: 500, count: 1 }, { kind: "throttle", count: 1 }]) {
      const inv = await openInvoice();
      const reference = bankRef();
      armOn(adapter, "action_create_payments", [fault]);
      const err = await adapter.recordPayment(payment(inv, reference), {}).then(() => undefined, (e) => e);
      assert.ok(err instanceof TechnicalError && !(err instanceof BusinessError), String(err));
      assert.equal(err.kind, fault.kind === "throttle" ? "throttled" : "server");
      assert.equal((await paymentsWith(reference)).length, 0);
      assert.equal((await invoiceRecord(inv)).amount_residual, 150);
    }
    assert.ok(adapter.connection.state().throttledUntil > Date.now() + 50000, "every caller holds off");
  }));
}

test("jsonrpc: a wrong password is refused at login, as an auth failure naming the login", async () => {
  const adapter = createErpAdapter(config("jsonrpc", { password: "wrong" }));
  try {
    const err = await adapter.getOrder({ externalReference: "X" }, {}).then(() => undefined, (e) => e);
    assert.ok(err instanceof TechnicalError, String(err));
    assert.equal(err.kind, "auth");
    assert.match(err.message, /refused the login "admin" on database "keelson"/);
  } finally {
    await adapter.close();
  }
});

test("jsonrpc on Odoo 17: the payment's memo is ref and its invoice is read from the reconciliation; exactly once as on 19", async () => {
  const sb17 = await start({ port: 0, serverVersion: 17 });
  const adapter = createErpAdapter({ ...config("jsonrpc"), baseUrl: sb17.url });
  const json2 = createErpAdapter({ ...config("json2"), baseUrl: sb17.url });
  try {
    const seeded = await control.seed(sb17.url, "account.move", { move_type: "out_invoice", partner_id: 1, invoice_line_ids: [[0, 0, { product_id: 2, quantity: 1 }]], state: "posted" });
    const inv = String(seeded.records[0].id);
    const withRef = async (ref) => (await control.records(sb17.url, "account.payment")).filter((p) => p.ref === ref);
    const reference = bankRef();
    const one = await adapter.recordPayment(payment(inv, reference, "100.00"), {});
    assert.deepEqual([one.status, one.extensions.odoo.paymentState, one.extensions.odoo.invoicePaymentState], ["succeeded", "posted", "partial"]);
    const [stored] = await withRef(reference);
    assert.equal(stored.memo, undefined, "Odoo 17 has no memo field");
    assert.deepEqual(stored.reconciled_invoice_ids, [Number(inv)]);
    assert.equal((await adapter.recordPayment(payment(inv, reference, "100.00"), {})).refs.at(-1).id, one.refs.at(-1).id);

    const lost = bankRef();
    const request = adapter.connection.request.bind(adapter.connection);
    adapter.connection.request = async (spec) => {
      if (spec.body?.params?.args?.[4] === "action_create_payments") await control.faults(sb17.url, [{ kind: "lost-response", method: "POST", path: "/jsonrpc", count: 1 }]);
      return request(spec);
    };
    await adapter.recordPayment(payment(inv, lost, "50.00"), {});
    assert.equal((await withRef(lost)).length, 1);
    assert.equal((await control.records(sb17.url, "account.move")).find((m) => String(m.id) === inv).payment_state, "in_payment");

    const err = await json2.getInvoice(inv, {}).then(() => undefined, (e) => e);
    assert.ok(err instanceof TechnicalError && !(err instanceof BusinessError), "no JSON-2 before Odoo 19");
  } finally {
    await Promise.all([adapter.close(), json2.close()]);
    await sb17.close();
  }
});

test("json2: an unknown database is a configuration error, not a rejected record", async () => {
  const adapter = createErpAdapter(config("json2", { database: "nope" }));
  try {
    const err = await adapter.getOrder({ externalReference: "X" }, {}).then(() => undefined, (e) => e);
    assert.ok(err instanceof TechnicalError && !(err instanceof BusinessError), String(err));
    assert.equal(err.kind, "protocol");
    assert.match(err.message, /database 'nope' does not exist/);
  } finally {
    await adapter.close();
  }
});

// ---- on a real Node-RED runtime ---------------------------------------------------------------------------------

function connectionDef(protocol, overrides = {}) {
  return {
    def: { id: "conn", type: "keelson-erp-connection", name: `odoo ${protocol}`, system: "odoo", baseUrl: sandbox.url, odooProtocol: protocol, database: D.database, login: protocol === "jsonrpc" ? D.login : "", orderDefaults: "", maxAttempts: 6, timeoutSeconds: 2, ...overrides },
    creds: { conn: { password: protocol === "json2" ? D.apiKey : D.password } },
  };
}

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

for (const protocol of PROTOCOLS) {
  test(`node-red ${protocol}: ERP order ensures the partner, creates once through a lost answer, rejects with Odoo's exception`, async () => {
    const { def, creds } = connectionDef(protocol);
    await helper.load([connectionNode, orderNode], [
      { id: "tab", type: "tab" }, def,
      { id: "order", type: "keelson-erp-order", z: "tab", connection: "conn", operation: "create", ensureCustomer: true, customer: "customer", customerType: "msg", wires: [["accepted"], ["rejected"]] },
      { id: "accepted", type: "helper", z: "tab" }, { id: "rejected", type: "helper", z: "tab" },
      { id: "catcher", type: "catch", z: "tab", scope: ["order"], wires: [["caught"]] }, { id: "caught", type: "helper", z: "tab" },
    ], creds);
    const outs = ["accepted", "rejected", "caught"];
    const order = salesOrder();
    if (protocol === "json2") await control.faults(base(), [{ kind: "lost-response", method: "POST", path: createPath(protocol), count: 1 }]);
    const ok = await first("order", { payload: order, correlationId: `corr-node-${protocol}` }, outs);
    assert.equal(ok.out, "accepted", JSON.stringify(ok.msg.error));
    assert.equal(ok.msg.erp.customerCreated, true);
    assert.ok(ok.msg.payload.refs.some((r) => r.system === "odoo" && r.number));
    assert.equal(ok.msg.correlationId, `corr-node-${protocol}`);
    assert.equal((await ordersWith(order.externalReference)).length, 1);

    const rejected = await first("order", { payload: salesOrder("99999") }, outs);
    assert.equal(rejected.out, "rejected");
    assert.equal(rejected.msg.error.code, "odoo.exceptions.MissingError");
    assert.equal(rejected.msg.error.field, "res.partner");
    assert.match(rejected.msg.error.message, /res\.partner\(99999,\)/);

    await control.faults(base(), [{ kind: "error", status: 500, method: "POST", path: createPath(protocol) }]);
    const failed = await first("order", { payload: salesOrder(GLOBEX, { byId: true }) }, outs);
    assert.equal(failed.out, "caught");
    assert.match(failed.msg.error.message, /500/);
  });

  test(`node-red ${protocol}: ERP invoice lists by the stored watermark, page by page`, async () => {
    const { def, creds } = connectionDef(protocol);
    await helper.load([storeNode, connectionNode, invoiceNode], [
      { id: "tab", type: "tab" },
      { id: "st", type: "keelson-store", backend: "memory", dir: "", redisUrl: "", prefix: "", postgresUrl: "", schema: "", tablePrefix: "", timeout: 1000 },
      def,
      { id: "inv", type: "keelson-erp-invoice", z: "tab", connection: "conn", operation: "list", store: "st", watermark: `odoo-${protocol}`, pageSize: 2, wires: [["out"], ["rejected"]] },
      { id: "out", type: "helper", z: "tab" }, { id: "rejected", type: "helper", z: "tab" },
      { id: "catcher", type: "catch", z: "tab", scope: ["inv"], wires: [["caught"]] }, { id: "caught", type: "helper", z: "tab" },
      { id: "completer", type: "complete", z: "tab", scope: ["inv"], wires: [["completed"]] }, { id: "completed", type: "helper", z: "tab" },
    ], creds);
    const run = () => new Promise((resolve, reject) => {
      const seen = { out: [], rejected: [], caught: [] };
      const timer = setTimeout(() => reject(new Error("not done within 10 s")), 10000);
      helper.getNode("out").on("input", (m) => seen.out.push(m));
      helper.getNode("rejected").on("input", (m) => seen.rejected.push(m));
      const finish = () => { clearTimeout(timer); setImmediate(() => { for (const id of ["out", "rejected", "caught", "completed"]) helper.getNode(id).removeAllListeners("input"); resolve(seen); }); };
      helper.getNode("caught").on("input", (m) => { seen.caught.push(m); finish(); });
      helper.getNode("completed").once("input", finish);
      helper.getNode("inv").receive({ payload: "" });
    });
    // A malformed answer to a read is repeatable: retried, not fatal.
    await control.faults(base(), [{ kind: "malformed", method: "POST", path: protocol === "json2" ? "/json/2/account.move/search_read" : "/jsonrpc", count: 1 }]);
    const all = await run();
    assert.equal(all.caught.length, 0, JSON.stringify(all.caught[0]?.error));
    assert.ok(all.out.length >= 2);
    assert.ok(all.rejected.length >= 1, "the 9.995 invoice leaves by output 2");
    const added = await addInvoices(3);
    const next = await run();
    assert.deepEqual(next.out.map((m) => m.payload.refs[0].id), added);
  });
}

for (const protocol of PROTOCOLS) {
  test(`node-red ${protocol}: ERP invoice records a payment once per reference; Odoo's refusal and a missing reference leave by output 2`, async () => {
    const pay = await kit.invoiceFlow(connectionDef(protocol, { orderDefaults: JSON.stringify({ paymentJournal: "BNK1" }) }), { operation: "payment" });
    const inv = await openInvoice();
    const reference = bankRef();
    // JSON-2 names each call in its path: the answer to the wizard's action is lost after the payment is made.
    const lost = await faultCount("lost-response");
    if (protocol === "json2") await control.faults(base(), [{ kind: "lost-response", method: "POST", path: "/json/2/account.payment.register/action_create_payments", count: 1 }]);
    const got = await pay({ payload: payment(inv, reference, "150.00"), correlationId: `corr-pay-${protocol}` });
    assert.equal(await faultCount("lost-response"), lost + (protocol === "json2" ? 1 : 0));
    assert.equal(got.out.length, 1, JSON.stringify(got.caught[0]?.error ?? got.rejected[0]?.error));
    const paid = got.out[0];
    assert.equal(paid.correlationId, `corr-pay-${protocol}`);
    assert.equal(paid.payload.status, "succeeded");
    assert.match(paid.payload.refs.find((r) => r.system === "odoo").number, /^PBNK1\//);
    assert.equal(paid.payload.extensions.odoo.invoiceStatus, "paid");
    const again = await pay({ payload: payment(inv, reference, "150.00") });
    assert.equal(again.out[0].payload.refs.at(-1).id, paid.payload.refs.at(-1).id);
    assert.equal((await paymentsWith(reference)).length, 1);
    assert.equal((await invoiceRecord(inv)).payment_state, "in_payment");

    const draft = (await control.seed(base(), "account.move", { move_type: "out_invoice", partner_id: 1, invoice_line_ids: [[0, 0, { product_id: 2, quantity: 1 }]] })).records[0].id;
    const refused = await pay({ payload: payment(String(draft), bankRef()) });
    assert.equal(refused.rejected.length, 1);
    assert.deepEqual([refused.rejected[0].error.code, refused.rejected[0].error.field], ["odoo.exceptions.UserError", "state"]);

    const unnamed = await pay({ payload: { ...payment(await openInvoice(), undefined), refs: [] } });
    assert.deepEqual([unnamed.rejected[0].error.code, unnamed.rejected[0].error.field], ["NO_EXTERNAL_ID", "reference"]);
    // Not a Payment at all: the node's input check reaches Catch, naming the field; nothing is sent to Odoo.
    const invalid = await pay({ payload: { ...payment(inv, bankRef()), amount: { amount: "ten", currency: "EUR" } } });
    assert.equal(invalid.caught.length, 1);
    assert.match(invalid.caught[0].error.message, /msg\.payload is not a valid Payment: .*amount/);
  });
}

// Last: expiring the sandbox's tokens ends its API key for good.
test("expired API key: JSON-2 fails as an auth error (no renewal exists); JSON-RPC with the key re-authenticates once, then fails", async () => {
  const json2 = createErpAdapter(config("json2"));
  const rpcKey = createErpAdapter(config("jsonrpc", { password: D.apiKey }));
  const rpcPassword = createErpAdapter(config("jsonrpc"));
  try {
    await rpcKey.getOrder({ externalReference: "warm-up" }, {});
    await control.expireTokens(base());
    const order = salesOrder(GLOBEX, { byId: true });
    let err = await json2.createOrder(order, {}).then(() => undefined, (e) => e);
    assert.ok(err instanceof TechnicalError, String(err));
    assert.equal(err.kind, "auth");
    assert.match(err.message, /401.*Invalid apikey/);
    err = await rpcKey.createOrder(order, {}).then(() => undefined, (e) => e);
    assert.equal(err.kind, "auth");
    assert.match(err.message, /refused the login/, "the uid was dropped and the login tried again");
    assert.equal((await ordersWith(order.externalReference)).length, 0);
    const { created } = await rpcPassword.createOrder(order, {});
    assert.equal(created, true, "a password login is not affected");
  } finally {
    await Promise.all([json2.close(), rpcKey.close(), rpcPassword.close()]);
  }
});

test("connection config: Odoo's protocol, database and login, missing ones named", () => {
  const { configOf } = require("../../dist/nodes/erp-connection/config.js");
  const def = { id: "c1", name: "", system: "odoo", baseUrl: "https://acme.odoo.com", odooProtocol: "json2", database: "acme", login: "" };
  const json2 = configOf(def, { password: "key" });
  assert.deepEqual([json2.protocol, json2.database, json2.login, json2.password], ["json2", "acme", undefined, "key"]);
  const rpc = configOf({ ...def, odooProtocol: "jsonrpc", login: "api@acme.example" }, { password: "pw" });
  assert.deepEqual([rpc.protocol, rpc.login], ["jsonrpc", "api@acme.example"]);
  const saved = process.env.ERP_CLIENT_ID;
  delete process.env.ERP_CLIENT_ID;
  try {
    assert.throws(() => configOf({ ...def, odooProtocol: "jsonrpc" }, { password: "pw" }), /login \(or ERP_CLIENT_ID\) is missing/);
  } finally {
    if (saved !== undefined) process.env.ERP_CLIENT_ID = saved;
  }
  assert.throws(() => configOf({ ...def, database: "" }, { password: "key" }), /database \(or ERP_DATABASE\) is missing/);
  assert.throws(() => createErpAdapter({ ...config("jsonrpc"), login: undefined }), /JSON-RPC needs the login/);
  assert.throws(() => createErpAdapter({ ...config("json2"), protocol: "xmlrpc" }), /protocol must be json2 or jsonrpc/);
});
