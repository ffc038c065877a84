"use strict";
// Shared by the ERP tests: start a vendor sandbox on port 0 and describe the connection to it. Not a test file.
const crypto = require("node:crypto");

const rsa = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
const PRIVATE_KEY = rsa.privateKey.export({ type: "pkcs8", format: "pem" });
const PUBLIC_KEY = rsa.publicKey.export({ type: "spki", format: "pem" });

/** Fast retries so fault tests take milliseconds, not seconds. */
const FAST = { retry: { maxAttempts: 6, baseDelayMs: 5, maxDelayMs: 20, maxElapsedMs: 5000 }, timeoutMs: 2000 };

const SYSTEMS = {
  netsuite: {
    async start(options = {}) {
      const { start, NETSUITE_DEFAULTS } = require("../../dist/sandbox/netsuite.js");
      const sb = await start({ port: 0, m2mCertificates: { "cert-1": PUBLIC_KEY }, ...options });
      // Items with external ids, so canonical lines can name them by SKU.
      await post(sb.url, "/__sandbox/records/inventoryItem", [
        { itemId: "WID-9", displayName: "Widget nine", basePrice: 12.5, externalId: "WID-9" },
        { itemId: "GAD-9", displayName: "Gadget nine", basePrice: 40, externalId: "GAD-9" },
      ]);
      return { sb, defaults: NETSUITE_DEFAULTS };
    },
    config(url, { auth = "m2m", ...rest } = {}) {
      const { NETSUITE_DEFAULTS: d } = require("../../dist/sandbox/netsuite.js");
      return {
        system: "netsuite",
        name: "netsuite test",
        baseUrl: url,
        accountId: d.accountId,
        auth: auth === "m2m" ? { kind: "m2m", clientId: d.clientId, certificateId: "cert-1", privateKey: PRIVATE_KEY } : { kind: "tba", ...d.tba },
        orderDefaults: { subsidiary: "1" },
        connection: FAST,
        ...rest,
      };
    },
    orderType: "salesOrder",
    sku: ["WID-9", "GAD-9"],
  },
  "sap-s4hana": {
    async start(options = {}) {
      const { start, SAP_DEFAULTS } = require("../../dist/sandbox/sap.js");
      return { sb: await start({ port: 0, ...options }), defaults: SAP_DEFAULTS };
    },
    config(url, rest = {}) {
      const { SAP_DEFAULTS: d } = require("../../dist/sandbox/sap.js");
      return {
        system: "sap-s4hana",
        name: "sap test",
        baseUrl: url,
        user: d.user,
        password: d.password,
        orderDefaults: { salesOrganization: "1010", distributionChannel: "10", organizationDivision: "00" },
        connection: FAST,
        ...rest,
      };
    },
    orderType: "A_SalesOrder",
    sku: ["TG11", "TG12"],
  },
  stripe: {
    async start(options = {}) {
      const { start, STRIPE_DEFAULTS } = require("../../dist/sandbox/stripe.js");
      return { sb: await start({ port: 0, ...options }), defaults: STRIPE_DEFAULTS };
    },
    config(url, rest = {}) {
      const { STRIPE_DEFAULTS: d } = require("../../dist/sandbox/stripe.js");
      return { system: "stripe", name: "stripe test", baseUrl: url, secretKey: d.secretKey, connection: FAST, ...rest };
    },
    orderType: "invoices",
    sku: ["WID-9", "GAD-9"],
  },
};

let sequence = 0;
/** A canonical SalesOrder for a fresh CRM account and opportunity. */
function salesOrder(system, { account, lines, currency = "EUR", customerRef } = {}) {
  sequence++;
  const tag = `${Date.now().toString(36)}${process.pid.toString(36)}${sequence}`;
  const accountId = account ?? `001${tag}`.slice(-18);
  const [a, b] = SYSTEMS[system].sku;
  return {
    refs: [{ system: "salesforce", id: `006OPP${tag}`, type: "Opportunity" }],
    externalReference: `SF-${tag}`.slice(0, 35),
    customer: { refs: [{ system: "salesforce", id: accountId, type: "Account" }, ...(customerRef ? [customerRef] : [])], name: `Account ${tag}` },
    orderDate: "2026-11-20",
    currency,
    lines: lines ?? [
      { lineNumber: 1, product: { sku: a }, quantity: 2, unitPrice: { amount: "12.50", currency } },
      { lineNumber: 2, product: { sku: b }, quantity: 1, unitPrice: { amount: "40.00", currency } },
    ],
  };
}

/** The canonical Customer for an order's CRM account. */
function customerOf(order) {
  return { refs: order.customer.refs.filter((r) => r.system === "salesforce"), name: order.customer.name, kind: "company", email: `ap-${order.customer.refs[0].id.toLowerCase()}@example.com` };
}

async function post(base, path, body) {
  const res = await fetch(base + path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

async function json(base, method, path, body) {
  const res = await fetch(base + path, { method, headers: { "content-type": "application/json" }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const text = await res.text();
  return text ? JSON.parse(text) : undefined;
}

const control = {
  faults: (base, faults) => json(base, "PUT", "/__sandbox/faults", { faults }),
  clearFaults: (base) => json(base, "DELETE", "/__sandbox/faults"),
  limits: (base, limits) => json(base, "PUT", "/__sandbox/limits", limits),
  expireTokens: (base) => json(base, "POST", "/__sandbox/tokens/expire"),
  stats: (base) => json(base, "GET", "/__sandbox/stats"),
  records: async (base, type) => (await json(base, "GET", `/__sandbox/records/${type}`)).records,
  seed: (base, type, body) => post(base, `/__sandbox/records/${type}`, body),
};

/** Records of a type whose external reference is `ref`, as each vendor stores it. */
async function ordersWith(system, base, ref) {
  const rows = await control.records(base, SYSTEMS[system].orderType);
  if (system === "netsuite") return rows.filter((r) => r.externalId === ref);
  if (system === "sap-s4hana") return rows.filter((r) => r.PurchaseOrderByCustomer === ref);
  return rows.filter((r) => r.metadata && r.metadata.external_reference === ref);
}

module.exports = { SYSTEMS, FAST, salesOrder, customerOf, control, ordersWith, PRIVATE_KEY, PUBLIC_KEY };

/** The keelson-erp-connection node and its credentials for a sandbox. */
function connectionNode(system, url, { id = "conn", auth = "m2m", orderDefaults, ...fields } = {}) {
  const c = SYSTEMS[system].config(url, { auth });
  const def = {
    id,
    type: "keelson-erp-connection",
    name: `${system} sandbox`,
    system,
    baseUrl: url,
    accountId: c.accountId ?? "",
    netsuiteAuth: auth,
    certificateId: c.auth?.certificateId ?? "",
    orderDefaults: JSON.stringify(orderDefaults ?? c.orderDefaults ?? {}),
    maxAttempts: 6,
    timeoutSeconds: 2,
    ...fields,
  };
  const creds =
    system === "netsuite" ? (auth === "m2m" ? { clientId: c.auth.clientId, privateKey: PRIVATE_KEY } : { consumerKey: c.auth.consumerKey, consumerSecret: c.auth.consumerSecret, tokenId: c.auth.tokenId, tokenSecret: c.auth.tokenSecret })
    : system === "sap-s4hana" ? { user: c.user, password: c.password }
    : { secretKey: c.secretKey };
  return { def, creds: { [id]: creds } };
}

/** An ERP customer that exists in the sandbox's seed. */
async function seededCustomer(system, base) {
  if (system === "netsuite") return { system, id: "101", type: "customer" };
  if (system === "sap-s4hana") return { system, id: "10100001", type: "customer" };
  const customers = await control.records(base, "customers");
  return { system, id: customers[0].id, type: "customer" };
}

module.exports.connectionNode = connectionNode;
module.exports.seededCustomer = seededCustomer;
