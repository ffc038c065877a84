#!/usr/bin/env node
// Crash soak of a real Node-RED process on the file store: claims and captures over HTTP, SIGKILL at a random moment,
// restart on the same user dir, every acknowledged claim and capture checked (test/support/nodered-crash.js).
// `node scripts/soak-crash-nodered.js [rounds]` (default 1,000; needs a build). test/flows/file-store-crash.test.js
// runs the same, 50 rounds. scripts/soak-crash.js is the store-level soak (no Node-RED, torn tails).
"use strict";
const { runNodeRedCrashRounds } = require("../test/support/nodered-crash");

const rounds = Number(process.argv[2] ?? 1000);
const started = Date.now();
runNodeRedCrashRounds({ rounds, log: (line) => process.stdout.write(line + "\n") })
  .then((totals) => {
    const starts = totals.startMs.slice().sort((a, b) => a - b);
    console.log(`soak-crash-nodered: ${totals.rounds} rounds, ${totals.claims} claims and ${totals.letters} captures acknowledged, none lost; start-up median ${starts[Math.floor(starts.length / 2)]} ms (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  })
  .catch((err) => {
    console.error(`soak-crash-nodered FAILED: ${err.message}`);
    process.exit(1);
  });
