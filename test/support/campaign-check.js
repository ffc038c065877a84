"use strict";
// What every fault campaign checks afterwards (test/flows/fault-campaign-*.test.js): one file per store, so the
// three runs can go side by side with the rest of the suite.
const assert = require("node:assert/strict");

/** The opportunity an order.created event names, and its order number, whatever the event's exact shape. */
function eventFacts(event) {
  const opportunityId = event.opportunityId ?? event.opportunity?.id ?? event.source?.id ?? (Array.isArray(event.refs) ? event.refs.find((r) => r.system === "salesforce")?.id : undefined) ?? event.order?.refs?.find?.((r) => r.system === "salesforce")?.id;
  const orderNumber = event.orderNumber ?? event.order?.orderNumber ?? event.order?.number;
  return { opportunityId, orderNumber, correlationId: event.correlationId };
}

function check(t, result, variant) {
  const { ids, known, list, box, before, after, replayed, fired, timeline, events, dlqEvents, instances } = result;
  const distinct = ids.length;

  // Before the replay: no opportunity has two orders, and each has an order or a dead letter (none lost).
  const doubled = [...before.ordersBy].filter(([, orders]) => orders.length > 1).map(([id]) => id);
  assert.deepEqual(doubled, [], `${variant}: opportunities with more than one ERP order under faults`);
  const lost = ids.filter((id) => !before.ordersBy.has(id) && !before.lettersBy.has(id));
  assert.deepEqual(lost, [], `${variant}: opportunities with neither an ERP order nor a dead letter`);
  assert.deepEqual(before.unattributed, [], `${variant}: dead letters naming no opportunity of the run`);
  const union = new Set([...before.ordersBy.keys(), ...before.lettersBy.keys()]);
  assert.equal(union.size, distinct, "orders ∪ dead letters = the distinct opportunities sent");
  // The faults did hit: messages failed for good under them, so the dead-letter path and the replay were exercised.
  assert.ok(before.letters.length > 0, `${variant}: the campaign produced no dead letter, so it did not test the failure path`);
  assert.equal(before.messages.size, 0, `${variant}: business rejections written back, none expected: ${JSON.stringify([...before.messages].slice(0, 3))}`);

  // After the replay: the queue is empty, one order each, the order number written back on every opportunity.
  assert.equal(after.letters.length, 0, `${variant}: dead letters left after the replay`);
  const counts = ids.map((id) => (after.ordersBy.get(id) || []).length);
  assert.deepEqual(counts.filter((n) => n !== 1), [], `${variant}: opportunities without exactly one ERP order after the replay`);
  const wrongWriteBack = ids.filter((id) => {
    const order = after.ordersBy.get(id)[0];
    return after.writeBacks.get(id) !== String(order.tranId) && after.writeBacks.get(id) !== String(order.id);
  });
  assert.deepEqual(wrongWriteBack.slice(0, 5), [], `${variant}: ${wrongWriteBack.length} opportunities whose written-back order number is not their ERP order's`);

  // order.created: every event belongs to a delivery of this run; distinct by opportunity they equal the orders.
  const mine = events.filter((e) => box.state.correlation.has(eventFacts(e).correlationId));
  assert.ok(mine.length >= distinct, `${variant}: ${mine.length} order.created events of this run for ${distinct} orders`);
  const byOpportunity = new Map();
  for (const e of mine) {
    const { opportunityId, orderNumber } = eventFacts(e);
    assert.ok(known.has(opportunityId), `${variant}: an order.created event names no opportunity of the run: ${JSON.stringify(e).slice(0, 300)}`);
    byOpportunity.set(opportunityId, new Set([...(byOpportunity.get(opportunityId) || []), String(orderNumber)]));
  }
  assert.equal(byOpportunity.size, distinct, `${variant}: order.created events for ${byOpportunity.size} distinct opportunities, ${distinct} orders`);
  const eventsDisagree = ids.filter((id) => {
    const numbers = byOpportunity.get(id);
    return !numbers || numbers.size !== 1 || !numbers.has(after.writeBacks.get(id));
  });
  assert.deepEqual(eventsDisagree.slice(0, 5), [], `${variant}: ${eventsDisagree.length} opportunities whose order.created events do not name their one order`);
  const distinctOrders = new Set([...byOpportunity.values()].flatMap((s) => [...s]));
  assert.equal(distinctOrders.size, distinct, `${variant}: distinct order numbers in order.created events`);

  // Every fault kind of the campaign fired, and the kill did happen mid-run.
  // The outage refuses the ERP requests made in its 10 s; when the CRM connection's breaker is open then, none are.
  for (const kind of ["error", "lost-response", "throttle"]) assert.ok(fired[kind] > 0, `${variant}: no ${kind} fault fired: ${JSON.stringify(fired)}`);
  assert.ok(timeline.outageAtMs > 0, `${variant}: the ERP outage was not injected`);
  assert.ok(timeline.answeredAtKill > 0 && timeline.answeredAtKill < list.length, `${variant}: the kill did not land mid-run`);
  assert.ok(instances.some((i) => i.starts === 2), `${variant}: no process was restarted`);

  const eventsPerOpportunity = mine.length / distinct;
  t.diagnostic(
    `${variant}: sent ${list.length} (distinct ${distinct}, duplicates ${list.length - distinct}); webhook POSTs ${box.state.sent} (not taken ${box.state.refused}), ` +
      `redelivered by the outbox ${box.state.sent - box.state.refused - list.length}; ` +
      `ERP orders ${[...after.ordersBy.values()].reduce((n, o) => n + o.length, 0)} (duplicates 0); ` +
      `DLQ before replay ${before.letters.length} (${before.lettersBy.size} opportunities, ${[...before.lettersBy.keys()].filter((id) => before.ordersBy.has(id)).length} of them with an order already), replayed ${replayed}, after replay ${after.letters.length}; ` +
      `order.created events ${mine.length} (${byOpportunity.size} distinct opportunities, ${distinctOrders.size} distinct orders, ${eventsPerOpportunity.toFixed(3)} per order); ` +
      `dlq.captured events ${dlqEvents.length}; webhooks taken per process ${JSON.stringify(box.state.answeredBy)}; write-backs ${after.writeBacks.size}/${distinct}`,
  );
  t.diagnostic(`${variant}: faults fired ${JSON.stringify(fired)}`);
  t.diagnostic(`${variant}: dead letters under faults by error ${JSON.stringify(before.errors)}`);
  t.diagnostic(`${variant}: timeline ${JSON.stringify(timeline)}; processes ${instances.map((i) => `${i.label} started ${i.starts}×`).join(", ")}`);
}

module.exports = { check, eventFacts };
