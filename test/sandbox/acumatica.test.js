"use strict";
const { test, before, after, beforeEach } = require("node:test");
const assert = require("node:assert/strict");
const { start, ACUMATICA_DEFAULTS: D } = require("../../dist/sandbox/acumatica.js");
const { call, control } = require("./helpers.js");

const E = `/entity/Default/${D.version}`;
let sb;
let cookie;
const v = (o) => Object.fromEntries(Object.entries(o).map(([key, x]) => [key, Array.isArray(x) ? x.map(v) : { value: x }]));
const ac = (method, path, body, headers = {}) => call(sb.url, method, path.startsWith("/") ? path : `${E}/${path}`, { body, headers: { cookie, ...headers } });
async function login(over = {}) {
  const r = await call(sb.url, "POST", "/entity/auth/login", { body: { name: D.name, password: D.password, tenant: D.tenant, ...over } });
  return { r, cookie: r.status === 204 ? r.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ") : undefined };
}

before(async () => {
  sb = await start({ limits: { maxSessions: 3 } });
});
after(() => sb.close());
beforeEach(async () => {
  await control.reset(sb.url);
  cookie = (await login()).cookie;
});

test("login 204 + cookies, bad credentials, logout, session expiry 401, the licence's session limit", async () => {
  const { r, cookie: c } = await login();
  assert.equal(r.status, 204);
  assert.match(c, /\.ASPXAUTH=\w+/);
  assert.match(c, /ASP\.NET_SessionId=/);
  const bad = await login({ password: "x" });
  assert.equal(bad.r.status, 500);
  assert.equal(bad.r.json.exceptionMessage, "Invalid credentials. Please try again.");
  assert.equal((await login({ tenant: "Other" })).r.json.exceptionType, "PX.Data.PXUndefinedCompanyException");
  assert.equal((await call(sb.url, "GET", `${E}/Customer`)).status, 401);
  assert.equal((await ac("GET", "Customer", undefined, { cookie: c })).status, 200);
  assert.equal((await call(sb.url, "POST", "/entity/auth/logout", { headers: { cookie: c } })).status, 204);
  assert.equal((await ac("GET", "Customer", undefined, { cookie: c })).status, 401);
  assert.equal((await login()).r.status, 204);
  assert.equal((await login()).r.status, 204);
  const over = await login();
  assert.deepEqual([over.r.status, over.r.json.exceptionMessage], [429, "API Login Limit"]);
  await control.expireTokens(sb.url);
  const expired = await ac("GET", "Customer");
  assert.equal(expired.status, 401);
  assert.equal((await login()).r.status, 204, "expired sessions free their licence slot");
});

test("PUT is an upsert on the key fields; {value} wrapping; flat values 400; POST 406; version mismatch 404", async () => {
  const c = await ac("PUT", "Customer", v({ CustomerID: "C-2000", CustomerName: "Initech", CurrencyID: "USD" }));
  assert.equal(c.status, 200);
  assert.match(c.json.id, /^[0-9a-f-]{36}$/);
  assert.deepEqual([c.json.CustomerID, c.json.CustomerName, c.json.Status], [{ value: "C-2000" }, { value: "Initech" }, { value: "Active" }]);
  assert.ok(c.json._links.self.endsWith(c.json.id));
  const again = await ac("PUT", "Customer", v({ CustomerID: "C-2000", CustomerName: "Initech Ltd" }));
  assert.equal(again.json.id, c.json.id, "same key, same record");
  assert.equal((await control.records(sb.url, "Customer")).filter((x) => x.CustomerID === "C-2000").length, 1);
  assert.equal((await control.stats(sb.url)).created.Customer, 1);
  const byId = await ac("PUT", "Customer", { id: c.json.id, Email: { value: "it@initech.example" } });
  assert.equal(byId.json.Email.value, "it@initech.example");
  const flat = await ac("PUT", "Customer", { CustomerID: "C-3000" });
  assert.equal(flat.status, 400);
  assert.ok(flat.json.modelState["Customer.CustomerID"]);
  assert.equal((await ac("PUT", "Customer", v({ CustomerID: "C-3001", Nope: 1 }))).status, 400);
  assert.equal((await ac("PUT", "Customer", v({ CustomerName: "No key" }))).status, 422);
  assert.equal((await ac("POST", "Customer", v({ CustomerID: "C-4000" }))).status, 406);
  assert.equal((await ac("GET", "/entity/Default/23.200.001/Customer")).status, 404);
  assert.equal((await ac("GET", `/entity/Custom/${D.version}/Customer`)).status, 404);
  assert.equal((await ac("GET", "Widget")).status, 404);
  const linked = await ac("PUT", "Customer?$expand=MainContact", { CustomerID: { value: "C-2000" }, MainContact: { Email: { value: "main@initech.example" } } });
  assert.equal(linked.json.MainContact.Email.value, "main@initech.example");
});

test("SalesOrder: details, totals, 422 with field errors, GET by key / id with $expand, update details by id, delete", async () => {
  const so = await ac("PUT", "SalesOrder", v({ OrderType: "SO", CustomerID: "C-1002", CustomerOrder: "PO-500", Details: [{ InventoryID: "GAD-2", OrderQty: 2 }, { InventoryID: "WID-1", OrderQty: 10, UnitPrice: 10 }] }));
  assert.equal(so.status, 200);
  assert.match(so.json.OrderNbr.value, /^SO\d{6}$/);
  assert.deepEqual([so.json.Status.value, so.json.OrderTotal.value, so.json.CurrencyID.value, so.json.Details.length], ["Open", 400, "USD", 2]);
  assert.deepEqual(so.json.Details.map((d) => d.ExtendedPrice.value), [300, 100]);
  const unknownCustomer = await ac("PUT", "SalesOrder", v({ OrderType: "SO", CustomerID: "NOBODY" }));
  assert.equal(unknownCustomer.status, 422);
  assert.equal(unknownCustomer.json.CustomerID.error, "'Customer' cannot be found in the system.");
  assert.match(unknownCustomer.json.error, /^CustomerID: /);
  const unknownItem = await ac("PUT", "SalesOrder", v({ OrderType: "SO", CustomerID: "C-1002", Details: [{ InventoryID: "NOPE", OrderQty: 1 }] }));
  assert.equal(unknownItem.status, 422);
  assert.match(unknownItem.json.Details[0].InventoryID.error, /'NOPE' cannot be found/);
  assert.match(unknownItem.json.error, /^Details\[0\]\.InventoryID: /);
  const byKey = await ac("GET", `SalesOrder/SO/${so.json.OrderNbr.value}?$expand=Details`);
  assert.equal(byKey.json.id, so.json.id);
  assert.equal(byKey.json.Details.length, 2);
  assert.equal((await ac("GET", `SalesOrder/${so.json.id}`)).json.Details, undefined, "details only with $expand");
  const line = byKey.json.Details[1];
  const upd = await ac("PUT", "SalesOrder", { OrderType: { value: "SO" }, OrderNbr: so.json.OrderNbr, Details: [{ id: line.id, OrderQty: { value: 5 } }, { id: byKey.json.Details[0].id, delete: true }] });
  assert.deepEqual(upd.json.Details.map((d) => [d.InventoryID.value, d.OrderQty.value]), [["WID-1", 5]]);
  assert.equal(upd.json.OrderTotal.value, 50);
  const missing = await ac("GET", "SalesOrder/SO/NOPE");
  assert.equal(missing.status, 500);
  assert.match(missing.json.exceptionMessage, /No entity satisfies the condition/);
  assert.equal((await ac("DELETE", `SalesOrder/SO/${so.json.OrderNbr.value}`)).status, 204);
  assert.equal((await ac("GET", `SalesOrder/${so.json.id}`)).status, 500);
});

test("lists: $filter / $select / $top / $skip paging to the end (plain arrays)", async () => {
  await call(sb.url, "POST", "/__sandbox/records/Customer", { body: Array.from({ length: 5 }, (_, i) => ({ CustomerID: `B-${i}`, CustomerName: `Bulk ${i}`, CurrencyID: "EUR" })) });
  const seen = [];
  for (let skip = 0; ; skip += 3) {
    const page = await ac("GET", `Customer?$select=CustomerID&$top=3&$skip=${skip}`);
    assert.ok(Array.isArray(page.json));
    seen.push(...page.json.map((c) => c.CustomerID.value));
    if (page.json.length < 3) break;
  }
  assert.equal(seen.length, 7);
  assert.equal(new Set(seen).size, 7);
  assert.deepEqual(Object.keys((await ac("GET", "Customer?$select=CustomerName&$top=1")).json[0]).filter((x) => !["id", "rowNumber", "note", "custom", "_links"].includes(x)), ["CustomerName"]);
  const po = await ac("GET", `SalesOrder?$filter=${encodeURIComponent("CustomerOrder eq 'PO-77' and Status eq 'Invoiced'")}`);
  assert.equal(po.json.length, 1);
  const recent = await ac("GET", `Customer?$filter=${encodeURIComponent("LastModifiedDateTime gt datetimeoffset'2020-01-01T00:00:00Z' and CurrencyID eq 'EUR'")}`);
  assert.equal(recent.json.length, 6);
  assert.equal((await ac("GET", "Customer?$filter=Nope eq 1")).status, 500);
  assert.equal((await ac("GET", "Customer?$filter=CustomerID eq")).status, 400);
  assert.equal((await ac("GET", "Customer?$top=x")).status, 400);
});

test("actions: 202 + Location, poll 204; hold, PrepareInvoice, ReleaseSalesInvoice, Payment applied and released", async () => {
  const act = async (entity, action, entityBody) => {
    const r = await ac("POST", `${entity}/${action}`, { entity: entityBody, parameters: {} });
    if (r.status === 202) assert.equal((await ac("GET", r.headers.get("location"))).status, 204);
    return r;
  };
  const so = (await ac("PUT", "SalesOrder", v({ CustomerID: "C-1001", Hold: true, Details: [{ InventoryID: "SUP-12", OrderQty: 2 }] }))).json;
  assert.equal(so.Status.value, "On Hold");
  assert.equal((await act("SalesOrder", "PrepareInvoice", { id: so.id })).status, 500, "on hold");
  assert.equal((await act("SalesOrder", "ReleaseFromHold", { OrderType: { value: "SO" }, OrderNbr: so.OrderNbr })).status, 202);
  assert.equal((await act("SalesOrder", "PrepareInvoice", { id: so.id })).status, 202);
  assert.equal((await ac("GET", `SalesOrder/${so.id}`)).json.Status.value, "Invoiced");
  const inv = (await ac("GET", `SalesInvoice?$filter=${encodeURIComponent("Status eq 'Balanced'")}&$expand=Details`)).json[0];
  assert.deepEqual([inv.Amount.value, inv.Details[0].OrderNbr.value], [500, so.OrderNbr.value]);
  assert.equal((await act("SalesInvoice", "ReleaseSalesInvoice", { id: inv.id })).status, 202);
  const open = (await ac("GET", `SalesInvoice/Invoice/${inv.ReferenceNbr.value}`)).json;
  assert.deepEqual([open.Status.value, open.Balance.value], ["Open", 500]);
  assert.equal((await ac("PUT", "SalesInvoice", { id: inv.id, Details: [{ InventoryID: { value: "WID-1" }, Qty: { value: 1 } }] })).status, 422, "released invoices keep their lines");
  const pay = await ac("PUT", "Payment", v({ CustomerID: "C-1001", PaymentAmount: 500, PaymentRef: "WIRE-1", DocumentsToApply: [{ DocType: "Invoice", ReferenceNbr: inv.ReferenceNbr.value }] }));
  assert.equal(pay.status, 200);
  assert.deepEqual([pay.json.Status.value, pay.json.UnappliedBalance.value, pay.json.DocumentsToApply[0].AmountPaid.value], ["Balanced", 0, 500]);
  assert.equal((await ac("PUT", "Payment", v({ CustomerID: "C-1002", PaymentAmount: 1, DocumentsToApply: [{ ReferenceNbr: inv.ReferenceNbr.value }] }))).status, 422);
  assert.equal((await act("Payment", "ReleasePayment", { id: pay.json.id })).status, 202);
  const closed = (await ac("GET", `SalesInvoice/${inv.id}`)).json;
  assert.deepEqual([closed.Status.value, closed.Balance.value], ["Closed", 0]);
  assert.equal((await ac("GET", `Payment/${pay.json.id}`)).json.Status.value, "Closed");
  assert.equal((await act("Customer", "ReleasePayment", { id: pay.json.id })).status, 404);
});

test("licence limits (THIN): requests per minute and concurrent requests answer 429; faults in the HttpError shape", async () => {
  await control.limits(sb.url, { requestsPerMinute: 2 });
  assert.equal((await ac("GET", "Customer?$top=1")).status, 200);
  assert.equal((await ac("GET", "Customer?$top=1")).status, 200);
  const t = await ac("GET", "Customer?$top=1");
  assert.deepEqual([t.status, t.json.exceptionType], [429, "PX.Data.PXException"]);
  await control.limits(sb.url, { requestsPerMinute: 0, concurrentRequests: 1 });
  await control.faults(sb.url, [{ kind: "latency", ms: 80 }]);
  const results = await Promise.all([1, 2, 3].map(() => ac("GET", "Customer?$top=1")));
  assert.deepEqual(results.map((r) => r.status).sort(), [200, 429, 429]);
  await control.faults(sb.url, [{ kind: "error", count: 1 }]);
  const e = await ac("GET", "Customer?$top=1");
  assert.deepEqual([e.status, e.json.message], [500, "An error has occurred."]);
  const stats = await control.stats(sb.url);
  assert.equal(stats.faults.error, 1);
  assert.equal(stats.faults.latency, 1, "refused requests never reach the latency fault");
});
