"use strict";
// The dead-letter admin API behind a real Node-RED with adminAuth: every route refuses anonymous callers and callers
// without its permission (401 and 403; the audit log names the missing permission), and works with it. End to end, secrets in captured messages (headers,
// credentials, a configured path) appear nowhere: not in stored entries, not in API answers, not on disk, not in the log.
const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");
const { startNodeRed } = require("../support/nodered");
const { makeUserDir, nodeId, request } = require("../support/flows");

const bcrypt = require(require.resolve("bcryptjs", { paths: [path.dirname(require.resolve("node-red/package.json"))] }));

const SECRETS = {
  authorization: "Bearer sk-live-AUTH-9f3a71c2",
  cookie: "session=COOKIE-77ab0d1e",
  apiKey: "APIKEY-5521e0c4",
  password: "PASSWORD-hunter2-b7",
  token: "TOKEN-0c0c4d9e",
  taxId: "TAXID-FR998877",
  clientSecret: "CLIENTSECRET-31f0aa",
};
const USERS = {
  admin: { password: "admin-pass-1", permissions: "*", scope: "*" },
  reader: { password: "reader-pass-2", permissions: "read", scope: "read" },
  viewer: { password: "viewer-pass-3", permissions: ["flows.read"], scope: "flows.read" },
};

const ids = { tab: nodeId(), store: nodeId(), httpIn: nodeId(), accepted: nodeId(), post: nodeId(), catcher: nodeId(), dlq: nodeId(), replayed: nodeId() };

function flows() {
  return [
    { id: ids.tab, type: "tab", label: "orders" },
    { id: ids.store, type: "keelson-store", backend: "file", dir: "dlq-state", redisUrl: "", prefix: "", postgresUrl: "", schema: "", tablePrefix: "", timeout: 5000 },
    { id: ids.httpIn, type: "http in", z: ids.tab, url: "/orders", method: "post", upload: false, wires: [[ids.accepted, ids.post]] },
    { id: ids.accepted, type: "http response", z: ids.tab, statusCode: "202", headers: {}, wires: [] },
    // What an integration does: forwards the caller's credentials to the ERP in msg.headers, which refuses the order.
    {
      id: ids.post,
      type: "function",
      z: ids.tab,
      name: "post order to ERP",
      func: [
        "const h = msg.req.headers;",
        "msg.headers = { Authorization: h.authorization, Cookie: h.cookie, 'X-API-Key': h['x-api-key'] };",
        "msg.token = msg.payload.sessionToken;",
        "msg.correlationId = msg.payload.id;",
        "throw new Error('ERP refused order ' + msg.payload.id);",
      ].join("\n"),
      outputs: 1,
      timeout: 0,
      noerr: 0,
      initialize: "",
      finalize: "",
      libs: [],
      wires: [[]],
    },
    { id: ids.catcher, type: "catch", z: ids.tab, scope: [ids.post], uncaught: false, wires: [[ids.dlq]] },
    { id: ids.dlq, type: "keelson-dlq", z: ids.tab, store: ids.store, queue: "orders", maxAttempts: 5, retentionDays: 30, redactPaths: "payload.customer.taxId", maxKb: 256, wires: [[ids.replayed], []] },
    // Replays come back here and go nowhere: the test only checks they leave the queue.
    { id: ids.replayed, type: "function", z: ids.tab, name: "replayed", func: "return null;", outputs: 1, timeout: 0, noerr: 0, initialize: "", finalize: "", libs: [], wires: [[]] },
  ];
}

async function tokenFor(url, user) {
  const { password, scope } = USERS[user];
  const res = await fetch(`${url}/auth/token`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ client_id: "node-red-admin", grant_type: "password", scope, username: user, password }),
  });
  assert.equal(res.status, 200, `token for ${user}`);
  const body = await res.json();
  assert.equal(typeof body.access_token, "string");
  return body.access_token;
}

async function waitUntil(predicate, what, ms = 5000) {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function waitForEntries(url, token, count, ms = 20000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const page = await request(`${url}/keelson/dlq/queues/orders/entries?limit=1000`, { token });
    if (page.status === 200 && page.body.entries.length >= count) return page.body.entries;
    if (Date.now() > deadline) throw new Error(`expected ${count} entries, last answer ${page.status} ${page.text.slice(0, 300)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test("DLQ admin API: 401 without a token, 403 without the permission (audited), works with it; secrets never leave redacted", { timeout: 120000 }, async (t) => {
  const userDir = makeUserDir("dlq-auth");
  t.after(() => fs.rmSync(userDir, { recursive: true, force: true }));
  const users = Object.entries(USERS).map(([username, u]) => ({ username, password: bcrypt.hashSync(u.password, 8), permissions: u.permissions }));
  const red = await startNodeRed({
    userDir,
    flows: flows(),
    settings: { adminAuth: { type: "credentials", users }, logging: { console: { level: "debug", metrics: false, audit: true } } },
  });
  t.after(() => red.stop("SIGKILL"));
  const { url } = red;

  // Five failed orders, each carrying every kind of secret.
  for (let i = 1; i <= 5; i++) {
    const res = await fetch(`${url}/orders`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: SECRETS.authorization, Cookie: SECRETS.cookie, "X-API-Key": SECRETS.apiKey },
      body: JSON.stringify({ id: `SO-${i}`, sessionToken: SECRETS.token, password: SECRETS.password, apiKey: SECRETS.apiKey, credentials: { client_secret: SECRETS.clientSecret }, customer: { name: "Acme", taxId: SECRETS.taxId } }),
    });
    assert.equal(res.status, 202);
  }

  const tokens = { admin: await tokenFor(url, "admin"), reader: await tokenFor(url, "reader"), viewer: await tokenFor(url, "viewer") };
  // A wrong password gets no token.
  const refused = await fetch(`${url}/auth/token`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ client_id: "node-red-admin", grant_type: "password", scope: "*", username: "admin", password: "wrong" }) });
  assert.equal(refused.status, 403);
  // The reader may not ask for more than it has.
  const greedy = await fetch(`${url}/auth/token`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ client_id: "node-red-admin", grant_type: "password", scope: "*", username: "reader", password: USERS.reader.password }) });
  assert.equal(greedy.status, 403);

  const answers = [];
  const call = async (method, route, who, body) => {
    const res = await request(`${url}${route}`, { method, token: who && tokens[who], body });
    answers.push(res.text);
    return res;
  };

  const entries = await waitForEntries(url, tokens.admin, 5);
  assert.equal(entries.length, 5);
  const [first, second, third, fourth] = entries.map((e) => e.id);

  const readRoutes = [
    ["GET", "/keelson/dlq/queues"],
    ["GET", "/keelson/dlq/queues/orders/entries"],
    ["GET", `/keelson/dlq/entries/${first}`],
  ];
  const writeRoutes = [
    ["PUT", `/keelson/dlq/entries/${first}`, { message: { payload: { id: "SO-1", fixed: true } } }],
    ["POST", `/keelson/dlq/entries/${first}/replay`, {}],
    ["DELETE", `/keelson/dlq/entries/${first}`],
    ["POST", "/keelson/dlq/queues/orders/bulk", { action: "discard", all: true }],
  ];

  // A signed-in user without the permission gets 403 from Keelson's routes (Node-RED's own needsPermission answers
  // 401 for both; Keelson's wrapper keeps 401 for no or a bad token), and the audit log names the missing permission.
  const permissionFailures = (permission) => red.log.split("\n").filter((l) => l.includes('"event":"permission.fail"') && l.includes(`"permissions":"${permission}"`)).length;
  const refusedFor = async (method, route, who, body, permission) => {
    const before = permissionFailures(permission);
    const res = await call(method, route, who, body);
    assert.equal(res.status, 403, `${method} ${route} as ${who}`);
    await waitUntil(() => permissionFailures(permission) === before + 1, `a permission.fail audit event for ${permission} after ${method} ${route} as ${who}`);
  };
  for (const [method, route, body] of [...readRoutes, ...writeRoutes]) {
    const before = permissionFailures(readRoutes.some((r) => r[1] === route && r[0] === method) ? "keelson-dlq.read" : "keelson-dlq.write");
    const anonymous = await call(method, route, undefined, body);
    assert.equal(anonymous.status, 401, `${method} ${route} without a token`);
    const bogus = await request(`${url}${route}`, { method, token: "not-a-token", body });
    assert.equal(bogus.status, 401, `${method} ${route} with a bogus token`);
    assert.equal(permissionFailures(readRoutes.some((r) => r[1] === route && r[0] === method) ? "keelson-dlq.read" : "keelson-dlq.write"), before, "no user, so no permission check");
  }
  for (const [method, route, body] of readRoutes) await refusedFor(method, route, "viewer", body, "keelson-dlq.read");
  for (const [method, route, body] of writeRoutes) {
    await refusedFor(method, route, "viewer", body, "keelson-dlq.write");
    await refusedFor(method, route, "reader", body, "keelson-dlq.write");
  }
  // The same convention on Node-RED's own admin routes: the viewer may read the flows but not deploy them.
  assert.equal((await call("GET", "/flows", "viewer")).status, 200);
  assert.equal((await request(`${url}/flows`, { method: "POST", token: tokens.viewer, body: flows() })).status, 401);
  // Nothing the refused calls asked for happened.
  assert.equal((await waitForEntries(url, tokens.admin, 5)).length, 5);

  // Read routes work for the reader and the admin.
  for (const who of ["reader", "admin"]) {
    const queues = await call("GET", "/keelson/dlq/queues", who);
    assert.equal(queues.status, 200);
    assert.deepEqual(queues.body.map((q) => [q.queue, q.backend, q.depth]), [["orders", "file", 5]]);
    const list = await call("GET", "/keelson/dlq/queues/orders/entries?state=pending", who);
    assert.equal(list.status, 200);
    assert.equal(list.body.entries.length, 5);
    const one = await call("GET", `/keelson/dlq/entries/${first}`, who);
    assert.equal(one.status, 200);
    assert.equal(one.body.id, first);
    assert.match(one.body.error.message, /ERP refused order SO-\d/);
    assert.deepEqual(one.body.source, { id: ids.post, type: "function", name: "post order to ERP" });
    const missing = await call("GET", "/keelson/dlq/entries/no-such-entry", who);
    assert.equal(missing.status, 404);
  }

  // Write routes work for the admin, one after the other.
  const edited = await call("PUT", `/keelson/dlq/entries/${first}`, "admin", { message: { payload: { id: "SO-1", fixed: true } } });
  assert.equal(edited.status, 200);
  assert.deepEqual(edited.body.message.payload, { id: "SO-1", fixed: true });
  const badEdit = await call("PUT", `/keelson/dlq/entries/${second}`, "admin", { message: "not an object" });
  assert.equal(badEdit.status, 400);
  const replayed = await call("POST", `/keelson/dlq/entries/${first}/replay`, "admin", {});
  assert.equal(replayed.status, 200);
  assert.deepEqual(replayed.body, { replayed: 1 });
  assert.equal((await call("GET", `/keelson/dlq/entries/${first}`, "admin")).status, 404, "a replayed entry leaves the queue");
  const discarded = await call("DELETE", `/keelson/dlq/entries/${second}`, "admin");
  assert.equal(discarded.status, 200);
  assert.deepEqual(discarded.body, { discarded: 1 });
  assert.equal((await call("DELETE", `/keelson/dlq/entries/${second}`, "admin")).status, 404);
  const badBulk = await call("POST", "/keelson/dlq/queues/orders/bulk", "admin", { action: "explode", all: true });
  assert.equal(badBulk.status, 400);
  const bulkReplay = await call("POST", "/keelson/dlq/queues/orders/bulk", "admin", { action: "replay", ids: [third] });
  assert.deepEqual(bulkReplay.body, { replayed: 1 });
  const bulk = await call("POST", "/keelson/dlq/queues/orders/bulk", "admin", { action: "discard", all: true });
  assert.equal(bulk.status, 200);
  assert.deepEqual(bulk.body, { discarded: 2 });
  assert.equal((await call("GET", `/keelson/dlq/entries/${fourth}`, "admin")).body?.id, undefined);
  const unknownQueue = await call("POST", "/keelson/dlq/queues/nope/bulk", "admin", { action: "discard", all: true });
  assert.equal(unknownQueue.status, 404);

  // The stored entries as captured: every secret redacted, the rest intact.
  for (const entry of entries) {
    const m = entry.message;
    assert.equal(m.headers.Authorization, "[redacted]");
    assert.equal(m.headers.Cookie, "[redacted]");
    assert.equal(m.headers["X-API-Key"], "[redacted]");
    assert.equal(m.token, "[redacted]");
    assert.equal(m.payload.password, "[redacted]");
    assert.equal(m.payload.apiKey, "[redacted]");
    assert.equal(m.payload.credentials.client_secret, "[redacted]");
    assert.equal(m.payload.customer.taxId, "[redacted]");
    assert.equal(m.payload.customer.name, "Acme");
    assert.match(m.payload.id, /^SO-\d$/);
    assert.equal(entry.correlationId, m.payload.id);
  }
  answers.push(JSON.stringify(entries));

  await red.stop();
  const onDisk = fs.readdirSync(path.join(userDir, "dlq-state")).map((f) => fs.readFileSync(path.join(userDir, "dlq-state", f), "latin1")).join("\n");
  assert.match(onDisk, /ERP refused order SO-1/, "the store's files hold the entries");
  assert.match(red.log, /"event":"auth.login"/, "the log holds the audit trail (debug level, audit on)");
  for (const [name, secret] of Object.entries(SECRETS)) {
    const bare = secret.replace(/^Bearer /, "").replace(/^session=/, "");
    for (const [where, text] of [["API answers", answers.join("\n")], ["the store's files", onDisk], ["the Node-RED log", red.log]]) {
      assert.ok(!text.includes(bare), `${name} (${bare}) appears in ${where}`);
    }
  }
});
