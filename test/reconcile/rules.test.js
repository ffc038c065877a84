"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const { FieldRule, ReconcileConfigError, normaliseKeyPart } = require("../../dist/nodes/lib/reconcile/rules.js");
const { minorUnits, MinorSum } = require("../../dist/nodes/lib/reconcile/amounts.js");

const cmp = (spec, l, r, lr = {}, rr = {}) => new FieldRule({ field: "f", ...spec }).compare(l, r, lr, rr);

test("exact: same value and type; objects regardless of key order; missing equals null", () => {
  assert.equal(cmp({ rule: "exact" }, "A", "A"), undefined);
  assert.equal(cmp({ rule: "exact" }, 3, 3), undefined);
  assert.deepEqual(cmp({ rule: "exact" }, 3, "3"), { field: "f", left: 3, right: "3", rule: "exact" });
  assert.ok(cmp({ rule: "exact" }, "a", "A"));
  assert.equal(cmp({ rule: "exact" }, { a: 1, b: [1, { c: 2, d: 3 }] }, { b: [1, { d: 3, c: 2 }], a: 1 }), undefined);
  assert.ok(cmp({ rule: "exact" }, { a: 1 }, { a: 2 }));
  assert.equal(cmp({ rule: "exact" }, undefined, null), undefined);
  assert.ok(cmp({ rule: "exact" }, undefined, ""));
  assert.equal(cmp({ rule: "exact" }, new Date("2026-01-01T00:00:00Z"), "2026-01-01T00:00:00.000Z"), undefined);
});

test("text: case, surrounding whitespace and whitespace runs do not matter; letters and inner spaces do", () => {
  assert.equal(cmp({ rule: "text" }, "  Acme\tRobotics  SAS ", "acme robotics sas"), undefined);
  assert.equal(cmp({ rule: "text" }, "ZÜRICH", "zürich"), undefined);
  assert.equal(cmp({ rule: "text" }, "Cafe\u0301", "CAFÉ"), undefined, "composed and decomposed accents are the same text");
  assert.ok(cmp({ rule: "text" }, "AcmeRobotics", "Acme Robotics"));
  assert.ok(cmp({ rule: "text" }, "Acme", "Acme Inc"));
  assert.equal(cmp({ rule: "text" }, 12, "12"), undefined);
  assert.equal(cmp({ rule: "text" }, undefined, "  "), undefined);
});

test("number: absolute and relative tolerance decided on exact decimals, not floats", () => {
  const abs = { rule: "number", absolute: "0.01" };
  assert.equal(cmp(abs, 100.01, "100.00"), undefined, "0.01 apart is within 0.01 (floats say 0.010000000000005)");
  assert.deepEqual(cmp(abs, "100.011", 100), { field: "f", left: "100.011", right: 100, rule: "number", difference: "0.011" });
  assert.equal(cmp({ rule: "number" }, "1.50", 1.5), undefined, "equal decimals in other spellings");
  assert.ok(cmp({ rule: "number" }, 0.1 + 0.2, 0.3), "no tolerance: 0.30000000000000004 is not 0.3");
  assert.equal(cmp({ rule: "number" }, "12345678901234567890.12", "12345678901234567890.120"), undefined);
  assert.ok(cmp({ rule: "number" }, "12345678901234567890.12", "12345678901234567890.13"), "beyond float precision");
  const rel = { rule: "number", relative: "0.001" };
  assert.equal(cmp(rel, 1000, 1001), undefined, "0.1 % of 1001");
  assert.ok(cmp(rel, 1000, 1001.002));
  assert.equal(cmp({ rule: "number", absolute: "5", relative: "0.001" }, 10, 15), undefined, "the larger tolerance applies");
  assert.equal(cmp(abs, undefined, null), undefined);
  assert.equal(cmp(abs, undefined, 3).reason, "missing");
  assert.equal(cmp(abs, "n/a", 3).reason, "not a number");
  assert.equal(cmp(abs, true, 1).reason, "not a number");
  assert.equal(cmp(abs, "1e2", 100), undefined);
});

test("money: compared in the currency's minor unit (USD cents, JPY yen, BHD fils)", () => {
  const usd = { rule: "money", currencyField: "cur" };
  assert.equal(cmp(usd, "12.50", 12.5, { cur: "USD" }, { cur: "USD" }), undefined);
  assert.deepEqual(cmp(usd, "12.50", "12.51", { cur: "USD" }, { cur: "USD" }), { field: "f", left: "12.50", right: "12.51", rule: "money", difference: "-0.01" });
  assert.equal(cmp(usd, "1200", 1200, { cur: "JPY" }, { cur: "JPY" }), undefined);
  assert.equal(cmp(usd, "1200.4", 1200, { cur: "JPY" }, { cur: "JPY" }), undefined, "JPY has no minor digits: 1200.4 rounds to 1200");
  assert.equal(cmp(usd, "1200.5", 1200, { cur: "JPY" }, { cur: "JPY" }).difference, "1");
  assert.equal(cmp(usd, "1.234", "1.2345", { cur: "BHD" }, { cur: "BHD" }).difference, "-0.001", "BHD has three: 1.2345 → 1.235");
  assert.equal(cmp(usd, "1.2345", "1.2345", { cur: "BHD" }, { cur: "BHD" }), undefined);
  assert.equal(cmp({ ...usd, rounding: "half-even" }, "0.125", "0.12", { cur: "USD" }, { cur: "USD" }), undefined, "half-even: 0.125 → 0.12");
  assert.equal(cmp({ ...usd, rounding: "exact" }, "0.125", "0.12", { cur: "USD" }, { cur: "USD" }).reason, "too many decimal places");
  assert.equal(cmp({ ...usd, tolerance: "0.05" }, "10.00", "10.05", { cur: "USD" }, { cur: "USD" }), undefined);
  assert.ok(cmp({ ...usd, tolerance: "0.05" }, "10.00", "10.06", { cur: "USD" }, { cur: "USD" }));
  assert.equal(cmp(usd, "10", "10", { cur: "USD" }, { cur: "EUR" }).reason, "currency differs");
  assert.equal(cmp(usd, "10", "10", { cur: "XYZ" }, { cur: "XYZ" }).reason, "unknown currency");
  assert.equal(cmp(usd, "10", "10", {}, {}).reason, "no currency");
  assert.equal(cmp({ ...usd, currency: "EUR" }, "10", "10.00", {}, {}), undefined, "a fixed currency when the record has none");
  assert.equal(cmp(usd, "ten", "10", { cur: "USD" }, { cur: "USD" }).reason, "not an amount");
  assert.equal(cmp(usd, undefined, "10", { cur: "USD" }, { cur: "USD" }).reason, "missing");
  assert.equal(cmp(usd, undefined, "", {}, {}), undefined);
  // canonical {amount, currency} objects on either side, and a currency field named otherwise on the right
  assert.equal(cmp({ rule: "money" }, { amount: "19.99", currency: "EUR" }, { amount: 19.99, currency: "EUR" }), undefined);
  assert.equal(cmp({ rule: "money", rightCurrencyField: "ccy" }, { amount: "5", currency: "JPY" }, 5, {}, { ccy: "JPY" }), undefined);
  assert.equal(cmp(usd, "90071992547409.93", "90071992547409.94", { cur: "USD" }, { cur: "USD" }).difference, "-0.01", "beyond 2^53 cents");
});

test("datetime: within the window in seconds; ISO text, epoch ms and dates; bad dates named", () => {
  const day = { rule: "datetime", window: 86400 };
  assert.equal(cmp(day, "2026-11-02", "2026-11-02T23:59:59Z"), undefined);
  assert.equal(cmp(day, "2026-11-02", "2026-11-03T00:00:00Z"), undefined, "the boundary is inside");
  assert.equal(cmp(day, "2026-11-02", "2026-11-03T00:00:00.001Z").difference, -86400001);
  assert.equal(cmp({ rule: "datetime" }, "2026-11-02T10:00:00+02:00", "2026-11-02T08:00:00Z"), undefined, "offsets count");
  assert.equal(cmp({ rule: "datetime" }, Date.UTC(2026, 10, 2), new Date("2026-11-02T00:00:00Z")), undefined);
  assert.equal(cmp({ rule: "datetime" }, "2026-02-29", new Date(Date.parse("2026-02-29")).toISOString()), undefined, "no such day: read as Date.parse reads it");
  assert.equal(cmp(day, "yesterday", "2026-11-02").reason, "not a date");
  assert.equal(cmp(day, undefined, "2026-11-02").reason, "missing");
});

test("ignore compares nothing; a mapped field reports both names", () => {
  assert.equal(cmp({ rule: "ignore" }, 1, 2), undefined);
  const d = new FieldRule({ field: "total", rightField: "amount_due", rule: "number" }).compare(1, 2, {}, {});
  assert.equal(d.field, "total");
  assert.equal(d.rightField, "amount_due");
});

test("bad rules are refused with the field named", () => {
  assert.throws(() => new FieldRule({ field: "x", rule: "fuzzy" }), (e) => e instanceof ReconcileConfigError && /field "x": unknown rule "fuzzy"/.test(e.message));
  assert.throws(() => new FieldRule({ rule: "exact" }), /has no field/);
  assert.throws(() => new FieldRule({ field: "amount", rule: "number", absolute: "-1" }), /field "amount": absolute must be a non-negative number/);
  assert.throws(() => new FieldRule({ field: "amount", rule: "money", currency: "DOLLARS" }), /field "amount": currency "DOLLARS" is not an ISO 4217 code/);
  assert.throws(() => new FieldRule({ field: "amount", rule: "money", rounding: "banker" }), /field "amount": rounding must be one of/);
  assert.throws(() => new FieldRule({ field: "__proto__.x", rule: "exact" }), /"__proto__", which is not allowed/);
  assert.throws(() => new FieldRule({ field: "a..b", rule: "exact" }), /not a dot path/);
});

test("nested paths read own properties only", () => {
  const r = new FieldRule({ field: "customer.ids[1]", rule: "exact" });
  assert.equal(r.readLeft({ customer: { ids: ["a", "b"] } }), "b");
  assert.equal(new FieldRule({ field: "toString", rule: "exact" }).readLeft({}), undefined);
});

test("key parts: text after trim, case and leading-zero normalisation; no value is no key", () => {
  assert.equal(normaliseKeyPart(" 00123 ", { trim: true, stripLeadingZeros: true }), "123");
  assert.equal(normaliseKeyPart("000", { stripLeadingZeros: true }), "0");
  assert.equal(normaliseKeyPart("AbC", { ignoreCase: true }), "abc");
  assert.equal(normaliseKeyPart(42, {}), "42");
  assert.equal(normaliseKeyPart("  ", { trim: true }), undefined);
  assert.equal(normaliseKeyPart({ id: 1 }, {}), undefined);
  assert.equal(normaliseKeyPart(null, {}), undefined);
  assert.equal(normaliseKeyPart(NaN, {}), undefined);
});

test("minor units: one representation per value; exact sums past 2^53", () => {
  assert.equal(minorUnits("12.30", "USD", "exact"), 1230);
  assert.equal(minorUnits(12.3, "USD", "exact"), 1230);
  assert.equal(minorUnits("-0.00", "USD", "exact"), 0);
  assert.equal(minorUnits("1e3", "JPY", "exact"), 1000);
  assert.equal(minorUnits("99999999999999999.99", "USD", "exact"), 9999999999999999999n);
  assert.throws(() => minorUnits("1.005", "USD", "exact"), /decimal places/);
  assert.equal(minorUnits("1.005", "USD", "half-up"), 101);
  const sum = new MinorSum();
  sum.add(Number.MAX_SAFE_INTEGER);
  sum.add(2);
  sum.add(5n);
  assert.equal(sum.total, BigInt(Number.MAX_SAFE_INTEGER) + 7n);
});
