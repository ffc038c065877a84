"use strict";
// A scripted vendor on 127.0.0.1: each test says how to answer, the server records what it received.
const http = require("node:http");

const lib = (name) => require(`../../dist/nodes/lib/${name}.js`);

/**
 * Starts a server whose handler is `answer(req, body, index)`, called after the whole body arrived.
 * Returns { url, requests, server, close }: requests holds {method, url, headers, body, at} in arrival order.
 */
async function vendor(answer) {
  const requests = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const record = { method: req.method, url: req.url, headers: req.headers, body, at: Date.now() };
      requests.push(record);
      answer(req, res, record, requests.length - 1);
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    server,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Writes a JSON answer. */
function json(res, status, body, headers = {}) {
  const text = body === undefined ? "" : JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(text);
}

/** A logger that keeps what it was told. */
function memoryLogger() {
  const lines = [];
  return { lines, warn: (m) => lines.push(`warn ${m}`), debug: (m) => lines.push(`debug ${m}`) };
}

/** A retry policy with tiny delays so tests run in milliseconds. */
const FAST_RETRY = { maxAttempts: 4, baseDelayMs: 5, maxDelayMs: 20, maxElapsedMs: 5000 };

module.exports = { lib, vendor, json, memoryLogger, FAST_RETRY };
