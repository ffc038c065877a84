"use strict";
const { test, before, after, beforeEach } = require("node:test");
const assert = require("node:assert/strict");
const crypto = require("node:crypto");
const { start } = require("../../dist/sandbox/salesforce.js");
const { call, control } = require("./helpers.js");

const { publicKey, privateKey } = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
const V = "/services/data/v62.0";
let sb;
let auth;

function jwt(claims, key = privateKey, alg = "RS256") {
  const enc = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const input = `${enc({ alg, typ: "JWT" })}.${enc(claims)}`;
  const sig = alg === "RS256" ? crypto.sign("RSA-SHA256", Buffer.from(input), key) : crypto.createHmac("sha256", "x").update(input).digest();
  return `${input}.${sig.toString("base64url")}`;
}
const claims = (over = {}) => ({ iss: "cid", sub: "integration@keelson.sandbox", aud: "https://login.salesforce.com", exp: Math.floor(Date.now() / 1000) + 120, ...over });

async function token() {
  const r = await call(sb.url, "POST", "/services/oauth2/token", { form: { grant_type: "client_credentials", client_id: "cid", client_secret: "secret" } });
  return { authorization: `Bearer ${r.json.access_token}` };
}
const sf = (method, path, body, headers = {}) => call(sb.url, method, V + path, { body, headers: { ...auth, ...headers } });

before(async () => {
  sb = await start({ clientId: "cid", clientSecret: "secret", jwtCertificate: publicKey.export({ type: "spki", format: "pem" }) });
});
after(() => sb.close());
beforeEach(async () => {
  await control.reset(sb.url);
  auth = await token();
});

test("client_credentials token: shape, wrong secret, unknown grant", async () => {
  const r = await call(sb.url, "POST", "/services/oauth2/token", { form: { grant_type: "client_credentials" }, headers: { authorization: "Basic " + Buffer.from("cid:secret").toString("base64") } });
  assert.equal(r.status, 200);
  assert.equal(r.json.token_type, "Bearer");
  assert.equal(r.json.instance_url, sb.url);
  assert.equal(r.json.api_instance_url, sb.url);
  assert.match(r.json.issued_at, /^\d{13}$/);
  assert.match(r.json.id, /\/id\/00D\w+\/005\w+$/);
  assert.equal(r.json.refresh_token, undefined);
  const expected = crypto.createHmac("sha256", "secret").update(r.json.id + r.json.issued_at).digest("base64");
  assert.equal(r.json.signature, expected);
  const bad = await call(sb.url, "POST", "/services/oauth2/token", { form: { grant_type: "client_credentials", client_id: "cid", client_secret: "wrong" } });
  assert.deepEqual([bad.status, bad.json.error], [400, "invalid_client"]);
  const grant = await call(sb.url, "POST", "/services/oauth2/token", { form: { grant_type: "password" } });
  assert.equal(grant.json.error, "unsupported_grant_type");
});

test("JWT bearer: valid RS256 assertion; wrong key, alg, audience, issuer, subject and expiry refused", async () => {
  const grant = (assertion) => call(sb.url, "POST", "/services/oauth2/token", { form: { grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer", assertion } });
  const ok = await grant(jwt(claims()));
  assert.equal(ok.status, 200);
  assert.equal(ok.json.api_instance_url, undefined);
  assert.equal((await sf("GET", "/limits", undefined, { authorization: `Bearer ${ok.json.access_token}` })).status, 200);
  const other = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
  assert.equal((await grant(jwt(claims(), other))).json.error, "invalid_grant");
  assert.equal((await grant(jwt(claims(), privateKey, "HS256"))).json.error, "invalid_grant");
  assert.equal((await grant(jwt(claims({ aud: "https://evil.example" })))).json.error_description, "audience is invalid");
  assert.equal((await grant(jwt(claims({ iss: "nope" })))).json.error, "invalid_client_id");
  assert.equal((await grant(jwt(claims({ sub: "someone@else" })))).json.error, "invalid_grant");
  assert.equal((await grant(jwt(claims({ exp: Math.floor(Date.now() / 1000) - 5 })))).json.error, "invalid_grant");
  assert.equal((await grant("not.a.jwt")).status, 400);
});

test("JWT bearer accepts an X.509 certificate as the configured key", async (t) => {
  // A self-signed certificate needs openssl; the key path above covers the signature check itself.
  const { execFileSync } = require("node:child_process");
  let pem;
  try {
    const dir = require("node:fs").mkdtempSync(require("node:path").join(require("node:os").tmpdir(), "sfcert-"));
    const keyFile = require("node:path").join(dir, "k.pem");
    require("node:fs").writeFileSync(keyFile, privateKey.export({ type: "pkcs8", format: "pem" }));
    pem = execFileSync("openssl", ["req", "-new", "-x509", "-key", keyFile, "-subj", "/CN=keelson", "-days", "1"], { stdio: ["ignore", "pipe", "ignore"] }).toString();
  } catch {
    pem = undefined;
  }
  assert.ok(pem, "openssl available to make a certificate");
  const sb2 = await start({ clientId: "cid", jwtCertificate: pem, seed: false });
  t.after(() => sb2.close());
  const r = await call(sb2.url, "POST", "/services/oauth2/token", { form: { grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer", assertion: jwt(claims()) } });
  assert.equal(r.status, 200);
});

test("no or expired session → 401 INVALID_SESSION_ID; Sforce-Limit-Info on every data response", async () => {
  const none = await call(sb.url, "GET", V + "/limits");
  assert.equal(none.status, 401);
  assert.deepEqual(none.json, [{ message: "Session expired or invalid", errorCode: "INVALID_SESSION_ID" }]);
  const ok = await sf("GET", "/limits");
  assert.match(ok.headers.get("sforce-limit-info"), /^api-usage=\d+\/100000$/);
  await control.expireTokens(sb.url);
  const expired = await sf("GET", "/limits");
  assert.equal(expired.status, 401);
  assert.equal(expired.json[0].errorCode, "INVALID_SESSION_ID");
});

test("account create, read, update, delete; required and unknown fields", async () => {
  const missing = await sf("POST", "/sobjects/Account", { Phone: "1" });
  assert.equal(missing.status, 400);
  assert.deepEqual(missing.json, [{ message: "Required fields are missing: [Name]", errorCode: "REQUIRED_FIELD_MISSING", fields: ["Name"] }]);
  const unknown = await sf("POST", "/sobjects/Account", { Name: "X", Nope: 1 });
  assert.equal(unknown.json[0].errorCode, "INVALID_FIELD");
  const readOnly = await sf("POST", "/sobjects/Account", { Name: "X", CreatedDate: "2020-01-01T00:00:00.000+0000" });
  assert.equal(readOnly.json[0].errorCode, "INVALID_FIELD_FOR_INSERT_UPDATE");
  const wrongType = await sf("POST", "/sobjects/Account", { Name: 5 });
  assert.equal(wrongType.json[0].errorCode, "JSON_PARSER_ERROR");
  const created = await sf("POST", "/sobjects/Account", { Name: "Umbrella", ERP_Customer_Id__c: "C-9" });
  assert.equal(created.status, 201);
  assert.match(created.json.id, /^0015g[0-9A-Z]{10}[A-Z0-5]{3}$/);
  assert.deepEqual({ ...created.json, id: undefined }, { id: undefined, success: true, errors: [] });
  const got = await sf("GET", `/sobjects/Account/${created.json.id}?fields=Name,ERP_Customer_Id__c`);
  assert.deepEqual(got.json, { attributes: { type: "Account", url: `${V}/sobjects/Account/${created.json.id}` }, Name: "Umbrella", ERP_Customer_Id__c: "C-9" });
  const short = await sf("GET", `/sobjects/Account/${created.json.id.slice(0, 15)}`);
  assert.equal(short.json.Name, "Umbrella");
  assert.equal((await sf("PATCH", `/sobjects/Account/${created.json.id}`, { Phone: "555" })).status, 204);
  assert.equal((await sf("GET", `/sobjects/Account/${created.json.id}`)).json.Phone, "555");
  assert.equal((await sf("GET", "/sobjects/Account/001000000000000AAA")).status, 404);
  assert.equal((await sf("GET", "/sobjects/Nope/001000000000000AAA")).status, 404);
  assert.equal((await sf("DELETE", `/sobjects/Account/${created.json.id}`)).status, 204);
  const badRef = await sf("POST", "/sobjects/Opportunity", { Name: "o", StageName: "Prospecting", CloseDate: "2026-12-01", AccountId: "001000000000000AAA" });
  assert.equal(badRef.json[0].errorCode, "INVALID_CROSS_REFERENCE_KEY");
});

test("upsert by External ID: 201 created, 200 not created, 404 unknown field, 300 ambiguous, 204 before v46", async () => {
  const first = await sf("PATCH", "/sobjects/Account/ERP_Customer_Id__c/C-2001", { Name: "Hooli" });
  assert.equal(first.status, 201);
  assert.equal(first.json.created, true);
  const again = await sf("PATCH", "/sobjects/Account/ERP_Customer_Id__c/c-2001", { Name: "Hooli Inc" });
  assert.equal(again.status, 200);
  assert.deepEqual(again.json, { id: first.json.id, success: true, errors: [], created: false });
  assert.equal((await control.records(sb.url, "Account")).filter((a) => a.ERP_Customer_Id__c === "C-2001").length, 1);
  const wrong = await sf("PATCH", "/sobjects/Account/Not_An_Ext_Id__c/1", { Name: "x" });
  assert.deepEqual([wrong.status, wrong.json[0].errorCode], [404, "NOT_FOUND"]);
  const missingName = await sf("PATCH", "/sobjects/Account/ERP_Customer_Id__c/C-NEW", {});
  assert.equal(missingName.json[0].errorCode, "REQUIRED_FIELD_MISSING");
  await sf("POST", "/sobjects/Account", { Name: "Twin 1", ERP_Customer_Id__c: "DUP" });
  await sf("POST", "/sobjects/Account", { Name: "Twin 2", ERP_Customer_Id__c: "dup" });
  const ambiguous = await sf("PATCH", "/sobjects/Account/ERP_Customer_Id__c/DUP", { Name: "x" });
  assert.equal(ambiguous.status, 300);
  assert.equal(ambiguous.json.length, 2);
  const old = await call(sb.url, "PATCH", "/services/data/v45.0/sobjects/Account/ERP_Customer_Id__c/C-2001", { body: { Phone: "1" }, headers: auth });
  assert.equal(old.status, 204);
  const updateOnly = await sf("PATCH", "/sobjects/Account/ERP_Customer_Id__c/C-NONE?updateOnly=true", { Name: "x" });
  assert.equal(updateOnly.status, 404);
  const viaId = await sf("POST", "/sobjects/Account/Id", { Name: "Posted to Id" });
  assert.deepEqual([viaId.status, viaId.json.created], [201, true]);
});

test("SOQL: relationship fields, child sub-query, WHERE on LastModifiedDate, ORDER BY, LIMIT", async () => {
  const q = "SELECT Id, Name, StageName, IsWon, Account.Name, Account.ERP_Customer_Id__c, (SELECT Id, Quantity, UnitPrice, TotalPrice, Product2.ProductCode FROM OpportunityLineItems ORDER BY Quantity DESC) FROM Opportunity WHERE StageName = 'closed won' AND LastModifiedDate > 2020-01-01T00:00:00Z ORDER BY Name LIMIT 10";
  const r = await sf("GET", "/query?q=" + encodeURIComponent(q));
  assert.equal(r.status, 200);
  assert.equal(r.json.totalSize, 1);
  assert.equal(r.json.done, true);
  const opp = r.json.records[0];
  assert.equal(opp.attributes.type, "Opportunity");
  assert.equal(opp.IsWon, true);
  assert.deepEqual(Object.keys(opp.Account), ["attributes", "Name", "ERP_Customer_Id__c"]);
  assert.equal(opp.Account.Name, "Acme Corporation");
  assert.equal(opp.Account.ERP_Customer_Id__c, null);
  const lines = opp.OpportunityLineItems;
  assert.equal(lines.totalSize, 2);
  assert.deepEqual(lines.records.map((l) => l.Quantity), [100, 1]);
  assert.equal(lines.records[0].TotalPrice, 999.5);
  assert.equal(lines.records[0].Product2.ProductCode, "WID-1");
  const byShortId = await sf("GET", "/query?q=" + encodeURIComponent(`SELECT Name FROM Opportunity WHERE Id = '${opp.attributes.url.split("/").pop().slice(0, 15)}'`));
  assert.equal(byShortId.json.records[0].Name, opp.Name ?? "Acme - 100 widgets");
  const byAccount = await sf("GET", "/query?q=" + encodeURIComponent(`SELECT Name FROM Opportunity WHERE AccountId = '${opp.attributes.url.split("/").pop()}'`));
  assert.equal(byAccount.json.totalSize, 0, "an opportunity id is not an account id");
  const future = await sf("GET", "/query?q=" + encodeURIComponent("SELECT Id FROM Account WHERE LastModifiedDate > 2099-01-01T00:00:00Z"));
  assert.equal(future.json.totalSize, 0);
  const noLines = await sf("GET", "/query?q=" + encodeURIComponent("SELECT Id, (SELECT Id FROM Opportunities) FROM Account WHERE Name = 'Initech Ltd'"));
  assert.equal(noLines.json.records[0].Opportunities, null);
  const orQuery = await sf("GET", "/query?q=" + encodeURIComponent("SELECT Name FROM Account WHERE (Name LIKE 'Acme%' OR BillingCountryCode IN ('DE')) AND NOT Name = 'x' ORDER BY Name DESC"));
  assert.deepEqual(orQuery.json.records.map((a) => a.Name), ["Globex GmbH", "Acme Corporation"]);
});

test("SOQL errors: malformed, unknown column, unknown object, quoted datetime", async () => {
  const q = async (text) => (await sf("GET", "/query?q=" + encodeURIComponent(text))).json[0].errorCode;
  assert.equal(await q("SELEC Id FROM Account"), "MALFORMED_QUERY");
  assert.equal(await q("SELECT Id FROM Account WHERE"), "MALFORMED_QUERY");
  assert.equal(await q("SELECT Nope FROM Account"), "INVALID_FIELD");
  assert.equal(await q("SELECT Id FROM Nope"), "INVALID_TYPE");
  assert.equal(await q("SELECT Id FROM Account WHERE LastModifiedDate > '2020-01-01T00:00:00Z'"), "INVALID_FIELD");
  assert.equal(await q("SELECT Id, (SELECT Id FROM Nothing) FROM Account"), "INVALID_TYPE");
});

test("query pagination with nextRecordsUrl to the end; bad locator", async () => {
  await call(sb.url, "POST", "/__sandbox/records/Account", { body: Array.from({ length: 20 }, (_, i) => ({ Name: `Bulk ${i}` })) });
  await control.limits(sb.url, { queryBatchSize: 7 });
  let r = await sf("GET", "/query?q=" + encodeURIComponent("SELECT Id, Name FROM Account ORDER BY Name"));
  assert.equal(r.json.totalSize, 23);
  const names = [];
  let pages = 0;
  for (;;) {
    pages++;
    names.push(...r.json.records.map((a) => a.Name));
    if (r.json.done) break;
    assert.match(r.json.nextRecordsUrl, /^\/services\/data\/v62\.0\/query\/01g\w+-\d+$/);
    r = await call(sb.url, "GET", r.json.nextRecordsUrl, { headers: auth });
  }
  assert.equal(pages, 4);
  assert.equal(names.length, 23);
  assert.equal(new Set(names).size, 23);
  const bad = await sf("GET", "/query/01gXYZ-7");
  assert.equal(bad.json[0].errorCode, "INVALID_QUERY_LOCATOR");
});

test("sObject Collections: per-record results, allOrNone rollback, size cap", async () => {
  const before = (await control.records(sb.url, "Account")).length;
  const records = [{ attributes: { type: "Account" }, Name: "C1" }, { attributes: { type: "Account" } }, { attributes: { type: "Account" }, Name: "C3" }];
  const mixed = await sf("POST", "/composite/sobjects", { allOrNone: false, records });
  assert.equal(mixed.status, 200);
  assert.deepEqual(mixed.json.map((r) => r.success), [true, false, true]);
  assert.deepEqual(mixed.json[1].errors, [{ statusCode: "REQUIRED_FIELD_MISSING", message: "Required fields are missing: [Name]", fields: ["Name"] }]);
  assert.equal((await control.records(sb.url, "Account")).length, before + 2);
  const atomic = await sf("POST", "/composite/sobjects", { allOrNone: true, records });
  assert.deepEqual(atomic.json.map((r) => r.success), [false, false, false]);
  assert.equal(atomic.json[0].errors[0].statusCode, "ALL_OR_NONE_OPERATION_ROLLED_BACK");
  assert.equal((await control.records(sb.url, "Account")).length, before + 2);
  await control.limits(sb.url, { collectionMaxRecords: 2 });
  const big = await sf("POST", "/composite/sobjects", { records });
  assert.equal(big.status, 400);
  assert.equal(big.json[0].errorCode, "EXCEEDED_ID_LIMIT");
});

test("upsert collection by External ID reports created per record", async () => {
  await sf("PATCH", "/sobjects/Account/ERP_Customer_Id__c/E-1", { Name: "E1" });
  const r = await sf("PATCH", "/composite/sobjects/Account/ERP_Customer_Id__c", {
    allOrNone: false,
    records: [
      { attributes: { type: "Account" }, ERP_Customer_Id__c: "E-1", Name: "E1 renamed" },
      { attributes: { type: "Account" }, ERP_Customer_Id__c: "E-2", Name: "E2" },
      { attributes: { type: "Account" }, Name: "no key" },
    ],
  });
  assert.equal(r.status, 200);
  assert.deepEqual(r.json.map((x) => [x.success, x.created]), [[true, false], [true, true], [false, undefined]]);
  assert.equal((await sf("PATCH", "/composite/sobjects/Account/Nope__c", { records: [] })).status, 404);
  const upd = await sf("PATCH", "/composite/sobjects", { records: [{ attributes: { type: "Account" }, Id: r.json[1].id, Phone: "42" }] });
  assert.equal(upd.json[0].success, true);
});

test("composite: dependent subrequests with @{ref.id}; allOrNone rolls back; limits and forbidden headers", async () => {
  const ok = await sf("POST", "/composite", {
    allOrNone: true,
    compositeRequest: [
      { method: "POST", url: `${V}/sobjects/Account`, referenceId: "acct", body: { Name: "Composite Co" } },
      { method: "POST", url: `${V}/sobjects/Opportunity`, referenceId: "opp", body: { Name: "Composite deal", StageName: "Prospecting", CloseDate: "2026-12-31", AccountId: "@{acct.id}" } },
      { method: "GET", url: `${V}/sobjects/Opportunity/@{opp.id}?fields=AccountId`, referenceId: "check" },
    ],
  });
  assert.equal(ok.status, 200);
  const [a, o, c] = ok.json.compositeResponse;
  assert.deepEqual([a.httpStatusCode, o.httpStatusCode, c.httpStatusCode], [201, 201, 200]);
  assert.equal(c.body.AccountId, a.body.id);
  assert.equal(a.referenceId, "acct");
  const accounts = (await control.records(sb.url, "Account")).length;
  const rolled = await sf("POST", "/composite", {
    allOrNone: true,
    compositeRequest: [
      { method: "POST", url: `${V}/sobjects/Account`, referenceId: "a1", body: { Name: "Kept?" } },
      { method: "POST", url: `${V}/sobjects/Account`, referenceId: "a2", body: {} },
      { method: "POST", url: `${V}/sobjects/Account`, referenceId: "a3", body: { Name: "After" } },
    ],
  });
  assert.equal(rolled.status, 200);
  assert.deepEqual(rolled.json.compositeResponse.map((r) => r.httpStatusCode), [400, 400, 400]);
  assert.equal(rolled.json.compositeResponse[0].body[0].errorCode, "PROCESSING_HALTED");
  assert.equal(rolled.json.compositeResponse[1].body[0].errorCode, "REQUIRED_FIELD_MISSING");
  assert.equal((await control.records(sb.url, "Account")).length, accounts, "nothing kept");
  const partial = await sf("POST", "/composite", {
    compositeRequest: [
      { method: "POST", url: `${V}/sobjects/Account`, referenceId: "bad", body: {} },
      { method: "PATCH", url: `${V}/sobjects/Account/@{bad.id}`, referenceId: "dependent", body: { Phone: "1" } },
      { method: "POST", url: `${V}/sobjects/Account`, referenceId: "good", body: { Name: "Independent" } },
    ],
  });
  assert.deepEqual(partial.json.compositeResponse.map((r) => r.httpStatusCode), [400, 400, 201]);
  assert.equal(partial.json.compositeResponse[1].body[0].errorCode, "PROCESSING_HALTED");
  const headers = await sf("POST", "/composite", { compositeRequest: [{ method: "GET", url: `${V}/limits`, referenceId: "x", httpHeaders: { Authorization: "Bearer x" } }] });
  assert.equal(headers.status, 400);
  await control.limits(sb.url, { compositeMaxSubrequests: 1 });
  const many = await sf("POST", "/composite", { compositeRequest: [{ method: "GET", url: `${V}/limits`, referenceId: "x" }, { method: "GET", url: `${V}/limits`, referenceId: "y" }] });
  assert.equal(many.status, 400);
  await control.limits(sb.url, { compositeMaxSubrequests: 25 });
  const used = async () => Number(/api-usage=(\d+)/.exec((await sf("GET", "/limits")).headers.get("sforce-limit-info"))[1]);
  const before = await used();
  await sf("POST", "/composite", { compositeRequest: [{ method: "GET", url: `${V}/limits`, referenceId: "x" }, { method: "GET", url: `${V}/limits`, referenceId: "y" }] });
  assert.equal(await used(), before + 2, "a composite call with two subrequests counts once (plus the read of the counter)");
});

test("daily allocation exhausted → 403 REQUEST_LIMIT_EXCEEDED", async () => {
  await control.limits(sb.url, { dailyApiRequests: 3 });
  for (let i = 0; i < 3; i++) assert.equal((await sf("GET", "/limits")).status, 200);
  const r = await sf("GET", "/limits");
  assert.equal(r.status, 403);
  assert.deepEqual(r.json, [{ message: "TotalRequests Limit exceeded.", errorCode: "REQUEST_LIMIT_EXCEEDED" }]);
  assert.equal(r.headers.get("sforce-limit-info"), "api-usage=3/3");
});

test("long-running requests: over the concurrent cap → 403 ConcurrentPerOrgLongTxn", async () => {
  await control.limits(sb.url, { longRunningConcurrent: 2, longRunningMs: 60 });
  await control.faults(sb.url, [{ kind: "latency", ms: 250, path: "*/query" }]);
  const slow = [1, 2].map(() => sf("GET", "/query?q=" + encodeURIComponent("SELECT Id FROM Account")));
  await new Promise((r) => setTimeout(r, 120));
  const refused = await sf("GET", "/limits");
  assert.equal(refused.status, 403);
  assert.deepEqual(refused.json, [{ message: "ConcurrentPerOrgLongTxn Limit exceeded.", errorCode: "REQUEST_LIMIT_EXCEEDED" }]);
  assert.deepEqual((await Promise.all(slow)).map((r) => r.status), [200, 200]);
  assert.equal((await sf("GET", "/limits")).status, 200, "free again once they finish");
});

test("injected faults use Salesforce's signals: 403 throttle, array 5xx body", async () => {
  await control.faults(sb.url, [{ kind: "throttle", count: 1 }, { kind: "error", status: 503, count: 1, path: "/services/data/*" }]);
  const e = await sf("GET", "/limits");
  assert.equal(e.status, 503);
  assert.equal(e.json[0].errorCode, "SERVER_UNAVAILABLE");
  const t = await sf("GET", "/limits");
  assert.equal(t.status, 403);
  assert.equal(t.json[0].errorCode, "REQUEST_LIMIT_EXCEEDED");
  await control.faults(sb.url, [{ kind: "lost-response", method: "PATCH", count: 1 }]);
  await assert.rejects(sf("PATCH", "/sobjects/Account/ERP_Customer_Id__c/LOST-1", { Name: "lost" }));
  const retry = await sf("PATCH", "/sobjects/Account/ERP_Customer_Id__c/LOST-1", { Name: "lost" });
  assert.equal(retry.json.created, false, "the retry finds the record the lost call committed");
  assert.equal((await control.stats(sb.url)).created.Account, 1);
});
