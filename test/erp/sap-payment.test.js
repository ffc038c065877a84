"use strict";
// SAP S/4HANA Cloud incoming payments: the adapter posts a Journal Entry - Post (SOAP, synchronous) and asks for a
// Journal Entry - Clearing (SOAP, asynchronous) against the invoice's open item. Covered: payment posted and the
// invoice cleared (pending until SAP's read shows it), a repeat with the same reference posts nothing, every fault
// kind on both SOAP services posts once, SAP's log messages as business rejections naming the request field, the
// checks before any money moves, the sandbox's own SOAP envelopes, and the path through keelson-erp-invoice.
const test = require("node:test");
const assert = require("node:assert/strict");
const { start, SAP_DEFAULTS: D } = require("../../dist/sandbox/sap.js");
const { createErpAdapter } = require("../../dist/nodes/lib/vendors/erp.js");
const { BusinessError, TechnicalError } = require("../../dist/nodes/lib/resilience/errors.js");
const kit = require("./kit");
const { control, helper } = kit;

const POST_PATH = "/sap/bc/srt/scs_ext/sap/journalentrycreaterequestconfi";
const CLEARING_PATH = "/sap/bc/srt/scs_ext/sap/journalentrybulkclearingreques";
const AUTH = `Basic ${Buffer.from(`${D.user}:${D.password}`).toString("base64")}`;
const DEFAULTS = { salesOrganization: "1010", distributionChannel: "10", organizationDivision: "00", bankGLAccount: "11001000" };
const sandbox = kit.useSandbox(start, { afterEach: (url) => control.limits(url, { clearingDelayMs: 50 }) });

function adapter({ connection = {}, orderDefaults = DEFAULTS, ...rest } = {}) {
  const a = createErpAdapter({ system: "sap-s4hana", name: "sap test", baseUrl: sandbox.url, user: D.user, password: D.password, orderDefaults, connection: { ...kit.FAST, ...connection }, ...rest });
  sandbox.track(a);
  return a;
}

/** A fresh billing document of the seeded order (203.79 EUR gross, customer 10100001, company code 1010). */
async function openInvoice() {
  const [doc] = await control.seed(sandbox.url, "A_BillingDocument", { SalesOrder: "1000013601" });
  return doc;
}
const payment = (invoice, reference, amount = invoice.TotalGrossAmount, currency = "EUR") => ({
  refs: [], amount: { amount, currency }, paymentDate: "2026-11-21", method: "bank-transfer", reference,
  invoices: [{ refs: [{ system: "sap-s4hana", id: invoice.BillingDocument }], amount: { amount, currency } }],
});
const items = () => control.records(sandbox.url, "A_OperationalAcctgDocItemCube");
/** The customer items of journal entries posted with this reference: one per posting. */
const postingsWith = async (reference) => (await items()).filter((i) => i.DocumentReferenceID === reference.toUpperCase() && i.FinancialAccountType === "D");
const invoiceItem = async (invoice) => (await items()).find((i) => i.AccountingDocument === invoice.AccountingDocument && i.FinancialAccountType === "D");
const billing = async (invoice) => (await control.records(sandbox.url, "A_BillingDocument")).find((b) => b.BillingDocument === invoice.BillingDocument);
const until = async (what, check, ms = 3000) => {
  const end = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};
const cleared = (invoice) => until(`billing document ${invoice.BillingDocument} cleared`, async () => (await billing(invoice)).InvoiceClearingStatus === "C");

async function soap(path, xml, headers = {}) {
  const res = await fetch(sandbox.url + path, { method: "POST", headers: { authorization: AUTH, "content-type": "text/xml; charset=utf-8", ...headers }, body: xml });
  return { status: res.status, text: await res.text() };
}
const envelope = (body) => `<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:sfin="http://sap.com/xi/SAPSCORE/SFIN"><soapenv:Header/><soapenv:Body>${body}</soapenv:Body></soapenv:Envelope>`;
const journalEntry = ({ companyCode = "1010", debtor = "0010100001", gl = "0011001000", amount = "10.00", currency = "EUR", reference = "RAW-1" } = {}) =>
  envelope(`<sfin:JournalEntryBulkCreateRequest><MessageHeader><ID>M1</ID></MessageHeader><JournalEntryCreateRequest><MessageHeader><ID>M1</ID></MessageHeader><JournalEntry>` +
    `<AccountingDocumentType>DZ</AccountingDocumentType><DocumentReferenceID>${reference}</DocumentReferenceID>${companyCode ? `<CompanyCode>${companyCode}</CompanyCode>` : ""}<DocumentDate>2026-11-21</DocumentDate><PostingDate>2026-11-21</PostingDate>` +
    `<Item><ReferenceDocumentItem>1</ReferenceDocumentItem>${gl ? `<GLAccount>${gl}</GLAccount>` : ""}<AmountInTransactionCurrency currencyCode="${currency}">${amount}</AmountInTransactionCurrency><DebitCreditCode>S</DebitCreditCode></Item>` +
    `<DebtorItem><ReferenceDocumentItem>2</ReferenceDocumentItem><Debtor>${debtor}</Debtor><AmountInTransactionCurrency currencyCode="${currency}">-${amount}</AmountInTransactionCurrency><DebitCreditCode>H</DebitCreditCode></DebtorItem>` +
    `</JournalEntry></JournalEntryCreateRequest></sfin:JournalEntryBulkCreateRequest>`);
const clearingRequest = (currency, rows) =>
  envelope(`<sfin:JournalEntryBulkClearingRequest><MessageHeader><ID>C1</ID></MessageHeader><JournalEntryClearingRequest><MessageHeader><ID>C1</ID></MessageHeader><JournalEntry><CompanyCode>1010</CompanyCode><AccountingDocumentType>AB</AccountingDocumentType><PostingDate>2026-11-21</PostingDate><CurrencyCode>${currency}</CurrencyCode>` +
    rows.map((r, n) => `<APARItems><ReferenceDocumentItem>${n + 1}</ReferenceDocumentItem><AccountType>D</AccountType><APARAccount>00${r.Customer}</APARAccount><FiscalYear>${r.FiscalYear}</FiscalYear><AccountingDocument>${r.AccountingDocument}</AccountingDocument><AccountingDocumentItem>${r.AccountingDocumentItem}</AccountingDocumentItem></APARItems>`).join("") +
    `</JournalEntry></JournalEntryClearingRequest></sfin:JournalEntryBulkClearingRequest>`);

test("sap-s4hana: a payment is posted (DZ, bank debit, customer credit) and clears the invoice; pending until SAP shows it", async () => {
  await control.limits(sandbox.url, { clearingDelayMs: 300 });
  const a = adapter();
  const invoice = await openInvoice();
  const ref = `P${kit.tag()}`.slice(0, 16);
  const paid = await a.recordPayment(payment(invoice, ref), { correlationId: "corr-sap-pay" });
  assert.equal(paid.status, "pending", "the clearing is asynchronous: queued, not done");
  const [entry] = await postingsWith(ref);
  assert.ok(paid.refs.some((r) => r.system === "sap-s4hana" && r.type === "JournalEntry" && r.number === entry.AccountingDocument && r.id === `1010/2026/${entry.AccountingDocument}`));
  assert.equal(paid.reference, ref.toUpperCase());
  const journal = (await items()).filter((i) => i.AccountingDocument === entry.AccountingDocument);
  assert.deepEqual(journal.map((i) => [i.AccountingDocumentType, i.FinancialAccountType, i.GLAccount, i.DebitCreditCode, i.AmountInTransactionCurrency, i.AssignmentReference]), [
    ["DZ", "S", "0011001000", "S", invoice.TotalGrossAmount, invoice.BillingDocument],
    ["DZ", "D", "0012100000", "H", `-${invoice.TotalGrossAmount}`, invoice.BillingDocument],
  ]);
  assert.equal((await a.getInvoice(invoice.BillingDocument, {})).status, "open", "not cleared yet");

  await cleared(invoice);
  const open = await invoiceItem(invoice);
  const [pay] = await postingsWith(ref);
  assert.ok(open.ClearingAccountingDocument && open.ClearingAccountingDocument === pay.ClearingAccountingDocument, "invoice item and payment item cleared by one clearing document");
  assert.equal((await a.getInvoice(invoice.BillingDocument, {})).status, "paid");
  const messages = (await control.records(sandbox.url, "ClearingMessage")).filter((m) => m.status === "processed");
  assert.ok(messages.length >= 1);

  const again = await a.recordPayment(payment(invoice, ref), {});
  assert.equal(again.status, "succeeded", "the repeat reads the cleared payment");
  assert.deepEqual(again.refs, paid.refs);
  assert.equal((await postingsWith(ref)).length, 1, "a repeat with the same reference posts nothing");
});

test("sap-s4hana: the SOAP services are called with the communication user only, no CSRF handshake", async () => {
  const a = adapter();
  const invoice = await openInvoice();
  const before = await control.stats(sandbox.url);
  await a.recordPayment(payment(invoice, `C${kit.tag()}`.slice(0, 16)), {});
  const after = await control.stats(sandbox.url);
  const heads = (s) => kit.requests(s, "HEAD", "API_SALES_ORDER_SRV");
  assert.equal(heads(after), heads(before), "no token fetch for SOAP");
  assert.equal(kit.requests(after, "POST", "journalentrycreaterequestconfi") - kit.requests(before, "POST", "journalentrycreaterequestconfi"), 1);
  assert.equal(kit.requests(after, "POST", "journalentrybulkclearingreques") - kit.requests(before, "POST", "journalentrybulkclearingreques"), 1);
});

for (const { fault, connection, settleMs } of kit.CREATE_FAULTS) {
  test(`sap-s4hana: journal entry post under ${kit.name(fault)}: one posting, invoice cleared`, async () => {
    const a = adapter({ connection });
    const invoice = await openInvoice();
    const ref = `F${kit.tag()}`.slice(0, 16);
    const fired = (await control.stats(sandbox.url)).faults[fault.kind] ?? 0;
    await control.faults(sandbox.url, [{ ...fault, method: "POST", path: POST_PATH }]);
    const paid = await a.recordPayment(payment(invoice, ref), {});
    if (settleMs) await new Promise((r) => setTimeout(r, settleMs));
    assert.ok(((await control.stats(sandbox.url)).faults[fault.kind] ?? 0) > fired, "the fault fired");
    assert.equal((await postingsWith(ref)).length, 1, "posted exactly once");
    assert.ok(["pending", "succeeded"].includes(paid.status));
    await cleared(invoice);
  });

  test(`sap-s4hana: clearing request under ${kit.name(fault)}: the invoice is cleared, the payment posted once`, async () => {
    const a = adapter({ connection });
    const invoice = await openInvoice();
    const ref = `K${kit.tag()}`.slice(0, 16);
    const fired = (await control.stats(sandbox.url)).faults[fault.kind] ?? 0;
    await control.faults(sandbox.url, [{ ...fault, method: "POST", path: CLEARING_PATH }]);
    await a.recordPayment(payment(invoice, ref), {});
    if (settleMs) await new Promise((r) => setTimeout(r, settleMs));
    assert.ok(((await control.stats(sandbox.url)).faults[fault.kind] ?? 0) > fired, "the fault fired");
    await cleared(invoice);
    assert.equal((await postingsWith(ref)).length, 1);
    const [pay] = await postingsWith(ref);
    assert.equal(pay.ClearingAccountingDocument, (await invoiceItem(invoice)).ClearingAccountingDocument);
  });
}

test("sap-s4hana: a response lost after SAP posted: looked up by DocumentReferenceID, not posted again", async () => {
  const a = adapter();
  const invoice = await openInvoice();
  const ref = `L${kit.tag()}`.slice(0, 16);
  await control.faults(sandbox.url, [{ kind: "lost-response", method: "POST", path: POST_PATH, count: 1 }]);
  const before = await control.stats(sandbox.url);
  const paid = await a.recordPayment(payment(invoice, ref), {});
  const after = await control.stats(sandbox.url);
  assert.equal(kit.requests(after, "POST", "journalentrycreaterequestconfi") - kit.requests(before, "POST", "journalentrycreaterequestconfi"), 1, "the look-up found it: no second post");
  assert.equal((await postingsWith(ref)).length, 1);
  assert.equal(paid.refs[0].number, (await postingsWith(ref))[0].AccountingDocument);
});

test("sap-s4hana: SAP's log messages are business rejections naming the request field; nothing is posted", async () => {
  const invoice = await openInvoice();
  const cases = [
    { defaults: { bankGLAccount: undefined }, code: "507(F5)", field: "Item.GLAccount", note: /G\/L account\s+is not defined in chart of accounts YCOA/ },
    { defaults: { bankGLAccount: "99999999" }, code: "507(F5)", field: "Item.GLAccount", note: /G\/L account 0099999999 is not defined/ },
    { defaults: { bankGLAccount: "12100000" }, code: "351(F5)", field: "Item.GLAccount", note: /reconciliation account/ },
    { defaults: { paymentDocumentType: "ZZ" }, code: "814(F5)", field: "JournalEntry.AccountingDocumentType", note: /Document type ZZ is not defined/ },
  ];
  for (const c of cases) {
    const a = adapter({ orderDefaults: { ...DEFAULTS, ...c.defaults } });
    const ref = `B${kit.tag()}`.slice(0, 16);
    await assert.rejects(a.recordPayment(payment(invoice, ref), {}), (err) => {
      assert.ok(err instanceof BusinessError, err.stack);
      assert.equal(err.code, c.code);
      assert.equal(err.field, c.field);
      assert.match(err.message, c.note);
      assert.ok(err.vendorBody.log.some((l) => l.typeId === "609(RW)"), "SAP's log travels with the error");
      return true;
    });
    assert.equal((await postingsWith(ref)).length, 0);
  }
  assert.equal((await invoiceItem(invoice)).ClearingAccountingDocument, "", "the invoice is still open");
});

test("sap-s4hana: checked before money moves: unknown, cleared or cancelled invoice, other currency, too much, other company code", async () => {
  const a = adapter();
  const invoice = await openInvoice();
  const check = async (p, code, field, options = {}) => {
    await assert.rejects((options.adapter ?? a).recordPayment(p, {}), (err) => err instanceof BusinessError && err.code === code && err.field === field);
    assert.equal((await postingsWith(p.reference)).length, 0, code);
  };
  await check(payment({ ...invoice, BillingDocument: "99999999" }, `U${kit.tag()}`.slice(0, 16)), "NOT_FOUND", "invoices[0].refs");
  await check(payment(invoice, `X${kit.tag()}`.slice(0, 16), invoice.TotalGrossAmount, "USD"), "CURRENCY_MISMATCH", "amount.currency");
  await check(payment(invoice, `M${kit.tag()}`.slice(0, 16), "999999.00"), "AMOUNT_EXCEEDS_OPEN_ITEM", "amount.amount");
  await check(payment(invoice, `O${kit.tag()}`.slice(0, 16)), "COMPANY_CODE_MISMATCH", 'extensions["sap-s4hana"].companyCode', { adapter: adapter({ orderDefaults: { ...DEFAULTS, companyCode: "1710" } }) });
  const cancelled = await openInvoice();
  sandbox.kernel.store.get("A_BillingDocument", cancelled.BillingDocument).BillingDocumentIsCancelled = "X";
  await check(payment(cancelled, `Z${kit.tag()}`.slice(0, 16)), "INVOICE_CANCELLED", "invoices[0].refs");
  // Cleared by someone else's payment: a second payment would only sit on account.
  await a.recordPayment(payment(invoice, `A${kit.tag()}`.slice(0, 16)), {});
  await cleared(invoice);
  await check(payment(invoice, `S${kit.tag()}`.slice(0, 16)), "INVOICE_CLEARED", "invoices[0].refs");
});

test("sap-s4hana: a partial payment is posted on account and left open (no clearing)", async () => {
  const a = adapter();
  const invoice = await openInvoice();
  const ref = `H${kit.tag()}`.slice(0, 16);
  const before = (await control.records(sandbox.url, "ClearingMessage")).length;
  const paid = await a.recordPayment(payment(invoice, ref, "50.00"), {});
  assert.equal(paid.status, "pending");
  const [item] = await postingsWith(ref);
  assert.equal(item.AmountInTransactionCurrency, "-50.00");
  await new Promise((r) => setTimeout(r, 150));
  assert.equal((await control.records(sandbox.url, "ClearingMessage")).length, before, "nothing to clear");
  assert.equal((await billing(invoice)).InvoiceClearingStatus, "A");
});

test("sap-s4hana: bad input is refused before SAP is called, naming the field", async () => {
  const a = adapter();
  const invoice = await openInvoice();
  const p = payment(invoice, "GOOD-REF");
  const before = await control.stats(sandbox.url);
  const refuse = (value, code, field) => assert.rejects(a.recordPayment(value, {}), (err) => err instanceof BusinessError && err.code === code && err.field === field);
  await refuse({ ...p, reference: undefined }, "NO_EXTERNAL_ID", "reference");
  await refuse({ ...p, reference: "A-REFERENCE-OF-17" }, "REFERENCE_TOO_LONG", "reference");
  await refuse({ ...p, invoices: [{ refs: [{ system: "netsuite", id: "1" }], amount: p.amount }] }, "INVOICE_NOT_LINKED", "invoices[0].refs");
  await refuse({ ...p, amount: { amount: "0.00", currency: "EUR" }, invoices: [{ ...p.invoices[0], amount: { amount: "0.00", currency: "EUR" } }] }, "AMOUNT_NOT_POSITIVE", "amount.amount");
  await assert.rejects(a.recordPayment({ ...p, invoices: [p.invoices[0], p.invoices[0]] }, {}), (err) => err instanceof BusinessError && err.code === "UNSUPPORTED");
  await assert.rejects(a.recordPayment({ ...p, invoices: [{ ...p.invoices[0], amount: { amount: "1.00", currency: "EUR" } }] }, {}), (err) => err instanceof BusinessError && err.code === "UNSUPPORTED");
  const after = await control.stats(sandbox.url);
  assert.equal(kit.requests(after, "GET", "") - kit.requests(before, "GET", ""), 0, "not one call to SAP");
  // A custom mapping that writes something that is not XML is a mapping error, not a posting.
  const bad = adapter({ mappings: { paymentOut: '{"JournalEntry": {"Company Code": "1010"}}' } });
  await assert.rejects(bad.recordPayment(payment(invoice, "MAP-1"), {}), (err) => err instanceof TechnicalError && err.code === "MAPPING_INVALID");
  assert.equal((await postingsWith("MAP-1")).length, 0);
});

test("sap-s4hana: values are escaped in the SOAP request (a reference with < & >)", async () => {
  const a = adapter();
  const invoice = await openInvoice();
  const ref = "A<B&C>'D\"";
  const paid = await a.recordPayment(payment(invoice, ref), {});
  assert.equal(paid.reference, ref.toUpperCase());
  const [item] = await postingsWith(ref);
  assert.equal(item.DocumentReferenceID, ref.toUpperCase());
  await cleared(invoice);
});

test("sap sandbox: Journal Entry - Post answers 200 with SAP's log for rejected entries, and posts balanced ones", async () => {
  const ok = await soap(POST_PATH, journalEntry({ reference: "RAW-OK" }));
  assert.equal(ok.status, 200);
  assert.match(ok.text, /<n0:JournalEntryBulkCreateConfirmation xmlns:n0="http:\/\/sap.com\/xi\/SAPSCORE\/SFIN">/);
  assert.match(ok.text, /<AccountingDocument>14\d{8}<\/AccountingDocument><CompanyCode>1010<\/CompanyCode><FiscalYear>2026<\/FiscalYear>/);
  const cases = [
    [{ companyCode: "" }, "208(F5)", /Enter a company code/],
    [{ companyCode: "9999" }, "165(F5)", /Company code 9999 does not exist/],
    [{ gl: "" }, "507(F5)", /G\/L account  is not defined in chart of accounts YCOA/],
    [{ debtor: "10100001" }, "102(F5)", /Customer 10100001 is not defined in company code 1010/],
    [{ amount: "abc" }, "201(F5)", /enter an amount/],
  ];
  for (const [input, typeId, note] of cases) {
    const got = await soap(POST_PATH, journalEntry(input));
    assert.equal(got.status, 200, typeId);
    assert.match(got.text, /<AccountingDocument> <\/AccountingDocument>/);
    assert.match(got.text, /<MaximumLogItemSeverityCode>3<\/MaximumLogItemSeverityCode><Item><TypeID>609\(RW\)<\/TypeID>/);
    assert.match(got.text, new RegExp(`<TypeID>${typeId.replace(/[()]/g, "\\$&")}</TypeID><SeverityCode>3</SeverityCode><Note>[^<]*</Note>`));
    assert.match(got.text, note);
  }
  const unbalanced = journalEntry().replace("-10.00", "-9.00");
  assert.match((await soap(POST_PATH, unbalanced)).text, /702\(F5\).*Balance in transaction currency/);
  const fault = await soap(POST_PATH, "<soapenv:Envelope><oops");
  assert.equal(fault.status, 500);
  assert.match(fault.text, /<soap-env:Fault><faultcode>soap-env:Client<\/faultcode><faultstring xml:lang="en">[^<]*not well-formed/);
  const noAuth = await fetch(sandbox.url + POST_PATH, { method: "POST", headers: { "content-type": "text/xml" }, body: journalEntry() });
  assert.equal(noAuth.status, 401, "the communication user's Basic credentials are required");
  await control.faults(sandbox.url, [{ kind: "error", status: 500, path: POST_PATH, count: 1 }]);
  const err = await soap(POST_PATH, journalEntry());
  assert.equal(err.status, 500);
  assert.match(err.text, /<faultcode>soap-env:Server<\/faultcode><faultstring xml:lang="en">Web service processing error; more details in the web service error log/);
});

test("sap sandbox: Journal Entry - Clearing answers 202 and reports failures only in the message monitor", async () => {
  const invoice = await openInvoice();
  const open = await invoiceItem(invoice);
  const ok = await soap(POST_PATH, journalEntry({ reference: "RAW-CLR", amount: open.AmountInTransactionCurrency }));
  const doc = /<AccountingDocument>(\d+)<\/AccountingDocument>/.exec(ok.text)[1];
  const pay = (await items()).find((i) => i.AccountingDocument === doc && i.FinancialAccountType === "D");
  const messages = async () => control.records(sandbox.url, "ClearingMessage");
  const n = (await messages()).length;

  const wrongCurrency = await soap(CLEARING_PATH, clearingRequest("USD", [open, pay]));
  assert.equal(wrongCurrency.status, 202);
  assert.equal(wrongCurrency.text, "");
  await until("the USD clearing processed", async () => (await messages()).length === n + 1 && (await messages())[n].status !== "queued");
  assert.equal((await messages())[n].status, "error");
  assert.match((await messages())[n].log[0].Note, /is in EUR, the clearing in USD/);
  assert.equal((await invoiceItem(invoice)).ClearingAccountingDocument, "");

  const lonely = await soap(CLEARING_PATH, clearingRequest("EUR", [open]));
  assert.equal(lonely.status, 202);
  await until("the one-item clearing processed", async () => (await messages())[n + 1]?.status === "error");

  assert.equal((await soap(CLEARING_PATH, clearingRequest("EUR", [open, pay]))).status, 202);
  await cleared(invoice);
  assert.equal((await soap(CLEARING_PATH, clearingRequest("EUR", [open, pay]))).status, 202, "accepted: the check comes later");
  await until("the second clearing refused", async () => (await messages())[n + 3]?.status === "error");
  assert.match((await messages())[n + 3].log[0].Note, /already cleared/);
});

test("sap-s4hana in Node-RED: keelson-erp-invoice records a payment, a repeat posts nothing, a rejection leaves by output 2", async () => {
  const invoice = await openInvoice();
  const ref = `N${kit.tag()}`.slice(0, 16);
  const conn = (defaults) => kit.connection({ system: "sap-s4hana", baseUrl: sandbox.url, orderDefaults: JSON.stringify(defaults) }, { user: D.user, password: D.password });
  const pay = await kit.invoiceFlow(conn(DEFAULTS), { operation: "payment" });
  const got = await pay({ payload: payment(invoice, ref), correlationId: "corr-node" });
  assert.equal(got.out.length, 1, JSON.stringify(got.caught[0]?.error ?? got.rejected[0]?.error));
  assert.equal(got.out[0].payload.status, "pending");
  assert.ok(got.out[0].payload.refs.some((r) => r.system === "sap-s4hana" && r.type === "JournalEntry"));
  await cleared(invoice);
  const again = await pay({ payload: payment(invoice, ref) });
  assert.equal(again.out[0].payload.status, "succeeded");
  assert.equal((await postingsWith(ref)).length, 1);
  await helper.unload();

  const other = await openInvoice();
  const rejecting = await kit.invoiceFlow(conn({ ...DEFAULTS, bankGLAccount: "12100000" }), { operation: "payment" });
  const rejected = await rejecting({ payload: payment(other, `R${kit.tag()}`.slice(0, 16)) });
  assert.equal(rejected.rejected.length, 1, JSON.stringify(rejected.caught[0]?.error));
  assert.equal(rejected.rejected[0].error.code, "351(F5)");
  assert.equal(rejected.rejected[0].error.field, "Item.GLAccount");
});
