import fs from "node:fs";
import path from "node:path";

/** One shipped mapping: a JSONata file in library/, and what it maps from and to. */
export interface LibraryMapping {
  id: string;
  title: string;
  system: string;
  /** What the input is, in the vendor's words. */
  from: string;
  /** The canonical type it produces ("SalesOrder@1"), or the vendor payload it builds. */
  to: string;
  targetSchema?: string;
}

export const LIBRARY: readonly LibraryMapping[] = Object.freeze([
  { id: "salesforce-opportunity-to-quote", title: "Salesforce Opportunity → Quote", system: "salesforce", from: "Opportunity with Account and OpportunityLineItems", to: "Quote@1", targetSchema: "Quote@1" },
  { id: "salesforce-opportunity-to-salesorder", title: "Salesforce Opportunity → SalesOrder", system: "salesforce", from: "Opportunity with Account and OpportunityLineItems", to: "SalesOrder@1", targetSchema: "SalesOrder@1" },
  { id: "salesforce-account-to-customer", title: "Salesforce Account → Customer", system: "salesforce", from: "Account", to: "Customer@1", targetSchema: "Customer@1" },
  { id: "customer-to-salesforce-account", title: "Customer → Salesforce Account", system: "salesforce", from: "Customer@1", to: "Account upsert fields" },
  { id: "hubspot-company-to-customer", title: "HubSpot company → Customer", system: "hubspot", from: "company object", to: "Customer@1", targetSchema: "Customer@1" },
  { id: "customer-to-hubspot-company", title: "Customer → HubSpot company", system: "hubspot", from: "Customer@1", to: "company properties for batch upsert" },
  { id: "dataverse-account-to-customer", title: "Dataverse account → Customer", system: "dataverse", from: "account row", to: "Customer@1", targetSchema: "Customer@1" },
  { id: "customer-to-dataverse-account", title: "Customer → Dataverse account", system: "dataverse", from: "Customer@1", to: "account columns for upsert" },
  { id: "dataverse-opportunity-to-quote", title: "Dataverse opportunity → Quote", system: "dataverse", from: "opportunity with customerid_account, transactioncurrencyid and product_opportunities", to: "Quote@1", targetSchema: "Quote@1" },
  { id: "hubspot-deal-to-quote", title: "HubSpot deal → Quote", system: "hubspot", from: "{deal, lineItems, company}", to: "Quote@1", targetSchema: "Quote@1" },
  { id: "salesorder-to-netsuite-salesorder", title: "SalesOrder → NetSuite salesOrder", system: "netsuite", from: "SalesOrder@1", to: "NetSuite salesOrder record body" },
  { id: "netsuite-salesorder-to-salesorder", title: "NetSuite salesOrder → SalesOrder", system: "netsuite", from: "salesOrder record", to: "SalesOrder@1", targetSchema: "SalesOrder@1" },
  { id: "salesorder-to-sap-salesorder", title: "SalesOrder → SAP A_SalesOrder", system: "sap-s4hana", from: "SalesOrder@1", to: "A_SalesOrder deep insert body" },
  { id: "sap-salesorder-to-salesorder", title: "SAP A_SalesOrder → SalesOrder", system: "sap-s4hana", from: "A_SalesOrder with to_Item", to: "SalesOrder@1", targetSchema: "SalesOrder@1" },
  { id: "netsuite-invoice-to-invoice", title: "NetSuite invoice → Invoice", system: "netsuite", from: "invoice record", to: "Invoice@1", targetSchema: "Invoice@1" },
  { id: "stripe-invoice-to-invoice", title: "Stripe invoice → Invoice", system: "stripe", from: "invoice object", to: "Invoice@1", targetSchema: "Invoice@1" },
  { id: "customer-to-netsuite-customer", title: "Customer → NetSuite customer", system: "netsuite", from: "Customer@1 with externalId", to: "NetSuite customer record body" },
  { id: "payment-to-netsuite-customerpayment", title: "Payment → NetSuite customerPayment", system: "netsuite", from: "Payment@1", to: "invoice → customerPayment transform body" },
  { id: "customer-to-sap-businesspartner", title: "Customer → SAP A_BusinessPartner", system: "sap-s4hana", from: "Customer@1 with externalId", to: "A_BusinessPartner deep insert body" },
  { id: "sap-billingdocument-to-invoice", title: "SAP A_BillingDocument → Invoice", system: "sap-s4hana", from: "A_BillingDocument with to_Item", to: "Invoice@1", targetSchema: "Invoice@1" },
  { id: "payment-to-sap-journalentry", title: "Payment → SAP journal entry (incoming payment)", system: "sap-s4hana", from: "Payment@1 with customer, billingDocument and companyCode", to: "JournalEntry of JournalEntryCreateRequestConfirmation_In (SOAP, as JSON)" },
  { id: "customer-to-stripe-customer", title: "Customer → Stripe customer", system: "stripe", from: "Customer@1 with externalId", to: "POST /v1/customers parameters" },
  { id: "salesorder-to-stripe-invoice", title: "SalesOrder → Stripe draft invoice", system: "stripe", from: "SalesOrder@1", to: "{invoice, items} parameters" },
  { id: "stripe-invoice-to-salesorder", title: "Stripe invoice → SalesOrder", system: "stripe", from: "invoice object written as an order", to: "SalesOrder@1", targetSchema: "SalesOrder@1" },
  { id: "salesorder-to-businesscentral-salesorder", title: "SalesOrder → Business Central salesOrder", system: "business-central", from: "SalesOrder@1", to: "salesOrders deep-insert body" },
  { id: "businesscentral-salesorder-to-salesorder", title: "Business Central salesOrder → SalesOrder", system: "business-central", from: "salesOrder with salesOrderLines", to: "SalesOrder@1", targetSchema: "SalesOrder@1" },
  { id: "customer-to-businesscentral-customer", title: "Customer → Business Central customer", system: "business-central", from: "Customer@1 with externalId", to: "customers body" },
  { id: "businesscentral-salesinvoice-to-invoice", title: "Business Central salesInvoice → Invoice", system: "business-central", from: "salesInvoice with salesInvoiceLines", to: "Invoice@1", targetSchema: "Invoice@1" },
  { id: "payment-to-businesscentral-customerpayment", title: "Payment → Business Central customerPayment", system: "business-central", from: "Payment@1", to: "customer payment journal line body" },
  { id: "salesorder-to-odoo-saleorder", title: "SalesOrder → Odoo sale.order", system: "odoo", from: "SalesOrder@1 (lines with Odoo product refs)", to: "sale.order create vals" },
  { id: "odoo-saleorder-to-salesorder", title: "Odoo sale.order → SalesOrder", system: "odoo", from: "sale.order with order_line records", to: "SalesOrder@1", targetSchema: "SalesOrder@1" },
  { id: "customer-to-odoo-partner", title: "Customer → Odoo res.partner", system: "odoo", from: "Customer@1 with externalId", to: "res.partner create vals" },
  { id: "odoo-invoice-to-invoice", title: "Odoo account.move → Invoice", system: "odoo", from: "account.move with invoice_line_ids records", to: "Invoice@1", targetSchema: "Invoice@1" },
  { id: "payment-to-odoo-payment", title: "Payment → Odoo account.payment.register", system: "odoo", from: "Payment@1 with extensions.odoo journalId and currencyId", to: "Register Payment wizard create vals" },
  { id: "salesorder-to-oracle-fusion-salesorder", title: "SalesOrder → Oracle Fusion Order Hub order", system: "oracle-fusion", from: "SalesOrder@1", to: "salesOrdersForOrderHub create body" },
  { id: "oracle-fusion-salesorder-to-salesorder", title: "Oracle Fusion Order Hub order → SalesOrder", system: "oracle-fusion", from: "salesOrdersForOrderHub order with lines", to: "SalesOrder@1", targetSchema: "SalesOrder@1" },
  { id: "oracle-fusion-receivablesinvoice-to-invoice", title: "Oracle Fusion Receivables invoice → Invoice", system: "oracle-fusion", from: "receivablesInvoices item with receivablesInvoiceLines", to: "Invoice@1", targetSchema: "Invoice@1" },
  { id: "payment-to-oracle-fusion-standardreceipt", title: "Payment → Oracle Fusion standard receipt", system: "oracle-fusion", from: "Payment@1 with invoice", to: "standardReceipts create body" },
  { id: "customer-to-oracle-fusion-organization", title: "Customer → Oracle Fusion hub organization", system: "oracle-fusion", from: "Customer@1 with externalId and sourceSystem", to: "hubOrganizations create body" },
  { id: "customer-to-acumatica-customer", title: "Customer → Acumatica Customer", system: "acumatica", from: "Customer@1 with externalId", to: "Customer PUT body (wrapped values)" },
  { id: "salesorder-to-acumatica-salesorder", title: "SalesOrder → Acumatica SalesOrder", system: "acumatica", from: "SalesOrder@1", to: "SalesOrder PUT body (wrapped values)" },
  { id: "acumatica-salesorder-to-salesorder", title: "Acumatica SalesOrder → SalesOrder", system: "acumatica", from: "SalesOrder with Details", to: "SalesOrder@1", targetSchema: "SalesOrder@1" },
  { id: "acumatica-salesinvoice-to-invoice", title: "Acumatica SalesInvoice → Invoice", system: "acumatica", from: "SalesInvoice with Details", to: "Invoice@1", targetSchema: "Invoice@1" },
  { id: "payment-to-acumatica-payment", title: "Payment → Acumatica Payment", system: "acumatica", from: "Payment@1 with customerId and invoiceNumber", to: "Payment PUT body applied to one invoice" },
  { id: "customer-to-dynamics-fo-customer", title: "Customer → Dynamics 365 F&O CustomersV3", system: "dynamics-fo", from: "Customer@1 with externalId", to: "CustomersV3 create body" },
  { id: "salesorder-to-dynamics-fo-salesorder", title: "SalesOrder → Dynamics 365 F&O sales order", system: "dynamics-fo", from: "SalesOrder@1", to: "{header: SalesOrderHeadersV2 body, lines: SalesOrderLines bodies}" },
  { id: "dynamics-fo-salesorder-to-salesorder", title: "Dynamics 365 F&O sales order → SalesOrder", system: "dynamics-fo", from: "SalesOrderHeadersV2 with SalesOrderLines as lines", to: "SalesOrder@1", targetSchema: "SalesOrder@1" },
  { id: "dynamics-fo-salesinvoice-to-invoice", title: "Dynamics 365 F&O sales invoice → Invoice", system: "dynamics-fo", from: "SalesInvoiceHeaders with SalesInvoiceLines as lines", to: "Invoice@1", targetSchema: "Invoice@1" },
  { id: "payment-to-dynamics-fo-paymentjournalline", title: "Payment → Dynamics 365 F&O customer payment journal line", system: "dynamics-fo", from: "Payment@1 with customerAccount, invoiceNumber and company", to: "CustomerPaymentJournalLines body marking one invoice" },
]);

const LIBRARY_DIR = path.join(__dirname, "library");
const texts = new Map<string, string>();

export function findMapping(id: string): LibraryMapping | undefined {
  return LIBRARY.find((m) => m.id === id);
}

/** The JSONata text of a shipped mapping; read from disk once. */
export function mappingExpression(id: string): string {
  const entry = findMapping(id);
  if (!entry) throw new Error(`no mapping "${id}" in the library; known: ${LIBRARY.map((m) => m.id).join(", ")}`);
  let text = texts.get(id);
  if (text === undefined) {
    text = fs.readFileSync(path.join(LIBRARY_DIR, `${entry.id}.jsonata`), "utf8");
    texts.set(id, text);
  }
  return text;
}
