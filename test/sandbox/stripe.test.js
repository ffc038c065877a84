"use strict";
const { test, before, after, beforeEach } = require("node:test");
const assert = require("node:assert/strict");
const { start, parseBracketParams } = require("../../dist/sandbox/stripe.js");
const { call, control } = require("./helpers.js");

let sb;
const KEY = "sk_test_abc123";
const auth = { authorization: `Bearer ${KEY}` };
const st = (method, path, form, headers = {}) => call(sb.url, method, path, { form, headers: { ...auth, ...headers } });

before(async () => {
  sb = await start({ secretKeys: [KEY] });
});
after(() => sb.close());
beforeEach(() => control.reset(sb.url));

test("bracket notation parsing", () => {
  const p = parseBracketParams(new URLSearchParams("metadata[a]=1&metadata[b]=2&expand[]=customer&expand[]=x&lines[0][amount]=5&lines[1][amount]=6&plain=v"));
  assert.deepEqual(p, { metadata: { a: "1", b: "2" }, expand: ["customer", "x"], lines: [{ amount: "5" }, { amount: "6" }], plain: "v" });
});

test("auth: Bearer and Basic secret key; missing and invalid keys", async () => {
  const none = await call(sb.url, "GET", "/v1/invoices");
  assert.equal(none.status, 401);
  assert.equal(none.json.error.type, "invalid_request_error");
  const bad = await call(sb.url, "GET", "/v1/invoices", { headers: { authorization: "Bearer sk_test_wrongwrong" } });
  assert.equal(bad.status, 401);
  assert.match(bad.json.error.message, /^Invalid API Key provided: sk_test_/);
  assert.doesNotMatch(bad.json.error.message, /wrongwrong/, "the key is masked");
  const basic = await call(sb.url, "GET", "/v1/invoices", { headers: { authorization: "Basic " + Buffer.from(`${KEY}:`).toString("base64") } });
  assert.equal(basic.status, 200);
  assert.match(basic.headers.get("request-id"), /^req_/);
});

test("customer, invoice item, invoice: create returns 200; finalize, pay; errors", async () => {
  const c = await st("POST", "/v1/customers", { name: "Hooli", email: "ap@hooli.example", "metadata[erp_customer_id]": "C-9" });
  assert.equal(c.status, 200);
  assert.match(c.json.id, /^cus_/);
  assert.deepEqual(c.json.metadata, { erp_customer_id: "C-9" });
  const noCustomer = await st("POST", "/v1/invoices", { collection_method: "send_invoice" });
  assert.equal(noCustomer.status, 400);
  assert.deepEqual([noCustomer.json.error.code, noCustomer.json.error.param, noCustomer.json.error.message], ["parameter_missing", "customer", "Missing required param: customer."]);
  assert.match(noCustomer.json.error.doc_url, /parameter-missing$/);
  assert.equal((await st("POST", "/v1/invoices", { customer: c.json.id, bogus: "1" })).json.error.code, "parameter_unknown");
  assert.equal((await st("POST", "/v1/invoices", { customer: "cus_nope" })).status, 404);
  const inv = await st("POST", "/v1/invoices", { customer: c.json.id, collection_method: "send_invoice", days_until_due: "30", auto_advance: "false", currency: "usd" });
  assert.equal(inv.status, 200);
  assert.equal(inv.json.status, "draft");
  assert.equal(inv.json.object, "invoice");
  const item = await st("POST", "/v1/invoiceitems", { customer: c.json.id, invoice: inv.json.id, amount: "1250", currency: "usd", description: "Widget" });
  assert.equal(item.status, 200);
  const fin = await st("POST", `/v1/invoices/${inv.json.id}/finalize`);
  assert.equal(fin.json.status, "open");
  assert.equal(fin.json.amount_due, 1250);
  assert.match(fin.json.number, /^[0-9A-F]{8}-0001$/);
  assert.equal((await st("POST", "/v1/invoiceitems", { customer: c.json.id, invoice: inv.json.id, amount: "1", currency: "usd" })).json.error.code, "invoice_not_editable");
  const paid = await st("POST", `/v1/invoices/${inv.json.id}/pay`, { paid_out_of_band: "true" });
  assert.equal(paid.json.status, "paid");
  assert.equal(paid.json.amount_remaining, 0);
  assert.equal(paid.json.paid_out_of_band, true);
  assert.equal((await st("POST", `/v1/invoices/${inv.json.id}/pay`)).status, 400);
  const got = await st("GET", `/v1/invoices/${inv.json.id}?expand[]=customer`);
  assert.equal(got.json.customer.name, "Hooli");
});

test("declined card → 402 card_error; void only open invoices", async () => {
  const c = await st("POST", "/v1/customers", { name: "Broke", "metadata[sandbox_card]": "declined" });
  const inv = await st("POST", "/v1/invoices", { customer: c.json.id });
  await st("POST", "/v1/invoiceitems", { customer: c.json.id, invoice: inv.json.id, amount: "500", currency: "usd" });
  const pay = await st("POST", `/v1/invoices/${inv.json.id}/pay`);
  assert.equal(pay.status, 402);
  assert.deepEqual([pay.json.error.type, pay.json.error.code], ["card_error", "card_declined"]);
  const v = await st("POST", `/v1/invoices/${inv.json.id}/void`);
  assert.equal(v.json.status, "void");
  assert.equal((await st("POST", `/v1/invoices/${inv.json.id}/void`)).status, 400);
});

test("list with starting_after to the end, filters, ending_before", async () => {
  const c = (await st("GET", "/v1/customers?email=ap@globex.example")).json.data[0];
  for (let i = 0; i < 5; i++) await st("POST", "/v1/invoices", { customer: c.id, "metadata[n]": String(i) });
  const ids = [];
  let page = await st("GET", `/v1/invoices?customer=${c.id}&limit=3`);
  let pages = 1;
  for (;;) {
    assert.equal(page.json.object, "list");
    assert.equal(page.json.url, "/v1/invoices");
    ids.push(...page.json.data.map((i) => i.id));
    if (!page.json.has_more) break;
    page = await st("GET", `/v1/invoices?customer=${c.id}&limit=3&starting_after=${ids[ids.length - 1]}`);
    pages++;
  }
  assert.equal(pages, 3);
  assert.equal(ids.length, 7);
  assert.equal(new Set(ids).size, 7);
  assert.equal(page.json.data[page.json.data.length - 1].metadata.erp_invoice_number, "INV1001", "oldest last");
  const back = await st("GET", `/v1/invoices?customer=${c.id}&limit=2&ending_before=${ids[3]}`);
  assert.deepEqual(back.json.data.map((i) => i.id), [ids[1], ids[2]]);
  const open = await st("GET", "/v1/invoices?status=open");
  assert.equal(open.json.data.length, 1);
  assert.equal((await st("GET", "/v1/invoices?limit=500")).status, 400);
  assert.equal((await st("GET", "/v1/invoices?starting_after=in_nope")).status, 404);
  const found = await st("GET", "/v1/invoices/search?query=" + encodeURIComponent("status:'paid' AND metadata['erp_invoice_number']:'INV1002'"));
  assert.equal(found.json.object, "search_result");
  assert.equal(found.json.data.length, 1);
});

test("Idempotency-Key: replay with Idempotent-Replayed, different params → 400, no double create", async () => {
  const c = (await st("GET", "/v1/customers?limit=1")).json.data[0];
  const key = { "idempotency-key": "k-1" };
  const a = await st("POST", "/v1/invoices", { customer: c.id }, key);
  const b = await st("POST", "/v1/invoices", { customer: c.id }, key);
  assert.equal(b.status, 200);
  assert.equal(b.json.id, a.json.id);
  assert.equal(b.headers.get("idempotent-replayed"), "true");
  assert.equal(a.headers.get("idempotent-replayed"), null);
  const diff = await st("POST", "/v1/invoices", { customer: c.id, description: "other" }, key);
  assert.equal(diff.status, 400);
  assert.equal(diff.json.error.type, "idempotency_error");
  assert.equal((await st("POST", "/v1/customers", {}, key)).status, 400, "same key on another endpoint is different params");
  const stats = await control.stats(sb.url);
  assert.equal(stats.created.invoices, 1);
  const failed = await st("POST", "/v1/invoices", {}, { "idempotency-key": "k-2" });
  assert.equal(failed.status, 400);
  assert.equal((await st("POST", "/v1/invoices", { customer: c.id }, { "idempotency-key": "k-2" })).status, 200, "a validation failure does not burn the key");
});

test("Idempotency-Key: a concurrent twin gets 409; a 500 is replayed", async () => {
  await control.limits(sb.url, { executionMs: 80 });
  const c = (await st("GET", "/v1/customers?limit=1")).json.data[0];
  const key = { "idempotency-key": "k-conc" };
  const [x, y] = await Promise.all([st("POST", "/v1/invoices", { customer: c.id }, key), new Promise((r) => setTimeout(r, 20)).then(() => st("POST", "/v1/invoices", { customer: c.id }, key))]);
  assert.equal(x.status, 200);
  assert.equal(y.status, 409);
  assert.equal(y.json.error.type, "idempotency_error");
  assert.equal(y.headers.get("stripe-should-retry"), "true");
});

test("rate limit: 429 rate_limit with Stripe-Should-Retry; injected faults", async () => {
  await control.limits(sb.url, { requestsPerSecond: 2 });
  const r = [];
  for (let i = 0; i < 3; i++) r.push(await st("GET", "/v1/invoices"));
  assert.deepEqual(r.map((x) => x.status), [200, 200, 429]);
  assert.equal(r[2].json.error.code, "rate_limit");
  assert.equal(r[2].headers.get("stripe-should-retry"), "true");
  await control.reset(sb.url);
  await control.faults(sb.url, [{ kind: "error", count: 1 }, { kind: "lost-response", count: 1, method: "POST" }]);
  const e = await st("GET", "/v1/invoices");
  assert.equal(e.status, 500);
  assert.equal(e.json.error.type, "api_error");
  assert.equal(e.headers.get("stripe-should-retry"), "true");
  const c = (await st("GET", "/v1/customers?limit=1")).json.data[0];
  await assert.rejects(st("POST", "/v1/invoices", { customer: c.id }, { "idempotency-key": "lost" }));
  const retry = await st("POST", "/v1/invoices", { customer: c.id }, { "idempotency-key": "lost" });
  assert.equal(retry.headers.get("idempotent-replayed"), "true", "the retry after a lost response replays the committed result");
  assert.equal((await control.stats(sb.url)).created.invoices, 1);
});
