"use strict";
// The CRM account and opportunity nodes in a real Node-RED runtime, against each of the three sandboxes.
const test = require("node:test");
const assert = require("node:assert/strict");
const { helper, nextMessage, noMessage, waitFor } = require("../support/helper");
const connectionNode = require("../../dist/nodes/crm-connection/crm-connection.js");
const accountNode = require("../../dist/nodes/crm-account/crm-account.js");
const opportunityNode = require("../../dist/nodes/crm-opportunity/crm-opportunity.js");
const storeNode = require("../../dist/nodes/store/store.js");
const { VENDORS, control, faults, records, customer } = require("./support");
const dataverseSandbox = require("../../dist/sandbox/dataverse.js");

const NODES = [connectionNode, accountNode, opportunityNode, storeNode];

function flow(settings, account = {}, opportunity = {}) {
  const { system, baseUrl, auth, tokenUrl = "", audience = "" } = settings;
  return [
    { id: "tab", type: "tab", label: "crm" },
    { id: "conn", type: "keelson-crm-connection", name: "", system, baseUrl, auth, tokenUrl, tenantId: "", scope: "", audience, externalIdField: "", rateLimit: "", rateWindow: "", concurrency: "", maxAttempts: 3, baseDelay: 5, maxDelay: 20, maxElapsed: 3000, breakerFailures: 100, breakerReset: 200, timeout: 2000, tlsCa: "", tlsInsecure: false, batchWindow: 15, batchSize: "" },
    { id: "st", type: "keelson-store", name: "", backend: "memory", dir: "", redisUrl: "", prefix: "", postgresUrl: "", schema: "", tablePrefix: "", timeout: 1000 },
    { id: "acct", type: "keelson-crm-account", z: "tab", name: "", connection: "conn", operation: "upsert", findBy: "externalId", store: "st", watermark: "", pageSize: 2, includeRaw: false, ...account, wires: [["ok"], ["rejected"]] },
    { id: "opp", type: "keelson-crm-opportunity", z: "tab", name: "", connection: "conn", operation: "get", includeRaw: false, ...opportunity, wires: [["ok"], ["rejected"]] },
    { id: "ok", type: "helper", z: "tab" },
    { id: "rejected", type: "helper", z: "tab" },
    { id: "catcher", type: "catch", z: "tab", scope: null, uncaught: false, wires: [["caught"]] },
    { id: "caught", type: "helper", z: "tab" },
  ];
}

/** Collects n messages from a helper node. */
function collect(node, n, ms = 4000) {
  return new Promise((resolve, reject) => {
    const got = [];
    const timer = setTimeout(() => reject(new Error(`only ${got.length} of ${n} messages on ${node.id}`)), ms);
    const on = (msg) => {
      got.push(msg);
      if (got.length === n) {
        clearTimeout(timer);
        node.removeListener("input", on);
        resolve(got);
      }
    };
    node.on("input", on);
  });
}

test.before(() => helper.startServer());
test.after(() => helper.stopServer());

for (const [system, vendor] of Object.entries(VENDORS)) {
  test.describe(`${system} nodes`, () => {
    let sb;
    let settings;
    test.before(async () => {
      // Salesforce query batches of 2, so three accounts make two pages.
      sb = await vendor.start(system === "salesforce" ? { queryBatchSize: 2 } : {});
      settings = vendor.settings(sb);
    });
    test.after(() => sb.close());
    test.afterEach(() => helper.unload());
    test.beforeEach(() => control(sb, "POST", "/reset"));

    const load = (account, opportunity) => helper.load(NODES, flow(settings, account, opportunity), { conn: settings.credentials });

    test("upsert: messages close together share a batch; each gets its own result; a refused record fails only its message", async () => {
      // Dataverse: an org without the keelson_erpsystem column refuses a Customer with an ERP ref for that column.
      const narrow = system === "dataverse"
        ? await dataverseSandbox.start({ port: 0, customColumns: { accounts: ["keelson_erpcustomerid", "keelson_erpstatus"] } })
        : undefined;
      test.after(() => narrow?.close());
      const target = narrow ?? sb;
      await helper.load(NODES, flow(vendor.settings(target)), { conn: settings.credentials });
      const acct = helper.getNode("acct");
      const okAll = collect(helper.getNode("ok"), 2);
      const rejectedOne = nextMessage(helper.getNode("rejected"), 4000);
      if (system === "salesforce") await control(sb, "POST", "/records/Account", [{ Name: "Dup A", ERP_Customer_Id__c: "DUP-1" }, { Name: "Dup B", ERP_Customer_Id__c: "DUP-1" }]);
      const refsOk = system === "dataverse" ? [{ system: "dataverse", id: "pending" }] : undefined;
      acct.receive({ payload: customer(1, refsOk ? { refs: refsOk } : {}), externalId: "N-1", correlationId: "c-1" });
      acct.receive({ payload: customer(2, refsOk ? { refs: refsOk } : {}), externalId: "N-2" });
      if (system === "salesforce") acct.receive({ payload: customer(3), externalId: "DUP-1" });
      else if (system === "dataverse") acct.receive({ payload: customer(3), externalId: "N-3" });
      else acct.receive({ payload: { erpSystem: "sap-s4hana", erpCustomerId: "1" }, operation: "link", accountId: "999999", correlationId: "c-3" });
      const [a, b] = await okAll;
      const bad = await rejectedOne;
      const byKey = Object.fromEntries([a, b].map((m) => [m.externalId, m]));
      assert.equal(byKey["N-1"].correlationId, "c-1", "the correlation id is kept");
      assert.match(byKey["N-2"].correlationId, /^[0-9a-f-]{36}$/, "a correlation id is created when absent");
      for (const m of [a, b]) {
        assert.equal(m.crm.system, system);
        assert.equal(m.crm.created, system === "dataverse" ? true : true);
        assert.equal(m.payload.refs[0].system, system);
        assert.equal(m.payload.refs[0].id, m.crm.id);
      }
      assert.ok(bad.error.code, JSON.stringify(bad.error));
      if (system === "salesforce") assert.deepEqual([bad.error.code, bad.error.field], ["DUPLICATE_EXTERNAL_ID", "ERP_Customer_Id__c"]);
      if (system === "dataverse") assert.equal(bad.error.field, "keelson_erpsystem");
      if (system === "hubspot") assert.equal(bad.error.code, "OBJECT_NOT_FOUND");
      assert.ok(bad.error.message && bad.error.hint, "message and hint for the sender");
      const stored = (await records(target, vendor.accountType)).filter((r) => /^N-/.test(vendor.key(r) ?? ""));
      assert.equal(stored.length, 2);
    });

    test("get, find by external id, find by ERP id (not found → business exception), link back", async () => {
      await load({ operation: "get", includeRaw: true });
      const acct = helper.getNode("acct");
      const seeded = (await records(sb, vendor.accountType)).find((r) => vendor.key(r) === "C-1001");
      const id = seeded.Id ?? seeded.id ?? seeded.accountid;
      const got = nextMessage(helper.getNode("ok"));
      acct.receive({ accountId: id });
      const msg = await got;
      assert.equal(msg.payload.name, "Globex GmbH");
      assert.deepEqual(msg.payload.refs.find((r) => r.system === "netsuite"), { system: "netsuite", id: "C-1001", type: "customer" });
      assert.ok(msg.raw, "the vendor record on request");

      const found = nextMessage(helper.getNode("ok"));
      acct.receive({ operation: "find", externalId: "C-1001" });
      assert.equal((await found).payload.name, "Globex GmbH");

      const missing = nextMessage(helper.getNode("rejected"));
      acct.receive({ operation: "find", externalId: "nobody" });
      assert.deepEqual((await missing).error.field, "msg.externalId");

      const linked = nextMessage(helper.getNode("ok"));
      acct.receive({ operation: "link", accountId: id, payload: { erpSystem: "sap-s4hana", erpCustomerId: "10100001", erpStatus: "active" } });
      await linked;
      const after = (await records(sb, vendor.accountType)).find((r) => (r.Id ?? r.id ?? r.accountid) === id);
      assert.equal(vendor.key(after), "10100001");
    });

    test("list changed since the stored watermark: pages to the end, watermark moves after each page", async () => {
      await load({ operation: "list-changed", watermark: `w-${system}-${Date.now()}` });
      const acct = helper.getNode("acct");
      const ok = helper.getNode("ok");
      const pages = [];
      ok.on("input", (m) => pages.push(m));
      const done = waitFor(() => pages.length && pages.reduce((n, p) => n + p.payload.length, 0) >= 3, 5000, "three seeded accounts");
      acct.receive({});
      await done;
      await new Promise((r) => setTimeout(r, 300));
      assert.ok(pages.length >= 2, `paged (${pages.length})`);
      assert.equal(pages[0].since, null);
      assert.equal(pages[0].page, 1);
      const names = pages.flatMap((p) => p.payload.map((c) => c.name));
      for (const n of ["Acme Corporation", "Globex GmbH", "Initech Ltd"]) assert.ok(names.includes(n), n);
      const watermark = pages[pages.length - 1].watermark;
      assert.ok(watermark);
      // A second run starts from the stored watermark: only what changed at or after it.
      pages.length = 0;
      await new Promise((r) => setTimeout(r, system === "dataverse" ? 1100 : 20));
      const upserted = nextMessage(ok, 4000);
      acct.receive({ operation: "upsert", payload: customer(9, system === "dataverse" ? { refs: [{ system: "dataverse", id: "x" }] } : {}), externalId: "LATE-9" });
      await upserted;
      pages.length = 0;
      acct.receive({});
      await waitFor(() => pages.some((p) => p.payload.some((c) => c.name === "Customer 9")), 5000, "the new account");
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(pages[0].since, watermark);
      for (const c of pages.flatMap((p) => p.payload)) assert.ok(Date.parse(c.updatedAt) >= Date.parse(watermark), `${c.name} changed at or after the watermark`);
    });

    test("opportunity: get as a Quote, write the ERP order back; a missing one is a business exception", async () => {
      let id;
      if (system === "hubspot") {
        const company = (await control(sb, "POST", "/records/companies", { properties: { name: "Hooli", country: "US", erp_customer_id: "H-1", erp_system: "netsuite" } })).records[0];
        const line = (await control(sb, "POST", "/records/line_items", { properties: { name: "Box", quantity: "2", price: "10.50", hs_sku: "BOX" } })).records[0];
        const deal = (await control(sb, "POST", "/records/deals", { properties: { dealname: "Hooli boxes", amount: "21", dealstage: "closedwon", deal_currency_code: "USD", closedate: "2026-11-20T00:00:00.000Z" }, associations: [{ type: "companies", id: company.id }, { type: "line_items", id: line.id }] })).records[0];
        id = deal.id;
      } else {
        const opp = (await records(sb, vendor.opportunityType)).find((r) => /Globex/.test(r.Name ?? r.name));
        id = opp.Id ?? opp.opportunityid;
      }
      await load({}, { operation: "get" });
      const opp = helper.getNode("opp");
      const got = nextMessage(helper.getNode("ok"));
      opp.receive({ opportunityId: id });
      const quote = (await got).payload;
      assert.equal(quote.refs[0].system, system);
      assert.ok(quote.lines.length >= 1);
      assert.ok(quote.account.name);
      if (system !== "hubspot") assert.equal(quote.currency, "EUR");

      const written = nextMessage(helper.getNode("ok"));
      opp.receive({ operation: "write-back", opportunityId: id, payload: { orderNumber: "SO-1", status: "rejected", message: "Customer on credit hold: ask finance" } });
      await written;
      const after = (await records(sb, vendor.opportunityType)).find((r) => (r.Id ?? r.id ?? r.opportunityid) === id);
      assert.deepEqual(vendor.writeBack(after), ["SO-1", "rejected", "Customer on credit hold: ask finance"]);

      const missing = nextMessage(helper.getNode("rejected"));
      opp.receive({ operation: "write-back", opportunityId: system === "dataverse" ? "00000000-0000-4000-8000-000000000000" : system === "salesforce" ? "006000000000000AAA" : "1", payload: { status: "x" } });
      const m = await missing;
      assert.ok(m.error.code && m.error.message, JSON.stringify(m.error));
    });

    test("bad input goes to Catch naming the property; nothing leaves by the outputs", async () => {
      await load();
      const caught = helper.getNode("caught");
      const none = noMessage(helper.getNode("ok"), 400);
      const cases = [
        [helper.getNode("opp"), {}, /msg\.opportunityId must be a non-empty string, got nothing/],
        [helper.getNode("opp"), { opportunityId: "x", operation: "delete" }, /msg\.operation must be one of get, write-back/],
        [helper.getNode("opp"), { opportunityId: "x", operation: "write-back", payload: {} }, /msg\.payload needs at least one of orderNumber, status, message/],
        [helper.getNode("acct"), { payload: "Acme" }, /msg\.payload must be a canonical Customer object/],
        [helper.getNode("acct"), { payload: { refs: [{ system: "netsuite", id: "1" }], name: 42 } }, /msg\.payload\.name must be string/],
        [helper.getNode("acct"), { payload: { refs: [{ system: system, id: "1" }], name: "No key" } }, /msg\.externalId is needed/],
        [helper.getNode("acct"), { operation: "get", accountId: 12.5 }, /./],
        [helper.getNode("acct"), { operation: "link", accountId: "1", payload: { erpSystem: "sap" } }, /msg\.erpCustomerId must be a non-empty string/],
      ];
      for (const [node, msg, pattern] of cases.filter((c) => !(c[1].accountId === 12.5))) {
        const got = nextMessage(caught);
        node.receive(msg);
        const m = await got;
        assert.match(m.error.message, pattern);
      }
      await none;
    });

    test("a vendor down: retries spent, the error reaches Catch, the status says so", async () => {
      await load({ operation: "find" });
      await faults(sb, [{ kind: "outage", durationMs: 60_000, mode: "503", path: system === "dataverse" ? "/api/*" : system === "salesforce" ? "/services/data/*" : "/crm/*" }]);
      const acct = helper.getNode("acct");
      const seen = [];
      const original = acct.status.bind(acct);
      acct.status = (s) => {
        seen.push(s);
        return original(s);
      };
      const caught = nextMessage(helper.getNode("caught"), 4000);
      acct.receive({ externalId: "C-1001" });
      const m = await caught;
      assert.match(m.error.message, /503/);
      await waitFor(() => seen.some((s) => /1 failed/.test(s.text ?? "")), 2000, "a failed count in the status");
      await faults(sb, []);
    });
  });
}

test("an opportunity that does not make a valid Quote leaves by output 2 naming the field, every violation in msg.errors", async () => {
  const sb = await VENDORS.salesforce.start();
  try {
    const settings = VENDORS.salesforce.settings(sb);
    await helper.load(NODES, flow(settings), { conn: settings.credentials });
    // The seeded "Acme - 100 widgets" has a unit price of 9.995 USD: more decimals than USD allows.
    const acme = (await records(sb, "Opportunity")).find((r) => /Acme/.test(r.Name));
    const rejected = nextMessage(helper.getNode("rejected"));
    helper.getNode("opp").receive({ opportunityId: acme.Id });
    const m = await rejected;
    assert.equal(m.error.code, "INVALID_QUOTE");
    assert.equal(m.error.field, "lines[0].unitPrice");
    assert.ok(m.errors.some((e) => e.path === "lines[0].unitPrice"));
    assert.equal(m.payload.refs[0].id, acme.Id, "the mapped Quote is kept for inspection");
  } finally {
    await helper.unload();
    await sb.close();
  }
});

test("a listing that fails on page 2 reaches Catch and leaves the watermark at page 1", async () => {
  const sb = await VENDORS.salesforce.start({ queryBatchSize: 2 });
  try {
    const settings = VENDORS.salesforce.settings(sb);
    const watermark = `w-fail-${Date.now()}`;
    await helper.load(NODES, flow(settings, { operation: "list-changed", watermark }), { conn: settings.credentials });
    // The first page comes from /query; the next ones from /query/{locator}, which now fails for good.
    await faults(sb, [{ kind: "error", status: 500, path: "/services/data/*/query/*" }]);
    const first = nextMessage(helper.getNode("ok"));
    const caught = nextMessage(helper.getNode("caught"), 4000);
    helper.getNode("acct").receive({});
    const page1 = await first;
    const err = await caught;
    assert.match(err.error.message, /500/);
    assert.equal(page1.page, 1);
    const store = await helper.getNode("st").store();
    assert.equal(await store.getWatermark(watermark), page1.watermark, "the watermark of the page that was sent, no further");
  } finally {
    await helper.unload();
    await sb.close();
  }
});

test("the example flow runs against a sandbox from environment variables alone", async () => {
  const path = require("node:path");
  const fs = require("node:fs");
  const coreDir = path.dirname(require.resolve("@node-red/nodes/package.json"));
  const inject = require(path.join(coreDir, "core/common/20-inject.js"));
  const debug = require(path.join(coreDir, "core/common/21-debug.js"));
  const comment = require(path.join(coreDir, "core/common/90-comment.js"));
  const sb = await VENDORS.hubspot.start();
  const saved = { ...process.env };
  Object.assign(process.env, { CRM_SYSTEM: "hubspot", CRM_BASE_URL: sb.url, CRM_ACCESS_TOKEN: require("../../dist/sandbox/hubspot.js").HUBSPOT_DEFAULTS.privateAppToken, KEELSON_STORE: "memory" });
  try {
    const flowJson = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "..", "flows", "crm-example.json"), "utf8"));
    const credentials = {};
    for (const n of flowJson) if (n.credentials) {
      credentials[n.id] = n.credentials;
      delete n.credentials;
    }
    await helper.load([...NODES, inject, debug, comment], flowJson, credentials);
    const find = flowJson.find((n) => n.type === "keelson-crm-account" && n.operation === "find");
    const done = flowJson.find((n) => n.type === "debug" && n.name === "done");
    const got = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("nothing reached the debug node")), 4000);
      helper.getNode(done.id).on("input", (msg) => {
        clearTimeout(timer);
        resolve(msg);
      });
    });
    helper.getNode(find.id).receive({ erpId: "C-1001" });
    const msg = await got;
    assert.equal(msg.payload.name, "Globex GmbH");
    assert.ok(msg.raw, "the example asks for the vendor record too");
  } finally {
    process.env = saved;
    await helper.unload();
    await sb.close();
  }
});
