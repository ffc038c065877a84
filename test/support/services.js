"use strict";
// The real Redis and PostgreSQL the tests use, and the clean-up after a run's keys and schema.
const REDIS_URL = process.env.KEELSON_TEST_REDIS_URL || "redis://127.0.0.1:6379";
const POSTGRES_URL = process.env.KEELSON_TEST_POSTGRES_URL || "postgres://postgres@127.0.0.1:5432/test";

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

module.exports = { REDIS_URL, POSTGRES_URL, dropRedisPrefix, dropPostgresSchema };
