"use strict";
// The ERP adapter helpers alone: Stripe's form encoding, ids from Location headers, the NetSuite client assertion,
// the factory's refusals and the watermark format.
const test = require("node:test");
const assert = require("node:assert/strict");
const crypto = require("node:crypto");
const { createErpAdapter } = require("../../dist/nodes/lib/vendors/erp.js");
const { idFromLocation, withRef, externalIdOf } = require("../../dist/nodes/lib/vendors/erp-base.js");
const { toForm } = require("../../dist/nodes/lib/vendors/stripe.js");
const { clientAssertion } = require("../../dist/nodes/lib/vendors/netsuite.js");
const { configOf } = require("../../dist/nodes/erp-connection/config.js");
const support = require("./support");

test("Stripe bodies use bracket notation and leave out null and undefined", () => {
  const form = toForm({ customer: "cus_1", metadata: { external_reference: "SF-1", empty: null }, items: [{ amount: 5 }], skip: undefined });
  assert.equal(form.toString(), "customer=cus_1&metadata%5Bexternal_reference%5D=SF-1&items%5B0%5D%5Bamount%5D=5");
});

test("the new record's id comes from NetSuite's and SAP's Location", () => {
  assert.equal(idFromLocation("https://demo.suitetalk.api.netsuite.com/services/rest/record/v1/customer/647"), "647");
  assert.equal(idFromLocation("https://h/sap/opu/odata/sap/API_SALES_ORDER_SRV/A_SalesOrder('1000013602')"), "1000013602");
  assert.equal(idFromLocation(undefined), undefined);
});

test("refs: one per system, the external id is another system's", () => {
  const order = { refs: [{ system: "salesforce", id: "006" }, { system: "netsuite", id: "1" }] };
  assert.deepEqual(withRef(order, { system: "netsuite", id: "2" }).refs, [{ system: "salesforce", id: "006" }, { system: "netsuite", id: "2" }]);
  assert.equal(externalIdOf(order, "netsuite"), "006");
  assert.equal(externalIdOf({ refs: [{ system: "netsuite", id: "1" }] }, "netsuite"), undefined);
});

test("the NetSuite client assertion is a PS256 JWT with kid, iss, aud, scope and a lifetime ≤ 60 min", () => {
  const { privateKey, publicKey } = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
  const jwt = clientAssertion(privateKey, "PS256", "cert-9", "client-1", "https://acct.suitetalk.api.netsuite.com/services/rest/auth/oauth2/v1/token");
  const [h, p, s] = jwt.split(".");
  const header = JSON.parse(Buffer.from(h, "base64url"));
  const payload = JSON.parse(Buffer.from(p, "base64url"));
  assert.deepEqual(header, { alg: "PS256", typ: "JWT", kid: "cert-9" });
  assert.equal(payload.iss, "client-1");
  assert.deepEqual(payload.scope, ["rest_webservices"]);
  assert.ok(payload.exp - payload.iat <= 3600);
  const ok = crypto.verify("sha256", Buffer.from(`${h}.${p}`), { key: publicKey, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: crypto.constants.RSA_PSS_SALTLEN_DIGEST }, Buffer.from(s, "base64url"));
  assert.equal(ok, true);
});

test("the factory refuses an unknown system; a bad watermark is named", async () => {
  assert.throws(() => createErpAdapter({ system: "sage", name: "x", baseUrl: "http://127.0.0.1:1" }), /unknown ERP system "sage"/);
  const adapter = createErpAdapter(support.SYSTEMS["sap-s4hana"].config("http://127.0.0.1:1"));
  await assert.rejects(adapter.listInvoices("yesterday", {}).next(), /SAP watermark must be/);
  await adapter.close();
});

test("connection config: the field at fault is named; empty credentials come from ERP_* variables", () => {
  const def = { id: "c1", name: "", system: "stripe", baseUrl: "http://127.0.0.1:1", orderDefaults: "", mappings: "" };
  assert.throws(() => configOf(def, {}), /secretKey \(credentials, or BILLING_API_KEY or ERP_CLIENT_SECRET\) is missing/);
  assert.throws(() => configOf({ ...def, system: "sage" }, {}), /unknown ERP system "sage"/);
  assert.throws(() => configOf({ ...def, orderDefaults: "{nope" }, { secretKey: "sk" }), /order defaults is not valid JSON/);
  assert.throws(() => configOf({ ...def, concurrency: "-1" }, { secretKey: "sk" }), /concurrency must be a number > 0/);
  process.env.KEELSON_TEST_ERP_SECRET = "sk_from_env";
  try {
    assert.equal(configOf(def, { secretKey: "${KEELSON_TEST_ERP_SECRET}" }).secretKey, "sk_from_env");
  } finally {
    delete process.env.KEELSON_TEST_ERP_SECRET;
  }
  const ns = configOf({ ...def, system: "netsuite", accountId: "123_SB1", netsuiteAuth: "tba", rateLimit: "10", rateWindowSeconds: "2" }, { consumerKey: "a", consumerSecret: "b", tokenId: "c", tokenSecret: "d" });
  assert.equal(ns.auth.kind, "tba");
  assert.deepEqual(ns.connection.rateLimit, { limit: 10, windowMs: 2000 });
});

test("connection config: the reference flows' fallbacks — Stripe's BILLING_API_KEY, NetSuite TBA from ERP_CLIENT_ID/SECRET, ${VAR} mappings", () => {
  const names = ["BILLING_API_KEY", "ERP_CLIENT_ID", "ERP_CLIENT_SECRET", "ERP_TOKEN_ID", "ERP_TOKEN_SECRET", "ERP_CONSUMER_KEY", "ERP_MAPPINGS"];
  const saved = Object.fromEntries(names.map((n) => [n, process.env[n]]));
  try {
    Object.assign(process.env, { BILLING_API_KEY: "sk_billing", ERP_CLIENT_ID: "ck", ERP_CLIENT_SECRET: "cs", ERP_TOKEN_ID: "tid", ERP_TOKEN_SECRET: "tsec" });
    delete process.env.ERP_CONSUMER_KEY;
    delete process.env.ERP_MAPPINGS;
    const def = { id: "c1", name: "", system: "stripe", baseUrl: "http://127.0.0.1:1", orderDefaults: "", mappings: "${ERP_MAPPINGS}" };
    const stripe = configOf(def, {});
    assert.equal(stripe.secretKey, "sk_billing", "a Stripe connection is the billing system first");
    assert.equal(stripe.mappings, undefined, "an unset ${ERP_MAPPINGS} is no mappings");
    delete process.env.BILLING_API_KEY;
    assert.equal(configOf(def, {}).secretKey, "cs");
    const ns = configOf({ ...def, system: "netsuite", accountId: "123_SB1", netsuiteAuth: "tba" }, {});
    assert.deepEqual(ns.auth, { kind: "tba", consumerKey: "ck", consumerSecret: "cs", tokenId: "tid", tokenSecret: "tsec" });
    process.env.ERP_CONSUMER_KEY = "ck2";
    process.env.ERP_MAPPINGS = JSON.stringify({ orderOut: "{ 'ref': externalReference }" });
    const again = configOf({ ...def, system: "netsuite", accountId: "123_SB1", netsuiteAuth: "tba" }, {});
    assert.equal(again.auth.consumerKey, "ck2", "ERP_CONSUMER_KEY wins over ERP_CLIENT_ID");
    assert.deepEqual(again.mappings, { orderOut: "{ 'ref': externalReference }" });
  } finally {
    for (const [n, v] of Object.entries(saved)) if (v === undefined) delete process.env[n];
    else process.env[n] = v;
  }
});

test("connection config: a flow file without the dialog's token URL or Odoo protocol takes ERP_TOKEN_URL and ERP_PROTOCOL", () => {
  const names = ["ERP_CLIENT_ID", "ERP_CLIENT_SECRET", "ERP_TENANT_ID", "ERP_COMPANY_ID", "ERP_COMPANY", "ERP_DATABASE", "ERP_TOKEN_URL", "ERP_PROTOCOL"];
  const saved = Object.fromEntries(names.map((n) => [n, process.env[n]]));
  try {
    for (const n of names) delete process.env[n];
    Object.assign(process.env, { ERP_CLIENT_ID: "admin", ERP_CLIENT_SECRET: "s3cret", ERP_TENANT_ID: "t1", ERP_COMPANY_ID: "c1", ERP_COMPANY: "usmf", ERP_DATABASE: "db" });
    const def = { id: "c1", name: "", system: "business-central", baseUrl: "http://127.0.0.1:1", orderDefaults: "", mappings: "", tokenUrl: "" };
    assert.equal(configOf(def, {}).tokenUrl, undefined, "no token URL: the adapter's default (login.microsoftonline.com)");
    assert.equal(configOf({ ...def, system: "oracle-fusion", fusionAuth: "oauth2" }, {}).auth.tokenUrl, undefined);
    process.env.ERP_TOKEN_URL = "http://127.0.0.1:2/t1/oauth2/v2.0/token";
    assert.equal(configOf(def, {}).tokenUrl, "http://127.0.0.1:2/t1/oauth2/v2.0/token");
    assert.equal(configOf({ ...def, system: "dynamics-fo" }, {}).tokenUrl, "http://127.0.0.1:2/t1/oauth2/v2.0/token");
    assert.equal(configOf({ ...def, system: "oracle-fusion", fusionAuth: "oauth2" }, {}).auth.tokenUrl, "http://127.0.0.1:2/t1/oauth2/v2.0/token");
    assert.equal(configOf({ ...def, tokenUrl: "http://dialog/token" }, {}).tokenUrl, "http://dialog/token", "the dialog wins");

    const odoo = { ...def, system: "odoo" };
    assert.deepEqual([configOf(odoo, {}).protocol, configOf(odoo, {}).login], ["json2", undefined], "JSON-2 unless told");
    process.env.ERP_PROTOCOL = "JSONRPC";
    assert.deepEqual([configOf(odoo, {}).protocol, configOf(odoo, {}).login, configOf(odoo, {}).password], ["jsonrpc", "admin", "s3cret"]);
    assert.equal(configOf({ ...odoo, odooProtocol: "json2" }, {}).protocol, "json2", "the dialog wins");
    process.env.ERP_PROTOCOL = "xmlrpc";
    assert.throws(() => configOf(odoo, {}), /Odoo protocol must be json2 or jsonrpc, got "xmlrpc"/);
  } finally {
    for (const [n, v] of Object.entries(saved)) if (v === undefined) delete process.env[n];
    else process.env[n] = v;
  }
});
