#!/usr/bin/env node
// `npm start`: build, then run every vendor sandbox, an embedded MQTT broker (unless MQTT_URL is set) and Node-RED
// on http://127.0.0.1:1880 with a project-local user dir that has this package installed and the flows from flows/
// deployed, pointed at the sandboxes through the environment variables the flows read. Ctrl-C stops everything.
//   npm start -- --reset   rewrite the user dir's flows from flows/ (your edits there are lost)
//   PORT=1881 npm start    another port; KEELSON_SANDBOX_<VENDOR>_PORT and KEELSON_MQTT_PORT move the others
"use strict";
const { execFileSync, spawn } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");

const root = path.resolve(__dirname, "..");
const userDir = path.join(root, ".node-red-user");
const port = Number(process.env.PORT || 1880);
const reset = process.argv.includes("--reset");
const npm = process.platform === "win32" ? "npm.cmd" : "npm";

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

const flowFile = path.join(userDir, "flows.json");
if (reset || !fs.existsSync(flowFile)) {
  const nodes = fs.readdirSync(path.join(root, "flows")).filter((f) => f.endsWith(".json")).sort()
    .flatMap((f) => JSON.parse(fs.readFileSync(path.join(root, "flows", f), "utf8")));
  fs.writeFileSync(flowFile, JSON.stringify(nodes, null, 2));
}

/** The environment the flows read (PRODUCT.md's env contract), pointed at the sandboxes unless already set. */
function sandboxEnvironment(sandboxes, mqttUrl) {
  const url = (vendor) => sandboxes.find((s) => s.vendor === vendor).url;
  const { SALESFORCE_DEFAULTS } = require("../dist/sandbox/salesforce.js");
  const { NETSUITE_DEFAULTS } = require("../dist/sandbox/netsuite.js");
  const { STRIPE_DEFAULTS } = require("../dist/sandbox/stripe.js");
  const defaults = {
    CRM_SYSTEM: "salesforce",
    CRM_BASE_URL: url("salesforce"),
    CRM_CLIENT_ID: SALESFORCE_DEFAULTS.clientId,
    CRM_CLIENT_SECRET: SALESFORCE_DEFAULTS.clientSecret,
    ERP_SYSTEM: "netsuite",
    ERP_BASE_URL: url("netsuite"),
    ERP_ACCOUNT_ID: NETSUITE_DEFAULTS.accountId,
    ERP_CLIENT_ID: NETSUITE_DEFAULTS.tba.consumerKey,
    ERP_CLIENT_SECRET: NETSUITE_DEFAULTS.tba.consumerSecret,
    ERP_TOKEN_ID: NETSUITE_DEFAULTS.tba.tokenId,
    ERP_TOKEN_SECRET: NETSUITE_DEFAULTS.tba.tokenSecret,
    BILLING_BASE_URL: url("stripe"),
    BILLING_API_KEY: STRIPE_DEFAULTS.secretKey,
    MQTT_URL: mqttUrl,
    KEELSON_STORE: "file",
  };
  const env = { ...process.env };
  for (const [name, value] of Object.entries(defaults)) if (!env[name]) env[name] = value;
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
  const red = spawn(process.execPath, [require.resolve("node-red/red.js"), "--userDir", userDir, "--settings", path.join(userDir, "settings.js")], {
    stdio: ["ignore", "pipe", "inherit"],
    env: sandboxEnvironment(sandboxes, broker.url),
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
