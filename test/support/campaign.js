"use strict";
// The quote-to-cash fault campaign, shared by test/flows/fault-campaign-*.test.js: real Node-RED processes running
// flows/quote-to-cash.json against the Salesforce and NetSuite sandboxes (in this process, with faults injected through
// their control plane), the real Mosquitto on 127.0.0.1:1883 and the store under test.
//
// The sender plays the CRM side: a webhook sender that POSTs each won opportunity until a 2xx answers it, and an
// outbox sweep that keeps the opportunity until its outcome is visible (the ERP order number or a rejection written
// back to it, or a dead letter naming it) and sends it again when none shows REDELIVER_AFTER_MS after its last 202.
// That sweep is what makes "none lost" hold for a webhook answered 202 whose message was in flight when Node-RED was
// killed: the 202 only says "received" (README, Reference flows, Delivery guarantees).
const fs = require("node:fs");
const path = require("node:path");
const { startNodeRed } = require("./nodered");
const { root, makeUserDir, runId, nodeId, request, postJson, readyProbe, waitUntilReady, REDIS_URL, POSTGRES_URL, dropRedisPrefix, dropPostgresSchema } = require("./flows");

const WEBHOOK = "/keelson/q2c/opportunity-won";
const MQTT_URL = process.env.KEELSON_TEST_MQTT_URL || "mqtt://127.0.0.1:1883";
const ORDER_TOPIC = "keelson/v1/order/created";
const DLQ_TOPIC = "keelson/v1/dlq/captured";
const FLOW_FILE = path.join(root, "flows", "quote-to-cash.json");

/** The campaign as issue #7 states it; the test may scale it with KEELSON_CAMPAIGN_OPPORTUNITIES for a quick look. */
const CAMPAIGN = {
  opportunities: Number(process.env.KEELSON_CAMPAIGN_OPPORTUNITIES) || 2000,
  duplicateShare: 0.1,
  senders: 8,
  accounts: 40,
  errorRate: 0.1,
  lostResponseRate: 0.02,
  throttleBurst: 25, // requests refused per burst, on each sandbox
  throttleEveryMs: 4000,
  outageMs: 10000,
  outageAt: 0.25, // share of first deliveries answered when the ERP goes down
  killAt: 0.45, // … when Node-RED is SIGKILLed
};
// A delivery without an outcome this long after it was answered is sent again (the outbox's redelivery interval).
const REDELIVER_AFTER_MS = 30000;
// How long a claim made by a process that then died blocks its key (the claiming gate's lease).
const LEASE_SECONDS = 30;
const SETTLE_TIMEOUT_MS = 240000;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Salesforce and NetSuite sandboxes, each on its own random port, with the campaign's accounts and opportunities. */
async function startVendors() {
  const salesforce = require(path.join(root, "dist", "sandbox", "salesforce.js"));
  const netsuite = require(path.join(root, "dist", "sandbox", "netsuite.js"));
  const [crm, erp] = await Promise.all([salesforce.start({ port: 0 }), netsuite.start({ port: 0 })]);
  return { crm, erp, defaults: { salesforce: salesforce.SALESFORCE_DEFAULTS, netsuite: netsuite.NETSUITE_DEFAULTS } };
}

async function control(sandbox, method, sub, body) {
  const res = await request(`${sandbox.url}/__sandbox${sub}`, { method, body });
  if (res.status >= 300) throw new Error(`${method} /__sandbox${sub} answered ${res.status} ${res.text.slice(0, 300)}`);
  return res.body;
}

/**
 * `count` won opportunities with one or two lines each, spread over `accounts` new accounts (no ERP customer yet),
 * selling three products that exist in both systems (the NetSuite items carry the product code as external id).
 */
async function seedOpportunities({ crm, erp }, count, accounts, run) {
  const codes = ["CAMP-A", "CAMP-B", "CAMP-C"];
  await control(erp, "POST", "/records/inventoryItem", codes.map((code, i) => ({ itemId: code, displayName: `Campaign item ${code}`, basePrice: 10 + i, externalId: code })));
  const products = (await control(crm, "POST", "/records/Product2", codes.map((code) => ({ Name: `Campaign item ${code}`, ProductCode: code, IsActive: true, Family: "Hardware" })))).records.map((p) => p.Id);
  const created = await control(crm, "POST", "/records/Account", Array.from({ length: accounts }, (_, i) => ({ Name: `Campaign ${run} account ${i}`, BillingCity: "Berlin", BillingCountry: "Germany", BillingCountryCode: "DE" })));
  const accountIds = created.records.map((a) => a.Id);
  const ids = [];
  for (let from = 0; from < count; from += 500) {
    const batch = Array.from({ length: Math.min(500, count - from) }, (_, j) => ({ Name: `Campaign ${run} deal ${from + j}`, AccountId: accountIds[(from + j) % accountIds.length], StageName: "Closed Won", CloseDate: "2026-11-20", Amount: 100 + ((from + j) % 50) }));
    const opps = (await control(crm, "POST", "/records/Opportunity", batch)).records;
    const lines = opps.flatMap((o, j) => [
      { OpportunityId: o.Id, Product2Id: products[(from + j) % products.length], Quantity: 1 + ((from + j) % 7), UnitPrice: 10 + ((from + j) % 13) },
      ...((from + j) % 2 ? [{ OpportunityId: o.Id, Product2Id: products[(from + j + 1) % products.length], Quantity: 2, UnitPrice: 5 }] : []),
    ]);
    await control(crm, "POST", "/records/OpportunityLineItem", lines);
    ids.push(...opps.map((o) => o.Id));
  }
  return ids;
}

/** The environment the flow reads (PRODUCT.md's contract), pointed at the sandboxes and the store under test. */
function flowEnvironment(vendors, store) {
  const { salesforce, netsuite } = vendors.defaults;
  return {
    CRM_SYSTEM: "salesforce",
    CRM_BASE_URL: vendors.crm.url,
    CRM_CLIENT_ID: salesforce.clientId,
    CRM_CLIENT_SECRET: salesforce.clientSecret,
    ERP_SYSTEM: "netsuite",
    ERP_BASE_URL: vendors.erp.url,
    ERP_ACCOUNT_ID: netsuite.accountId,
    ERP_CLIENT_ID: netsuite.tba.consumerKey,
    ERP_CLIENT_SECRET: netsuite.tba.consumerSecret,
    ERP_CONSUMER_KEY: netsuite.tba.consumerKey,
    ERP_CONSUMER_SECRET: netsuite.tba.consumerSecret,
    ERP_TOKEN_ID: netsuite.tba.tokenId,
    ERP_TOKEN_SECRET: netsuite.tba.tokenSecret,
    MQTT_URL,
    ERP_ORDER_DEFAULTS: JSON.stringify({ subsidiary: "1" }),
    KEELSON_STORE: store.backend,
    REDIS_URL,
    DATABASE_URL: POSTGRES_URL,
  };
}

/**
 * flows/quote-to-cash.json as shipped, with what a deployment sets, changed: the store keeps this run's state apart
 * (its own Redis prefix / PostgreSQL schema, so runs on the shared services cannot meet); the claim's lease is
 * LEASE_SECONDS instead of the shipped 600 s, so a claim orphaned by the SIGKILL runs out within the test rather than
 * ten minutes later; and a separate tab answers GET /ready once the HTTP routes are up.
 */
function campaignFlows(store) {
  const flows = JSON.parse(fs.readFileSync(FLOW_FILE, "utf8"));
  const stores = flows.filter((n) => n.type === "keelson-store");
  if (stores.length !== 1) throw new Error(`${FLOW_FILE} should hold one keelson-store, not ${stores.length}`);
  if (store.prefix) stores[0].prefix = store.prefix;
  if (store.schema) stores[0].schema = store.schema;
  const claims = flows.filter((n) => n.type === "keelson-gate" && (n.action || "claim") === "claim");
  if (claims.length !== 1) throw new Error(`${FLOW_FILE} should claim in one gate, not ${claims.length}`);
  claims[0].leaseSeconds = LEASE_SECONDS;
  const dlqs = flows.filter((n) => n.type === "keelson-dlq");
  if (dlqs.length !== 1) throw new Error(`${FLOW_FILE} should hold one keelson-dlq, not ${dlqs.length}`);
  const tab = nodeId();
  return { flows: [...flows, { id: tab, type: "tab", label: "campaign probe" }, ...readyProbe(tab)], queue: (dlqs[0].queue || "default").trim() };
}

/** One Node-RED process on its own user dir; start() again after a kill restarts it on the same dir. */
function instance(label, flows, env) {
  const userDir = makeUserDir(label);
  const self = {
    label,
    userDir,
    red: undefined,
    ready: false,
    starts: 0,
    logs: [],
    async start() {
      self.red = await startNodeRed({ userDir, env, settings: { disableEditor: true, logging: { console: { level: "warn", metrics: false, audit: false } } }, timeoutMs: 60000 });
      if (self.starts === 0) {
        // Deployed as the editor's Import → Deploy does, so the flow's credentials ("${CRM_CLIENT_ID}"…) are stored
        // in flows_cred.json; a restart loads both files from the user dir.
        const res = await request(`${self.red.url}/flows`, { method: "POST", body: flows, headers: { "Node-RED-Deployment-Type": "full" } });
        if (res.status !== 204 && res.status !== 200) throw new Error(`deploying the flow answered ${res.status} ${res.text.slice(0, 300)}`);
      }
      await waitUntilReady(self.red.url, 60000);
      self.ready = true;
      self.starts++;
      return self;
    },
    get url() {
      return self.red.url;
    },
    get up() {
      return !!self.red && self.red.proc.exitCode === null && self.red.proc.signalCode === null;
    },
    async kill() {
      self.ready = false;
      self.logs.push(self.red.log);
      await self.red.stop("SIGKILL");
    },
    async stop() {
      if (!self.red) return;
      self.ready = false;
      self.logs.push(self.red.log);
      await self.red.stop("SIGKILL");
    },
    log: () => [...self.logs, self.up ? self.red.log : ""].join("\n"),
  };
  return self;
}

/** A QoS 1 subscriber with a persistent session on the broker; keeps every message of the two topics. */
async function subscribe(clientId) {
  const mqtt = require("mqtt");
  const client = await mqtt.connectAsync(MQTT_URL, { clientId, clean: false, reconnectPeriod: 200 });
  await client.subscribeAsync([ORDER_TOPIC, DLQ_TOPIC], { qos: 1 });
  const received = { [ORDER_TOPIC]: [], [DLQ_TOPIC]: [] };
  client.on("message", (topic, payload) => {
    let body;
    try {
      body = JSON.parse(payload.toString("utf8"));
    } catch {
      body = { unparsable: payload.toString("utf8") };
    }
    received[topic]?.push(body);
  });
  return {
    received,
    async close() {
      // End the persistent session so the broker does not keep queueing for it.
      await client.endAsync();
      const cleanup = await mqtt.connectAsync(MQTT_URL, { clientId, clean: true });
      await cleanup.endAsync();
    },
  };
}

function shuffle(list) {
  for (let i = list.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [list[i], list[j]] = [list[j], list[i]];
  }
  return list;
}

/** The deliveries: each opportunity once and `share` of them twice, shuffled (some repeats land right after their first). */
function deliveries(ids, share) {
  const twice = shuffle([...ids]).slice(0, Math.round(ids.length * share));
  return shuffle([...ids, ...twice]);
}

/**
 * The CRM's outbound webhook: `senders` workers POST the deliveries, each to the next Node-RED in turn. A delivery
 * that is not answered 202 (connection refused or reset while a process is down, a 5xx) is sent again, to the next
 * process, after a short back-off, until one answers 202. Every answer's correlation id is kept.
 */
function outbox(instances, { senders }) {
  const state = { sent: 0, answered: 0, refused: 0, answeredBy: {}, correlation: new Map(), lastAnswered: new Map(), sentPerOpportunity: new Map() };
  let turn = 0;
  async function deliver(opportunityId) {
    for (let attempt = 0; ; attempt++) {
      const target = instances[turn++ % instances.length];
      if (!target.ready) {
        // Down or restarting: the next process in turn takes it (or, with one process, the same one once it is back).
        await sleep(instances.length > 1 ? 0 : 100);
        continue;
      }
      state.sent++;
      state.sentPerOpportunity.set(opportunityId, (state.sentPerOpportunity.get(opportunityId) || 0) + 1);
      let answer;
      try {
        answer = await postJson(`${target.url}${WEBHOOK}`, { opportunityId }, 10000);
      } catch {
        answer = undefined; // refused or reset: the process died under us
      }
      if (answer && answer.status === 202) {
        let body;
        try {
          body = JSON.parse(answer.text);
        } catch {
          throw new Error(`the webhook answered 202 without JSON: ${answer.text.slice(0, 200)}`);
        }
        const correlationId = body.correlationId;
        if (typeof correlationId !== "string" || !correlationId) throw new Error(`the webhook answered 202 without a correlation id: ${answer.text.slice(0, 200)}`);
        state.correlation.set(correlationId, opportunityId);
        state.lastAnswered.set(opportunityId, Date.now());
        state.answered++;
        state.answeredBy[target.label] = (state.answeredBy[target.label] || 0) + 1;
        return;
      }
      if (answer && answer.status >= 400 && answer.status < 500 && answer.status !== 404 && answer.status !== 429) throw new Error(`the webhook answered ${answer.status} for ${opportunityId}: ${answer.text.slice(0, 200)}`);
      if (attempt > 300) throw new Error(`the webhook did not take ${opportunityId} in ${attempt} attempts; last answer ${answer ? `${answer.status} ${answer.text.slice(0, 200)}` : "none"}`);
      state.refused++;
      await sleep(Math.min(2000, 100 * 2 ** Math.min(attempt, 4)));
    }
  }
  async function drain(list, onAnswered = () => {}) {
    let next = 0;
    await Promise.all(Array.from({ length: senders }, async () => {
      while (next < list.length) {
        await deliver(list[next++]);
        await onAnswered(state.answered);
      }
    }));
  }
  return { state, deliver, drain };
}

/** Every dead letter of `queue`, through the admin API's pages. */
async function deadLetters(url, queue) {
  const out = [];
  let cursor;
  do {
    const res = await request(`${url}/keelson/dlq/queues/${encodeURIComponent(queue)}/entries?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    if (res.status !== 200) throw new Error(`listing dead letters answered ${res.status} ${res.text.slice(0, 200)}`);
    out.push(...res.body.entries);
    cursor = res.body.cursor;
  } while (cursor);
  return out;
}

/** The opportunity a dead letter is about: from its idempotency key, else any known opportunity id in its message. */
function opportunityOfLetter(letter, known) {
  const fromKey = typeof letter.idempotencyKey === "string" ? letter.idempotencyKey.split(":").pop() : undefined;
  if (fromKey && known.has(fromKey)) return fromKey;
  const m = letter.message || {};
  for (const candidate of [m.opportunityId, m.payload && m.payload.opportunityId]) if (known.has(candidate)) return candidate;
  for (const id of JSON.stringify(m).match(/006[0-9A-Za-z]{12,15}/g) || []) if (known.has(id)) return id;
  return undefined;
}

/** What the systems hold now: ERP orders by opportunity, write-backs, dead letters by opportunity. */
async function snapshot(vendors, url, queue, known) {
  const [orders, opportunities, letters] = await Promise.all([control(vendors.erp, "GET", "/records/salesOrder"), control(vendors.crm, "GET", "/records/Opportunity"), deadLetters(url, queue)]);
  const ordersBy = new Map();
  for (const o of orders.records) {
    const ref = typeof o.externalId === "string" && o.externalId.startsWith("SF-") ? o.externalId.slice(3) : undefined;
    if (!ref || !known.has(ref)) continue;
    ordersBy.set(ref, [...(ordersBy.get(ref) || []), o]);
  }
  const writeBacks = new Map();
  const messages = new Map();
  for (const o of opportunities.records) {
    if (!known.has(o.Id)) continue;
    if (o.ERP_Order_Number__c) writeBacks.set(o.Id, String(o.ERP_Order_Number__c));
    if (o.ERP_Message__c) messages.set(o.Id, String(o.ERP_Message__c));
  }
  const lettersBy = new Map();
  const unattributed = [];
  for (const l of letters) {
    const id = opportunityOfLetter(l, known);
    if (!id) unattributed.push(l.id);
    else lettersBy.set(id, [...(lettersBy.get(id) || []), l]);
  }
  const errors = {};
  for (const l of letters) {
    // "connection failed (ECONNRESET) … GET http://…/eid:0015g…" → its kind, without the URL's ids
    const kind = String(l.error.message).replace(/https?:\/\/\S+/g, "<url>").slice(0, 120);
    errors[kind] = (errors[kind] || 0) + 1;
  }
  return { ordersBy, writeBacks, messages, lettersBy, letters, unattributed, errors };
}

/**
 * An opportunity's outcome is visible: its order number written back, a business rejection written back (none is
 * expected here; the test asserts that), or a dead letter about it.
 */
const settledOf = (snap, id) => snap.writeBacks.has(id) || snap.messages.has(id) || snap.lettersBy.has(id);

/**
 * Waits until every opportunity has its outcome (`want`) and Node-RED has been quiet for a moment (the sandboxes idle,
 * nothing new in them or in the queue). Meanwhile `redeliver` re-sends the opportunities without an outcome
 * REDELIVER_AFTER_MS after their last answered delivery (the outbox), and `replay` replays the dead letters each time
 * things are quiet and some are left (the operator).
 */
async function settle({ vendors, instances, queue, known, box, want = settledOf, redeliver = true, replay, history, label, log = () => {} }) {
  const deadline = Date.now() + SETTLE_TIMEOUT_MS;
  const counts = { redelivered: 0, replayed: 0, replayRounds: 0 };
  let quietSince;
  for (;;) {
    const live = instances.find((i) => i.ready);
    const snap = await snapshot(vendors, live.url, queue, known);
    const missing = [...known].filter((id) => !want(snap, id));
    const [crmStats, erpStats] = await Promise.all([control(vendors.crm, "GET", "/stats"), control(vendors.erp, "GET", "/stats")]);
    // Quiet for a second: no message still inside Node-RED that could add an order, a write-back or a letter.
    const fingerprint = `${snap.letters.length}/${[...snap.ordersBy.values()].reduce((n, l) => n + l.length, 0)}/${snap.writeBacks.size}/${JSON.stringify([crmStats.routes, erpStats.routes])}`;
    if (crmStats.inFlight !== 0 || erpStats.inFlight !== 0 || !quietSince || quietSince.fingerprint !== fingerprint) quietSince = { fingerprint, at: Date.now() };
    const quiet = Date.now() - quietSince.at >= 1000;
    if (quiet && missing.length === 0) return { snap, ...counts };
    if (quiet && replay && snap.letters.length) {
      const n = await replay(live);
      log(`${label}: replay round ${counts.replayRounds + 1} at ${new Date().toISOString()}`);
      counts.replayed += n;
      counts.replayRounds++;
      log(`${label}: replay round ${counts.replayRounds} sent ${n} of ${snap.letters.length} dead letters; ${snap.writeBacks.size} write-backs so far`);
      quietSince = undefined;
    }
    if (Date.now() > deadline) {
      const errors = {};
      for (const l of snap.letters) errors[l.error.message] = (errors[l.error.message] || 0) + 1;
      // What each missing one has, to tell a message lost inside Node-RED from one that never got there.
      const detail = missing.slice(0, 5).map((id) => ({ id, sent: box.state.sentPerOpportunity.get(id) ?? 0, orders: (snap.ordersBy.get(id) || []).length, message: snap.messages.get(id), letters: (snap.lettersBy.get(id) || []).map((l) => `${l.state} ${l.attempts}× ${String(l.error.message).slice(0, 80)}`), ...(history ? { earlier: history(id) } : {}) }));
      throw new Error(`${label}: ${missing.length} opportunities without an outcome after ${SETTLE_TIMEOUT_MS} ms, e.g. ${JSON.stringify(detail)}; ${snap.writeBacks.size} write-backs, ${snap.letters.length} dead letters: ${JSON.stringify(errors).slice(0, 1500)}\nNode-RED log:\n${instances.map((i) => i.log()).join("\n").slice(-4000)}`);
    }
    const due = redeliver ? missing.filter((id) => Date.now() - (box.state.lastAnswered.get(id) || 0) >= REDELIVER_AFTER_MS) : [];
    if (due.length) {
      counts.redelivered += due.length;
      await box.drain(due);
    }
    await sleep(1000);
  }
}

/**
 * Replays single dead letters (a different one each time, so none is parked for too many attempts) until one of them
 * reaches its write-back: the vendors and the connections in front of them are healthy again. Returns the probes sent.
 */
async function probeReplay({ vendors, instances, queue, known, before, log }) {
  const letters = before.letters.filter((l) => !before.writeBacks.has(opportunityOfLetter(l, known)));
  for (let probe = 0; probe < letters.length && probe < 40; probe++) {
    const letter = letters[probe];
    const id = opportunityOfLetter(letter, known);
    const live = instances.find((i) => i.ready);
    const res = await request(`${live.url}/keelson/dlq/entries/${encodeURIComponent(letter.id)}/replay`, { method: "POST", body: {} });
    if (res.status !== 200) throw new Error(`replaying ${letter.id} answered ${res.status} ${res.text.slice(0, 200)}`);
    for (let i = 0; i < 10; i++) {
      await sleep(200);
      const opportunity = (await control(vendors.crm, "GET", "/records/Opportunity")).records.find((o) => o.Id === id);
      if (opportunity && opportunity.ERP_Order_Number__c) {
        log(`replay probe ${probe + 1} came through`);
        return probe + 1;
      }
    }
    await sleep(1000);
  }
  return 0;
}

/** Faults fired per kind, summed over both sandboxes. */
async function faultsFired(vendors) {
  const out = {};
  for (const s of [vendors.crm, vendors.erp]) for (const [kind, n] of Object.entries((await control(s, "GET", "/stats")).faults || {})) out[kind] = (out[kind] || 0) + n;
  return out;
}

/**
 * The vendors' data APIs, where the campaign's faults go: Salesforce's REST API (not its OAuth token endpoint, whose
 * failures the CRM connection does not retry — see the test's notes) and NetSuite's REST record and query services
 * (signed per request with TBA, no token endpoint).
 */
const API_PATHS = { crm: "/services/data/*", erp: "/services/rest/*" };

/** The steady faults: 5xx and answers lost after the vendor committed. */
async function injectSteadyFaults(vendors) {
  for (const side of ["crm", "erp"]) {
    const path = API_PATHS[side];
    await control(vendors[side], "PUT", "/faults", {
      faults: [
        { kind: "error", status: 500, path, probability: CAMPAIGN.errorRate / 2 },
        { kind: "error", status: 503, path, probability: CAMPAIGN.errorRate / 2 },
        { kind: "lost-response", path, probability: CAMPAIGN.lostResponseRate },
      ],
    });
  }
}

/**
 * Runs the campaign against `instances` (started here) on `store`. Returns the counts; throws on the first broken promise.
 * `killIndex` names the instance SIGKILLed mid-run (restarted at once on the same user dir).
 */
async function runCampaign({ store, instanceCount = 1, killIndex = 0, log = () => {} }) {
  const run = runId();
  const vendors = await startVendors();
  const created = [];
  let subscriber;
  const cleanups = [];
  try {
    const ids = await seedOpportunities(vendors, CAMPAIGN.opportunities, CAMPAIGN.accounts, run);
    const known = new Set(ids);
    const storeConfig = { ...store };
    if (store.backend === "redis") {
      storeConfig.prefix = `keelson-test:campaign:${run}:`;
      cleanups.push(() => dropRedisPrefix(storeConfig.prefix));
    }
    if (store.backend === "postgres") {
      storeConfig.schema = `keelson_test_campaign_${run}`;
      cleanups.push(() => dropPostgresSchema(storeConfig.schema));
    }
    const { flows, queue } = campaignFlows(storeConfig);
    const env = flowEnvironment(vendors, store);
    const instances = Array.from({ length: instanceCount }, (_, i) => instance(`campaign-${store.backend}-${i}`, flows, env));
    created.push(...instances);
    subscriber = await subscribe(`keelson-campaign-${run}`);
    await Promise.all(instances.map((i) => i.start()));

    await injectSteadyFaults(vendors);
    const box = outbox(instances, CAMPAIGN);
    const list = deliveries(ids, CAMPAIGN.duplicateShare);
    const timeline = {};
    let outageStarted = false;
    let killed;
    const bursts = setInterval(() => {
      for (const side of ["crm", "erp"]) control(vendors[side], "POST", "/faults", { faults: [{ kind: "throttle", path: API_PATHS[side], count: CAMPAIGN.throttleBurst }] }).catch(() => undefined);
    }, CAMPAIGN.throttleEveryMs);
    const started = Date.now();
    try {
      await box.drain(list, async (answered) => {
        if (!outageStarted && answered >= list.length * CAMPAIGN.outageAt) {
          outageStarted = true;
          timeline.outageAtMs = Date.now() - started;
          await control(vendors.erp, "POST", "/faults", { faults: [{ kind: "outage", path: API_PATHS.erp, durationMs: CAMPAIGN.outageMs }] });
        }
        if (!killed && answered >= list.length * CAMPAIGN.killAt) {
          const victim = instances[killIndex];
          killed = (async () => {
            timeline.killAtMs = Date.now() - started;
            timeline.answeredAtKill = answered;
            await victim.kill();
            await victim.start();
            timeline.restartedAtMs = Date.now() - started;
          })();
        }
      });
      await killed;
    } finally {
      clearInterval(bursts);
    }
    timeline.firstPassMs = Date.now() - started;
    const first = await settle({ vendors, instances, queue, known, box, label: "under faults" });
    timeline.settledMs = Date.now() - started;
    const fired = await faultsFired(vendors);
    timeline.redelivered = first.redelivered;
    log(`first pass: ${list.length} deliveries answered in ${timeline.firstPassMs} ms, settled at ${timeline.settledMs} ms; ${first.redelivered} redelivered`);

    // The incident is over: faults off. The operator replays one dead letter at a time until one comes through (the
    // connections' circuit breakers stay open up to 30 s after the last failure), then the whole queue.
    for (const s of [vendors.crm, vendors.erp]) await control(s, "DELETE", "/faults");
    const before = first.snap;
    timeline.probes = await probeReplay({ vendors, instances, queue, known, before, log });
    timeline.healthyMs = Date.now() - started;
    const replay = async (live) => {
      const res = await request(`${live.url}/keelson/dlq/queues/${encodeURIComponent(queue)}/bulk`, { method: "POST", body: { action: "replay", all: true } });
      if (res.status !== 200) throw new Error(`replay answered ${res.status} ${res.text.slice(0, 200)}`);
      return res.body.replayed;
    };
    // No redelivery from here on: the replay alone has to bring every dead letter to its order and write-back.
    // A failure names, for each opportunity left without an outcome, what it had when the incident ended.
    const history = (id) => ({ orders: (before.ordersBy.get(id) || []).length, writeBack: before.writeBacks.get(id), letters: (before.lettersBy.get(id) || []).map((l) => `${l.source?.name ?? "?"}: ${String(l.error.message).slice(0, 80)}`) });
    const replayed = await settle({ vendors, instances, queue, known, box, want: (snap, id) => snap.writeBacks.has(id) && snap.letters.length === 0, redeliver: false, replay, history, label: "after replay", log });
    const after = replayed;
    timeline.replayedMs = Date.now() - started;
    // Events still on their way from Node-RED's MQTT client to ours.
    await sleep(1000);

    return {
      ids,
      known,
      list,
      box,
      before,
      after: after.snap,
      replayed: replayed.replayed,
      replayRounds: replayed.replayRounds,
      fired,
      timeline,
      events: subscriber.received[ORDER_TOPIC].slice(),
      dlqEvents: subscriber.received[DLQ_TOPIC].slice(),
      instances: instances.map((i) => ({ label: i.label, starts: i.starts, log: i.log() })),
    };
  } finally {
    await Promise.all(created.map((i) => i.stop()));
    if (subscriber) await subscriber.close().catch(() => undefined);
    await Promise.all([vendors.crm.close(), vendors.erp.close()]);
    for (const c of cleanups) await c().catch(() => undefined);
    for (const i of created) fs.rmSync(i.userDir, { recursive: true, force: true });
  }
}

module.exports = { CAMPAIGN, REDELIVER_AFTER_MS, ORDER_TOPIC, DLQ_TOPIC, runCampaign, opportunityOfLetter };
