import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from "node-red";
import { claimWhenSettled, fingerprintOf, type ClaimOutcome, type Store } from "../lib/state";
import { StatusBoard, asError, positiveNumber, readProperty, type PropertyType } from "../common/glue";
import type { StoreNode } from "../common/store-node";
import { instrumentation } from "../common/telemetry";

type Action = "claim" | "complete" | "release";

interface GateDef extends NodeDef {
  store: string;
  action: Action;
  key: string;
  keyType: "msg" | "jsonata" | "str" | "env";
  fingerprint: string;
  fingerprintType: PropertyType | "none";
  result: string;
  resultType: PropertyType;
  releaseMode: "retry" | "failed";
  leaseSeconds: string | number;
  retentionDays: string | number;
  waitSeconds: string | number;
}

/** What the gate writes on msg.idempotency. */
interface Idempotency {
  key: string;
  state: "claimed" | "completed" | "failed" | "in-flight" | "conflict" | "released";
  claimedAt?: string;
  token?: string;
  reclaimed?: boolean;
  result?: unknown;
  reason?: string;
  completedAt?: string;
  failedAt?: string;
  leaseExpiresAt?: string;
  fingerprint?: string;
}

type GateMessage = NodeMessageInFlow & { idempotency?: Idempotency; error?: { message?: unknown } };

const MAX_KEY_LENGTH = 512;
const iso = (ms: number): string => new Date(ms).toISOString();

export = function register(RED: NodeAPI): void {
  const observe = instrumentation(RED);
  function GateNode(this: Node, def: GateDef) {
    RED.nodes.createNode(this, def);
    const node = this;
    const status = new StatusBoard(node);
    const storeNode = RED.nodes.getNode(def.store) as StoreNode | null;
    const action: Action = def.action || "claim";
    const leaseMs = positiveNumber(def.leaseSeconds, 600) * 1000;
    const retentionMs = positiveNumber(def.retentionDays, 30) * 24 * 3600 * 1000;
    const waitMs = Math.max(0, Number(def.waitSeconds) || 0) * 1000;
    const counts = { new: 0, duplicate: 0, "in-flight": 0, conflict: 0, done: 0 };
    const closing = new AbortController();
    let keyExpression: ReturnType<typeof RED.util.prepareJSONataExpression> | undefined;
    let setupError: string | undefined;

    if (!storeNode) setupError = "no store configured";
    if (action === "claim" && def.keyType === "jsonata") {
      try {
        keyExpression = RED.util.prepareJSONataExpression(def.key, node);
      } catch (err) {
        setupError = `key expression: ${asError(err).message}`;
      }
    }
    if (setupError) status.now({ fill: "red", shape: "ring", text: setupError });
    else status.now({ fill: "grey", shape: "ring", text: action });

    /** The key of this message: for claim from the configured expression, otherwise from msg.idempotency. */
    async function keyOf(msg: GateMessage): Promise<string> {
      let key: unknown;
      if (action !== "claim" && def.keyType === "msg" && (!def.key || def.key === "idempotency.key")) {
        key = msg.idempotency?.key;
      } else if (def.keyType === "jsonata" && keyExpression) {
        const expr = keyExpression;
        key = await new Promise((resolve, reject) => RED.util.evaluateJSONataExpression(expr, msg, (err, value) => (err ? reject(err) : resolve(value))));
      } else if (def.keyType === "msg") {
        key = await readProperty(RED, node, "msg", def.key, msg);
      } else {
        key = RED.util.evaluateNodeProperty(def.key, def.keyType, node, msg);
      }
      if (key === undefined || key === null || key === "") throw new Error(`idempotency key is missing: ${describeKey()} gave ${key === "" ? "an empty string" : String(key)}`);
      if (typeof key === "number" && Number.isFinite(key)) key = String(key);
      if (typeof key !== "string") throw new Error(`idempotency key must be a string, but ${describeKey()} gave ${Array.isArray(key) ? "an array" : typeof key}`);
      if (key.length > MAX_KEY_LENGTH) throw new Error(`idempotency key is longer than ${MAX_KEY_LENGTH} characters`);
      return key;
    }
    const describeKey = (): string => (def.keyType === "jsonata" ? `the key expression ${def.key}` : `${def.keyType}.${def.key}`);

    async function claim(store: Store, msg: GateMessage): Promise<[number, ClaimOutcome, string, string | undefined]> {
      const key = await keyOf(msg);
      let fingerprint: string | undefined;
      if (def.fingerprintType && def.fingerprintType !== "none" && def.fingerprint) {
        const value = await readProperty(RED, node, def.fingerprintType, def.fingerprint, msg);
        fingerprint = fingerprintOf(value === undefined ? null : value);
      }
      const options = { fingerprint, leaseMs, retentionMs };
      const outcome = waitMs > 0 ? await claimWhenSettled(store, key, options, { waitMs, signal: closing.signal }) : await store.claim(key, options);
      const port = { new: 0, duplicate: 1, failed: 1, "in-flight": 2, conflict: 3 }[outcome.outcome];
      return [port, outcome, key, fingerprint];
    }

    function describeOutcome(outcome: ClaimOutcome, key: string, fingerprint: string | undefined): Idempotency {
      switch (outcome.outcome) {
        case "new":
          return { key, state: "claimed", claimedAt: iso(outcome.claimedAt), token: outcome.token, reclaimed: outcome.reclaimed, ...(fingerprint ? { fingerprint } : {}) };
        case "duplicate":
          return { key, state: "completed", claimedAt: iso(outcome.claimedAt), completedAt: iso(outcome.completedAt), result: outcome.result };
        case "failed":
          return { key, state: "failed", claimedAt: iso(outcome.claimedAt), failedAt: iso(outcome.failedAt), reason: outcome.reason };
        case "in-flight":
          return { key, state: "in-flight", claimedAt: iso(outcome.claimedAt), leaseExpiresAt: iso(outcome.leaseExpiresAt) };
        case "conflict":
          return { key, state: "conflict", ...(fingerprint ? { fingerprint } : {}) };
      }
    }

    node.on("input", observe(node, (msg: GateMessage, send, done) => {
      if (setupError || !storeNode) {
        done(new Error(`idempotency gate not ready: ${setupError ?? "no store"}`));
        return;
      }
      storeNode
        .store()
        .then(async (store) => {
          if (action === "claim") {
            const [port, outcome, key, fingerprint] = await claim(store, msg);
            msg.idempotency = describeOutcome(outcome, key, fingerprint);
            counts[outcome.outcome === "failed" ? "duplicate" : outcome.outcome]++;
            const out: (GateMessage | null)[] = [null, null, null, null];
            out[port] = msg;
            send(out);
            status.soon({ fill: "green", shape: "dot", text: `${counts.new} new, ${counts.duplicate} dup, ${counts["in-flight"]} busy, ${counts.conflict} conflict` });
            done();
            return;
          }
          const key = await keyOf(msg);
          const token = msg.idempotency?.token;
          if (typeof token !== "string" || !token) throw new Error("msg.idempotency.token is missing: complete and release need the message that a claim let through");
          if (action === "complete") {
            const result = def.resultType ? await readProperty(RED, node, def.resultType, def.result || "payload", msg) : msg.payload;
            await store.complete(key, token, result === undefined ? null : result, { retentionMs });
            msg.idempotency = { ...msg.idempotency, key, state: "completed", completedAt: new Date().toISOString() };
          } else {
            const mode = def.releaseMode || "retry";
            const reason = typeof msg.error?.message === "string" ? msg.error.message : mode === "failed" ? "released as failed" : "released";
            await store.release(key, token, { mode, reason, retentionMs });
            msg.idempotency = { ...msg.idempotency, key, state: mode === "failed" ? "failed" : "released", ...(mode === "failed" ? { reason } : {}) };
          }
          delete msg.idempotency.token;
          counts.done++;
          send(msg);
          status.soon({ fill: "green", shape: "dot", text: `${counts.done} ${action === "complete" ? "completed" : "released"}` });
          done();
        })
        .catch((err: unknown) => {
          const error = asError(err);
          status.now({ fill: "red", shape: "dot", text: error.name === "StoreUnavailableError" ? "store unavailable" : "error" });
          done(error);
        });
    }));

    node.on("close", (done: () => void) => {
      closing.abort(new Error("the gate node is closing"));
      status.close();
      done();
    });
  }

  RED.nodes.registerType("keelson-gate", GateNode);
};
