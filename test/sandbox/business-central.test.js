"use strict";
const { test, before, after, beforeEach } = require("node:test");
const assert = require("node:assert/strict");
const { start, BUSINESS_CENTRAL_DEFAULTS: D } = require("../../dist/sandbox/business-central.js");
const { call, control } = require("./helpers.js");

const API = `/v2.0/${D.tenantId}/${D.environment}/api/v2.0`;
const CO = `${API}/companies(${D.companyId})`;
let sb;
let auth;
const bc = (method, path, body, headers = {}) => call(sb.url, method, path.startsWith("/") ? path : `${CO}/${path}`, { body, headers: { ...auth, accept: "application/json", ...headers } });
const token = (form = {}, tenant = D.tenantId) => call(sb.url, "POST", `/${tenant}/oauth2/v2.0/token`, { form: { grant_type: "client_credentials", client_id: D.clientId, client_secret: D.clientSecret, scope: D.scope, ...form } });
const correlated = (r, code) => {
  assert.equal(r.json.error.code, code);
  assert.match(r.json.error.message, /CorrelationId: {1,2}[0-9a-f-]{36}\.$/);
};

before(async () => {
  sb = await start();
});
after(() => sb.close());
beforeEach(async () => {
  await control.reset(sb.url);
  auth = { authorization: `Bearer ${(await token()).json.access_token}` };
});

test("Entra token on the same host; refusals; expired and missing tokens get 401 Authentication_InvalidCredentials", async () => {
  const ok = await token();
  assert.equal(ok.status, 200);
  assert.equal(ok.json.token_type, "Bearer");
  assert.equal(ok.json.expires_in, 3599);
  assert.equal(ok.json.access_token.split(".").length, 3);
  assert.deepEqual([(await token({ client_secret: "x" })).status, (await token({ client_secret: "x" })).json.error], [401, "invalid_client"]);
  assert.equal((await token({ scope: "https://api.businesscentral.dynamics.com/other" })).json.error, "invalid_scope");
  assert.equal((await token({}, "other-tenant")).json.error, "invalid_request");
  const none = await call(sb.url, "GET", `${CO}/customers`);
  assert.equal(none.status, 401);
  correlated(none, "Authentication_InvalidCredentials");
  assert.match(none.headers.get("www-authenticate"), /^Bearer /);
  assert.equal((await bc("GET", "customers")).status, 200);
  await control.expireTokens(sb.url);
  assert.equal((await bc("GET", "customers")).status, 401);
});

test("companies, wrong environment and company, unknown entity set", async () => {
  const cos = await bc("GET", `${API}/companies`);
  assert.equal(cos.status, 200);
  assert.equal(cos.json.value[0].id, D.companyId);
  assert.equal((await bc("GET", `${API}/companies(${D.companyId})`)).json.name, "CRONUS International Ltd.");
  assert.equal((await bc("GET", `/v2.0/${D.tenantId}/sandbox/api/v2.0/companies`)).status, 404);
  const co = await bc("GET", `${API}/companies(00000000-0000-0000-0000-000000000001)/customers`);
  assert.equal(co.status, 404);
  correlated(co, "Internal_CompanyNotFound");
  const set = await bc("GET", "customerz");
  assert.equal(set.status, 404);
  correlated(set, "BadRequest_ResourceNotFound");
});

test("customers: create 201 with @odata.etag and number, duplicate number, unknown property, length, currency", async () => {
  const r = await bc("POST", "customers", { displayName: "Adatum", type: "Company", currencyCode: "EUR" });
  assert.equal(r.status, 201);
  assert.match(r.json["@odata.etag"], /^W\/"[A-Za-z0-9+/=]+"$/);
  assert.match(r.json.id, /^[0-9a-f-]{36}$/);
  assert.match(r.json.number, /^C\d{5}$/);
  assert.equal(r.headers.get("odata-version"), "4.0");
  const dup = await bc("POST", "customers", { number: "C-1001", displayName: "Again" });
  assert.equal(dup.status, 400);
  correlated(dup, "Internal_EntityWithSameKeyExists");
  assert.match(dup.json.error.message, /No\.='C-1001'/);
  const unknown = await bc("POST", "customers", { displayName: "x", Nope: 1 });
  assert.equal(unknown.status, 400);
  correlated(unknown, "BadRequest");
  assert.match(unknown.json.error.message, /'Nope' does not exist on type 'Microsoft\.NAV\.customer'/);
  correlated(await bc("POST", "customers", { displayName: "x".repeat(101) }), "Application_StringExceededLength");
  correlated(await bc("POST", "customers", { displayName: "x", currencyCode: "XYZ" }), "Application_FieldValidationException");
  correlated(await bc("POST", "customers", { displayName: "x", balanceDue: 5 }), "BadRequest");
  assert.equal((await bc("POST", "customers", "{not json")).status, 400);
  assert.equal((await control.stats(sb.url)).created.customers, 1);
});

test("PATCH / DELETE need If-Match; a stale etag is 412 Request_EntityChanged", async () => {
  const c = (await bc("GET", "customers?$filter=number eq 'C-1001'")).json.value[0];
  const none = await bc("PATCH", `customers(${c.id})`, { phoneNumber: "1" });
  assert.equal(none.status, 428);
  const ok = await bc("PATCH", `customers(${c.id})`, { phoneNumber: "+49 30 1" }, { "if-match": c["@odata.etag"] });
  assert.equal(ok.status, 200);
  assert.equal(ok.json.phoneNumber, "+49 30 1");
  assert.notEqual(ok.json["@odata.etag"], c["@odata.etag"]);
  const stale = await bc("PATCH", `customers(${c.id})`, { phoneNumber: "2" }, { "if-match": c["@odata.etag"] });
  assert.equal(stale.status, 412);
  correlated(stale, "Request_EntityChanged");
  assert.equal((await bc("PATCH", `customers(${c.id})`, { phoneNumber: "3" }, { "if-match": "*" })).status, 200);
  const fresh = await bc("POST", "customers", { displayName: "Temp" });
  assert.equal((await bc("DELETE", `customers(${fresh.json.id})`, undefined, { "if-match": 'W/"x"' })).status, 412);
  assert.equal((await bc("DELETE", `customers(${fresh.json.id})`, undefined, { "if-match": fresh.json["@odata.etag"] })).status, 204);
  const gone = await bc("GET", `customers(${fresh.json.id})`);
  assert.equal(gone.status, 404);
  correlated(gone, "Internal_RecordNotFound");
});

test("salesOrders: deep insert of lines, totals, externalDocumentNumber filter, nested and top-level lines", async () => {
  const r = await bc("POST", "salesOrders?$expand=salesOrderLines", { customerNumber: "C-1001", externalDocumentNumber: "PO-900", orderDate: "2026-11-20", salesOrderLines: [{ lineType: "Item", lineObjectNumber: "GAD-2", quantity: 2 }, { lineObjectNumber: "WID-1", quantity: 10, unitPrice: 10, discountPercent: 10 }] });
  assert.equal(r.status, 201);
  assert.equal(r.json.status, "Draft");
  assert.equal(r.json.customerName, "Globex GmbH");
  assert.equal(r.json.currencyCode, "EUR");
  assert.equal(r.json.totalAmountExcludingTax, 390);
  assert.deepEqual(r.json.salesOrderLines.map((l) => [l.sequence, l.amountExcludingTax]), [[10000, 300], [20000, 90]]);
  const found = await bc("GET", `salesOrders?$filter=${encodeURIComponent("externalDocumentNumber eq 'PO-900'")}&$select=id,number`);
  assert.deepEqual(found.json.value.map((o) => o.id), [r.json.id]);
  assert.deepEqual(Object.keys(found.json.value[0]).sort(), ["@odata.etag", "id", "number"]);
  const added = await bc("POST", `salesOrders(${r.json.id})/salesOrderLines`, { lineObjectNumber: "SUP-12", quantity: 1 });
  assert.equal(added.status, 201);
  assert.equal(added.json.sequence, 30000);
  assert.equal((await bc("GET", `salesOrders(${r.json.id})`)).json.totalAmountIncludingTax, 640);
  const nested = await bc("GET", `salesOrders(${r.json.id})/salesOrderLines`);
  assert.equal(nested.json.value.length, 3);
  const top = await bc("GET", `salesOrderLines?$filter=documentId eq ${r.json.id}`);
  assert.equal(top.json.value.length, 3);
  correlated(await bc("GET", "salesOrderLines"), "BadRequest");
  const before = (await control.records(sb.url, "salesOrders")).length;
  const dupSeq = await bc("POST", "salesOrders", { customerNumber: "C-1001", salesOrderLines: [{ lineObjectNumber: "WID-1", quantity: 1, sequence: 10000 }, { lineObjectNumber: "WID-1", quantity: 1, sequence: 10000 }] });
  correlated(dupSeq, "Internal_EntityWithSameKeyExists");
  const badItem = await bc("POST", "salesOrders", { customerNumber: "C-1001", salesOrderLines: [{ lineObjectNumber: "NOPE", quantity: 1 }] });
  correlated(badItem, "Internal_RecordNotFound");
  assert.equal((await control.records(sb.url, "salesOrders")).length, before, "a failed deep insert leaves nothing behind");
  correlated(await bc("POST", "salesOrders", { customerNumber: "C-9999" }), "Internal_RecordNotFound");
  correlated(await bc("POST", "salesOrders", { orderDate: "2026-01-01" }), "Application_DialogException");
});

test("shipAndInvoice and salesInvoices: draft, post, posted invoice read-only, customer payment applied", async () => {
  const so = (await bc("GET", "salesOrders?$filter=externalDocumentNumber eq 'PO-77'")).json.value[0];
  assert.equal((await bc("POST", `salesOrders(${so.id})/Microsoft.NAV.shipAndInvoice`)).status, 204);
  assert.equal((await bc("GET", `salesOrders(${so.id})`)).status, 404);
  const inv = (await bc("GET", `salesInvoices?$filter=orderId eq ${so.id}&$expand=salesInvoiceLines`)).json.value[0];
  assert.deepEqual([inv.status, inv.orderNumber, inv.totalAmountIncludingTax, inv.remainingAmount, inv.salesInvoiceLines.length], ["Open", so.number, 699.95, 699.95, 2]);

  const draft = await bc("POST", "salesInvoices", { customerId: inv.customerId, externalDocumentNumber: "INV-EXT-1", invoiceDate: "2026-11-01", salesInvoiceLines: [{ lineObjectNumber: "SUP-12", quantity: 2 }] });
  assert.equal(draft.status, 201);
  assert.equal(draft.json.status, "Draft");
  assert.equal((await bc("POST", `salesInvoices(${draft.json.id})/Microsoft.NAV.post`)).status, 204);
  const posted = (await bc("GET", `salesInvoices(${draft.json.id})`)).json;
  assert.deepEqual([posted.status, posted.remainingAmount, posted.dueDate], ["Open", 500, "2026-12-01"]);
  assert.notEqual(posted.number, draft.json.number);
  correlated(await bc("POST", `salesInvoices(${draft.json.id})/Microsoft.NAV.post`), "Application_DialogException");
  correlated(await bc("PATCH", `salesInvoices(${draft.json.id})`, { externalDocumentNumber: "x" }, { "if-match": "*" }), "Application_DialogException");
  assert.equal((await bc("POST", `customers(${inv.customerId})/Microsoft.NAV.post`)).status, 400);
  const postedLine = (await bc("GET", `salesInvoices(${draft.json.id})/salesInvoiceLines`)).json.value[0];
  correlated(await bc("DELETE", `salesInvoiceLines(${postedLine.id})`, undefined, { "if-match": "*" }), "Application_DialogException");
  correlated(await bc("PATCH", `salesInvoiceLines(${postedLine.id})`, { quantity: 9 }, { "if-match": "*" }), "Application_DialogException");

  const journal = (await bc("GET", "customerPaymentJournals")).json.value[0];
  const pay = await bc("POST", `customerPaymentJournals(${journal.id})/customerPayments`, { customerNumber: "C-1001", amount: -500, appliesToInvoiceNumber: posted.number, documentNumber: "PAY-1" });
  assert.equal(pay.status, 201);
  assert.deepEqual([pay.json.lineNumber, pay.json.appliesToInvoiceId, pay.json.journalDisplayName], [10000, posted.id, "CASHRCPT"]);
  correlated(await bc("POST", `customerPaymentJournals(${journal.id})/customerPayments`, { customerNumber: "C-1002", amount: -1, appliesToInvoiceNumber: posted.number }), "Application_DialogException");
  assert.equal((await bc("POST", `customerPaymentJournals(${journal.id})/Microsoft.NAV.post`)).status, 204);
  const paid = (await bc("GET", `salesInvoices(${draft.json.id})`)).json;
  assert.deepEqual([paid.status, paid.remainingAmount], ["Paid", 0]);
  assert.equal((await bc("GET", `customerPaymentJournals(${journal.id})/customerPayments`)).json.value.length, 0);
});

test("paging with @odata.nextLink to the end; $top / $skip / $orderby / $count; bad query options", async () => {
  await call(sb.url, "POST", "/__sandbox/records/customers", { body: Array.from({ length: 7 }, (_, i) => ({ number: `B-${i}`, displayName: `Bulk ${i}` })) });
  assert.equal((await control.stats(sb.url)).created.customers, undefined, "seeds are not creations");
  let r = await bc("GET", "customers?$select=number&$count=true", undefined, { prefer: "odata.maxpagesize=4" });
  assert.equal(r.json["@odata.count"], 9);
  const numbers = [];
  let pages = 0;
  for (;;) {
    pages++;
    numbers.push(...r.json.value.map((c) => c.number));
    const next = r.json["@odata.nextLink"];
    if (!next) break;
    r = await call(sb.url, "GET", next.slice(sb.url.length), { headers: { ...auth, prefer: "odata.maxpagesize=4" } });
  }
  assert.equal(pages, 3);
  assert.equal(new Set(numbers).size, 9);
  await control.limits(sb.url, { maxPageSize: 5 });
  assert.equal((await bc("GET", "customers")).json.value.length, 5);
  const sorted = await bc("GET", "customers?$orderby=displayName desc&$top=2&$skip=1&$select=displayName");
  assert.deepEqual(sorted.json.value.map((c) => c.displayName), ["Globex GmbH", "Bulk 6"]);
  correlated(await bc("GET", "customers?$select=Nope"), "BadRequest");
  correlated(await bc("GET", "customers?$filter=number eq"), "BadRequest");
  correlated(await bc("GET", "customers?$top=x"), "BadRequest");
});

test("$batch: JSON envelope, out-of-order responses, dependsOn 424, ≤100 operations, Isolation: snapshot", async () => {
  const url = `${API}/$batch`;
  const b = await bc("POST", url, {
    requests: [
      { id: "1", method: "POST", url: `companies(${D.companyId})/customers`, headers: { "Content-Type": "application/json" }, body: { displayName: "Batch A" } },
      { id: "2", method: "POST", url: `companies(${D.companyId})/customers`, body: { displayName: "Batch B", Nope: 1 } },
      { id: "3", method: "GET", url: `companies(${D.companyId})/customers?$filter=displayName eq 'Batch A'`, dependsOn: ["1"] },
      { id: "4", method: "GET", url: `companies(${D.companyId})/items`, dependsOn: ["2"] },
    ],
  });
  assert.equal(b.status, 200);
  const byId = Object.fromEntries(b.json.responses.map((x) => [x.id, x]));
  assert.deepEqual(b.json.responses.map((x) => x.id), ["4", "3", "2", "1"]);
  assert.equal(byId["1"].status, 201);
  assert.equal(byId["2"].status, 400);
  assert.equal(byId["2"].body.error.code, "BadRequest");
  assert.equal(byId["3"].body.value.length, 1);
  assert.equal(byId["4"].status, 424);
  const snap = await bc("POST", url, { requests: [{ id: "a", method: "POST", url: `companies(${D.companyId})/customers`, body: { displayName: "Rolled back" } }, { id: "b", method: "POST", url: `companies(${D.companyId})/customers`, body: { number: "C-1001" } }] }, { isolation: "snapshot" });
  assert.equal(snap.json.responses.length, 1);
  assert.equal(snap.json.responses[0].status, 400);
  assert.ok(!(await control.records(sb.url, "customers")).some((c) => c.displayName === "Rolled back"));
  const many = { requests: Array.from({ length: 101 }, (_, i) => ({ id: String(i), method: "GET", url: `companies(${D.companyId})/items` })) };
  correlated(await bc("POST", url, many), "BadRequest");
});

test("429 Application_TooManyRequests: request window (inner batch operations count) and the concurrency gate", async () => {
  await control.limits(sb.url, { windowRequests: 3 });
  for (let i = 0; i < 3; i++) assert.equal((await bc("GET", "items")).status, 200);
  const r = await bc("GET", "items");
  assert.equal(r.status, 429);
  correlated(r, "Application_TooManyRequests");
  assert.match(r.json.error.message, /Actual \(4\)\. Maximum \(3\)/);
  assert.ok(r.headers.get("retry-after"));
  await control.reset(sb.url);
  auth = { authorization: `Bearer ${(await token()).json.access_token}` };
  await control.limits(sb.url, { windowRequests: 2 });
  const b = await bc("POST", `${API}/$batch`, { requests: ["1", "2", "3"].map((id) => ({ id, method: "GET", url: `companies(${D.companyId})/items` })) });
  assert.deepEqual(b.json.responses.map((x) => x.status).sort(), [200, 200, 429]);
  await control.reset(sb.url);
  auth = { authorization: `Bearer ${(await token()).json.access_token}` };
  await control.limits(sb.url, { concurrentRequests: 1, queuedRequests: 1 });
  await control.faults(sb.url, [{ kind: "latency", ms: 100 }]);
  const results = await Promise.all([1, 2, 3, 4].map(() => bc("GET", "items")));
  const refused = results.filter((x) => x.status === 429);
  assert.equal(refused.length, 2);
  assert.match(refused[0].json.error.message, /Actual \(3\)\. Maximum \(2\)/);
});

test("injected faults answer in BC's envelope; stats count routes", async () => {
  await control.faults(sb.url, [{ kind: "error", count: 1 }, { kind: "throttle", count: 1 }]);
  const e = await bc("GET", "items");
  assert.equal(e.status, 500);
  correlated(e, "Unknown");
  correlated(await bc("GET", "items"), "Application_TooManyRequests");
  await control.faults(sb.url, [{ kind: "outage", durationMs: 60000, mode: "503" }]);
  assert.equal((await bc("GET", "items")).status, 503);
  await control.clearFaults(sb.url);
  const stats = await control.stats(sb.url);
  const itemsRoute = Object.entries(stats.routes).find(([key]) => key.startsWith("GET") && key.includes("(?<set>") && !key.includes("(?<id>"));
  assert.equal(itemsRoute[1].requests, 3);
  assert.deepEqual(itemsRoute[1].statuses, { 500: 1, 429: 1, 503: 1 });
  assert.deepEqual(stats.faults, { error: 1, throttle: 1, outage: 1 });
});
