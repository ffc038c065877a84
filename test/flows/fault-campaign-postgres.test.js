"use strict";
// The quote-to-cash fault campaign (issue #7), on PostgreSQL: flows/quote-to-cash.json in real Node-RED processes against the
// Salesforce and NetSuite sandboxes, the real Mosquitto, and each store. 2,000 won opportunities, a tenth of them
// sent twice, by 8 concurrent senders; the sandboxes answer 10 % of requests with a 5xx, lose 2 % of answers after
// committing, refuse bursts of requests as throttled, and the ERP is down for 10 s; Node-RED is SIGKILLed once mid-run
// and restarted. Afterwards every opportunity has exactly one ERP order or a dead letter, replaying the dead letters
// drains the queue with still one order each, every opportunity carries its order number, and order.created events
// name every order.
//
// The sender is the CRM side (test/support/campaign.js): a webhook sender that re-sends a delivery until some Node-RED
// answers 202, and an outbox sweep that re-sends an opportunity whose outcome (write-back or dead letter) has not shown
// up 30 s after its last 202. The flow answers 202 on receipt, so a message in flight when its process is SIGKILLed
// lives on only in that outbox; its key, if already claimed, is taken over once the claim's lease runs out (shortened
// from the shipped 600 s to 30 s here). The README's "Delivery guarantees" says so.
const test = require("node:test");
const { runCampaign } = require("../support/campaign");
const { check } = require("../support/campaign-check");

test(`quote-to-cash fault campaign on PostgreSQL: one Node-RED SIGKILLed and restarted`, { timeout: 420000 }, async (t) => {
  const result = await runCampaign({ store: { backend: "postgres" }, log: (line) => t.diagnostic(`postgres: ${line}`) });
  check(t, result, "postgres");
});
