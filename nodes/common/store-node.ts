import type { Node } from "node-red";
import type { Store, StoreBackend } from "../lib/state";

export interface StoreCredentials {
  password?: string;
}

/** The config node other Keelson nodes hold: one open Store per config node, shared by every node using it. */
export interface StoreNode extends Node<StoreCredentials> {
  backend: StoreBackend;
  /** The open store; rejects with the reason it could not be opened. */
  store(): Promise<Store>;
  /** A short description for status and logs, without secrets. */
  describe(): string;
}

const BACKENDS: readonly StoreBackend[] = ["file", "redis", "postgres", "memory"];

/** The backend a config names; "env" reads KEELSON_STORE (file when unset), as the reference flows do. */
export function backendOf(def: { backend?: string }, env: NodeJS.ProcessEnv): StoreBackend {
  const chosen = def.backend === "env" || !def.backend ? (env.KEELSON_STORE || "file").trim().toLowerCase() : def.backend;
  if (!BACKENDS.includes(chosen as StoreBackend)) {
    throw new Error(`unknown store backend "${chosen}": use file, redis, postgres or memory`);
  }
  return chosen as StoreBackend;
}

/** Puts the password from credentials into a connection URL that has none. */
export function withPassword(url: string, password: string | undefined): string {
  if (!password) return url;
  const parsed = new URL(url);
  if (!parsed.password) parsed.password = password;
  return parsed.toString();
}

