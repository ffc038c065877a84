import type { Node, NodeAPI, NodeDef } from "node-red";
import { BusinessError } from "../lib/resilience";
import { CanonicalMapper } from "../lib/mapping/mapping";
import { mappingExpression } from "../lib/mapping/library";
import type { CrmAdapter, OrderWriteBack } from "../lib/vendors/crm";
import { asError } from "../common/glue";
import { VendorStatus, settle } from "../common/vendor-node";
import { BadInputError, correlationOf, expected, requiredString, type CrmConnectionNode, type CrmMessage } from "../crm-connection/crm-node";
import { instrumentation } from "../common/telemetry";

const OPERATIONS = ["get", "write-back"] as const;
type Operation = (typeof OPERATIONS)[number];

interface CrmOpportunityDef extends NodeDef {
  connection: string;
  operation: string;
  includeRaw: boolean;
}

export = function register(RED: NodeAPI): void {
  const observe = instrumentation(RED);
  function CrmOpportunityNode(this: Node, def: CrmOpportunityDef) {
    RED.nodes.createNode(this, def);
    const node = this;
    const connectionNode = RED.nodes.getNode(def.connection) as CrmConnectionNode | null;
    let adapter: CrmAdapter | undefined;
    let toQuote: CanonicalMapper | undefined;
    let setupError: Error | undefined;
    try {
      if (!connectionNode) throw new Error("no CRM connection selected");
      adapter = connectionNode.adapter();
      toQuote = new CanonicalMapper({ expression: mappingExpression(adapter.mappings.opportunityToQuote), targetSchema: "Quote@1" });
    } catch (err) {
      setupError = asError(err);
      node.error(setupError.message);
    }
    const status = new VendorStatus(node, adapter?.connection);

    function operationOf(msg: CrmMessage): Operation {
      const chosen = msg.operation ?? def.operation;
      if (!OPERATIONS.includes(chosen as Operation)) throw new BadInputError("msg.operation", expected(`one of ${OPERATIONS.join(", ")}`, chosen));
      return chosen as Operation;
    }

    /** {orderNumber, status, message}: at least one, each a string. */
    function writeBackOf(payload: unknown): OrderWriteBack {
      if (typeof payload !== "object" || payload === null || Array.isArray(payload)) throw new BadInputError("msg.payload", expected("{orderNumber?, status?, message?}", payload));
      const p = payload as Record<string, unknown>;
      const out: OrderWriteBack = {};
      for (const key of ["orderNumber", "status", "message"] as const) {
        if (p[key] === undefined || p[key] === null) continue;
        if (typeof p[key] !== "string" && typeof p[key] !== "number") throw new BadInputError(`msg.payload.${key}`, expected("a string", p[key]));
        out[key] = String(p[key]);
      }
      if (!Object.keys(out).length) throw new BadInputError("msg.payload", "needs at least one of orderNumber, status, message");
      return out;
    }

    async function run(msg: CrmMessage): Promise<void> {
      const active = adapter!;
      const ctx = { correlationId: correlationOf(msg) };
      const m = msg as unknown as Record<string, unknown>;
      const operation = operationOf(msg);
      status.working(operation);
      const opportunityId = requiredString(m, "opportunityId");
      if (operation === "get") {
        const record = await active.getOpportunity(opportunityId, ctx);
        const result = await toQuote!.map(record);
        if (def.includeRaw) msg.raw = record;
        if (!result.valid) {
          const first = result.errors[0]!;
          msg.payload = result.value;
          (msg as unknown as Record<string, unknown>).errors = result.errors.map(({ path, message }) => ({ path, message }));
          throw new BusinessError({ code: "INVALID_QUOTE", message: `the opportunity does not make a valid Quote: ${first.path} ${first.message}`, field: first.path, hint: "correct the opportunity in the CRM (every invalid field is in msg.errors)" });
        }
        msg.payload = result.value;
        return;
      }
      const writeBack = writeBackOf(msg.payload);
      await active.writeBackOrder(opportunityId, writeBack, ctx);
      msg.crm = { system: active.system, id: opportunityId, written: writeBack };
    }

    node.on("input", observe(node, (msg, send, done) => {
      if (!adapter) {
        done(new Error(`CRM opportunity: ${setupError?.message ?? "not configured"}`));
        return;
      }
      const work = run(msg as CrmMessage).then(() => {
        status.succeeded();
        send([msg, null]);
      });
      settle(work, msg as CrmMessage, send, done, status);
    }));

    node.on("close", (done: () => void) => {
      status.close();
      done();
    });
  }

  RED.nodes.registerType("keelson-crm-opportunity", CrmOpportunityNode);
};
