"use strict";
const { test, before, after, beforeEach } = require("node:test");
const assert = require("node:assert/strict");
const { start } = require("../../dist/sandbox/hubspot.js");
const { call, control } = require("./helpers.js");

let sb;
const PAT = { authorization: "Bearer pat-test" };
const hs = (method, path, body, headers = PAT) => call(sb.url, method, path, { body, headers });

before(async () => {
  sb = await start({ privateAppTokens: ["pat-test"], clientId: "cid", clientSecret: "cs", refreshTokens: ["rt-1"] });
});
after(() => sb.close());
beforeEach(() => control.reset(sb.url));

test("auth: private-app token, OAuth refresh grant, expiry, missing credentials", async () => {
  const none = await hs("GET", "/crm/v3/objects/companies", undefined, {});
  assert.equal(none.status, 401);
  assert.equal(none.json.status, "error");
  assert.equal(none.json.category, "INVALID_AUTHENTICATION");
  assert.match(none.json.correlationId, /^[0-9a-f-]{36}$/);
  const bad = await call(sb.url, "POST", "/oauth/v1/token", { form: { grant_type: "refresh_token", client_id: "cid", client_secret: "cs", refresh_token: "nope" } });
  assert.deepEqual([bad.status, bad.json.status], [400, "BAD_REFRESH_TOKEN"]);
  const wrongClient = await call(sb.url, "POST", "/oauth/v1/token", { form: { grant_type: "refresh_token", client_id: "x", client_secret: "cs", refresh_token: "rt-1" } });
  assert.equal(wrongClient.json.status, "BAD_CLIENT_ID");
  const tok = await call(sb.url, "POST", "/oauth/v1/token", { form: { grant_type: "refresh_token", client_id: "cid", client_secret: "cs", refresh_token: "rt-1" } });
  assert.equal(tok.status, 200);
  assert.equal(tok.json.token_type, "bearer");
  assert.equal(tok.json.expires_in, 1800);
  assert.equal(tok.json.refresh_token, "rt-1");
  const oauth = { authorization: `Bearer ${tok.json.access_token}` };
  const ok = await hs("GET", "/crm/v3/objects/companies", undefined, oauth);
  assert.equal(ok.status, 200);
  assert.equal(ok.headers.get("x-hubspot-ratelimit-daily"), null, "OAuth calls carry no daily headers");
  assert.equal(ok.headers.get("x-hubspot-ratelimit-max"), "190");
  await control.expireTokens(sb.url);
  const expired = await hs("GET", "/crm/v3/objects/companies", undefined, oauth);
  assert.equal(expired.status, 401);
  assert.equal(expired.json.category, "EXPIRED_AUTHENTICATION");
  assert.equal((await hs("GET", "/crm/v3/objects/companies")).status, 200, "private-app tokens do not expire");
});

test("OAuth token lifetime: expires_in follows the limit and the token lapses", async () => {
  // Long enough that the first call lands inside the lifetime on a loaded machine; the wait runs from before issue.
  await control.limits(sb.url, { tokenLifetimeSeconds: 1.5 });
  const issuedBy = Date.now();
  const tok = await call(sb.url, "POST", "/oauth/v1/token", { form: { grant_type: "refresh_token", client_id: "cid", client_secret: "cs", refresh_token: "rt-1" } });
  assert.equal(tok.json.expires_in, 1.5);
  const oauth = { authorization: `Bearer ${tok.json.access_token}` };
  assert.equal((await hs("GET", "/crm/v3/objects/companies", undefined, oauth)).status, 200);
  await new Promise((r) => setTimeout(r, Math.max(0, issuedBy + 1600 - Date.now())));
  assert.equal((await hs("GET", "/crm/v3/objects/companies", undefined, oauth)).json.category, "EXPIRED_AUTHENTICATION");
});

test("company create, get, update; property validation; unique property conflict", async () => {
  const c = await hs("POST", "/crm/v3/objects/companies", { properties: { name: "Hooli", domain: "hooli.example", erp_customer_id: "C-7" } });
  assert.equal(c.status, 201);
  assert.match(c.json.id, /^\d+$/);
  assert.equal(c.json.properties.hs_object_id, c.json.id);
  assert.equal(c.json.archived, false);
  assert.ok(c.json.createdAt && c.json.updatedAt);
  const bad = await hs("POST", "/crm/v3/objects/companies", { properties: { name: "X", nope: "1" } });
  assert.equal(bad.status, 400);
  assert.equal(bad.json.category, "VALIDATION_ERROR");
  assert.match(bad.json.message, /^Property values were not valid: \[/);
  assert.equal(JSON.parse(bad.json.message.slice("Property values were not valid: ".length))[0].error, "PROPERTY_DOESNT_EXIST");
  const dup = await hs("POST", "/crm/v3/objects/companies", { properties: { name: "Again", erp_customer_id: "C-7" } });
  assert.equal(dup.status, 409);
  assert.equal(dup.json.category, "CONFLICT");
  const got = await hs("GET", `/crm/v3/objects/companies/${c.json.id}?properties=name,erp_customer_id`);
  assert.deepEqual(got.json.properties, { name: "Hooli", erp_customer_id: "C-7" });
  const byKey = await hs("GET", `/crm/v3/objects/companies/C-7?idProperty=erp_customer_id`);
  assert.equal(byKey.json.id, c.json.id);
  const upd = await hs("PATCH", `/crm/v3/objects/companies/${c.json.id}`, { properties: { phone: 12345 } });
  assert.equal(upd.status, 200);
  assert.equal(upd.json.properties.phone, "12345", "values come back as strings");
  const missing = await hs("GET", "/crm/v3/objects/companies/1");
  assert.deepEqual([missing.status, missing.json.category], [404, "OBJECT_NOT_FOUND"]);
  assert.equal((await hs("POST", "/crm/v3/objects/companies", "{oops")).json.category, "VALIDATION_ERROR");
});

test("list pages with the after cursor to the end", async () => {
  await call(sb.url, "POST", "/__sandbox/records/companies", { body: Array.from({ length: 9 }, (_, i) => ({ properties: { name: `Co ${i}` } })) });
  const seen = [];
  let path = "/crm/v3/objects/companies?limit=5&properties=name";
  let pages = 0;
  for (;;) {
    const r = await hs("GET", path);
    assert.equal(r.status, 200);
    pages++;
    seen.push(...r.json.results.map((c) => c.id));
    if (!r.json.paging) break;
    assert.match(r.json.paging.next.link, /after=/);
    path = `/crm/v3/objects/companies?limit=5&properties=name&after=${r.json.paging.next.after}`;
  }
  assert.equal(pages, 3);
  assert.equal(seen.length, 12);
  assert.equal(new Set(seen).size, 12);
});

test("batch upsert by a unique idProperty: 200 with new flags, 207 with errors, non-unique and size refused", async () => {
  const first = await hs("POST", "/crm/v3/objects/companies/batch/upsert", {
    inputs: [
      { idProperty: "erp_customer_id", id: "C-1001", properties: { name: "Globex AG" } },
      { idProperty: "erp_customer_id", id: "C-2002", properties: { name: "Soylent" } },
    ],
  });
  assert.equal(first.status, 200);
  assert.equal(first.json.status, "COMPLETE");
  assert.deepEqual(first.json.results.map((r) => [r.new, r.properties.erp_customer_id]), [[false, "C-1001"], [true, "C-2002"]]);
  const again = await hs("POST", "/crm/v3/objects/companies/batch/upsert", { inputs: [{ idProperty: "erp_customer_id", id: "C-2002", properties: { name: "Soylent" } }] });
  assert.equal(again.json.results[0].new, false);
  assert.equal((await control.records(sb.url, "companies")).filter((c) => c.properties.erp_customer_id === "C-2002").length, 1);
  const partial = await hs("POST", "/crm/v3/objects/companies/batch/upsert", {
    inputs: [
      { idProperty: "erp_customer_id", id: "C-3", properties: { name: "ok" } },
      { idProperty: "erp_customer_id", id: "C-4", properties: { bogus: "x" }, objectWriteTraceId: "t-4" },
    ],
  });
  assert.equal(partial.status, 207);
  assert.equal(partial.json.numErrors, 1);
  assert.equal(partial.json.errors[0].category, "VALIDATION_ERROR");
  assert.deepEqual(partial.json.errors[0].context.objectWriteTraceId, ["t-4"]);
  const nonUnique = await hs("POST", "/crm/v3/objects/companies/batch/upsert", { inputs: [{ idProperty: "domain", id: "x.example", properties: {} }] });
  assert.equal(nonUnique.status, 400);
  assert.match(nonUnique.json.message, /non-unique 0-2 property domain/);
  await control.limits(sb.url, { batchMaxInputs: 1 });
  const big = await hs("POST", "/crm/v3/objects/companies/batch/upsert", { inputs: [{ idProperty: "erp_customer_id", id: "a" }, { idProperty: "erp_customer_id", id: "b" }] });
  assert.equal(big.status, 400);
});

test("search with filter groups, sorts and after paging", async () => {
  const r = await hs("POST", "/crm/v3/objects/companies/search", { filterGroups: [{ filters: [{ propertyName: "domain", operator: "EQ", value: "ACME.example" }] }], properties: ["name"] });
  assert.equal(r.status, 200);
  assert.equal(r.json.total, 1);
  assert.equal(r.json.results[0].properties.name, "Acme Corporation");
  assert.equal(r.headers.get("x-hubspot-ratelimit-remaining"), null, "search carries only the correlation id");
  assert.ok(r.headers.get("x-hubspot-correlation-id"));
  const either = await hs("POST", "/crm/v3/objects/companies/search", {
    filterGroups: [{ filters: [{ propertyName: "country", operator: "EQ", value: "Germany" }] }, { filters: [{ propertyName: "city", operator: "IN", values: ["London"] }] }],
    sorts: [{ propertyName: "name", direction: "DESCENDING" }],
    limit: 1,
  });
  assert.equal(either.json.total, 2);
  assert.equal(either.json.results[0].properties.name, "Initech Ltd");
  assert.equal(either.json.paging.next.after, "1");
  const page2 = await hs("POST", "/crm/v3/objects/companies/search", { filterGroups: [{ filters: [{ propertyName: "country", operator: "EQ", value: "Germany" }] }, { filters: [{ propertyName: "city", operator: "IN", values: ["London"] }] }], sorts: [{ propertyName: "name", direction: "DESCENDING" }], limit: 1, after: "1" });
  assert.equal(page2.json.results[0].properties.name, "Globex GmbH");
  assert.equal(page2.json.paging, undefined);
  const since = await hs("POST", "/crm/v3/objects/companies/search", { filterGroups: [{ filters: [{ propertyName: "hs_lastmodifieddate", operator: "GTE", value: String(Date.now() + 60_000) }] }] });
  assert.equal(since.json.total, 0);
  const badProp = await hs("POST", "/crm/v3/objects/companies/search", { filterGroups: [{ filters: [{ propertyName: "nope", operator: "EQ", value: "x" }] }] });
  assert.equal(badProp.status, 400);
});

test("deals with associated line items and company: v3 associations, v4 endpoints, batch read", async () => {
  const deals = await hs("GET", "/crm/v3/objects/deals?properties=dealname,dealstage&associations=line_items,companies");
  const won = deals.json.results.find((d) => d.properties.dealstage === "closedwon");
  assert.ok(won.associations.companies.results[0].id);
  assert.equal(won.associations.companies.results[0].type, "deal_to_company");
  const lineIds = won.associations["line items"].results.map((x) => x.id);
  assert.equal(lineIds.length, 1);
  const v4 = await hs("GET", `/crm/v4/objects/deals/${won.id}/associations/line_items`);
  assert.equal(v4.json.results[0].toObjectId, Number(lineIds[0]));
  assert.equal(v4.json.results[0].associationTypes[0].typeId, 19);
  const read = await hs("POST", "/crm/v3/objects/line_items/batch/read", { inputs: [{ id: lineIds[0] }, { id: "404404" }], properties: ["quantity", "price", "amount", "hs_sku"] });
  assert.equal(read.status, 207);
  assert.deepEqual(read.json.results[0].properties.amount, "999.5");
  assert.deepEqual(read.json.errors[0].context.ids, ["404404"]);
  const line = await hs("POST", "/crm/v3/objects/line_items", { properties: { name: "Extra", quantity: 2, price: 5 }, associations: [{ to: { id: won.id }, types: [{ associationCategory: "HUBSPOT_DEFINED", associationTypeId: 20 }] }] });
  assert.equal(line.status, 201);
  const after = await hs("GET", `/crm/v3/objects/deals/${won.id}?associations=line_items`);
  assert.equal(after.json.associations["line items"].results.length, 2);
  const badAssoc = await hs("POST", "/crm/v3/objects/line_items", { properties: { name: "x" }, associations: [{ to: { id: "1" }, types: [{ associationCategory: "HUBSPOT_DEFINED", associationTypeId: 20 }] }] });
  assert.equal(badAssoc.status, 400);
  const lineCount = (await control.records(sb.url, "line_items")).length;
  assert.equal(lineCount, 3, "failed create with a bad association is rolled back");
  const newDeal = await hs("POST", "/crm/v3/objects/deals", { properties: { dealname: "D" } });
  const put = await hs("PUT", `/crm/v4/objects/deals/${newDeal.json.id}/associations/default/companies/${won.associations.companies.results[0].id}`);
  assert.equal(put.status, 200);
  const check = await hs("GET", `/crm/v3/objects/deals/${newDeal.json.id}?associations=companies`);
  assert.equal(check.json.associations.companies.results.length, 1);
});

test("ten-secondly limit: 429 TEN_SECONDLY_ROLLING with rate-limit headers", async () => {
  await control.limits(sb.url, { tenSecondlyRequests: 3 });
  const statuses = [];
  let last;
  for (let i = 0; i < 5; i++) {
    last = await hs("GET", "/crm/v3/objects/companies");
    statuses.push(last.status);
  }
  assert.deepEqual(statuses, [200, 200, 200, 429, 429]);
  assert.equal(last.json.policyName, "TEN_SECONDLY_ROLLING");
  assert.equal(last.json.errorType, "RATE_LIMIT");
  assert.equal(last.headers.get("x-hubspot-ratelimit-max"), "3");
  assert.equal(last.headers.get("x-hubspot-ratelimit-remaining"), "0");
  assert.equal(last.headers.get("x-hubspot-ratelimit-interval-milliseconds"), "10000");
});

test("daily limit: 429 DAILY", async () => {
  await control.limits(sb.url, { dailyRequests: 2 });
  await hs("GET", "/crm/v3/objects/companies");
  const second = await hs("GET", "/crm/v3/objects/companies");
  assert.equal(second.headers.get("x-hubspot-ratelimit-daily-remaining"), "0");
  const r = await hs("GET", "/crm/v3/objects/companies");
  assert.equal(r.status, 429);
  assert.equal(r.json.policyName, "DAILY");
});

test("search per-second limit and injected faults use HubSpot's envelope", async () => {
  await control.limits(sb.url, { searchPerSecond: 1 });
  assert.equal((await hs("POST", "/crm/v3/objects/companies/search", {})).status, 200);
  assert.equal((await hs("POST", "/crm/v3/objects/companies/search", {})).status, 429);
  await control.faults(sb.url, [{ kind: "error", count: 1 }, { kind: "throttle", count: 1, path: "/crm/v3/objects/deals" }]);
  const e = await hs("GET", "/crm/v3/objects/deals");
  assert.equal(e.status, 500);
  assert.equal(e.json.status, "error");
  const t = await hs("GET", "/crm/v3/objects/deals");
  assert.equal(t.status, 429);
  assert.equal(t.json.policyName, "TEN_SECONDLY_ROLLING");
  const stats = await control.stats(sb.url);
  assert.equal(stats.routes["GET /crm/v3/objects/:objectType"].statuses["429"], 1);
});
