"use strict";
// The library mapping salesforce-opportunity-to-salesorder written by hand in plain JavaScript: the speed limit
// a mapping can reach. Benchmarks check its output equals the JSONata mapping's before timing anything.
function text(v) {
  return v !== null && v !== undefined && v !== "" ? v : undefined;
}

function salesforceToSalesOrder(o) {
  const currency = o.CurrencyIsoCode || "USD";
  // $string writes a number with 15 significant digits (0.1 + 0.2 → "0.3"); the hand-written version must too,
  // or it would not be the same mapping for every input.
  const money = (v) => (v !== null && v !== undefined ? { amount: typeof v === "number" ? String(Number(v.toPrecision(15))) : typeof v === "string" ? v : JSON.stringify(v), currency } : undefined);
  const account = o.Account || {};
  const customerRefs = [{ system: "salesforce", id: o.AccountId || account.Id, type: "Account" }];
  if (account.ERP_Customer_Id__c) customerRefs.push({ system: account.ERP_System__c, id: account.ERP_Customer_Id__c, type: "customer" });
  const records = (o.OpportunityLineItems && o.OpportunityLineItems.records) || [];
  const out = {
    refs: [{ system: "salesforce", id: o.Id, type: "Opportunity" }],
    externalReference: "SF-" + o.Id,
  };
  if (text(o.PO_Number__c) !== undefined) out.purchaseOrderNumber = o.PO_Number__c;
  out.status = "draft";
  out.customer = { refs: customerRefs };
  if (text(account.Name) !== undefined) out.customer.name = account.Name;
  out.quote = [{ system: "salesforce", id: o.Id, type: "Opportunity" }];
  out.orderDate = o.CloseDate;
  out.currency = currency;
  out.lines = records.map((r, i) => {
    const product2 = r.Product2 || {};
    const line = {
      lineNumber: i + 1,
      refs: [{ system: "salesforce", id: r.Id, type: "OpportunityLineItem" }],
      product: {
        refs: [{ system: "salesforce", id: r.Product2Id || product2.Id, type: "Product2" }],
        sku: product2.ProductCode || r.ProductCode,
        name: product2.Name || r.Name,
      },
    };
    if (text(r.Description) !== undefined) line.description = r.Description;
    line.quantity = r.Quantity;
    line.unitPrice = money(r.UnitPrice);
    const amount = money(r.TotalPrice);
    if (amount) line.amount = amount;
    return line;
  });
  if (o.Amount !== null && o.Amount !== undefined) out.totals = { total: money(o.Amount) };
  if (text(account.BillingStreet) || text(account.BillingCity)) {
    const billTo = {};
    for (const [k, f] of [["line1", "BillingStreet"], ["city", "BillingCity"], ["region", "BillingState"], ["postalCode", "BillingPostalCode"], ["country", "BillingCountryCode"]]) {
      if (text(account[f]) !== undefined) billTo[k] = account[f];
    }
    out.billTo = billTo;
  }
  if (text(o.Description) !== undefined) out.notes = o.Description;
  return out;
}

module.exports = { salesforceToSalesOrder };
