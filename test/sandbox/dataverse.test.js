"use strict";
const { test, before, after, beforeEach } = require("node:test");
const assert = require("node:assert/strict");
const { start } = require("../../dist/sandbox/dataverse.js");
const { call, control } = require("./helpers.js");

const TENANT = "tenant-1";
const API = "/api/data/v9.2";
let sb;
let auth;
const dv = (method, path, body, headers = {}) => call(sb.url, method, API + path, { body, headers: { ...auth, accept: "application/json", "odata-version": "4.0", "odata-maxversion": "4.0", ...headers } });

async function token(over = {}) {
  return call(sb.url, "POST", `/${over.tenant ?? TENANT}/oauth2/v2.0/token`, { form: { grant_type: "client_credentials", client_id: "cid", client_secret: "cs", scope: `${sb.url}/.default`, ...over.form } });
}

before(async () => {
  sb = await start({ tenantId: TENANT, clientId: "cid", clientSecret: "cs" });
});
after(() => sb.close());
beforeEach(async () => {
  await control.reset(sb.url);
  auth = { authorization: `Bearer ${(await token()).json.access_token}` };
});

test("Entra client-credentials token and its refusals", async () => {
  const ok = await token();
  assert.equal(ok.status, 200);
  assert.equal(ok.json.token_type, "Bearer");
  assert.equal(ok.json.expires_in, 3599);
  assert.equal(ok.json.ext_expires_in, 3599);
  assert.equal(ok.json.access_token.split(".").length, 3);
  const secret = await token({ form: { client_secret: "bad" } });
  assert.deepEqual([secret.status, secret.json.error, secret.json.error_codes], [401, "invalid_client", [7000215]]);
  assert.equal((await token({ form: { scope: "https://other.crm.dynamics.com/.default" } })).json.error, "invalid_scope");
  assert.equal((await token({ tenant: "nope" })).json.error, "invalid_request");
  assert.equal((await token({ form: { grant_type: "password" } })).json.error, "unsupported_grant_type");
  const none = await call(sb.url, "GET", API + "/accounts");
  assert.equal(none.status, 401);
  assert.match(none.headers.get("www-authenticate"), /^Bearer authorization_uri=/);
  await control.expireTokens(sb.url);
  assert.equal((await dv("GET", "/accounts")).status, 401);
});

test("create: 204 + OData-EntityId, or 201 with return=representation; bad property and type", async () => {
  const r = await dv("POST", "/accounts", { name: "Sample Account", creditonhold: false, revenue: 5000000, accountcategorycode: 1 });
  assert.equal(r.status, 204);
  assert.equal(r.text, "");
  assert.equal(r.headers.get("odata-version"), "4.0");
  const m = /\/api\/data\/v9\.2\/accounts\(([0-9a-f-]{36})\)$/.exec(r.headers.get("odata-entityid"));
  assert.ok(m);
  const rep = await dv("POST", "/accounts?$select=name,accountnumber", { name: "With body", accountnumber: "WB-1" }, { prefer: "return=representation" });
  assert.equal(rep.status, 201);
  assert.equal(rep.headers.get("preference-applied"), "return=representation");
  assert.equal(rep.json.name, "With body");
  assert.match(rep.json["@odata.etag"], /^W\/"\d+"$/);
  assert.match(rep.json["@odata.context"], /\$metadata#accounts\(name,accountnumber\)\/\$entity$/);
  const unknown = await dv("POST", "/accounts", { Name: "x" });
  assert.equal(unknown.status, 400);
  assert.equal(unknown.json.error.code, "0x0");
  assert.match(unknown.json.error.message, /'Name' does not exist on type 'Microsoft\.Dynamics\.CRM\.account'/);
  assert.equal((await dv("POST", "/accounts", { revenue: "lots" })).json.error.code, "0x0");
  assert.equal((await dv("POST", "/accounts", { _parentaccountid_value: m[1] })).status, 400);
  const seg = await dv("POST", "/Account", { name: "x" });
  assert.deepEqual([seg.status, seg.json.error.code], [404, "0x8006088a"]);
  assert.equal((await dv("POST", "/accounts", "{oops")).status, 400);
});

test("PATCH upsert on an alternate key: 204 both times, no duplicate; If-Match / If-None-Match", async () => {
  const first = await dv("PATCH", "/accounts(accountnumber='ABC')", { name: "Upserted" });
  assert.equal(first.status, 204);
  const again = await dv("PATCH", "/accounts(accountnumber='ABC')", { name: "Upserted again" });
  assert.equal(again.status, 204);
  assert.equal(first.headers.get("odata-entityid"), again.headers.get("odata-entityid"));
  const rows = (await control.records(sb.url, "accounts")).filter((a) => a.accountnumber === "ABC");
  assert.equal(rows.length, 1);
  assert.equal(rows[0].name, "Upserted again");
  const updateOnly = await dv("PATCH", "/accounts(accountnumber='NEW')", { name: "x" }, { "if-match": "*" });
  assert.equal(updateOnly.status, 404);
  const createOnly = await dv("PATCH", "/accounts(accountnumber='ABC')", { name: "x" }, { "if-none-match": "*" });
  assert.deepEqual([createOnly.status, createOnly.json.error.code], [412, "0x80040237"]);
  const got = await dv("GET", "/accounts(accountnumber='ABC')?$select=name");
  const stale = await dv("PATCH", "/accounts(accountnumber='ABC')", { name: "y" }, { "if-match": 'W/"1"' });
  assert.equal(stale.status, 412);
  assert.equal((await dv("PATCH", "/accounts(accountnumber='ABC')", { name: "z" }, { "if-match": got.json["@odata.etag"] })).status, 204);
  assert.equal((await dv("PATCH", "/accounts(name='x')", { name: "z" })).status, 400, "not an alternate key");
  const custom = await dv("PATCH", "/accounts(keelson_erpcustomerid='C-9')", { name: "By ERP id" }, { prefer: "return=representation" });
  assert.equal(custom.status, 201);
  assert.equal(custom.json.keelson_erpcustomerid, "C-9");
  const byId = custom.json.accountid;
  const upd = await dv("PATCH", `/accounts(${byId})`, { telephone1: "1" }, { prefer: "return=representation" });
  assert.equal(upd.status, 200);
});

test("query: $select, $filter (eq, gt on modifiedon, and), $orderby, $top, unknown property, no $skip", async () => {
  const r = await dv("GET", "/accounts?$select=name,accountnumber&$filter=" + encodeURIComponent("address1_country eq 'germany' and modifiedon gt 2020-01-01T00:00:00Z"));
  assert.equal(r.status, 200);
  assert.equal(r.json.value.length, 1);
  assert.deepEqual(Object.keys(r.json.value[0]).sort(), ["@odata.etag", "accountid", "accountnumber", "name"]);
  assert.match(r.json["@odata.context"], /\$metadata#accounts\(name,accountnumber\)$/);
  const none = await dv("GET", "/accounts?$filter=" + encodeURIComponent("modifiedon gt 2099-01-01T00:00:00Z"));
  assert.equal(none.json.value.length, 0);
  const sorted = await dv("GET", "/accounts?$select=name&$orderby=name desc&$top=2&$count=true");
  assert.deepEqual(sorted.json.value.map((a) => a.name), ["Initech Ltd", "Globex GmbH"]);
  assert.equal(sorted.json["@odata.count"], 3);
  const fn = await dv("GET", "/accounts?$select=name&$filter=" + encodeURIComponent("startswith(name,'Ac') or contains(name,'tech')"));
  assert.equal(fn.json.value.length, 2);
  const bad = await dv("GET", "/accounts?$select=Name");
  assert.deepEqual([bad.status, bad.json.error.code], [400, "0x0"]);
  assert.match(bad.json.error.message, /Could not find a property named 'Name' on type 'Microsoft\.Dynamics\.CRM\.account'/);
  assert.equal((await dv("GET", "/accounts?$filter=name eq")).status, 400);
  assert.equal((await dv("GET", "/accounts?$skip=1")).status, 400);
  const missing = await dv("GET", "/accounts(00000000-0000-0000-0000-000000000000)");
  assert.deepEqual([missing.status, missing.json.error.code], [404, "0x80040217"]);
});

test("paging with odata.maxpagesize and @odata.nextLink to the end", async () => {
  await call(sb.url, "POST", "/__sandbox/records/accounts", { body: Array.from({ length: 8 }, (_, i) => ({ name: `Bulk ${i}` })) });
  let r = await dv("GET", "/accounts?$select=name", undefined, { prefer: "odata.maxpagesize=4" });
  assert.equal(r.headers.get("preference-applied"), "odata.maxpagesize=4");
  const names = [];
  let pages = 0;
  for (;;) {
    pages++;
    names.push(...r.json.value.map((a) => a.name));
    const next = r.json["@odata.nextLink"];
    if (!next) break;
    assert.match(next, /\$skiptoken=/);
    r = await call(sb.url, "GET", next.slice(sb.url.length), { headers: { ...auth, prefer: "odata.maxpagesize=4" } });
  }
  assert.equal(pages, 3);
  assert.equal(names.length, 11);
  assert.equal(new Set(names).size, 11);
  await control.limits(sb.url, { maxPageSize: 5 });
  const capped = await dv("GET", "/accounts?$select=name", undefined, { prefer: "odata.maxpagesize=100" });
  assert.equal(capped.json.value.length, 5);
});

test("opportunities with lines: $expand, related collection, deep insert, @odata.bind", async () => {
  const won = await dv("GET", "/opportunities?$select=name,estimatedvalue,statecode,_customerid_value&$filter=statecode eq 1&$expand=" + encodeURIComponent("product_opportunities($select=quantity,priceperunit,extendedamount,_productid_value),customerid_account($select=name,keelson_erpcustomerid)"));
  assert.equal(won.json.value.length, 1);
  const opp = won.json.value[0];
  assert.equal(opp.customerid_account.name, "Acme Corporation");
  assert.equal(opp.product_opportunities.length, 1);
  assert.equal(opp.product_opportunities[0].extendedamount, 999.5);
  const lines = await dv("GET", `/opportunities(${opp.opportunityid})/product_opportunities?$select=quantity`);
  assert.equal(lines.json.value[0].quantity, 100);
  const account = (await dv("GET", "/accounts?$select=name&$filter=name eq 'Initech Ltd'")).json.value[0];
  const deep = await dv("POST", "/opportunities", { name: "Deep", "customerid_account@odata.bind": `/accounts(${account.accountid})`, product_opportunities: [{ productdescription: "Write-in", quantity: 2, priceperunit: 5 }] });
  assert.equal(deep.status, 204);
  const id = /\(([^)]+)\)$/.exec(deep.headers.get("odata-entityid"))[1];
  const check = await dv("GET", `/opportunities(${id})?$select=name,_customerid_value&$expand=product_opportunities($select=extendedamount)`);
  assert.equal(check.json._customerid_value, account.accountid);
  assert.equal(check.json.product_opportunities[0].extendedamount, 10);
  const badBind = await dv("POST", "/opportunities", { name: "x", "customerid_account@odata.bind": "/accounts(00000000-0000-0000-0000-000000000000)" });
  assert.equal(badBind.status, 404);
  const before = (await control.records(sb.url, "opportunities")).length;
  const badChild = await dv("POST", "/opportunities", { name: "rolled back", product_opportunities: [{ nope: 1 }] });
  assert.equal(badChild.status, 400);
  assert.equal((await control.records(sb.url, "opportunities")).length, before, "deep insert is atomic");
  assert.equal((await dv("PATCH", `/opportunities(${id})`, { keelson_erpordernumber: "SO-1" })).status, 204);
});

function batchBody(boundary, parts) {
  return parts.map((p) => `--${boundary}\r\n${p}\r\n`).join("") + `--${boundary}--\r\n`;
}
const httpPart = (requestLine, body, contentId) =>
  ["Content-Type: application/http", "Content-Transfer-Encoding: binary", ...(contentId ? [`Content-ID: ${contentId}`] : []), "", requestLine, "Content-Type: application/json; type=entry", "", body ?? ""].join("\r\n");
const changeset = (boundary, parts) => `Content-Type: multipart/mixed; boundary=${boundary}\r\n\r\n${batchBody(boundary, parts)}`;

test("$batch: changeset with Content-ID reference commits atomically; responses are multipart", async () => {
  const body = batchBody("batch_1", [
    changeset("changeset_a", [
      httpPart(`POST ${API}/accounts HTTP/1.1`, JSON.stringify({ name: "Batch parent" }), "1"),
      httpPart(`POST ${API}/opportunities HTTP/1.1`, JSON.stringify({ name: "Batch opp", "customerid_account@odata.bind": "$1" }), "2"),
    ]),
    httpPart(`GET ${API}/accounts?$select=name&$filter=name%20eq%20'Batch%20parent' HTTP/1.1`),
  ]);
  const r = await call(sb.url, "POST", `${API}/$batch`, { body, headers: { ...auth, "content-type": "multipart/mixed; boundary=batch_1" } });
  assert.equal(r.status, 200);
  const boundary = /boundary=(batchresponse_[\w-]+)/.exec(r.headers.get("content-type"))[1];
  assert.ok(r.text.endsWith(`--${boundary}--\r\n`));
  assert.match(r.text, /Content-Type: multipart\/mixed; boundary=changesetresponse_/);
  assert.equal((r.text.match(/HTTP\/1\.1 204 No Content/g) ?? []).length, 2);
  assert.match(r.text, /Content-ID: 2/);
  assert.match(r.text, /HTTP\/1\.1 200 OK[\s\S]*"name":"Batch parent"/);
  const opp = (await control.records(sb.url, "opportunities")).find((o) => o.name === "Batch opp");
  const parent = (await control.records(sb.url, "accounts")).find((a) => a.name === "Batch parent");
  assert.equal(opp._customerid_value, parent.accountid);
});

test("$batch: a failing changeset rolls back and stops the batch unless continue-on-error", async () => {
  const parts = [
    changeset("cs_x", [httpPart(`POST ${API}/accounts HTTP/1.1`, JSON.stringify({ name: "Never kept" }), "1"), httpPart(`POST ${API}/accounts HTTP/1.1`, JSON.stringify({ bogus: 1 }), "2")]),
    changeset("cs_y", [httpPart(`POST ${API}/accounts HTTP/1.1`, JSON.stringify({ name: "After failure" }), "1")]),
  ];
  const before = (await control.records(sb.url, "accounts")).length;
  const r = await call(sb.url, "POST", `${API}/$batch`, { body: batchBody("b2", parts), headers: { ...auth, "content-type": "multipart/mixed; boundary=b2" } });
  assert.equal(r.status, 200);
  assert.match(r.text, /HTTP\/1\.1 400 Bad Request/);
  assert.doesNotMatch(r.text, /changesetresponse_/);
  assert.equal((await control.records(sb.url, "accounts")).length, before, "nothing kept, second changeset not run");
  const r2 = await call(sb.url, "POST", `${API}/$batch`, { body: batchBody("b2", parts), headers: { ...auth, "content-type": "multipart/mixed; boundary=b2", prefer: "odata.continue-on-error" } });
  assert.match(r2.text, /HTTP\/1\.1 204 No Content/);
  const names = (await control.records(sb.url, "accounts")).map((a) => a.name);
  assert.ok(names.includes("After failure"));
  assert.ok(!names.includes("Never kept"));
  assert.equal((await call(sb.url, "POST", `${API}/$batch`, { body: "x", headers: { ...auth, "content-type": "application/json" } })).status, 400);
  await control.limits(sb.url, { batchMaxRequests: 1 });
  assert.equal((await call(sb.url, "POST", `${API}/$batch`, { body: batchBody("b2", parts), headers: { ...auth, "content-type": "multipart/mixed; boundary=b2" } })).status, 400);
});

test("service protection: 429 0x80072322 with Retry-After; inner batch requests count", async () => {
  await control.limits(sb.url, { windowRequests: 3, windowSeconds: 60 });
  for (let i = 0; i < 3; i++) assert.equal((await dv("GET", "/accounts?$top=1")).status, 200);
  const r = await dv("GET", "/accounts?$top=1");
  assert.equal(r.status, 429);
  assert.equal(r.json.error.code, "0x80072322");
  assert.equal(r.json.error.message, "Number of requests exceeded the limit of 3 over time window of 60 seconds.");
  const retry = Number(r.headers.get("retry-after"));
  assert.ok(retry >= 1 && retry <= 60);
  await control.reset(sb.url);
  auth = { authorization: `Bearer ${(await token()).json.access_token}` };
  await control.limits(sb.url, { windowRequests: 2 });
  const body = batchBody("b3", [1, 2, 3].map(() => httpPart(`GET ${API}/accounts?$top=1 HTTP/1.1`)));
  const b = await call(sb.url, "POST", `${API}/$batch`, { body, headers: { ...auth, "content-type": "multipart/mixed; boundary=b3", prefer: "odata.continue-on-error" } });
  assert.equal((b.text.match(/HTTP\/1\.1 200 OK/g) ?? []).length, 2);
  assert.match(b.text, /HTTP\/1\.1 429 Too Many Requests[\s\S]*0x80072322/);
});

test("service protection: refused requests keep extending the wait", async () => {
  await control.limits(sb.url, { windowRequests: 1, windowSeconds: 0.4 });
  assert.equal((await dv("GET", "/accounts?$top=1")).status, 200);
  await new Promise((r) => setTimeout(r, 250));
  assert.equal((await dv("GET", "/accounts?$top=1")).status, 429);
  await new Promise((r) => setTimeout(r, 200));
  assert.equal((await dv("GET", "/accounts?$top=1")).status, 429, "the first request left the window, the refused one did not");
  await new Promise((r) => setTimeout(r, 450));
  assert.equal((await dv("GET", "/accounts?$top=1")).status, 200);
});

test("concurrency limit: 429 0x80072326 while requests are in flight", async () => {
  await control.limits(sb.url, { concurrentRequests: 2 });
  await control.faults(sb.url, [{ kind: "latency", ms: 100 }]);
  const results = await Promise.all([1, 2, 3, 4].map(() => dv("GET", "/accounts?$top=1")));
  const refused = results.filter((r) => r.status === 429);
  assert.equal(refused.length, 2);
  assert.equal(refused[0].json.error.code, "0x80072326");
  assert.ok(refused[0].headers.get("retry-after"));
});

test("injected faults use the OData error envelope", async () => {
  await control.faults(sb.url, [{ kind: "error", count: 1 }, { kind: "throttle", count: 1 }]);
  const e = await dv("GET", "/accounts");
  assert.equal(e.status, 500);
  assert.ok(e.json.error.code.startsWith("0x"));
  const t = await dv("GET", "/accounts");
  assert.equal(t.status, 429);
  assert.ok(t.headers.get("retry-after"));
  const w = await dv("GET", "/WhoAmI");
  assert.ok(w.json.UserId);
});
