"use strict";
// Records for the reference flows, seeded into the vendor sandboxes through their control plane (/__sandbox):
// won opportunities with lines in each CRM, the items the ERPs need, invoices for the orders the flow made, and
// billing (Stripe) invoices that name their ERP invoice. Used by `npm run demo:traffic` and the flow tests.

/** Products every CRM sandbox and ERP sandbox knows by the same SKU (SAP's materials, NetSuite's items by external id). */
const SKUS = { "WID-1": "9.99", "GAD-2": "150" };

async function control(url, method, path, body) {
  const res = await fetch(`${url}/__sandbox${path}`, { method, headers: { "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  const json = text ? JSON.parse(text) : undefined;
  if (!res.ok) throw new Error(`sandbox ${method} ${path}: ${res.status} ${text.slice(0, 300)}`);
  return json;
}
const records = async (url, type) => (await control(url, "GET", `/records/${encodeURIComponent(type)}`)).records;
const seed = async (url, type, body) => (await control(url, "POST", `/records/${encodeURIComponent(type)}`, body)).records;

/**
 * One CRM sandbox: `opportunity({name, lines: [{sku, quantity, unitPrice}], currency, erpCustomer})` seeds a won
 * opportunity with a new account and returns {id, accountId}; `erpCustomer: {system, id}` links the account to a
 * customer the ERP already has (as for an ERP that creates none). `writeBack(id)` reads what the flow wrote on it and
 * `erpCustomer(accountId)` the ERP customer number linked to the account.
 */
function crm(system, url) {
  let n = 0;
  const tag = () => `${Date.now().toString(36)}${(n++).toString(36)}`;
  if (system === "salesforce") {
    return {
      async opportunity({ name, lines, currency = "USD", erpCustomer }) {
        const products = await records(url, "Product2");
        const link = erpCustomer ? { ERP_Customer_Id__c: erpCustomer.id, ERP_System__c: erpCustomer.system } : {};
        const account = (await seed(url, "Account", { Name: `${name} Ltd`, BillingCity: "Lyon", BillingCountryCode: "FR", ...link }))[0];
        const amount = lines.reduce((sum, l) => sum + l.quantity * Number(l.unitPrice), 0);
        const opp = (await seed(url, "Opportunity", { Name: name, AccountId: account.Id, StageName: "Closed Won", CloseDate: "2026-11-20", Amount: amount, CurrencyIsoCode: currency }))[0];
        for (const l of lines) {
          const product = products.find((p) => p.ProductCode === l.sku) ?? (await seed(url, "Product2", { Name: l.sku, ProductCode: l.sku, IsActive: true }))[0];
          await seed(url, "OpportunityLineItem", { OpportunityId: opp.Id, Product2Id: product.Id, Quantity: l.quantity, UnitPrice: Number(l.unitPrice), CurrencyIsoCode: currency });
        }
        return { id: opp.Id, accountId: account.Id };
      },
      async writeBack(id) {
        const r = (await records(url, "Opportunity")).find((o) => o.Id === id);
        return r && { orderNumber: r.ERP_Order_Number__c, status: r.ERP_Order_Status__c, message: r.ERP_Message__c };
      },
      async erpCustomer(accountId) {
        const r = (await records(url, "Account")).find((a) => a.Id === accountId);
        return r && { id: r.ERP_Customer_Id__c, system: r.ERP_System__c };
      },
    };
  }
  if (system === "hubspot") {
    return {
      async opportunity({ name, lines, currency = "USD", erpCustomer }) {
        const link = erpCustomer ? { erp_customer_id: erpCustomer.id, erp_system: erpCustomer.system } : {};
        const company = (await seed(url, "companies", { properties: { name: `${name} Ltd`, city: "Lyon", country: "FR", domain: `${tag()}.example`, ...link } }))[0];
        const items = [];
        for (const l of lines) items.push((await seed(url, "line_items", { properties: { name: l.sku, quantity: String(l.quantity), price: String(l.unitPrice), hs_sku: l.sku } }))[0]);
        const amount = lines.reduce((sum, l) => sum + l.quantity * Number(l.unitPrice), 0);
        const deal = (await seed(url, "deals", {
          properties: { dealname: name, amount: String(amount), dealstage: "closedwon", deal_currency_code: currency, closedate: "2026-11-20T00:00:00.000Z" },
          associations: [{ type: "companies", id: company.id }, ...items.map((i) => ({ type: "line_items", id: i.id }))],
        }))[0];
        return { id: deal.id, accountId: company.id };
      },
      async writeBack(id) {
        const r = (await records(url, "deals")).find((d) => d.id === id);
        return r && { orderNumber: r.properties.erp_order_number ?? undefined, status: r.properties.erp_order_status ?? undefined, message: r.properties.erp_message ?? undefined };
      },
      async erpCustomer(accountId) {
        const r = (await records(url, "companies")).find((c) => c.id === accountId);
        return r && { id: r.properties.erp_customer_id ?? undefined, system: r.properties.erp_system ?? undefined };
      },
    };
  }
  if (system === "dataverse") {
    return {
      async opportunity({ name, lines, currency = "USD", erpCustomer }) {
        const currencies = await records(url, "transactioncurrencies");
        const cur = currencies.find((c) => c.isocurrencycode === currency) ?? currencies[0];
        const products = await records(url, "products");
        const link = erpCustomer ? { keelson_erpcustomerid: erpCustomer.id, keelson_erpsystem: erpCustomer.system } : {};
        const account = (await seed(url, "accounts", { name: `${name} Ltd`, address1_city: "Lyon", address1_country: "France", _transactioncurrencyid_value: cur.transactioncurrencyid, ...link }))[0];
        const amount = lines.reduce((sum, l) => sum + l.quantity * Number(l.unitPrice), 0);
        const opp = (await seed(url, "opportunities", { name, _customerid_value: account.accountid, _parentaccountid_value: account.accountid, estimatedvalue: amount, actualvalue: amount, estimatedclosedate: "2026-11-20", actualclosedate: "2026-11-20", statecode: 1, statuscode: 3, _transactioncurrencyid_value: cur.transactioncurrencyid }))[0];
        let line = 0;
        for (const l of lines) {
          const product = products.find((p) => p.productnumber === l.sku) ?? (await seed(url, "products", { name: l.sku, productnumber: l.sku, price: Number(l.unitPrice) }))[0];
          await seed(url, "opportunityproducts", { _opportunityid_value: opp.opportunityid, _productid_value: product.productid, quantity: l.quantity, priceperunit: Number(l.unitPrice), lineitemnumber: ++line, _transactioncurrencyid_value: cur.transactioncurrencyid });
        }
        return { id: opp.opportunityid, accountId: account.accountid };
      },
      async writeBack(id) {
        const r = (await records(url, "opportunities")).find((o) => o.opportunityid === id);
        return r && { orderNumber: r.keelson_erpordernumber ?? undefined, status: r.keelson_erporderstatus ?? undefined, message: r.keelson_erpmessage ?? undefined };
      },
      async erpCustomer(accountId) {
        const r = (await records(url, "accounts")).find((a) => a.accountid === accountId);
        return r && { id: r.keelson_erpcustomerid ?? undefined, system: r.keelson_erpsystem ?? undefined };
      },
    };
  }
  throw new Error(`no demo records for CRM ${system}`);
}

/** Seeds, through `url`'s control plane, the SKUs a sandbox of `type` does not list yet (`has(record, sku)`). */
async function seedMissing(url, type, has, record) {
  const known = await records(url, type);
  for (const [sku, price] of Object.entries(SKUS)) if (!known.some((r) => has(r, sku))) await seed(url, type, record(sku, Number(price)));
}

/** The Oracle Fusion sandbox's seeded customer accounts by party; accounts of other parties are seeded as A-<party>. */
const FUSION_ACCOUNTS = { "C-1001": "1001", "C-1002": "1002" };
const fusionAccounts = new Set();

/**
 * One ERP sandbox: `prepare()` adds what orders need (items by SKU), `orders()` lists sales orders as
 * {id, externalReference, customer}, `invoice(orderId)` (NetSuite, SAP, Oracle Fusion and the in-house ERP) bills one and returns {id, total, currency}. `customer` is,
 * for an ERP that creates no customers, the one the CRM account must already be linked to ({system, id}).
 */
function erp(system, url) {
  if (system === "business-central") {
    return {
      prepare: () => seedMissing(url, "items", (r, sku) => r.number === sku, (sku, unitPrice) => ({ number: sku, displayName: sku, unitPrice })),
      async orders() {
        return (await records(url, "salesOrders")).map((o) => ({ id: String(o.id), number: o.number, externalReference: o.externalDocumentNumber, customer: o.customerNumber }));
      },
    };
  }
  if (system === "odoo") {
    return {
      prepare: () => seedMissing(url, "product.product", (r, sku) => r.default_code === sku, (sku, list_price) => ({ name: sku, default_code: sku, list_price, type: "consu", active: true })),
      async orders() {
        return (await records(url, "sale.order")).map((o) => ({ id: String(o.id), number: o.name, externalReference: o.client_order_ref || undefined, customer: String(o.partner_id) }));
      },
    };
  }
  if (system === "oracle-fusion") {
    return {
      // Its products (WID-1, GAD-2, SUP-12) are fixed in the sandbox; customers are parties ensure customer creates.
      async prepare() {},
      async orders() {
        return (await records(url, "salesOrdersForOrderHub")).map((o) => ({ id: String(o.HeaderId), number: o.OrderNumber, externalReference: o.SourceTransactionId, customer: o.BuyingPartyNumber }));
      },
      /** A Receivables invoice billing the order's lines to a customer account of its buying party (made here when missing). */
      async invoice(orderId, { paid = false } = {}) {
        const so = (await records(url, "salesOrdersForOrderHub")).find((o) => String(o.HeaderId) === String(orderId));
        if (!so) throw new Error(`no Oracle Fusion order ${orderId}`);
        const account = FUSION_ACCOUNTS[so.BuyingPartyNumber] ?? `A-${so.BuyingPartyNumber}`;
        if (!FUSION_ACCOUNTS[so.BuyingPartyNumber] && !fusionAccounts.has(account)) {
          await seed(url, "customerAccounts", { AccountNumber: account, PartyNumber: so.BuyingPartyNumber }).catch((err) => {
            if (!/exists/.test(err.message)) throw err;
          });
          fusionAccounts.add(account);
        }
        const lines = so.lines.map((l) => ({ ItemNumber: l.ProductNumber, Quantity: l.OrderedQuantity, UnitSellingPrice: l.UnitSellingPrice, SalesOrder: so.OrderNumber ?? undefined }));
        const inv = (await seed(url, "receivablesInvoices", { BillToCustomerNumber: account, InvoiceCurrencyCode: so.TransactionalCurrencyCode, BusinessUnit: so.BusinessUnitName, PurchaseOrder: so.CustomerPONumber ?? undefined, receivablesInvoiceLines: lines, paid }))[0];
        return { id: String(inv.CustomerTransactionId), total: Number(inv.EnteredAmount).toFixed(2), currency: inv.InvoiceCurrencyCode };
      },
    };
  }
  if (system === "acumatica") {
    return {
      prepare: () => seedMissing(url, "StockItem", (r, sku) => r.InventoryID === sku, (sku, DefaultPrice) => ({ InventoryID: sku, Description: sku, DefaultPrice })),
      async orders() {
        return (await records(url, "SalesOrder")).map((o) => ({ id: String(o.OrderNbr), number: o.OrderNbr, externalReference: o.CustomerOrder, customer: o.CustomerID }));
      },
    };
  }
  if (system === "dynamics-fo") {
    const company = require("../dist/sandbox/dynamics-fo.js").DYNAMICS_FO_DEFAULTS.defaultCompany;
    return {
      prepare: () => seedMissing(url, "ReleasedProductsV2", (r, sku) => r.dataAreaId === company && r.ItemNumber === sku, (sku, SalesPrice) => ({ dataAreaId: company, ItemNumber: sku, ProductName: sku, SalesPrice })),
      async orders() {
        return (await records(url, "SalesOrderHeadersV2")).filter((o) => o.dataAreaId === company).map((o) => ({ id: String(o.SalesOrderNumber), number: o.SalesOrderNumber, externalReference: o.CustomersOrderReference, customer: o.OrderingCustomerAccountNumber }));
      },
    };
  }
  if (system === "generic-rest") {
    return {
      // The in-house ERP's items (WID-1, GAD-2 …) are fixed in the sandbox.
      async prepare() {},
      async orders() {
        return (await records(url, "orders")).map((o) => ({ id: String(o.id), number: o.number, externalReference: o.externalReference, customer: o.customerId }));
      },
      async invoice(orderId) {
        const inv = (await seed(url, "invoices", { orderId: String(orderId) }))[0];
        return { id: String(inv.id), total: inv.total.toFixed(2), currency: inv.currency };
      },
    };
  }
  if (system === "netsuite") {
    return {
      async prepare() {
        const items = await records(url, "inventoryItem");
        const missing = Object.keys(SKUS).filter((sku) => !items.some((i) => i.externalId === sku));
        if (missing.length) await seed(url, "inventoryItem", missing.map((sku) => ({ itemId: `${sku} (${items.length})`, displayName: sku, basePrice: Number(SKUS[sku]), externalId: sku })));
      },
      async orders() {
        return (await records(url, "salesOrder")).map((o) => ({ id: String(o.id), externalReference: o.externalId, customer: String(o.entity?.id ?? "") }));
      },
      async invoice(orderId, { paid = false } = {}) {
        const so = (await records(url, "salesOrder")).find((o) => String(o.id) === String(orderId));
        if (!so) throw new Error(`no NetSuite sales order ${orderId}`);
        const inv = (await seed(url, "invoice", { entity: { id: so.entity.id }, createdFrom: { id: so.id }, currency: so.currency, item: { items: so.item.items.map((i) => ({ item: { id: i.item.id }, quantity: i.quantity, rate: i.rate })) }, ...(paid ? { amountPaid: so.total } : {}) }))[0];
        return { id: String(inv.id), total: String(inv.total), currency: currencyOf(inv.currencySymbol ?? inv.currency?.refName) };
      },
    };
  }
  if (system === "sap-s4hana") {
    return {
      async prepare() {},
      async orders() {
        return (await records(url, "A_SalesOrder")).map((o) => ({ id: String(o.SalesOrder), externalReference: o.PurchaseOrderByCustomer, customer: String(o.SoldToParty) }));
      },
      async invoice(orderId) {
        const doc = (await seed(url, "A_BillingDocument", { SalesOrder: String(orderId) }))[0];
        return { id: String(doc.BillingDocument), total: String(doc.TotalGrossAmount), currency: doc.TransactionCurrency };
      },
    };
  }
  return {
    async prepare() {},
    async orders() {
      return [];
    },
    async invoice() {
      throw new Error(`no demo invoices for ERP ${system}`);
    },
  };
}

/** NetSuite's sandbox names currencies by symbol or name; the ISO code is what billing compares. */
function currencyOf(name) {
  const known = { USD: "USD", EUR: "EUR", GBP: "GBP", "US Dollar": "USD", Euro: "EUR", "British pound": "GBP" };
  return known[name] ?? name ?? "USD";
}

/** A Stripe invoice for an ERP invoice (metadata names it), finalized, for `total` (decimal string) in `currency`. */
async function billingInvoice(url, { erpSystem, erpInvoiceId, total, currency }) {
  const customer = (await seed(url, "customers", { name: `Billing for ${erpSystem} ${erpInvoiceId}`, email: `ap+${erpInvoiceId}@example.com` }))[0];
  const minor = Math.round(Number(total) * 100);
  const inv = (await seed(url, "invoices", { customer: customer.id, currency: currency.toLowerCase(), lines: [{ amount: minor, currency: currency.toLowerCase() }], metadata: { erp_invoice_id: erpInvoiceId, erp_system: erpSystem }, finalize: true }))[0];
  return { id: inv.id, total: (inv.total / 100).toFixed(2) };
}

/** CRM_SYSTEM / ERP_SYSTEM as people write them, to the connection's system names. */
const CRM_ALIASES = { salesforce: "salesforce", hubspot: "hubspot", dataverse: "dataverse", dynamics: "dataverse", dynamics365: "dataverse", "dynamics-365": "dataverse", d365: "dataverse" };
const ERP_ALIASES = {
  netsuite: "netsuite", sap: "sap-s4hana", "sap-s4hana": "sap-s4hana", s4hana: "sap-s4hana", stripe: "stripe", "generic-rest": "generic-rest",
  "business-central": "business-central", bc: "business-central", odoo: "odoo", "oracle-fusion": "oracle-fusion", fusion: "oracle-fusion",
  acumatica: "acumatica", "dynamics-fo": "dynamics-fo", fo: "dynamics-fo", "d365-fo": "dynamics-fo",
};
/** Which sandbox serves each system (run.js names them so). */
const SANDBOX_OF = {
  salesforce: "salesforce", hubspot: "hubspot", dataverse: "dataverse", netsuite: "netsuite", "sap-s4hana": "sap", stripe: "stripe",
  "business-central": "business-central", odoo: "odoo", "oracle-fusion": "oracle-fusion", acumatica: "acumatica", "dynamics-fo": "dynamics-fo",
  "generic-rest": "generic-rest",
};

/**
 * The environment the reference flows read (PRODUCT.md's contract), pointing at sandboxes with their default
 * credentials: `urls` maps a sandbox name (salesforce, hubspot, dataverse, netsuite, sap, stripe, business-central,
 * odoo, oracle-fusion, acumatica, dynamics-fo) to its URL.
 */
function sandboxEnvironment({ crm: crmName = "salesforce", erp: erpName = "netsuite", urls, mqttUrl, store = "file" }) {
  const crmSystem = CRM_ALIASES[String(crmName).toLowerCase()];
  // An unknown name gets no endpoint: the caller brings ERP_BASE_URL (a generic REST profile for a real ERP).
  const erpSystem = ERP_ALIASES[String(erpName).toLowerCase()] ?? String(erpName).toLowerCase();
  if (!crmSystem) throw new Error(`CRM_SYSTEM=${crmName} is not a CRM with a sandbox: use salesforce, hubspot or dynamics (dataverse)`);
  const url = (name) => {
    if (!urls[name]) throw new Error(`no ${name} sandbox running`);
    return urls[name];
  };
  const sandbox = (file) => require(`../dist/sandbox/${file}.js`);
  const env = { CRM_SYSTEM: crmSystem, CRM_BASE_URL: url(SANDBOX_OF[crmSystem]), ERP_SYSTEM: erpSystem, ...(SANDBOX_OF[erpSystem] ? { ERP_BASE_URL: url(SANDBOX_OF[erpSystem]) } : {}), KEELSON_STORE: store };
  // Billing (Stripe) only where its sandbox runs: quote to cash alone does not need it.
  if (urls.stripe) Object.assign(env, { BILLING_BASE_URL: urls.stripe, BILLING_API_KEY: sandbox("stripe").STRIPE_DEFAULTS.secretKey });
  if (mqttUrl) env.MQTT_URL = mqttUrl;
  if (crmSystem === "salesforce") Object.assign(env, { CRM_CLIENT_ID: sandbox("salesforce").SALESFORCE_DEFAULTS.clientId, CRM_CLIENT_SECRET: sandbox("salesforce").SALESFORCE_DEFAULTS.clientSecret });
  if (crmSystem === "hubspot") {
    const d = sandbox("hubspot").HUBSPOT_DEFAULTS;
    Object.assign(env, { CRM_CLIENT_ID: d.clientId, CRM_CLIENT_SECRET: d.clientSecret, CRM_ACCESS_TOKEN: d.privateAppToken });
  }
  if (crmSystem === "dataverse") {
    const d = sandbox("dataverse").DATAVERSE_DEFAULTS;
    Object.assign(env, { CRM_CLIENT_ID: d.clientId, CRM_CLIENT_SECRET: d.clientSecret, CRM_TOKEN_URL: `${env.CRM_BASE_URL}/${d.tenantId}/oauth2/v2.0/token` });
  }
  if (erpSystem === "netsuite") {
    const d = sandbox("netsuite").NETSUITE_DEFAULTS;
    Object.assign(env, { ERP_ACCOUNT_ID: d.accountId, ERP_CLIENT_ID: d.tba.consumerKey, ERP_CLIENT_SECRET: d.tba.consumerSecret, ERP_TOKEN_ID: d.tba.tokenId, ERP_TOKEN_SECRET: d.tba.tokenSecret, ERP_ORDER_DEFAULTS: JSON.stringify({ subsidiary: "1" }) });
  }
  if (erpSystem === "sap-s4hana") {
    const d = sandbox("sap").SAP_DEFAULTS;
    // bankGLAccount: the house bank account a recorded payment is posted to (the sandbox has Bank 1).
    Object.assign(env, { ERP_CLIENT_ID: d.user, ERP_CLIENT_SECRET: d.password, ERP_ORDER_DEFAULTS: JSON.stringify({ salesOrganization: "1010", distributionChannel: "10", organizationDivision: "00", bankGLAccount: "11001000" }) });
  }
  if (erpSystem === "stripe") Object.assign(env, { ERP_CLIENT_SECRET: sandbox("stripe").STRIPE_DEFAULTS.secretKey });
  // The Entra token endpoint of Business Central and F&O is the sandbox's own (ERP_TOKEN_URL), not login.microsoftonline.com.
  if (erpSystem === "business-central") {
    const d = sandbox("business-central").BUSINESS_CENTRAL_DEFAULTS;
    Object.assign(env, { ERP_CLIENT_ID: d.clientId, ERP_CLIENT_SECRET: d.clientSecret, ERP_TENANT_ID: d.tenantId, ERP_ENVIRONMENT: d.environment, ERP_COMPANY_ID: d.companyId, ERP_TOKEN_URL: `${env.ERP_BASE_URL}/${d.tenantId}/oauth2/v2.0/token` });
  }
  if (erpSystem === "odoo") {
    // JSON-2 takes the API key as bearer; JSON-RPC (ERP_PROTOCOL=jsonrpc) the login with that key as its password.
    const d = sandbox("odoo").ODOO_DEFAULTS;
    Object.assign(env, { ERP_DATABASE: d.database, ERP_CLIENT_ID: d.login, ERP_CLIENT_SECRET: d.apiKey });
  }
  if (erpSystem === "oracle-fusion") {
    const d = sandbox("oracle-fusion").ORACLE_FUSION_DEFAULTS;
    Object.assign(env, { ERP_CLIENT_ID: d.username, ERP_CLIENT_SECRET: d.password, ERP_ORDER_DEFAULTS: JSON.stringify({ businessUnitName: "Vision Operations", receiptMethod: "Manual", remittanceBankAccountNumber: "10271-17621-619" }) });
  }
  if (erpSystem === "acumatica") {
    const d = sandbox("acumatica").ACUMATICA_DEFAULTS;
    Object.assign(env, { ERP_CLIENT_ID: d.name, ERP_CLIENT_SECRET: d.password });
  }
  if (erpSystem === "generic-rest") {
    // The in-house ERP sandbox, with the profile and mappings resources/generic-rest-profile.json ships for it.
    const d = sandbox("generic-rest").GENERIC_REST_DEFAULTS;
    const shipped = require("../resources/generic-rest-profile.json");
    Object.assign(env, { ERP_AUTH: "oauth2", ERP_CLIENT_ID: d.clientId, ERP_CLIENT_SECRET: d.clientSecret, ERP_TOKEN_URL: `${env.ERP_BASE_URL}/oauth/token`, ERP_REST_PROFILE: JSON.stringify(shipped.profile), ERP_MAPPINGS: JSON.stringify(shipped.mappings) });
  }
  if (erpSystem === "dynamics-fo") {
    // A new F&O customer needs its customer group (the order defaults reach the customer mapping too).
    const d = sandbox("dynamics-fo").DYNAMICS_FO_DEFAULTS;
    Object.assign(env, { ERP_CLIENT_ID: d.clientId, ERP_CLIENT_SECRET: d.clientSecret, ERP_TENANT_ID: d.tenantId, ERP_COMPANY: d.defaultCompany, ERP_TOKEN_URL: `${env.ERP_BASE_URL}/${d.tenantId}/oauth2/v2.0/token`, ERP_ORDER_DEFAULTS: JSON.stringify({ customerGroupId: "30" }) });
  }
  return env;
}

module.exports = { SKUS, control, records, seed, crm, erp, billingInvoice, sandboxEnvironment, CRM_ALIASES, ERP_ALIASES, SANDBOX_OF };
