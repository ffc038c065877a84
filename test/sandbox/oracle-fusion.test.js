"use strict";
const { test, before, after, beforeEach } = require("node:test");
const assert = require("node:assert/strict");
const { start, ORACLE_FUSION_DEFAULTS: D } = require("../../dist/sandbox/oracle-fusion.js");
const { call, control } = require("./helpers.js");

const R = "/fscmRestApi/resources/11.13.18.05";
const H = `${R}/salesOrdersForOrderHub`;
const BASIC = { authorization: "Basic " + Buffer.from(`${D.username}:${D.password}`).toString("base64") };
let sb;
const fu = (method, path, body, headers = {}) => call(sb.url, method, path, { body, headers: { ...BASIC, "rest-framework-version": "4", ...headers } });
const order = (id, extra = {}) => ({ SourceTransactionNumber: id, SourceTransactionSystem: "LEG", SourceTransactionId: id, BusinessUnitName: "Vision Operations", BuyingPartyNumber: "C-1002", TransactionalCurrencyCode: "USD", lines: [{ SourceTransactionLineId: "1", ProductNumber: "GAD-2", OrderedQuantity: 2 }], ...extra });
const adfFailed = (r, status, pattern) => {
  assert.equal(r.status, status);
  assert.equal(r.headers.get("content-type"), "application/vnd.oracle.adf.error+json");
  assert.equal(r.json.status, String(status));
  assert.match(r.json["o:errorDetails"][0].detail, pattern);
};

before(async () => {
  sb = await start();
});
after(() => sb.close());
beforeEach(() => control.reset(sb.url));

test("auth: Basic, OAuth client-credentials bearer that expires, empty 401 with a challenge", async () => {
  assert.equal((await fu("GET", H)).status, 200);
  const none = await call(sb.url, "GET", H);
  assert.deepEqual([none.status, none.text], [401, ""]);
  assert.match(none.headers.get("www-authenticate"), /^Basic /);
  const wrong = await call(sb.url, "GET", H, { headers: { authorization: "Basic " + Buffer.from(`${D.username}:x`).toString("base64") } });
  assert.equal(wrong.status, 401);
  const client = { authorization: "Basic " + Buffer.from(`${D.clientId}:${D.clientSecret}`).toString("base64") };
  const t = await call(sb.url, "POST", "/oauth2/v1/token", { form: { grant_type: "client_credentials", scope: D.scope }, headers: client });
  assert.deepEqual([t.status, t.json.token_type, t.json.expires_in], [200, "Bearer", 3600]);
  assert.equal((await call(sb.url, "POST", "/oauth2/v1/token", { form: { grant_type: "client_credentials", scope: D.scope } })).json.error, "invalid_client");
  const bearer = { authorization: `Bearer ${t.json.access_token}` };
  assert.equal((await call(sb.url, "GET", H, { headers: bearer })).status, 200);
  await control.expireTokens(sb.url);
  assert.equal((await call(sb.url, "GET", H, { headers: bearer })).status, 401);
  assert.equal((await fu("GET", H)).status, 200, "Basic credentials do not expire");
});

test("create: 201 draft, SubmittedFlag opens it, unknown party / product / attribute, required fields; no customer auto-creation", async () => {
  const r = await fu("POST", H, order("R13_1"));
  assert.equal(r.status, 201);
  assert.equal(r.headers.get("content-type"), "application/vnd.oracle.adf.resourceitem+json");
  assert.deepEqual([r.json.StatusCode, r.json.OrderNumber, r.json.BuyingPartyName, r.json.BusinessUnitId], ["DOO_DRAFT", null, "Umbrella Corp", 204]);
  assert.equal(r.json.lines[0].ExtendedAmount, 300);
  assert.match(r.headers.get("location"), /salesOrdersForOrderHub\/LEG%3AR13_1$/);
  const sub = await fu("POST", H, order("R13_2", { SubmittedFlag: true }));
  assert.deepEqual([sub.json.StatusCode, sub.json.SubmittedFlag], ["OPEN", true]);
  assert.match(sub.json.OrderNumber, /^\d+$/);
  adfFailed(await fu("POST", H, order("X1", { BuyingPartyNumber: "C-9999" })), 400, /BuyingPartyNumber/);
  adfFailed(await fu("POST", H, order("X2", { lines: [{ SourceTransactionLineId: "1", ProductNumber: "NOPE", OrderedQuantity: 1 }] })), 400, /ProductNumber/);
  adfFailed(await fu("POST", H, order("X3", { Nope: 1 })), 400, /attribute Nope/);
  adfFailed(await fu("POST", H, order("X4", { HeaderId: 5 })), 400, /read only/);
  adfFailed(await fu("POST", H, order("X5", { TransactionalCurrencyCode: undefined })), 400, /TransactionalCurrencyCode .* is required/);
  const text = await fu("POST", H, order("X6", { Nope: 1 }), { "rest-framework-version": "1" });
  assert.equal(text.status, 400);
  assert.match(text.headers.get("content-type"), /^text\/plain/);
  assert.match(text.text, /attribute Nope/);
  assert.equal((await control.stats(sb.url)).created.salesOrdersForOrderHub, 2);
});

test("Upsert-Mode: the same OrderKey updates (200) instead of failing; GET / PATCH by OrderKey and HeaderId", async () => {
  const first = await fu("POST", H, order("UP-1"));
  const dup = await fu("POST", H, order("UP-1"));
  adfFailed(dup, 400, /already exists/);
  const up = await fu("POST", H, order("UP-1", { CustomerPONumber: "PO-5", lines: [{ SourceTransactionLineId: "1", ProductNumber: "GAD-2", OrderedQuantity: 3 }, { SourceTransactionLineId: "2", ProductNumber: "WID-1", OrderedQuantity: 1 }] }), { "upsert-mode": "true" });
  assert.equal(up.status, 200);
  assert.equal(up.json.HeaderId, first.json.HeaderId);
  assert.deepEqual(up.json.lines.map((l) => [l.SourceTransactionLineId, l.OrderedQuantity]), [["1", 3], ["2", 1]]);
  assert.equal((await control.records(sb.url, "salesOrdersForOrderHub")).filter((o) => o.SourceTransactionId === "UP-1").length, 1);
  const byKey = await fu("GET", `${H}/LEG:UP-1?fields=CustomerPONumber,HeaderId&onlyData=true`);
  assert.deepEqual(byKey.json, { CustomerPONumber: "PO-5", HeaderId: first.json.HeaderId });
  const byId = await fu("GET", `${H}/${first.json.HeaderId}`);
  assert.equal(byId.json.SourceTransactionId, "UP-1");
  assert.ok(byId.json.links.some((l) => l.rel === "child" && l.name === "lines"));
  assert.equal(byId.json.lines, undefined, "lines only with expand");
  const p = await fu("PATCH", `${H}/LEG%3AUP-1`, { Comments: "rush", SubmittedFlag: true });
  assert.deepEqual([p.status, p.json.Comments, p.json.StatusCode], [200, "rush", "OPEN"]);
  adfFailed(await fu("PATCH", `${H}/LEG:UP-1`, { SourceTransactionId: "other" }), 400, /can't be changed/);
  adfFailed(await fu("GET", `${H}/LEG:NOPE`), 404, /doesn't exist/);
  const lines = await fu("GET", `${H}/LEG:UP-1/child/lines?onlyData=true`);
  assert.deepEqual([lines.json.count, lines.json.hasMore], [2, false]);
  const one = await fu("GET", `${H}/LEG:UP-1/child/lines/${lines.json.items[1].FulfillLineId}`);
  assert.equal(one.json.ProductNumber, "WID-1");
  adfFailed(await fu("DELETE", `${H}/LEG:UP-1`), 400, /Draft/);
  await fu("POST", H, order("DEL-1"));
  assert.equal((await fu("DELETE", `${H}/LEG:DEL-1`)).status, 204);
  assert.equal((await fu("GET", `${H}/LEG:DEL-1`)).status, 404);
});

test("ADF paging: limit / offset / hasMore to the end, totalResults, q, orderBy, expand=lines; bad parameters", async () => {
  await call(sb.url, "POST", "/__sandbox/records/salesOrdersForOrderHub", { body: Array.from({ length: 5 }, (_, i) => order(`PG-${i}`, { CustomerPONumber: `PG-PO-${i}` })) });
  let offset = 0;
  const seen = [];
  for (;;) {
    const r = await fu("GET", `${H}?limit=3&offset=${offset}&totalResults=true&onlyData=true`);
    assert.equal(r.headers.get("content-type"), "application/vnd.oracle.adf.resourcecollection+json");
    assert.equal(r.json.totalResults, 7);
    assert.equal(r.json.limit, 3);
    seen.push(...r.json.items.map((o) => o.HeaderId));
    if (!r.json.hasMore) break;
    offset += r.json.count;
  }
  assert.equal(new Set(seen).size, 7);
  const q = await fu("GET", `${H}?q=${encodeURIComponent("CustomerPONumber='PO-77'")}&expand=lines&onlyData=true`);
  assert.equal(q.json.count, 1);
  assert.deepEqual(q.json.items[0].lines.map((l) => l.ProductNumber), ["GAD-2", "WID-1"]);
  const like = await fu("GET", `${H}?q=${encodeURIComponent("CustomerPONumber LIKE 'PG-PO-%';StatusCode='DOO_DRAFT'")}&orderBy=SourceTransactionId:desc&fields=SourceTransactionId`);
  assert.deepEqual(like.json.items.map((o) => o.SourceTransactionId), ["PG-4", "PG-3", "PG-2", "PG-1", "PG-0"]);
  await control.limits(sb.url, { maxLimit: 2 });
  assert.equal((await fu("GET", `${H}?limit=100`)).json.count, 2);
  adfFailed(await fu("GET", `${H}?q=Nope='x'`), 400, /q/);
  adfFailed(await fu("GET", `${H}?fields=Nope`), 400, /fields/);
  adfFailed(await fu("GET", `${H}?limit=x`), 400, /limit/);
  adfFailed(await fu("GET", "/fscmRestApi/resources/11.1.1/salesOrdersForOrderHub"), 404, /version/);
  assert.equal((await fu("GET", "/fscmRestApi/resources/latest/salesOrdersForOrderHub")).status, 200);
});

test("actions applyHold / releaseHold need the ADF action media type", async () => {
  const act = (name, body, type = "application/vnd.oracle.adf.action+json") => fu("POST", `${H}/KEELSON:SO-EXT-1/action/${name}`, body, { "content-type": type });
  assert.equal((await act("applyHold", { HoldCode: "CREDIT_HOLD", HoldComments: "check" })).json.result, "SUCCESS");
  assert.equal((await fu("GET", `${H}/KEELSON:SO-EXT-1`)).json.OnHold, true);
  assert.equal((await act("releaseHold", {})).status, 200);
  adfFailed(await act("releaseHold", {}), 400, /no hold/);
  adfFailed(await act("applyHold", {}), 400, /HoldCode/);
  assert.equal((await act("applyHold", { HoldCode: "X" }, "application/json")).status, 415);
  adfFailed(await act("teleport", {}), 404, /teleport/);
});

test("batch: all-or-none; a failure echoes only the failing parts and keeps nothing", async () => {
  const type = { "content-type": "application/vnd.oracle.adf.batch+json" };
  const ok = await fu("POST", R, { parts: [{ id: "p1", path: "/salesOrdersForOrderHub", operation: "create", payload: order("B-1") }, { id: "p2", path: "/salesOrdersForOrderHub/KEELSON:SO-EXT-2", operation: "update", payload: { Comments: "via batch" } }, { id: "p3", path: "/salesOrdersForOrderHub/LEG:B-1", operation: "get" }] }, type);
  assert.equal(ok.status, 200);
  assert.deepEqual(ok.json.parts.map((p) => p.id), ["p1", "p2", "p3"]);
  assert.equal(ok.json.parts[2].payload.SourceTransactionId, "B-1");
  const bad = await fu("POST", `${R}/`, { parts: [{ id: "q1", path: "/salesOrdersForOrderHub", operation: "create", payload: order("B-2") }, { id: "q2", path: "/salesOrdersForOrderHub", operation: "create", payload: order("B-3", { BuyingPartyNumber: "nobody" }) }] }, type);
  assert.equal(bad.status, 400);
  assert.deepEqual(bad.json.parts.map((p) => p.id), ["q2"]);
  assert.match(bad.json.parts[0].payload["o:errorDetails"][0].detail, /BuyingPartyNumber/);
  const ids = (await control.records(sb.url, "salesOrdersForOrderHub")).map((o) => o.SourceTransactionId);
  assert.ok(ids.includes("B-1") && !ids.includes("B-2"));
  const upsert = await fu("POST", R, { parts: [{ id: "u", path: "salesOrdersForOrderHub", operation: "upsert", payload: order("B-1", { Comments: "upserted" }) }] }, type);
  assert.equal(upsert.json.parts[0].payload.Comments, "upserted");
  assert.equal((await fu("POST", R, { parts: [] }, { "content-type": "application/json" })).status, 415);
});

test("no published rate limit: off by default, 429 when lowered; faults in the ADF shape; stats", async () => {
  for (let i = 0; i < 4; i++) assert.equal((await fu("GET", `${H}?limit=1`)).status, 200);
  await control.limits(sb.url, { requestsPerMinute: 1 });
  assert.equal((await fu("GET", `${H}?limit=1`)).status, 200);
  const t = await fu("GET", `${H}?limit=1`);
  adfFailed(t, 429, /limit/);
  assert.equal(t.headers.get("retry-after"), "60");
  await control.limits(sb.url, { requestsPerMinute: 0 });
  await control.faults(sb.url, [{ kind: "error", status: 503, count: 1 }]);
  adfFailed(await fu("GET", H), 503, /unavailable/);
  const stats = await control.stats(sb.url);
  const listRoute = Object.entries(stats.routes).find(([key]) => key.startsWith("GET") && key.endsWith("salesOrdersForOrderHub$/"));
  assert.deepEqual(listRoute[1].statuses, { 200: 5, 429: 1, 503: 1 });
});

const INV = `${R}/receivablesInvoices`;
const RCPT = `${R}/standardReceipts`;
const ORG = "/crmRestApi/resources/11.13.18.05/hubOrganizations";
const ACTION = { "content-type": "application/vnd.oracle.adf.action+json" };
const receipt = (number, extra = {}) => ({ ReceiptNumber: number, ReceiptMethod: "Manual", BusinessUnit: "Vision Operations", Amount: "100.00", Currency: "EUR", RemittanceBankAccountNumber: "10271-17621-619", CustomerAccountNumber: "1001", ...extra });

test("receivablesInvoices: seeded, paged, filtered with the row-match q, sorted, lines and installments expanded; a missing one is 404", async () => {
  const all = await fu("GET", `${INV}?onlyData=true&limit=2&orderBy=LastUpdateDate:asc,CustomerTransactionId:asc`);
  assert.deepEqual([all.status, all.json.count, all.json.hasMore], [200, 2, true]);
  const [first, second] = all.json.items;
  assert.deepEqual([first.BillToCustomerNumber, first.InvoiceCurrencyCode, first.EnteredAmount, first.InvoiceBalanceAmount, first.InvoiceStatus], ["1001", "EUR", 699.95, 699.95, "Complete"]);
  assert.equal(first.receivablesInvoiceLines, undefined, "children only when expanded");
  const after = `(LastUpdateDate > '${second.LastUpdateDate}') or (LastUpdateDate = '${second.LastUpdateDate}' and CustomerTransactionId > ${second.CustomerTransactionId})`;
  const rest = await fu("GET", `${INV}?onlyData=true&q=${encodeURIComponent(after)}&orderBy=LastUpdateDate:asc,CustomerTransactionId:asc`);
  assert.deepEqual(rest.json.items.map((i) => i.BillToCustomerNumber), ["1002"]);
  assert.equal(rest.json.hasMore, false);
  const one = await fu("GET", `${INV}/${first.CustomerTransactionId}?expand=receivablesInvoiceLines,receivablesInvoiceInstallments`);
  assert.deepEqual(one.json.receivablesInvoiceLines.map((l) => [l.ItemNumber, l.Quantity, l.LineAmount, l.SalesOrder]), [["GAD-2", 4, 600, "84001"], ["WID-1", 10, 99.95, "84001"]]);
  assert.deepEqual([one.json.receivablesInvoiceInstallments[0].InstallmentBalanceDue, one.json.receivablesInvoiceInstallments[0].InstallmentStatus], [699.95, "Open"]);
  assert.ok(one.json.links.some((l) => l.rel === "child" && l.name === "receivablesInvoiceLines"));
  const slim = await fu("GET", `${INV}/${first.CustomerTransactionId}?onlyData=true&fields=CustomerTransactionId,TransactionNumber&expand=receivablesInvoiceLines`);
  assert.deepEqual(Object.keys(slim.json), ["CustomerTransactionId", "TransactionNumber", "receivablesInvoiceLines"]);
  assert.equal(slim.json.receivablesInvoiceLines[1].ItemNumber, "WID-1", "a child's rows come whole");
  adfFailed(await fu("GET", `${INV}?fields=Nope`), 400, /fields/);
  const lines = await fu("GET", `${INV}/${first.CustomerTransactionId}/child/receivablesInvoiceLines`);
  assert.equal(lines.json.count, 2);
  adfFailed(await fu("GET", `${INV}/300000299999`), 404, /doesn't exist/);
  adfFailed(await fu("GET", `${INV}?q=${encodeURIComponent("(LastUpdateDate > '2026-01-01'")}`), 400, /parameter q/);
  adfFailed(await fu("GET", `${INV}?q=Nope=1`), 400, /parameter q/);
  adfFailed(await fu("GET", `${INV}?expand=lines`), 400, /expand/);
});

test("standardReceipts: create, find by ReceiptNumber, applyReceipt once to an installment (balance and State follow), rejections name the attribute", async () => {
  const inv = (await fu("GET", `${INV}?onlyData=true&expand=receivablesInvoiceInstallments&limit=1`)).json.items[0];
  const schedule = inv.receivablesInvoiceInstallments[0].InstallmentId;
  const r = await fu("POST", RCPT, receipt("SKR_1"));
  assert.equal(r.status, 201);
  assert.deepEqual([r.json.Amount, r.json.UnappliedAmount, r.json.State, r.json.CustomerName], ["100.00", "100.00", "Unapplied", "Globex GmbH"]);
  const found = await fu("GET", `${RCPT}?q=${encodeURIComponent("ReceiptNumber='SKR_1'")}`);
  assert.deepEqual(found.json.items.map((x) => x.StandardReceiptId), [r.json.StandardReceiptId]);
  const applyPath = `${RCPT}/${r.json.StandardReceiptId}/action/applyReceipt`;
  assert.equal((await fu("POST", applyPath, { amountApplied: 60, appliedPaymentScheduleId: schedule })).status, 415, "actions take the ADF action media type");
  const applied = await fu("POST", applyPath, { amountApplied: 60, appliedPaymentScheduleId: schedule, calledFrom: "test" }, ACTION);
  assert.equal(applied.status, 200);
  assert.match(applied.json.result, /^\d+$/);
  const now = await fu("GET", `${RCPT}/${r.json.StandardReceiptId}`);
  assert.deepEqual([now.json.UnappliedAmount, now.json.State], ["40.00", "Partially Applied"]);
  assert.equal((await fu("GET", `${INV}/${inv.CustomerTransactionId}`)).json.InvoiceBalanceAmount, 639.95);
  adfFailed(await fu("POST", applyPath, { amountApplied: 50, appliedPaymentScheduleId: schedule }, ACTION), 400, /amountApplied .* exceeds the unapplied amount/);
  adfFailed(await fu("POST", applyPath, { amountApplied: 5, appliedPaymentScheduleId: 1 }, ACTION), 400, /attribute appliedPaymentScheduleId/);
  adfFailed(await fu("POST", RCPT, receipt("SKR_1")), 400, /already exists/);
  adfFailed(await fu("POST", RCPT, receipt("SKR_2", { ReceiptMethod: "Barter" })), 400, /attribute ReceiptMethod/);
  adfFailed(await fu("POST", RCPT, receipt("SKR_2", { RemittanceBankAccountNumber: undefined })), 400, /RemittanceBankAccountNumber .*required/);
  adfFailed(await fu("POST", RCPT, receipt("SKR_2", { CustomerAccountNumber: "9999" })), 400, /attribute CustomerAccountNumber/);
  adfFailed(await fu("POST", RCPT, receipt("SKR_2", { UnappliedAmount: "1" })), 400, /read only/);
  const other = await fu("POST", RCPT, receipt("SKR_3", { CustomerAccountNumber: "1002" }));
  adfFailed(await fu("POST", `${RCPT}/${other.json.StandardReceiptId}/action/applyReceipt`, { appliedPaymentScheduleId: schedule }, ACTION), 400, /doesn't belong to the receipt's customer/);
  const records = await control.records(sb.url, "standardReceipts");
  assert.equal(records.find((x) => x.ReceiptNumber === "SKR_1").applications.length, 1, "record inspection shows the applications");
});

test("hubOrganizations: create with a source system reference, find by it, refuse a taken one or an unknown source system; Order Hub buys for the new party", async () => {
  const r = await fu("POST", ORG, { OrganizationName: "Initech", PartyUsageCode: "CUSTOMER", SourceSystemReference: [{ SourceSystem: "SFDC", SourceSystemReferenceValue: "001A" }] });
  assert.equal(r.status, 201);
  assert.match(r.json.PartyNumber, /^CDRM_\d+$/);
  assert.deepEqual([r.json.SourceSystem, r.json.SourceSystemReferenceValue, r.json.Status], [null, null, "A"]);
  const q = encodeURIComponent("SourceSystem='SFDC' and SourceSystemReferenceValue='001A'");
  const found = await fu("GET", `${ORG}?q=${q}&fields=PartyId,PartyNumber&onlyData=true`);
  assert.deepEqual(found.json.items, [{ PartyId: r.json.PartyId, PartyNumber: r.json.PartyNumber }]);
  assert.equal((await fu("GET", `${ORG}?q=${encodeURIComponent("SourceSystem='KEELSON' and SourceSystemReferenceValue='001A'")}`)).json.count, 0);
  assert.equal((await fu("GET", `${ORG}/${r.json.PartyNumber}?expand=SourceSystemReference`)).json.SourceSystemReference[0].SourceSystemReferenceValue, "001A");
  adfFailed(await fu("POST", ORG, { OrganizationName: "Initech 2", SourceSystemReference: [{ SourceSystem: "SFDC", SourceSystemReferenceValue: "001A" }] }), 400, /already exists/);
  adfFailed(await fu("POST", ORG, { OrganizationName: "Initech 3", SourceSystemReference: [{ SourceSystem: "NOPE", SourceSystemReferenceValue: "001B" }] }), 400, /attribute SourceSystem/);
  adfFailed(await fu("POST", ORG, { SourceSystemReference: [] }), 400, /OrganizationName .*required/);
  const o = await fu("POST", H, order("R13_NEW", { BuyingPartyNumber: r.json.PartyNumber }));
  assert.deepEqual([o.status, o.json.BuyingPartyName], [201, "Initech"]);
});
