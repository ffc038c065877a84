import { randomUUID } from "node:crypto";
import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from "node-red";
import { validatorFor } from "../lib/canonical/schemas";
import { BusinessError } from "../lib/resilience/errors";
import { withRef } from "../lib/vendors/erp-base";
import type { Customer, SalesOrder } from "../lib/vendors/erp";
import { readProperty, type PropertyType } from "../common/glue";
import { VendorStatus, settle } from "../common/vendor-node";
import { inputError, sharedConnection, type ErpMessage } from "../erp-connection/glue";
import type { ErpConnectionNode } from "../erp-connection/types";
import { instrumentation } from "../common/telemetry";

interface ErpOrderDef extends NodeDef {
  connection: string;
  operation: "create" | "status";
  ensureCustomer: boolean;
  customer: string;
  customerType: PropertyType;
}

const validateOrder = validatorFor("SalesOrder@1");
const validateCustomer = validatorFor("Customer@1");

export = function register(RED: NodeAPI): void {
  const observe = instrumentation(RED);
  function ErpOrderNode(this: Node, def: ErpOrderDef) {
    RED.nodes.createNode(this, def);
    const node = this;
    const connection = RED.nodes.getNode(def.connection) as ErpConnectionNode | null;
    const operation = def.operation || "create";
    const status = new VendorStatus(node, sharedConnection(connection), operation === "create" ? { ok: "created", idle: "create order" } : { ok: "read", idle: "order status" });

    node.on("input", observe(node, (msg: NodeMessageInFlow, send, done) => {
      const message = msg as ErpMessage;
      message.correlationId ??= randomUUID();
      const ctx = { correlationId: String(message.correlationId) };
      const run = async (): Promise<void> => {
        if (!connection) throw new Error("no ERP connection configured");
        const adapter = connection.adapter();
        if (operation === "status") {
          status.working("reading status");
          const key = orderKey(message.payload, adapter.system);
          const order = await adapter.getOrder(key, ctx);
          if (!order) throw new BusinessError({ code: "NOT_FOUND", field: key.id !== undefined ? "payload" : "payload.externalReference", message: `no ${adapter.system} order ${key.id ?? key.externalReference}` });
          message.payload = order;
          return;
        }
        const checked = validateOrder(message.payload);
        if (!checked.valid) throw inputError("SalesOrder", "msg.payload", checked.errors);
        let order = message.payload as SalesOrder;
        if (def.ensureCustomer && !order.customer.refs.some((r) => r.system === adapter.system)) {
          status.working("ensuring customer");
          const given = await readProperty(RED, node, def.customerType || "msg", def.customer || "customer", msg);
          const customer = (given ?? { refs: order.customer.refs, name: order.customer.name ?? order.externalReference }) as Customer;
          if (given !== undefined) {
            const valid = validateCustomer(given);
            if (!valid.valid) throw inputError("Customer", `${def.customerType || "msg"}.${def.customer || "customer"}`, valid.errors);
          }
          const { ref, created } = await adapter.ensureCustomer(customer, ctx);
          order = { ...order, customer: withRef(order.customer, ref) };
          message.customer = withRef(customer, ref);
          message.erp = { ...message.erp, customerCreated: created };
        }
        status.working("creating order");
        const outcome = await adapter.createOrder(order, { ...ctx, mayExist: message.idempotency?.reclaimed === true });
        message.payload = outcome.order;
        message.erp = { ...message.erp, system: adapter.system, created: outcome.created };
      };
      const work = run().then(() => {
        status.succeeded();
        send([message, null]);
      });
      settle(work, message, send, done, status);
    }));

    node.on("close", (done: () => void) => {
      status.close();
      done();
    });
  }

  /** What names the order to read: the ERP's id as a string, or a canonical order (its ERP ref, else its external reference). */
  function orderKey(payload: unknown, system: string): { id?: string; externalReference?: string } {
    if (typeof payload === "string" && payload.trim()) return { id: payload.trim() };
    if (payload && typeof payload === "object") {
      const order = payload as Partial<SalesOrder>;
      const own = Array.isArray(order.refs) ? order.refs.find((r) => r.system === system) : undefined;
      if (own) return { id: own.id };
      if (typeof order.externalReference === "string" && order.externalReference) return { externalReference: order.externalReference };
    }
    throw new Error(`msg.payload must be the ${system} order id, or a SalesOrder with a ${system} ref or an externalReference`);
  }

  RED.nodes.registerType("keelson-erp-order", ErpOrderNode);
};
