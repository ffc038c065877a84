#!/usr/bin/env node
// `npm start`: build, then run every vendor sandbox, an embedded MQTT broker (unless MQTT_URL is set) and Node-RED
// on http://127.0.0.1:1880 with a project-local user dir that has this package installed and the two reference flows
// (flows/quote-to-cash.json, flows/invoice-sync.json) deployed, pointed at the sandboxes through the environment
// variables the flows read. Ctrl-C stops everything.
//   npm start -- --reset                            rewrite the user dir's flows from flows/ (your edits there are lost)
//   CRM_SYSTEM=hubspot ERP_SYSTEM=sap-s4hana npm start   other sandboxes (CRM: salesforce, hubspot, dynamics;
//                                                   ERP: netsuite, sap-s4hana, stripe, business-central, odoo,
//                                                   oracle-fusion, acumatica, dynamics-fo), with their default credentials
//   PORT=1881 npm start    another port; KEELSON_SANDBOX_<VENDOR>_PORT and KEELSON_MQTT_PORT move the others
// What is running is written to .node-red-user/demo.json, where `npm run demo:traffic` finds it.
"use strict";
const { execFileSync, spawn } = require("node:child_process");
const crypto = require("node:crypto");
const fs = require("node:fs");
const path = require("node:path");

const root = path.resolve(__dirname, "..");
const userDir = path.join(root, ".node-red-user");
const port = Number(process.env.PORT || 1880);
const reset = process.argv.includes("--reset");
const npm = process.platform === "win32" ? "npm.cmd" : "npm";

// Until this run has written what it runs, `npm run demo:traffic` must not find the last run's.
fs.rmSync(path.join(userDir, "demo.json"), { force: true });
execFileSync(process.execPath, [path.join(__dirname, "build.js")], { stdio: "inherit" });

fs.mkdirSync(userDir, { recursive: true });
const userPkg = path.join(userDir, "package.json");
if (!fs.existsSync(userPkg)) fs.writeFileSync(userPkg, JSON.stringify({ name: "keelson-demo", private: true }, null, 2));
const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"));
const installed = path.join(userDir, "node_modules", ...pkg.name.split("/"));
if (!fs.existsSync(installed)) {
  // Installing a folder links it, so a rebuild is picked up by the next start without reinstalling.
  execFileSync(npm, ["install", "--no-save", "--no-audit", "--no-fund", root], { cwd: userDir, stdio: "inherit" });
}

fs.writeFileSync(
  path.join(userDir, "settings.js"),
  `// Written by scripts/start.js on every start.
module.exports = {
  uiHost: "127.0.0.1",
  uiPort: ${port},
  flowFile: "flows.json",
  flowFilePretty: true,
  credentialSecret: process.env.KEELSON_CREDENTIAL_SECRET || "keelson-demo-only",
  logging: { console: { level: "info", metrics: false, audit: false } },
  editorTheme: { tours: false },
  telemetry: { enabled: false },
};
`,
);

// The reference flows are deployed; the other files in flows/ are examples to import (Menu → Import → Examples).
const REFERENCE_FLOWS = ["quote-to-cash.json", "invoice-sync.json"];
const reference = REFERENCE_FLOWS.flatMap((f) => JSON.parse(fs.readFileSync(path.join(root, "flows", f), "utf8")));
const flowFile = path.join(userDir, "flows.json");
const deployed = fs.existsSync(flowFile) ? JSON.parse(fs.readFileSync(flowFile, "utf8")) : undefined;
const tabs = reference.filter((n) => n.type === "tab").map((n) => n.id);
if (reset || !deployed || !tabs.every((id) => deployed.some((n) => n.id === id))) {
  if (deployed && !reset) {
    fs.copyFileSync(flowFile, `${flowFile}.bak`);
    console.log(`${flowFile} had no reference flows: rewritten (the old one is ${flowFile}.bak)`);
  }
  fs.writeFileSync(flowFile, JSON.stringify(reference, null, 2));
}
// The flows carry no credentials (they read the environment); an empty, encrypted credentials file spares the
// "Encrypted credentials not found" warning at every start.
const credFile = path.join(userDir, "flows_cred.json");
if (!fs.existsSync(credFile)) {
  const key = crypto.createHash("sha256").update(process.env.KEELSON_CREDENTIAL_SECRET || "keelson-demo-only").digest();
  const iv = crypto.randomBytes(16);
  const cipher = crypto.createCipheriv("aes-256-ctr", key, iv);
  fs.writeFileSync(credFile, JSON.stringify({ $: iv.toString("hex") + cipher.update("{}", "utf8", "base64") + cipher.final("base64") }));
}

/**
 * The environment the flows read (PRODUCT.md's env contract): the sandboxes of CRM_SYSTEM and ERP_SYSTEM (default
 * Salesforce and NetSuite) with their default credentials, and Stripe for billing; anything already set wins.
 */
function sandboxEnvironment(sandboxes, mqttUrl) {
  const { sandboxEnvironment: forSandboxes } = require("./demo-records.js");
  const urls = Object.fromEntries(sandboxes.map((s) => [s.vendor, s.url]));
  const defaults = forSandboxes({ crm: process.env.CRM_SYSTEM || "salesforce", erp: process.env.ERP_SYSTEM || "netsuite", urls, mqttUrl, store: "file" });
  const env = { ...process.env };
  for (const [name, value] of Object.entries(defaults)) if (!env[name]) env[name] = value;
  // "dynamics" and "sap" are what people type; the connections want the system names.
  env.CRM_SYSTEM = defaults.CRM_SYSTEM;
  env.ERP_SYSTEM = defaults.ERP_SYSTEM;
  if (!env.ERP_BASE_URL) throw new Error(`ERP_SYSTEM=${env.ERP_SYSTEM} has no sandbox: set ERP_BASE_URL (and ERP_REST_PROFILE, ERP_MAPPINGS for generic-rest), or use netsuite, sap-s4hana, stripe, business-central, odoo, oracle-fusion, acumatica or dynamics-fo`);
  return env;
}

async function startBroker() {
  if (process.env.MQTT_URL) return { url: process.env.MQTT_URL, close: async () => undefined };
  const { Aedes } = await import("aedes");
  const net = require("node:net");
  const broker = await Aedes.createBroker();
  const server = net.createServer(broker.handle);
  const mqttPort = Number(process.env.KEELSON_MQTT_PORT || 1884);
  await new Promise((resolve, reject) => server.once("error", reject).listen(mqttPort, "127.0.0.1", resolve));
  console.log(`embedded MQTT broker on mqtt://127.0.0.1:${mqttPort}`);
  return {
    url: `mqtt://127.0.0.1:${mqttPort}`,
    close: () => new Promise((resolve) => broker.close(() => server.close(() => resolve()))),
  };
}

async function main() {
  const sandboxes = await require("../dist/sandbox/run.js").startAll();
  for (const s of sandboxes) console.log(`sandbox ${s.vendor.padEnd(10)} ${s.url}`);
  const broker = await startBroker();
  const env = sandboxEnvironment(sandboxes, broker.url);
  // The sandboxes start from their seed every time, with the same record ids: gate keys, dead letters and watermarks
  // kept from the last run would name records that are gone (or are others now), so the file store starts empty too.
  if (!["CRM_BASE_URL", "ERP_BASE_URL", "BILLING_BASE_URL"].some((name) => process.env[name]) && env.KEELSON_STORE === "file") {
    fs.rmSync(path.join(userDir, "keelson-state"), { recursive: true, force: true });
  }
  // Order lines name items by SKU: the ERP sandbox gets the ones it lacks (NetSuite's items an external id).
  await require("./demo-records.js").erp(env.ERP_SYSTEM, env.ERP_BASE_URL).prepare();
  fs.writeFileSync(
    path.join(userDir, "demo.json"),
    JSON.stringify({ nodeRed: `http://127.0.0.1:${port}`, crm: { system: env.CRM_SYSTEM, url: env.CRM_BASE_URL }, erp: { system: env.ERP_SYSTEM, url: env.ERP_BASE_URL }, billing: { url: env.BILLING_BASE_URL }, mqtt: env.MQTT_URL }, null, 2),
  );
  console.log(`CRM ${env.CRM_SYSTEM} at ${env.CRM_BASE_URL}, ERP ${env.ERP_SYSTEM} at ${env.ERP_BASE_URL}, billing (Stripe) at ${env.BILLING_BASE_URL}, store ${env.KEELSON_STORE}`);
  const red = spawn(process.execPath, [require.resolve("node-red/red.js"), "--userDir", userDir, "--settings", path.join(userDir, "settings.js")], {
    stdio: ["ignore", "pipe", "inherit"],
    env,
  });
  return { red, sandboxes, broker };
}
main().then(
  ({ red, sandboxes, broker }) => {
    red.stdout.on("data", (chunk) => {
      process.stdout.write(chunk);
      if (/Started flows/.test(String(chunk))) console.log(`\nKeelson is running: open the editor at http://127.0.0.1:${port}/  (Ctrl-C to stop)\n`);
    });
    let stopping = false;
    const stop = (signal) => {
      if (stopping) return;
      stopping = true;
      console.log(`\nstopping Node-RED, the sandboxes and the broker (${signal})…`);
      red.kill("SIGINT");
      setTimeout(() => red.kill("SIGKILL"), 10000).unref();
    };
    process.on("SIGINT", () => stop("SIGINT"));
    process.on("SIGTERM", () => stop("SIGTERM"));
    red.on("exit", async (code, signal) => {
      await Promise.all([...sandboxes.map((s) => s.close()), broker.close()]).catch(() => undefined);
      process.exit(stopping ? 0 : code ?? (signal ? 1 : 0));
    });
  },
  (err) => {
    console.error(`npm start failed: ${err.message}`);
    process.exit(1);
  },
);
