"use strict";
// One contract, four stores: every backend must answer every operation the same way.
const { describe, it, before, after } = require("node:test");
const assert = require("node:assert/strict");
const { randomUUID } = require("node:crypto");
const { backends, sleep } = require("./helpers");
const { ClaimLostError, StoreUnavailableError } = require("../../dist/nodes/lib/state/index.js");

const T = 1_800_000_000_000;
const MIN = 60_000;

function letter(id, overrides = {}) {
  return {
    id,
    queue: "orders",
    message: { payload: { order: id, lines: [1, 2] }, topic: "t" },
    error: { message: "ERP said 503", stack: "Error: ERP said 503\n    at x" },
    source: { id: "n1", type: "keelson-erp-order", name: "post order" },
    correlationId: `corr-${id}`,
    idempotencyKey: `key-${id}`,
    ...overrides,
  };
}

for (const backend of backends()) {
  describe(`${backend.name} store contract`, () => {
    let env;
    let store;
    before(async () => {
      env = backend.make();
      store = await env.open();
    });
    after(async () => {
      await store.close();
      await env.cleanup();
    });
    const key = () => `k-${randomUUID()}`;

    describe("gate", () => {
      it("answers new, then in-flight while the lease runs", async () => {
        const k = key();
        const first = await store.claim(k, { now: T });
        assert.equal(first.outcome, "new");
        assert.equal(typeof first.token, "string");
        assert.equal(first.claimedAt, T);
        assert.equal(first.reclaimed, false);
        const second = await store.claim(k, { now: T + 1, leaseMs: 5 * MIN });
        assert.deepEqual(second, { outcome: "in-flight", claimedAt: T, leaseExpiresAt: T + 10 * MIN });
      });

      it("replays the stored result as duplicate after complete", async () => {
        const k = key();
        const { token } = await store.claim(k, { now: T });
        const result = { orderNo: "SO-1", total: 0.1, big: 9007199254740991, text: "line1\nline2 ü €", nested: { a: [null, true] } };
        await store.complete(k, token, result, { now: T + 5 });
        const again = await store.claim(k, { now: T + 10 });
        assert.deepEqual(again, { outcome: "duplicate", result, claimedAt: T, completedAt: T + 5 });
        const k2 = key();
        const c2 = await store.claim(k2, { now: T });
        await store.complete(k2, c2.token, undefined, { now: T });
        assert.equal((await store.claim(k2, { now: T })).result, null);
      });

      it("frees the key on release retry and keeps it terminal on release failed", async () => {
        const k = key();
        const a = await store.claim(k, { now: T });
        await store.release(k, a.token, { mode: "retry", now: T + 1 });
        const b = await store.claim(k, { now: T + 2 });
        assert.equal(b.outcome, "new");
        assert.equal(b.reclaimed, false);
        assert.notEqual(b.token, a.token);
        await store.release(k, b.token, { mode: "failed", reason: "ERP timeout\nunknown outcome", now: T + 3 });
        assert.deepEqual(await store.claim(k, { now: T + 4 }), { outcome: "failed", reason: "ERP timeout\nunknown outcome", claimedAt: T + 2, failedAt: T + 3 });
      });

      it("lets a claimer take over an expired lease, and the old token then loses", async () => {
        const k = key();
        const a = await store.claim(k, { now: T, leaseMs: 1000 });
        assert.equal((await store.claim(k, { now: T + 999, leaseMs: 1000 })).outcome, "in-flight");
        const b = await store.claim(k, { now: T + 1000, leaseMs: 1000 });
        assert.equal(b.outcome, "new");
        assert.equal(b.reclaimed, true);
        await assert.rejects(store.complete(k, a.token, { late: true }, { now: T + 1001 }), ClaimLostError);
        await assert.rejects(store.release(k, a.token, { mode: "retry", now: T + 1001 }), ClaimLostError);
        await store.complete(k, b.token, { ok: 1 }, { now: T + 1002 });
        assert.deepEqual((await store.claim(k, { now: T + 1003 })).result, { ok: 1 });
      });

      it("forgets a key when its retention ends", async () => {
        const k = key();
        const a = await store.claim(k, { now: T, leaseMs: 50, retentionMs: 100 });
        await store.complete(k, a.token, "done", { now: T + 10, retentionMs: 100 });
        assert.equal((await store.claim(k, { now: T + 109 })).outcome, "duplicate");
        const b = await store.claim(k, { now: T + 110 });
        assert.equal(b.outcome, "new");
        assert.equal(b.reclaimed, false);
        // An abandoned claim disappears with its retention too (not only its lease).
        const k2 = key();
        await store.claim(k2, { now: T, leaseMs: 50, retentionMs: 100 });
        const c = await store.claim(k2, { now: T + 100 });
        assert.equal(c.outcome, "new");
        assert.equal(c.reclaimed, false);
      });

      it("expires by real time (TTL), not only by the now option", async () => {
        const k = key();
        const a = await store.claim(k, { leaseMs: 300, retentionMs: 600 });
        await store.complete(k, a.token, 1, { retentionMs: 600 });
        assert.equal((await store.claim(k)).outcome, "duplicate");
        await sleep(700);
        assert.equal((await store.claim(k)).outcome, "new");
      });

      it("reports a conflict for the same key with a different fingerprint, in every state", async () => {
        const k = key();
        const a = await store.claim(k, { fingerprint: "fp-a", now: T, leaseMs: 1000 });
        assert.deepEqual(await store.claim(k, { fingerprint: "fp-b", now: T + 1 }), { outcome: "conflict", storedFingerprint: "fp-a" });
        assert.equal((await store.claim(k, { fingerprint: "fp-a", now: T + 1 })).outcome, "in-flight");
        assert.equal((await store.claim(k, { now: T + 1 })).outcome, "in-flight");
        // The conflict is checked before a lease takeover: a different payload never takes the key.
        assert.equal((await store.claim(k, { fingerprint: "fp-b", now: T + 5000 })).outcome, "conflict");
        await store.complete(k, a.token, "r", { now: T + 2 });
        assert.equal((await store.claim(k, { fingerprint: "fp-b", now: T + 3 })).outcome, "conflict");
        assert.equal((await store.claim(k, { fingerprint: "fp-a", now: T + 3 })).outcome, "duplicate");
      });

      it("refuses a wrong token without touching the claim", async () => {
        const k = key();
        const a = await store.claim(k, { now: T });
        await assert.rejects(store.complete(k, randomUUID(), "x", { now: T + 1 }), (err) => err instanceof ClaimLostError && err.code === "KEELSON_CLAIM_LOST" && err.key === k);
        await assert.rejects(store.release(k, "not-the-token", { mode: "retry", now: T + 1 }), ClaimLostError);
        await assert.rejects(store.release(k, "not-the-token", { mode: "failed", now: T + 1 }), ClaimLostError);
        assert.equal((await store.claim(k, { now: T + 2 })).outcome, "in-flight");
        await store.complete(k, a.token, "mine", { now: T + 3 });
        assert.equal((await store.claim(k, { now: T + 4 })).result, "mine");
      });

      it("accepts a repeated complete by the same token but no change of mind", async () => {
        const k = key();
        const a = await store.claim(k, { now: T });
        await store.complete(k, a.token, "first", { now: T + 1 });
        await store.complete(k, a.token, "second", { now: T + 2 });
        assert.equal((await store.claim(k, { now: T + 3 })).result, "first");
        await assert.rejects(store.release(k, a.token, { mode: "failed", now: T + 4 }), ClaimLostError);
        await assert.rejects(store.release(k, a.token, { mode: "retry", now: T + 4 }), ClaimLostError);
        const k2 = key();
        const b = await store.claim(k2, { now: T });
        await store.release(k2, b.token, { mode: "failed", reason: "x", now: T + 1 });
        await store.release(k2, b.token, { mode: "failed", reason: "x", now: T + 1 });
        await assert.rejects(store.complete(k2, b.token, "late", { now: T + 2 }), ClaimLostError);
      });

      it("refuses complete on a key nobody claimed; release retry of it is a no-op", async () => {
        await assert.rejects(store.complete(key(), randomUUID(), 1, { now: T }), ClaimLostError);
        await store.release(key(), randomUUID(), { mode: "retry", now: T });
      });

      it("rejects bad input with a TypeError naming the problem", async () => {
        await assert.rejects(store.claim("", { now: T }), /key must be a non-empty string/);
        await assert.rejects(store.claim("x".repeat(1025)), /longer than 1024/);
        await assert.rejects(store.claim(key(), { leaseMs: 1000, retentionMs: 10 }), /retentionMs \(10\) must not be shorter than leaseMs/);
        await assert.rejects(store.claim(key(), { leaseMs: -1 }), /leaseMs must be a positive integer/);
        await assert.rejects(store.claim(key(), { fingerprint: "a\nb" }), /fingerprint must be/);
        const k = key();
        const a = await store.claim(k, { now: T });
        await assert.rejects(store.release(k, a.token, { mode: "later" }), /release mode must be/);
        await assert.rejects(store.complete(k, a.token, { n: 1n }), /result is not JSON-serializable/);
        const circular = {};
        circular.self = circular;
        await assert.rejects(store.complete(k, a.token, circular), /result is not JSON-serializable/);
        assert.equal((await store.claim(k, { now: T + 1 })).outcome, "in-flight");
      });
    });

    describe("dead letters", () => {
      const queue = () => `q-${randomUUID()}`;

      it("captures, then counts a re-capture as one more attempt and parks at maxAttempts", async () => {
        const q = queue();
        const id = randomUUID();
        const first = await store.capture(letter(id, { queue: q }), { now: T, maxAttempts: 3 });
        assert.deepEqual(first, { ...letter(id, { queue: q }), attempts: 1, firstFailedAt: T, lastFailedAt: T, state: "pending" });
        assert.deepEqual(await store.get(id, { now: T }), first);
        const second = await store.capture(letter(id, { queue: q, message: { payload: "edited" }, error: { message: "again" }, correlationId: "other" }), { now: T + 100, maxAttempts: 3 });
        assert.equal(second.attempts, 2);
        assert.equal(second.state, "pending");
        assert.equal(second.firstFailedAt, T);
        assert.equal(second.lastFailedAt, T + 100);
        assert.deepEqual(second.message, { payload: "edited" });
        assert.deepEqual(second.error, { message: "again" });
        assert.equal(second.correlationId, `corr-${id}`, "the correlation id stays as first captured");
        const third = await store.capture(letter(id, { queue: q }), { now: T + 200, maxAttempts: 3 });
        assert.equal(third.attempts, 3);
        assert.equal(third.state, "parked");
        const fourth = await store.capture(letter(id, { queue: q }), { now: T + 300, maxAttempts: 10 });
        assert.equal(fourth.state, "parked", "a parked entry stays parked");
        assert.equal(fourth.attempts, 4);
        const { entries } = await store.list(q, { now: T + 300 });
        assert.equal(entries.length, 1, "re-capture updates, it does not add");
      });

      it("parks at once an entry captured with attempts already at the limit", async () => {
        const e = await store.capture(letter(randomUUID(), { queue: queue(), attempts: 5 }), { now: T, maxAttempts: 5 });
        assert.equal(e.state, "parked");
        assert.equal(e.attempts, 5);
      });

      it("edits the message, removes entries, and answers undefined for unknown ids", async () => {
        const q = queue();
        const id = randomUUID();
        await store.capture(letter(id, { queue: q }), { now: T });
        const edited = await store.update(id, { message: { payload: { fixed: true } } }, { now: T + 1 });
        assert.deepEqual(edited.message, { payload: { fixed: true } });
        assert.deepEqual((await store.get(id, { now: T + 1 })).message, { payload: { fixed: true } });
        assert.equal(await store.update(randomUUID(), { message: 1 }, { now: T }), undefined);
        assert.equal(await store.get(randomUUID(), { now: T }), undefined);
        assert.equal(await store.remove([id, randomUUID()]), 1);
        assert.equal(await store.get(id, { now: T + 2 }), undefined);
        assert.equal(await store.remove([id]), 0);
        assert.equal(await store.remove([]), 0);
      });

      it("lists oldest first, pages with a cursor through ties, and filters", async () => {
        const q = queue();
        const ids = [];
        for (let i = 0; i < 25; i++) {
          const id = `e${String(i).padStart(2, "0")}-${randomUUID()}`;
          ids.push(id);
          // Five entries per millisecond: ties must be ordered by id and paged without loss or repeats.
          await store.capture(letter(id, { queue: q, source: { id: i % 2 ? "odd" : "even", type: "t" } }), { now: T + Math.floor(i / 5), maxAttempts: i < 3 ? 1 : 5 });
        }
        await store.capture(letter(randomUUID(), { queue: queue() }), { now: T });
        const seen = [];
        let cursor;
        let pages = 0;
        do {
          const page = await store.list(q, { limit: 4, cursor, now: T + 10 });
          assert.ok(page.entries.length <= 4);
          seen.push(...page.entries.map((e) => e.id));
          cursor = page.cursor;
          pages++;
        } while (cursor && pages < 20);
        const expected = ids.slice().sort((a, b) => (a < b ? -1 : 1));
        assert.deepEqual(seen, expected);
        const parked = await store.list(q, { filter: { state: "parked" }, now: T + 10 });
        assert.deepEqual(parked.entries.map((e) => e.id), ids.slice(0, 3));
        const odd = await store.list(q, { filter: { sourceId: "odd" }, limit: 1000, now: T + 10 });
        assert.equal(odd.entries.length, 12);
        const byCorr = await store.list(q, { filter: { correlationId: `corr-${ids[7]}` }, now: T + 10 });
        assert.deepEqual(byCorr.entries.map((e) => e.id), [ids[7]]);
        const byKey = await store.list(q, { filter: { idempotencyKey: `key-${ids[8]}` }, now: T + 10 });
        assert.deepEqual(byKey.entries.map((e) => e.id), [ids[8]]);
        const late = await store.list(q, { filter: { failedAfter: T + 4 }, now: T + 10 });
        assert.deepEqual(late.entries.map((e) => e.id), ids.slice(20));
        const early = await store.list(q, { filter: { failedBefore: T + 1 }, now: T + 10 });
        assert.deepEqual(early.entries.map((e) => e.id), ids.slice(0, 5));
        assert.deepEqual(await store.list(queue(), { now: T }), { entries: [] });
        await assert.rejects(store.list(q, { limit: 0 }), /limit must be an integer/);
        await assert.rejects(store.list(q, { cursor: "garbage!" }), /cursor is not one this store returned/);
      });

      it("reports each queue's depth and oldest entry", async () => {
        const qa = `a-${randomUUID()}`;
        const qb = `b-${randomUUID()}`;
        await store.capture(letter(randomUUID(), { queue: qa }), { now: T + 5 });
        await store.capture(letter(randomUUID(), { queue: qa }), { now: T + 2 });
        const onlyB = randomUUID();
        await store.capture(letter(onlyB, { queue: qb }), { now: T + 7 });
        const mine = (await store.queues({ now: T + 10 })).filter((d) => d.queue === qa || d.queue === qb);
        assert.deepEqual(mine, [
          { queue: qa, depth: 2, oldestAt: T + 2 },
          { queue: qb, depth: 1, oldestAt: T + 7 },
        ]);
        await store.remove([onlyB]);
        assert.equal((await store.queues({ now: T + 10 })).some((d) => d.queue === qb), false);
      });

      it("drops entries when their retention ends, and a later capture starts afresh", async () => {
        const q = queue();
        const id = randomUUID();
        await store.capture(letter(id, { queue: q }), { now: T, retentionMs: 100 });
        await store.capture(letter(id, { queue: q }), { now: T + 50, retentionMs: 100 });
        assert.equal((await store.get(id, { now: T + 149 })).attempts, 2, "retention counts from the last failure");
        assert.equal(await store.get(id, { now: T + 150 }), undefined);
        assert.deepEqual((await store.list(q, { now: T + 150 })).entries, []);
        assert.equal((await store.queues({ now: T + 150 })).some((d) => d.queue === q), false);
        assert.equal(await store.update(id, { message: 1 }, { now: T + 150 }), undefined);
        const again = await store.capture(letter(id, { queue: q }), { now: T + 200, retentionMs: 100 });
        assert.equal(again.attempts, 1);
        assert.equal(again.firstFailedAt, T + 200);
      });

      it("keeps queue depths right as many entries expire at different times, are replaced and removed", async () => {
        const q = queue();
        const expiries = new Map();
        for (let i = 0; i < 300; i++) {
          const id = `x${i % 250}`;
          const retentionMs = 1 + ((i * 7919) % 1000);
          await store.capture(letter(`${q}-${id}`, { queue: q }), { now: T + i, retentionMs, maxAttempts: 100 });
          expiries.set(id, T + i + retentionMs);
        }
        for (let i = 0; i < 250; i += 10) {
          await store.remove([`${q}-x${i}`]);
          expiries.delete(`x${i}`);
        }
        for (const at of [T + 100, T + 400, T + 700, T + 1000, T + 1400]) {
          const expected = [...expiries.values()].filter((e) => e > at).length;
          const depth = (await store.queues({ now: at })).find((d) => d.queue === q)?.depth ?? 0;
          assert.equal(depth, expected, `depth at +${at - T}`);
          const listed = (await store.list(q, { now: at, limit: 1000 })).entries.length;
          assert.equal(listed, expected, `listed at +${at - T}`);
        }
      });

      it("rejects malformed entries", async () => {
        await assert.rejects(store.capture({ ...letter(randomUUID()), id: "" }), /dead letter id must be/);
        await assert.rejects(store.capture({ ...letter(randomUUID()), error: {} }), /error.message must be a string/);
        await assert.rejects(store.capture({ ...letter(randomUUID()), source: { id: "x" } }), /source must have/);
        await assert.rejects(store.capture({ ...letter(randomUUID()), message: { n: 1n } }), /not JSON-serializable/);
      });
    });

    describe("watermarks", () => {
      it("keeps the last value per name", async () => {
        const name = `wm-${randomUUID()}`;
        assert.equal(await store.getWatermark(name), undefined);
        await store.setWatermark(name, { since: "2026-01-01T00:00:00Z", page: 3 });
        assert.deepEqual(await store.getWatermark(name), { since: "2026-01-01T00:00:00Z", page: 3 });
        await store.setWatermark(name, "2026-02-01");
        assert.equal(await store.getWatermark(name), "2026-02-01");
        await store.setWatermark(`${name}-2`, 0);
        assert.equal(await store.getWatermark(`${name}-2`), 0);
        assert.equal(await store.getWatermark(name), "2026-02-01");
      });
    });

    describe("trace steps", () => {
      const step = (correlationId, at, node, ids) => ({
        correlationId,
        at,
        durationMs: 3,
        node: { id: node, type: "keelson-gate" },
        outcome: "ok",
        ...(ids ? { ids } : {}),
      });

      it("finds a correlation id's steps in time order, and a business key's whole journey", async () => {
        const c1 = `corr-${randomUUID()}`;
        const c2 = `corr-${randomUUID()}`;
        const opp = `006-${randomUUID()}`;
        const other = `corr-${randomUUID()}`;
        await store.appendSteps(
          [
            step(c1, T + 2, "erp-order", { opportunityId: opp, erpOrder: "SO-9" }),
            step(c1, T + 1, "gate", { opportunityId: opp }),
            step(other, T + 1, "gate", { opportunityId: "006-other" }),
          ],
          { now: T },
        );
        await store.appendSteps([step(c2, T + 5, "crm-opportunity", { opportunityId: opp, deadLetter: "dl-1" }), step(c1, T + 3, "dlq")], { now: T });
        const byCorrelation = await store.findSteps(c1, { now: T + 10 });
        assert.deepEqual(byCorrelation.map((s) => [s.node.id, s.at]), [["gate", T + 1], ["erp-order", T + 2], ["dlq", T + 3]]);
        assert.deepEqual(byCorrelation[1], step(c1, T + 2, "erp-order", { opportunityId: opp, erpOrder: "SO-9" }));
        const byOpportunity = await store.findSteps(opp, { now: T + 10 });
        assert.deepEqual(byOpportunity.map((s) => [s.correlationId, s.node.id]), [[c1, "gate"], [c1, "erp-order"], [c1, "dlq"], [c2, "crm-opportunity"]]);
        assert.deepEqual((await store.findSteps("SO-9", { now: T + 10 })).map((s) => s.node.id), ["gate", "erp-order", "dlq"]);
        assert.deepEqual((await store.findSteps("dl-1", { now: T + 10 })).map((s) => s.correlationId), [c2]);
        assert.deepEqual(await store.findSteps(`nothing-${randomUUID()}`, { now: T + 10 }), []);
      });

      it("forgets steps once their retention has passed, and answers the most recent `limit`", async () => {
        const c = `corr-${randomUUID()}`;
        await store.appendSteps([step(c, T, "a"), step(c, T + 1, "b")], { now: T, retentionMs: MIN });
        await store.appendSteps([step(c, T + 2 * MIN, "c")], { now: T + 2 * MIN, retentionMs: MIN });
        assert.deepEqual((await store.findSteps(c, { now: T + MIN - 1 })).map((s) => s.node.id), ["a", "b", "c"]);
        assert.deepEqual((await store.findSteps(c, { now: T + 2 * MIN + 1 })).map((s) => s.node.id), ["c"]);
        assert.deepEqual(await store.findSteps(c, { now: T + 4 * MIN }), []);
        const d = `corr-${randomUUID()}`;
        await store.appendSteps(Array.from({ length: 12 }, (_, i) => step(d, T + i, `n${i}`)), { now: T });
        assert.deepEqual((await store.findSteps(d, { now: T, limit: 3 })).map((s) => s.node.id), ["n9", "n10", "n11"]);
      });

      it("rejects bad input", async () => {
        await assert.rejects(store.appendSteps("x"), TypeError);
        await assert.rejects(store.appendSteps([{ at: T }]), TypeError);
        await assert.rejects(store.appendSteps([{ correlationId: "c", at: "soon" }]), TypeError);
        await assert.rejects(store.findSteps(""), TypeError);
        await assert.rejects(store.findSteps("c", { limit: 0 }), TypeError);
        await store.appendSteps([]);
      });
    });

    it("is visible to a second store instance on the same backend", async () => {
      if (!backend.shared) {
        // Memory and file stores belong to one process: a second file store on the same directory is refused.
        if (backend.name === "file") await assert.rejects(env.open(), (err) => err.code === "KEELSON_STORE_LOCKED");
        return;
      }
      const other = await env.open();
      try {
        const k = key();
        const a = await store.claim(k);
        assert.equal((await other.claim(k)).outcome, "in-flight");
        await store.complete(k, a.token, "shared");
        assert.equal((await other.claim(k)).result, "shared");
        const c = `corr-${randomUUID()}`;
        await store.appendSteps([{ correlationId: c, at: Date.now(), node: { id: "n", type: "keelson-gate" }, outcome: "new" }]);
        assert.deepEqual((await other.findSteps(c)).map((s) => s.outcome), ["new"]);
      } finally {
        await other.close();
      }
    });

    it("fails every operation with StoreUnavailableError once closed", async () => {
      const own = backend.make();
      const closing = await own.open();
      await closing.close();
      const isClosed = (err) => err instanceof StoreUnavailableError && err.backend === backend.name && /closed/.test(err.message);
      await assert.rejects(closing.claim("k"), isClosed);
      await assert.rejects(closing.complete("k", "t", 1), isClosed);
      await assert.rejects(closing.capture(letter("x")), isClosed);
      await assert.rejects(closing.list("q"), isClosed);
      await assert.rejects(closing.queues(), isClosed);
      await assert.rejects(closing.getWatermark("w"), isClosed);
      await assert.rejects(closing.appendSteps([{ correlationId: "c", at: 1 }]), isClosed);
      await assert.rejects(closing.findSteps("c"), isClosed);
      await closing.close();
      await own.cleanup();
    });
  });
}
