"use strict";
// Every shipped mapping against its golden input/output fixtures.
const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");
const { CanonicalMapper } = require("../../dist/nodes/lib/mapping/mapping.js");
const { LIBRARY, mappingExpression } = require("../../dist/nodes/lib/mapping/library.js");
const { validatorFor } = require("../../dist/nodes/lib/canonical/schemas.js");

const fixtures = path.join(__dirname, "..", "fixtures", "mappings");
const read = (id, file) => JSON.parse(fs.readFileSync(path.join(fixtures, id, file), "utf8"));

test("the library ships the mappings the product promises", () => {
  const ids = LIBRARY.map((m) => m.id);
  for (const id of [
    "salesforce-opportunity-to-quote", "salesforce-opportunity-to-salesorder", "hubspot-deal-to-quote",
    "salesorder-to-netsuite-salesorder", "netsuite-salesorder-to-salesorder", "salesorder-to-sap-salesorder",
    "sap-salesorder-to-salesorder", "netsuite-invoice-to-invoice", "stripe-invoice-to-invoice",
  ]) assert.ok(ids.includes(id), id);
  assert.throws(() => mappingExpression("nope"), /no mapping "nope" in the library/);
});

for (const entry of LIBRARY) {
  test(`golden: ${entry.id}`, async () => {
    const mapper = new CanonicalMapper({ expression: mappingExpression(entry.id), targetSchema: entry.targetSchema });
    const result = await mapper.map(read(entry.id, "input.json"));
    assert.deepEqual(result.errors, []);
    assert.equal(result.valid, true);
    assert.deepEqual(JSON.parse(JSON.stringify(result.value)), read(entry.id, "expected.json"));
  });
}

test("outbound mappings take what the inbound ones produce", async () => {
  // SalesOrder from Salesforce → NetSuite body: the customer's NetSuite ref drives entity.id.
  const so = read("salesforce-opportunity-to-salesorder", "expected.json");
  const ns = await new CanonicalMapper({ expression: mappingExpression("salesorder-to-netsuite-salesorder") }).map(so);
  assert.equal(ns.value.externalId, "SF-006Dn00000A1b2cIAB");
  assert.deepEqual(ns.value.entity, { id: "4711" });
  assert.equal(ns.value.item.items.length, 5);
  assert.deepEqual(ns.value.item.items[1].item, { externalId: "GRIP-V2" });
  // NetSuite order read back → canonical, and SAP both ways keep the external reference.
  const back = await new CanonicalMapper({ expression: mappingExpression("netsuite-salesorder-to-salesorder"), targetSchema: "SalesOrder@1" }).map(read("netsuite-salesorder-to-salesorder", "input.json"));
  assert.equal(back.value.externalReference, so.externalReference);
  const sapBody = read("salesorder-to-sap-salesorder", "expected.json");
  assert.equal(sapBody.PurchaseOrderByCustomer, read("sap-salesorder-to-salesorder", "input.json").PurchaseOrderByCustomer);
});

test("Stripe's minor units come out as decimal amounts per currency", async () => {
  const mapper = new CanonicalMapper({ expression: mappingExpression("stripe-invoice-to-invoice"), targetSchema: "Invoice@1" });
  const base = read("stripe-invoice-to-invoice", "input.json");
  for (const [currency, minor, amount] of [["jpy", 1500, "1500"], ["usd", 1999, "19.99"], ["bhd", 12340, "12.34"], ["eur", 5, "0.05"]]) {
    const r = await mapper.map({ ...base, currency, total: minor, lines: { data: [] } });
    assert.equal(r.valid, true, `${currency}: ${JSON.stringify(r.errors)}`);
    assert.deepEqual(r.value.totals.total, { amount, currency: currency.toUpperCase() });
  }
});

test("a Salesforce line with zero quantity or a sub-cent price is invalid, named by path", async () => {
  const mapper = new CanonicalMapper({ expression: mappingExpression("salesforce-opportunity-to-salesorder"), targetSchema: "SalesOrder@1" });
  const input = read("salesforce-opportunity-to-salesorder", "input.json");
  input.OpportunityLineItems.records[2].Quantity = 0;
  input.OpportunityLineItems.records[3].UnitPrice = 99.995;
  const r = await mapper.map(input);
  assert.equal(r.valid, false);
  assert.deepEqual(r.errors.map((e) => [e.path, e.message]), [
    ["lines[2].quantity", "must be > 0"],
    ["lines[3].unitPrice", "has more decimal places than its currency allows"],
  ]);
  assert.equal(validatorFor("SalesOrder@1")(read("salesforce-opportunity-to-salesorder", "expected.json")).valid, true);
});

test("HubSpot's free-text country only becomes an address country when it is a two-letter code", async () => {
  const mapper = new CanonicalMapper({ expression: mappingExpression("hubspot-deal-to-quote"), targetSchema: "Quote@1" });
  const input = read("hubspot-deal-to-quote", "input.json");
  input.company.properties.country = "Germany";
  let r = await mapper.map(input);
  assert.equal(r.valid, true, JSON.stringify(r.errors));
  assert.equal(r.value.account.billingAddress.country, undefined);
  input.company.properties.country = "de";
  r = await mapper.map(input);
  assert.equal(r.value.account.billingAddress.country, "DE");
});
