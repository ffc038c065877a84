"use strict";
// For the real-process flow tests: a user dir that has this package installed (a symlink to the repo root, so
// Node-RED loads the built dist/ as it would an installed module), HTTP helpers, and the backends' clean-up.
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { randomBytes } = require("node:crypto");

const root = path.resolve(__dirname, "..", "..");
const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"));
const REDIS_URL = process.env.KEELSON_TEST_REDIS_URL || "redis://127.0.0.1:6379";
const POSTGRES_URL = process.env.KEELSON_TEST_POSTGRES_URL || "postgres://postgres@127.0.0.1:5432/test";

/** A fresh temporary user dir with @keelson/node-red-erp linked into its node_modules. */
function makeUserDir(label) {
  if (!fs.existsSync(path.join(root, "dist", "nodes", "gate", "gate.js"))) throw new Error("dist/ is missing: run `npm run build` first");
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), `keelson-${label}-`));
  fs.writeFileSync(path.join(userDir, "package.json"), JSON.stringify({ name: "node-red-project", private: true, dependencies: { [pkg.name]: `file:${root}` } }));
  const link = path.join(userDir, "node_modules", ...pkg.name.split("/"));
  fs.mkdirSync(path.dirname(link), { recursive: true });
  fs.symlinkSync(root, link, "dir");
  return userDir;
}

/** A short random suffix for key prefixes, schema names and the like, unique per test run. */
const runId = () => `${process.pid}_${randomBytes(4).toString("hex")}`;

/** Ids that equal no property value anywhere (Node-RED mistakes such a node for a config dependency). */
let counter = 0;
const nodeId = () => `n${randomBytes(6).toString("hex")}${(counter++).toString(16)}`;

/** fetch with a JSON body and answer; returns {status, body, text}. */
async function request(url, { method = "GET", body, token, headers = {} } = {}) {
  const res = await fetch(url, {
    method,
    headers: { Accept: "application/json", ...(body !== undefined ? { "Content-Type": "application/json" } : {}), ...(token ? { Authorization: `Bearer ${token}` } : {}), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: res.status, body: parsed, text };
}

/** Deletes every Redis key under `prefix`. */
async function dropRedisPrefix(prefix) {
  const Redis = require("ioredis").default;
  const client = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await client.connect();
    let cursor = "0";
    do {
      const [next, keys] = await client.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
      cursor = next;
      if (keys.length) await client.unlink(...keys);
    } while (cursor !== "0");
  } finally {
    client.disconnect();
  }
}

async function dropPostgresSchema(schema) {
  const { Client } = require("pg");
  const client = new Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}

module.exports = { root, pkg, REDIS_URL, POSTGRES_URL, makeUserDir, runId, nodeId, request, dropRedisPrefix, dropPostgresSchema };
