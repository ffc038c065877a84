"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const money = require("../../dist/nodes/lib/canonical/money.js");
const { minorUnitDigits, isCurrency } = require("../../dist/nodes/lib/canonical/currencies.js");

test("minor units follow ISO 4217", () => {
  assert.equal(minorUnitDigits("USD"), 2);
  assert.equal(minorUnitDigits("JPY"), 0);
  assert.equal(minorUnitDigits("BHD"), 3);
  assert.equal(minorUnitDigits("CLF"), 4);
  assert.equal(minorUnitDigits("KRW"), 0);
});

test("bad currency codes are rejected with the code named", () => {
  for (const bad of ["usd", "XXX", "XAU", "US", "", "EURO", null, 42]) {
    assert.equal(isCurrency(bad), false, String(bad));
  }
  assert.throws(() => minorUnitDigits("ABC"), /unknown currency code "ABC"/);
  assert.throws(() => money.toMinor("1.00", "usd"), /unknown currency code "usd"/);
});

test("amounts convert to minor units exactly, rejecting digits the currency does not have", () => {
  assert.equal(money.toMinor("12.34", "USD"), 1234n);
  assert.equal(money.toMinor("12.3", "USD"), 1230n);
  assert.equal(money.toMinor(19.99, "USD"), 1999n);
  assert.equal(money.toMinor("1500", "JPY"), 1500n);
  assert.equal(money.toMinor("1.250", "BHD"), 1250n);
  assert.equal(money.toMinor("-0.01", "USD"), -1n);
  assert.equal(money.toMinor("1e3", "USD"), 100000n);
  assert.throws(() => money.toMinor("1.5", "JPY"), /more decimal places than JPY allows \(0\)/);
  assert.throws(() => money.toMinor("1.001", "USD"), /more decimal places than USD allows \(2\)/);
  assert.throws(() => money.toMinor("1.0001", "BHD"), /BHD allows \(3\)/);
  assert.throws(() => money.toMinor("12,34", "USD"), /not a decimal amount/);
  assert.throws(() => money.toMinor("abc", "USD"), /not a decimal amount/);
  assert.throws(() => money.toMinor(Number.NaN, "USD"), /not a finite amount/);
  assert.throws(() => money.toMinor({}, "USD"), /must be a decimal string or a number, got object/);
});

test("rounding per currency and mode", () => {
  assert.deepEqual(money.money("10.005", "USD"), { amount: "10.01", currency: "USD" });
  assert.deepEqual(money.money("10.005", "USD", "half-even"), { amount: "10.00", currency: "USD" });
  assert.deepEqual(money.money("10.015", "USD", "half-even"), { amount: "10.02", currency: "USD" });
  assert.deepEqual(money.money("-10.005", "USD"), { amount: "-10.01", currency: "USD" });
  assert.deepEqual(money.money("-10.005", "USD", "half-even"), { amount: "-10.00", currency: "USD" });
  assert.deepEqual(money.money("1234.5", "JPY"), { amount: "1235", currency: "JPY" });
  assert.deepEqual(money.money("1234.4999", "JPY"), { amount: "1234", currency: "JPY" });
  assert.deepEqual(money.money("0.0005", "BHD"), { amount: "0.001", currency: "BHD" });
  assert.deepEqual(money.money("0.0004", "BHD"), { amount: "0.000", currency: "BHD" });
  assert.deepEqual(money.money("7", "KWD"), { amount: "7.000", currency: "KWD" });
  assert.deepEqual(money.money("1.99", "USD", "down"), { amount: "1.99", currency: "USD" });
  assert.deepEqual(money.money("1.991", "USD", "down"), { amount: "1.99", currency: "USD" });
  assert.deepEqual(money.money("1.991", "USD", "up"), { amount: "2.00", currency: "USD" });
  assert.deepEqual(money.money("-1.991", "USD", "down"), { amount: "-1.99", currency: "USD" });
});

test("a line extension is exact and rounded once", () => {
  assert.deepEqual(money.extend("19.99", 3, "USD"), { amount: "59.97", currency: "USD" });
  assert.deepEqual(money.extend(0.1, 3, "USD"), { amount: "0.30", currency: "USD" });
  assert.deepEqual(money.extend("0.333", "3", "BHD"), { amount: "0.999", currency: "BHD" });
  assert.deepEqual(money.extend("1.005", "1", "USD"), { amount: "1.01", currency: "USD" });
  assert.deepEqual(money.extend("99", "1.5", "JPY"), { amount: "149", currency: "JPY" });
});

test("a sum over one million lines equals the decimal total to the cent", () => {
  // 1,000,000 lines of 0.10 + 0.20: floats drift, minor units do not.
  const amounts = [];
  let floatSum = 0;
  for (let i = 0; i < 1_000_000; i++) {
    const a = i % 2 === 0 ? "0.10" : "0.20";
    amounts.push(a);
    floatSum += Number(a);
  }
  const total = money.sumMoney(amounts, "USD");
  assert.deepEqual(total, { amount: "150000.00", currency: "USD" });
  assert.notEqual(floatSum, 150000, "the float sum drifts, which is why money is not summed as floats");
});

test("sums and control totals per currency, JPY USD BHD", () => {
  const items = [];
  for (let i = 0; i < 300_000; i++) {
    items.push({ amount: "1.01", currency: "USD" }, { amount: "333", currency: "JPY" }, { amount: "0.007", currency: "BHD" });
  }
  const totals = money.totalsByCurrency(items);
  assert.deepEqual(totals.USD, { amount: "303000.00", currency: "USD" });
  assert.deepEqual(totals.JPY, { amount: "99900000", currency: "JPY" });
  assert.deepEqual(totals.BHD, { amount: "2100.000", currency: "BHD" });
  assert.throws(() => money.sumMoney([{ amount: "1", currency: "EUR" }], "USD"), /cannot add EUR to USD/);
  assert.throws(() => money.sumMoney(["0.001"], "USD"), /more decimal places than USD/);
});

test("decimal comparison is exact", () => {
  assert.equal(money.compareDecimal("1.10", 1.1), 0);
  assert.equal(money.compareDecimal("0.30", 0.1 + 0.2), -1, "0.1+0.2 is 0.30000000000000004");
  assert.equal(money.compareDecimal("-2", "-1.99"), -1);
  assert.equal(money.compareDecimal("100000000000000000000.01", "100000000000000000000"), 1);
});
