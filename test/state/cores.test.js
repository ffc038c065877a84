"use strict";
// The gate and dead-letter cores: fingerprints, redaction, size limit, dead-letter building, waiting for an
// in-flight key.
const { describe, it } = require("node:test");
const assert = require("node:assert/strict");
const { createHash } = require("node:crypto");
const {
  openStore,
  fingerprintOf,
  canonicalJson,
  redact,
  deadLetterOf,
  claimWhenSettled,
  MessageTooLargeError,
  DEFAULT_SECRET_KEY_PATTERNS,
} = require("../../dist/nodes/lib/state/index.js");

describe("fingerprintOf", () => {
  it("is the SHA-256 hex of canonical JSON with sorted keys at every depth", () => {
    const a = { b: 1, a: { d: [3, { z: 1, y: 2 }], c: "x" } };
    const b = { a: { c: "x", d: [3, { y: 2, z: 1 }] }, b: 1 };
    assert.equal(canonicalJson(a), '{"a":{"c":"x","d":[3,{"y":2,"z":1}]},"b":1}');
    assert.equal(fingerprintOf(a), fingerprintOf(b));
    assert.equal(fingerprintOf(a), createHash("sha256").update(canonicalJson(a)).digest("hex"));
    assert.match(fingerprintOf(a), /^[0-9a-f]{64}$/);
  });

  it("tells different payloads apart, including array order and types", () => {
    assert.notEqual(fingerprintOf([1, 2]), fingerprintOf([2, 1]));
    assert.notEqual(fingerprintOf({ n: 1 }), fingerprintOf({ n: "1" }));
    assert.notEqual(fingerprintOf({ n: null }), fingerprintOf({}));
  });

  it("follows JSON for undefined, dates, non-finite numbers and bigint; refuses cycles", () => {
    assert.equal(canonicalJson({ u: undefined, d: new Date(0), n: NaN, big: 12n, arr: [undefined] }), '{"arr":[null],"big":"12","d":"1970-01-01T00:00:00.000Z","n":null}');
    const cyclic = { a: 1 };
    cyclic.self = cyclic;
    assert.throws(() => fingerprintOf(cyclic), /circular/);
    const shared = { x: 1 };
    assert.equal(canonicalJson({ a: shared, b: shared }), '{"a":{"x":1},"b":{"x":1}}');
  });
});

describe("redact", () => {
  it("replaces secret keys at any depth, case- and separator-insensitively", () => {
    const msg = {
      payload: { customer: "C1", password: "p", nested: [{ API_KEY: "k", "x-api-key": "k2", apiKeyId: "k3" }] },
      headers: { Authorization: "Bearer abc", Cookie: "s=1", "Set-Cookie": "s=2", "content-type": "json" },
      client_secret: "s",
      access_token: "t",
      keep: { tokenless: false },
    };
    assert.deepEqual(redact(msg), {
      payload: { customer: "C1", password: "[redacted]", nested: [{ API_KEY: "[redacted]", "x-api-key": "[redacted]", apiKeyId: "[redacted]" }] },
      headers: { Authorization: "[redacted]", Cookie: "[redacted]", "Set-Cookie": "[redacted]", "content-type": "json" },
      client_secret: "[redacted]",
      access_token: "[redacted]",
      keep: { tokenless: "[redacted]" },
    });
    assert.equal(msg.payload.password, "p", "the input is not changed");
    assert.deepEqual(DEFAULT_SECRET_KEY_PATTERNS, ["authorization", "password", "secret", "token", "apikey", "cookie"]);
  });

  it("redacts configured dotted paths, with * for any key or index", () => {
    const msg = { payload: { customer: { taxId: "DE1", name: "A" }, lines: [{ iban: "X", qty: 1 }, { iban: "Y", qty: 2 }] }, taxId: "top" };
    assert.deepEqual(redact(msg, { paths: ["payload.customer.taxId", "payload.lines.*.iban"] }), {
      payload: { customer: { taxId: "[redacted]", name: "A" }, lines: [{ iban: "[redacted]", qty: 1 }, { iban: "[redacted]", qty: 2 }] },
      taxId: "top",
    });
    assert.deepEqual(redact({ password: "p", pin: "1" }, { patterns: ["pin"] }), { password: "p", pin: "[redacted]" });
  });

  it("replaces circular references and keeps shared ones", () => {
    const msg = { payload: { a: 1 } };
    msg.payload.parent = msg;
    msg.again = msg.payload;
    const shared = { v: 1 };
    assert.deepEqual(redact(msg), { payload: { a: 1, parent: "[circular]" }, again: { a: 1, parent: "[circular]" } });
    assert.deepEqual(redact({ x: shared, y: [shared] }), { x: { v: 1 }, y: [{ v: 1 }] });
  });

  it("follows JSON for odd values and keeps __proto__ as data", () => {
    const msg = JSON.parse('{"__proto__": {"polluted": true}, "ok": 1}');
    const out = redact({ ...msg, f: () => 1, u: undefined, big: 5n, when: new Date(0), buf: Buffer.from("hi"), list: [undefined, () => 1] });
    assert.equal(Object.getPrototypeOf(out), Object.prototype);
    assert.equal({}.polluted, undefined);
    assert.equal(JSON.stringify(out), '{"__proto__":{"polluted":true},"ok":1,"big":"5","when":"1970-01-01T00:00:00.000Z","buf":{"type":"Buffer","data":[104,105]},"list":[null,null]}');
    assert.equal(redact(undefined), null);
    assert.equal(redact("text"), "text");
  });

  it("rejects a message over the size limit with a clear error, early for huge ones", () => {
    assert.throws(() => redact({ payload: "x".repeat(2000) }, { maxBytes: 1000 }), (err) => err instanceof MessageTooLargeError && err.code === "KEELSON_MESSAGE_TOO_LARGE" && /1000 bytes/.test(err.message));
    // Multi-byte text is measured in bytes, not characters.
    assert.throws(() => redact({ payload: "€".repeat(400) }, { maxBytes: 1000 }), (err) => err.sizeBytes > 1000);
    assert.doesNotThrow(() => redact({ payload: "x".repeat(900) }, { maxBytes: 1000 }));
    // A huge message is refused as soon as the limit is passed, not after copying all of it.
    let read = 0;
    const text = "y".repeat(50);
    const huge = { payload: Array.from({ length: 200_000 }, (_, i) => ({ i, get text() { read++; return text; } })) };
    assert.throws(() => redact(huge), MessageTooLargeError);
    assert.ok(read < 20_000, `read ${read} of 200,000 records before refusing`);
  });
});

describe("deadLetterOf", () => {
  it("builds a capture with a new id, the error's fields and a redacted message without req/res", () => {
    const err = Object.assign(new Error("ERP said 400"), { code: "E_BAD" });
    const capture = deadLetterOf({
      queue: "orders",
      message: { _msgid: "m1", payload: { token: "t", order: 1 }, req: { socket: {} }, res: { _res: {} } },
      error: err,
      source: { id: "n1", type: "keelson-erp-order", name: "post" },
      correlationId: "c1",
      idempotencyKey: "k1",
    });
    assert.match(capture.id, /^[0-9a-f-]{36}$/);
    assert.deepEqual(capture.message, { _msgid: "m1", payload: { token: "[redacted]", order: 1 } });
    assert.equal(capture.error.message, "ERP said 400");
    assert.equal(capture.error.code, "E_BAD");
    assert.match(capture.error.stack, /ERP said 400/);
    assert.equal(capture.correlationId, "c1");
    assert.equal(capture.idempotencyKey, "k1");
    assert.equal(deadLetterOf({ id: "same", queue: "q", message: 1, error: "plain text", source: { id: "n", type: "t" } }).id, "same");
    assert.deepEqual(deadLetterOf({ queue: "q", message: 1, error: { message: "from msg.error", source: { id: "n" } }, source: { id: "n", type: "t" } }).error, { message: "from msg.error" });
    assert.throws(() => deadLetterOf({ queue: "q", message: "x".repeat(100), error: "e", source: { id: "n", type: "t" } }, { maxBytes: 50 }), MessageTooLargeError);
  });
});

describe("claimWhenSettled", () => {
  it("waits for the first claimer and answers what it left", async () => {
    const store = await openStore({ backend: "memory" });
    const first = await store.claim("done-later");
    setTimeout(() => store.complete("done-later", first.token, { order: 7 }), 120);
    const started = Date.now();
    const settled = await claimWhenSettled(store, "done-later", {}, { waitMs: 2000, initialDelayMs: 10 });
    assert.equal(settled.outcome, "duplicate");
    assert.deepEqual(settled.result, { order: 7 });
    assert.ok(Date.now() - started >= 100);

    const second = await store.claim("retried");
    setTimeout(() => store.release("retried", second.token, { mode: "retry" }), 50);
    const taken = await claimWhenSettled(store, "retried", {}, { waitMs: 2000, initialDelayMs: 10 });
    assert.equal(taken.outcome, "new", "a released key passes to the waiter");
    await store.close();
  });

  it("answers in-flight when the wait runs out, and stops when aborted", async () => {
    const store = await openStore({ backend: "memory" });
    await store.claim("stuck");
    const started = Date.now();
    assert.equal((await claimWhenSettled(store, "stuck", {}, { waitMs: 150, initialDelayMs: 10, maxDelayMs: 40 })).outcome, "in-flight");
    const waited = Date.now() - started;
    assert.ok(waited >= 140 && waited < 1500, `waited ${waited} ms`);
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error("node closing")), 30);
    await assert.rejects(claimWhenSettled(store, "stuck", {}, { waitMs: 5000, signal: controller.signal }), /node closing/);
    // A lease that runs out while waiting is taken over.
    await store.claim("short-lease", { leaseMs: 60 });
    const reclaimed = await claimWhenSettled(store, "short-lease", { leaseMs: 60 }, { waitMs: 2000, initialDelayMs: 10 });
    assert.equal(reclaimed.outcome, "new");
    assert.equal(reclaimed.reclaimed, true);
    await store.close();
  });
});

describe("openStore", () => {
  it("refuses an unknown backend and a file store without a dir", async () => {
    await assert.rejects(openStore({ backend: "sqlite" }), /unknown store backend "sqlite"/);
    await assert.rejects(openStore({ backend: "file" }), /file store needs a dir/);
    await assert.rejects(openStore({ backend: "postgres", schema: "a;drop" }), /plain identifier/);
  });
});
