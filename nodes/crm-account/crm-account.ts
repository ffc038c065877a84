import type { Node, NodeAPI, NodeDef } from "node-red";
import { BusinessError } from "../lib/resilience";
import { CanonicalMapper } from "../lib/mapping/mapping";
import { mappingExpression } from "../lib/mapping/library";
import { validatorFor } from "../lib/canonical/schemas";
import type { AccountKey, CrmAdapter, VendorRecord } from "../lib/vendors/crm";
import type { StoreNode } from "../common/store-node";
import { asError } from "../common/glue";
import { VendorStatus, businessErrorOf, settle } from "../common/vendor-node";
import { BadInputError, expected, correlationOf, requiredString, type CrmConnectionNode, type CrmMessage } from "../crm-connection/crm-node";
import { instrumentation } from "../common/telemetry";

const OPERATIONS = ["get", "find", "upsert", "link", "list-changed"] as const;
type Operation = (typeof OPERATIONS)[number];

interface CrmAccountDef extends NodeDef {
  connection: string;
  operation: string;
  findBy: string;
  store: string;
  watermark: string;
  pageSize: string | number;
  includeRaw: boolean;
}

export = function register(RED: NodeAPI): void {
  const observe = instrumentation(RED);
  const validateCustomer = validatorFor("Customer@1");

  function CrmAccountNode(this: Node, def: CrmAccountDef) {
    RED.nodes.createNode(this, def);
    const node = this;
    const connectionNode = RED.nodes.getNode(def.connection) as CrmConnectionNode | null;
    const storeNode = def.store ? (RED.nodes.getNode(def.store) as StoreNode | null) : null;
    let adapter: CrmAdapter | undefined;
    let setupError: Error | undefined;
    let toCustomer: CanonicalMapper | undefined;
    let fromCustomer: CanonicalMapper | undefined;
    try {
      if (!connectionNode) throw new Error("no CRM connection selected");
      adapter = connectionNode.adapter();
      toCustomer = new CanonicalMapper({ expression: mappingExpression(adapter.mappings.accountToCustomer), targetSchema: "Customer@1" });
      fromCustomer = new CanonicalMapper({ expression: mappingExpression(adapter.mappings.customerToAccount) });
    } catch (err) {
      setupError = asError(err);
      node.error(setupError.message);
    }
    const status = new VendorStatus(node, adapter?.connection);
    const findBy: AccountKey = def.findBy === "erpId" ? "erpId" : "externalId";
    const pageSize = Number(def.pageSize) > 0 ? Number(def.pageSize) : undefined;
    const watermarkName = def.watermark || `crm-accounts:${def.connection}`;

    /** A vendor account as a canonical Customer, or a business exception naming the first invalid field. */
    async function customerOf(record: VendorRecord): Promise<unknown> {
      const result = await toCustomer!.map(record);
      if (result.valid) return result.value;
      const first = result.errors[0]!;
      throw new BusinessError({ code: "INVALID_CUSTOMER", message: `the account does not make a valid Customer: ${first.path} ${first.message}`, field: first.path, hint: "correct the account in the CRM, or the mapping" });
    }

    function operationOf(msg: CrmMessage): Operation {
      const chosen = msg.operation ?? def.operation;
      if (!OPERATIONS.includes(chosen as Operation)) throw new BadInputError("msg.operation", expected(`one of ${OPERATIONS.join(", ")}`, chosen));
      return chosen as Operation;
    }

    /** The upsert key: msg.externalId, or the Customer's cross-reference in another system than the CRM. */
    function externalIdOf(msg: CrmMessage, customer: { refs?: Array<{ system: string; id: string }> }): string {
      const m = msg as unknown as Record<string, unknown>;
      if (m.externalId !== undefined) return requiredString(m, "externalId");
      const ref = customer.refs?.find((r) => r.system !== adapter!.system);
      if (!ref) throw new BadInputError("msg.externalId", "is needed for an upsert (or a ref to another system in msg.payload.refs)");
      return ref.id;
    }

    async function run(msg: CrmMessage, send: (m: unknown) => void): Promise<void> {
      const active = adapter!;
      const ctx = { correlationId: correlationOf(msg) };
      const m = msg as unknown as Record<string, unknown>;
      const operation = operationOf(msg);
      status.working(operation);
      switch (operation) {
        case "get": {
          const record = await active.getAccount(requiredString(m, "accountId"), ctx);
          msg.payload = await customerOf(record);
          if (def.includeRaw) msg.raw = record;
          break;
        }
        case "find": {
          const property = findBy === "erpId" ? "erpId" : "externalId";
          const value = requiredString(m, property);
          const record = await active.findAccount(findBy, value, ctx);
          if (!record) throw new BusinessError({ code: "NOT_FOUND", message: `no account with ${findBy === "erpId" ? "ERP customer id" : "external id"} ${JSON.stringify(value)}`, field: `msg.${property}`, hint: "create the account first (upsert), or check the id" });
          msg.payload = await customerOf(record);
          if (def.includeRaw) msg.raw = record;
          break;
        }
        case "upsert": {
          const customer = msg.payload;
          if (typeof customer !== "object" || customer === null || Array.isArray(customer)) throw new BadInputError("msg.payload", expected("a canonical Customer object", customer));
          const check = validateCustomer(customer);
          if (!check.valid) {
            const first = check.errors[0]!;
            throw new BadInputError(first.path === "(root)" ? "msg.payload" : `msg.payload.${first.path}`, first.message);
          }
          const externalId = externalIdOf(msg, customer as { refs?: Array<{ system: string; id: string }> });
          const fields = (await fromCustomer!.map(customer)).value as VendorRecord;
          const result = await active.upsertAccount(externalId, fields, ctx);
          const refs = ((customer as { refs: Array<{ system: string; id: string }> }).refs ?? []).filter((r) => r.system !== active.system);
          msg.payload = { ...(customer as object), refs: [{ system: active.system, id: result.id, type: "account" }, ...refs] };
          msg.crm = { system: active.system, id: result.id, created: result.created };
          break;
        }
        case "link": {
          const accountId = requiredString(m, "accountId");
          const link = msg.payload as Record<string, unknown> | null;
          if (typeof link !== "object" || link === null) throw new BadInputError("msg.payload", expected("{erpSystem, erpCustomerId, erpStatus?}", link));
          const erpCustomerId = requiredString(link, "erpCustomerId");
          const erpSystem = requiredString(link, "erpSystem");
          const erpStatus = link.erpStatus === undefined ? undefined : requiredString(link, "erpStatus");
          await active.linkErpCustomer(accountId, { erpSystem, erpCustomerId, ...(erpStatus !== undefined ? { erpStatus } : {}) }, ctx);
          msg.crm = { system: active.system, id: accountId };
          break;
        }
        case "list-changed":
          await listChanged(msg, send, ctx);
          return;
      }
      send([msg, null]);
    }

    /** Every page since the stored watermark, one message each; the watermark moves only once a page was sent. */
    async function listChanged(msg: CrmMessage, send: (m: unknown) => void, ctx: { correlationId: string }): Promise<void> {
      if (!storeNode) throw new Error("list-changed needs a store (keelson-store) for its watermark");
      const store = await storeNode.store();
      const since = (await store.getWatermark(watermarkName)) as string | undefined;
      let page = 0;
      for await (const chunk of adapter!.listAccountsChangedSince(since ?? undefined, { ...ctx, ...(pageSize ? { pageSize } : {}) })) {
        page++;
        status.working(`page ${page}`);
        const customers: unknown[] = [];
        const rejected: unknown[] = [];
        for (const record of chunk.records) {
          try {
            customers.push(await customerOf(record));
          } catch (err) {
            if (!(err instanceof BusinessError)) throw err;
            rejected.push({ record, error: businessErrorOf(err) });
          }
        }
        const out = RED.util.cloneMessage(msg) as CrmMessage & Record<string, unknown>;
        out.payload = customers;
        out.page = page;
        out.since = since ?? null;
        out.watermark = chunk.watermark ?? since ?? null;
        if (rejected.length) out.rejected = rejected;
        if (def.includeRaw) out.raw = chunk.records;
        send([out, null]);
        if (chunk.watermark) await store.setWatermark(watermarkName, chunk.watermark);
      }
    }

    node.on("input", observe(node, (msg, send, done) => {
      if (!adapter) {
        done(new Error(`CRM account: ${setupError?.message ?? "not configured"}`));
        return;
      }
      const work = run(msg as CrmMessage, send as (m: unknown) => void).then(() => status.succeeded());
      settle(work, msg as CrmMessage, send, done, status);
    }));

    node.on("close", (done: () => void) => {
      status.close();
      done();
    });
  }

  RED.nodes.registerType("keelson-crm-account", CrmAccountNode);
};
