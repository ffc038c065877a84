"use strict";
// Debian's Chromium driven by playwright-core, for tests on the real Node-RED editor.
const fs = require("node:fs");
const path = require("node:path");
const { chromium } = require("playwright-core");

const EXECUTABLE = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const ARTIFACTS = path.resolve(__dirname, "..", "..", "test-results");

async function openEditor(url) {
  const browser = await chromium.launch({
    executablePath: EXECUTABLE,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const errors = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(url, { waitUntil: "domcontentloaded" });
    await page.waitForFunction(() => window.RED && RED.nodes && RED.nodes.getType && RED.nodes.getType("inject"), null, { timeout: 30000 });
    // Every registered Keelson node that belongs in the palette is in it (the palette fills as node sets register,
    // after the core nodes a test could otherwise start from).
    await page.waitForFunction(
      () => {
        const types = RED.nodes.registry.getNodeTypes().filter((t) => t.startsWith("keelson-") && RED.nodes.getType(t).category !== "config");
        return types.length > 0 && types.every((t) => document.querySelector(`.red-ui-palette-node[data-palette-type='${t}']`));
      },
      null,
      { timeout: 30000 },
    );
    return { browser, page, errors };
  } catch (err) {
    // A browser left open would keep the test process alive after the failure.
    await browser.close().catch(() => undefined);
    throw err;
  }
}

/**
 * Opens the Keelson sidebar tab until its content is visible. Showing it once, right after the palette loads, can
 * race the plugin's registration of the tab or the editor's own choice of tab at the end of its start-up (seen on a
 * loaded CI machine): the tab then stays hidden.
 */
async function showKeelsonSidebar(page) {
  await page.waitForFunction(() => {
    if (!RED.sidebar.containsTab("keelson")) return false;
    const tab = document.querySelector(".keelson-tab");
    if (tab && tab.offsetParent !== null) return true;
    RED.sidebar.show("keelson");
    return false;
  }, null, { timeout: 30000, polling: 250 });
}

/** Keeps a screenshot as a test artifact (test-results/ is not committed). */
async function keepScreenshot(page, name) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file });
  return file;
}

/** A user dir whose node_modules holds this package, linked like `npm install <folder>` does. */
function userDirWithPackage(userDir) {
  const root = path.resolve(__dirname, "..", "..");
  const target = path.join(userDir, "node_modules", "@keelson", "node-red-erp");
  fs.mkdirSync(path.dirname(target), { recursive: true });
  if (!fs.existsSync(target)) fs.symlinkSync(root, target, "dir");
  return userDir;
}

module.exports = { openEditor, showKeelsonSidebar, keepScreenshot, userDirWithPackage };
