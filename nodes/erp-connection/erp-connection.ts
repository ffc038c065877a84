import type { NodeAPI } from "node-red";
import { createErpAdapter, type ErpAdapter, type ErpConnectionConfig } from "../lib/vendors/erp";
import { configOf, env, type ErpConnectionDef } from "./config";
import type { ErpConnectionNode } from "./types";
import { watchConnection } from "../common/telemetry";

export = function register(RED: NodeAPI): void {
  function ErpConnection(this: ErpConnectionNode, def: ErpConnectionDef) {
    RED.nodes.createNode(this, def);
    const node = this;
    let adapter: ErpAdapter | undefined;
    let setupError: Error | undefined;
    let unwatch = (): void => undefined;
    try {
      const config = configOf(def, node.credentials ?? {});
      node.system = config.system;
      adapter = createErpAdapter({ ...config, connection: { ...config.connection, logger: { warn: (m: string) => node.warn(m), debug: (m: string) => node.debug(m) } } } as ErpConnectionConfig);
      unwatch = watchConnection(RED, node, config.system, adapter.connection);
    } catch (err) {
      setupError = err instanceof Error ? err : new Error(String(err));
      node.system = def.system;
      node.error(`ERP connection: ${setupError.message}`);
    }
    node.adapter = () => {
      if (!adapter) throw new Error(`ERP connection "${def.name || def.id}" is not usable: ${setupError?.message ?? "not configured"}`);
      return adapter;
    };
    node.describe = () => `${node.system} ${env(def.baseUrl) ?? ""}`.trim();
    node.on("close", (done: () => void) => {
      unwatch();
      const closing = adapter?.close() ?? Promise.resolve();
      adapter = undefined;
      closing.catch((err: unknown) => node.warn(`closing the ERP connection: ${String(err)}`)).finally(() => done());
    });
  }

  RED.nodes.registerType("keelson-erp-connection", ErpConnection as unknown as Parameters<typeof RED.nodes.registerType>[1], {
    credentials: {
      user: { type: "text" },
      password: { type: "password" },
      clientId: { type: "text" },
      clientSecret: { type: "password" },
      privateKey: { type: "password" },
      consumerKey: { type: "password" },
      consumerSecret: { type: "password" },
      tokenId: { type: "password" },
      tokenSecret: { type: "password" },
      secretKey: { type: "password" },
      token: { type: "password" },
    },
  });
};

