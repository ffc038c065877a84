"use strict";
// Shared by the state tests: how to open each backend on a private prefix/schema, clean up, and cut the
// connection to a server (a TCP proxy on 127.0.0.1, port 0, that can be stopped and started on the same port).
const fs = require("node:fs");
const os = require("node:os");
const net = require("node:net");
const path = require("node:path");
const { randomBytes } = require("node:crypto");
const { openStore } = require("../../dist/nodes/lib/state/index.js");

const { REDIS_URL, POSTGRES_URL, dropRedisPrefix, dropPostgresSchema } = require("../support/services");

function runId() {
  return `${process.pid}_${randomBytes(4).toString("hex")}`;
}

/** A directory under the OS temp dir, removed by the returned cleanup. */
function tempDir(label) {
  return fs.mkdtempSync(path.join(os.tmpdir(), `keelson-${label}-`));
}

/**
 * Backends the contract suite runs against. `open(extra)` opens a fresh store; every store of one backend object
 * shares the same prefix/schema/dir (so two instances see the same data); `cleanup()` removes it all.
 */
function backends() {
  return [
    {
      name: "memory",
      shared: false,
      make() {
        return { open: (extra = {}) => openStore({ backend: "memory", ...extra }), cleanup: async () => {} };
      },
    },
    {
      name: "file",
      shared: false,
      make() {
        const dir = tempDir("file");
        return {
          dir,
          open: (extra = {}) => openStore({ backend: "file", dir, ...extra }),
          cleanup: async () => fs.rmSync(dir, { recursive: true, force: true }),
        };
      },
    },
    {
      name: "redis",
      shared: true,
      make() {
        const prefix = `keelson-test:${runId()}:`;
        return {
          prefix,
          open: (extra = {}) => openStore({ backend: "redis", url: REDIS_URL, prefix, ...extra }),
          cleanup: () => dropRedisPrefix(prefix),
        };
      },
    },
    {
      name: "postgres",
      shared: true,
      make() {
        const schema = `keelson_test_${runId()}`;
        return {
          schema,
          open: (extra = {}) => openStore({ backend: "postgres", connectionString: POSTGRES_URL, schema, ...extra }),
          cleanup: () => dropPostgresSchema(schema),
        };
      },
    },
  ];
}


/** A TCP proxy to `target` ("host:port") on 127.0.0.1; stop() cuts every connection, start() listens again on the same port. */
class Proxy {
  constructor(targetPort) {
    this.targetPort = targetPort;
    this.port = 0;
    this.sockets = new Set();
    this.server = undefined;
  }

  async start() {
    this.server = net.createServer((client) => {
      const upstream = net.connect(this.targetPort, "127.0.0.1");
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on("close", () => this.sockets.delete(s));
        s.on("error", () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(this.port, "127.0.0.1", resolve);
    });
    this.port = this.server.address().port;
    return this.port;
  }

  async stop() {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

/** A port on 127.0.0.1 that nothing listens on (taken from the OS, then released). */
async function closedPort() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Retries `fn` until it resolves or `ms` passes; returns its value or throws its last error. */
async function eventually(fn, ms = 5000) {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

module.exports = { backends, tempDir, Proxy, closedPort, eventually, sleep, REDIS_URL, POSTGRES_URL, runId };
