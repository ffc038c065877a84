#!/usr/bin/env node
// Crash soak for the file store (RocksDB blackbox style): a child process claims, completes, fails, captures and
// sets watermarks as fast as it can and prints each operation once it is acknowledged; it is killed with SIGKILL at
// a random moment; the tail of the log is sometimes torn or corrupted on purpose; then the store is reopened and
// every acknowledged operation must be there. `node scripts/soak-crash.js [rounds]` (default 1,000; needs a build).
// test/state/crash.test.js runs the same rounds, fewer of them.
"use strict";
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { spawn } = require("node:child_process");

const dist = path.join(__dirname, "..", "dist", "nodes", "lib", "state");
/** Longer than any soak: a verification claim must find the child's claim in-flight, not take over its lease. */
const LEASE_MS = 7 * 24 * 3600 * 1000;

async function child(dir, round) {
  const { openStore } = require(path.join(dist, "index.js"));
  const store = await openStore({ backend: "file", dir, compactAfterBytes: 32 * 1024 });
  const say = (line) => process.stdout.write(line + "\n");
  say(`R ${JSON.stringify(store.recovery)}`);
  let n = 0;
  let watermark = round * 1_000_000;
  const captured = [];
  const worker = async () => {
    for (;;) {
      const i = n++;
      const key = `r${round}-k${i}`;
      const roll = Math.random();
      if (roll < 0.3) {
        const claim = await store.claim(key, { fingerprint: `fp${i}`, leaseMs: LEASE_MS });
        say(`C ${key}`);
        if (roll < 0.15) {
          await store.complete(key, claim.token, { i, round });
          say(`D ${key}`);
        } else if (roll < 0.18) {
          await store.release(key, claim.token, { mode: "failed", reason: `failed ${i}` });
          say(`F ${key}`);
        }
      } else if (roll < 0.55) {
        // Claimed and given back: two dead records, so the log needs compacting (and gets killed while it does).
        const claim = await store.claim(`${key}-retry`, { leaseMs: LEASE_MS });
        await store.release(`${key}-retry`, claim.token, { mode: "retry" });
      } else if (roll < 0.75) {
        const again = captured.length > 0 && Math.random() < 0.3;
        const id = again ? captured[Math.floor(Math.random() * captured.length)] : `r${round}-l${i}`;
        const letter = await store.capture({ id, queue: `q${i % 3}`, message: { payload: { i, text: "x".repeat(i % 200) } }, error: { message: `e${i}` }, source: { id: "n1", type: "t" } }, { maxAttempts: 1000 });
        if (!again) captured.push(id);
        say(`L ${id} ${letter.attempts}`);
      } else {
        const value = ++watermark;
        await store.setWatermark("position", value);
        say(`W ${value}`);
      }
    }
  };
  await Promise.all(Array.from({ length: 32 }, worker));
}

/** Appends damage to the log like a crash in the middle of a write would leave (or worse). Returns its length. */
function damageTail(file, kind) {
  const { encodeRecord } = require(path.join(dist, "log-format.js"));
  const record = encodeRecord(JSON.stringify({ t: "g", k: "never-acknowledged", s: "claimed", tok: "t", ca: 1, le: 2, ex: 9e15 }));
  let bytes;
  switch (kind) {
    case "torn":
      bytes = record.subarray(0, 1 + Math.floor(Math.random() * (record.length - 1)));
      break;
    case "bad-crc":
      bytes = Buffer.from(record);
      bytes[bytes.length - 2] ^= 0xff;
      break;
    case "garbage":
      bytes = Buffer.from(Array.from({ length: 1 + Math.floor(Math.random() * 300) }, () => Math.floor(Math.random() * 256)));
      break;
    case "zeros":
      bytes = Buffer.alloc(4096);
      break;
    default:
      return 0;
  }
  fs.appendFileSync(file, bytes);
  return bytes.length;
}

const DAMAGE = ["none", "none", "torn", "bad-crc", "garbage", "zeros"];

/**
 * Runs `rounds` kill/restart rounds in `dir` and checks, after each, that every acknowledged operation of every
 * round so far survived. Throws on the first loss. Returns counts for the report.
 */
async function runCrashRounds({ rounds, dir, minRunMs = 20, maxRunMs = 200, log = () => {} }) {
  const { openStore } = require(path.join(dist, "index.js"));
  const acked = { claimed: new Set(), completed: new Set(), failed: new Set(), letters: new Map(), watermark: -1 };
  const totals = { rounds: 0, acknowledged: 0, damaged: 0, truncatedBytes: 0, compactions: 0 };
  let logBytes = 0;
  for (let round = 0; round < rounds; round++) {
    const proc = spawn(process.execPath, [__filename, "--child", dir, String(round)], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    proc.stdout.on("data", (d) => (out += d));
    proc.stderr.on("data", (d) => (err += d));
    const exited = new Promise((resolve) => proc.on("exit", (code, signal) => resolve({ code, signal })));
    // Kill at a random moment after the child has opened the store (so start-up itself is checked every round).
    const runMs = minRunMs + Math.random() * (maxRunMs - minRunMs);
    const ready = await new Promise((resolve) => {
      const check = setInterval(() => {
        if (out.startsWith("R ")) {
          clearInterval(check);
          resolve(true);
        }
      }, 2);
      exited.then(() => {
        clearInterval(check);
        resolve(out.startsWith("R "));
      });
    });
    if (!ready) throw new Error(`round ${round}: the child did not start: ${err || out}`);
    await new Promise((r) => setTimeout(r, runMs));
    proc.kill("SIGKILL");
    const { signal } = await exited;
    if (signal !== "SIGKILL") throw new Error(`round ${round}: the child ended by itself: ${err}`);

    const lines = out.split("\n");
    lines.pop(); // an unfinished last line was never acknowledged
    for (const line of lines) {
      const [op, a, b] = line.split(" ");
      if (op === "C") acked.claimed.add(a);
      else if (op === "D") acked.completed.add(a);
      else if (op === "F") acked.failed.add(a);
      else if (op === "L") acked.letters.set(a, Math.max(acked.letters.get(a) ?? 0, Number(b)));
      else if (op === "W") acked.watermark = Math.max(acked.watermark, Number(a));
      else if (op !== "R") continue;
      totals.acknowledged++;
    }

    const kind = DAMAGE[Math.floor(Math.random() * DAMAGE.length)];
    const logFile = path.join(dir, "state-v1.log");
    const sizeBefore = fs.statSync(logFile).size;
    // The log only shrinks by compaction: count the rounds in which the child compacted.
    if (sizeBefore < logBytes) totals.compactions++;
    logBytes = sizeBefore;
    const damage = damageTail(logFile, kind);
    if (damage > 0) totals.damaged++;

    const store = await openStore({ backend: "file", dir });
    logBytes = fs.statSync(logFile).size;
    try {
      totals.truncatedBytes += store.recovery.truncatedBytes;
      if (store.recovery.truncatedBytes < damage) throw new Error(`round ${round}: ${kind} damage of ${damage} bytes not truncated (${store.recovery.truncatedBytes})`);
      if (fs.statSync(logFile).size > sizeBefore) throw new Error(`round ${round}: the log kept ${kind} damage`);
      await verify(store, acked, round);
    } finally {
      await store.close();
    }
    totals.rounds++;
    log(`round ${round}: ${lines.length} acknowledged, damage ${kind}, recovery ${JSON.stringify(store.recovery)}`);
  }
  return totals;
}

async function verify(store, acked, round) {
  const fail = (what) => {
    throw new Error(`round ${round}: acknowledged ${what} was lost`);
  };
  for (const key of acked.claimed) {
    const i = Number(key.slice(key.indexOf("-k") + 2));
    const outcome = await store.claim(key, { fingerprint: `fp${i}`, leaseMs: LEASE_MS });
    if (outcome.outcome === "new") fail(`claim ${key}`);
    if (acked.completed.has(key) && outcome.outcome !== "duplicate") fail(`complete ${key} (${outcome.outcome})`);
    if (acked.completed.has(key) && outcome.result.i !== i) fail(`result of ${key}`);
    if (acked.failed.has(key) && outcome.outcome !== "failed") fail(`failure of ${key} (${outcome.outcome})`);
  }
  for (const [id, attempts] of acked.letters) {
    const letter = await store.get(id);
    if (!letter || letter.attempts < attempts) fail(`capture ${id} (attempt ${attempts})`);
  }
  if (acked.watermark >= 0 && !((await store.getWatermark("position")) >= acked.watermark)) fail(`watermark ${acked.watermark}`);
}

if (require.main === module) {
  if (process.argv[2] === "--child") {
    // The parent kills the child within a second; should the parent die first, the child still stops by itself.
    setTimeout(() => process.exit(0), 60_000).unref();
    process.stdout.on("error", () => process.exit(0));
    child(process.argv[3], Number(process.argv[4])).catch((err) => {
      process.stderr.write(String(err && err.stack) + "\n");
      process.exit(1);
    });
  } else {
    const rounds = Number(process.argv[2] ?? 1000);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "keelson-soak-"));
    const started = Date.now();
    runCrashRounds({ rounds, dir, log: (line) => process.stdout.write(line + "\n") })
      .then((totals) => {
        console.log(`soak-crash: ${totals.rounds} rounds, ${totals.acknowledged} acknowledged operations, ${totals.damaged} damaged tails, ${totals.truncatedBytes} bytes truncated, ${totals.compactions} rounds compacted, none lost (${((Date.now() - started) / 1000).toFixed(1)} s)`);
        fs.rmSync(dir, { recursive: true, force: true });
      })
      .catch((err) => {
        console.error(`soak-crash FAILED (log kept in ${dir}): ${err.message}`);
        process.exit(1);
      });
  }
}

module.exports = { runCrashRounds };
