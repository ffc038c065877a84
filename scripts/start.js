#!/usr/bin/env node
// `npm start`: build, then run Node-RED on http://127.0.0.1:1880 with a project-local user dir that has this
// package installed and the starter flow deployed. Ctrl-C stops everything.
//   npm start -- --reset   rewrite the user dir's flows from flows/ (your edits there are lost)
//   PORT=1881 npm start    another port
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

const red = spawn(process.execPath, [require.resolve("node-red/red.js"), "--userDir", userDir, "--settings", path.join(userDir, "settings.js")], {
  stdio: ["ignore", "pipe", "inherit"],
  env: process.env,
});
red.stdout.on("data", (chunk) => {
  process.stdout.write(chunk);
  if (/Started flows/.test(String(chunk))) console.log(`\nKeelson is running: open the editor at http://127.0.0.1:${port}/  (Ctrl-C to stop)\n`);
});

let stopping = false;
function stop(signal) {
  if (stopping) return;
  stopping = true;
  console.log(`\nstopping Node-RED (${signal})…`);
  red.kill("SIGINT");
  setTimeout(() => red.kill("SIGKILL"), 10000).unref();
}
process.on("SIGINT", () => stop("SIGINT"));
process.on("SIGTERM", () => stop("SIGTERM"));
red.on("exit", (code, signal) => process.exit(stopping ? 0 : code ?? (signal ? 1 : 0)));
