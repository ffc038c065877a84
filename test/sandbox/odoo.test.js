"use strict";
const { test, before, after, beforeEach } = require("node:test");
const assert = require("node:assert/strict");
const { start, ODOO_DEFAULTS: D } = require("../../dist/sandbox/odoo.js");
const { call, control } = require("./helpers.js");

let sb;
const j2 = (model, method, body = {}, headers = {}) => call(sb.url, "POST", `/json/2/${model}/${method}`, { body, headers: { authorization: `bearer ${D.apiKey}`, "x-odoo-database": D.database, ...headers } });
let rpcId = 0;
const rpc = (service, method, args) => call(sb.url, "POST", "/jsonrpc", { body: { jsonrpc: "2.0", method: "call", params: { service, method, args }, id: ++rpcId } });
const kw = (model, method, args, kwargs, secret = D.password) => rpc("object", "execute_kw", [D.database, D.uid, secret, model, method, args, ...(kwargs ? [kwargs] : [])]);
const rpcFailed = (r, name) => {
  assert.equal(r.status, 200, "JSON-RPC errors come with HTTP 200");
  assert.equal(r.json.error.code, 200);
  assert.equal(r.json.error.message, "Odoo Server Error");
  assert.equal(r.json.error.data.name, name);
  assert.match(r.json.error.data.debug, /^Traceback/);
  assert.deepEqual(r.json.error.data.context, {});
};

before(async () => {
  sb = await start();
});
after(() => sb.close());
beforeEach(() => control.reset(sb.url));

test("JSON-2: bearer API key, database header, 401 / 404 bodies, expired key", async () => {
  const ok = await j2("res.partner", "search_read", { domain: [["ref", "=", "C-1001"]], fields: ["name", "ref"] });
  assert.equal(ok.status, 200);
  assert.deepEqual(ok.json, [{ id: 1, name: "Globex GmbH", ref: "C-1001" }]);
  const bad = await j2("res.partner", "search", {}, { authorization: "bearer nope" });
  assert.equal(bad.status, 401);
  assert.deepEqual([bad.json.name, bad.json.message, bad.json.arguments], ["werkzeug.exceptions.Unauthorized", "Invalid apikey", ["Invalid apikey", 401]]);
  assert.equal((await j2("res.partner", "search", {}, { "x-odoo-database": "other" })).status, 404);
  const model = await j2("res.partnerx", "search", {});
  assert.deepEqual([model.status, model.json.name], [404, "werkzeug.exceptions.NotFound"]);
  const method = await j2("res.partner", "frobnicate", {});
  assert.deepEqual([method.status, method.json.name], [404, "builtins.AttributeError"]);
  const priv = await j2("res.partner", "_compute_display_name", { ids: [1] });
  assert.deepEqual([priv.status, priv.json.name], [403, "odoo.exceptions.AccessError"]);
  assert.equal((await call(sb.url, "POST", "/json/2/res.partner/search", { body: "{oops", headers: { authorization: `bearer ${D.apiKey}` } })).status, 400);
  await control.expireTokens(sb.url);
  assert.equal((await j2("res.partner", "search", {})).status, 401);
});

test("JSON-2: partner create / write / read; validation and unknown-field errors; one transaction per call", async () => {
  const c = await j2("res.partner", "create", { vals_list: [{ name: "Acme", is_company: true, email: "a@acme.example" }, { name: "Acme 2" }] });
  assert.equal(c.status, 200);
  assert.equal(c.json.length, 2);
  assert.equal((await j2("res.partner", "write", { ids: [c.json[0]], vals: { phone: "+1 555" } })).json, true);
  const read = await j2("res.partner", "read", { ids: [c.json[0]], fields: ["name", "phone", "parent_id", "vat"] });
  assert.deepEqual(read.json, [{ id: c.json[0], name: "Acme", phone: "+1 555", parent_id: false, vat: false }]);
  const noName = await j2("res.partner", "create", { vals_list: [{ name: "Kept?" }, { email: "x@y" }] });
  assert.deepEqual([noName.status, noName.json.name, noName.json.message], [422, "odoo.exceptions.ValidationError", "Contacts require a name"]);
  assert.equal((await control.records(sb.url, "res.partner")).filter((p) => p.name === "Kept?").length, 0, "the failed call committed nothing");
  const unknown = await j2("res.partner", "create", { vals_list: [{ name: "x", nope: 1 }] });
  assert.equal(unknown.json.name, "builtins.ValueError");
  assert.equal(unknown.json.message, "Invalid field 'nope' on model 'res.partner'");
  const missing = await j2("res.partner", "read", { ids: [999] });
  assert.deepEqual([missing.status, missing.json.name], [404, "odoo.exceptions.MissingError"]);
  assert.equal((await control.stats(sb.url)).created["res.partner"], 2);
});

test("sale.order: order_line commands, client_order_ref, action_confirm, totals, many2one reads, unlink refused", async () => {
  const [gadget] = (await j2("product.product", "search", { domain: [["default_code", "=", "GAD-2"]] })).json;
  const id = (await j2("sale.order", "create", { vals_list: { partner_id: 1, client_order_ref: "PO-1", order_line: [[0, 0, { product_id: gadget, product_uom_qty: 20, price_unit: 10 }], [0, 0, { product_id: gadget, product_uom_qty: 1, discount: 50 }]] } })).json;
  assert.ok(Number.isInteger(id), "a single vals dict returns one id");
  const [so] = (await j2("sale.order", "read", { ids: [id], fields: ["name", "state", "partner_id", "amount_total", "order_line", "invoice_status"] })).json;
  assert.deepEqual([so.state, so.partner_id, so.amount_total, so.order_line.length, so.invoice_status], ["draft", [1, "Globex GmbH"], 275, 2, "no"]);
  assert.match(so.name, /^S\d{5}$/);
  const byRef = await j2("sale.order", "search_read", { domain: [["client_order_ref", "=", "PO-1"]], fields: ["name"] });
  assert.deepEqual(byRef.json.map((o) => o.id), [id]);
  assert.equal((await j2("sale.order", "write", { ids: [id], vals: { order_line: [[1, so.order_line[1], { product_uom_qty: 2 }], [2, so.order_line[0]]] } })).json, true);
  assert.equal((await j2("sale.order", "read", { ids: [id], fields: ["amount_total"] })).json[0].amount_total, 150);
  assert.equal((await j2("sale.order", "action_confirm", { ids: [id] })).json, true);
  const again = await j2("sale.order", "action_confirm", { ids: [id] });
  assert.deepEqual([again.status, again.json.name], [422, "odoo.exceptions.UserError"]);
  const del = await j2("sale.order", "unlink", { ids: [id] });
  assert.match(del.json.message, /You must first cancel it/);
  const noPartner = await j2("sale.order", "create", { vals_list: [{ client_order_ref: "x" }] });
  assert.equal(noPartner.json.name, "odoo.exceptions.ValidationError");
  assert.match(noPartner.json.message, /Field: Customer \(partner_id\)/);
  const badPartner = await j2("sale.order", "create", { vals_list: [{ partner_id: 999 }] });
  assert.equal(badPartner.json.name, "odoo.exceptions.MissingError");
  const lines = await j2("sale.order.line", "search_read", { domain: [["order_id", "=", id]], fields: ["product_id", "price_subtotal"] });
  assert.deepEqual(lines.json.map((l) => [l.product_id[1], l.price_subtotal]), [["Gadget", 150]]);
  assert.equal((await j2("sale.order", "action_post", { ids: [id] })).status, 404, "action_post belongs to account.move");
});

test("account.move out_invoice: create, post, domain on move_type, offset paging with search_count to the end", async () => {
  const inv = (await j2("account.move", "create", { vals_list: [{ move_type: "out_invoice", partner_id: 2, ref: "R-1", invoice_date: "2026-11-01", invoice_line_ids: [[0, 0, { name: "Support", quantity: 2, price_unit: 250 }]] }] })).json[0];
  const draft = (await j2("account.move", "read", { ids: [inv], fields: ["name", "state", "amount_total", "amount_residual"] })).json[0];
  assert.deepEqual([draft.name, draft.state, draft.amount_total], ["/", "draft", 500]);
  assert.equal((await j2("account.move", "action_post", { ids: [inv] })).json, false);
  const posted = (await j2("account.move", "read", { ids: [inv], fields: ["name", "state", "payment_state", "amount_residual"] })).json[0];
  assert.deepEqual([posted.state, posted.payment_state, posted.amount_residual], ["posted", "not_paid", 500]);
  assert.match(posted.name, /^INV\/2026\/\d{5}$/);
  assert.match((await j2("account.move", "unlink", { ids: [inv] })).json.message, /posted once/);
  assert.equal((await j2("account.move", "write", { ids: [inv], vals: { invoice_line_ids: [[5]] } })).json.name, "odoo.exceptions.UserError");
  assert.equal((await j2("account.move", "write", { ids: [inv], vals: { ref: "R-2" } })).json, true);

  await call(sb.url, "POST", "/__sandbox/records/account.move", { body: Array.from({ length: 5 }, (_, i) => ({ move_type: "out_invoice", partner_id: 1, ref: `BULK-${i}`, invoice_line_ids: [[0, 0, { name: "x", quantity: 1, price_unit: i + 1 }]], state: "posted" })) });
  const domain = [["move_type", "=", "out_invoice"], ["state", "=", "posted"]];
  const total = (await j2("account.move", "search_count", { domain })).json;
  assert.equal(total, 8);
  const seen = [];
  for (let offset = 0; offset < total; offset += 3) {
    const page = (await j2("account.move", "search_read", { domain, fields: ["name"], offset, limit: 3, order: "id" })).json;
    assert.ok(page.length <= 3 && page.length > 0);
    seen.push(...page.map((m) => m.id));
  }
  assert.equal(new Set(seen).size, 8);
  assert.deepEqual(seen, [...seen].sort((a, b) => a - b));
  const orDomain = await j2("account.move", "search_count", { domain: ["|", ["ref", "=", "BULK-1"], ["ref", "ilike", "bulk-2"]] });
  assert.equal(orDomain.json, 2);
  const paid = await j2("account.move", "search_read", { domain: [["payment_state", "=", "paid"], ["partner_id.ref", "=", "C-1001"]], fields: ["amount_residual"] });
  assert.deepEqual(paid.json.map((m) => m.amount_residual), [0]);
  assert.equal((await j2("account.move", "search", { domain: [["nope", "=", 1]] })).json.name, "builtins.ValueError");
});

test("JSON-RPC: common.version / authenticate, execute_kw with password or API key, errors with HTTP 200", async () => {
  assert.equal((await rpc("common", "version", [])).json.result.server_serie, "19.0");
  assert.equal((await rpc("common", "authenticate", [D.database, D.login, D.password, {}])).json.result, D.uid);
  assert.equal((await rpc("common", "authenticate", [D.database, D.login, "wrong", {}])).json.result, false);
  assert.deepEqual((await rpc("db", "list", [])).json.result, [D.database]);
  const id = (await kw("res.partner", "create", [{ name: "Via RPC", ref: "C-2000" }])).json.result;
  assert.ok(Number.isInteger(id));
  const found = await kw("res.partner", "search_read", [[["ref", "=", "C-2000"]]], { fields: ["name"], limit: 1 }, D.apiKey);
  assert.deepEqual(found.json.result, [{ id, name: "Via RPC" }]);
  assert.equal((await kw("res.partner", "search_count", [[["is_company", "=", true]]])).json.result, 2);
  const so = (await kw("sale.order", "create", [{ partner_id: id, client_order_ref: "RPC-1", order_line: [[0, 0, { product_id: 1, product_uom_qty: 2 }]] }])).json.result;
  assert.equal((await kw("sale.order", "action_confirm", [[so]])).json.result, true);
  rpcFailed(await kw("res.partner", "create", [{ name: "x" }], undefined, "wrong"), "odoo.exceptions.AccessDenied");
  rpcFailed(await kw("res.partner", "create", [{ email: "x@y" }]), "odoo.exceptions.ValidationError");
  rpcFailed(await kw("res.nothing", "search", [[]]), "odoo.exceptions.UserError");
  rpcFailed(await kw("res.partner", "search", [[], 0, 1, "name", "extra"]), "builtins.TypeError");
  await control.expireTokens(sb.url);
  rpcFailed(await kw("res.partner", "search", [[]], undefined, D.apiKey), "odoo.exceptions.AccessDenied");
  assert.equal((await kw("res.partner", "search", [[]])).json.result.length, 3, "passwords do not expire");
});

test("web session: authenticate sets session_id; call_kw; expired session answers code 100", async () => {
  const login = await call(sb.url, "POST", "/web/session/authenticate", { body: { jsonrpc: "2.0", method: "call", params: { db: D.database, login: D.login, password: D.password }, id: 1 } });
  assert.equal(login.json.result.uid, D.uid);
  const cookie = login.headers.getSetCookie()[0].split(";")[0];
  assert.match(cookie, /^session_id=\w+$/);
  const callKw = () => call(sb.url, "POST", "/web/dataset/call_kw/res.partner/search_read", { body: { jsonrpc: "2.0", method: "call", params: { model: "res.partner", method: "search_read", args: [[["ref", "=", "C-1001"]]], kwargs: { fields: ["name"] } }, id: 2 }, headers: { cookie } });
  assert.deepEqual((await callKw()).json.result, [{ id: 1, name: "Globex GmbH" }]);
  const denied = await call(sb.url, "POST", "/web/session/authenticate", { body: { jsonrpc: "2.0", params: { db: D.database, login: D.login, password: "x" } } });
  assert.equal(denied.json.error.data.name, "odoo.exceptions.AccessDenied");
  await control.expireTokens(sb.url);
  const expired = await callKw();
  assert.equal(expired.status, 200);
  assert.deepEqual([expired.json.error.code, expired.json.error.message, expired.json.error.data.name], [100, "Odoo Session Expired", "odoo.http.SessionExpiredException"]);
});

test("no rate limit by default; a lowered requestsPerMinute answers 429; injected faults per transport", async () => {
  for (let i = 0; i < 5; i++) assert.equal((await j2("res.partner", "search_count", {})).status, 200);
  await control.limits(sb.url, { requestsPerMinute: 2 });
  await j2("res.partner", "search_count", {});
  await j2("res.partner", "search_count", {});
  const t = await j2("res.partner", "search_count", {});
  assert.deepEqual([t.status, t.json.name], [429, "werkzeug.exceptions.TooManyRequests"]);
  assert.equal((await rpc("common", "version", [])).status, 429);
  await control.limits(sb.url, { requestsPerMinute: 0 });
  await control.faults(sb.url, [{ kind: "error", count: 2 }]);
  const e2 = await j2("res.partner", "search_count", {});
  assert.deepEqual([e2.status, e2.json.name], [500, "builtins.Exception"]);
  const e1 = await rpc("common", "version", []);
  assert.equal(e1.status, 500);
  assert.equal(e1.json.error.message, "Odoo Server Error");
  const stats = await control.stats(sb.url);
  assert.deepEqual(stats.routes["POST /json/2/:model/:method"].statuses, { 200: 7, 429: 1, 500: 1 });
  assert.equal(stats.faults.error, 2);
  const unrouted = await call(sb.url, "POST", "/xmlrpc/2/object", { body: "<methodCall/>" });
  assert.equal(unrouted.status, 404);
});

test("Register Payment wizard (JSON-2): defaults from the invoice, partial then paid, a second run pays again, Odoo's refusals as 422", async () => {
  const inv = (await j2("account.move", "create", { vals_list: [{ move_type: "out_invoice", partner_id: 1, invoice_line_ids: [[0, 0, { name: "Support", quantity: 1, price_unit: 300 }]] }] })).json[0];
  const ctx = { active_model: "account.move", active_ids: [inv] };
  const draft = await j2("account.payment.register", "create", { vals_list: [{ amount: 100 }], context: ctx });
  assert.deepEqual([draft.status, draft.json.name, draft.json.message], [422, "odoo.exceptions.UserError", "You can only register payment for posted journal entries."]);
  await j2("account.move", "action_post", { ids: [inv] });
  const noContext = await j2("account.payment.register", "create", { vals_list: [{ amount: 100 }] });
  assert.match(noContext.json.message, /should only be called on account\.move or account\.move\.line records/);

  const [wizard] = (await j2("account.payment.register", "create", { vals_list: [{}], context: ctx })).json;
  const defaults = (await j2("account.payment.register", "read", { ids: [wizard], fields: ["amount", "communication", "journal_id", "currency_id", "partner_id", "payment_type", "partner_type"] })).json[0];
  assert.deepEqual(defaults.amount, 300, "the residual");
  assert.match(defaults.communication, /^INV\/\d{4}\/\d{5}$/, "the invoice's number");
  assert.deepEqual([defaults.journal_id[1], defaults.currency_id[1], defaults.partner_id[0], defaults.payment_type, defaults.partner_type], ["Bank", "EUR", 1, "inbound", "customer"]);

  const [partial] = (await j2("account.payment.register", "create", { vals_list: [{ amount: 100, communication: "BANK-1", payment_date: "2026-11-22" }], context: ctx })).json;
  const action = (await j2("account.payment.register", "action_create_payments", { ids: [partial] })).json;
  assert.deepEqual([action.type, action.res_model, action.view_mode], ["ir.actions.act_window", "account.payment", "form"]);
  const payment = (await j2("account.payment", "read", { ids: [action.res_id], fields: ["name", "memo", "state", "amount", "date", "journal_id", "partner_id", "invoice_ids"] })).json[0];
  assert.deepEqual([payment.memo, payment.state, payment.amount, payment.date, payment.partner_id[0], payment.invoice_ids], ["BANK-1", "in_process", 100, "2026-11-22", 1, [inv]]);
  assert.match(payment.name, /^PBNK1\/2026\/\d{5}$/);
  let move = (await j2("account.move", "read", { ids: [inv], fields: ["amount_residual", "payment_state", "matched_payment_ids"] })).json[0];
  assert.deepEqual([move.amount_residual, move.payment_state, move.matched_payment_ids], [200, "partial", [action.res_id]]);
  assert.deepEqual((await j2("account.payment", "search", { domain: [["invoice_ids", "in", [inv]]] })).json, [action.res_id]);

  // The wizard does not remember it ran: a second call is a second payment.
  const twice = (await j2("account.payment.register", "action_create_payments", { ids: [partial], context: { dont_redirect_to_payments: true } })).json;
  assert.equal(twice, true);
  assert.equal((await j2("account.payment", "search_count", { domain: [["memo", "=", "BANK-1"]] })).json, 2);
  move = (await j2("account.move", "read", { ids: [inv], fields: ["amount_residual", "payment_state"] })).json[0];
  assert.deepEqual([move.amount_residual, move.payment_state], [100, "partial"]);

  const [cash] = (await j2("account.payment.register", "create", { vals_list: [{ journal_id: 3, communication: "CASH-1" }], context: ctx })).json;
  await j2("account.payment.register", "action_create_payments", { ids: [cash] });
  move = (await j2("account.move", "read", { ids: [inv], fields: ["amount_residual", "payment_state"] })).json[0];
  assert.deepEqual([move.amount_residual, move.payment_state], [0, "paid"], "a cash journal pays at once");
  const nothing = await j2("account.payment.register", "create", { vals_list: [{ amount: 1 }], context: ctx });
  assert.deepEqual([nothing.status, nothing.json.name], [422, "odoo.exceptions.UserError"]);
  assert.match(nothing.json.message, /nothing left to pay/);
});

test("Register Payment wizard (JSON-RPC): context in kwargs, another currency at its rate, over-payment, journals and amounts refused with HTTP 200", async () => {
  const seeded = await call(sb.url, "POST", "/__sandbox/records/account.move", { body: { move_type: "out_invoice", partner_id: 1, invoice_line_ids: [[0, 0, { name: "x", quantity: 1, price_unit: 200 }]], state: "posted" } });
  const inv = seeded.json.records[0].id;
  const context = { active_model: "account.move", active_ids: [inv] };
  const register = async (vals) => {
    const created = await kw("account.payment.register", "create", [[vals]], { context });
    if (created.json.error) return created;
    return kw("account.payment.register", "action_create_payments", [created.json.result]);
  };
  const usd = await register({ amount: 110, currency_id: 2, communication: "USD-1" });
  assert.equal(usd.json.result.res_model, "account.payment");
  let move = (await kw("account.move", "read", [[inv], ["amount_residual", "payment_state"]])).json.result[0];
  assert.deepEqual([move.amount_residual, move.payment_state], [100, "partial"], "110 USD at 1.1 is 100 EUR");

  rpcFailed(await register({ amount: 10, journal_id: 1 }), "odoo.exceptions.ValidationError");
  rpcFailed(await register({ amount: -5 }), "odoo.exceptions.ValidationError");
  rpcFailed(await register({ amount: 0 }), "odoo.exceptions.UserError");
  rpcFailed(await register({ amount: 10, journal_id: 99 }), "odoo.exceptions.MissingError");
  assert.equal((await kw("account.payment", "search_count", [[["partner_id", "=", 1]]])).json.result, 1, "each refusal rolled back");

  assert.equal((await register({ amount: 250, communication: "OVER-1" })).json.result.res_model, "account.payment");
  move = (await kw("account.move", "read", [[inv], ["amount_residual", "payment_state"]])).json.result[0];
  assert.deepEqual([move.amount_residual, move.payment_state], [0, "in_payment"], "the rest is the customer's credit");
  const over = (await kw("account.payment", "search_read", [[["memo", "=", "OVER-1"]]], { fields: ["amount", "state"] })).json.result;
  assert.deepEqual(over.map((p) => [p.amount, p.state]), [[250, "in_process"]]);
  assert.equal((await kw("res.currency", "search_count", [[["name", "=", "GBP"]]])).json.result, 0, "an inactive currency is not found");

  // A payment created on its own is posted but pays no invoice: reconciling it is the wizard's (or the user's) work.
  const direct = (await kw("account.payment", "create", [{ payment_type: "inbound", partner_id: 1, amount: 40, journal_id: 2, memo: "DIRECT-1" }])).json.result;
  assert.equal((await kw("account.payment", "action_post", [[direct]])).json.result, false);
  const [posted] = (await kw("account.payment", "read", [[direct], ["name", "state", "invoice_ids", "currency_id"]])).json.result;
  assert.deepEqual([posted.state, posted.invoice_ids, posted.currency_id[1]], ["in_process", [], "EUR"]);
  assert.match(posted.name, /^PBNK1\//);
  rpcFailed(await kw("account.payment", "action_post", [[direct]]), "odoo.exceptions.UserError");
  rpcFailed(await kw("account.payment", "create", [{ payment_type: "inbound", partner_id: 1, amount: -1, journal_id: 2 }]), "odoo.exceptions.ValidationError");
});

test("serverVersion 17: no JSON-2; account.payment keeps the memo in ref, states posted", async () => {
  const old = await start({ serverVersion: 17 });
  try {
    const okv = (await call(old.url, "POST", "/jsonrpc", { body: { jsonrpc: "2.0", method: "call", params: { service: "common", method: "version", args: [] }, id: 1 } })).json.result;
    assert.equal(okv.server_serie, "17.0");
    const json2 = await call(old.url, "POST", "/json/2/res.partner/search", { body: {}, headers: { authorization: `bearer ${D.apiKey}` } });
    assert.equal(json2.status, 404);
    const kw17 = (model, method, args, kwargs) => call(old.url, "POST", "/jsonrpc", { body: { jsonrpc: "2.0", method: "call", params: { service: "object", method: "execute_kw", args: [D.database, D.uid, D.password, model, method, args, ...(kwargs ? [kwargs] : [])] }, id: 2 } });
    const fields = (await kw17("account.payment", "fields_get", [], { attributes: ["type"] })).json.result;
    assert.ok("ref" in fields && !("memo" in fields) && !("invoice_ids" in fields) && "reconciled_invoice_ids" in fields);
    const wizard = (await kw17("account.payment.register", "create", [[{ amount: 50, communication: "OLD-1" }]], { context: { active_model: "account.move", active_ids: [1] } })).json.result;
    const paymentId = (await kw17("account.payment.register", "action_create_payments", [wizard])).json.result.res_id;
    const [p] = (await kw17("account.payment", "read", [[paymentId], ["ref", "state", "reconciled_invoice_ids"]])).json.result;
    assert.deepEqual([p.ref, p.state, p.reconciled_invoice_ids], ["OLD-1", "posted", [1]]);
  } finally {
    await old.close();
  }
});
