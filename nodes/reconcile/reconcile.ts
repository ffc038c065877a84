import type { Node, NodeAPI, NodeDef, NodeMessage, NodeMessageInFlow } from "node-red";
import { StatusBoard, asError, readProperty, type PropertyType } from "../common/glue";
import { Reconciler, SIDES, type KeySpec, type Outcome, type ReconcileResult, type ReconcileSpec, type ResultSink, type Side, type Summary } from "../lib/reconcile/reconciler";
import type { FieldRuleSpec } from "../lib/reconcile/rules";
import { SideSequence, type Parts } from "../lib/reconcile/sequence";
import { instrumentation } from "../common/telemetry";

interface ReconcileDef extends NodeDef {
  left: string;
  leftType: PropertyType;
  right: string;
  rightType: PropertyType;
  sideProperty: string;
  leftKey: string;
  leftKeyType: "fields" | "jsonata";
  rightKey: string;
  rightKeyType: "fields" | "jsonata";
  trimKeys: boolean;
  ignoreCase: boolean;
  stripLeadingZeros: boolean;
  rules: FieldRuleSpec[];
  compareOtherFields: boolean;
  outputMode: "record" | "chunk";
  chunkSize: string | number;
  memoryBudget: string | number;
  tempDir: string;
  csvPath: string;
}

type InputMessage = NodeMessageInFlow & { action?: unknown; reconcileId?: unknown; parts?: Parts; correlationId?: unknown };
type Send = (msg: Array<NodeMessage | null>) => void;

/** A streamed reconciliation: its records so far and where each side's sequence stands. */
interface Run {
  id: string;
  reconciler: Reconciler;
  sides: Record<Side, SideSequence>;
  /** Messages of one run are handled one after another, in arrival order. */
  queue: Promise<void>;
  failure?: Error;
}

const DEFAULT_RUN = "default";
const OUTPUT_INDEX: Record<Outcome, number> = { matched: 0, mismatched: 1, onlyLeft: 2, onlyRight: 3 };

function keySpec(text: string, type: "fields" | "jsonata"): KeySpec | undefined {
  if (!text || !text.trim()) return undefined;
  if (type === "jsonata") return { expression: text };
  return { fields: text.split(",").map((f) => f.trim()).filter(Boolean) };
}

export = function register(RED: NodeAPI): void {
  const observe = instrumentation(RED);
  function ReconcileNode(this: Node, def: ReconcileDef) {
    RED.nodes.createNode(this, def);
    const node = this;
    const status = new StatusBoard(node);
    const leftType: PropertyType = def.leftType || "msg";
    const left = def.left || "payload.left";
    const rightType: PropertyType = def.rightType || "msg";
    const right = def.right || "payload.right";
    const sideProperty = def.sideProperty || "side";
    const chunkSize = Math.max(1, Math.floor(Number(def.chunkSize) || 1000));
    const perRecord = def.outputMode === "record";
    const csvPath = (def.csvPath || "").trim() || undefined;
    const runs = new Map<string, Run>();
    /** Reconciliations joining right now, so a redeploy can stop them. */
    const joining = new Set<Reconciler>();

    const leftKey = keySpec(def.leftKey, def.leftKeyType || "fields");
    const spec: ReconcileSpec = {
      key: { left: leftKey as KeySpec, right: keySpec(def.rightKey, def.rightKeyType || "fields") ?? (leftKey as KeySpec) },
      normalise: { trim: def.trimKeys !== false, ignoreCase: def.ignoreCase === true, stripLeadingZeros: def.stripLeadingZeros === true },
      fields: Array.isArray(def.rules) ? def.rules : [],
      compareOtherFields: def.compareOtherFields === true,
      memoryBudgetBytes: (Number(def.memoryBudget) || 1024) * 1024 * 1024,
      tempDir: (def.tempDir || "").trim() || undefined,
    };
    // A configuration error shows at deploy and is reported with every message, naming the field.
    let setupError: Error | undefined;
    try {
      new Reconciler(spec);
      status.now({ fill: "grey", shape: "ring", text: "ready" });
    } catch (err) {
      setupError = asError(err);
      node.error(setupError.message);
      status.now({ fill: "red", shape: "dot", text: "configuration error" });
    }

    function showReading(reconciler: Reconciler): void {
      const c = reconciler.counts;
      status.soon({ fill: "blue", shape: "dot", text: `read L ${c.left} · R ${c.right}` });
    }

    /** Joins and sends every result; the summary leaves on output 5 on the message that closed the run. */
    async function finish(id: string, reconciler: Reconciler, msg: InputMessage, send: Send): Promise<void> {
      status.now({ fill: "blue", shape: "ring", text: "joining" });
      joining.add(reconciler);
      const chunks: Record<Outcome, ReconcileResult[]> = { matched: [], mismatched: [], onlyLeft: [], onlyRight: [] };
      const seen = { matched: 0, mismatched: 0, onlyLeft: 0, onlyRight: 0 };
      const emit = (outcome: Outcome, payload: unknown): void => {
        const out: Array<NodeMessage | null> = [null, null, null, null, null];
        const m: NodeMessage & { reconcileId: string; correlationId?: unknown } = { payload, topic: outcome, reconcileId: id };
        if (msg.correlationId !== undefined) m.correlationId = msg.correlationId;
        out[OUTPUT_INDEX[outcome]] = m;
        send(out);
        status.soon({ fill: "blue", shape: "ring", text: resultText(seen) });
      };
      const sink: ResultSink = (outcome, result) => {
        seen[outcome]++;
        if (perRecord) emit(outcome, result);
        else {
          const chunk = chunks[outcome];
          chunk.push(result);
          if (chunk.length >= chunkSize) {
            emit(outcome, chunk);
            chunks[outcome] = [];
          }
        }
      };
      let summary: Summary;
      try {
        summary = await reconciler.reconcile(sink, csvPath ? { csvPath } : {});
      } finally {
        joining.delete(reconciler);
      }
      for (const outcome of Object.keys(chunks) as Outcome[]) if (chunks[outcome].length) emit(outcome, chunks[outcome]);
      const exceptions = summary.counts.mismatched + summary.counts.onlyLeft + summary.counts.onlyRight;
      status.now({ fill: exceptions ? "yellow" : "green", shape: "dot", text: resultText(seen) });
      msg.payload = { reconcileId: id, ...summary };
      msg.reconcileId = id;
      // The summary closes the sequence; it is not a part of it.
      delete msg.parts;
      send([null, null, null, null, msg]);
    }

    async function oneShot(msg: InputMessage, send: Send): Promise<void> {
      const id = msg.reconcileId !== undefined && msg.reconcileId !== null ? String(msg.reconcileId) : RED.util.generateId();
      const reconciler = new Reconciler(spec);
      try {
        await reconciler.add("left", await readProperty(RED, node, leftType, left, msg), `${leftType}.${left}`);
        await reconciler.add("right", await readProperty(RED, node, rightType, right, msg), `${rightType}.${right}`);
      } catch (err) {
        await reconciler.discard();
        throw err;
      }
      await finish(id, reconciler, msg, send);
    }

    async function streamed(run: Run, msg: InputMessage, send: Send): Promise<void> {
      if (msg.action === "end") {
        if (run.failure) {
          runs.delete(run.id);
          throw new Error(`reconciliation ${run.id} failed earlier: ${run.failure.message}`);
        }
        const which = RED.util.getMessageProperty(msg, sideProperty) as unknown;
        const ending = which === undefined ? SIDES : [sideOf(which)];
        for (const side of ending) run.sides[side].end();
        if (SIDES.every((s) => run.sides[s].complete)) {
          runs.delete(run.id);
          await finish(run.id, run.reconciler, msg, send);
        }
        return;
      }
      if (run.failure) return;
      const side = sideOf(RED.util.getMessageProperty(msg, sideProperty));
      const completes = run.sides[side].accept(msg.parts);
      const records = Array.isArray(msg.payload) ? msg.payload : [msg.payload];
      await run.reconciler.add(side, records, `msg.payload (${side} side)`);
      showReading(run.reconciler);
      if (completes && SIDES.every((s) => run.sides[s].complete)) {
        runs.delete(run.id);
        await finish(run.id, run.reconciler, msg, send);
      }
    }

    function sideOf(value: unknown): Side {
      if (value === "left" || value === "right") return value;
      throw new Error(`msg.${sideProperty} must be "left" or "right", got ${JSON.stringify(value) ?? "nothing"}`);
    }

    node.on("input", observe(node, (msg: InputMessage, send, done) => {
      if (setupError) {
        done(new Error(`not reconciled: ${setupError.message}`));
        return;
      }
      const id = msg.reconcileId !== undefined && msg.reconcileId !== null ? String(msg.reconcileId) : DEFAULT_RUN;
      if (msg.action === "reset") {
        const dropped = msg.reconcileId === undefined ? [...runs.values()] : [runs.get(id)].filter((r): r is Run => !!r);
        for (const run of dropped) runs.delete(run.id);
        Promise.all(dropped.map((run) => run.queue.then(() => run.reconciler.discard())))
          .then(() => {
            status.now({ fill: "grey", shape: "ring", text: "reset" });
            done();
          })
          .catch((err: unknown) => done(asError(err)));
        return;
      }
      if (msg.action !== undefined && msg.action !== "end") {
        done(new Error(`msg.action must be "end" or "reset", got ${JSON.stringify(msg.action)}`));
        return;
      }
      if (msg.action === undefined && RED.util.getMessageProperty(msg, sideProperty) === undefined) {
        oneShot(msg, send as Send)
          .then(() => done())
          .catch((err: unknown) => {
            status.now({ fill: "red", shape: "dot", text: "failed" });
            done(asError(err));
          });
        return;
      }
      let run = runs.get(id);
      if (!run) {
        run = { id, reconciler: new Reconciler(spec), sides: { left: new SideSequence("left"), right: new SideSequence("right") }, queue: Promise.resolve() };
        runs.set(id, run);
      }
      const active = run;
      active.queue = active.queue.then(() =>
        streamed(active, msg, send as Send)
          .then(() => done())
          .catch((err: unknown) => {
            const error = asError(err);
            // The run cannot be trusted any more: drop its records; its further chunks are ignored until its end or a reset.
            if (!active.failure && runs.get(active.id) === active) active.failure = error;
            active.reconciler.discard().catch((e: unknown) => node.warn(asError(e).message));
            status.now({ fill: "red", shape: "dot", text: `failed: ${active.id}` });
            done(error);
          }),
      );
    }));

    node.on("close", (done: () => void) => {
      const all = [...runs.values()];
      runs.clear();
      status.close();
      const stopping = [...joining].map((r) => r.discard());
      Promise.all([...stopping, ...all.map((run) => run.queue.then(() => run.reconciler.discard()))])
        .catch((err: unknown) => node.warn(asError(err).message))
        .then(() => done());
    });
  }

  function resultText(c: Record<Outcome, number>): string {
    return `✓${c.matched} ≠${c.mismatched} L${c.onlyLeft} R${c.onlyRight}`;
  }

  RED.nodes.registerType("keelson-reconcile", ReconcileNode);
};
