import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from "node-red";
import { CANONICAL_TYPES } from "../lib/canonical/schemas";
import { CanonicalMapper, Mapping, MappingSyntaxError } from "../lib/mapping/mapping";
import { LIBRARY, findMapping, mappingExpression } from "../lib/mapping/library";
import { StatusBoard, asError, permission, readProperty, writeProperty, type PropertyType } from "../common/glue";
import { instrumentation } from "../common/telemetry";

interface MapperDef extends NodeDef {
  mappingSource: "library" | "custom";
  library: string;
  expression: string;
  targetSchema: string;
  source: string;
  sourceType: PropertyType;
  target: string;
  targetType: PropertyType;
  timeout: string | number;
  maxDepth: string | number;
}

/** Picks the expression a node runs: its own, or the library's current text for the chosen entry. */
function expressionOf(def: MapperDef): string {
  if (def.mappingSource === "library") return mappingExpression(def.library);
  return def.expression;
}

export = function register(RED: NodeAPI): void {
  const observe = instrumentation(RED);
  function MapperNode(this: Node, def: MapperDef) {
    RED.nodes.createNode(this, def);
    const node = this;
    const status = new StatusBoard(node);
    const sourceType: PropertyType = def.sourceType || "msg";
    const source = def.source || "payload";
    const targetType: PropertyType = def.targetType || "msg";
    const target = def.target || "payload";
    const counts = { valid: 0, invalid: 0, failed: 0 };

    let mapper: CanonicalMapper | undefined;
    let setupError: Error | undefined;
    try {
      mapper = new CanonicalMapper({
        expression: expressionOf(def),
        targetSchema: def.targetSchema || undefined,
        limits: { timeoutMs: Number(def.timeout) || undefined, maxDepth: Number(def.maxDepth) || undefined },
      });
      const how = mapper.mapping.mode === "compiled" ? "compiled" : "interpreted";
      status.now({ fill: "grey", shape: "ring", text: def.targetSchema ? `→ ${def.targetSchema} (${how})` : how });
    } catch (err) {
      setupError = asError(err);
      const where = err instanceof MappingSyntaxError && err.position !== undefined ? ` (position ${err.position})` : "";
      node.error(`${setupError.message}`);
      status.now({ fill: "red", shape: "dot", text: `expression error${where}` });
    }

    const bindings = { env: (name: string): unknown => RED.util.getSetting(node, name) };

    /** Maps one message; msg properties are read and written in place, context through its callbacks. */
    async function mapMessage(active: CanonicalMapper, msg: NodeMessageInFlow, send: (msgs: (NodeMessageInFlow | null)[]) => void): Promise<void> {
      const input = sourceType === "msg" ? RED.util.getMessageProperty(msg, source) : await readProperty(RED, node, sourceType, source, msg);
      const result = await active.map(input, bindings);
      if (targetType === "msg") RED.util.setMessageProperty(msg, target, result.value, true);
      else await writeProperty(RED, node, targetType, target, msg, result.value);
      if (result.valid) {
        counts.valid++;
        send([msg, null]);
      } else {
        counts.invalid++;
        (msg as NodeMessageInFlow & { errors: unknown }).errors = result.errors.map(({ path, message }) => ({ path, message }));
        send([null, msg]);
      }
      status.soon({ fill: counts.invalid || counts.failed ? "yellow" : "green", shape: "dot", text: statusText(counts) });
    }

    node.on("input", observe(node, (msg: NodeMessageInFlow, send, done) => {
      if (!mapper) {
        done(new Error(`not mapped: ${setupError?.message ?? "the mapping did not compile"}`));
        return;
      }
      mapMessage(mapper, msg, send).then(
        () => done(),
        (err: unknown) => {
          counts.failed++;
          status.now({ fill: "red", shape: "dot", text: statusText(counts) });
          done(asError(err));
        },
      );
    }));

    node.on("close", (done: () => void) => {
      status.close();
      done();
    });
  }

  function howItRuns(expression: string): { mode?: string; reason?: string; error?: string } {
    try {
      const mapping = Mapping.compile(expression);
      return { mode: mapping.mode, ...(mapping.reason ? { reason: mapping.reason } : {}) };
    } catch (err) {
      return { error: asError(err).message };
    }
  }

  function statusText(c: { valid: number; invalid: number; failed: number }): string {
    return c.failed ? `${c.valid} valid, ${c.invalid} invalid, ${c.failed} failed` : `${c.valid} valid, ${c.invalid} invalid`;
  }

  RED.nodes.registerType("keelson-mapper", MapperNode);

  // The edit dialog lists the shipped mappings and canonical types, and shows a mapping's text to copy and edit.
  RED.httpAdmin.get("/keelson-mapper/library", permission(RED, "keelson-mapper.read"), (_req, res) => {
    res.json({
      schemas: CANONICAL_TYPES.map((t) => `${t}@1`),
      mappings: LIBRARY.map((m) => ({ ...m, expression: mappingExpression(m.id), ...howItRuns(mappingExpression(m.id)) })),
    });
  });
  // The dialog asks how an expression will run: compiled to JavaScript, or in the JSONata interpreter and why.
  RED.httpAdmin.post("/keelson-mapper/compile", permission(RED, "keelson-mapper.read"), (req, res) => {
    const expression = (req.body as { expression?: unknown } | undefined)?.expression;
    if (typeof expression !== "string") {
      res.status(400).json({ error: "body must be {expression: string}" });
      return;
    }
    res.json(howItRuns(expression));
  });
  RED.httpAdmin.get("/keelson-mapper/library/:id", permission(RED, "keelson-mapper.read"), (req, res) => {
    const entry = findMapping(String(req.params.id));
    if (!entry) {
      res.status(404).json({ error: "no such mapping" });
      return;
    }
    res.json({ ...entry, expression: mappingExpression(entry.id) });
  });
};
