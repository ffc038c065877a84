"use strict";
// A scripted quote-to-cash run in a real Node-RED process against the Salesforce and SAP sandboxes, with telemetry
// on: the metrics endpoint counts what the sandboxes saw, the business latencies are in their histograms, the trace
// finds every step of a correlation id (and of its opportunity) including a failed order that went to the
// dead-letter queue and was replayed, each step is one JSON log line, and the health API reports live numbers.
const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const { startNodeRed } = require("../support/nodered");
const { makeUserDir, request, waitUntilReady } = require("../support/flows");
const { startSandboxes, stats, records, control, q2cFlow, parseMetrics, sum, ORDER_PATH } = require("./support");

const TOKEN = "scrape-token-7c1e";
const N = 5;

async function waitUntil(check, what, ms = 20000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test("a quote-to-cash run with telemetry on: metrics, latencies, trace, logs and health agree with the sandboxes", async (t) => {
  const sandboxes = await startSandboxes(N + 1);
  const userDir = makeUserDir("telemetry");
  const { flows, id } = q2cFlow({ crmUrl: sandboxes.crm.url, erpUrl: sandboxes.erp.url });
  const red = await startNodeRed({
    userDir,
    settings: {
      keelson: { metrics: { enabled: true, token: TOKEN }, trace: { enabled: true }, logs: { json: true }, healthIntervalSeconds: 1 },
      logging: { console: { level: "warn", metrics: false, audit: false } },
    },
  });
  t.after(async () => {
    if (process.env.KEELSON_TEST_LOG) process.stderr.write(red.log);
    await red.stop();
    await sandboxes.close();
    fs.rmSync(userDir, { recursive: true, force: true });
  });
  // Deployed through the admin API, as the editor does, so the connections' credentials are stored as credentials.
  assert.equal((await request(`${red.url}/flows`, { method: "POST", body: flows, headers: { "Node-RED-Deployment-Type": "full" } })).status, 204);
  await waitUntilReady(red.url);
  const [first, ...rest] = sandboxes.opportunities;
  const orderNumberOf = async (opportunityId) => (await records(sandboxes.crm.url, "Opportunity")).find((o) => o.Id === opportunityId)?.ERP_Order_Number__c;
  const won = (opportunityId, correlationId) => request(`${red.url}/keelson/q2c/opportunity-won`, { method: "POST", body: { opportunityId }, headers: { "x-correlation-id": correlationId } });

  // 1. The first order meets an SAP outage of one request: a technical error, captured in the dead-letter queue.
  await control(sandboxes.erp.url, "PUT", "/faults", { faults: [{ kind: "error", status: 503, method: "POST", path: ORDER_PATH, count: 1 }] });
  assert.equal((await won(first, "corr-dlq")).status, 202);
  const queue = await waitUntil(async () => (await request(`${red.url}/keelson/dlq/queues`)).body?.find((q) => q.queue === "q2c-orders" && q.depth === 1), "the dead letter");
  assert.equal(queue.depth, 1);

  // While it waits there, the trace names the dead letter (the capture's step is recorded as the DLQ node's done()
  // follows the store's answer, so a moment after the queue shows it).
  const waiting = await waitUntil(async () => {
    const body = (await request(`${red.url}/keelson/trace/corr-dlq`)).body;
    return body.steps.some((s) => s.outcome === "captured") ? body : undefined;
  }, "the capture's step");
  assert.equal(waiting.deadLetters.length, 1);
  assert.equal(waiting.deadLetters[0].correlationId, "corr-dlq");
  const captured = waiting.steps.find((s) => s.outcome === "captured");
  assert.ok(captured, "the capture is a step");
  assert.equal(captured.ids.deadLetter, waiting.deadLetters[0].id);

  // 2. The other opportunities go through; one more cannot be mapped (a price with too many decimals): the CRM node refuses it as a Quote.
  for (let i = 0; i < rest.length; i++) assert.equal((await won(rest[i], `corr-${i}`)).status, 202);
  assert.equal((await won(sandboxes.badOpportunity, "corr-bad")).status, 202);
  await waitUntil(async () => (await Promise.all(rest.map(orderNumberOf))).every(Boolean), "the write-backs");

  // 3. Replay from the admin API: the order goes through this time.
  const replayed = await request(`${red.url}/keelson/dlq/queues/q2c-orders/bulk`, { method: "POST", body: { action: "replay", all: true } });
  assert.equal(replayed.body.replayed, 1);
  await waitUntil(() => orderNumberOf(first), "the replayed order's write-back");

  // 4. An invoice posted in SAP is written to its opportunity.
  const billing = (await records(sandboxes.erp.url, "A_BillingDocument"))[0];
  assert.equal((await request(`${red.url}/keelson/q2c/invoice-posted`, { method: "POST", body: { opportunityId: rest[0], invoiceId: billing.BillingDocument }, headers: { "x-correlation-id": "corr-invoice" } })).status, 202);
  await waitUntil(async () => (await records(sandboxes.crm.url, "Opportunity")).find((o) => o.Id === rest[0])?.ERP_Order_Status__c === "invoiced", "the invoice write-back");

  // --- Metrics, against what the sandboxes saw.
  const scrape = await fetch(`${red.url}/keelson/metrics`, { headers: { Authorization: `Bearer ${TOKEN}` } });
  assert.equal(scrape.status, 200);
  assert.match(scrape.headers.get("content-type"), /^text\/plain;.*version=0\.0\.4/);
  const text = await scrape.text();
  const m = parseMetrics(text);
  const sapStats = await stats(sandboxes.erp.url);
  const sfStats = await stats(sandboxes.crm.url);
  const routeCount = (s, method, pattern) => Object.entries(s.routes).filter(([k]) => k.startsWith(`${method} `) && pattern.test(k)).reduce((n, [, r]) => n + r.requests, 0);

  const ordersCreated = sapStats.created.A_SalesOrder;
  assert.equal(ordersCreated, N + 1, "SAP created every order once");
  assert.equal(sum(m, "keelson_messages_out_total", { node: id.order, output: "0" }), ordersCreated, "orders accepted = orders SAP created");
  assert.equal(sum(m, "keelson_messages_in_total", { node: id.order }), routeCount(sapStats, "POST", /A_SalesOrder\$\/$/), "order attempts = order POSTs SAP saw");
  assert.equal(sum(m, "keelson_technical_errors_total", { node: id.order }), 1);
  // Write-backs may travel batched (composite), so they are counted on the opportunities themselves.
  const opportunities = await records(sandboxes.crm.url, "Opportunity");
  assert.equal(sum(m, "keelson_messages_out_total", { node: id.writeBack, output: "0" }), opportunities.filter((o) => o.ERP_Order_Number__c).length, "order write-backs = opportunities with an order number");
  assert.equal(sum(m, "keelson_messages_out_total", { node: id.invoiceWriteBack, output: "0" }), opportunities.filter((o) => o.ERP_Order_Status__c === "invoiced").length);
  assert.equal(sum(m, "keelson_messages_in_total", { node: id.read }), N + 2, "every webhook read its opportunity");
  assert.equal(sum(m, "keelson_business_exceptions_total", { node: id.read, code: "INVALID_QUOTE" }), 1, "the bad price is refused as a Quote already");
  assert.equal(sum(m, "keelson_gate_outcomes_total", { node: id.claim, outcome: "claimed" }), N + 2, "each order claimed once, the replay once more");
  assert.equal(sum(m, "keelson_gate_outcomes_total", { node: id.complete, outcome: "completed" }), N + 1);
  assert.equal(sum(m, "keelson_gate_outcomes_total", { node: id.giveBack, outcome: "released" }), 1);
  assert.equal(sum(m, "keelson_dlq_captured_total", { queue: "q2c-orders" }), 1);
  assert.equal(sum(m, "keelson_messages_out_total", { node: id.dlq, output: "0" }), 1, "the replay from the admin API leaves output 1");
  assert.equal(sum(m, "keelson_dlq_depth", { queue: "q2c-orders" }), 0, "replayed: the queue is empty");
  // What each connection sent is what its sandbox answered on its data routes (token requests are the auth's own).
  const vendorRequests = (s, exclude) => Object.entries(s.routes).filter(([k]) => !exclude.test(k)).reduce((n, [, r]) => n + r.requests, 0);
  assert.equal(sum(m, "keelson_connection_sent_total", { connection: "salesforce" }), vendorRequests(sfStats, /oauth2/), "Salesforce requests");
  assert.equal(sum(m, "keelson_connection_breaker_state", { connection: "salesforce", state: "closed" }), 1);
  assert.equal(sum(m, "keelson_connection_breaker_state", { connection: "sap", state: "closed" }), 1);
  const remaining = sum(m, "keelson_vendor_quota_remaining", { connection: "salesforce" });
  const limit = sum(m, "keelson_vendor_quota_limit", { connection: "salesforce" });
  assert.ok(limit > 0 && remaining > 0 && remaining < limit, `Salesforce daily allowance seen (${remaining}/${limit})`);
  // Business latencies.
  assert.equal(sum(m, "keelson_business_latency_seconds_count", { journey: "opportunity_won_to_order_accepted" }), N + 1);
  assert.equal(sum(m, "keelson_business_latency_seconds_bucket", { journey: "opportunity_won_to_order_accepted", le: "+Inf" }), N + 1);
  assert.ok(sum(m, "keelson_business_latency_seconds_sum", { journey: "opportunity_won_to_order_accepted" }) > 0);
  assert.equal(sum(m, "keelson_business_latency_seconds_count", { journey: "invoice_posted_to_crm_updated" }), 1);
  // Every histogram's buckets rise.
  const buckets = m.filter((s) => s.name === "keelson_business_latency_seconds_bucket" && s.labels.journey === "opportunity_won_to_order_accepted");
  for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i].value >= buckets[i - 1].value);

  // --- Trace: every step of the failed-then-replayed order, in order, also found by its opportunity id.
  const trace = (await request(`${red.url}/keelson/trace/corr-dlq`)).body;
  const path = trace.steps.map((s) => `${s.node.name}:${s.outcome}`);
  assert.deepEqual(path, [
    "read opportunity:ok", "to SalesOrder:ok", "once per opportunity:claimed", "create order:error", "give the key back:released", "failed orders:captured",
    "failed orders:replayed", "once per opportunity:claimed", "create order:ok", "remember the order:completed", "write order back:ok",
  ]);
  const failedStep = trace.steps.find((s) => s.outcome === "error");
  assert.equal(failedStep.code, "server");
  assert.ok(trace.steps.find((s) => s.node.name === "create order" && s.outcome === "ok").ids["sap-s4hana"], "the SAP order number is on the step");
  assert.ok(trace.steps.slice(6).every((s) => s.ids.deadLetter === captured.ids.deadLetter), "the replay and the steps after it name their dead letter");
  assert.deepEqual(trace.deadLetters, [], "replayed: no dead letter left");
  const byOpportunity = (await request(`${red.url}/keelson/trace/${first}`)).body;
  assert.deepEqual(byOpportunity.steps.map((s) => s.at), trace.steps.map((s) => s.at));
  assert.deepEqual(byOpportunity.correlationIds, ["corr-dlq"]);
  const unknown = (await request(`${red.url}/keelson/trace/no-such-id`)).body;
  assert.deepEqual(unknown.steps, []);
  assert.deepEqual(unknown.correlationIds, []);

  // --- Structured logs: one JSON line per step, with the correlation id.
  const lines = red.log.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
  const ofDlq = lines.filter((l) => l.correlationId === "corr-dlq");
  assert.equal(ofDlq.length, path.length);
  for (const l of ofDlq) {
    assert.equal(l.event, "keelson.step");
    assert.ok(!Number.isNaN(Date.parse(l.time)));
    assert.equal(typeof l.node, "string");
  }
  assert.equal(ofDlq.find((l) => l.outcome === "error").level, "error");
  assert.equal(lines.filter((l) => l.correlationId === "corr-bad" && l.outcome === "rejected").length, 1);

  // --- Health: per connection and per flow, live.
  const health = (await request(`${red.url}/keelson/health`)).body;
  assert.deepEqual(health.enabled, { metrics: true, trace: true, logs: true });
  const sf = health.connections.find((c) => c.name === "salesforce");
  assert.equal(sf.breaker, "closed");
  assert.ok(sf.requests > 0);
  assert.ok(sf.headroom && sf.headroom.ratio > 0 && sf.headroom.ratio < 1);
  assert.deepEqual(sf.nodes.sort(), [id.read, id.writeBack, id.invoiceWriteBack].sort());
  const flow = health.flows.find((f) => f.flow === id.tab);
  assert.ok(flow.throughput.reduce((n, p) => n + p.count, 0) > 0);
  const latency = flow.latency.opportunity_won_to_order_accepted;
  assert.equal(latency.reduce((n, p) => n + p.count, 0), N + 1);
  assert.ok(latency.every((p) => p.p95 >= p.p50 && p.p50 > 0));
});
