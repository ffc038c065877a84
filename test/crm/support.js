"use strict";
// Starts the three CRM sandboxes in-process on port 0 and builds adapter settings for each.
const { generateKeyPairSync } = require("node:crypto");
const salesforce = require("../../dist/sandbox/salesforce.js");
const hubspot = require("../../dist/sandbox/hubspot.js");
const dataverse = require("../../dist/sandbox/dataverse.js");

const keys = generateKeyPairSync("rsa", { modulusLength: 2048, publicKeyEncoding: { type: "spki", format: "pem" }, privateKeyEncoding: { type: "pkcs8", format: "pem" } });

/** Small retry delays so the suite stays fast. */
const FAST = { retry: { maxAttempts: 4, baseDelayMs: 5, maxDelayMs: 20, maxElapsedMs: 5000 }, breaker: { failureThreshold: 50, resetTimeoutMs: 200 }, timeoutMs: 2000, batchWindowMs: 10 };

const VENDORS = {
  salesforce: {
    // Query batches of 3 so paging shows with a handful of records.
    start: (limits = {}) => salesforce.start({ port: 0, jwtCertificate: keys.publicKey, limits: { queryBatchSize: 3, ...limits } }),
    settings: (sb, auth = "client-credentials") => ({
      system: "salesforce",
      baseUrl: sb.url,
      auth,
      credentials: auth === "jwt-bearer"
        ? { clientId: salesforce.SALESFORCE_DEFAULTS.clientId, username: salesforce.SALESFORCE_DEFAULTS.username, privateKey: keys.privateKey }
        : { clientId: salesforce.SALESFORCE_DEFAULTS.clientId, clientSecret: salesforce.SALESFORCE_DEFAULTS.clientSecret },
      audience: sb.url,
    }),
    accountType: "Account",
    key: (r) => r.ERP_Customer_Id__c,
    // A field the vendor refuses on write, and what its business exception names.
    badFields: { NumberOfEmployees: "many" },
    badField: "NumberOfEmployees",
    opportunityType: "Opportunity",
    writeBack: (r) => [r.ERP_Order_Number__c, r.ERP_Order_Status__c, r.ERP_Message__c],
  },
  hubspot: {
    start: (limits = {}) => hubspot.start({ port: 0, limits, properties: { companies: [{ name: "erp_status" }] } }),
    settings: (sb, auth = "private-app") => ({
      system: "hubspot",
      baseUrl: sb.url,
      auth,
      credentials: auth === "oauth-refresh"
        ? { clientId: hubspot.HUBSPOT_DEFAULTS.clientId, clientSecret: hubspot.HUBSPOT_DEFAULTS.clientSecret, refreshToken: hubspot.HUBSPOT_DEFAULTS.refreshToken }
        : { accessToken: hubspot.HUBSPOT_DEFAULTS.privateAppToken },
    }),
    accountType: "companies",
    key: (r) => r.properties.erp_customer_id,
    badFields: { no_such_property: "x" },
    badField: "no_such_property",
    opportunityType: "deals",
    writeBack: (r) => [r.properties.erp_order_number, r.properties.erp_order_status, r.properties.erp_message],
  },
  dataverse: {
    start: (limits = {}) => dataverse.start({
      port: 0,
      limits,
      customColumns: { accounts: ["keelson_erpcustomerid", "keelson_erpsystem", "keelson_erpstatus"], opportunities: ["keelson_erpordernumber", "keelson_erporderstatus", "keelson_erpmessage"] },
    }),
    settings: (sb) => ({
      system: "dataverse",
      baseUrl: sb.url,
      auth: "client-credentials",
      tokenUrl: `${sb.url}/${dataverse.DATAVERSE_DEFAULTS.tenantId}/oauth2/v2.0/token`,
      credentials: { clientId: dataverse.DATAVERSE_DEFAULTS.clientId, clientSecret: dataverse.DATAVERSE_DEFAULTS.clientSecret },
    }),
    accountType: "accounts",
    key: (r) => r.keelson_erpcustomerid,
    badFields: { nosuchcolumn: "x" },
    badField: "nosuchcolumn",
    opportunityType: "opportunities",
    writeBack: (r) => [r.keelson_erpordernumber, r.keelson_erporderstatus, r.keelson_erpmessage],
  },
};

async function control(sb, method, path, body) {
  const res = await fetch(`${sb.url}/__sandbox${path}`, { method, headers: { "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  const json = await res.json();
  if (!res.ok) throw new Error(`control ${method} ${path}: ${JSON.stringify(json)}`);
  return json;
}

const faults = (sb, list) => control(sb, "PUT", "/faults", { faults: list });
const records = async (sb, type) => (await control(sb, "GET", `/records/${type}`)).records;
const stats = (sb) => control(sb, "GET", "/stats");

/** Requests the sandbox answered on routes whose key contains `part`. */
async function requestsTo(sb, part) {
  const s = await stats(sb);
  return Object.entries(s.routes).filter(([k]) => k.includes(part)).reduce((n, [, v]) => n + v.requests, 0);
}

/** A canonical Customer for upserts. */
function customer(n, extra = {}) {
  return {
    refs: [{ system: "netsuite", id: `C-${n}`, type: "customer" }],
    name: `Customer ${n}`,
    kind: "company",
    phone: "+1 555 0100",
    billingAddress: { line1: `${n} Main St`, city: "Springfield", postalCode: "12345", country: "US" },
    ...extra,
  };
}

module.exports = { VENDORS, FAST, keys, control, faults, records, stats, requestsTo, customer };
