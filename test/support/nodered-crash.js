"use strict";
// Kill/restart rounds of a real Node-RED process on the file store, shared by test/flows/file-store-crash.test.js
// (50 rounds) and scripts/soak-crash-nodered.js (1,000). Each round: start Node-RED on the same user dir, check the
// acknowledgements of the rounds before survived, stream claims and captures over HTTP recording every one answered,
// then SIGKILL the process at a random moment. An answer is only sent once the gate's claim or the dead letter is
// durable, so every answered claim must still be claimed and every answered capture still listed after the restart.
const fs = require("node:fs");
const { startNodeRed } = require("./nodered");
const { makeUserDir, nodeId, postJson, request, readyProbe, waitUntilReady, LEAN_SETTINGS } = require("./flows");

const OUTPUTS = ["new", "duplicate", "in-flight", "conflict"];

/**
 *   POST /claim   {key}  → gate claim → answers the output's name once the claim is on disk
 *   POST /capture {id}   → dead-letter capture → answers the entry id from the DLQ's second output (sent once durable)
 * HTTP In's response object cannot travel through the dead letter (it is not stored), so a function node keeps it in
 * flow context by message id until the DLQ's summary, which carries the same _msgid, comes back.
 */
function crashFlow() {
  const id = { tab: nodeId(), store: nodeId(), claimIn: nodeId(), gate: nodeId(), captureIn: nodeId(), hold: nodeId(), dlq: nodeId(), answer: nodeId(), captured: nodeId() };
  const names = OUTPUTS.map(() => nodeId());
  const responses = OUTPUTS.map(() => nodeId());
  const fn = (nid, name, func, wires) => ({ id: nid, type: "function", z: id.tab, name, func, outputs: 1, timeout: 0, noerr: 0, initialize: "", finalize: "", libs: [], wires });
  return [
    { id: id.tab, type: "tab", label: "crash" },
    { id: id.store, type: "keelson-store", backend: "file", dir: "keelson-state", redisUrl: "", prefix: "", postgresUrl: "", schema: "", tablePrefix: "", timeout: 10000 },
    { id: id.claimIn, type: "http in", z: id.tab, url: "/claim", method: "post", upload: false, wires: [[id.gate]] },
    { id: id.gate, type: "keelson-gate", z: id.tab, store: id.store, action: "claim", key: "payload.key", keyType: "msg", fingerprint: "", fingerprintType: "none", leaseSeconds: 3600, retentionDays: 1, waitSeconds: 0, wires: names.map((n) => [n]) },
    ...names.map((nid, i) => ({ id: nid, type: "change", z: id.tab, name: "", rules: [{ t: "set", p: "payload", pt: "msg", to: OUTPUTS[i], tot: "str" }], wires: [[responses[i]]] })),
    ...responses.map((nid) => ({ id: nid, type: "http response", z: id.tab, statusCode: "", headers: {}, wires: [] })),
    { id: id.captureIn, type: "http in", z: id.tab, url: "/capture", method: "post", upload: false, wires: [[id.hold]] },
    fn(id.hold, "hold response", 'flow.set("res_" + msg._msgid, msg.res);\nmsg.error = { message: "ERP timeout for " + msg.payload.id };\nreturn msg;', [[id.dlq]]),
    { id: id.dlq, type: "keelson-dlq", z: id.tab, store: id.store, queue: "crash", maxAttempts: 5, retentionDays: 30, redactPaths: "", maxKb: 64, wires: [[], [id.answer]] },
    fn(id.answer, "answer", 'const key = "res_" + msg._msgid;\nmsg.res = flow.get(key);\nflow.set(key, undefined);\nmsg.payload = msg.payload.id;\nreturn msg;', [[id.captured]]),
    { id: id.captured, type: "http response", z: id.tab, statusCode: "", headers: {}, wires: [] },
    ...readyProbe(id.tab),
  ];
}

const pick = (list, n) => {
  if (list.length <= n) return list.slice();
  const out = new Set();
  while (out.size < n) out.add(list[Math.floor(Math.random() * list.length)]);
  return [...out];
};

/** Runs `fn` over `items` with `concurrency` workers. */
async function each(items, concurrency, fn) {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]);
  }));
}

/** Every acknowledged claim answers anything but "new"; every acknowledged capture is found by the admin API. */
async function verify(red, claims, letters, round) {
  const lost = [];
  await each(claims, 16, async (key) => {
    const { status, text } = await postJson(`${red.url}/claim`, { key }, 30000);
    if (status !== 200 || !OUTPUTS.includes(text)) throw new Error(`round ${round}: claim ${key} answered ${status} ${text}`);
    if (text === "new") lost.push(`claim ${key}`);
  });
  await each(letters, 16, async (id) => {
    const res = await request(`${red.url}/keelson/dlq/entries/${encodeURIComponent(id)}`);
    if (res.status === 404) lost.push(`capture ${id}`);
    else if (res.status !== 200 || res.body.id !== id || res.body.queue !== "crash") throw new Error(`round ${round}: entry ${id} answered ${res.status} ${res.text.slice(0, 200)}`);
  });
  if (lost.length) throw new Error(`round ${round}: acknowledged but lost after SIGKILL and restart: ${lost.slice(0, 10).join(", ")}${lost.length > 10 ? ` and ${lost.length - 10} more` : ""}`);
}

/** Every capture in the queue, through the admin API's pages. */
async function listAll(red) {
  const ids = new Set();
  let cursor;
  do {
    const res = await request(`${red.url}/keelson/dlq/queues/crash/entries?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    if (res.status !== 200) throw new Error(`listing answered ${res.status} ${res.text.slice(0, 200)}`);
    for (const e of res.body.entries) ids.add(e.id);
    cursor = res.body.cursor;
  } while (cursor);
  return ids;
}

/**
 * Streams claims and captures with `concurrency` senders until the process dies; resolves with what was answered.
 * A sender stops at its first failed request (the kill), so nothing after it counts.
 */
function stream(red, round, concurrency) {
  const claims = [];
  const letters = [];
  let n = 0;
  const sender = async () => {
    for (;;) {
      const i = n++;
      try {
        if (Math.random() < 0.6) {
          const key = `r${round}-k${i}`;
          const { status, text } = await postJson(`${red.url}/claim`, { key }, 30000);
          if (status !== 200 || text !== "new") throw new Error(`round ${round}: fresh claim ${key} answered ${status} ${text}`);
          claims.push(key);
        } else {
          const { status, text } = await postJson(`${red.url}/capture`, { id: `r${round}-l${i}`, customer: "C-42", lines: [{ sku: "A", qty: 2 }] }, 30000);
          if (status !== 200 || !text) throw new Error(`round ${round}: capture answered ${status} ${text}`);
          letters.push(text);
        }
      } catch (err) {
        if (red.proc.exitCode === null && red.proc.signalCode === null && !/ECONNRESET|ECONNREFUSED|socket hang up|EPIPE/.test(String(err))) throw err;
        return;
      }
    }
  };
  const done = Promise.all(Array.from({ length: concurrency }, sender));
  done.catch(() => undefined); // awaited after the kill; an early failure must not count as unhandled meanwhile
  return { claims, letters, done };
}

/**
 * Runs `rounds` kill/restart rounds. Each round re-checks all acknowledgements of the round before and a sample of
 * older ones; the last restart checks every one of them. Returns counts for the report.
 */
async function runNodeRedCrashRounds({ rounds, minRunMs = 200, maxRunMs = 1200, concurrency = 8, sample = 50, log = () => {} }) {
  const userDir = makeUserDir("crash");
  const flows = crashFlow();
  const acked = { claims: [], letters: [] };
  let last = { claims: [], letters: [] };
  const totals = { rounds: 0, claims: 0, letters: 0, startMs: [] };
  let red;
  try {
    for (let round = 0; round <= rounds; round++) {
      const started = Date.now();
      red = await startNodeRed({ userDir, flows, settings: LEAN_SETTINGS });
      await waitUntilReady(red.url, 60000).catch((err) => {
        throw new Error(`round ${round}: ${err.message}; Node-RED log:\n${red.log}`);
      });
      totals.startMs.push(Date.now() - started);
      const startupErrors = red.log.split("\n").filter((l) => /\[(error|warn)\]/.test(l) && !/Encrypted credentials not found|Projects disabled/.test(l));
      if (startupErrors.length) throw new Error(`round ${round}: start-up after SIGKILL logged:\n${startupErrors.join("\n")}`);

      const final = round === rounds;
      const older = { claims: acked.claims.slice(0, acked.claims.length - last.claims.length), letters: acked.letters.slice(0, acked.letters.length - last.letters.length) };
      await verify(red, final ? acked.claims : [...last.claims, ...pick(older.claims, sample)], final ? acked.letters : [...last.letters, ...pick(older.letters, sample)], round);
      if (final) {
        const listed = await listAll(red);
        const missing = acked.letters.filter((id) => !listed.has(id));
        if (missing.length) throw new Error(`after ${rounds} rounds the listing misses ${missing.length} acknowledged captures, e.g. ${missing.slice(0, 5).join(", ")}`);
        await red.stop();
        break;
      }

      const run = stream(red, round, concurrency);
      await new Promise((r) => setTimeout(r, minRunMs + Math.random() * (maxRunMs - minRunMs)));
      await red.stop("SIGKILL");
      // Every answer that arrived counts (the process answered it, so it was durable); a request open at the kill does not.
      await run.done;
      last = { claims: run.claims, letters: run.letters };
      acked.claims.push(...last.claims);
      acked.letters.push(...last.letters);
      totals.rounds++;
      totals.claims += last.claims.length;
      totals.letters += last.letters.length;
      log(`round ${round}: started in ${totals.startMs[totals.startMs.length - 1]} ms, ${last.claims.length} claims and ${last.letters.length} captures acknowledged before SIGKILL`);
    }
    fs.rmSync(userDir, { recursive: true, force: true });
    return totals;
  } catch (err) {
    if (red) await red.stop("SIGKILL");
    err.message += ` (user dir kept in ${userDir})`;
    throw err;
  }
}

module.exports = { runNodeRedCrashRounds, crashFlow };
