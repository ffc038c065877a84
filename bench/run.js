#!/usr/bin/env node
// `npm run bench`: every benchmark in bench/ (each prints its figures and ratios measured side by side).
// `npm run bench -- mapper` runs one.
"use strict";
const { spawnSync } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");

const only = process.argv.slice(2);
const benches = fs.readdirSync(__dirname)
  .filter((f) => f.endsWith(".js") && f !== "run.js" && !f.endsWith("-large.js"))
  .map((f) => f.replace(/\.js$/, ""))
  .filter((name) => only.length === 0 || only.includes(name))
  .sort();
let failed = 0;
for (const name of benches) {
  const r = spawnSync(process.execPath, ["--expose-gc", path.join(__dirname, `${name}.js`)], { stdio: "inherit" });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
