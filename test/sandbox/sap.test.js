"use strict";
const { test, before, after, beforeEach } = require("node:test");
const assert = require("node:assert/strict");
const { start } = require("../../dist/sandbox/sap.js");
const { call, control } = require("./helpers.js");

const SO = "/sap/opu/odata/sap/API_SALES_ORDER_SRV";
const BP = "/sap/opu/odata/sap/API_BUSINESS_PARTNER";
const BILL = "/sap/opu/odata/sap/API_BILLING_DOCUMENT_SRV";
const basic = { authorization: "Basic " + Buffer.from("COMM_USER:pw").toString("base64") };
const json = { ...basic, accept: "application/json" };
let sb;

async function csrf() {
  const r = await call(sb.url, "GET", `${SO}/`, { headers: { ...basic, "x-csrf-token": "Fetch" } });
  assert.equal(r.status, 200);
  const cookie = r.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ");
  return { "x-csrf-token": r.headers.get("x-csrf-token"), cookie };
}
const order = (over = {}) => ({ SalesOrderType: "OR", SalesOrganization: "1010", DistributionChannel: "10", OrganizationDivision: "00", SoldToParty: "10100001", PurchaseOrderByCustomer: "PO-1", to_Item: [{ Material: "TG11", RequestedQuantity: "5" }, { Material: "TG12", RequestedQuantity: "15" }], ...over });

before(async () => {
  sb = await start({ user: "COMM_USER", password: "pw" });
});
after(() => sb.close());
beforeEach(() => control.reset(sb.url));

test("Basic auth required: 401 with a Basic challenge", async () => {
  const r = await call(sb.url, "GET", `${SO}/A_SalesOrder`, { headers: { accept: "application/json" } });
  assert.equal(r.status, 401);
  assert.match(r.headers.get("www-authenticate"), /^Basic realm=/);
  const wrong = await call(sb.url, "GET", `${SO}/A_SalesOrder`, { headers: { authorization: "Basic " + Buffer.from("COMM_USER:bad").toString("base64") } });
  assert.equal(wrong.status, 401);
});

test("CSRF handshake: writes without token or cookie → 403 Required; fetched token + cookie works; expiry", async () => {
  const none = await call(sb.url, "POST", `${SO}/A_SalesOrder`, { body: order(), headers: json });
  assert.equal(none.status, 403);
  assert.equal(none.headers.get("x-csrf-token"), "Required");
  assert.equal(none.text, "CSRF token validation failed");
  const t = await csrf();
  assert.ok(t["x-csrf-token"]);
  assert.match(t.cookie, /SAP_SESSIONID_KEE_100=/);
  const tokenOnly = await call(sb.url, "POST", `${SO}/A_SalesOrder`, { body: order(), headers: { ...json, "x-csrf-token": t["x-csrf-token"] } });
  assert.equal(tokenOnly.status, 403, "the token is bound to the session cookie");
  const ok = await call(sb.url, "POST", `${SO}/A_SalesOrder`, { body: order(), headers: { ...json, ...t } });
  assert.equal(ok.status, 201);
  const head = await call(sb.url, "HEAD", `${SO}/A_SalesOrder('${ok.json.d.SalesOrder}')`, { headers: { ...basic, "x-csrf-token": "Fetch", cookie: t.cookie } });
  assert.equal(head.headers.get("x-csrf-token"), t["x-csrf-token"], "same session, same token");
  await control.expireTokens(sb.url);
  const expired = await call(sb.url, "POST", `${SO}/A_SalesOrder`, { body: order(), headers: { ...json, ...t } });
  assert.equal(expired.status, 403);
});

test("deep insert: 201 + location + {d:…} with items; numbers as strings; validation errors in V2 shape", async () => {
  const t = await csrf();
  const r = await call(sb.url, "POST", `${SO}/A_SalesOrder`, { body: order(), headers: { ...json, ...t } });
  assert.equal(r.status, 201);
  assert.equal(r.headers.get("dataserviceversion"), "2.0");
  const so = r.json.d;
  assert.match(so.SalesOrder, /^\d{10}$/);
  assert.ok(r.headers.get("location").endsWith(`${SO}/A_SalesOrder('${so.SalesOrder}')`));
  assert.equal(so.__metadata.type, "API_SALES_ORDER_SRV.A_SalesOrderType");
  assert.match(so.__metadata.etag, /^W\/"datetimeoffset'/);
  assert.match(so.LastChangeDateTime, /^\/Date\(\d+\+0000\)\/$/);
  assert.equal(so.TotalNetAmount, "171.25");
  assert.deepEqual(so.to_Item.results.map((i) => [i.SalesOrderItem, i.Material, i.RequestedQuantity]), [["10", "TG11", "5"], ["20", "TG12", "15"]]);
  const err = async (body) => {
    const x = await call(sb.url, "POST", `${SO}/A_SalesOrder`, { body, headers: { ...json, ...t } });
    assert.equal(x.status, 400);
    assert.equal(x.json.error.message.lang, "en");
    assert.ok(Array.isArray(x.json.error.innererror.errordetails));
    assert.equal(x.json.error.innererror.application.service_id, "API_SALES_ORDER_SRV");
    return x.json.error;
  };
  assert.match((await err(order({ SoldToParty: "99999999" }))).message.value, /Sold-to party 99999999/);
  assert.match((await err(order({ to_Item: [{ Material: "NOPE", RequestedQuantity: "1" }] }))).message.value, /Material NOPE does not exist/);
  assert.match((await err(order({ to_Item: [{ Material: "TG11", RequestedQuantity: 5 }] }))).message.value, /RequestedQuantity/);
  await err(order({ to_Item: [] }));
  await err(order({ SalesOrderType: undefined }));
  await err(order({ Bogus: "1" }));
});

test("a reused customer PO number still saves, with a sap-message warning", async () => {
  const t = await csrf();
  await call(sb.url, "POST", `${SO}/A_SalesOrder`, { body: order({ PurchaseOrderByCustomer: "PO-DUP" }), headers: { ...json, ...t } });
  const again = await call(sb.url, "POST", `${SO}/A_SalesOrder`, { body: order({ PurchaseOrderByCustomer: "PO-DUP" }), headers: { ...json, ...t } });
  assert.equal(again.status, 201);
  const msg = JSON.parse(again.headers.get("sap-message"));
  assert.equal(msg.severity, "warning");
  assert.match(msg.message, /PO-DUP/);
  const found = await call(sb.url, "GET", `${SO}/A_SalesOrder?$filter=${encodeURIComponent("PurchaseOrderByCustomer eq 'PO-DUP'")}&$select=SalesOrder`, { headers: json });
  assert.equal(found.json.d.results.length, 2);
});

test("reads: $filter, $top/$skip paging to the end, $inlinecount, $expand, $select, JSON only, 404", async () => {
  const t = await csrf();
  for (let i = 0; i < 4; i++) await call(sb.url, "POST", `${SO}/A_SalesOrder`, { body: order({ PurchaseOrderByCustomer: `PO-${i}` }), headers: { ...json, ...t } });
  const seen = [];
  for (let skip = 0; ; skip += 2) {
    const r = await call(sb.url, "GET", `${SO}/A_SalesOrder?$filter=${encodeURIComponent("SoldToParty eq '10100001'")}&$top=2&$skip=${skip}&$inlinecount=allpages&$orderby=SalesOrder`, { headers: json });
    assert.equal(r.json.d.__count, "5");
    seen.push(...r.json.d.results.map((o) => o.SalesOrder));
    if (r.json.d.results.length < 2) break;
  }
  assert.equal(seen.length, 5);
  assert.deepEqual([...seen].sort(), seen);
  const since = await call(sb.url, "GET", `${SO}/A_SalesOrder?$filter=${encodeURIComponent(`LastChangeDateTime gt datetimeoffset'${new Date(Date.now() + 60000).toISOString()}'`)}`, { headers: json });
  assert.equal(since.json.d.results.length, 0);
  const one = await call(sb.url, "GET", `${SO}/A_SalesOrder('${seen[0]}')?$expand=to_Item&$format=json`, { headers: basic });
  assert.equal(one.json.d.to_Item.results.length, 2);
  const deferred = await call(sb.url, "GET", `${SO}/A_SalesOrder('${seen[0]}')`, { headers: json });
  assert.ok(deferred.json.d.to_Item.__deferred.uri.endsWith("/to_Item"));
  const nav = await call(sb.url, "GET", `${SO}/A_SalesOrder('${seen[0]}')/to_Item`, { headers: json });
  assert.equal(nav.json.d.results.length, 2);
  const sel = await call(sb.url, "GET", `${SO}/A_SalesOrder?$select=SalesOrder,TotalNetAmount&$top=1`, { headers: json });
  assert.deepEqual(Object.keys(sel.json.d.results[0]).sort(), ["SalesOrder", "TotalNetAmount", "__metadata"]);
  assert.equal((await call(sb.url, "GET", `${SO}/A_SalesOrder?$select=Nope`, { headers: json })).status, 400);
  assert.equal((await call(sb.url, "GET", `${SO}/A_SalesOrder`, { headers: basic })).status, 406);
  const missing = await call(sb.url, "GET", `${SO}/A_SalesOrder('42')`, { headers: json });
  assert.equal(missing.status, 404);
  assert.equal(missing.json.error.message.lang, "en");
});

test("header update needs If-Match: 428 without, 412 stale, 204 with the ETag", async () => {
  const t = await csrf();
  const created = await call(sb.url, "POST", `${SO}/A_SalesOrder`, { body: order(), headers: { ...json, ...t } });
  const path = `${SO}/A_SalesOrder('${created.json.d.SalesOrder}')`;
  assert.equal((await call(sb.url, "PATCH", path, { body: { PurchaseOrderByCustomer: "PO-X" }, headers: { ...json, ...t } })).status, 428);
  assert.equal((await call(sb.url, "PATCH", path, { body: { PurchaseOrderByCustomer: "PO-X" }, headers: { ...json, ...t, "if-match": 'W/"nope"' } })).status, 412);
  const ok = await call(sb.url, "PATCH", path, { body: { PurchaseOrderByCustomer: "PO-X" }, headers: { ...json, ...t, "if-match": created.json.d.__metadata.etag } });
  assert.equal(ok.status, 204);
  const after = await call(sb.url, "GET", path, { headers: json });
  assert.equal(after.json.d.PurchaseOrderByCustomer, "PO-X");
  assert.notEqual(after.json.d.__metadata.etag, created.json.d.__metadata.etag);
  assert.equal((await call(sb.url, "PATCH", path, { body: { PurchaseOrderByCustomer: "PO-Y" }, headers: { ...json, ...t, "if-match": created.json.d.__metadata.etag } })).status, 412);
});

test("business partner create and billing documents read", async () => {
  const t = await csrf();
  const bp = await call(sb.url, "POST", `${BP}/A_BusinessPartner`, { body: { BusinessPartnerCategory: "2", OrganizationBPName1: "Hooli", SearchTerm1: "HOOLI", to_BusinessPartnerRole: { results: [{ BusinessPartnerRole: "FLCU01" }] } }, headers: { ...json, ...t } });
  assert.equal(bp.status, 201);
  assert.equal(bp.json.d.Customer, bp.json.d.BusinessPartner);
  const cust = await call(sb.url, "GET", `${BP}/A_Customer('${bp.json.d.Customer}')`, { headers: json });
  assert.equal(cust.json.d.CustomerName, "Hooli");
  const viaNav = await call(sb.url, "GET", `${BP}/A_BusinessPartner('${bp.json.d.BusinessPartner}')?$expand=to_Customer`, { headers: json });
  assert.equal(viaNav.json.d.to_Customer.Customer, bp.json.d.Customer, "a 0..1 navigation expands to an object");
  assert.equal((await call(sb.url, "GET", `${BP}/A_BusinessPartner('${bp.json.d.BusinessPartner}')/to_Customer`, { headers: json })).json.d.CustomerName, "Hooli");
  const so = await call(sb.url, "POST", `${SO}/A_SalesOrder`, { body: order({ SoldToParty: bp.json.d.Customer }), headers: { ...json, ...t } });
  assert.equal(so.status, 201, "the new customer can order");
  assert.equal((await call(sb.url, "POST", `${BP}/A_BusinessPartner`, { body: { BusinessPartnerCategory: "2" }, headers: { ...json, ...t } })).status, 400);
  const seeded = await call(sb.url, "POST", "/__sandbox/records/A_BillingDocument", { body: { SalesOrder: so.json.d.SalesOrder } });
  assert.equal(seeded.status, 201);
  const docs = await call(sb.url, "GET", `${BILL}/A_BillingDocument?$filter=${encodeURIComponent(`SoldToParty eq '${bp.json.d.Customer}'`)}&$expand=to_Item`, { headers: json });
  assert.equal(docs.json.d.results.length, 1);
  assert.equal(docs.json.d.results[0].to_Item.results[0].ReferenceSDDocument, so.json.d.SalesOrder);
  assert.equal(docs.json.d.results[0].TotalNetAmount, "171.25");
});

test("$batch: needs CSRF; a changeset is atomic, later parts still run", async () => {
  const part = (line, body) => ["Content-Type: application/http", "Content-Transfer-Encoding: binary", "", line, "Content-Type: application/json", "Accept: application/json", "", body ? JSON.stringify(body) : ""].join("\r\n");
  const envelope = (b, parts) => parts.map((p) => `--${b}\r\n${p}\r\n`).join("") + `--${b}--\r\n`;
  const changeset = (b, parts) => `Content-Type: multipart/mixed; boundary=${b}\r\n\r\n${envelope(b, parts)}`;
  const body = envelope("batch_s", [
    changeset("cs_bad", [part("POST A_SalesOrder HTTP/1.1", order({ PurchaseOrderByCustomer: "PO-B1" })), part("POST A_SalesOrder HTTP/1.1", order({ SoldToParty: "1" }))]),
    changeset("cs_ok", [part("POST A_SalesOrder HTTP/1.1", order({ PurchaseOrderByCustomer: "PO-B2" }))]),
    part("GET A_SalesOrder?$filter=PurchaseOrderByCustomer%20eq%20'PO-B2'&$select=SalesOrder HTTP/1.1"),
  ]);
  const headers = { ...basic, "content-type": "multipart/mixed; boundary=batch_s" };
  assert.equal((await call(sb.url, "POST", `${SO}/$batch`, { body, headers })).status, 403, "CSRF applies to $batch");
  const r = await call(sb.url, "POST", `${SO}/$batch`, { body, headers: { ...headers, ...(await csrf()) } });
  assert.equal(r.status, 200);
  assert.match(r.headers.get("content-type"), /^multipart\/mixed; boundary=batchresponse_/);
  assert.match(r.text, /HTTP\/1\.1 400 Bad Request[\s\S]*Sold-to party 1 /);
  assert.match(r.text, /HTTP\/1\.1 201 Created\r\nDataServiceVersion: 2\.0\r\nLocation: /);
  assert.match(r.text, /HTTP\/1\.1 200 OK[\s\S]*"results":\[\{/);
  const pos = (await control.records(sb.url, "A_SalesOrder")).map((o) => o.PurchaseOrderByCustomer);
  assert.ok(pos.includes("PO-B2"));
  assert.ok(!pos.includes("PO-B1"), "the failed changeset was rolled back");
});

test("rate limit (spike arrest) and injected faults", async () => {
  await control.limits(sb.url, { requestsPerSecond: 1 });
  assert.equal((await call(sb.url, "GET", `${SO}/A_SalesOrder?$top=1`, { headers: json })).status, 200);
  const r = await call(sb.url, "GET", `${SO}/A_SalesOrder?$top=1`, { headers: json });
  assert.equal(r.status, 429);
  assert.equal(r.json.fault.detail.errorcode, "policies.ratelimit.SpikeArrestViolation");
  await control.reset(sb.url);
  await control.faults(sb.url, [{ kind: "error", count: 1 }, { kind: "html-502", count: 1 }]);
  const h = await call(sb.url, "GET", `${SO}/A_SalesOrder?$top=1`, { headers: json });
  assert.equal(h.status, 502, "the proxy page comes first");
  const e = await call(sb.url, "GET", `${SO}/A_SalesOrder?$top=1`, { headers: json });
  assert.equal(e.status, 500);
  assert.equal(e.json.error.message.lang, "en");
});
