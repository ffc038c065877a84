"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const { validatorFor, parseSchemaName, CANONICAL_TYPES, schemaOf } = require("../../dist/nodes/lib/canonical/schemas.js");

const usd = (amount) => ({ amount, currency: "USD" });
function order(overrides = {}) {
  return {
    refs: [{ system: "salesforce", id: "006A", type: "Opportunity" }],
    externalReference: "SF-006A",
    customer: { refs: [{ system: "netsuite", id: "4711" }], name: "Acme" },
    orderDate: "2026-11-20",
    currency: "USD",
    lines: [{ lineNumber: 1, product: { sku: "ARM" }, quantity: 2, unitPrice: usd("9.99"), amount: usd("19.98") }],
    ...overrides,
  };
}

test("every canonical type compiles and names its version", () => {
  assert.deepEqual([...CANONICAL_TYPES], ["Customer", "Product", "Quote", "SalesOrder", "Invoice", "Payment", "Shipment"]);
  for (const t of CANONICAL_TYPES) {
    const v = validatorFor(`${t}@1`);
    assert.equal(typeof v, "function");
    assert.equal(schemaOf(t).$schema, "https://json-schema.org/draft/2020-12/schema");
    assert.match(schemaOf(t).$id, /\/canonical\/v1\//);
  }
  assert.deepEqual(parseSchemaName("SalesOrder@1.0.0"), { type: "SalesOrder", version: 1 });
  assert.deepEqual(parseSchemaName("Invoice"), { type: "Invoice", version: 1 });
  assert.throws(() => parseSchemaName("Order@1"), /unknown canonical type "Order@1"/);
  assert.throws(() => parseSchemaName("SalesOrder@7"), /has no version 7/);
});

test("a valid SalesOrder passes", () => {
  const r = validatorFor("SalesOrder@1")(order());
  assert.deepEqual(r, { valid: true, errors: [] });
});

test("every violation is reported with its path", () => {
  const bad = order({
    orderDate: "2026-02-30",
    currency: "usd",
    lines: [
      { lineNumber: 1, product: {}, quantity: 0, unitPrice: usd("9.999") },
      { lineNumber: 2, product: { sku: "X" }, quantity: 1, unitPrice: { amount: 9.99, currency: "USD" }, colour: "red" },
    ],
  });
  delete bad.externalReference;
  const { valid, errors } = validatorFor("SalesOrder")(bad);
  assert.equal(valid, false);
  const byPath = Object.fromEntries(errors.map((e) => [e.path, e.message]));
  assert.equal(byPath.externalReference, "is required");
  assert.match(byPath.orderDate, /must match format "date"/);
  assert.ok(errors.some((e) => e.path === "currency" && /pattern|ISO 4217/.test(e.message)));
  assert.equal(byPath["lines[0].quantity"], "must be > 0");
  assert.equal(byPath["lines[0].product"], "needs one of: sku, refs");
  assert.equal(byPath["lines[0].unitPrice"], "has more decimal places than its currency allows");
  assert.equal(byPath["lines[1].unitPrice.amount"], "must be string");
  assert.equal(byPath["lines[1].colour"], "is not a property of this object");
});

test("currency codes must exist, and amounts must be in the document's currency", () => {
  let r = validatorFor("SalesOrder")(order({ currency: "ABC" }));
  assert.equal(r.valid, false);
  assert.deepEqual(r.errors.map((e) => [e.path, e.message]), [["currency", "must be an ISO 4217 currency code"]]);

  r = validatorFor("SalesOrder")(order({ lines: [{ lineNumber: 1, product: { sku: "A" }, quantity: 1, unitPrice: { amount: "5", currency: "EUR" } }] }));
  assert.equal(r.valid, false);
  assert.deepEqual(r.errors.map((e) => [e.path, e.message]), [["lines[0].unitPrice.currency", "must be USD, the document's currency"]]);
});

test("JPY, USD and BHD amounts respect their minor unit", () => {
  const v = validatorFor("Payment@1");
  const payment = (amount, currency) => ({ refs: [], amount: { amount, currency }, paymentDate: "2026-11-23" });
  assert.equal(v(payment("1500", "JPY")).valid, true);
  assert.equal(v(payment("1500.5", "JPY")).valid, false);
  assert.equal(v(payment("10.25", "USD")).valid, true);
  assert.equal(v(payment("10.255", "USD")).valid, false);
  assert.equal(v(payment("10.255", "BHD")).valid, true);
  assert.equal(v(payment("10.2555", "BHD")).valid, false);
  assert.equal(v(payment("1,000.00", "USD")).valid, false);
});

test("cross-references carry their system of record", () => {
  const v = validatorFor("Customer");
  assert.equal(v({ refs: [{ system: "salesforce", id: "001A" }, { system: "netsuite", id: "4711", number: "C-4711" }], name: "Acme" }).valid, true);
  const r = v({ refs: [{ system: "Sales Force", id: "" }], name: "Acme" });
  assert.deepEqual(r.errors.map((e) => e.path).sort(), ["refs[0].id", "refs[0].system"]);
  assert.equal(v({ refs: [], name: "Acme" }).valid, false, "a customer is known in at least one system");
});

test("dates, date-times and e-mail are checked", () => {
  const v = validatorFor("Customer");
  const base = { refs: [{ system: "hubspot", id: "1" }], name: "A" };
  assert.equal(v({ ...base, updatedAt: "2026-11-20T14:03:11.000Z" }).valid, true);
  assert.equal(v({ ...base, updatedAt: "2026-11-20T14:03:11+01:00" }).valid, true);
  assert.equal(v({ ...base, updatedAt: "2026-11-20 14:03" }).valid, false);
  assert.equal(v({ ...base, updatedAt: "2026-13-20T14:03:11Z" }).valid, false);
  assert.equal(v({ ...base, email: "ap@acme.example" }).valid, true);
  assert.equal(v({ ...base, email: "not an address" }).valid, false);
  assert.equal(validatorFor("Invoice")({ refs: [{ system: "stripe", id: "in_1" }], customer: { refs: [{ system: "stripe", id: "cus_1" }] }, issueDate: "2024-02-29", currency: "EUR", status: "open", totals: { total: { amount: "1", currency: "EUR" } } }).valid, true);
  assert.equal(validatorFor("Invoice")({ refs: [{ system: "stripe", id: "in_1" }], customer: { refs: [{ system: "stripe", id: "cus_1" }] }, issueDate: "2023-02-29", currency: "EUR", status: "open", totals: { total: { amount: "1", currency: "EUR" } } }).valid, false);
});

test("non-objects are rejected, not thrown on", () => {
  for (const bad of [null, 42, "order", [], undefined]) {
    const r = validatorFor("SalesOrder")(bad);
    assert.equal(r.valid, false);
    assert.equal(r.errors[0].path, "(root)");
  }
});
