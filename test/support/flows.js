"use strict";
// For the real-process flow tests: a user dir that has this package installed (a symlink to the repo root, so
// Node-RED loads the built dist/ as it would an installed module), HTTP helpers, and the backends' clean-up.
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const http = require("node:http");
const { randomBytes } = require("node:crypto");

const root = path.resolve(__dirname, "..", "..");
const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"));
const { REDIS_URL, POSTGRES_URL, dropRedisPrefix, dropPostgresSchema } = require("./services");

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

/** Settings that start Node-RED faster: no editor, none of the core nodes the flow does not use. */
const LEAN_SETTINGS = {
  disableEditor: true,
  nodesExcludes: ["10-mqtt.js", "22-websocket.js", "31-tcpin.js", "32-udp.js", "70-CSV.js", "70-HTML.js", "70-XML.js", "70-YAML.js", "17-split.js", "18-sort.js", "19-batch.js", "10-file.js", "23-watch.js", "90-exec.js", "80-template.js", "89-delay.js", "89-trigger.js", "16-range.js", "rbe.js", "21-httprequest.js", "06-httpproxy.js"],
  logging: { console: { level: "warn", metrics: false, audit: false } },
};

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

// Keep-alive sockets: many thousands of small requests, and node:http is much lighter than fetch for them.
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

/** POSTs a JSON body over a kept-alive socket; resolves {status, text}, rejects after `timeoutMs` without an answer. */
function postJson(url, body, timeoutMs = 30000) {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = http.request(url, { method: "POST", agent, headers: { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(data) } }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk) => (text += chunk));
      res.on("end", () => resolve({ status: res.statusCode, text }));
      res.on("error", reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer from ${url} within ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end(data);
  });
}

/**
 * Two nodes on `tab` answering GET /ready, and the wait for it: Node-RED reports its flows as started before
 * their nodes have registered their HTTP routes, so a test waits for this route before sending.
 */
function readyProbe(tab) {
  const probe = nodeId();
  const answer = nodeId();
  return [
    { id: probe, type: "http in", z: tab, url: "/ready", method: "get", upload: false, wires: [[answer]] },
    { id: answer, type: "http response", z: tab, statusCode: "200", headers: {}, wires: [] },
  ];
}

async function waitUntilReady(url, timeoutMs = 30000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await fetch(`${url}/ready`).catch(() => undefined);
    if (res) await res.arrayBuffer();
    if (res && res.status === 200) return;
    if (Date.now() > deadline) throw new Error(`${url}/ready did not answer 200 within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

module.exports = { root, pkg, REDIS_URL, POSTGRES_URL, makeUserDir, runId, nodeId, request, postJson, readyProbe, waitUntilReady, LEAN_SETTINGS, dropRedisPrefix, dropPostgresSchema };
