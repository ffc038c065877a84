"use strict";
// What only the shared backends have: Redis keeps TTLs on its keys and isolates prefixes; PostgreSQL creates its
// tables once per schema/prefix (also when two instances start together) and sweeps expired rows away.
const { describe, it, after } = require("node:test");
const assert = require("node:assert/strict");
const { randomUUID } = require("node:crypto");
const Redis = require("ioredis").default;
const { Client } = require("pg");
const { backends, REDIS_URL, POSTGRES_URL } = require("./helpers");

const [redisBackend, postgresBackend] = ["redis", "postgres"].map((name) => backends().find((b) => b.name === name));

describe("redis store specifics", () => {
  const a = redisBackend.make();
  const b = redisBackend.make();
  const raw = new Redis(REDIS_URL);
  after(async () => {
    raw.disconnect();
    await a.cleanup();
    await b.cleanup();
  });

  it("keeps every key under its prefix, with the retention as the key's TTL", async () => {
    const storeA = await a.open();
    const storeB = await b.open();
    try {
      const k = `k-${randomUUID()}`;
      const claim = await storeA.claim(k, { leaseMs: 1000, retentionMs: 60_000 });
      assert.equal((await storeB.claim(k)).outcome, "new", "another prefix is another store");
      const ttl = await raw.pttl(`${a.prefix}g:${k}`);
      assert.ok(ttl > 55_000 && ttl <= 60_000, `TTL ${ttl}`);
      await storeA.complete(k, claim.token, 1, { retentionMs: 120_000 });
      assert.ok((await raw.pttl(`${a.prefix}g:${k}`)) > 115_000, "completion restarts the retention");
      await storeA.capture({ id: "l1", queue: "q", message: 1, error: { message: "e" }, source: { id: "n", type: "t" } }, { retentionMs: 30_000 });
      const letterTtl = await raw.pttl(`${a.prefix}dlq:e:l1`);
      assert.ok(letterTtl > 25_000 && letterTtl <= 30_000, `dead letter TTL ${letterTtl}`);
      const keys = await raw.keys(`${a.prefix}*`);
      assert.ok(keys.length >= 4 && keys.every((key) => key.startsWith(a.prefix)));
    } finally {
      await storeA.close();
      await storeB.close();
    }
  });
});

describe("postgres store specifics", () => {
  const env = postgresBackend.make();
  after(() => env.cleanup());

  it("creates its tables on first use, once, even when two instances start together", async () => {
    const stores = await Promise.all([env.open(), env.open(), env.open({ tablePrefix: "other_" })]);
    try {
      const outcomes = await Promise.all(stores.map((s) => s.claim("same-key")));
      assert.deepEqual(outcomes.map((o) => o.outcome).sort(), ["in-flight", "new", "new"]);
      const client = new Client({ connectionString: POSTGRES_URL });
      await client.connect();
      const { rows } = await client.query("SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name", [env.schema]);
      await client.end();
      assert.deepEqual(rows.map((r) => r.table_name), ["keelson_dead_letters", "keelson_gate", "keelson_trace_steps", "keelson_watermarks", "other_dead_letters", "other_gate", "other_trace_steps", "other_watermarks"]);
    } finally {
      for (const s of stores) await s.close();
    }
  });

  it("sweeps expired keys and dead letters out of the tables", async () => {
    const store = await env.open();
    const client = new Client({ connectionString: POSTGRES_URL });
    await client.connect();
    try {
      const old = Date.now() - 10_000;
      await store.claim("expired", { now: old, leaseMs: 1000, retentionMs: 1000 });
      await store.claim("live");
      await store.capture({ id: "old-letter", queue: "q", message: 1, error: { message: "e" }, source: { id: "n", type: "t" } }, { now: old, retentionMs: 1000 });
      const swept = await store.sweep();
      assert.ok(swept >= 2);
      const gate = await client.query(`SELECT key FROM "${env.schema}".keelson_gate WHERE key IN ('expired', 'live')`);
      assert.deepEqual(gate.rows.map((r) => r.key), ["live"]);
      const letters = await client.query(`SELECT id FROM "${env.schema}".keelson_dead_letters WHERE id = 'old-letter'`);
      assert.equal(letters.rowCount, 0);
    } finally {
      await client.end();
      await store.close();
    }
  });
});
