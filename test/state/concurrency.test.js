"use strict";
// Many claimers racing for the same keys (Camel's idempotent-consumer concurrency test, scaled up): 10 claimers ×
// the same 1,000 keys must give exactly 1,000 `new`, one per key — across two store instances where the backend is
// shared, within one process for memory and file.
const { describe, it } = require("node:test");
const assert = require("node:assert/strict");
const { randomUUID } = require("node:crypto");
const { backends } = require("./helpers");

const KEYS = 1000;
const CLAIMERS = 10;

for (const backend of backends()) {
  describe(`${backend.name} store under concurrent claims`, () => {
    it(`gives exactly ${KEYS} new for ${CLAIMERS} × the same ${KEYS} keys`, async () => {
      const env = backend.make();
      // 10,000 claims at once queue up behind the connection pools: the deadline here is for outages, not load.
      const stores = [await env.open({ timeoutMs: 60_000 })];
      if (backend.shared) stores.push(await env.open({ timeoutMs: 60_000 }));
      try {
        const run = randomUUID();
        const keys = Array.from({ length: KEYS }, (_, i) => `${run}:${i}`);
        const winners = new Map();
        const outcomes = { new: 0, "in-flight": 0, duplicate: 0 };
        // Each claimer walks the keys in its own order, so claims for one key arrive interleaved from every claimer.
        const claimers = Array.from({ length: CLAIMERS }, async (_, c) => {
          const store = stores[c % stores.length];
          const order = c % 2 ? keys.slice().reverse() : keys;
          const offset = (c * 97) % KEYS;
          await Promise.all(
            order.map(async (_, i) => {
              const k = order[(i + offset) % KEYS];
              const outcome = await store.claim(k, { fingerprint: "same" });
              outcomes[outcome.outcome]++;
              if (outcome.outcome === "new") {
                assert.equal(winners.has(k), false, `second new for ${k}`);
                winners.set(k, outcome.token);
                // Half the winners complete at once.
                if (Number(k.split(":")[1]) % 2 === 0) await store.complete(k, outcome.token, { k });
              }
            }),
          );
        });
        await Promise.all(claimers);
        assert.equal(outcomes.new, KEYS);
        assert.equal(winners.size, KEYS);
        assert.equal(outcomes["in-flight"] + outcomes.duplicate, KEYS * (CLAIMERS - 1));
        const last = stores[stores.length - 1];
        const after = await Promise.all(keys.map((k) => last.claim(k, { fingerprint: "same" })));
        after.forEach((outcome, i) => {
          if (i % 2 === 0) assert.deepEqual(outcome.result, { k: keys[i] }, `completed ${keys[i]}`);
          else assert.equal(outcome.outcome, "in-flight", `still claimed ${keys[i]}`);
        });
      } finally {
        for (const store of stores) await store.close();
        await env.cleanup();
      }
    });
  });
}
