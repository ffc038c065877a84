import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from "node-red";
import { deadLetterOf, type DeadLetter, type DeadLetterFilter, type Store } from "../lib/state";
import { StatusBoard, asError, permission, positiveNumber } from "../common/glue";
import type { StoreNode } from "../common/store-node";
import { instrumentation, watchDeadLetters } from "../common/telemetry";

interface DlqDef extends NodeDef {
  store: string;
  queue: string;
  maxAttempts: string | number;
  retentionDays: string | number;
  redactPaths: string;
  maxKb: string | number;
}

/** Carried by a replayed message, so a second failure updates its entry instead of adding one. */
interface DlqMark {
  id: string;
  queue: string;
  attempts: number;
  replayedAt?: string;
}

type Command = { action: "replay" | "list" | "discard"; ids?: string[]; filter?: DeadLetterFilter; all?: boolean; limit?: number; cursor?: string };
type DlqMessage = NodeMessageInFlow & {
  dlq?: DlqMark | (Command & Partial<DlqMark>);
  error?: { message?: string; stack?: string; source?: { id?: string; type?: string; name?: string } };
  correlationId?: string;
  idempotency?: { key?: string };
};

/** One deployed DLQ node: what the admin API and the sidebar act through. */
interface Registered {
  node: Node;
  queue: string;
  storeNode: StoreNode;
  replay(entries: DeadLetter[]): Promise<number>;
}

const MAX_COMMAND_LIMIT = 1000;
const DEPTH_INTERVAL_MS = 250;

export = function register(RED: NodeAPI): void {
  const observe = instrumentation(RED);
  const registry = new Map<string, Registered>();

  /** Pushes the queue's depth to open editors (the Keelson sidebar listens). */
  async function publishDepth(entry: Registered): Promise<void> {
    try {
      const store = await entry.storeNode.store();
      const depth = (await store.queues()).find((q) => q.queue === entry.queue);
      RED.comms.publish("keelson/dlq", { queue: entry.queue, store: entry.storeNode.id, depth: depth?.depth ?? 0, oldestAt: depth?.oldestAt ?? null }, false);
    } catch {
      // the sidebar refreshes on its own; a store outage shows in the node status
    }
  }

  function DlqNode(this: Node, def: DlqDef) {
    RED.nodes.createNode(this, def);
    const node = this;
    const status = new StatusBoard(node);
    const storeNode = RED.nodes.getNode(def.store) as StoreNode | null;
    const queue = (def.queue || "default").trim();
    const maxAttempts = positiveNumber(def.maxAttempts, 5);
    const retentionMs = positiveNumber(def.retentionDays, 30) * 24 * 3600 * 1000;
    const redactPaths = (def.redactPaths || "").split(",").map((p) => p.trim()).filter(Boolean);
    const maxBytes = positiveNumber(def.maxKb, 1024) * 1024;
    let captured = 0;
    let replayed = 0;

    if (!storeNode) status.now({ fill: "red", shape: "ring", text: "no store configured" });
    else status.now({ fill: "grey", shape: "ring", text: queue });

    async function store(): Promise<Store> {
      if (!storeNode) throw new Error("dead-letter queue not ready: no store configured");
      return storeNode.store();
    }

    /** Sends entries out of output 1, each as its stored message marked with msg.dlq, and removes them. */
    async function replay(entries: DeadLetter[]): Promise<number> {
      const s = await store();
      for (const entry of entries) {
        const msg = { ...(entry.message as object) } as DlqMessage;
        msg.dlq = { id: entry.id, queue: entry.queue, attempts: entry.attempts, replayedAt: new Date().toISOString() };
        delete msg.error;
        node.send([msg, null]);
      }
      // Removed once sent: a replay that fails again is captured afresh under the same id with its attempt count.
      await s.remove(entries.map((e) => e.id));
      replayed += entries.length;
      showCounts();
      return entries.length;
    }

    const self: Registered | undefined = storeNode ? { node, queue, storeNode, replay } : undefined;
    if (self) registry.set(node.id, self);
    const unwatch = storeNode ? watchDeadLetters(RED, node, storeNode, queue) : () => undefined;

    // Counting a queue's depth reads all its entries: once per interval, not once per capture (which made a burst of
    // captures quadratic, about 300/s at 20,000 entries).
    let depthTimer: NodeJS.Timeout | undefined;
    function showCounts(): void {
      status.soon({ fill: captured > replayed ? "yellow" : "green", shape: "dot", text: `${queue}: ${captured} captured, ${replayed} replayed` });
      if (!self || depthTimer) return;
      depthTimer = setTimeout(() => {
        depthTimer = undefined;
        void publishDepth(self);
      }, DEPTH_INTERVAL_MS);
      depthTimer.unref();
    }

    async function select(s: Store, command: Command): Promise<DeadLetter[]> {
      const limit = Math.min(Math.max(Number(command.limit) || MAX_COMMAND_LIMIT, 1), MAX_COMMAND_LIMIT);
      if (Array.isArray(command.ids)) {
        const found = await Promise.all(command.ids.map((id) => s.get(String(id))));
        return found.filter((e): e is DeadLetter => !!e && e.queue === queue).slice(0, limit);
      }
      if (!command.all && !command.filter) throw new Error('a dead-letter command needs "ids", "filter" or "all": true');
      const page = await s.list(queue, { filter: command.filter, limit });
      return page.entries;
    }

    async function run(msg: DlqMessage, command: Command): Promise<DlqMessage> {
      const s = await store();
      if (command.action === "list") {
        const page = await s.list(queue, { filter: command.filter, limit: Math.min(Number(command.limit) || 100, MAX_COMMAND_LIMIT), cursor: command.cursor });
        msg.payload = page.entries;
        (msg as DlqMessage & { cursor?: string }).cursor = page.cursor;
        return msg;
      }
      const entries = await select(s, command);
      if (command.action === "replay") {
        msg.payload = { action: "replay", queue, count: await replay(entries), ids: entries.map((e) => e.id) };
      } else {
        const removed = await s.remove(entries.map((e) => e.id));
        msg.payload = { action: "discard", queue, count: removed, ids: entries.map((e) => e.id) };
        showCounts();
      }
      return msg;
    }

    async function capture(msg: DlqMessage): Promise<DlqMessage> {
      const s = await store();
      const mark = msg.dlq && typeof (msg.dlq as DlqMark).id === "string" && !(msg.dlq as Command).action ? (msg.dlq as DlqMark) : undefined;
      const source = msg.error?.source;
      const { dlq: _mark, ...original } = msg;
      const letter = deadLetterOf(
        {
          queue,
          message: original,
          error: msg.error ?? { message: "captured without an error" },
          source: { id: source?.id ?? node.id, type: source?.type ?? node.type, ...(source?.name ? { name: source.name } : {}) },
          ...(mark ? { id: mark.id, attempts: (Number(mark.attempts) || 0) + 1 } : {}),
          ...(typeof msg.correlationId === "string" ? { correlationId: msg.correlationId } : {}),
          ...(typeof msg.idempotency?.key === "string" ? { idempotencyKey: msg.idempotency.key } : {}),
        },
        { paths: redactPaths, maxBytes },
      );
      const entry = await s.capture(letter, { maxAttempts, retentionMs });
      captured++;
      showCounts();
      return { _msgid: msg._msgid, payload: summary(entry), topic: `dlq/${entry.state === "parked" ? "parked" : "captured"}`, correlationId: entry.correlationId } as DlqMessage;
    }

    node.on("input", observe(node, (msg: DlqMessage, send, done) => {
      Promise.resolve()
        .then(() => {
          const command = commandOf(msg);
          return command ? run(msg, command) : capture(msg);
        })
        .then((out) => {
          send([null, out]);
          done();
        })
        .catch((err: unknown) => {
          const error = asError(err);
          status.now({ fill: "red", shape: "dot", text: error.name === "StoreUnavailableError" ? "store unavailable" : "capture failed" });
          done(error);
        });
    }));

    node.on("close", (done: () => void) => {
      if (depthTimer) clearTimeout(depthTimer);
      registry.delete(node.id);
      unwatch();
      status.close();
      done();
    });
  }

  /** A message is a command when it says so in msg.dlq.action or msg.action (and carries no error to capture). */
  function commandOf(msg: DlqMessage): Command | undefined {
    const raw = (msg.dlq && (msg.dlq as Command).action ? msg.dlq : (msg as unknown as { action?: unknown }).action ? msg : undefined) as Command | undefined;
    if (!raw || msg.error) return undefined;
    if (!["replay", "list", "discard"].includes(raw.action)) throw new Error(`unknown dead-letter action "${String(raw.action)}": use replay, list or discard`);
    return raw;
  }

  /** What leaves output 2 for a capture: enough to alert on, without the message itself. */
  function summary(e: DeadLetter): Record<string, unknown> {
    return { id: e.id, queue: e.queue, state: e.state, attempts: e.attempts, error: e.error.message, source: e.source, correlationId: e.correlationId, idempotencyKey: e.idempotencyKey, firstFailedAt: new Date(e.firstFailedAt).toISOString(), lastFailedAt: new Date(e.lastFailedAt).toISOString() };
  }

  RED.nodes.registerType("keelson-dlq", DlqNode);
  registerAdminApi(RED, registry, publishDepth);
};

/** The admin HTTP API behind the Keelson sidebar: queues, entries, edit, replay, discard, bulk. */
function registerAdminApi(RED: NodeAPI, registry: Map<string, Registered>, publishDepth: (r: Registered) => Promise<void>): void {
  const read = permission(RED, "keelson-dlq.read");
  const write = permission(RED, "keelson-dlq.write");
  type Res = { status(code: number): Res; json(body: unknown): void };
  type Req = { params: Record<string, string>; query: Record<string, unknown>; body?: Record<string, unknown> };

  /** The deployed DLQ nodes by queue; several nodes may share one queue and store, any of them can replay it. */
  function owners(queue?: string): Registered[] {
    const seen = new Set<string>();
    return [...registry.values()].filter((r) => {
      const k = `${r.storeNode.id}|${r.queue}`;
      if ((queue && r.queue !== queue) || seen.has(k)) return false;
      seen.add(k);
      return true;
    });
  }

  async function findEntry(id: string): Promise<{ owner: Registered; entry: DeadLetter } | undefined> {
    const stores = new Map<string, Registered[]>();
    for (const r of owners()) stores.set(r.storeNode.id, [...(stores.get(r.storeNode.id) ?? []), r]);
    for (const list of stores.values()) {
      const entry = await (await list[0]!.storeNode.store()).get(id);
      const owner = entry && list.find((r) => r.queue === entry.queue);
      if (entry && owner) return { owner, entry };
    }
    return undefined;
  }

  const handle = (fn: (req: Req, res: Res) => Promise<void>) => (req: Req, res: Res) => {
    fn(req, res).catch((err: unknown) => {
      const e = asError(err);
      res.status(e.name === "StoreUnavailableError" ? 503 : 500).json({ error: e.message });
    });
  };
  // Node-RED's admin app is Express; its types are not ours to pull in.
  const app = RED.httpAdmin as unknown as {
    get(path: string, ...handlers: unknown[]): void;
    put(path: string, ...handlers: unknown[]): void;
    post(path: string, ...handlers: unknown[]): void;
    delete(path: string, ...handlers: unknown[]): void;
  };

  app.get("/keelson/dlq/queues", read, handle(async (_req, res) => {
    const out = [];
    for (const r of owners()) {
      const depth = (await (await r.storeNode.store()).queues()).find((q) => q.queue === r.queue);
      out.push({ queue: r.queue, store: r.storeNode.id, backend: r.storeNode.backend, nodes: [...registry.values()].filter((x) => x.queue === r.queue).map((x) => x.node.id), depth: depth?.depth ?? 0, oldestAt: depth?.oldestAt ?? null });
    }
    res.json(out);
  }));

  app.get("/keelson/dlq/queues/:queue/entries", read, handle(async (req, res) => {
    const [owner] = owners(req.params.queue);
    if (!owner) return res.status(404).json({ error: `no deployed dead-letter node holds queue "${req.params.queue}"` });
    const state = req.query.state === "pending" || req.query.state === "parked" ? req.query.state : undefined;
    const page = await (await owner.storeNode.store()).list(owner.queue, { limit: Math.min(Number(req.query.limit) || 100, MAX_COMMAND_LIMIT), cursor: typeof req.query.cursor === "string" ? req.query.cursor : undefined, filter: state ? { state } : undefined });
    res.json(page);
  }));

  app.get("/keelson/dlq/entries/:id", read, handle(async (req, res) => {
    const found = await findEntry(req.params.id!);
    if (!found) return res.status(404).json({ error: "no such dead letter" });
    res.json(found.entry);
  }));

  app.put("/keelson/dlq/entries/:id", write, handle(async (req, res) => {
    const found = await findEntry(req.params.id!);
    if (!found) return res.status(404).json({ error: "no such dead letter" });
    const message = req.body?.message;
    if (typeof message !== "object" || message === null || Array.isArray(message)) return res.status(400).json({ error: "body must be {message: {…}} with the edited Node-RED message" });
    const updated = await (await found.owner.storeNode.store()).update(found.entry.id, { message });
    res.json(updated);
  }));

  app.post("/keelson/dlq/entries/:id/replay", write, handle(async (req, res) => {
    const found = await findEntry(req.params.id!);
    if (!found) return res.status(404).json({ error: "no such dead letter" });
    const edited = req.body?.message;
    const entry = edited && typeof edited === "object" && !Array.isArray(edited) ? { ...found.entry, message: edited } : found.entry;
    res.json({ replayed: await found.owner.replay([entry]) });
  }));

  app.delete("/keelson/dlq/entries/:id", write, handle(async (req, res) => {
    const found = await findEntry(req.params.id!);
    if (!found) return res.status(404).json({ error: "no such dead letter" });
    const removed = await (await found.owner.storeNode.store()).remove([found.entry.id]);
    void publishDepth(found.owner);
    res.json({ discarded: removed });
  }));

  /** Bulk: {action: "replay" | "discard", ids?: [...], state?: "pending" | "parked", all?: true, limit?} */
  app.post("/keelson/dlq/queues/:queue/bulk", write, handle(async (req, res) => {
    const [owner] = owners(req.params.queue);
    if (!owner) return res.status(404).json({ error: `no deployed dead-letter node holds queue "${req.params.queue}"` });
    const body = req.body ?? {};
    if (body.action !== "replay" && body.action !== "discard") return res.status(400).json({ error: 'action must be "replay" or "discard"' });
    const store = await owner.storeNode.store();
    let entries: DeadLetter[];
    if (Array.isArray(body.ids)) {
      entries = (await Promise.all(body.ids.map((id) => store.get(String(id))))).filter((e): e is DeadLetter => !!e && e.queue === owner.queue);
    } else if (body.all === true || body.state) {
      const state = body.state === "pending" || body.state === "parked" ? body.state : undefined;
      entries = (await store.list(owner.queue, { limit: Math.min(Number(body.limit) || MAX_COMMAND_LIMIT, MAX_COMMAND_LIMIT), filter: state ? { state } : undefined })).entries;
    } else {
      return res.status(400).json({ error: 'give "ids", "state" or "all": true' });
    }
    if (body.action === "replay") return res.json({ replayed: await owner.replay(entries) });
    const removed = await store.remove(entries.map((e) => e.id));
    void publishDepth(owner);
    res.json({ discarded: removed });
  }));
}
