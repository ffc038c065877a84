"use strict";
// bench/erp: sales orders per second against each ERP sandbox with its limits enforced and 50 ms latency on every
// call, side by side in one run: the Keelson ERP order node; a core http request flow posting one order per call
// (bodies pre-mapped, token fetched once: the most favourable hand-built flow); and the ceiling the vendor's
// limits allow, twice: on paper (limit-bound requests/s ÷ the calls one order needs, at exactly 50 ms a call) and
// measured (a bare fetch client making those calls at the limit, nothing else: what any client could reach on this
// machine, whose own overhead adds to the 50 ms). Then duplicates with 5% lost responses.
const assert = require("node:assert/strict");
const { helper, core, fmt } = require("./lib/harness");
const connectionNode = require("../dist/nodes/erp-connection/erp-connection.js");
const orderNode = require("../dist/nodes/erp-order/erp-order.js");
const { createErpAdapter } = require("../dist/nodes/lib/vendors/erp.js");
const { CanonicalMapper } = require("../dist/nodes/lib/mapping/mapping.js");
const { mappingExpression } = require("../dist/nodes/lib/mapping/library.js");
const support = require("../test/erp/support");

const LATENCY_MS = 50;
const LOST_SHARE = 0.05;

/**
 * Per system: the sandbox limit, the matching connection settings, the ceiling, and how many orders to send.
 * callsPerOrder: what one order with its number costs on that API (NetSuite PUT + read of tranId; SAP one deep
 * insert; Stripe one invoice + one invoice item per line, 2 lines here). The core flow makes one call per order.
 */
const PLANS = {
  netsuite: { limits: { concurrentRequests: 5 }, connection: {}, requestsPerSecond: 5 * (1000 / LATENCY_MS), callsPerOrder: 2, orders: 200, limit: "5 concurrent (base tier)" },
  "sap-s4hana": { limits: { requestsPerSecond: 20 }, connection: { rateLimit: 20, rateWindowSeconds: 1 }, requestsPerSecond: 20, callsPerOrder: 1, orders: 100, limit: "20 requests/s (spike arrest; SAP publishes none)" },
  stripe: { limits: { requestsPerSecond: 25 }, connection: {}, requestsPerSecond: 25, callsPerOrder: 3, orders: 50, limit: "25 requests/s (test mode)" },
};

/**
 * The ERPs whose adapters came later, measured the same way without per-vendor code in the bench: the calls one
 * order costs are those the adapter makes (counted on the sandbox), and the ceiling and core flow replay the
 * adapter's own create request (its URL, headers and body, with a fresh business key). Where a vendor publishes no
 * limit (THIN), `limit` says so and what the bench assumes. A window limit (N per 5 minutes) would not bind in a
 * run this short, so the sandbox and the connection both enforce the same rate per second instead.
 */
const SANDBOX_PATHS = { "generic-rest": "generic-rest", "business-central": "business-central", odoo: "odoo", "oracle-fusion": "oracle-fusion", acumatica: "acumatica", "dynamics-fo": "dynamics-fo" };
const ADDED = {
  "generic-rest": {
    limits: { requestsPerSecond: 50 }, connection: { rateLimit: 50, rateWindowSeconds: 1 }, requestsPerSecond: 50, orders: 200,
    limit: "in-house sandbox: 50 requests/s",
    def: (url, d) => {
      const shipped = require("../resources/generic-rest-profile.json");
      return { system: "generic-rest", genericAuth: "oauth2", tokenUrl: `${url}/oauth/token`, profile: JSON.stringify(shipped.profile), mappings: JSON.stringify(shipped.mappings) };
    },
    creds: (d) => ({ clientId: d.clientId, clientSecret: d.clientSecret }),
    defaultsName: "GENERIC_REST_DEFAULTS", orderType: "orders", refOf: (r) => r.externalReference,
  },
  "business-central": {
    limits: { windowRequests: 20, windowSeconds: 1 }, connection: { rateLimit: 20, rateWindowSeconds: 1 }, requestsPerSecond: 20, orders: 100,
    limit: "6000/5 min, 5 concurrent (run as 20/s)",
    def: (url, d) => ({ system: "business-central", tenantId: d.tenantId, environment: d.environment, companyId: d.companyId, tokenUrl: `${url}/${d.tenantId}/oauth2/v2.0/token`, scope: "" }),
    creds: (d) => ({ clientId: d.clientId, clientSecret: d.clientSecret }),
    defaultsName: "BUSINESS_CENTRAL_DEFAULTS", orderType: "salesOrders", refOf: (r) => r.externalDocumentNumber,
  },
  odoo: {
    limits: {}, connection: { concurrency: 10 }, concurrency: 10, requestsPerSecond: 10 * (1000 / LATENCY_MS), orders: 200,
    limit: "THIN: none published; bench: 10 concurrent",
    def: (url, d) => ({ system: "odoo", odooProtocol: "json2", database: d.database, login: "" }),
    creds: (d) => ({ password: d.apiKey }),
    defaultsName: "ODOO_DEFAULTS", orderType: "sale.order", refOf: (r) => r.client_order_ref,
  },
  "oracle-fusion": {
    limits: {}, connection: { concurrency: 10 }, concurrency: 10, requestsPerSecond: 10 * (1000 / LATENCY_MS), orders: 200,
    limit: "THIN: none published; bench: 10 concurrent",
    def: () => ({ system: "oracle-fusion", fusionAuth: "basic", orderDefaults: JSON.stringify({ businessUnitName: "Vision Operations" }) }),
    creds: (d) => ({ user: d.username, password: d.password }),
    // The orders name a party the sandbox has, so the run measures orders alone (ensure customer is not benched).
    customerRef: { system: "oracle-fusion", id: "C-1001" },
    defaultsName: "ORACLE_FUSION_DEFAULTS", orderType: "salesOrdersForOrderHub", refOf: (r) => r.SourceTransactionId,
  },
  acumatica: {
    limits: { concurrentRequests: 10 }, connection: { concurrency: 10 }, requestsPerSecond: 10 * (1000 / LATENCY_MS), orders: 200,
    limit: "THIN: tier unknown; bench: 10 concurrent",
    def: (url, d) => ({ system: "acumatica", acumaticaTenant: d.tenant, acumaticaEndpoint: "Default/24.200.001" }),
    creds: (d) => ({ user: d.name, password: d.password }),
    defaultsName: "ACUMATICA_DEFAULTS", orderType: "SalesOrder", refOf: (r) => r.CustomerOrder,
  },
  "dynamics-fo": {
    limits: { windowRequests: 20, windowSeconds: 1 }, connection: { rateLimit: 20, rateWindowSeconds: 1, concurrency: 52 }, requestsPerSecond: 20, orders: 100,
    limit: "THIN: 6000/5 min, 52 concurrent (run as 20/s)",
    def: (url, d) => ({ system: "dynamics-fo", foTenantId: d.tenantId, foCompany: d.defaultCompany, tokenUrl: `${url}/${d.tenantId}/oauth2/v2.0/token`, orderDefaults: JSON.stringify({ customerGroupId: "30" }) }),
    creds: (d) => ({ clientId: d.clientId, clientSecret: d.clientSecret }),
    defaultsName: "DYNAMICS_FO_DEFAULTS", orderType: "SalesOrderHeadersV2", refOf: (r) => r.CustomersOrderReference,
  },
};

async function main() {
  console.log(`bench/erp — ${LATENCY_MS} ms latency per call, vendor limits enforced by the sandboxes; orders/s`);
  // BENCH_VENDORS=a,b runs only those systems; BENCH_ORDERS=n overrides every system's order count.
  const wanted = process.env.BENCH_VENDORS ? process.env.BENCH_VENDORS.split(",").map((v) => v.trim()).filter(Boolean) : undefined;
  const unknown = (wanted ?? []).filter((v) => !PLANS[v] && !ADDED[v]);
  if (unknown.length) throw new Error(`BENCH_VENDORS: unknown ${unknown.join(", ")}; use ${[...Object.keys(PLANS), ...Object.keys(ADDED)].join(", ")}`);
  const orders = process.env.BENCH_ORDERS ? Number(process.env.BENCH_ORDERS) : undefined;
  const pick = (plans) => Object.entries(plans).filter(([system]) => !wanted || wanted.includes(system)).map(([system, plan]) => [system, orders ? { ...plan, orders } : plan]);
  await helper.startServer();
  const results = [];
  try {
    for (const [system, plan] of pick(PLANS)) results.push(await benchSystem(system, plan));
    for (const [system, plan] of pick(ADDED)) results.push(await benchAdded(system, plan));
  } finally {
    await helper.stopServer();
  }
  console.log("");
  const w = Math.max(11, ...results.map((r) => r.system.length));
  console.log(`  ${"system".padEnd(w)} ${"limit".padEnd(48)} ${"paper".padStart(6)} ${"measured".padStart(9)} ${"keelson".padStart(8)} ${"ratio".padStart(6)} ${"core http".padStart(10)} ${"core ok".padStart(8)} ${"dupes@5%".padStart(9)}`);
  for (const r of results) {
    console.log(`  ${r.system.padEnd(w)} ${r.limit.padEnd(48)} ${fmt(r.ceiling).padStart(6)} ${fmt(r.measured).padStart(9)} ${fmt(r.ours).padStart(8)} ${(r.ours / r.measured).toFixed(2).padStart(6)} ${fmt(r.core).padStart(10)} ${`${r.coreOk}/${r.coreSent}`.padStart(8)} ${String(r.duplicates).padStart(9)}`);
  }
  console.log("  paper = ceiling at exactly 50 ms a call; measured = a bare client at the limit on this machine; ratio = keelson / measured (target ≥ 0.90); core http = successful orders/s of the hand-built flow, core ok = orders it got through; dupes@5% = orders beyond one per business key with 5% of creates losing their response after commit (target 0)");
  const failed = results.filter((r) => r.duplicates !== 0);
  if (failed.length) process.exitCode = 1;
}

async function benchSystem(system, plan) {
  const { sb } = await support.SYSTEMS[system].start({ limits: plan.limits });
  const base = sb.url;
  try {
    const customerRef = await support.seededCustomer(system, base);
    await support.control.faults(base, [{ kind: "latency", ms: LATENCY_MS }]);
    const ceiling = plan.requestsPerSecond / plan.callsPerOrder;
    // The sandbox keeps every order, and its writes grow a little slower as it fills: the bare client runs
    // before and after ours, so that on average both meet the same number of stored orders.
    const before = await measuredCeiling(system, base, plan, customerRef);

    // Keelson ERP order node.
    const ours = await runOurs(system, base, plan, customerRef, plan.orders);
    const measured = (before + (await measuredCeiling(system, base, plan, customerRef))) / 2;

    // Core http request flow, one call per order.
    const coreRun = await runCore(system, base, customerRef, plan.orders);

    // Duplicates with 5% lost responses after commit.
    await support.control.faults(base, [
      { kind: "latency", ms: LATENCY_MS },
      { kind: "lost-response", method: system === "netsuite" ? "PUT" : "POST", path: { netsuite: "/services/rest/record/v1/salesOrder/*", "sap-s4hana": "*/A_SalesOrder", stripe: "/v1/invoices" }[system], probability: LOST_SHARE },
    ]);
    const lossy = await runOurs(system, base, plan, customerRef, plan.orders, { count: true });
    const fired = (await support.control.stats(base)).faults["lost-response"] ?? 0;
    console.log(`  ${system}: ${plan.orders} orders, keelson ${fmt(ours.rate)}/s (${ours.accepted} accepted), core http ${fmt(coreRun.rate)}/s (${coreRun.ok} ok, ${coreRun.failed} refused or failed); with ${fired} lost responses: ${lossy.accepted} accepted, ${lossy.failed} failed, ${lossy.duplicates} duplicates`);
    return { system, limit: plan.limit, ceiling, measured, ours: ours.rate, core: coreRun.rate, coreOk: coreRun.ok, coreSent: plan.orders, duplicates: lossy.duplicates };
  } finally {
    await sb.close();
  }
}

async function runOurs(system, base, plan, customerRef, n, { count = false, conn, makeOrder, ordersWith = support.ordersWith } = {}) {
  const { def, creds } = conn ?? support.connectionNode(system, base, { maxAttempts: 8, timeoutSeconds: 5, ...plan.connection });
  await helper.load([connectionNode, orderNode], [
    { id: "t", type: "tab" },
    def,
    { id: "order", type: "keelson-erp-order", z: "t", connection: "conn", operation: "create", ensureCustomer: false, wires: [["ok"], ["no"]] },
    { id: "ok", type: "helper", z: "t" },
    { id: "no", type: "helper", z: "t" },
    { id: "catcher", type: "catch", z: "t", scope: ["order"], wires: [["failed"]] },
    { id: "failed", type: "helper", z: "t" },
  ], creds);
  const orders = Array.from({ length: n }, () => (makeOrder ? makeOrder() : support.salesOrder(system, { customerRef })));
  const seen = { accepted: 0, rejected: 0, failed: 0 };
  const finished = new Promise((resolve) => {
    const tick = (kind) => () => {
      seen[kind]++;
      if (seen.accepted + seen.rejected + seen.failed === n) resolve();
    };
    helper.getNode("ok").on("input", tick("accepted"));
    helper.getNode("no").on("input", tick("rejected"));
    helper.getNode("failed").on("input", tick("failed"));
  });
  const started = Date.now();
  // All at once: the connection's limits, not the caller, pace the vendor calls.
  for (const order of orders) helper.getNode("order").receive({ payload: order });
  await finished;
  const rate = (seen.accepted * 1000) / (Date.now() - started);
  await helper.unload();
  if (!count) {
    assert.equal(seen.accepted, n, `${system}: every order accepted (${JSON.stringify(seen)})`);
    return { rate, ...seen };
  }
  let duplicates = 0;
  for (const order of orders) {
    const found = (await ordersWith(system, base, order.externalReference)).length;
    if (found > 1) duplicates += found - 1;
  }
  return { rate, ...seen, duplicates };
}

/**
 * The best any client can do here: the same calls per order as the adapter makes, sent by fetch with nothing
 * between (bodies pre-mapped, auth fetched once), at the vendor's limit: its concurrency, or its rate.
 */
async function measuredCeiling(system, base, plan, customerRef) {
  const adapter = createErpAdapter(support.SYSTEMS[system].config(base));
  const headers = await authHeaders(system, adapter, base);
  await adapter.close();
  const n = plan.orders;
  const orders = [];
  const mapper = new CanonicalMapper({ expression: mappingExpression({ netsuite: "salesorder-to-netsuite-salesorder", "sap-s4hana": "salesorder-to-sap-salesorder", stripe: "salesorder-to-stripe-invoice" }[system]) });
  for (let i = 0; i < n; i++) {
    const order = support.salesOrder(system, { customerRef });
    const defaults = { netsuite: { subsidiary: "1", currency: "4" }, "sap-s4hana": { salesOrganization: "1010", distributionChannel: "10", organizationDivision: "00" }, stripe: {} }[system];
    orders.push({ order, body: (await mapper.map({ ...order, extensions: { [system]: defaults } })).value });
  }
  const concurrency = plan.limits.concurrentRequests ?? 50;
  const gap = plan.limits.requestsPerSecond ? 1000 / plan.limits.requestsPerSecond : 0;
  let next = Date.now();
  const slot = async () => {
    if (!gap) return;
    const at = Math.max(Date.now(), next);
    next = at + gap;
    if (at > Date.now()) await new Promise((r) => setTimeout(r, at - Date.now()));
  };
  const call = async (method, path, body, type) => {
    await slot();
    const res = await fetch(base + path, { method, headers: { ...headers, accept: "application/json", ...(body ? { "content-type": type } : {}) }, body });
    // Arrivals jitter around the pacing; a refused call waits a moment and goes again, as any client would.
    if (res.status === 429) {
      await res.arrayBuffer();
      await new Promise((r) => setTimeout(r, 100));
      return call(method, path, body, type);
    }
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status}`);
    return res;
  };
  const { toForm } = require("../dist/nodes/lib/vendors/stripe.js");
  const one = async ({ order, body }) => {
    if (system === "netsuite") {
      const res = await call("PUT", `/services/rest/record/v1/salesOrder/eid:${encodeURIComponent(order.externalReference)}`, JSON.stringify(body), "application/json");
      await res.arrayBuffer();
      await call("GET", `${new URL(res.headers.get("location")).pathname}?fields=tranId`);
    } else if (system === "sap-s4hana") {
      await (await call("POST", "/sap/opu/odata/sap/API_SALES_ORDER_SRV/A_SalesOrder", JSON.stringify(body), "application/json")).arrayBuffer();
    } else {
      const invoice = await (await call("POST", "/v1/invoices", toForm(body.invoice).toString(), "application/x-www-form-urlencoded")).json();
      for (const item of body.items) await (await call("POST", "/v1/invoiceitems", toForm({ ...item, customer: body.invoice.customer, invoice: invoice.id }).toString(), "application/x-www-form-urlencoded")).arrayBuffer();
    }
  };
  let index = 0;
  const started = Date.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (index < n) await one(orders[index++]);
  }));
  return (n * 1000) / (Date.now() - started);
}

/** One of the ERPs added later: the same four measurements, driven by what its adapter sends. */
async function benchAdded(system, plan) {
  const { start, [plan.defaultsName]: d } = require(`../dist/sandbox/${SANDBOX_PATHS[system]}.js`);
  const sb = await start({ port: 0, limits: plan.limits });
  const base = sb.url;
  try {
    const def = { id: "conn", type: "keelson-erp-connection", name: `${system} sandbox`, baseUrl: base, orderDefaults: "", maxAttempts: 8, timeoutSeconds: 5, ...plan.def(base, d), ...plan.connection };
    const conn = { def, creds: { conn: plan.creds(d) } };
    const { configOf } = require("../dist/nodes/erp-connection/config.js");
    const adapter = createErpAdapter(configOf(def, plan.creds(d)));
    let sequence = 0;
    const makeOrder = () => {
      sequence++;
      const tag = `${Date.now().toString(36)}${process.pid.toString(36)}${sequence}`;
      return {
        refs: [{ system: "salesforce", id: `006OPP${tag}`, type: "Opportunity" }],
        externalReference: `SF-${tag}`.slice(0, 35),
        customer: { refs: [{ system: "salesforce", id: `001${tag}`.slice(-18), type: "Account" }, customerRef], name: `Account ${tag}` },
        orderDate: "2026-11-20",
        currency: "EUR",
        lines: [
          { lineNumber: 1, product: { sku: "WID-1" }, quantity: 2, unitPrice: { amount: "12.50", currency: "EUR" } },
          { lineNumber: 2, product: { sku: "GAD-2" }, quantity: 1, unitPrice: { amount: "40.00", currency: "EUR" } },
        ],
      };
    };
    // The ERP customer the orders name: one the adapter finds or creates (Fusion: a seeded party).
    let customerRef = plan.customerRef;
    if (!customerRef) {
      const probe = makeOrder();
      customerRef = (await adapter.ensureCustomer({ refs: [probe.customer.refs[0]], name: probe.customer.name, kind: "company", email: "ap-bench@example.com" }, { correlationId: "bench" })).ref;
    }
    // What one order costs: the adapter's calls for a second order (the first also fetches tokens and caches).
    await adapter.createOrder(makeOrder(), { correlationId: "bench" });
    const recorded = [];
    const { HttpClient } = require("../dist/nodes/lib/http/client.js");
    const send = HttpClient.prototype.send;
    HttpClient.prototype.send = function (request) {
      const url = new URL(this.resolve(request.path));
      for (const [name, value] of Object.entries(request.query ?? {})) if (value !== undefined) url.searchParams.append(name, String(value));
      const headers = { ...this.defaultHeaders, ...request.headers };
      const typed = Object.keys(headers).some((h) => h.toLowerCase() === "content-type");
      let body = request.body;
      if (body instanceof URLSearchParams) body = body.toString();
      else if (body !== undefined && typeof body !== "string" && !Buffer.isBuffer(body)) {
        body = JSON.stringify(body);
        if (!typed) headers["content-type"] = "application/json";
      }
      recorded.push({ url: url.toString(), method: request.method, headers, body });
      return send.call(this, request);
    };
    const template = makeOrder();
    try {
      await adapter.createOrder(template, { correlationId: "bench" });
    } finally {
      HttpClient.prototype.send = send;
    }
    const callsPerOrder = recorded.length;
    const create = recorded.find((r) => r.method !== "GET" && typeof r.body === "string" && r.body.includes(template.externalReference));
    if (!create) throw new Error(`${system}: no create request carrying the business key among ${recorded.map((r) => `${r.method} ${r.url}`).join(", ")}`);
    // The reads a bare client pays for: the adapter's look-up before its create (JSON-2 reads are POSTs too).
    const read = recorded.slice(0, recorded.indexOf(create)).reverse().find((r) => r.method === "GET" || /search|read/i.test(r.url)) ?? recorded.find((r) => r.method === "GET") ?? create;
    // A fresh business key wherever the template's was: the body, and an idempotency header carrying it.
    const fresh = () => {
      const order = makeOrder();
      const swap = (text) => text.split(template.externalReference).join(order.externalReference);
      return { ...create, headers: Object.fromEntries(Object.entries(create.headers).map(([name, value]) => [name, typeof value === "string" ? swap(value) : value])), body: swap(create.body) };
    };
    const ordersWith = async (_system, url, ref) => (await support.control.records(url, plan.orderType)).filter((r) => plan.refOf(r) === ref);

    // A sliding window at the vendor still holds the previous phase's calls: each phase starts on an empty one
    // (else its first calls meet 429 with Retry-After: 5 s, a cost of the bench's order, not of the client).
    const settle = () => new Promise((resolve) => setTimeout(resolve, (plan.limits.windowSeconds ?? 0) * 1000 + 100));
    await support.control.faults(base, [{ kind: "latency", ms: LATENCY_MS }]);
    const ceiling = plan.requestsPerSecond / callsPerOrder;
    await settle();
    const cpu0 = process.cpuUsage();
    const before = await replayCeiling(plan, callsPerOrder, fresh, read);
    const used0 = process.cpuUsage(cpu0);
    if (process.env.BENCH_DEBUG) console.log(`  ${system}: bare client phase CPU ${((used0.user + used0.system) / 1000 / plan.orders).toFixed(1)} ms an order`);
    await settle();
    const cpu = process.cpuUsage();
    const ours = await runOurs(system, base, plan, customerRef, plan.orders, { conn, makeOrder });
    const used = process.cpuUsage(cpu);
    // The sandbox runs in this process too: the figure is client + sandbox CPU per order.
    if (process.env.BENCH_DEBUG) console.log(`  ${system}: keelson phase CPU ${((used.user + used.system) / 1000 / plan.orders).toFixed(1)} ms an order (client and sandbox, one process)`);
    await settle();
    // Stored orders make the sandbox's writes a little slower: the bare client runs before and after ours, so
    // that on average both meet the same number of them.
    const after = await replayCeiling(plan, callsPerOrder, fresh, read);
    const measured = (before + after) / 2;
    if (process.env.BENCH_DEBUG) console.log(`  ${system}: bare client before ${fmt(before)}/s, after ${fmt(after)}/s`);
    await settle();
    const coreRun = await replayCore(Array.from({ length: plan.orders }, fresh));
    await settle();
    // Closed only now: a session-based vendor (Acumatica) logs the session out, and the replays ride on it.
    await adapter.close();

    await support.control.faults(base, [{ kind: "latency", ms: LATENCY_MS }, { kind: "lost-response", method: create.method, path: new URL(create.url).pathname, probability: LOST_SHARE }]);
    const lossy = await runOurs(system, base, plan, customerRef, plan.orders, { count: true, conn, makeOrder, ordersWith });
    const stats = await support.control.stats(base);
    const fired = stats.faults["lost-response"] ?? 0;
    if (process.env.BENCH_DEBUG) console.log(JSON.stringify(stats));
    console.log(`  ${system}: ${plan.orders} orders, ${callsPerOrder} calls an order (${recorded.map((r) => `${r.method} ${new URL(r.url).pathname.split("/").pop()}`).join(", ")}), keelson ${fmt(ours.rate)}/s (${ours.accepted} accepted), core http ${fmt(coreRun.rate)}/s (${coreRun.ok} ok, ${coreRun.failed} refused or failed); with ${fired} lost responses: ${lossy.accepted} accepted, ${lossy.failed} failed, ${lossy.duplicates} duplicates`);
    return { system, limit: plan.limit, ceiling, measured, ours: ours.rate, core: coreRun.rate, coreOk: coreRun.ok, coreSent: plan.orders, duplicates: lossy.duplicates };
  } finally {
    await sb.close();
  }
}

/** A bare fetch client at the limit: per order the adapter's create, then reads up to the adapter's call count. */
async function replayCeiling(plan, callsPerOrder, fresh, read) {
  const concurrency = plan.limits.concurrentRequests ?? plan.concurrency ?? 5;
  const gap = plan.connection.rateLimit ? (1000 * (plan.connection.rateWindowSeconds ?? 1)) / plan.connection.rateLimit : 0;
  let next = Date.now();
  const call = async (r) => {
    if (gap) {
      const at = Math.max(Date.now(), next);
      next = at + gap;
      if (at > Date.now()) await new Promise((resolve) => setTimeout(resolve, at - Date.now()));
    }
    const res = await fetch(r.url, { method: r.method, headers: r.headers, body: r.body });
    await res.arrayBuffer();
    if (res.status === 429) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      return call(r);
    }
    if (!res.ok) throw new Error(`${r.method} ${r.url}: ${res.status}`);
  };
  const n = plan.orders;
  let index = 0;
  const started = Date.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (index++ < n) {
      await call(fresh());
      for (let i = 1; i < callsPerOrder; i++) await call(read);
    }
  }));
  return (n * 1000) / (Date.now() - started);
}

/** The core flow for an added ERP: the adapter's create request, pre-built, one per order through http request. */
async function replayCore(requests) {
  await helper.load([core.function, core.httpRequest], [
    { id: "t", type: "tab" },
    { id: "prep", type: "function", z: "t", func: "msg.method = msg.m; return msg;", outputs: 1, timeout: 0, noerr: 0, initialize: "", finalize: "", libs: [], wires: [["req"]] },
    { id: "req", type: "http request", z: "t", method: "use", ret: "txt", paytoqs: "ignore", url: "", tls: "", persist: true, proxy: "", insecureHTTPParser: false, authType: "", senderr: false, headers: [], wires: [["out"]] },
    { id: "out", type: "helper", z: "t" },
  ]);
  let ok = 0;
  let failed = 0;
  const finished = new Promise((resolve) => {
    helper.getNode("out").on("input", (msg) => {
      if (msg.statusCode >= 200 && msg.statusCode < 300) ok++;
      else failed++;
      if (ok + failed === requests.length) resolve();
    });
  });
  const started = Date.now();
  for (const r of requests) {
    const headers = { ...r.headers };
    delete headers["content-length"];
    helper.getNode("prep").receive({ url: r.url, m: r.method, payload: r.body, headers });
  }
  await finished;
  const rate = (ok * 1000) / (Date.now() - started);
  await helper.unload();
  return { rate, ok, failed };
}

/** The core flow: function (adds URL, method, headers) → http request → sink; bodies are mapped beforehand. */
async function runCore(system, base, customerRef, n) {
  const adapter = createErpAdapter(support.SYSTEMS[system].config(base));
  const headers = await authHeaders(system, adapter, base);
  const mapping = { netsuite: "salesorder-to-netsuite-salesorder", "sap-s4hana": "salesorder-to-sap-salesorder", stripe: "salesorder-to-stripe-invoice" }[system];
  const mapper = new CanonicalMapper({ expression: mappingExpression(mapping) });
  const inputs = [];
  for (let i = 0; i < n; i++) {
    const order = support.salesOrder(system, { customerRef });
    const defaults = { netsuite: { subsidiary: "1", currency: "4" }, "sap-s4hana": { salesOrganization: "1010", distributionChannel: "10", organizationDivision: "00" }, stripe: {} }[system];
    const body = (await mapper.map({ ...order, extensions: { [system]: defaults } })).value;
    inputs.push(
      system === "netsuite" ? { url: `${base}/services/rest/record/v1/salesOrder/eid:${encodeURIComponent(order.externalReference)}`, method: "PUT", payload: JSON.stringify(body), headers: { ...headers, "content-type": "application/json" } }
      : system === "sap-s4hana" ? { url: `${base}/sap/opu/odata/sap/API_SALES_ORDER_SRV/A_SalesOrder`, method: "POST", payload: JSON.stringify(body), headers: { ...headers, "content-type": "application/json", accept: "application/json" } }
      : { url: `${base}/v1/invoices`, method: "POST", payload: require("../dist/nodes/lib/vendors/stripe.js").toForm(body.invoice).toString(), headers: { ...headers, "content-type": "application/x-www-form-urlencoded", "idempotency-key": `bench-${order.externalReference}` } },
    );
  }
  await adapter.close();
  return replayCore(inputs.map((input) => ({ url: input.url, method: input.method, body: input.payload, headers: input.headers })));
}

/** What the hand-built flow sends to authenticate, obtained once (token, CSRF token and session cookie, key). */
async function authHeaders(system, adapter, base) {
  if (system === "stripe") return { authorization: `Bearer ${support.SYSTEMS.stripe.config(base).secretKey}` };
  const auth = adapter.connection.auth;
  const method = system === "sap-s4hana" ? "POST" : "GET";
  return (await auth.authorize({ method, path: "/" })).headers;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
