"use strict";
// The Health view of the Keelson sidebar in real Chromium on the real editor, fed by a quote-to-cash run against the
// sandboxes: connections with their calls and breaker, the flow's throughput and order latency, dead-letter aging,
// the trace lookup; numbers change live over RED.comms, without a click. A screenshot is kept in test-results/.
const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");
const { startNodeRed } = require("../support/nodered");
const { openEditor, showKeelsonSidebar, keepScreenshot } = require("../support/browser");
const { makeUserDir, request, waitUntilReady } = require("../support/flows");
const { startSandboxes, control, q2cFlow, ORDER_PATH } = require("./support");

test("the Health view shows live connection, flow, latency and dead-letter numbers and finds a correlation id", { timeout: 180000 }, async (t) => {
  const sandboxes = await startSandboxes(4);
  const userDir = makeUserDir("health-view");
  const { flows, id } = q2cFlow({ crmUrl: sandboxes.crm.url, erpUrl: sandboxes.erp.url });
  const red = await startNodeRed({ userDir, settings: { keelson: { metrics: { enabled: true }, trace: { enabled: true }, healthIntervalSeconds: 1 }, logging: { console: { level: "warn", metrics: false, audit: false } } } });
  t.after(async () => {
    await red.stop();
    await sandboxes.close();
    fs.rmSync(userDir, { recursive: true, force: true });
  });
  assert.equal((await request(`${red.url}/flows`, { method: "POST", body: flows, headers: { "Node-RED-Deployment-Type": "full" } })).status, 204);
  await waitUntilReady(red.url);
  const won = (opportunityId, correlationId) => request(`${red.url}/keelson/q2c/opportunity-won`, { method: "POST", body: { opportunityId }, headers: { "x-correlation-id": correlationId } });
  const [failing, ...others] = sandboxes.opportunities;

  // One order fails into the dead-letter queue; two go through.
  await control(sandboxes.erp.url, "PUT", "/faults", { faults: [{ kind: "error", status: 503, method: "POST", path: ORDER_PATH, count: 1 }] });
  await won(failing, "corr-view-dlq");
  for (let i = 0; i < 2; i++) await won(others[i], `corr-view-${i}`);

  const { browser, page, errors } = await openEditor(red.url);
  t.after(() => browser.close());
  await showKeelsonSidebar(page);
  await page.click(".keelson-tab[data-view='health']");

  // Connections: Salesforce's calls, its breaker closed, its daily allowance; linked to a node using it.
  await page.waitForSelector("tr.keelson-connection[data-connection='salesforce']");
  // Calls per minute count the last minute only (a slow start of the editor may outlast it): the total is what must show.
  await page.waitForFunction(() => Number(document.querySelector("tr.keelson-connection[data-connection='salesforce'] .keelson-calls")?.getAttribute("data-requests")) > 0, null, { timeout: 15000 });
  assert.match(await page.textContent("tr.keelson-connection[data-connection='salesforce'] .keelson-calls"), /^\d+$/);
  assert.equal(await page.textContent("tr.keelson-connection[data-connection='salesforce'] .keelson-breaker"), "closed");
  assert.match(await page.textContent("tr.keelson-connection[data-connection='salesforce'] .keelson-headroom"), /^\d+(\.\d)?%$/);
  assert.equal(await page.textContent("tr.keelson-connection[data-connection='sap'] .keelson-headroom"), "–", "SAP does not publish an allowance");
  // The flow: its tab's name, throughput, order latency p50 / p95.
  await page.waitForSelector(`tr.keelson-flow[data-flow='${id.tab}']`);
  assert.match(await page.textContent(`tr.keelson-flow[data-flow='${id.tab}'] td:first-child`), /quote to cash/);
  await page.waitForSelector("tr.keelson-latency[data-journey='opportunity_won_to_order_accepted']");
  assert.match(await page.textContent("tr.keelson-latency[data-journey='opportunity_won_to_order_accepted'] .keelson-p50-p95"), /^\d+(\.\d+)? (ms|s) \/ \d+(\.\d+)? (ms|s)$/);
  assert.ok((await page.$$(`tr.keelson-flow[data-flow='${id.tab}'] svg.keelson-spark polyline`)).length === 1, "a throughput chart");
  // Dead letters: the failed order waits.
  await page.waitForFunction(() => document.querySelector(".keelson-health-queues tr[data-queue='q2c-orders'] .keelson-depth")?.textContent === "1", null, { timeout: 15000 });

  // Live: more orders arrive and the numbers move without a click.
  const flowRow = `tr.keelson-flow[data-flow='${id.tab}']`;
  const before = Number(await page.getAttribute(flowRow, "data-messages"));
  assert.ok(before > 0);
  await won(others[2], "corr-view-2");
  await page.waitForFunction(([sel, n]) => Number(document.querySelector(sel)?.getAttribute("data-messages")) > n, [flowRow, before], { timeout: 15000 });

  // Where is the failed order? Every step, the error, and its dead letter.
  await page.fill(".keelson-trace-id", "corr-view-dlq");
  await page.click("button.keelson-trace-find");
  await page.waitForSelector("tr.keelson-step-dead-letter");
  const outcomes = await page.$$eval("tr.keelson-step .keelson-outcome", (els) => els.map((e) => e.textContent));
  assert.deepEqual(outcomes.slice(0, 6), ["ok", "ok", "claimed", "error server", "released", "captured"]);
  assert.match(await page.textContent("tr.keelson-step-dead-letter"), /dead letter in q2c-orders/);
  assert.match(await page.textContent("tr.keelson-trace-source"), /^Steps from store file .*, every instance sharing it\.$/, "the trace is kept in the flow's store");
  const shot = await keepScreenshot(page, "sidebar-health");
  // The sidebar alone, as the README shows it.
  await page.locator(".keelson-sidebar").screenshot({ path: path.join(path.dirname(shot), "sidebar-health-panel.png") });

  // A step's node link reveals it in the canvas.
  await page.click("tr.keelson-step-error td:nth-child(2) a");
  await page.waitForFunction((node) => RED.view.selection().nodes?.some((n) => n.id === node), id.order, { timeout: 5000 });
  assert.deepEqual(errors, []);
});
