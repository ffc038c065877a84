"use strict";
// A real Node-RED process on the file store, SIGKILLed at random moments while it answers claims and captures over
// HTTP, then restarted on the same user dir: start-up succeeds and nothing it acknowledged is lost.
// `npm run soak:crash:nodered` runs the same for 1,000 rounds.
const test = require("node:test");
const assert = require("node:assert/strict");
const { runNodeRedCrashRounds } = require("../support/nodered-crash");

const ROUNDS = 50;

test(`the file store behind a real Node-RED keeps every acknowledged claim and capture through ${ROUNDS} SIGKILLs`, { timeout: 900000 }, async (t) => {
  const totals = await runNodeRedCrashRounds({ rounds: ROUNDS, log: (line) => console.log(line) });
  const starts = totals.startMs.slice().sort((a, b) => a - b);
  t.diagnostic(`${totals.rounds} rounds, ${totals.claims} claims and ${totals.letters} captures acknowledged, all found after restarts; start-up median ${starts[Math.floor(starts.length / 2)]} ms, max ${starts[starts.length - 1]} ms`);
  assert.equal(totals.rounds, ROUNDS);
  // The rounds did real work: most of them were killed with answers acknowledged.
  assert.ok(totals.claims >= ROUNDS, `only ${totals.claims} claims acknowledged`);
  assert.ok(totals.letters >= ROUNDS / 2, `only ${totals.letters} captures acknowledged`);
});
