"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const http = require("node:http");
const https = require("node:https");
const net = require("node:net");
const { execFileSync } = require("node:child_process");
const { lib, memoryLogger } = require("./helpers");
const { HttpClient } = lib("http/client");
const { TechnicalError } = lib("resilience/errors");

/** A private CA and a server certificate for localhost, 127.0.0.1 and vendor.test, made with openssl. */
function makeCertificates() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "keelson-tls-"));
  const run = (...args) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=Keelson Test CA");
  run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost");
  fs.writeFileSync(path.join(dir, "ext.cnf"), "subjectAltName=DNS:localhost,DNS:vendor.test,IP:127.0.0.1\n");
  run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf");
  const read = (f) => fs.readFileSync(path.join(dir, f));
  const certs = { ca: read("ca.pem"), key: read("server.key"), cert: read("server.pem") };
  fs.rmSync(dir, { recursive: true, force: true });
  return certs;
}

const certs = makeCertificates();

async function tlsVendor(t) {
  const server = https.createServer({ key: certs.key, cert: certs.cert }, (req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ host: req.headers.host, corr: req.headers["x-correlation-id"] }));
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  t.after(() => {
    server.closeAllConnections();
    return new Promise((r) => server.close(r));
  });
  return server.address().port;
}

/** A forward proxy: CONNECT tunnels to 127.0.0.1 (whatever host was asked), plain requests answered itself. */
async function proxy(t) {
  const seen = [];
  const server = http.createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ via: "proxy", url: req.url }));
  });
  const tunnels = new Set();
  server.on("connect", (req, client, head) => {
    seen.push(`CONNECT ${req.url}`);
    tunnels.add(client);
    const port = Number(req.url.split(":").pop());
    const upstream = net.connect(port, "127.0.0.1", () => {
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on("error", () => client.destroy());
    client.on("error", () => upstream.destroy());
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  t.after(() => {
    // Tunnels left the HTTP server's books when they were upgraded; idle ones sit unref'd in the client's pool.
    for (const socket of tunnels) socket.destroy();
    server.closeAllConnections();
    return new Promise((r) => server.close(r));
  });
  return { url: `http://127.0.0.1:${server.address().port}`, seen };
}

function withEnv(t, vars) {
  const saved = {};
  for (const [k, v] of Object.entries(vars)) {
    saved[k] = process.env[k];
    process.env[k] = v;
  }
  t.after(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });
}

test("TLS is verified by default: a certificate from an unknown CA is refused, not retried, with a hint", async (t) => {
  const port = await tlsVendor(t);
  const client = new HttpClient({ baseUrl: `https://localhost:${port}` });
  t.after(() => client.close());
  const err = await client.send({ method: "GET", path: "/x" }).catch((e) => e);
  assert.ok(err instanceof TechnicalError, String(err));
  assert.equal(err.kind, "network");
  assert.equal(err.retryable, false);
  assert.match(err.message, /TLS certificate not trusted \(\w+\); add the issuing CA/);
});

test("a custom CA makes the private certificate trusted", async (t) => {
  const port = await tlsVendor(t);
  const client = new HttpClient({ baseUrl: `https://localhost:${port}`, tls: { ca: certs.ca } });
  t.after(() => client.close());
  const res = await client.send({ method: "GET", path: "/x", correlationId: "c-tls" });
  assert.equal(res.status, 200);
  assert.equal(res.body.corr, "c-tls");
});

test("the insecure switch connects without verification and warns", async (t) => {
  const port = await tlsVendor(t);
  const logger = memoryLogger();
  const client = new HttpClient({ baseUrl: `https://localhost:${port}`, tls: { insecure: true }, logger });
  t.after(() => client.close());
  assert.equal((await client.send({ method: "GET", path: "/x" })).status, 200);
  assert.equal(logger.lines.filter((l) => l.startsWith("warn TLS certificate verification is OFF")).length, 1);
});

test("HTTPS_PROXY: an https call tunnels through CONNECT, and the vendor's certificate is still checked end to end", async (t) => {
  const port = await tlsVendor(t);
  const p = await proxy(t);
  withEnv(t, { HTTPS_PROXY: p.url, https_proxy: p.url, NO_PROXY: "", no_proxy: "" });
  const trusted = new HttpClient({ baseUrl: `https://vendor.test:${port}`, tls: { ca: certs.ca } });
  t.after(() => trusted.close());
  const res = await trusted.send({ method: "GET", path: "/x" });
  assert.equal(res.body.host, `vendor.test:${port}`);
  assert.deepEqual(p.seen, [`CONNECT vendor.test:${port}`]);
  const untrusted = new HttpClient({ baseUrl: `https://vendor.test:${port}` });
  t.after(() => untrusted.close());
  const err = await untrusted.send({ method: "GET", path: "/x" }).catch((e) => e);
  assert.match(err.message, /TLS certificate not trusted/, "the proxy does not weaken verification");
});

test("HTTP_PROXY: a plain http call goes to the proxy; NO_PROXY and loopback targets go direct", async (t) => {
  const p = await proxy(t);
  withEnv(t, { HTTP_PROXY: p.url, http_proxy: p.url, NO_PROXY: "direct.test", no_proxy: "direct.test" });
  const client = new HttpClient({ baseUrl: "http://vendor.test:8080/api", timeoutMs: 500 });
  t.after(() => client.close());
  const res = await client.send({ method: "GET", path: "/items" });
  assert.deepEqual(res.body, { via: "proxy", url: "http://vendor.test:8080/api/items" });
  const direct = new HttpClient({ baseUrl: "http://direct.test:8080", timeoutMs: 300 });
  t.after(() => direct.close());
  await direct.send({ method: "GET", path: "/x" }).catch(() => {});
  const local = http.createServer((req, res) => res.end("{}"));
  await new Promise((r) => local.listen(0, "127.0.0.1", r));
  t.after(() => new Promise((r) => local.close(r)));
  const loop = new HttpClient({ baseUrl: `http://127.0.0.1:${local.address().port}` });
  t.after(() => loop.close());
  assert.equal((await loop.send({ method: "GET", path: "/x" })).status, 200);
  assert.deepEqual(p.seen, ["GET http://vendor.test:8080/api/items"], "neither the NO_PROXY host nor loopback went through the proxy");
});
