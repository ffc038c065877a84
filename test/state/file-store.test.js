"use strict";
// The file store's own promises: state survives reopen, a torn or corrupt tail is cut off (never a refusal to
// start), damage mid-log is skipped, one process owns the directory, compaction keeps the live state, and an
// operation is answered only after its record was fdatasync'ed — in batches.
const { describe, it, afterEach } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");
const { spawnSync } = require("node:child_process");
const { tempDir, sleep } = require("./helpers");
const { openStore, StoreUnavailableError } = require("../../dist/nodes/lib/state/index.js");
const { encodeRecord } = require("../../dist/nodes/lib/state/log-format.js");

const T = 1_800_000_000_000;
const dirs = [];
function dir() {
  const d = tempDir("filestore");
  dirs.push(d);
  return d;
}
afterEach(() => {
  while (dirs.length) fs.rmSync(dirs.pop(), { recursive: true, force: true });
});
const logOf = (d) => path.join(d, "state-v1.log");
const letter = (id, extra = {}) => ({ id, queue: "q", message: { payload: id }, error: { message: "e" }, source: { id: "n", type: "t" }, ...extra });

/** Fills a store with one of everything and returns what a reopened store must show. */
async function fill(store) {
  const a = await store.claim("claimed", { now: T, fingerprint: "fa" });
  const b = await store.claim("completed", { now: T });
  await store.complete("completed", b.token, { order: "SO-1" }, { now: T + 1 });
  const c = await store.claim("failed", { now: T });
  await store.release("failed", c.token, { mode: "failed", reason: "timeout", now: T + 2 });
  const d = await store.claim("released", { now: T });
  await store.release("released", d.token, { mode: "retry", now: T + 3 });
  await store.capture(letter("l1"), { now: T });
  await store.capture(letter("l1"), { now: T + 5 });
  await store.capture(letter("l2"), { now: T + 1 });
  await store.update("l2", { message: { edited: true } }, { now: T + 6 });
  await store.capture(letter("l3"), { now: T + 2 });
  await store.remove(["l3"]);
  await store.setWatermark("invoices", "2026-11-01T00:00:00Z");
  return a.token;
}

async function expectFilled(store, claimedToken) {
  assert.deepEqual(await store.claim("claimed", { now: T + 10, fingerprint: "fa" }), { outcome: "in-flight", claimedAt: T, leaseExpiresAt: T + 600_000 });
  assert.deepEqual((await store.claim("completed", { now: T + 10 })).result, { order: "SO-1" });
  assert.equal((await store.claim("failed", { now: T + 10 })).reason, "timeout");
  assert.equal((await store.get("l1", { now: T + 10 })).attempts, 2);
  assert.deepEqual((await store.get("l2", { now: T + 10 })).message, { edited: true });
  assert.equal(await store.get("l3", { now: T + 10 }), undefined);
  assert.equal(await store.getWatermark("invoices"), "2026-11-01T00:00:00Z");
  await store.complete("claimed", claimedToken, "after reopen", { now: T + 11 });
  const released = await store.claim("released", { now: T + 12 });
  assert.equal(released.outcome, "new");
}

describe("file store", () => {
  it("keeps trace steps in trace-v1.log across a reopen, skips a torn last line, and rewrites the file when most of it expired", async () => {
    const d = dir();
    const now = Date.now();
    const step = (c, at, node, ids) => ({ correlationId: c, at, durationMs: 1, node: { id: node, type: "keelson-gate" }, outcome: "ok", ...(ids ? { ids } : {}) });
    let store = await openStore({ backend: "file", dir: d });
    await store.appendSteps([step("c1", now, "gate", { opportunityId: "006A" }), step("c1", now + 1, "erp")]);
    await store.appendSteps(Array.from({ length: 1200 }, (_, i) => step(`gone-${i}`, now, "x")), { retentionMs: 1 });
    await store.close();
    const tracePath = path.join(d, "trace-v1.log");
    assert.equal(fs.readFileSync(tracePath, "utf8").trim().split("\n").length, 1202);
    fs.appendFileSync(tracePath, '[9999999999999,{"correlationId":"torn","at":1');
    await sleep(5);
    store = await openStore({ backend: "file", dir: d });
    assert.deepEqual((await store.findSteps("006A")).map((s) => s.node.id), ["gate", "erp"]);
    assert.deepEqual(await store.findSteps("gone-7"), []);
    assert.deepEqual(await store.findSteps("torn"), []);
    await store.sweepNow();
    assert.equal(fs.readFileSync(tracePath, "utf8").trim().split("\n").length, 2, "the expired steps are gone from the file");
    await store.appendSteps([step("c1", now + 2, "dlq")]);
    await store.close();
    store = await openStore({ backend: "file", dir: d });
    assert.deepEqual((await store.findSteps("c1")).map((s) => s.node.id), ["gate", "erp", "dlq"]);
    await store.close();
  });

  it("rebuilds its state from the log on reopen", async () => {
    const d = dir();
    let store = await openStore({ backend: "file", dir: d });
    const token = await fill(store);
    await store.close();
    store = await openStore({ backend: "file", dir: d });
    assert.equal(store.recovery.truncatedBytes, 0);
    assert.deepEqual(store.recovery.damaged, []);
    assert.ok(store.recovery.records >= 13);
    await expectFilled(store, token);
    await store.close();
  });

  for (const [kind, damage] of [
    ["a torn record (header and half the payload)", (rec) => rec.subarray(0, 20)],
    ["a header alone", (rec) => rec.subarray(0, 10)],
    ["a record with a bad CRC", (rec) => Buffer.concat([rec.subarray(0, rec.length - 1), Buffer.from([rec[rec.length - 1] ^ 1])])],
    ["random bytes", () => Buffer.from("\xf5\x01garbage that is not a record at all", "latin1")],
    ["a run of zeros (extended but never written)", () => Buffer.alloc(8192)],
  ]) {
    it(`cuts off ${kind} at the tail and starts`, async () => {
      const d = dir();
      let store = await openStore({ backend: "file", dir: d });
      const token = await fill(store);
      await store.close();
      const size = fs.statSync(logOf(d)).size;
      const bytes = damage(encodeRecord(JSON.stringify({ t: "g", k: "torn", s: "claimed", tok: "x", ca: T, le: T + 1, ex: T + 9e9 })));
      fs.appendFileSync(logOf(d), bytes);
      store = await openStore({ backend: "file", dir: d });
      assert.equal(store.recovery.truncatedBytes, bytes.length);
      assert.equal(fs.statSync(logOf(d)).size, size);
      assert.equal((await store.claim("torn", { now: T })).outcome, "new", "the torn record is not applied");
      await expectFilled(store, token);
      await store.close();
      // Writes after the cut land on a clean tail and survive the next reopen.
      store = await openStore({ backend: "file", dir: d });
      assert.equal(store.recovery.truncatedBytes, 0);
      assert.equal((await store.claim("torn", { now: T })).outcome, "in-flight");
      await store.close();
    });
  }

  it("skips a damaged record in the middle of the log and keeps the ones after it", async () => {
    const d = dir();
    let store = await openStore({ backend: "file", dir: d });
    await store.claim("before", { now: T });
    const sizeBefore = fs.statSync(logOf(d)).size;
    await store.claim("damaged", { now: T });
    const sizeDamaged = fs.statSync(logOf(d)).size;
    await store.claim("after", { now: T });
    await store.close();
    const fd = fs.openSync(logOf(d), "r+");
    fs.writeSync(fd, Buffer.from("#"), 0, 1, sizeBefore + 20);
    fs.closeSync(fd);
    store = await openStore({ backend: "file", dir: d });
    assert.deepEqual(store.recovery.damaged, [{ offset: sizeBefore, bytes: sizeDamaged - sizeBefore }]);
    assert.equal(store.recovery.truncatedBytes, 0);
    assert.equal((await store.claim("before", { now: T })).outcome, "in-flight");
    assert.equal((await store.claim("after", { now: T })).outcome, "in-flight");
    assert.equal((await store.claim("damaged", { now: T })).outcome, "new");
    await store.close();
  });

  it("starts on an empty or missing log and ignores a compaction left half-done", async () => {
    const d = dir();
    fs.writeFileSync(logOf(d), "");
    fs.writeFileSync(path.join(d, "state-v1.log.compact"), "half a snapshot");
    const store = await openStore({ backend: "file", dir: path.join(d) });
    assert.deepEqual(store.recovery, { records: 0, truncatedBytes: 0, damaged: [] });
    assert.equal(fs.existsSync(path.join(d, "state-v1.log.compact")), false);
    await store.close();
    const fresh = await openStore({ backend: "file", dir: path.join(d, "new", "nested") });
    assert.equal((await fresh.claim("k")).outcome, "new");
    await fresh.close();
  });

  describe("directory lock", () => {
    it("refuses a second open in this process and in another live process", async () => {
      const d = dir();
      const store = await openStore({ backend: "file", dir: d });
      await assert.rejects(openStore({ backend: "file", dir: d }), (err) => err.code === "KEELSON_STORE_LOCKED" && err.pid === process.pid);
      const script = `require(${JSON.stringify(path.resolve(__dirname, "../../dist/nodes/lib/state/index.js"))}).openStore({backend:"file",dir:${JSON.stringify(d)}}).then(()=>process.exit(0),(e)=>{console.log(e.code+" "+e.pid);process.exit(3)})`;
      const other = spawnSync(process.execPath, ["-e", script], { encoding: "utf8" });
      assert.equal(other.status, 3);
      assert.equal(other.stdout.trim(), `KEELSON_STORE_LOCKED ${process.pid}`);
      await store.close();
      assert.equal(fs.existsSync(path.join(d, "lock")), false, "close removes the lock");
    });

    it("takes over the lock of a dead process and a stale lock with its own pid", async () => {
      const d = dir();
      const dead = spawnSync(process.execPath, ["-e", "console.log(process.pid)"], { encoding: "utf8" });
      fs.writeFileSync(path.join(d, "lock"), JSON.stringify({ pid: Number(dead.stdout.trim()) }));
      let store = await openStore({ backend: "file", dir: d });
      assert.equal(JSON.parse(fs.readFileSync(path.join(d, "lock"), "utf8")).pid, process.pid);
      await store.close();
      // A container restarted with the same pid finds its own pid in the lock: not held here, so stale.
      fs.writeFileSync(path.join(d, "lock"), JSON.stringify({ pid: process.pid, started: "1" }));
      store = await openStore({ backend: "file", dir: d });
      await store.close();
      fs.writeFileSync(path.join(d, "lock"), "not json");
      store = await openStore({ backend: "file", dir: d });
      await store.close();
    });
  });

  describe("durability", () => {
    it("answers only after fdatasync, and batches concurrent operations into few syncs", async (t) => {
      const d = dir();
      const store = await openStore({ backend: "file", dir: d });
      const realSync = fs.fdatasync;
      let syncs = 0;
      let syncing = 0;
      let answeredDuringSync = false;
      t.after(() => (fs.fdatasync = realSync));
      fs.fdatasync = (fd, cb) => {
        syncs++;
        syncing++;
        setTimeout(() => realSync(fd, (err) => {
          syncing--;
          cb(err);
        }), 5);
      };
      const outcomes = await Promise.all(
        Array.from({ length: 1000 }, (_, i) =>
          store.claim(`k${i}`).then((o) => {
            if (syncing > 0 && syncs === 1) answeredDuringSync = true;
            return o;
          }),
        ),
      );
      fs.fdatasync = realSync;
      assert.ok(outcomes.every((o) => o.outcome === "new"));
      assert.equal(answeredDuringSync, false);
      assert.ok(syncs >= 1 && syncs <= 5, `1,000 claims took ${syncs} fdatasync calls`);
      // A read of a record not yet on disk waits for it as well.
      let flushed = false;
      fs.fdatasync = (fd, cb) => setTimeout(() => realSync(fd, (err) => ((flushed = true), cb(err))), 20);
      const claim = store.claim("pending");
      const again = store.claim("pending");
      assert.equal((await again).outcome, "in-flight");
      assert.equal(flushed, true, "the in-flight answer waited for the claim's record");
      await claim;
      fs.fdatasync = realSync;
      await store.close();
    });

    it("fails closed after a write error, then reloads from disk once writes work again", async (t) => {
      const d = dir();
      const store = await openStore({ backend: "file", dir: d });
      await store.claim("before");
      const realSync = fs.fdatasync;
      t.after(() => (fs.fdatasync = realSync));
      fs.fdatasync = (fd, cb) => cb(Object.assign(new Error("EIO: i/o error, fdatasync"), { code: "EIO" }));
      const unavailable = (err) => err instanceof StoreUnavailableError && err.backend === "file" && /EIO/.test(err.message);
      await assert.rejects(store.claim("during"), unavailable);
      // The next operation reloads the state from the log (memory may hold what never reached the disk) ...
      assert.equal((await store.claim("before")).outcome, "in-flight");
      // ... and writes fail again while the disk does; within a second no reload is tried.
      await assert.rejects(store.claim("still failing"), unavailable);
      await assert.rejects(store.claim("before"), unavailable);
      fs.fdatasync = realSync;
      await sleep(1100);
      const after = await store.claim("after");
      assert.equal(after.outcome, "new");
      assert.equal((await store.claim("before")).outcome, "in-flight");
      await store.complete("after", after.token, "ok");
      await store.close();
      const reopened = await openStore({ backend: "file", dir: d });
      assert.equal((await reopened.claim("before")).outcome, "in-flight");
      assert.equal((await reopened.claim("after")).result, "ok");
      await reopened.close();
    });
  });

  describe("compaction", () => {
    it("rewrites the log with the live state only, while operations go on", async () => {
      const d = dir();
      let store = await openStore({ backend: "file", dir: d });
      const token = await fill(store);
      for (let round = 0; round < 4; round++) {
        const keys = Array.from({ length: 500 }, (_, i) => `churn${i}`);
        const claims = await Promise.all(keys.map((k) => store.claim(k)));
        await Promise.all(keys.map((k, i) => store.release(k, claims[i].token, { mode: "retry" })));
      }
      // Claimed 5 s ago with 1 s retention: expired by the wall clock that compaction goes by.
      await store.claim("short", { leaseMs: 1000, retentionMs: 1000, now: Date.now() - 5000 });
      const before = store.logBytes;
      const during = Array.from({ length: 300 }, (_, i) => store.claim(`during${i}`));
      const compacting = store.compact();
      during.push(...Array.from({ length: 300 }, (_, i) => store.claim(`during${300 + i}`)));
      await compacting;
      await Promise.all(during);
      const late = await store.capture(letter("late"), { now: T });
      assert.ok(store.logBytes < before / 2, `log ${before} → ${store.logBytes} bytes`);
      await store.close();
      store = await openStore({ backend: "file", dir: d });
      assert.equal(store.recovery.truncatedBytes, 0);
      await expectFilled(store, token);
      for (let i = 0; i < 600; i++) assert.equal((await store.claim(`during${i}`)).outcome, "in-flight", `during${i}`);
      assert.equal((await store.claim("churn5")).outcome, "new");
      assert.equal((await store.claim("short")).outcome, "new", "expired keys are not carried over");
      assert.equal((await store.get("late", { now: T })).id, late.id);
      await store.close();
    });

    it("compacts by itself once the log is large and mostly dead", async () => {
      const d = dir();
      let store = await openStore({ backend: "file", dir: d, compactAfterBytes: 32 * 1024 });
      let largest = 0;
      for (let wave = 0; wave < 60; wave++) {
        await Promise.all(Array.from({ length: 50 }, (_, i) => store.setWatermark("position", wave * 50 + i)));
        largest = Math.max(largest, store.logBytes);
      }
      await sleep(50);
      assert.ok(largest >= 32 * 1024);
      assert.ok(store.logBytes < 40 * 1024, `the log stayed at ${store.logBytes} bytes`);
      await store.close();
      store = await openStore({ backend: "file", dir: d });
      assert.equal(await store.getWatermark("position"), 2999);
      await store.close();
    });
  });
});
