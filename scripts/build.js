#!/usr/bin/env node
// Build: TypeScript to CommonJS in dist/, each node's editor assets beside its compiled file,
// and examples/ produced from flows/ (the one source of truth for the reference flows).
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const { execFileSync } = require("node:child_process");

const root = path.resolve(__dirname, "..");
const dist = path.join(root, "dist");

fs.rmSync(dist, { recursive: true, force: true });
execFileSync(process.execPath, [require.resolve("typescript/bin/tsc"), "-p", path.join(root, "tsconfig.json")], { stdio: "inherit", cwd: root });

const nodesDir = path.join(root, "nodes");
for (const entry of fs.readdirSync(nodesDir, { withFileTypes: true })) {
  const src = path.join(nodesDir, entry.name);
  // Node folders hold an editor .html; lib/ and common/ hold code only.
  if (!entry.isDirectory() || !fs.readdirSync(src).some((f) => f.endsWith(".html"))) continue;
  const out = path.join(dist, "nodes", entry.name);
  fs.mkdirSync(out, { recursive: true });
  for (const file of fs.readdirSync(src)) {
    if (file.endsWith(".html")) fs.copyFileSync(path.join(src, file), path.join(out, file));
  }
  if (fs.existsSync(path.join(src, "locales"))) fs.cpSync(path.join(src, "locales"), path.join(out, "locales"), { recursive: true });
  // Node-RED looks for icons only in an icons/ folder beside the node's .js file.
  fs.cpSync(path.join(root, "icons"), path.join(out, "icons"), { recursive: true });
}

const libAssets = [["nodes/lib/mapping/library", "dist/nodes/lib/mapping/library", (f) => f.endsWith(".jsonata")]];
for (const [from, to, keep] of libAssets) {
  const src = path.join(root, from);
  if (!fs.existsSync(src)) continue;
  fs.mkdirSync(path.join(root, to), { recursive: true });
  for (const file of fs.readdirSync(src)) if (keep(file)) fs.copyFileSync(path.join(src, file), path.join(root, to, file));
}

// examples/<name>.json from flows/<name>.json: the file name is the menu label in Import → Examples.
const examples = path.join(root, "examples");
fs.rmSync(examples, { recursive: true, force: true });
fs.mkdirSync(examples, { recursive: true });
for (const file of fs.readdirSync(path.join(root, "flows"))) {
  if (!file.endsWith(".json")) continue;
  const flow = JSON.parse(fs.readFileSync(path.join(root, "flows", file), "utf8"));
  if (!Array.isArray(flow)) throw new Error(`flows/${file} must be an array of nodes`);
  fs.writeFileSync(path.join(examples, file), JSON.stringify(flow, null, 2) + "\n");
}
console.log("build: dist/ and examples/ written");
