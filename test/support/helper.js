"use strict";
// The real Node-RED runtime through node-red-node-test-helper, shared by the node tests.
const helper = require("node-red-node-test-helper");

helper.init(require.resolve("node-red"));

/** Waits for the next message on a helper node, failing after `ms`. */
function nextMessage(node, ms = 2000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no message on ${node.id} within ${ms} ms`)), ms);
    node.once("input", (msg) => {
      clearTimeout(timer);
      resolve(msg);
    });
  });
}

/** Resolves true if no message arrives on `node` within `ms`. */
function noMessage(node, ms = 200) {
  return new Promise((resolve, reject) => {
    const onInput = (msg) => reject(new Error(`unexpected message on ${node.id}: ${JSON.stringify(msg)}`));
    node.once("input", onInput);
    setTimeout(() => {
      node.removeListener("input", onInput);
      resolve(true);
    }, ms);
  });
}

/** Collects every status a node shows. */
function statuses(node) {
  const seen = [];
  const original = node.status.bind(node);
  node.status = (s) => {
    seen.push(s);
    return original(s);
  };
  return seen;
}

/**
 * The status a node shows now: the last one it set (from its constructor on, through the test helper's spy on
 * Node.status), read once a StatusBoard's coalescing interval (250 ms) has passed.
 */
async function shownStatus(node) {
  await new Promise((r) => setTimeout(r, 300));
  return node.status.getCalls().filter((c) => c.thisValue === node).at(-1)?.args[0];
}

function waitFor(predicate, ms = 2000, what = "condition") {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const tick = () => {
      const value = predicate();
      if (value) return resolve(value);
      if (Date.now() - started > ms) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(tick, 10);
    };
    tick();
  });
}

module.exports = { helper, nextMessage, noMessage, statuses, shownStatus, waitFor };
