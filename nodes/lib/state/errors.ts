import type { StoreBackend } from "./types";

/**
 * The store cannot be reached or did not answer in time. The gate fails closed on it (the message goes to a Catch
 * node); the store reconnects by itself, so a later operation may succeed.
 */
export class StoreUnavailableError extends Error {
  readonly code = "KEELSON_STORE_UNAVAILABLE";
  constructor(readonly backend: StoreBackend, detail: string, options?: { cause?: unknown }) {
    super(`${backend} store unavailable: ${detail}`, options);
    this.name = "StoreUnavailableError";
  }
}

/** complete()/release() with a token that no longer owns the key (taken over after lease expiry, or never owned it). */
export class ClaimLostError extends Error {
  readonly code = "KEELSON_CLAIM_LOST";
  constructor(readonly key: string, detail: string) {
    super(`claim on "${key}" is not held by this token: ${detail}`);
    this.name = "ClaimLostError";
  }
}

/** Another process holds the file store's directory. */
export class StoreLockedError extends Error {
  readonly code = "KEELSON_STORE_LOCKED";
  constructor(readonly dir: string, readonly pid: number) {
    super(`file store ${dir} is in use by process ${pid}${pid === process.pid ? " (this process)" : ""}`);
    this.name = "StoreLockedError";
  }
}

/** A dead-letter message larger than the configured limit once serialized. */
export class MessageTooLargeError extends Error {
  readonly code = "KEELSON_MESSAGE_TOO_LARGE";
  constructor(readonly limitBytes: number, readonly sizeBytes?: number) {
    super(`message is larger than the dead-letter limit of ${limitBytes} bytes${sizeBytes === undefined ? "" : ` (${sizeBytes} bytes)`}`);
    this.name = "MessageTooLargeError";
  }
}
