/**
 * Keelson's state layer: one Store interface (gate claims, dead letters, watermarks) over memory, file, redis and
 * postgres, plus the gate and dead-letter cores. Node-RED-free.
 *
 *   const store = await openStore({ backend: "file", dir: path.join(RED.settings.userDir, "keelson-state") });
 *   const claim = await store.claim(key, { fingerprint: fingerprintOf(msg.payload) });
 *   // claim.outcome: "new" (do the side effect, then store.complete(key, claim.token, result) or
 *   //   store.release(key, claim.token, { mode: "retry" | "failed", reason })) | "duplicate" (claim.result) |
 *   //   "in-flight" | "conflict" | "failed" (released as failed before: terminal until it expires)
 *
 * Errors: StoreUnavailableError (store down, timed out or closed: fail closed, retry later; the store reconnects or
 * reloads by itself), ClaimLostError (complete/release with a token that no longer owns the key), TypeError (bad
 * input), StoreLockedError (file store directory owned by another process), MessageTooLargeError (redact()).
 */
import type { Store, StoreConfig } from "./types";

export * from "./types";
export * from "./errors";
export { fingerprintOf, canonicalJson } from "./fingerprint";
export { claimWhenSettled, type SettleOptions } from "./gate";
export { redact, deadLetterOf, DEFAULT_SECRET_KEY_PATTERNS, DEFAULT_MAX_MESSAGE_BYTES, REDACTED, CIRCULAR, type RedactOptions, type FailedMessage } from "./dlq";
export type { FileStore, RecoveryReport } from "./file-store";
export type { MemoryStore } from "./memory-store";
export type { RedisStore } from "./redis-store";
export type { PostgresStore } from "./postgres-store";

/**
 * Opens a store. The file store reads its log before answering (and throws StoreLockedError if another process
 * owns the directory); redis and postgres connect in the background, so a store opened while its server is down
 * still opens, and its operations fail with StoreUnavailableError until the server is back.
 */
export async function openStore(config: StoreConfig): Promise<Store> {
  switch (config?.backend) {
    case "memory": {
      const { MemoryStore } = await import("./memory-store");
      return new MemoryStore(config);
    }
    case "file": {
      const { FileStore } = await import("./file-store");
      return FileStore.open(config);
    }
    case "redis": {
      const { RedisStore } = await import("./redis-store");
      return new RedisStore(config);
    }
    case "postgres": {
      const { PostgresStore } = await import("./postgres-store");
      return new PostgresStore(config);
    }
    default:
      throw new TypeError(`unknown store backend ${JSON.stringify((config as { backend?: unknown })?.backend)}: use memory, file, redis or postgres`);
  }
}
