"use strict";
// Every fault kind against every sandbox: each must answer in its vendor's own shape.
const { test, before, after } = require("node:test");
const assert = require("node:assert/strict");
const crypto = require("node:crypto");
const { call, control } = require("./helpers.js");

const nsKey = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });

function nsAssertion(url) {
  const enc = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const now = Math.floor(Date.now() / 1000);
  const input = `${enc({ typ: "JWT", alg: "ES256", kid: "k1" })}.${enc({ iss: "keelson-sandbox-client", scope: "rest_webservices", aud: `${url}/services/rest/auth/oauth2/v1/token`, iat: now, exp: now + 600 })}`;
  return `${input}.${crypto.sign("sha256", Buffer.from(input), { key: nsKey.privateKey, dsaEncoding: "ieee-p1363" }).toString("base64url")}`;
}

const SAP_ORDER = { SalesOrderType: "OR", SalesOrganization: "1010", DistributionChannel: "10", OrganizationDivision: "00", SoldToParty: "10100001", to_Item: [{ Material: "TG11", RequestedQuantity: "1" }] };

// Per vendor: how to authenticate, one read, one create (and the store type it fills), the throttle status.
const vendors = {
  salesforce: {
    start: () => require("../../dist/sandbox/salesforce.js").start(),
    auth: async (url) => ({ authorization: `Bearer ${(await call(url, "POST", "/services/oauth2/token", { form: { grant_type: "client_credentials", client_id: "keelson-sandbox-client", client_secret: "keelson-sandbox-secret" } })).json.access_token}` }),
    read: ["GET", "/services/data/v62.0/limits"],
    create: ["POST", "/services/data/v62.0/sobjects/Account", { body: { Name: "Fault Co" } }],
    type: "Account",
    throttle: 403,
    expired: 401,
  },
  hubspot: {
    start: () => require("../../dist/sandbox/hubspot.js").start(),
    auth: async () => ({ authorization: "Bearer pat-na1-keelson-sandbox" }),
    read: ["GET", "/crm/v3/objects/companies"],
    create: ["POST", "/crm/v3/objects/companies", { body: { properties: { name: "Fault Co" } } }],
    type: "companies",
    throttle: 429,
  },
  dataverse: {
    start: () => require("../../dist/sandbox/dataverse.js").start(),
    auth: async (url) => ({ authorization: `Bearer ${(await call(url, "POST", "/6b1b0a8e-4e1d-4c2a-9f3b-6b656c736f6e/oauth2/v2.0/token", { form: { grant_type: "client_credentials", client_id: "keelson-sandbox-client", client_secret: "keelson-sandbox-secret", scope: `${url}/.default` } })).json.access_token}` }),
    read: ["GET", "/api/data/v9.2/accounts?$top=1"],
    create: ["POST", "/api/data/v9.2/accounts", { body: { name: "Fault Co" } }],
    type: "accounts",
    throttle: 429,
    expired: 401,
  },
  netsuite: {
    start: () => require("../../dist/sandbox/netsuite.js").start({ m2mCertificates: { k1: nsKey.publicKey.export({ type: "spki", format: "pem" }) } }),
    auth: async (url) => ({ authorization: `Bearer ${(await call(url, "POST", "/services/rest/auth/oauth2/v1/token", { form: { grant_type: "client_credentials", client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", client_assertion: nsAssertion(url) } })).json.access_token}` }),
    read: ["GET", "/services/rest/record/v1/customer?limit=1"],
    create: ["POST", "/services/rest/record/v1/customer", { body: { companyName: "Fault Co", subsidiary: { id: "1" } } }],
    type: "customer",
    throttle: 429,
    expired: 401,
  },
  stripe: {
    start: () => require("../../dist/sandbox/stripe.js").start(),
    auth: async () => ({ authorization: "Bearer sk_test_keelson_sandbox" }),
    read: ["GET", "/v1/invoices"],
    create: ["POST", "/v1/customers", { form: { name: "Fault Co" } }],
    type: "customers",
    throttle: 429,
  },
  sap: {
    start: () => require("../../dist/sandbox/sap.js").start(),
    auth: async (url) => {
      const basic = { authorization: "Basic " + Buffer.from("KEELSON_COMM:keelson-sandbox-password").toString("base64"), accept: "application/json" };
      const r = await call(url, "GET", "/sap/opu/odata/sap/API_SALES_ORDER_SRV/", { headers: { ...basic, "x-csrf-token": "Fetch" } });
      return { ...basic, "x-csrf-token": r.headers.get("x-csrf-token"), cookie: r.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ") };
    },
    read: ["GET", "/sap/opu/odata/sap/API_SALES_ORDER_SRV/A_SalesOrder?$top=1"],
    create: ["POST", "/sap/opu/odata/sap/API_SALES_ORDER_SRV/A_SalesOrder", { body: SAP_ORDER }],
    type: "A_SalesOrder",
    throttle: 429,
    expiredCreate: 403,
  },
  "business-central": {
    start: () => require("../../dist/sandbox/business-central.js").start(),
    auth: async (url) => {
      const D = require("../../dist/sandbox/business-central.js").BUSINESS_CENTRAL_DEFAULTS;
      return { authorization: `Bearer ${(await call(url, "POST", `/${D.tenantId}/oauth2/v2.0/token`, { form: { grant_type: "client_credentials", client_id: D.clientId, client_secret: D.clientSecret, scope: D.scope } })).json.access_token}` };
    },
    read: ["GET", "/v2.0/7c3e5b1a-2f4d-4e8b-9a6c-6b656c736f6e/production/api/v2.0/companies(5d115c9c-44e3-ea11-bb43-000d3a2feca1)/customers?$top=1"],
    create: ["POST", "/v2.0/7c3e5b1a-2f4d-4e8b-9a6c-6b656c736f6e/production/api/v2.0/companies(5d115c9c-44e3-ea11-bb43-000d3a2feca1)/customers", { body: { displayName: "Fault Co" } }],
    type: "customers",
    throttle: 429,
    expired: 401,
  },
  odoo: {
    start: () => require("../../dist/sandbox/odoo.js").start(),
    auth: async () => ({ authorization: `bearer ${require("../../dist/sandbox/odoo.js").ODOO_DEFAULTS.apiKey}` }),
    read: ["POST", "/json/2/res.partner/search_read", { body: { domain: [], fields: ["name"], limit: 1 } }],
    create: ["POST", "/json/2/res.partner/create", { body: { vals_list: [{ name: "Fault Co" }] } }],
    type: "res.partner",
    throttle: 429,
    expired: 401,
  },
  "oracle-fusion": {
    start: () => require("../../dist/sandbox/oracle-fusion.js").start(),
    auth: async (url) => {
      const D = require("../../dist/sandbox/oracle-fusion.js").ORACLE_FUSION_DEFAULTS;
      const client = "Basic " + Buffer.from(`${D.clientId}:${D.clientSecret}`).toString("base64");
      const t = await call(url, "POST", "/oauth2/v1/token", { form: { grant_type: "client_credentials", scope: D.scope }, headers: { authorization: client } });
      return { authorization: `Bearer ${t.json.access_token}`, "rest-framework-version": "4" };
    },
    read: ["GET", "/fscmRestApi/resources/11.13.18.05/salesOrdersForOrderHub?limit=1"],
    create: ["POST", "/fscmRestApi/resources/11.13.18.05/salesOrdersForOrderHub", { body: { SourceTransactionNumber: "F-1", SourceTransactionSystem: "LEG", SourceTransactionId: "F-1", BusinessUnitName: "Vision Operations", BuyingPartyNumber: "C-1001", TransactionalCurrencyCode: "EUR", lines: [] }, headers: { "upsert-mode": "true" } }],
    type: "salesOrdersForOrderHub",
    throttle: 429,
    expired: 401,
  },
  acumatica: {
    start: () => require("../../dist/sandbox/acumatica.js").start(),
    auth: async (url) => {
      const D = require("../../dist/sandbox/acumatica.js").ACUMATICA_DEFAULTS;
      const r = await call(url, "POST", "/entity/auth/login", { body: { name: D.name, password: D.password, tenant: D.tenant } });
      return { cookie: r.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ") };
    },
    read: ["GET", "/entity/Default/24.200.001/Customer?$top=1"],
    create: ["PUT", "/entity/Default/24.200.001/Customer", { body: { CustomerID: { value: "FAULT-1" }, CustomerName: { value: "Fault Co" } } }],
    type: "Customer",
    throttle: 429,
    expired: 401,
  },
  "dynamics-fo": {
    start: () => require("../../dist/sandbox/dynamics-fo.js").start(),
    auth: async (url) => {
      const D = require("../../dist/sandbox/dynamics-fo.js").DYNAMICS_FO_DEFAULTS;
      return { authorization: `Bearer ${(await call(url, "POST", `/${D.tenantId}/oauth2/v2.0/token`, { form: { grant_type: "client_credentials", client_id: D.clientId, client_secret: D.clientSecret, scope: `${url}/.default` } })).json.access_token}` };
    },
    read: ["GET", "/data/CustomersV3?$top=1"],
    create: ["POST", "/data/CustomersV3", { body: { OrganizationName: "Fault Co", CustomerGroupId: "10" } }],
    type: "CustomersV3",
    throttle: 429,
    expired: 401,
  },
};

const running = {};
before(async () => {
  for (const [name, v] of Object.entries(vendors)) running[name] = await v.start();
});
after(() => Promise.all(Object.values(running).map((s) => s.close())));

for (const [name, v] of Object.entries(vendors)) {
  test(`${name}: every fault kind, in the vendor's shape`, async () => {
    const url = running[name].url;
    await control.reset(url);
    const headers = await v.auth(url);
    const read = () => call(url, v.read[0], v.read[1], { ...v.read[2], headers });
    const create = () => call(url, v.create[0], v.create[1], { ...v.create[2], headers: { ...headers, ...v.create[2]?.headers } });
    assert.equal((await read()).status, 200);
    const created = async () => (await control.stats(url)).created[v.type] ?? 0;

    await control.faults(url, [{ kind: "error", count: 1 }]);
    const e = await read();
    assert.equal(e.status, 500);
    assert.ok(e.json, "5xx body is the vendor's JSON");

    await control.faults(url, [{ kind: "throttle", count: 1 }]);
    assert.equal((await read()).status, v.throttle);

    await control.faults(url, [{ kind: "outage", durationMs: 60_000, mode: "503" }]);
    assert.equal((await read()).status, 503);
    await control.faults(url, [{ kind: "outage", durationMs: 60_000 }]);
    await assert.rejects(read());

    await control.faults(url, [{ kind: "html-502", count: 1 }]);
    const h = await read();
    assert.equal(h.status, 502);
    assert.match(h.headers.get("content-type"), /text\/html/);

    await control.faults(url, [{ kind: "malformed", count: 1 }]);
    const m = await read();
    assert.equal(m.status, 200);
    assert.throws(() => JSON.parse(m.text));

    await control.faults(url, [{ kind: "latency", ms: 40, count: 1 }]);
    const t0 = Date.now();
    assert.equal((await read()).status, 200);
    assert.ok(Date.now() - t0 >= 40);

    const before = await created();
    await control.faults(url, [{ kind: "lost-response", count: 1 }]);
    await assert.rejects(create());
    assert.equal(await created(), before + 1, "committed although the answer was lost");
    assert.ok([200, 201, 204].includes((await create()).status));

    await control.clearFaults(url);
    await control.expireTokens(url);
    if (v.expired) assert.equal((await read()).status, v.expired);
    if (v.expiredCreate) assert.equal((await create()).status, v.expiredCreate);
  });
}
