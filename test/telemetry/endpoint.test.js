"use strict";
// The metrics endpoint on a real Node-RED: absent unless settings.js enables it, at its configured path, and
// guarded: by a bearer token from settings (401 without, 403 with a wrong one), or else by the admin permission
// keelson-metrics.read (401 anonymous, 403 signed in without it). The trace and health routes need their permissions.
const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");
const { startNodeRed } = require("../support/nodered");
const { makeUserDir, nodeId, request } = require("../support/flows");

const bcrypt = require(require.resolve("bcryptjs", { paths: [path.dirname(require.resolve("node-red/package.json"))] }));

/** A flow with one Keelson node, so the package is loaded and in use. */
function flows() {
  const tab = nodeId();
  return [
    { id: tab, type: "tab", label: "t" },
    { id: nodeId(), type: "keelson-mapper", z: tab, name: "", mappingSource: "custom", library: "", expression: "payload", targetSchema: "", source: "payload", sourceType: "msg", target: "payload", targetType: "msg", timeout: "", maxDepth: "", wires: [[], []] },
  ];
}

async function started(t, label, settings) {
  const userDir = makeUserDir(label);
  const red = await startNodeRed({ userDir, flows: flows(), settings: { logging: { console: { level: "warn", metrics: false, audit: false } }, ...settings } });
  t.after(async () => {
    await red.stop();
    fs.rmSync(userDir, { recursive: true, force: true });
  });
  return red;
}

test("off by default: no metrics route, the health view says telemetry is off", async (t) => {
  const red = await started(t, "metrics-off", {});
  assert.equal((await fetch(`${red.url}/keelson/metrics`)).status, 404);
  const health = await request(`${red.url}/keelson/health`);
  assert.equal(health.status, 200);
  assert.deepEqual(health.body.enabled, { metrics: false, trace: false, logs: false });
  const trace = await request(`${red.url}/keelson/trace/anything`);
  assert.equal(trace.body.enabled, false);
  assert.deepEqual(trace.body.steps, []);
});

test("keelson.telemetry: false switches every part off, whatever the parts say", async (t) => {
  const red = await started(t, "metrics-switch", { keelson: { telemetry: false, metrics: { enabled: true }, trace: { enabled: true }, logs: { json: true } } });
  assert.equal((await fetch(`${red.url}/keelson/metrics`)).status, 404);
  assert.deepEqual((await request(`${red.url}/keelson/health`)).body.enabled, { metrics: false, trace: false, logs: false });
});

test("a bearer token from settings guards the endpoint at its configured path", async (t) => {
  const red = await started(t, "metrics-token", { keelson: { metrics: { enabled: true, path: "/ops/metrics", token: "s3cret-scrape" } } });
  assert.equal((await fetch(`${red.url}/keelson/metrics`)).status, 404, "only the configured path serves");
  const none = await fetch(`${red.url}/ops/metrics`);
  assert.equal(none.status, 401);
  assert.match(none.headers.get("www-authenticate"), /^Bearer/);
  assert.equal((await fetch(`${red.url}/ops/metrics`, { headers: { Authorization: "Bearer wrong" } })).status, 403);
  assert.equal((await fetch(`${red.url}/ops/metrics`, { headers: { Authorization: "Basic czNjcmV0LXNjcmFwZQ==" } })).status, 401, "only a bearer token counts");
  const ok = await fetch(`${red.url}/ops/metrics`, { headers: { Authorization: "Bearer s3cret-scrape" } });
  assert.equal(ok.status, 200);
  const text = await ok.text();
  assert.match(text, /^# HELP keelson_messages_in_total /m);
  assert.match(text, /^# TYPE keelson_business_latency_seconds histogram$/m);
});

test("without a token, adminAuth guards it: 401 anonymous, 403 without keelson-metrics.read, 200 with it", async (t) => {
  const users = [
    { username: "admin", password: bcrypt.hashSync("admin-pass", 8), permissions: "*" },
    { username: "scraper", password: bcrypt.hashSync("scraper-pass", 8), permissions: ["keelson-metrics.read"] },
    { username: "viewer", password: bcrypt.hashSync("viewer-pass", 8), permissions: ["flows.read"] },
  ];
  const red = await started(t, "metrics-auth", { adminAuth: { type: "credentials", users }, keelson: { metrics: { enabled: true }, trace: { enabled: true } } });
  const token = async (username, password, scope) => {
    const res = await request(`${red.url}/auth/token`, { method: "POST", body: { client_id: "node-red-admin", grant_type: "password", scope, username, password } });
    assert.equal(res.status, 200, `token for ${username}`);
    return res.body.access_token;
  };
  const admin = await token("admin", "admin-pass", "*");
  const scraper = await token("scraper", "scraper-pass", "keelson-metrics.read");
  const viewer = await token("viewer", "viewer-pass", "flows.read");
  assert.equal((await request(`${red.url}/keelson/metrics`)).status, 401);
  assert.equal((await request(`${red.url}/keelson/metrics`, { token: "not-a-token" })).status, 401);
  assert.equal((await request(`${red.url}/keelson/metrics`, { token: viewer })).status, 403);
  assert.equal((await request(`${red.url}/keelson/metrics`, { token: scraper })).status, 200);
  assert.equal((await request(`${red.url}/keelson/metrics`, { token: admin })).status, 200);
  // The scraper may read metrics, not the trace (which carries business ids) nor the health view.
  assert.equal((await request(`${red.url}/keelson/trace/x`, { token: scraper })).status, 403);
  assert.equal((await request(`${red.url}/keelson/health`, { token: scraper })).status, 403);
  assert.equal((await request(`${red.url}/keelson/trace/x`)).status, 401);
  assert.equal((await request(`${red.url}/keelson/trace/x`, { token: admin })).status, 200);
  assert.equal((await request(`${red.url}/keelson/health`, { token: admin })).status, 200);
});
