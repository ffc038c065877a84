import { randomUUID } from "node:crypto";
import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from "node-red";
import { validatorFor } from "../lib/canonical/schemas";
import { BusinessError } from "../lib/resilience/errors";
import type { CrossRef, Payment } from "../lib/vendors/erp";
import { VendorStatus, sendRejection, settle } from "../common/vendor-node";
import type { StoreNode } from "../common/store-node";
import { inputError, sharedConnection, type ErpMessage } from "../erp-connection/glue";
import type { ErpConnectionNode } from "../erp-connection/types";
import { instrumentation } from "../common/telemetry";

interface ErpInvoiceDef extends NodeDef {
  connection: string;
  operation: "list" | "get" | "payment";
  store: string;
  watermark: string;
  pageSize: string | number;
}

const validatePayment = validatorFor("Payment@1");

export = function register(RED: NodeAPI): void {
  const observe = instrumentation(RED);
  function ErpInvoiceNode(this: Node, def: ErpInvoiceDef) {
    RED.nodes.createNode(this, def);
    const node = this;
    const connection = RED.nodes.getNode(def.connection) as ErpConnectionNode | null;
    const storeNode = def.store ? (RED.nodes.getNode(def.store) as StoreNode | null) : null;
    const operation = def.operation || "list";
    const pageSize = Math.min(1000, Math.max(1, Math.floor(Number(def.pageSize) || 100)));
    const watermarkName = def.watermark || `erp-invoices:${def.connection}`;
    const status = new VendorStatus(node, sharedConnection(connection), { ok: operation === "payment" ? "recorded" : "sent", idle: operation });
    // One listing at a time: two overlapping runs would send the same invoices twice and race on the watermark.
    let listing: Promise<void> = Promise.resolve();

    node.on("input", observe(node, (msg: NodeMessageInFlow, send, done) => {
      const message = msg as ErpMessage;
      message.correlationId ??= randomUUID();
      const ctx = { correlationId: String(message.correlationId) };
      // An invoice of a listing the mapping refuses: output 2 for it, and the listing goes on.
      const reject = (err: BusinessError, base: ErpMessage): void => sendRejection(err, base, send, status);

      const run = async (): Promise<void> => {
        if (!connection) throw new Error("no ERP connection configured");
        const adapter = connection.adapter();
        if (operation === "list") {
          if (!storeNode) throw new Error("listing invoices needs a store for the watermark");
          const store = await storeNode.store();
          const from = await store.getWatermark(watermarkName);
          let pages = 0;
          status.working("listing invoices");
          for await (const page of adapter.listInvoices(typeof from === "string" ? from : undefined, { ...ctx, pageSize })) {
            pages++;
            status.working(`page ${pages}`);
            for (const invoice of page.invoices) {
              send([{ ...RED.util.cloneMessage(message), payload: invoice, watermark: { name: watermarkName, page: pages } }, null]);
            }
            for (const rejected of page.rejected) {
              reject(new BusinessError({ code: "MAPPING_INVALID", field: firstPath(rejected.error), message: `invoice ${rejected.id}: ${rejected.error.message}`, hint: "fix the invoice in the ERP or the invoice mapping" }), { ...RED.util.cloneMessage(message), payload: { id: rejected.id } });
            }
            // Only now, with the page sent, does the watermark move past it.
            if (page.watermark !== undefined) await store.setWatermark(watermarkName, page.watermark);
            status.succeeded(page.invoices.length);
          }
          status.idle();
          return;
        }
        if (operation === "get") {
          const id = invoiceId(message.payload, adapter.system);
          const invoice = await adapter.getInvoice(id, ctx);
          if (!invoice) throw new BusinessError({ code: "NOT_FOUND", field: "payload", message: `no ${adapter.system} invoice ${id}` });
          status.succeeded();
          send([{ ...message, payload: invoice }, null]);
          return;
        }
        const checked = validatePayment(message.payload);
        if (!checked.valid) throw inputError("Payment", "msg.payload", checked.errors);
        status.working("recording payment");
        const payment = await adapter.recordPayment(message.payload as Payment, ctx);
        status.succeeded();
        send([{ ...message, payload: payment }, null]);
      };

      const work = operation === "list" ? (listing = listing.then(run, run)) : run();
      settle(work, message, send, done, status);
    }));

    node.on("close", (done: () => void) => {
      status.close();
      done();
    });
  }

  /** The invoice to read: the ERP's id as a string, or an Invoice carrying this system's ref. */
  function invoiceId(payload: unknown, system: string): string {
    if (typeof payload === "string" && payload.trim()) return payload.trim();
    const refs = (payload as { refs?: CrossRef[] } | undefined)?.refs;
    const own = Array.isArray(refs) ? refs.find((r) => r.system === system) : undefined;
    if (own) return own.id;
    throw new Error(`msg.payload must be the ${system} invoice id, or an Invoice with a ${system} ref`);
  }

  function firstPath(err: Error): string | undefined {
    const errors = (err as { vendorBody?: unknown }).vendorBody;
    return Array.isArray(errors) && typeof errors[0]?.path === "string" ? errors[0].path : undefined;
  }

  RED.nodes.registerType("keelson-erp-invoice", ErpInvoiceNode);
};
