"use strict";
// The Keelson sidebar in real Chromium on the real editor: a captured dead letter shows, and replay empties the queue.
const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { startNodeRed } = require("../support/nodered");
const { openEditor, showKeelsonSidebar, keepScreenshot, userDirWithPackage } = require("../support/browser");

test("the DLQ sidebar lists a captured entry, shows its error and source, and a replay of the edited message drains it", { timeout: 180000 }, async (t) => {
  const userDir = userDirWithPackage(fs.mkdtempSync(path.join(os.tmpdir(), "keelson-browser-")));
  const flows = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "..", "flows", "exactly-once.json"), "utf8"));
  const red = await startNodeRed({ userDir, flows, env: { KEELSON_STORE: "memory" } });
  t.after(async () => {
    await red.stop();
    fs.rmSync(userDir, { recursive: true, force: true });
  });
  const { browser, page, errors } = await openEditor(red.url);
  t.after(() => browser.close());

  const palette = await page.$$eval(".red-ui-palette-node[data-palette-type^='keelson']", (els) => els.map((e) => e.getAttribute("data-palette-type")));
  for (const type of ["keelson-mapper", "keelson-gate", "keelson-dlq"]) assert.ok(palette.includes(type), `${type} in the palette`);

  // Order 1002 fails in "create order": Catch → release → dead-letter queue.
  assert.equal((await fetch(`${red.url}/inject/e1a0000000000004`, { method: "POST" })).status, 200);
  await showKeelsonSidebar(page);
  await page.waitForSelector("tr.keelson-queue[data-queue='orders']");
  await page.waitForFunction(() => document.querySelector("tr.keelson-queue[data-queue='orders'] .keelson-depth")?.textContent === "1", null, { timeout: 10000 });
  await page.click("tr.keelson-queue[data-queue='orders']");
  await page.waitForSelector("tr.keelson-entry");
  await page.click("tr.keelson-entry");
  await page.waitForFunction(() => /ERP unavailable for order 1002/.test(document.querySelector(".keelson-detail-error")?.textContent || ""));
  assert.match(await page.textContent(".keelson-detail-source"), /create order/);
  await keepScreenshot(page, "sidebar-entry");

  // Clicking the source reveals the failing node in the flow.
  await page.click(".keelson-detail-source a");
  await page.waitForFunction(() => RED.view.selection().nodes?.some((n) => n.id === "e1a0000000000006"), null, { timeout: 5000 });

  // Edit the message (no longer failing) and replay it: the order is created and the queue is empty.
  const message = JSON.parse(await page.inputValue(".keelson-detail-message"));
  message.payload.fail = false;
  await page.fill(".keelson-detail-message", JSON.stringify(message, null, 2));
  await page.click("button.keelson-replay");
  await page.waitForFunction(() => document.querySelector("tr.keelson-queue[data-queue='orders'] .keelson-depth")?.textContent === "0", null, { timeout: 10000 });
  const queues = await (await fetch(`${red.url}/keelson/dlq/queues`)).json();
  assert.equal(queues.find((q) => q.queue === "orders").depth, 0);
  await page.waitForFunction(() => /1 completed/.test(document.querySelector("[id='e1a0000000000007'] .red-ui-flow-node-status-label")?.textContent || ""), null, { timeout: 10000 });
  await keepScreenshot(page, "sidebar-drained");
  assert.deepEqual(errors, []);
});
