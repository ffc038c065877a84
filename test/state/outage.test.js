"use strict";
// Redis and PostgreSQL going away and coming back: operations fail fast with StoreUnavailableError naming the
// backend, and the same store object works again once the server is reachable (no reopen).
const { describe, it, after } = require("node:test");
const assert = require("node:assert/strict");
const { randomUUID } = require("node:crypto");
const { backends, Proxy, closedPort, eventually } = require("./helpers");
const { openStore, StoreUnavailableError } = require("../../dist/nodes/lib/state/index.js");

const servers = {
  redis: { port: 6379, url: (port) => `redis://127.0.0.1:${port}` },
  postgres: { port: 5432, url: (port) => `postgres://postgres@127.0.0.1:${port}/test` },
};

for (const backend of backends().filter((b) => b.shared)) {
  const server = servers[backend.name];
  const urlKey = backend.name === "redis" ? "url" : "connectionString";

  describe(`${backend.name} store outage`, () => {
    const env = backend.make();
    after(() => env.cleanup());
    const unavailable = (err) => err instanceof StoreUnavailableError && err.backend === backend.name && err.code === "KEELSON_STORE_UNAVAILABLE";

    it("fails while the server is unreachable and recovers when it is back", async () => {
      const proxy = new Proxy(server.port);
      const port = await proxy.start();
      const store = await env.open({ [urlKey]: server.url(port), timeoutMs: 500 });
      try {
        const k = `k-${randomUUID()}`;
        const first = await store.claim(k);
        assert.equal(first.outcome, "new");

        await proxy.stop();
        const started = Date.now();
        const unanswered = `k-${randomUUID()}`;
        await assert.rejects(store.claim(unanswered), unavailable);
        await assert.rejects(store.complete(k, first.token, "x"), unavailable);
        await assert.rejects(store.capture({ id: randomUUID(), queue: "q", message: {}, error: { message: "e" }, source: { id: "n", type: "t" } }), unavailable);
        await assert.rejects(store.getWatermark("w"), unavailable);
        // Four operations, each failing within its 500 ms deadline (twice that allowed for a loaded machine).
        assert.ok(Date.now() - started < 4 * 500 * 2, `four failures took ${Date.now() - started} ms`);

        await proxy.start();
        // The claim made before the outage survived it; the store reconnects by itself.
        const after = await eventually(() => store.claim(k), 8000);
        assert.equal(after.outcome, "in-flight");
        await store.complete(k, first.token, "done");
        assert.equal((await store.claim(k)).result, "done");
        // A claim that failed during the outage was not sent later behind the caller's back.
        assert.equal((await store.claim(unanswered)).outcome, "new");
      } finally {
        await store.close();
        await proxy.stop().catch(() => undefined);
      }
    });

    it("opens while the server is down, fails with a clear error, and works once the server starts listening", async () => {
      const port = await closedPort();
      const store = await openStore({ backend: backend.name, ...(backend.name === "redis" ? { prefix: env.prefix } : { schema: env.schema }), [urlKey]: server.url(port), timeoutMs: 500 });
      const proxy = new Proxy(server.port);
      try {
        await assert.rejects(store.claim(`k-${randomUUID()}`), (err) => unavailable(err) && err.message.startsWith(`${backend.name} store unavailable:`));
        proxy.port = port;
        await proxy.start();
        const outcome = await eventually(() => store.claim(`k-${randomUUID()}`), 8000);
        assert.equal(outcome.outcome, "new");
      } finally {
        await store.close();
        await proxy.stop().catch(() => undefined);
      }
    });
  });
}

describe("redis store across a real server restart", () => {
  const { spawn } = require("node:child_process");
  const startServer = async (port) => {
    const server = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: ["ignore", "pipe", "pipe"] });
    await new Promise((resolve, reject) => {
      let out = "";
      server.stdout.on("data", (d) => {
        out += d;
        if (out.includes("Ready to accept connections")) resolve();
      });
      server.once("exit", (code) => reject(new Error(`redis-server exited with ${code}: ${out}`)));
    });
    return server;
  };
  const stopServer = (server) => new Promise((resolve) => {
    server.once("exit", resolve);
    server.kill("SIGKILL");
  });

  it("fails while redis-server is down and works again after it restarts", async () => {
    const port = await closedPort();
    let server = await startServer(port);
    const store = await openStore({ backend: "redis", url: `redis://127.0.0.1:${port}`, prefix: "restart:", timeoutMs: 500 });
    try {
      assert.equal((await store.claim("before")).outcome, "new");
      await stopServer(server);
      await assert.rejects(store.claim("during"), (err) => err instanceof StoreUnavailableError && err.backend === "redis");
      server = await startServer(port);
      // This server keeps nothing across restarts, so the old claim is gone; what matters is that the store reconnects.
      const outcome = await eventually(() => store.claim("after"), 8000);
      assert.equal(outcome.outcome, "new");
      assert.equal((await store.claim("after")).outcome, "in-flight");
    } finally {
      await store.close();
      await stopServer(server);
    }
  });
});
