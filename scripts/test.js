#!/usr/bin/env node
// Runs every test/**/*.test.js with node's test runner (support files under test/ are not tests).
// `node scripts/test.js unit nodes` runs only those folders. Files run two at a time (KEELSON_TEST_CONCURRENCY to
// change): most wait on sandboxes, services and Node-RED processes, and each keeps to its own ports, keys and schemas.
"use strict";
const { spawnSync } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");

const root = path.resolve(__dirname, "..", "test");
const only = process.argv.slice(2);

function collect(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === "fixtures" ? [] : collect(full);
    return e.name.endsWith(".test.js") ? [full] : [];
  });
}

const files = collect(root)
  .filter((f) => only.length === 0 || only.includes(path.relative(root, f).split(path.sep)[0]))
  .sort();
if (files.length === 0) {
  console.error("no test files found");
  process.exit(1);
}
const concurrency = Math.max(1, Number(process.env.KEELSON_TEST_CONCURRENCY) || 2);
const result = spawnSync(process.execPath, ["--test", `--test-concurrency=${concurrency}`, "--test-reporter=spec", ...files], { stdio: "inherit" });
process.exit(result.status ?? 1);
