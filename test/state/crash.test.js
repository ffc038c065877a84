"use strict";
// The file store under SIGKILL: 50 kill/restart rounds with torn and corrupt tails between them; every
// acknowledged claim, completion, failure, capture and watermark must survive (scripts/soak-crash.js runs 1,000). The
// child compacts a small log often, so kills also land during compaction.
const { it } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const { tempDir } = require("./helpers");
const { runCrashRounds } = require("../../scripts/soak-crash.js");

it("keeps every acknowledged operation across 50 SIGKILL rounds with damaged tails", async () => {
  const dir = tempDir("crash");
  try {
    const totals = await runCrashRounds({ rounds: 50, dir, minRunMs: 10, maxRunMs: 120 });
    assert.equal(totals.rounds, 50);
    assert.ok(totals.acknowledged > 1000, `only ${totals.acknowledged} operations were acknowledged`);
    assert.ok(totals.damaged > 0 && totals.truncatedBytes > 0, "some rounds had their tail damaged and truncated");
    assert.ok(totals.compactions > 0, "the child compacted its log in some rounds (and was killed around it)");
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
