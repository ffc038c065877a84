"use strict";
// Two real Node-RED processes share one Redis, then one PostgreSQL, behind the same flow:
//   http in POST /claim → gate claim (key from the JSON body) → one http response per output, naming the output.
// Ten concurrent senders each send the same 1,000 keys, each request to either process at random: across both, each key is
// answered "new" exactly once and every other answer is a duplicate or in-flight.
const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const { startNodeRed } = require("../support/nodered");
const { makeUserDir, runId, nodeId, postJson, readyProbe, waitUntilReady, LEAN_SETTINGS, dropRedisPrefix, dropPostgresSchema, REDIS_URL, POSTGRES_URL } = require("../support/flows");

const KEYS = 1000;
const SENDERS = 10;
const OUTPUTS = ["new", "duplicate", "in-flight", "conflict"];

function claimFlow() {
  const tab = nodeId();
  const store = nodeId();
  const gate = nodeId();
  const answers = OUTPUTS.map(() => nodeId());
  const responses = OUTPUTS.map(() => nodeId());
  const httpIn = nodeId();
  return [
    { id: tab, type: "tab", label: "claims" },
    // Backend, Redis key prefix and PostgreSQL schema come from the environment, so both processes share them.
    { id: store, type: "keelson-store", backend: "env", dir: "", redisUrl: "", prefix: "${KEELSON_TEST_PREFIX}", postgresUrl: "", schema: "${KEELSON_TEST_SCHEMA}", tablePrefix: "", timeout: 10000 },
    { id: httpIn, type: "http in", z: tab, url: "/claim", method: "post", upload: false, wires: [[gate]] },
    { id: gate, type: "keelson-gate", z: tab, store, action: "claim", key: "payload.key", keyType: "msg", fingerprint: "", fingerprintType: "none", leaseSeconds: 600, retentionDays: 1, waitSeconds: 0, wires: answers.map((a) => [a]) },
    ...answers.map((id, i) => ({ id, type: "change", z: tab, name: "", rules: [{ t: "set", p: "payload", pt: "msg", to: OUTPUTS[i], tot: "str" }], wires: [[responses[i]]] })),
    ...responses.map((id) => ({ id, type: "http response", z: tab, statusCode: "", headers: {}, wires: [] })),
    ...readyProbe(tab),
  ];
}

async function twoInstances(t, env) {
  const flows = claimFlow();
  const dirs = [makeUserDir("gate-a"), makeUserDir("gate-b")];
  t.after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
  const reds = await Promise.all(dirs.map((userDir) => startNodeRed({ userDir, flows, env, settings: LEAN_SETTINGS })));
  t.after(() => Promise.all(reds.map((r) => r.stop("SIGKILL"))));
  await Promise.all(reds.map((r) => waitUntilReady(r.url)));
  return reds;
}

/** Sends every key from every sender, each request to one of the processes at random; returns the answers per key. */
async function storm(reds, run) {
  const byKey = new Map();
  const totals = { errors: [] };
  const perProcess = reds.map(() => ({}));
  await Promise.all(
    Array.from({ length: SENDERS }, async (_, s) => {
      for (let i = 0; i < KEYS; i++) {
        const key = `${run}:order-${i}`;
        const which = Math.random() < 0.5 ? 0 : 1;
        const { status, text: answer } = await postJson(`${reds[which].url}/claim`, { key });
        if (status !== 200) {
          totals.errors.push(`${status} ${answer}`);
          continue;
        }
        totals[answer] = (totals[answer] || 0) + 1;
        perProcess[which][answer] = (perProcess[which][answer] || 0) + 1;
        byKey.set(key, [...(byKey.get(key) || []), answer]);
      }
    }),
  );
  return { byKey, totals, perProcess };
}

function check(t, { byKey, totals, perProcess }, reds) {
  t.diagnostic(`answers ${JSON.stringify({ ...totals, errors: totals.errors.length })}; per process ${JSON.stringify(perProcess)}`);
  assert.deepEqual(totals.errors, []);
  assert.equal(totals.new, KEYS, "exactly one new per key across both processes");
  assert.equal((totals.duplicate || 0) + (totals["in-flight"] || 0), KEYS * (SENDERS - 1));
  assert.equal(totals.conflict, undefined);
  assert.equal(byKey.size, KEYS);
  for (const [key, answers] of byKey) {
    assert.equal(answers.length, SENDERS, key);
    assert.equal(answers.filter((a) => a === "new").length, 1, `${key}: ${answers.join(",")}`);
  }
  // Both processes did let keys through: the race was really between them.
  for (const p of perProcess) assert.ok(p.new > 0 && p["in-flight"] > 0, JSON.stringify(perProcess));
  for (const red of reds) assert.doesNotMatch(red.log, /\[error\]/);
}

test("two Node-RED processes sharing Redis: each of 1,000 keys is new exactly once under 10 concurrent senders", { timeout: 180000 }, async (t) => {
  const run = runId();
  const prefix = `keelson-test:two:${run}:`;
  t.after(() => dropRedisPrefix(prefix));
  const reds = await twoInstances(t, { KEELSON_STORE: "redis", REDIS_URL, KEELSON_TEST_PREFIX: prefix, KEELSON_TEST_SCHEMA: "" });
  const result = await storm(reds, run);
  check(t, result, reds);

  // The claims live in Redis under this run's prefix, not under the default one.
  const Redis = require("ioredis").default;
  const client = new Redis(REDIS_URL);
  try {
    const [, keys] = await client.scan("0", "MATCH", `${prefix}*`, "COUNT", 10000);
    assert.ok(keys.length > 0, `keys under ${prefix}`);
  } finally {
    client.disconnect();
  }
});

test("two Node-RED processes sharing PostgreSQL: each of 1,000 keys is new exactly once under 10 concurrent senders", { timeout: 180000 }, async (t) => {
  const run = runId();
  const schema = `keelson_test_two_${run}`;
  t.after(() => dropPostgresSchema(schema));
  const reds = await twoInstances(t, { KEELSON_STORE: "postgres", DATABASE_URL: POSTGRES_URL, KEELSON_TEST_PREFIX: "", KEELSON_TEST_SCHEMA: schema });
  const result = await storm(reds, run);
  check(t, result, reds);

  const { Client } = require("pg");
  const client = new Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    const { rows } = await client.query(`SELECT count(*)::int AS n FROM "${schema}"."keelson_gate" WHERE key LIKE $1`, [`${run}:%`]);
    assert.equal(rows[0].n, KEYS, "one row per key in this run's schema");
  } finally {
    await client.end();
  }
});
