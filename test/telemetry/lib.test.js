"use strict";
// The Node-RED-free telemetry core: the text exposition, histogram buckets, the trace window, settings parsing.
const test = require("node:test");
const assert = require("node:assert/strict");
const { Registry } = require("../../dist/nodes/lib/telemetry/metrics.js");
const { TraceLog } = require("../../dist/nodes/lib/telemetry/trace.js");
const { telemetrySettings } = require("../../dist/nodes/lib/telemetry/settings.js");
const { Telemetry } = require("../../dist/nodes/lib/telemetry/telemetry.js");

test("counters, gauges and histograms in the Prometheus text format, labels escaped", () => {
  const r = new Registry();
  const c = r.counter("x_total", "Things.\nTwo lines.");
  c.inc({ node: 'a"b\\c\nd' });
  c.inc({ node: 'a"b\\c\nd' }, 2);
  const bound = c.bind({ node: "n2" });
  bound.inc();
  r.gauge("g", "A gauge.").set({}, -1.5);
  const h = r.histogram("h_seconds", "Latency.", [0.1, 1]);
  h.observe({ j: "a" }, 0.05);
  h.observe({ j: "a" }, 0.5);
  h.bind({ j: "a" }).observe(5);
  assert.equal(
    r.render(),
    [
      "# HELP x_total Things.\\nTwo lines.",
      "# TYPE x_total counter",
      'x_total{node="a\\"b\\\\c\\nd"} 3',
      'x_total{node="n2"} 1',
      "# HELP g A gauge.",
      "# TYPE g gauge",
      "g -1.5",
      "# HELP h_seconds Latency.",
      "# TYPE h_seconds histogram",
      'h_seconds_bucket{j="a",le="0.1"} 1',
      'h_seconds_bucket{j="a",le="1"} 2',
      'h_seconds_bucket{j="a",le="+Inf"} 3',
      'h_seconds_sum{j="a"} 5.55',
      'h_seconds_count{j="a"} 3',
      "",
    ].join("\n"),
  );
  assert.equal(c.get({ node: "n2" }), 1);
  assert.deepEqual(h.get({ j: "a" }), { count: 3, sum: 5.55 });
});

test("the trace keeps at most maxSteps, forgets steps older than its window, and finds by business key", () => {
  const log = new TraceLog({ maxSteps: 3000, windowMs: 1000 });
  const step = (correlationId, at, ids) => ({ correlationId, at, durationMs: 1, node: { id: "n", type: "t" }, outcome: "ok", ...(ids ? { ids } : {}) });
  for (let i = 0; i < 5000; i++) log.record(step(`c${i}`, 10_000 + i));
  assert.equal(log.size, 3000);
  assert.deepEqual(log.find("c1999", 15_000), [], "dropped: beyond maxSteps");
  assert.equal(log.find("c4999", 14_999).length, 1);
  assert.deepEqual(log.find("c4000", 15_500), [], "dropped: older than the window");
  log.record(step("k1", 20_000, { opportunityId: "006X" }));
  log.record(step("k1", 20_002));
  log.record(step("k2", 20_001, { opportunityId: "006X" }));
  assert.deepEqual(log.find("006X", 20_003).map((s) => [s.correlationId, s.at]), [["k1", 20_000], ["k2", 20_001], ["k1", 20_002]]);
  assert.deepEqual(log.recent(20_001).map((s) => s.at), [20_002, 20_001]);
});

test("settings: everything off by default, telemetry:false wins, bad values fall back", () => {
  assert.deepEqual(telemetrySettings(undefined), { metrics: { enabled: false, path: "/keelson/metrics" }, trace: { enabled: false, maxSteps: 50_000, windowMinutes: 60 }, logs: { json: false }, healthIntervalSeconds: 5 });
  const s = telemetrySettings({ metrics: { enabled: true, path: "ops/m", token: "t" }, trace: { enabled: true, maxSteps: -1, windowMinutes: "x" }, logs: { json: true } });
  assert.deepEqual(s.metrics, { enabled: true, path: "/ops/m", token: "t" });
  assert.deepEqual(s.trace, { enabled: true, maxSteps: 50_000, windowMinutes: 60 });
  assert.equal(telemetrySettings({ trace: { enabled: true, store: " st1 " } }).trace.store, "st1");
  assert.equal("store" in telemetrySettings({ trace: { enabled: true, store: "" } }).trace, false, "an empty store id means the first store node");
  assert.equal(telemetrySettings({ telemetry: false, metrics: { enabled: true } }).metrics.enabled, false);
  assert.equal(telemetrySettings({ metrics: { enabled: "yes" } }).metrics.enabled, false, "only true switches on");
  assert.equal(new Telemetry(undefined).recording, false);
});

test("a probe counts in and out per output, business exceptions by code, errors by class, and gate outcomes", async () => {
  const lines = [];
  const t = new Telemetry({ metrics: { enabled: true }, trace: { enabled: true }, logs: { json: true } }, (l) => lines.push(JSON.parse(l)));
  const order = t.probe({ id: "o1", type: "keelson-erp-order", name: "create", flow: "f1" });
  const msg = { correlationId: "c1", payload: { refs: [{ system: "sap-s4hana", id: "42" }] }, erp: { created: true } };
  const h = order.begin(msg);
  assert.equal(typeof msg._keelson.start, "number", "the first Keelson node stamps the start");
  order.sent(h, msg, 0);
  order.end(h, msg);
  const rejected = { correlationId: "c2", error: { code: "CREDIT_HOLD" } };
  const h2 = order.begin(rejected);
  order.sent(h2, rejected, 1);
  order.end(h2, rejected);
  const failed = { correlationId: "c3" };
  const h3 = order.begin(failed);
  order.end(h3, failed, Object.assign(new Error("socket hang up"), { kind: "network" }));
  const gate = t.probe({ id: "g1", type: "keelson-gate", flow: "f1" });
  const claimed = { correlationId: "c4", idempotency: { state: "in-flight" } };
  const h4 = gate.begin(claimed);
  gate.sent(h4, claimed, 2);
  gate.end(h4, claimed);
  const text = await t.render();
  assert.match(text, /^keelson_messages_in_total\{node="o1",type="keelson-erp-order",name="create",flow="f1"\} 3$/m);
  assert.match(text, /^keelson_messages_out_total\{node="o1",type="keelson-erp-order",name="create",flow="f1",output="0"\} 1$/m);
  assert.match(text, /^keelson_business_exceptions_total\{node="o1",type="keelson-erp-order",code="CREDIT_HOLD"\} 1$/m);
  assert.match(text, /^keelson_technical_errors_total\{node="o1",type="keelson-erp-order",class="network"\} 1$/m);
  assert.match(text, /^keelson_gate_outcomes_total\{node="g1",name="",outcome="in-flight"\} 1$/m);
  assert.match(text, /^keelson_business_latency_seconds_count\{journey="opportunity_won_to_order_accepted",flow="f1"\} 1$/m);
  assert.deepEqual(t.find("42").map((s) => s.outcome), ["ok"], "found by the SAP order number");
  assert.deepEqual(lines.map((l) => [l.correlationId, l.outcome, l.level]), [["c1", "ok", "info"], ["c2", "rejected", "warn"], ["c3", "error", "error"], ["c4", "in-flight", "info"]]);
  // A second accepted send of the same message (a status read after the create) does not count the journey twice.
  const again = order.begin(msg);
  order.sent(again, msg, 0);
  order.end(again, msg);
  assert.match(await t.render(), /^keelson_business_latency_seconds_count\{journey="opportunity_won_to_order_accepted",flow="f1"\} 1$/m);
});

test("an invoice starts its journey at its updatedAt; the CRM write ends it", async () => {
  const t = new Telemetry({ metrics: { enabled: true } });
  const invoices = t.probe({ id: "i1", type: "keelson-erp-invoice", flow: "f" });
  const crm = t.probe({ id: "c1", type: "keelson-crm-opportunity", flow: "f" });
  const input = { correlationId: "x" };
  const h = invoices.begin(input);
  const out = { ...input, payload: { totals: {}, issueDate: "2026-11-20", updatedAt: new Date(Date.now() - 90_000).toISOString() } };
  invoices.sent(h, out, 0);
  invoices.end(h, input);
  assert.equal(out._keelson.journey, "invoice");
  const h2 = crm.begin(out);
  crm.sent(h2, { ...out, crm: { system: "salesforce", id: "006" } }, 0);
  crm.end(h2, out);
  const text = await t.render();
  assert.match(text, /^keelson_business_latency_seconds_count\{journey="invoice_posted_to_crm_updated",flow="f"\} 1$/m);
  assert.match(text, /^keelson_business_latency_seconds_bucket\{journey="invoice_posted_to_crm_updated",flow="f",le="60"\} 0$/m);
  assert.match(text, /^keelson_business_latency_seconds_bucket\{journey="invoice_posted_to_crm_updated",flow="f",le="300"\} 1$/m);
});
