"use strict";
const { test, before, after, beforeEach } = require("node:test");
const assert = require("node:assert/strict");
const { start, DYNAMICS_FO_DEFAULTS: D } = require("../../dist/sandbox/dynamics-fo.js");
const { call, control } = require("./helpers.js");

let sb;
let auth;
const fo = (method, path, body, headers = {}) => call(sb.url, method, `/data/${path}`, { body, headers: { ...auth, accept: "application/json", ...headers } });
const token = (form = {}) => call(sb.url, "POST", `/${D.tenantId}/oauth2/v2.0/token`, { form: { grant_type: "client_credentials", client_id: D.clientId, client_secret: D.clientSecret, scope: `${sb.url}/.default`, ...form } });
const q = (s) => encodeURIComponent(s);

before(async () => {
  sb = await start();
});
after(() => sb.close());
beforeEach(async () => {
  await control.reset(sb.url);
  auth = { authorization: `Bearer ${(await token()).json.access_token}` };
});

test("Entra token for the environment URL; 401 without or with an expired token", async () => {
  const t = await token();
  assert.deepEqual([t.status, t.json.token_type, t.json.expires_in], [200, "Bearer", 3599]);
  assert.equal((await token({ scope: "https://other.operations.dynamics.com/.default" })).json.error, "invalid_scope");
  assert.equal((await token({ client_secret: "x" })).status, 401);
  const none = await call(sb.url, "GET", "/data/CustomersV3");
  assert.equal(none.status, 401);
  assert.match(none.headers.get("www-authenticate"), /^Bearer /);
  assert.equal((await fo("GET", "CustomersV3")).status, 200);
  await control.expireTokens(sb.url);
  assert.equal((await fo("GET", "CustomersV3")).status, 401);
});

test("CustomersV3: default company vs cross-company, dataAreaId keys, create 201, infolog errors, PATCH with If-Match, DELETE", async () => {
  const mine = await fo("GET", "CustomersV3?$select=CustomerAccount,dataAreaId");
  assert.deepEqual(mine.json.value.map((c) => c.CustomerAccount).sort(), ["C-1001", "C-1002"]);
  const all = await fo("GET", "CustomersV3?cross-company=true&$select=CustomerAccount,dataAreaId");
  assert.equal(all.json.value.length, 3);
  assert.ok(all.json.value.some((c) => c.dataAreaId === "demf"));
  const one = await fo("GET", "CustomersV3(dataAreaId='usmf',CustomerAccount='C-1001')");
  assert.equal(one.json.OrganizationName, "Globex GmbH");
  assert.match(one.json["@odata.etag"], /^W\/"/);
  assert.equal((await fo("GET", "CustomersV3(CustomerAccount='C-1001')")).status, 400, "both key parts are needed");
  assert.equal((await fo("GET", "CustomersV3(dataAreaId='usmf',CustomerAccount='NOPE')")).status, 404);
  const c = await fo("POST", "CustomersV3", { OrganizationName: "Initech", CustomerGroupId: "10", SalesCurrencyCode: "USD" });
  assert.equal(c.status, 201);
  assert.equal(c.json.dataAreaId, "usmf");
  assert.ok(c.json.CustomerAccount);
  assert.match(c.headers.get("location"), /CustomersV3\(dataAreaId='usmf',CustomerAccount='[^']+'\)$/);
  const group = await fo("POST", "CustomersV3", { OrganizationName: "x", CustomerGroupId: "99" });
  assert.equal(group.status, 400);
  assert.equal(group.json.error.innererror.type, "Microsoft.Dynamics.Platform.Integration.Services.OData.AxODataWriteException");
  assert.match(group.json.error.innererror.message, /^Write failed for table row of type 'CustCustomerV3Entity'\. Infolog: Error: The value '99' in field 'Customer group'/);
  assert.match((await fo("POST", "CustomersV3", { OrganizationName: "x" })).json.error.innererror.message, /Field 'CustomerGroupId' must be filled in/);
  assert.match((await fo("POST", "CustomersV3", { Name: "x" })).json.error.message, /'Name' does not exist on type 'Microsoft\.Dynamics\.DataEntities\.CustomerV3'/);
  assert.match((await fo("POST", "CustomersV3", { OrganizationName: "Dup", CustomerGroupId: "10", CustomerAccount: "C-1001" })).json.error.innererror.message, /already exists/);
  const key = "CustomersV3(dataAreaId='usmf',CustomerAccount='C-1001')";
  assert.equal((await fo("PATCH", key, { AddressCity: "Hamburg" }, { "if-match": one.json["@odata.etag"] })).status, 204);
  assert.equal((await fo("PATCH", key, { AddressCity: "Munich" }, { "if-match": one.json["@odata.etag"] })).status, 412);
  assert.equal((await fo("PATCH", key, { CustomerAccount: "C-9" })).status, 400);
  assert.equal((await fo("GET", key)).json.AddressCity, "Hamburg");
  assert.equal((await fo("DELETE", `CustomersV3(dataAreaId='usmf',CustomerAccount='${c.json.CustomerAccount}')`)).status, 204);
  assert.equal((await control.stats(sb.url)).created.CustomersV3, 1);
});

test("sales orders and lines: create, dedupe by CustomersOrderReference, typed enum filter, invoiced orders locked, invoices read-only", async () => {
  const so = await fo("POST", "SalesOrderHeadersV2", { OrderingCustomerAccountNumber: "C-1002", CustomersOrderReference: "PO-900" });
  assert.equal(so.status, 201);
  assert.deepEqual([so.json.SalesOrderStatus, so.json.CurrencyCode, so.json.InvoiceCustomerAccountNumber], ["Backorder", "USD", "C-1002"]);
  const line = await fo("POST", "SalesOrderLines", { SalesOrderNumber: so.json.SalesOrderNumber, ItemNumber: "GAD-2", OrderedSalesQuantity: 3 });
  assert.equal(line.status, 201);
  assert.deepEqual([line.json.LineAmount, line.json.LineNumber, line.json.SalesPrice], [450, 1, 150]);
  assert.equal((await fo("PATCH", `SalesOrderLines(dataAreaId='usmf',InventoryLotId='${line.json.InventoryLotId}')`, { OrderedSalesQuantity: 1 })).status, 204);
  const lines = await fo("GET", `SalesOrderLines?$filter=${q(`SalesOrderNumber eq '${so.json.SalesOrderNumber}'`)}`);
  assert.deepEqual(lines.json.value.map((l) => l.LineAmount), [150]);
  const dedupe = await fo("GET", `SalesOrderHeadersV2?$filter=${q("CustomersOrderReference eq 'PO-900'")}&$select=SalesOrderNumber`);
  assert.deepEqual(dedupe.json.value.map((o) => o.SalesOrderNumber), [so.json.SalesOrderNumber]);
  const typed = await fo("GET", `SalesOrderHeadersV2?$filter=${q("SalesOrderStatus eq Microsoft.Dynamics.DataEntities.SalesStatus'Invoiced'")}`);
  assert.deepEqual(typed.json.value.map((o) => o.CustomersOrderReference), ["PO-76"]);
  const untyped = await fo("GET", `SalesOrderHeadersV2?$filter=${q("SalesOrderStatus eq 'Invoiced'")}`);
  assert.equal(untyped.status, 400);
  assert.match(untyped.json.error.message, /incompatible types/);
  assert.match((await fo("POST", "SalesOrderHeadersV2", { OrderingCustomerAccountNumber: "NOPE" })).json.error.innererror.message, /NOPE/);
  assert.match((await fo("POST", "SalesOrderLines", { SalesOrderNumber: so.json.SalesOrderNumber, ItemNumber: "NOPE", OrderedSalesQuantity: 1 })).json.error.innererror.message, /Item number NOPE/);
  assert.equal((await fo("POST", "SalesOrderHeadersV2", { OrderingCustomerAccountNumber: "C-1001", SalesOrderStatus: "Bogus" })).status, 201, "computed fields are ignored on write");

  await call(sb.url, "POST", "/__sandbox/records/SalesInvoiceHeaders", { body: { SalesOrderNumber: so.json.SalesOrderNumber } });
  const inv = await fo("GET", `SalesInvoiceHeaders?$filter=${q(`SalesOrderNumber eq '${so.json.SalesOrderNumber}'`)}`);
  assert.deepEqual([inv.json.value.length, inv.json.value[0].TotalInvoiceAmount, inv.json.value[0].CustomersOrderReference], [1, 150, "PO-900"]);
  const invLines = await fo("GET", `SalesInvoiceLines?$filter=${q(`InvoiceNumber eq '${inv.json.value[0].InvoiceNumber}'`)}`);
  assert.equal(invLines.json.value.length, 1);
  assert.equal((await fo("POST", "SalesInvoiceHeaders", { InvoiceNumber: "X" })).status, 405);
  assert.match((await fo("POST", "SalesOrderLines", { SalesOrderNumber: so.json.SalesOrderNumber, ItemNumber: "WID-1", OrderedSalesQuantity: 1 })).json.error.innererror.message, /invoiced/);
  const del = await fo("DELETE", `SalesOrderHeadersV2(dataAreaId='usmf',SalesOrderNumber='${so.json.SalesOrderNumber}')`);
  assert.equal(del.json.error.innererror.type, "Microsoft.Dynamics.Platform.Integration.Services.OData.AxODataDeleteException");
});

test("paging: $top / $skip, server pages with @odata.nextLink to the end, $count, $orderby; bad options", async () => {
  await call(sb.url, "POST", "/__sandbox/records/CustomersV3", { body: Array.from({ length: 6 }, (_, i) => ({ CustomerAccount: `B-${i}`, OrganizationName: `Bulk ${i}`, CustomerGroupId: "10" })) });
  let r = await fo("GET", "CustomersV3?$select=CustomerAccount&$count=true", undefined, { prefer: "odata.maxpagesize=3" });
  assert.equal(r.json["@odata.count"], 8);
  const seen = [];
  let pages = 0;
  for (;;) {
    pages++;
    seen.push(...r.json.value.map((c) => c.CustomerAccount));
    if (!r.json["@odata.nextLink"]) break;
    r = await call(sb.url, "GET", r.json["@odata.nextLink"].slice(sb.url.length), { headers: { ...auth, prefer: "odata.maxpagesize=3" } });
  }
  assert.equal(pages, 3);
  assert.equal(new Set(seen).size, 8);
  const sorted = await fo("GET", "CustomersV3?$orderby=CustomerAccount desc&$top=2&$skip=1&$select=CustomerAccount");
  assert.deepEqual(sorted.json.value.map((c) => c.CustomerAccount), ["C-1001", "B-5"]);
  await control.limits(sb.url, { maxPageSize: 4 });
  assert.equal((await fo("GET", "CustomersV3")).json.value.length, 4);
  assert.equal((await fo("GET", "CustomersV3?$select=Nope")).status, 400);
  assert.equal((await fo("GET", "CustomersV3?$filter=Nope eq 1")).status, 400);
  assert.equal((await fo("GET", "CustomersV3?$top=-1")).status, 400);
  assert.equal((await fo("GET", "Widgets")).status, 404);
});

test("throttling (THIN): 429 with Retry-After over the window and over the concurrency limit; faults in the OData shape", async () => {
  await control.limits(sb.url, { windowRequests: 2, windowSeconds: 60 });
  assert.equal((await fo("GET", "CustomersV3?$top=1")).status, 200);
  assert.equal((await fo("GET", "CustomersV3?$top=1")).status, 200);
  const t = await fo("GET", "CustomersV3?$top=1");
  assert.equal(t.status, 429);
  const retry = Number(t.headers.get("retry-after"));
  assert.ok(retry >= 1 && retry <= 60);
  assert.match(t.json.error.message, /limit of 2 over time window of 60 seconds/);
  await control.limits(sb.url, { windowRequests: 6000, concurrentRequests: 1 });
  await control.faults(sb.url, [{ kind: "latency", ms: 80 }]);
  const results = await Promise.all([1, 2, 3].map(() => fo("GET", "CustomersV3?$top=1")));
  assert.deepEqual(results.map((r) => r.status).sort(), [200, 429, 429]);
  await control.faults(sb.url, [{ kind: "error", count: 1 }]);
  await control.limits(sb.url, { concurrentRequests: 52 });
  const e = await fo("GET", "CustomersV3?$top=1");
  assert.deepEqual([e.status, e.json.error.message], [500, "An error has occurred."]);
  const stats = await control.stats(sb.url);
  assert.deepEqual(stats.routes["GET /^\\/data\\/(?<entity>\\w+)$/"].statuses, { 200: 3, 429: 3, 500: 1 });
});
