"use strict";
// Shared data for the reconcile benchmarks: an ERP-like left set and a billing-like right set of the same
// customers' invoices, with 1% mismatched amounts, 0.5% only on the left and 0.5% only on the right.
// Deterministic, generated chunk by chunk so no variant pays for building the other's data.

const CURRENCIES = ["USD", "EUR", "JPY", "BHD", "GBP"];
const DIGITS = { USD: 2, EUR: 2, JPY: 0, BHD: 3, GBP: 2 };

/** Fields and rules both sides use: the node's configuration and the other variants' hand-coded equivalents. */
const RULES = [
  { field: "total", rightField: "amount_due", rule: "money", currencyField: "currency" },
  { field: "name", rightField: "customer_name", rule: "text" },
  { field: "issued", rightField: "created", rule: "datetime", window: 86400 },
];

function amountText(i, currency) {
  const digits = DIGITS[currency];
  const minor = ((i * 7919) % 9_000_000) + 100;
  if (digits === 0) return String(minor);
  const s = String(minor).padStart(digits + 1, "0");
  return `${s.slice(0, -digits)}.${s.slice(-digits)}`;
}

function leftRecord(i) {
  const currency = CURRENCIES[i % CURRENCIES.length];
  return {
    invoice: `INV-${String(i).padStart(8, "0")}`,
    name: `Customer ${i % 50000} Ltd`,
    total: amountText(i, currency),
    currency,
    issued: `2026-${String((i % 12) + 1).padStart(2, "0")}-${String((i % 28) + 1).padStart(2, "0")}`,
    status: "posted",
  };
}

/** Is record i only on the left (0.5%), only on the right (0.5%), or mismatched (1%)? */
const onlyLeft = (i) => i % 200 === 0;
const onlyRight = (i) => i % 200 === 100;
const mismatched = (i) => i % 100 === 37;

function rightRecord(i, n) {
  const id = onlyLeft(i) ? n + i : i; // a left-only record's slot holds a right-only one instead
  const currency = CURRENCIES[id % CURRENCIES.length];
  let total = amountText(id, currency);
  if (mismatched(id)) total = amountText(id + 1, currency);
  return {
    number: `inv-${String(id).padStart(8, "0")}`,
    customer_name: `CUSTOMER ${id % 50000}  LTD`,
    amount_due: currency === "JPY" ? Number(total) : total,
    currency,
    created: `2026-${String((id % 12) + 1).padStart(2, "0")}-${String((id % 28) + 1).padStart(2, "0")}T09:30:00Z`,
  };
}

/** Chunks of one side; the right side comes in another order (reversed), as a second system would send it. */
function* chunks(side, n, size) {
  if (side === "left") {
    for (let start = 0; start < n; start += size) {
      const chunk = [];
      for (let i = start; i < Math.min(n, start + size); i++) chunk.push(leftRecord(i));
      yield chunk;
    }
  } else {
    for (let end = n; end > 0; end -= size) {
      const chunk = [];
      for (let i = end - 1; i >= Math.max(0, end - size); i--) chunk.push(rightRecord(i, n));
      yield chunk;
    }
  }
}

/** What every variant must find: counts by outcome. */
function expected(n) {
  let ol = 0;
  let mm = 0;
  for (let i = 0; i < n; i++) {
    if (onlyLeft(i)) ol++;
    else if (mismatched(i)) mm++;
  }
  // right-only ids are n + i for left-only i; none of them is matched, so they are all only-right
  return { matched: n - ol - mm, mismatched: mm, onlyLeft: ol, onlyRight: ol };
}

/** The node's key: invoice number, case-insensitive ("INV-…" on one side, "inv-…" on the other). */
const KEY = { left: { fields: ["invoice"] }, right: { fields: ["number"] } };

module.exports = { chunks, expected, RULES, KEY, DIGITS, CURRENCIES };
