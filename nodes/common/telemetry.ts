import type { Node, NodeAPI, NodeMessage, NodeMessageInFlow } from "node-red";
import type { Connection } from "../lib/resilience/connection";
import type { DeadLetter, StepRecord } from "../lib/state";
import type { TraceStep } from "../lib/telemetry/trace";
import { Telemetry, type Handling, type NodeProbe } from "../lib/telemetry/telemetry";
import { stepContext } from "../lib/telemetry/context";
import { asError, permission } from "./glue";
import type { StoreNode } from "./store-node";

type Send = (msg: NodeMessage | Array<NodeMessage | NodeMessage[] | null>) => void;
type Done = (err?: Error) => void;
type InputListener<M> = (msg: M, send: Send, done: Done) => void;

/** The dead-letter queues deployed now, for the trace's "and its dead letter". */
const deadLetterQueues = new Map<string, { queue: string; storeNode: StoreNode }>();
/** One Telemetry per Node-RED runtime (its admin app), shared by every Keelson node type. */
const perRuntime = new WeakMap<object, Telemetry>();

/** The runtime's telemetry, from settings.js `keelson: {...}`; the first call adds its admin routes. */
export function telemetryOf(RED: NodeAPI): Telemetry {
  let t = perRuntime.get(RED.httpAdmin);
  if (!t) {
    t = new Telemetry((RED.settings as unknown as { keelson?: unknown }).keelson, (line) => process.stdout.write(`${line}\n`));
    perRuntime.set(RED.httpAdmin, t);
    addRoutes(RED, t);
  }
  return t;
}

/**
 * Called once as a node type registers (so the metrics, trace and health routes exist as soon as Keelson loads);
 * returns `observe`, which wraps a node's input listener so telemetry sees each message in, each message out (by
 * output), done(err) and how long it took. With telemetry off `observe` returns the listener itself: nothing is
 * added to the message path.
 */
export function instrumentation(RED: NodeAPI): <M extends NodeMessageInFlow>(node: Node, listener: InputListener<M>) => InputListener<M> {
  const t = telemetryOf(RED);
  return (node, listener) => observe(t, node, listener);
}

function observe<M extends NodeMessageInFlow>(t: Telemetry, node: Node, listener: InputListener<M>): InputListener<M> {
  if (!t.recording) return listener;
  const probe = t.probe({ id: node.id, type: node.type, ...(node.name ? { name: node.name } : {}), ...(node.z ? { flow: node.z } : {}) });
  // Node-RED's send inside a listener calls node.send; a node.send that did not come through it is the node's own
  // (a dead-letter replay from the admin API), counted apart.
  let inListener = false;
  const nodeSend = node.send;
  node.send = (out) => {
    if (!inListener && out) emitted(probe, out);
    nodeSend.call(node, out);
  };
  // With the trace on, the listener runs in the step's context, so a vendor connection can add its request ids.
  const tracing = t.settings.trace.enabled;
  return (msg, send, done) => {
    const handling = probe.begin(msg as unknown as Record<string, unknown>);
    if (tracing) stepContext.run(handling, handle, msg, send, done, handling);
    else handle(msg, send, done, handling);
  };
  function handle(msg: M, send: Send, done: Done, handling: Handling): void {
    listener(
      msg,
      (out) => {
        sent(probe, handling, out);
        inListener = true;
        try {
          send(out);
        } finally {
          inListener = false;
        }
      },
      (err) => {
        probe.end(handling, msg as unknown as Record<string, unknown>, err);
        if (err) done(err);
        else done();
      },
    );
  }
}

function emitted(probe: NodeProbe, out: Parameters<Send>[0]): void {
  each(out, (m, port) => probe.emitted(m, port));
}

function sent(probe: NodeProbe, handling: Handling, out: Parameters<Send>[0]): void {
  each(out, (m, port) => probe.sent(handling, m, port));
}

/** Every message of a send, with its output. */
function each(out: Parameters<Send>[0], fn: (msg: Record<string, unknown>, output: number) => void): void {
  if (!Array.isArray(out)) {
    if (out) fn(out as Record<string, unknown>, 0);
    return;
  }
  for (let port = 0; port < out.length; port++) {
    const m = out[port];
    if (!m) continue;
    if (Array.isArray(m)) for (const one of m) fn(one as Record<string, unknown>, port);
    else fn(m as Record<string, unknown>, port);
  }
}

/** Reads a vendor connection's counters, breaker and quota at each scrape for as long as the config node lives. */
export function watchConnection(RED: NodeAPI, node: Node, system: string, connection: Connection): () => void {
  const t = telemetryOf(RED);
  if (!t.recording) return () => undefined;
  return t.watchConnection(node.id, connection.name, system, () => connection.state());
}

/** The store nodes deployed, in the order they started, and the one the trace is kept in, per runtime. */
const traceCandidates = new WeakMap<Telemetry, StoreNode[]>();
const traceStores = new WeakMap<Telemetry, { node: StoreNode; stop: () => Promise<void> }>();

/**
 * Called by each keelson-store config node as it starts: the trace is kept in the store node settings.js names
 * (`keelson.trace.store`, a node id) or else in the first one deployed. Returns what the node calls as it closes
 * (before closing its store): the pending steps are flushed, and the trace moves to the next store node, or to
 * memory alone when none is left.
 */
export function offerTraceStore(RED: NodeAPI, node: StoreNode): () => Promise<void> {
  const t = telemetryOf(RED);
  if (!t.settings.trace.enabled) return () => Promise.resolve();
  let list = traceCandidates.get(t);
  if (!list) traceCandidates.set(t, (list = []));
  list.push(node);
  void chooseTraceStore(t);
  return async () => {
    if (traceStores.get(t)?.node === node) await t.flushSteps();
    list.splice(list.indexOf(node), 1);
    await chooseTraceStore(t);
  };
}

async function chooseTraceStore(t: Telemetry): Promise<void> {
  const wanted = t.settings.trace.store;
  const list = traceCandidates.get(t) ?? [];
  const next = wanted ? list.find((n) => n.id === wanted) : list[0];
  const current = traceStores.get(t);
  if (current?.node === next) return;
  traceStores.delete(t);
  if (next) {
    const stop = t.useStore(async () => {
      const store = await next.store();
      return {
        appendSteps: (steps: readonly TraceStep[], options?: { retentionMs?: number }) => store.appendSteps(steps, options),
        findSteps: async (id: string, options?: { limit?: number }) => (await store.findSteps(id, options)) as Array<StepRecord & TraceStep>,
      };
    });
    traceStores.set(t, { node: next, stop });
  }
  // Replaced by the next store: steps still pending go there. None left: they are flushed to this one first.
  await current?.stop();
}

/** Reads a dead-letter queue's depth at each scrape, and lets the trace find its entries. */
export function watchDeadLetters(RED: NodeAPI, node: Node, storeNode: StoreNode, queue: string): () => void {
  const t = telemetryOf(RED);
  if (!t.recording) return () => undefined;
  deadLetterQueues.set(node.id, { queue, storeNode });
  const forget = t.watchQueue(node.id, queue, storeNode.id, async () => {
    const depth = (await (await storeNode.store()).queues()).find((q) => q.queue === queue);
    return { depth: depth?.depth ?? 0, oldestAt: depth?.oldestAt ?? null };
  });
  return () => {
    deadLetterQueues.delete(node.id);
    forget();
  };
}

/** The dead letters that carry any of these correlation ids, across every deployed queue. */
async function deadLettersOf(correlationIds: string[]): Promise<DeadLetter[]> {
  const out = new Map<string, DeadLetter>();
  const seen = new Set<string>();
  for (const { queue, storeNode } of deadLetterQueues.values()) {
    const key = `${storeNode.id}\u0000${queue}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const store = await storeNode.store();
    for (const correlationId of correlationIds) {
      for (const entry of (await store.list(queue, { filter: { correlationId }, limit: 100 })).entries) out.set(entry.id, entry);
    }
  }
  return [...out.values()];
}

type Req = { params: Record<string, string>; headers: Record<string, string | undefined>; user?: unknown };
type Res = { status(code: number): Res; json(body: unknown): void; set(name: string, value: string): Res; send(body: string): void };

function addRoutes(RED: NodeAPI, t: Telemetry): void {
  const app = RED.httpAdmin as unknown as { get(path: string, ...handlers: unknown[]): void };
  const fail = (res: Res) => (err: unknown) => res.status(500).json({ error: asError(err).message });

  if (t.settings.metrics.enabled) {
    const token = t.settings.metrics.token;
    // A scraper cannot sign in to the editor: a bearer token from settings.js stands in for the admin permission.
    const guard = token
      ? (req: Req, res: Res, next: () => void) => {
          const given = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? "")?.[1];
          if (given === undefined) return res.status(401).set("WWW-Authenticate", 'Bearer realm="keelson-metrics"').json({ error: "a bearer token is needed" });
          if (given !== token) return res.status(403).json({ error: "wrong token" });
          next();
        }
      : permission(RED, "keelson-metrics.read");
    app.get(t.settings.metrics.path, guard, (_req: Req, res: Res) => {
      t.render().then((text) => res.status(200).set("Content-Type", "text/plain; version=0.0.4; charset=utf-8").send(text), fail(res));
    });
  }

  app.get("/keelson/trace/:id", permission(RED, "keelson-trace.read"), (req: Req, res: Res) => {
    const id = req.params.id ?? "";
    const storeNode = traceStores.get(t)?.node;
    t.lookup(id)
      .then(async ({ steps, storeError }) => {
        const correlationIds = [...new Set([id, ...steps.map((s) => s.correlationId)])];
        const deadLetters = await deadLettersOf(correlationIds);
        res.json({
          id,
          enabled: !!t.trace,
          // Where the steps come from: the store node (shared by every process using it) or this process's memory.
          source: storeNode ? { store: storeNode.id, name: storeNode.describe(), ...(storeError ? { error: storeError } : {}) } : "memory",
          correlationIds: correlationIds.filter((c) => (c === id ? steps.some((s) => s.correlationId === c) : true)),
          steps,
          deadLetters,
        });
      })
      .catch(fail(res));
  });

  app.get("/keelson/health", permission(RED, "keelson-health.read"), (_req: Req, res: Res) => {
    snapshot(RED, t).then((body) => res.json(body), fail(res));
  });

  if (t.recording) {
    const timer = setInterval(() => {
      snapshot(RED, t)
        .then((body) => RED.comms.publish("keelson/health", body, false))
        .catch(() => undefined);
    }, t.settings.healthIntervalSeconds * 1000);
    timer.unref();
  }
}

/** The health snapshot, with the nodes each connection serves so the view can link to them. */
async function snapshot(RED: NodeAPI, t: Telemetry): Promise<Record<string, unknown>> {
  const health = await t.health();
  const users = new Map<string, string[]>();
  RED.nodes.eachNode((n: { id: string; connection?: unknown }) => {
    if (typeof n.connection === "string") users.set(n.connection, [...(users.get(n.connection) ?? []), n.id]);
  });
  return {
    ...health,
    enabled: { metrics: t.settings.metrics.enabled, trace: t.settings.trace.enabled, logs: t.settings.logs.json },
    connections: health.connections.map((c) => ({ ...c, nodes: users.get(c.id) ?? [] })),
  };
}
