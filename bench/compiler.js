"use strict";
// The Salesforce Opportunity → SalesOrder mapping three ways, side by side in one run: compiled by Keelson's
// JSONata compiler, interpreted by jsonata 2.x, and written by hand in plain JavaScript. All three outputs are
// checked equal before timing; every evaluate() is awaited. Run: npm run build && node bench/compiler.js
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");
const jsonata = require("jsonata");
const { compileJsonata } = require("../dist/nodes/lib/mapping/compiler/index.js");
const { cleanResult } = require("../dist/nodes/lib/mapping/mapping.js");

const ID = "salesforce-opportunity-to-salesorder";
const expression = fs.readFileSync(path.join(__dirname, "..", "nodes", "lib", "mapping", "library", `${ID}.jsonata`), "utf8");
const input = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "test", "fixtures", "mappings", ID, "input.json"), "utf8"));
const LIMITS = { timeoutMs: 1000, maxDepth: 500 };

/** What the mapping does, by hand: absent and null fields are left out as JSONata leaves them out. */
function handwritten(opportunity) {
  const currency = opportunity.CurrencyIsoCode ? opportunity.CurrencyIsoCode : "USD";
  const text = (v) => (v != null && v !== "" ? v : undefined);
  const money = (v) => (v != null ? { amount: numberText(v), currency } : undefined);
  const account = opportunity.Account || {};
  const customerRefs = [{ system: "salesforce", id: opportunity.AccountId ? opportunity.AccountId : account.Id, type: "Account" }];
  if (account.ERP_Customer_Id__c) customerRefs.push({ system: account.ERP_System__c, id: account.ERP_Customer_Id__c, type: "customer" });
  const records = (opportunity.OpportunityLineItems && opportunity.OpportunityLineItems.records) || [];
  const order = {
    refs: [{ system: "salesforce", id: opportunity.Id, type: "Opportunity" }],
    externalReference: "SF-" + opportunity.Id,
    purchaseOrderNumber: text(opportunity.PO_Number__c),
    status: "draft",
    customer: { refs: customerRefs, name: text(account.Name) },
    quote: [{ system: "salesforce", id: opportunity.Id, type: "Opportunity" }],
    orderDate: opportunity.CloseDate,
    currency,
    lines: records.map((line, i) => {
      const product = line.Product2 || {};
      return {
        lineNumber: i + 1,
        refs: [{ system: "salesforce", id: line.Id, type: "OpportunityLineItem" }],
        product: {
          refs: [{ system: "salesforce", id: line.Product2Id ? line.Product2Id : product.Id, type: "Product2" }],
          sku: product.ProductCode ? product.ProductCode : line.ProductCode,
          name: product.Name ? product.Name : line.Name,
        },
        description: text(line.Description),
        quantity: line.Quantity,
        unitPrice: money(line.UnitPrice),
        amount: money(line.TotalPrice),
      };
    }),
    totals: opportunity.Amount != null ? { total: money(opportunity.Amount) } : undefined,
    billTo:
      account.BillingStreet || account.BillingCity
        ? {
            line1: text(account.BillingStreet),
            city: text(account.BillingCity),
            region: text(account.BillingState),
            postalCode: text(account.BillingPostalCode),
            country: text(account.BillingCountryCode),
          }
        : undefined,
    notes: text(opportunity.Description),
  };
  return order;
}

/** JSONata's $string for numbers: 15 significant digits for non-integers. */
function numberText(v) {
  if (typeof v === "string") return v;
  return JSON.stringify(typeof v === "number" && !Number.isInteger(v) ? Number(v.toPrecision(15)) : v);
}

const plain = (v) => JSON.parse(JSON.stringify(cleanResult(v)));

async function main() {
  const compiled = compileJsonata(expression, LIMITS);
  assert.equal(compiled.mode, "compiled", `the mapping did not compile: ${compiled.reason}`);
  const interpreter = jsonata(expression, { timeout: LIMITS.timeoutMs, stack: LIMITS.maxDepth });

  const fromCompiled = plain(await compiled.evaluate(input));
  const fromInterpreter = plain(await interpreter.evaluate(input));
  const byHand = plain(handwritten(input));
  assert.deepEqual(fromCompiled, fromInterpreter, "compiled and interpreted outputs differ");
  assert.deepEqual(byHand, fromInterpreter, "hand-written and interpreted outputs differ");

  const runners = {
    compiled: async (n) => {
      for (let i = 0; i < n; i++) await compiled.evaluate(input);
    },
    interpreter: async (n) => {
      for (let i = 0; i < n; i++) await interpreter.evaluate(input);
    },
    handwritten: async (n) => {
      let sink = 0;
      for (let i = 0; i < n; i++) sink += handwritten(input).lines.length;
      if (sink === -1) console.log(sink);
    },
  };
  const iterations = { compiled: 20000, interpreter: 400, handwritten: 50000 };

  // warm-up, then alternate the order of the three in each round so no one always runs on a cold or hot CPU
  for (const name of Object.keys(runners)) await runners[name](Math.ceil(iterations[name] / 4));
  const rounds = 5;
  const totals = { compiled: 0, interpreter: 0, handwritten: 0 };
  const order = Object.keys(runners);
  for (let r = 0; r < rounds; r++) {
    const names = r % 2 === 0 ? order : [...order].reverse();
    for (const name of names) {
      const start = process.hrtime.bigint();
      await runners[name](iterations[name]);
      totals[name] += Number(process.hrtime.bigint() - start) / 1e9;
    }
  }
  const ops = {};
  for (const name of order) ops[name] = (iterations[name] * rounds) / totals[name];
  for (const name of order) console.log(`${name.padEnd(12)} ${Math.round(ops[name]).toLocaleString("en-US").padStart(12)} ops/s`);
  console.log(`compiled / interpreter: ${(ops.compiled / ops.interpreter).toFixed(1)}x faster`);
  console.log(`handwritten / compiled: ${(ops.handwritten / ops.compiled).toFixed(2)}x (target: within 3x)`);
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
