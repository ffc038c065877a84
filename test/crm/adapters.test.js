"use strict";
// The three CRM adapters against their sandboxes: operations, batching, every fault kind, token expiry, breaker.
const test = require("node:test");
const assert = require("node:assert/strict");
const { createCrmAdapter } = require("../../dist/nodes/lib/vendors/crm.js");
const { BusinessError, TechnicalError } = require("../../dist/nodes/lib/resilience/index.js");
const { VENDORS, FAST, faults, records, requestsTo, control } = require("./support");

for (const [system, vendor] of Object.entries(VENDORS)) {
  test.describe(`${system} adapter`, () => {
    let sb;
    let adapter;
    test.before(async () => {
      sb = await vendor.start();
    });
    test.after(async () => {
      await sb.close();
    });
    test.beforeEach(async () => {
      await control(sb, "POST", "/reset");
      adapter = createCrmAdapter({ ...vendor.settings(sb), ...FAST });
    });
    test.afterEach(async () => {
      await adapter.close();
    });

    test("upserts close together share one batch call; each caller gets its own result; a refused record fails only its caller", async () => {
      const before = await requestsTo(sb, system === "salesforce" ? "composite/sobjects" : system === "hubspot" ? "batch/upsert" : "$batch");
      const calls = [];
      for (let i = 0; i < 12; i++) calls.push(adapter.upsertAccount(`B-${i}`, i === 5 ? { ...nameOf(system, `Bad ${i}`), ...vendor.badFields } : nameOf(system, `Batch ${i}`), { correlationId: `corr-${i}` }));
      const settled = await Promise.allSettled(calls);
      const after = await requestsTo(sb, system === "salesforce" ? "composite/sobjects" : system === "hubspot" ? "batch/upsert" : "$batch");
      assert.equal(after - before, 1, "one vendor call for twelve upserts");
      settled.forEach((s, i) => {
        if (i === 5) {
          assert.equal(s.status, "rejected");
          assert.ok(s.reason instanceof BusinessError, String(s.reason));
          assert.equal(s.reason.field, vendor.badField);
        } else {
          assert.equal(s.status, "fulfilled", String(s.reason));
          assert.ok(s.value.id);
        }
      });
      const stored = (await records(sb, vendor.accountType)).filter((r) => /^B-/.test(vendor.key(r) ?? ""));
      assert.equal(stored.length, 11);
      // The same key again updates, never duplicates.
      const again = await adapter.upsertAccount("B-1", nameOf(system, "Batch 1 renamed"));
      assert.equal(again.id, settled[1].value.id);
      if (system !== "dataverse" || again.created !== undefined) assert.equal(again.created, false);
      assert.equal((await records(sb, vendor.accountType)).filter((r) => vendor.key(r) === "B-1").length, 1);
    });

    test("get, find by external id and ERP id, link back", async () => {
      const { id } = await adapter.upsertAccount("F-1", nameOf(system, "Findable"));
      const got = await adapter.getAccount(id);
      assert.equal(vendor.key(got), "F-1");
      assert.equal(vendor.key(await adapter.findAccount("externalId", "F-1")), "F-1");
      assert.equal(await adapter.findAccount("erpId", "nope-404"), undefined);
      await adapter.linkErpCustomer(id, { erpSystem: "sap-s4hana", erpCustomerId: "F-2", erpStatus: "active" });
      const linked = await adapter.findAccount("erpId", "F-2");
      assert.ok(linked, "found by the ERP id written back");
      await assert.rejects(adapter.getAccount(system === "dataverse" ? "00000000-0000-4000-8000-000000000000" : system === "salesforce" ? "001000000000000AAA" : "999"), (err) => err instanceof BusinessError);
    });

    test("list changed since: every page to the end, oldest change first, watermarks rising", async () => {
      const start = new Date(Date.now() - 1000).toISOString();
      for (let i = 0; i < 7; i++) await adapter.upsertAccount(`L-${i}`, nameOf(system, `Listed ${i}`));
      const pages = [];
      for await (const page of adapter.listAccountsChangedSince(start, { pageSize: 2 })) pages.push(page);
      const keys = pages.flatMap((p) => p.records.map((r) => vendor.key(r))).filter((k) => /^L-/.test(k ?? ""));
      assert.deepEqual(keys.sort(), ["L-0", "L-1", "L-2", "L-3", "L-4", "L-5", "L-6"]);
      assert.ok(pages.length >= 2, `paged (${pages.length} pages)`);
      const marks = pages.map((p) => p.watermark).filter(Boolean);
      assert.deepEqual([...marks].sort(), marks, "watermarks rise page by page");
    });

    test("opportunity with lines and account, and the ERP order written back", async () => {
      const opportunity = (await records(sb, vendor.opportunityType))[0];
      const id = system === "salesforce" ? opportunity.Id : system === "hubspot" ? opportunity.id : opportunity.opportunityid;
      const read = await adapter.getOpportunity(id);
      const lines = system === "salesforce" ? read.OpportunityLineItems.records : system === "hubspot" ? read.lineItems : read.product_opportunities;
      assert.ok(lines.length >= 1);
      const account = system === "salesforce" ? read.Account : system === "hubspot" ? read.company : read.customerid_account;
      assert.ok(account && (account.Name || account.properties?.name || account.name));
      await adapter.writeBackOrder(id, { orderNumber: "SO-77", status: "booked", message: "ok" });
      const after = (await records(sb, vendor.opportunityType)).find((r) => (r.Id ?? r.id ?? r.opportunityid) === id);
      assert.deepEqual(vendor.writeBack(after), ["SO-77", "booked", "ok"]);
    });

    for (const [kind, rule] of [["error", { kind: "error", status: 503 }], ["throttle", { kind: "throttle" }], ["html-502", { kind: "html-502" }], ["lost-response", { kind: "lost-response" }], ["malformed", { kind: "malformed" }]]) {
      test(`fault ${kind} on an upsert: retried and succeeded, no duplicate`, async () => {
        await faults(sb, [{ ...rule, path: UPSERT_PATH[system], count: 1 }]);
        // Dataverse's throttle asks for Retry-After: 5 s, more than the suite's fast retry budget allows.
        if (kind === "throttle" && system === "dataverse") {
          await adapter.close();
          adapter = createCrmAdapter({ ...vendor.settings(sb), ...FAST, retry: { ...FAST.retry, maxElapsedMs: 10_000 } });
        }
        const started = Date.now();
        const result = await adapter.upsertAccount(`X-${kind}`, nameOf(system, `Fault ${kind}`));
        assert.ok(result.id);
        const stored = (await records(sb, vendor.accountType)).filter((r) => vendor.key(r) === `X-${kind}`);
        assert.equal(stored.length, 1, "exactly one record");
        const fired = (await control(sb, "GET", "/stats")).faults[kind];
        assert.equal(fired, 1, "the fault fired once");
        if (kind === "throttle" && system === "dataverse") assert.ok(Date.now() - started >= 4900, "Retry-After honoured");
      });
    }

    test("fault latency beyond the timeout: retried; a short outage: retried and succeeded", async () => {
      // Backoffs long enough that the retries outlast the 30 ms outage.
      const slow = createCrmAdapter({ ...vendor.settings(sb), ...FAST, timeoutMs: 150, retry: { maxAttempts: 8, baseDelayMs: 40, maxDelayMs: 80, maxElapsedMs: 5000 } });
      try {
        await faults(sb, [{ kind: "latency", ms: 400, count: 1, method: "GET" }]);
        assert.ok(await slow.findAccount("externalId", "C-1001") !== null);
        await faults(sb, [{ kind: "outage", durationMs: 30, mode: "reset" }]);
        const found = await slow.findAccount("externalId", "C-1001");
        assert.ok(found === undefined || typeof found === "object");
      } finally {
        await slow.close();
      }
    });

    test("a long outage: technical error after the retries, the breaker opens, then recovers", async () => {
      const fragile = createCrmAdapter({ ...vendor.settings(sb), ...FAST, retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 2, maxElapsedMs: 1000 }, breaker: { failureThreshold: 3, resetTimeoutMs: 150 } });
      const states = [];
      fragile.connection.on("breaker", (s) => states.push(s));
      try {
        await fragile.findAccount("externalId", "warm-up");
        await faults(sb, [{ kind: "outage", durationMs: 100_000, mode: "503" }]);
        for (let i = 0; i < 3; i++) await assert.rejects(fragile.findAccount("externalId", `o-${i}`), (err) => err instanceof TechnicalError);
        assert.equal(fragile.connection.breaker.state, "open");
        await assert.rejects(fragile.findAccount("externalId", "while-open"), (err) => err instanceof TechnicalError && err.kind === "unavailable");
        await faults(sb, []);
        await new Promise((r) => setTimeout(r, 200));
        await fragile.findAccount("externalId", "after");
        assert.equal(fragile.connection.breaker.state, "closed");
        assert.deepEqual(states.slice(0, 1), ["open"]);
        assert.ok(states.includes("closed"));
      } finally {
        await fragile.close();
      }
    });

    test("token expiry in the middle of a run: renewed once, nothing lost", async () => {
      const first = [];
      for (let i = 0; i < 3; i++) first.push(adapter.upsertAccount(`T-${i}`, nameOf(system, `Token ${i}`)));
      await Promise.all(first);
      await control(sb, "POST", "/tokens/expire");
      const second = [];
      for (let i = 3; i < 6; i++) second.push(adapter.upsertAccount(`T-${i}`, nameOf(system, `Token ${i}`)));
      await Promise.all(second);
      assert.ok(await adapter.findAccount("externalId", "T-5"));
      if (system !== "hubspot") assert.equal(adapter.connection.state().counters.reauthentications, 1);
    });
  });
}

test("Salesforce JWT bearer and HubSpot OAuth refresh log in and work", async () => {
  const sf = await VENDORS.salesforce.start();
  const hs = await VENDORS.hubspot.start();
  try {
    const jwt = createCrmAdapter({ ...VENDORS.salesforce.settings(sf, "jwt-bearer"), ...FAST });
    const oauth = createCrmAdapter({ ...VENDORS.hubspot.settings(hs, "oauth-refresh"), ...FAST });
    assert.ok(await jwt.findAccount("externalId", "C-1001"));
    assert.ok(await oauth.findAccount("externalId", "C-1001"));
    await control(hs, "POST", "/tokens/expire");
    assert.ok(await oauth.findAccount("externalId", "C-1001"), "refreshed after expiry");
    assert.equal(oauth.connection.state().counters.reauthentications, 1);
    await jwt.close();
    await oauth.close();
    const wrong = createCrmAdapter({ ...VENDORS.hubspot.settings(hs, "private-app"), ...FAST, credentials: { accessToken: "wrong" } });
    await assert.rejects(wrong.findAccount("externalId", "C-1001"), (err) => err instanceof TechnicalError && err.kind === "auth");
    await wrong.close();
  } finally {
    await sf.close();
    await hs.close();
  }
});

test("settings are checked, naming the field", () => {
  assert.throws(() => createCrmAdapter({ system: "zoho", baseUrl: "http://x", auth: "client-credentials", credentials: {} }), /system must be one of salesforce, hubspot, dataverse/);
  assert.throws(() => createCrmAdapter({ system: "hubspot", baseUrl: "nope", auth: "private-app", credentials: {} }), /base URL/);
  assert.throws(() => createCrmAdapter({ system: "hubspot", baseUrl: "http://x", auth: "jwt-bearer", credentials: {} }), /auth for hubspot must be one of private-app, oauth-refresh/);
  assert.throws(() => createCrmAdapter({ system: "salesforce", baseUrl: "http://x", auth: "client-credentials", credentials: { clientId: "a" } }), /credential clientSecret is required/);
});

const UPSERT_PATH = { salesforce: "*/composite/sobjects/*", hubspot: "*/batch/upsert", dataverse: "*$batch" };

function nameOf(system, name) {
  return system === "salesforce" ? { Name: name } : { name };
}

test("the correlation id travels to the vendor as a header, the same on every retry", async () => {
  const http = require("node:http");
  const seen = [];
  let calls = 0;
  const server = http.createServer((req, res) => {
    seen.push(req.headers["x-correlation-id"]);
    calls++;
    if (calls === 1) {
      res.writeHead(503, { "content-type": "application/json" });
      res.end(JSON.stringify({ status: "error", category: "SERVICE_UNAVAILABLE", message: "down" }));
      return;
    }
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ id: "1", properties: { name: "Acme", erp_customer_id: "C-1" } }));
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const adapter = createCrmAdapter({ system: "hubspot", baseUrl: `http://127.0.0.1:${server.address().port}`, auth: "private-app", credentials: { accessToken: "t" }, ...FAST });
  try {
    const found = await adapter.findAccount("externalId", "C-1", { correlationId: "order-4711" });
    assert.equal(found.id, "1");
    assert.deepEqual(seen, ["order-4711", "order-4711"]);
  } finally {
    await adapter.close();
    server.close();
  }
});
