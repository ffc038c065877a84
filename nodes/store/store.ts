import path from "node:path";
import type { NodeAPI, NodeDef } from "node-red";
import { openStore, type Store, type StoreBackend, type StoreConfig } from "../lib/state";
import { backendOf, withPassword, type StoreCredentials, type StoreNode } from "../common/store-node";
import { offerTraceStore } from "../common/telemetry";

interface StoreDef extends NodeDef {
  backend: StoreBackend | "env";
  dir: string;
  redisUrl: string;
  prefix: string;
  postgresUrl: string;
  schema: string;
  tablePrefix: string;
  timeout: string | number;
}

export = function register(RED: NodeAPI): void {
  function StoreConfigNode(this: StoreNode, def: StoreDef) {
    RED.nodes.createNode(this, def);
    const node = this;
    const timeoutMs = Number(def.timeout) > 0 ? Number(def.timeout) : undefined;
    let config: StoreConfig;
    let opened: Promise<Store>;
    try {
      node.backend = backendOf(def, process.env);
      switch (node.backend) {
        case "file": {
          const userDir = (RED.settings as { userDir?: string }).userDir ?? process.cwd();
          config = { backend: "file", dir: path.resolve(userDir, def.dir || "keelson-state"), timeoutMs };
          break;
        }
        case "redis":
          config = { backend: "redis", url: withPassword(def.redisUrl || process.env.REDIS_URL || "redis://127.0.0.1:6379", node.credentials?.password), prefix: def.prefix || "keelson:", timeoutMs };
          break;
        case "postgres":
          config = {
            backend: "postgres",
            connectionString: withPassword(def.postgresUrl || process.env.DATABASE_URL || "postgres://127.0.0.1:5432/postgres", node.credentials?.password),
            schema: def.schema || "public",
            tablePrefix: def.tablePrefix || "keelson_",
            timeoutMs,
          };
          break;
        case "memory":
          config = { backend: "memory" };
          break;
      }
      opened = openStore(config);
    } catch (err) {
      opened = Promise.reject(err);
    }
    // Every user awaits store(); the rejection is theirs to report, not an unhandled one.
    opened.catch((err: unknown) => node.error(`store ${node.describe()} could not be opened: ${(err as Error).message}`));

    node.store = () => opened;
    node.describe = () => {
      const c = config as StoreConfig | undefined;
      if (!c) return String(def.backend);
      if (c.backend === "file") return `file ${c.dir}`;
      if (c.backend === "redis") return `redis ${redacted(c.url ?? "")}`;
      if (c.backend === "postgres") return `postgres ${redacted(c.connectionString ?? "")}`;
      return "memory";
    };

    const stopTrace = offerTraceStore(RED, node);

    node.on("close", (done: () => void) => {
      stopTrace()
        .then(() => opened)
        .then((store) => store.close())
        .catch(() => undefined)
        .then(() => done());
    });
  }

  function redacted(url: string): string {
    try {
      const u = new URL(url);
      if (u.password) u.password = "****";
      return u.toString();
    } catch {
      return "(invalid URL)";
    }
  }

  RED.nodes.registerType<StoreNode, StoreDef, object, StoreCredentials>("keelson-store", StoreConfigNode, { credentials: { password: { type: "password" } } });
};
