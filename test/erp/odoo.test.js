"use strict";
// The Odoo adapter against the Odoo sandbox, started in-process, over both transports (JSON-2 with an API key,
// JSON-RPC execute_kw with uid and password): partners once by ref, orders exactly once by client_order_ref through
// every fault the sandbox injects, Odoo's exceptions as business rejections or technical failures, invoices by
// (write_date, id) watermark page by page; and the ERP order and ERP invoice nodes on a real Node-RED runtime.
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

const PROTOCOLS = ["json2", "jsonrpc"];
let sb;
const base = () => sb.url;
const GADGET = "2"; // product.product ids in the sandbox's seed
const SUPPORT = "3";
const GLOBEX = "1";

function config(protocol, overrides = {}) {
  return { system: "odoo", name: `odoo ${protocol}`, baseUrl: sb.url, protocol, database: D.database, login: D.login, password: protocol === "json2" ? D.apiKey : D.password, connection: FAST, ...overrides };
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

async function addInvoices(n) {
  const ids = [];
  for (let i = 0; i < n; i++) {
    const r = await control.seed(base(), "account.move", { move_type: "out_invoice", partner_id: 1, ref: `INV-${tag()}`, invoice_line_ids: [[0, 0, { product_id: 2, quantity: i + 1 }]], state: "posted" });
    ids.push(String((r.records ?? [r])[0].id));
  }
  return ids;
}

test.before(async () => {
  sb = await start({ port: 0 });
  await helper.startServer();
});
test.after(async () => {
  await helper.stopServer();
  await sb.close();
});
test.afterEach(async () => {
  await helper.unload();
  await control.clearFaults(base());
});

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

  for (const fault of [
    { kind: "lost-response", count: 1 },
    { kind: "malformed", count: 1 },
    { kind: "html-502", count: 1 },
    { kind: "error", status: 503, count: 2 },
    { kind: "outage", durationMs: 500, mode: "reset" },
    { kind: "outage", durationMs: 500, mode: "503" },
    { kind: "latency", ms: 900, count: 1 }, // 1.5 × the timeout: the look-up after it (at 2 × the timeout) must come after the commit
  ]) {
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

  test(`${protocol}: get one invoice; a missing one is undefined; record payment is not offered`, withAdapter(async (adapter) => {
    const [id] = await addInvoices(1);
    const inv = await adapter.getInvoice(id, {});
    assert.equal(inv.refs[0].id, id);
    assert.match(inv.invoiceNumber, /^INV\/\d{4}\/\d+$/);
    assert.equal(await adapter.getInvoice("999999", {}), undefined);
    assert.equal(await adapter.getInvoice("INV/1", {}), undefined);
    await assert.rejects(adapter.recordPayment({ refs: [], amount: { amount: "1.00", currency: "EUR" }, paymentDate: "2026-11-22" }, {}), /record payment" is not offered/);
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
    def: { id: "conn", type: "keelson-erp-connection", name: `odoo ${protocol}`, system: "odoo", baseUrl: sb.url, odooProtocol: protocol, database: D.database, login: protocol === "jsonrpc" ? D.login : "", orderDefaults: "", maxAttempts: 6, timeoutSeconds: 2, ...overrides },
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
