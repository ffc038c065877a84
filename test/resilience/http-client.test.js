"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const net = require("node:net");
const { lib, vendor, json, memoryLogger } = require("./helpers");
const { HttpClient } = lib("http/client");
const { TechnicalError, UnknownOutcomeError } = lib("resilience/errors");

test("every call carries a correlation id: the caller's, or a fresh one; the header name is configurable", async (t) => {
  const v = await vendor((req, res) => json(res, 200, { ok: true }));
  t.after(() => v.close());
  const client = new HttpClient({ baseUrl: v.url + "/api/", correlationHeader: "X-Request-Id" });
  t.after(() => client.close());
  await client.send({ method: "GET", path: "/a", correlationId: "corr-1" });
  await client.send({ method: "POST", path: "b", body: { x: 1 } });
  await client.send({ method: "GET", path: "c" });
  assert.equal(v.requests[0].headers["x-request-id"], "corr-1");
  assert.match(v.requests[1].headers["x-request-id"], /^[0-9a-f-]{36}$/);
  assert.notEqual(v.requests[1].headers["x-request-id"], v.requests[2].headers["x-request-id"]);
  assert.deepEqual(v.requests.map((r) => r.url), ["/api/a", "/api/b", "/api/c"]);
  assert.equal(v.requests[1].headers["content-type"], "application/json");
  assert.equal(v.requests[1].body, '{"x":1}');
});

test("keep-alive: consecutive calls reuse one socket", async (t) => {
  const ports = [];
  const v = await vendor((req, res) => {
    ports.push(req.socket.remotePort);
    json(res, 200, {});
  });
  t.after(() => v.close());
  const client = new HttpClient({ baseUrl: v.url });
  t.after(() => client.close());
  for (let i = 0; i < 5; i++) await client.send({ method: "GET", path: "/x" });
  assert.equal(new Set(ports).size, 1);
});

test("query values are encoded, undefined ones left out; form bodies are form-encoded", async (t) => {
  const v = await vendor((req, res) => json(res, 200, {}));
  t.after(() => v.close());
  const client = new HttpClient({ baseUrl: v.url });
  t.after(() => client.close());
  await client.send({ method: "GET", path: "/q", query: { q: "SELECT Id FROM Account", limit: 5, skip: undefined } });
  await client.send({ method: "POST", path: "/f", body: new URLSearchParams({ a: "1 2" }) });
  assert.equal(v.requests[0].url, "/q?q=SELECT+Id+FROM+Account&limit=5");
  assert.equal(v.requests[1].headers["content-type"], "application/x-www-form-urlencoded");
  assert.equal(v.requests[1].body, "a=1+2");
});

test("a response is returned whatever its status, with lower-case headers, cookies apart and JSON parsed", async (t) => {
  const v = await vendor((req, res) => {
    res.setHeader("Set-Cookie", ["a=1; Path=/", "b=2"]);
    json(res, 404, [{ errorCode: "NOT_FOUND", message: "gone" }], { "X-Thing": "y" });
  });
  t.after(() => v.close());
  const client = new HttpClient({ baseUrl: v.url });
  t.after(() => client.close());
  const res = await client.send({ method: "GET", path: "/x?secret=1" });
  assert.equal(res.status, 404);
  assert.equal(res.headers["x-thing"], "y");
  assert.deepEqual(res.setCookie, ["a=1; Path=/", "b=2"]);
  assert.deepEqual(res.body, [{ errorCode: "NOT_FOUND", message: "gone" }]);
  assert.equal(res.url, `${v.url}/x`, "the query (which may hold keys) is not kept in the url");
});

test("timeout before the request went out (body stuck in the socket) is a retryable TechnicalError", async (t) => {
  // A raw TCP server that accepts and never reads: a large body cannot leave the client's socket buffers.
  const sockets = [];
  const server = net.createServer((socket) => {
    sockets.push(socket);
    socket.pause();
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  t.after(() => {
    for (const s of sockets) s.destroy();
    return new Promise((r) => server.close(r));
  });
  const client = new HttpClient({ baseUrl: `http://127.0.0.1:${server.address().port}` });
  t.after(() => client.close());
  const body = Buffer.alloc(64 * 1024 * 1024, 0x61);
  const err = await client.send({ method: "POST", path: "/orders", body, headers: { "content-type": "text/plain" }, timeoutMs: 150 }).catch((e) => e);
  assert.ok(err instanceof TechnicalError, String(err));
  assert.ok(!(err instanceof UnknownOutcomeError), err.message);
  assert.equal(err.kind, "timeout");
  assert.equal(err.retryable, true);
  assert.match(err.message, /before the request was sent/);
});

test("timeout after a POST went out is an UnknownOutcomeError; after a GET it is a retryable timeout", async (t) => {
  const v = await vendor(() => {}); // reads the body, never answers
  t.after(() => v.close());
  const client = new HttpClient({ baseUrl: v.url });
  t.after(() => client.close());
  const started = Date.now();
  const post = await client.send({ method: "POST", path: "/orders", body: { id: 1 }, timeoutMs: 80 }).catch((e) => e);
  assert.ok(Date.now() - started >= 70);
  assert.ok(post instanceof UnknownOutcomeError, String(post));
  assert.equal(post.kind, "timeout");
  assert.equal(post.retryable, false);
  assert.match(post.message, /POST .*\/orders: no complete answer within 80 ms after the request was sent; the vendor may have processed it/);
  const get = await client.send({ method: "GET", path: "/orders/1", timeoutMs: 50 }).catch((e) => e);
  assert.ok(get instanceof TechnicalError && !(get instanceof UnknownOutcomeError), String(get));
  assert.equal(get.retryable, true);
  const keyed = await client.send({ method: "POST", path: "/orders", body: {}, idempotent: true, timeoutMs: 50 }).catch((e) => e);
  assert.ok(!(keyed instanceof UnknownOutcomeError), "a POST marked idempotent (idempotency key) is retryable");
  assert.equal(keyed.retryable, true);
});

test("connection reset after the vendor received a POST's body is an UnknownOutcomeError", async (t) => {
  const v = await vendor((req) => req.socket.destroy());
  t.after(() => v.close());
  const client = new HttpClient({ baseUrl: v.url });
  t.after(() => client.close());
  const err = await client.send({ method: "POST", path: "/orders", body: { id: 7 } }).catch((e) => e);
  assert.ok(err instanceof UnknownOutcomeError, String(err));
  assert.equal(err.kind, "network");
  assert.equal(v.requests.length, 1);
  assert.equal(v.requests[0].body, '{"id":7}');
  const get = await client.send({ method: "GET", path: "/orders/7" }).catch((e) => e);
  assert.ok(get instanceof TechnicalError && !(get instanceof UnknownOutcomeError));
  assert.equal(get.retryable, true);
});

test("connection refused is a retryable network error, not an unknown outcome, even for a POST", async () => {
  const server = net.createServer();
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const port = server.address().port;
  await new Promise((r) => server.close(r));
  const client = new HttpClient({ baseUrl: `http://127.0.0.1:${port}` });
  const err = await client.send({ method: "POST", path: "/orders", body: {} }).catch((e) => e);
  client.close();
  assert.ok(err instanceof TechnicalError && !(err instanceof UnknownOutcomeError), String(err));
  assert.equal(err.kind, "network");
  assert.equal(err.retryable, true);
  assert.equal(err.code, "ECONNREFUSED");
});

test("a response over the size limit is refused with a clear message", async (t) => {
  const v = await vendor((req, res) => json(res, 200, { data: "x".repeat(5000) }));
  t.after(() => v.close());
  const client = new HttpClient({ baseUrl: v.url, maxResponseBytes: 1000 });
  t.after(() => client.close());
  const err = await client.send({ method: "GET", path: "/big" }).catch((e) => e);
  assert.ok(err instanceof TechnicalError, String(err));
  assert.equal(err.kind, "protocol");
  assert.equal(err.retryable, false);
  assert.match(err.message, /larger than the 1000-byte limit/);
});

test("errors never carry credentials sent in headers or the query", async (t) => {
  const v = await vendor((req) => req.socket.destroy());
  t.after(() => v.close());
  const client = new HttpClient({ baseUrl: v.url });
  t.after(() => client.close());
  const err = await client.send({ method: "POST", path: "/x", query: { hapikey: "SECRET-Q" }, headers: { Authorization: "Bearer SECRET-H" }, body: {} }).catch((e) => e);
  const dump = JSON.stringify({ ...err, message: err.message, stack: err.stack });
  assert.doesNotMatch(dump, /SECRET/);
});

test("insecure TLS logs a warning naming the connection", () => {
  const logger = memoryLogger();
  const client = new HttpClient({ baseUrl: "https://erp.example", tls: { insecure: true }, logger });
  client.close();
  assert.equal(logger.lines.length, 1);
  assert.match(logger.lines[0], /^warn TLS certificate verification is OFF for https:\/\/erp\.example/);
  const quiet = memoryLogger();
  new HttpClient({ baseUrl: "https://erp.example", logger: quiet }).close();
  assert.deepEqual(quiet.lines, []);
});

test("a relative path without a base URL is a clear error", async () => {
  const client = new HttpClient();
  await assert.rejects(client.send({ method: "GET", path: "x" }), /needs a baseUrl/);
  client.close();
});
