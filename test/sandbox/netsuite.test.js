"use strict";
const { test, before, after, beforeEach } = require("node:test");
const assert = require("node:assert/strict");
const crypto = require("node:crypto");
const { start } = require("../../dist/sandbox/netsuite.js");
const { call, control } = require("./helpers.js");

const rsa = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
const ec = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
const TBA = { consumerKey: "ck", consumerSecret: "cs", tokenId: "tk", tokenSecret: "ts" };
const REC = "/services/rest/record/v1";
let sb;
let auth;

function assertion({ alg = "PS256", kid = "rsa-cert", key = rsa.privateKey, claims = {} } = {}) {
  const enc = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const now = Math.floor(Date.now() / 1000);
  const input = `${enc({ typ: "JWT", alg, kid })}.${enc({ iss: "cid", scope: ["rest_webservices"], aud: `${sb.url}/services/rest/auth/oauth2/v1/token`, iat: now, exp: now + 3000, ...claims })}`;
  let sig;
  if (alg.startsWith("PS")) sig = crypto.sign("sha256", Buffer.from(input), { key, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: crypto.constants.RSA_PSS_SALTLEN_DIGEST });
  else if (alg.startsWith("ES")) sig = crypto.sign("sha256", Buffer.from(input), { key, dsaEncoding: "ieee-p1363" });
  else sig = crypto.sign("RSA-SHA256", Buffer.from(input), key);
  return `${input}.${sig.toString("base64url")}`;
}
const tokenCall = (client_assertion) =>
  call(sb.url, "POST", "/services/rest/auth/oauth2/v1/token", { form: { grant_type: "client_credentials", client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", client_assertion } });

// OAuth 1.0a HMAC-SHA256, written from RFC 5849 for the test.
function tbaHeader(method, url, { realm = "1234567_SB1", secret = TBA.consumerSecret, nonce = crypto.randomBytes(8).toString("hex"), timestamp = Math.floor(Date.now() / 1000) } = {}) {
  const enc = (s) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());
  const u = new URL(url);
  const oauth = { oauth_consumer_key: TBA.consumerKey, oauth_token: TBA.tokenId, oauth_signature_method: "HMAC-SHA256", oauth_timestamp: String(timestamp), oauth_nonce: nonce, oauth_version: "1.0" };
  const params = [...Object.entries(oauth), ...u.searchParams].map(([k, v]) => [enc(k), enc(v)]).sort((a, b) => (a[0] === b[0] ? (a[1] < b[1] ? -1 : 1) : a[0] < b[0] ? -1 : 1));
  const base = [method, enc(`${u.protocol}//${u.host}${u.pathname}`), enc(params.map(([k, v]) => `${k}=${v}`).join("&"))].join("&");
  const sig = crypto.createHmac("sha256", `${enc(secret)}&${enc(TBA.tokenSecret)}`).update(base).digest("base64");
  return `OAuth realm="${realm}", ${Object.entries({ ...oauth, oauth_signature: sig }).map(([k, v]) => `${k}="${enc(v)}"`).join(", ")}`;
}

const ns = (method, path, body, headers = {}) => call(sb.url, method, path.startsWith("/services") ? path : REC + path, { body, headers: { ...auth, ...headers } });
const idFrom = (r) => r.headers.get("location").split("/").pop();

before(async () => {
  sb = await start({
    clientId: "cid",
    tba: TBA,
    m2mCertificates: { "rsa-cert": rsa.publicKey.export({ type: "spki", format: "pem" }), "ec-cert": ec.publicKey.export({ type: "spki", format: "pem" }) },
  });
});
after(() => sb.close());
beforeEach(async () => {
  await control.reset(sb.url);
  auth = { authorization: `Bearer ${(await tokenCall(assertion())).json.access_token}` };
});

test("OAuth 2.0 M2M: PS256 and ES256 assertions accepted; RS256, wrong key, kid, iss, scope, aud, lifetime refused", async () => {
  const ok = await tokenCall(assertion());
  assert.equal(ok.status, 200);
  assert.equal(ok.json.token_type, "Bearer");
  assert.equal(ok.json.expires_in, "3600");
  assert.equal(ok.json.refresh_token, undefined);
  assert.equal((await tokenCall(assertion({ alg: "ES256", kid: "ec-cert", key: ec.privateKey }))).status, 200);
  const refused = async (opts) => (await tokenCall(assertion(opts))).status;
  assert.equal(await refused({ alg: "RS256" }), 400);
  assert.equal(await refused({ key: crypto.generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey }), 400);
  assert.equal(await refused({ kid: "unknown" }), 400);
  assert.equal(await refused({ claims: { iss: "other" } }), 400);
  assert.equal(await refused({ claims: { scope: "restlets" } }), 400);
  assert.equal(await refused({ claims: { aud: "https://elsewhere/token" } }), 400);
  const now = Math.floor(Date.now() / 1000);
  assert.equal(await refused({ claims: { iat: now, exp: now + 7200 } }), 400);
  assert.equal(await refused({ claims: { iat: now - 100, exp: now - 10 } }), 400);
  assert.equal((await tokenCall("garbage")).json.error, "invalid_request");
});

test("401 INVALID_LOGIN without or with an expired token", async () => {
  const none = await call(sb.url, "GET", REC + "/customer");
  assert.equal(none.status, 401);
  assert.equal(none.json.title, "Unauthorized");
  assert.equal(none.json["o:errorDetails"][0]["o:errorCode"], "INVALID_LOGIN");
  await control.expireTokens(sb.url);
  assert.equal((await ns("GET", "/customer")).status, 401);
});

test("TBA: HMAC-SHA256 signature checked, including query parameters; replayed nonce and bad secret refused", async () => {
  const url = `${sb.url}${REC}/customer?limit=1`;
  const header = tbaHeader("GET", url);
  const ok = await call(sb.url, "GET", `${REC}/customer?limit=1`, { headers: { authorization: header } });
  assert.equal(ok.status, 200);
  const replay = await call(sb.url, "GET", `${REC}/customer?limit=1`, { headers: { authorization: header } });
  assert.equal(replay.status, 401, "nonce reuse");
  assert.equal((await call(sb.url, "GET", `${REC}/customer?limit=1`, { headers: { authorization: tbaHeader("GET", url, { secret: "nope" }) } })).status, 401);
  assert.equal((await call(sb.url, "GET", `${REC}/customer?limit=2`, { headers: { authorization: tbaHeader("GET", url) } })).status, 401, "query is signed");
  assert.equal((await call(sb.url, "GET", `${REC}/customer?limit=1`, { headers: { authorization: tbaHeader("GET", url, { realm: "OTHER" }) } })).status, 401);
  assert.equal((await call(sb.url, "GET", `${REC}/customer?limit=1`, { headers: { authorization: tbaHeader("GET", url, { timestamp: Math.floor(Date.now() / 1000) - 3600 }) } })).status, 401);
});

test("customer create → 204 + Location; required fields; GET shows refs with refName", async () => {
  const r = await ns("POST", "/customer", { entityid: "New Customer", companyname: "My Company", subsidiary: { id: "1" } });
  assert.equal(r.status, 204);
  assert.equal(r.text, "");
  assert.match(r.headers.get("location"), /\/services\/rest\/record\/v1\/customer\/\d+$/);
  const got = await ns("GET", `/customer/${idFrom(r)}`);
  assert.equal(got.json.companyName, "My Company");
  assert.equal(got.json.entityId, "New Customer");
  assert.equal(got.json.subsidiary.refName, "Parent Company");
  assert.equal(got.json.links[0].rel, "self");
  const missing = await ns("POST", "/customer", { email: "x@y.z" });
  assert.equal(missing.status, 400);
  assert.equal(missing.json["o:errorDetails"][0]["o:errorCode"], "USER_ERROR");
  assert.match(missing.json["o:errorDetails"][0].detail, /Please enter value\(s\) for: Company Name, Subsidiary/);
  const badRef = await ns("POST", "/customer", { companyName: "x", subsidiary: { id: "99" } });
  assert.equal(badRef.json["o:errorDetails"][0]["o:errorCode"], "INVALID_CONTENT");
  assert.equal(badRef.json["o:errorDetails"][0]["o:errorPath"], "subsidiary");
  assert.equal((await ns("GET", "/customer/999999")).status, 404);
});

test("PUT eid: upsert creates once, then updates; PATCH by id", async () => {
  const a = await ns("PUT", "/customer/eid:CID002", { companyName: "Eid Co", subsidiary: { id: "1" } });
  assert.equal(a.status, 204);
  const b = await ns("PUT", "/customer/eid:CID002", { phone: "555" });
  assert.equal(b.status, 204);
  assert.equal(idFrom(a), idFrom(b));
  const all = (await control.records(sb.url, "customer")).filter((c) => c.externalId === "CID002");
  assert.equal(all.length, 1);
  assert.equal(all[0].phone, "555");
  assert.equal((await ns("PATCH", `/customer/${idFrom(a)}`, { email: "e@x.example" })).status, 204);
  assert.equal((await ns("GET", "/customer/eid:CID002")).json.email, "e@x.example");
  assert.equal((await ns("PUT", `/customer/${idFrom(a)}`, { phone: "1" })).status, 405);
});

test("sales order: lines, invalid item path, expandSubResources, transform to invoice and payment", async () => {
  const cust = (await ns("GET", "/customer?q=" + encodeURIComponent('companyName START_WITH "Globex"'))).json.items[0].id;
  const bad = await ns("POST", "/salesOrder", { entity: { id: cust }, item: { items: [{ item: { id: 9999 }, quantity: 2 }] } });
  assert.equal(bad.status, 400);
  assert.deepEqual(bad.json["o:errorDetails"][0]["o:errorPath"], "item.items[0].item");
  assert.match(bad.json["o:errorDetails"][0].detail, /Invalid Field Value 9999 for the following field: item/);
  const items = await ns("POST", "/services/rest/query/v1/suiteql", { q: "SELECT id, itemid FROM item WHERE itemid = 'GAD-2'" }, { prefer: "transient" });
  const gadget = items.json.items[0].id;
  const so = await ns("POST", "/salesOrder", { entity: { id: cust }, otherRefNum: "PO-1", item: { items: [{ item: { id: gadget }, quantity: 2, rate: 10 }] } });
  assert.equal(so.status, 204);
  const soId = idFrom(so);
  const plain = await ns("GET", `/salesOrder/${soId}`);
  assert.deepEqual(Object.keys(plain.json.item), ["links"]);
  assert.equal(plain.json.total, 20);
  const full = await ns("GET", `/salesOrder/${soId}?expandSubResources=true`);
  assert.equal(full.json.item.items[0].item.refName, "GAD-2");
  assert.equal(full.json.item.items[0].amount, 20);
  assert.match(full.json.tranId, /^SO\d+$/);
  const inv = await ns("POST", `/salesOrder/${soId}/!transform/invoice`, {});
  assert.equal(inv.status, 204);
  const invoice = await ns("GET", `/invoice/${idFrom(inv)}`);
  assert.equal(invoice.json.amountRemaining, 20);
  assert.equal(invoice.json.status.refName, "Open");
  assert.equal(invoice.json.createdFrom.id, soId);
  const pay = await ns("POST", `/invoice/${idFrom(inv)}/!transform/customerPayment`, { payment: 20 });
  assert.equal(pay.status, 204);
  assert.equal((await ns("GET", `/invoice/${idFrom(inv)}`)).json.status.refName, "Paid In Full");
  assert.equal((await ns("POST", `/invoice/${idFrom(inv)}/!transform/customerPayment`, { payment: 1 })).status, 400);
});

test("list with q and links paging to the end", async () => {
  await call(sb.url, "POST", "/__sandbox/records/customer", { body: Array.from({ length: 5 }, (_, i) => ({ companyName: `Bulk ${i}`, subsidiary: { id: "1" } })) });
  let r = await ns("GET", "/customer?limit=3");
  const ids = [];
  let pages = 0;
  for (;;) {
    pages++;
    assert.equal(r.status, 200);
    ids.push(...r.json.items.map((i) => i.id));
    const next = r.json.links.find((l) => l.rel === "next");
    if (!r.json.hasMore) {
      assert.equal(next, undefined);
      break;
    }
    r = await call(sb.url, "GET", next.href.slice(sb.url.length), { headers: auth });
  }
  assert.equal(pages, 3);
  assert.equal(ids.length, 7);
  assert.equal(r.json.totalResults, 7);
  const q = await ns("GET", "/customer?q=" + encodeURIComponent('companyName CONTAIN "bulk" AND companyName IS_NOT "Bulk 0"'));
  assert.equal(q.json.totalResults, 4);
  const orQ = await ns("GET", "/customer?q=" + encodeURIComponent('companyName IS "Bulk 0" OR companyName IS "Bulk 1"'));
  assert.equal(orQ.json.totalResults, 2);
  const since = await ns("GET", "/invoice?q=" + encodeURIComponent(`lastModifiedDate ON_OR_AFTER "${new Date(Date.now() - 60000).toISOString()}"`));
  assert.equal(since.json.totalResults, 2);
  assert.equal((await ns("GET", "/customer?q=nope IS 1")).status, 400);
  assert.equal((await ns("GET", "/customer?limit=5000")).status, 400);
});

test("SuiteQL: transient header, filters, paging, unknown table/column", async () => {
  const q = (text, path = "/services/rest/query/v1/suiteql") => ns("POST", path, { q: text }, { prefer: "transient" });
  const inv = await q("SELECT id, tranid, foreigntotal, foreignamountremaining, trandate FROM transaction WHERE type = 'CustInvc' AND foreignamountremaining > 0 ORDER BY id");
  assert.equal(inv.status, 200);
  assert.equal(inv.json.totalResults, 1);
  assert.equal(typeof inv.json.items[0].foreigntotal, "string");
  assert.match(inv.json.items[0].trandate, /^\d{1,2}\/\d{1,2}\/\d{4}$/);
  const paged = await q("SELECT * FROM item ORDER BY itemid DESC", "/services/rest/query/v1/suiteql?limit=2&offset=0");
  assert.equal(paged.json.count, 2);
  assert.equal(paged.json.hasMore, true);
  assert.equal(paged.json.items[0].itemid, "WID-1");
  const dated = await q("SELECT id FROM transaction WHERE lastmodifieddate >= TO_DATE('2020-01-01', 'YYYY-MM-DD')");
  assert.equal(dated.json.totalResults, 3);
  const later = await q(`SELECT id FROM transaction WHERE lastmodifieddate > TO_TIMESTAMP('${new Date(Date.now() + 1000).toISOString()}')`);
  assert.equal(later.json.totalResults, 0, "compared by timestamp, not by the shown day");
  assert.equal((await q("SELECT id FROM nothing")).status, 400);
  assert.equal((await q("SELECT nope FROM customer")).status, 400);
  assert.equal((await ns("POST", "/services/rest/query/v1/suiteql", { q: "SELECT id FROM customer" })).status, 400, "Prefer: transient missing");
});

test("async with idempotency key: 202 + job, duplicate key → 400 Conflict IDEMPOTENCY_ERROR", async () => {
  const headers = { prefer: "respond-async", "x-netsuite-idempotency-key": crypto.randomUUID() };
  const body = { companyName: "Async Co", subsidiary: { id: "1" } };
  const r = await ns("POST", "/customer", body, headers);
  assert.equal(r.status, 202);
  const jobPath = new URL(r.headers.get("location")).pathname;
  assert.match(jobPath, /^\/services\/rest\/async\/v1\/job\/\d+$/);
  const dup = await ns("POST", "/customer", body, headers);
  assert.equal(dup.status, 400);
  assert.equal(dup.json.title, "Conflict");
  assert.equal(dup.json["o:errorDetails"][0]["o:errorCode"], "IDEMPOTENCY_ERROR");
  assert.equal(new URL(dup.headers.get("location")).pathname, jobPath);
  await new Promise((res) => setTimeout(res, 20));
  const job = await ns("GET", jobPath);
  assert.equal(job.json.progress, "succeeded");
  assert.equal(job.json.completed, true);
  const task = (await ns("GET", `${jobPath}/task`)).json.items[0].id;
  const result = await ns("GET", `${jobPath}/task/${task}/result`);
  assert.equal(result.status, 204);
  assert.match(result.headers.get("location"), /\/customer\/\d+$/);
  assert.equal((await control.records(sb.url, "customer")).filter((c) => c.companyName === "Async Co").length, 1);
});

test("account concurrency limit → 429; injected faults use o:errorDetails", async () => {
  await control.limits(sb.url, { concurrentRequests: 2 });
  await control.faults(sb.url, [{ kind: "latency", ms: 100, path: "/services/rest/record/*" }]);
  const results = await Promise.all([1, 2, 3].map(() => ns("GET", "/customer")));
  const refused = results.filter((r) => r.status === 429);
  assert.equal(refused.length, 1);
  assert.equal(refused[0].json.title, "Too Many Requests");
  await control.clearFaults(sb.url);
  await control.faults(sb.url, [{ kind: "error", count: 1 }, { kind: "throttle", count: 1 }]);
  const e = await ns("GET", "/customer");
  assert.equal(e.status, 500);
  assert.ok(e.json["o:errorDetails"]);
  assert.equal((await ns("GET", "/customer")).status, 429);
  assert.equal((await ns("GET", "/nothingHere")).status, 404);
});
