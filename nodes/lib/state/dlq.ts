/** Dead-letter core: what is kept of a failed message (secrets redacted, size bounded) before the store sees it. */
import { randomUUID } from "node:crypto";
import { MessageTooLargeError } from "./errors";
import type { DeadLetterCapture, DeadLetterError, DeadLetterSource } from "./types";

/** Key names (any depth) whose values never reach a dead letter; matched as substrings, see redact(). */
export const DEFAULT_SECRET_KEY_PATTERNS: readonly string[] = Object.freeze(["authorization", "password", "secret", "token", "apikey", "cookie"]);
export const DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024;
export const REDACTED = "[redacted]";
export const CIRCULAR = "[circular]";

export interface RedactOptions {
  /**
   * Key-name patterns (default DEFAULT_SECRET_KEY_PATTERNS). A key is secret when its name, lower-cased and with
   * "-" and "_" removed, contains a pattern normalised the same way: "apiKey" covers api_key, X-API-Key, apikey.
   */
  patterns?: readonly string[];
  /** Dotted paths redacted as well, e.g. "payload.customer.taxId"; "*" stands for any one key or array index. */
  paths?: readonly string[];
  /** Largest serialized message accepted (default 1 MiB); larger ones throw MessageTooLargeError. */
  maxBytes?: number;
}

function normalise(name: string): string {
  return name.toLowerCase().replace(/[-_]/g, "");
}

/**
 * A JSON-safe deep copy of `message` with secret keys and the given paths replaced by "[redacted]" and circular
 * references by "[circular]". Follows JSON.stringify otherwise (toJSON, undefined and functions dropped, bigint as
 * a string). Throws MessageTooLargeError when the copy would serialize to more than maxBytes.
 */
export function redact(message: unknown, options: RedactOptions = {}): unknown {
  const patterns = (options.patterns ?? DEFAULT_SECRET_KEY_PATTERNS).map(normalise).filter((p) => p !== "");
  const paths = (options.paths ?? []).map((p) => p.split("."));
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  const ancestors = new Set<object>();
  // Characters counted so far: a lower bound of the serialized size, so an oversized message stops early.
  let counted = 0;
  const count = (n: number): void => {
    counted += n;
    if (counted > maxBytes) throw new MessageTooLargeError(maxBytes);
  };
  // Messages repeat their key names (arrays of records): decide each name once.
  const secrecy = new Map<string, boolean>();
  const isSecret = (key: string): boolean => {
    let secret = secrecy.get(key);
    if (secret === undefined) {
      const name = normalise(key);
      secret = patterns.some((p) => name.includes(p));
      secrecy.set(key, secret);
    }
    return secret;
  };
  /** `open`: for each configured path, how many of its segments the current location has matched. */
  const walk = (value: unknown, open: [number, number][]): unknown => {
    if (value === null || typeof value === "boolean") return count(5), value;
    if (typeof value === "number") return count(8), Number.isFinite(value) ? value : null;
    if (typeof value === "string") return count(value.length + 2), value;
    if (typeof value === "bigint") return count(22), value.toString();
    if (typeof value !== "object") return undefined;
    const withJson = value as { toJSON?: () => unknown };
    if (typeof withJson.toJSON === "function") return walk(withJson.toJSON(), open);
    if (ancestors.has(value)) return count(CIRCULAR.length + 2), CIRCULAR;
    ancestors.add(value);
    let copy: unknown;
    if (Array.isArray(value)) {
      const items: unknown[] = [];
      for (let i = 0; i < value.length; i++) {
        const item = member(String(i), value[i], open, false);
        items.push(item === undefined ? null : item);
      }
      copy = items;
    } else {
      const obj: Record<string, unknown> = {};
      for (const key of Object.keys(value)) {
        const item = member(key, (value as Record<string, unknown>)[key], open, true);
        if (item === undefined) continue;
        count(key.length + 3);
        // A "__proto__" key must stay data, not become the copy's prototype.
        if (key === "__proto__") Object.defineProperty(obj, key, { value: item, enumerable: true, writable: true, configurable: true });
        else obj[key] = item;
      }
      copy = obj;
    }
    ancestors.delete(value);
    return copy;
  };
  /** A property (`named`) or an array element: only property names can be secret, both can be on a path. */
  const member = (key: string, value: unknown, open: [number, number][], named: boolean): unknown => {
    const next: [number, number][] = [];
    let hit = false;
    for (const [path, matched] of open) {
      const segment = paths[path]![matched];
      if (segment !== key && segment !== "*") continue;
      if (matched + 1 === paths[path]!.length) hit = true;
      else next.push([path, matched + 1]);
    }
    if (hit || (named && patterns.length > 0 && isSecret(key))) {
      if (value === undefined || typeof value === "function") return undefined;
      return count(REDACTED.length + 2), REDACTED;
    }
    return walk(value, next);
  };
  const copy = walk(message, paths.map((_, i) => [i, 0] as [number, number]));
  const size = Buffer.byteLength(JSON.stringify(copy ?? null));
  if (size > maxBytes) throw new MessageTooLargeError(maxBytes, size);
  return copy ?? null;
}

export interface FailedMessage {
  queue: string;
  /** The Node-RED msg that failed. */
  message: unknown;
  /** An Error, Node-RED's msg.error ({message, stack, source}) or a string. */
  error: unknown;
  source: DeadLetterSource;
  /** Set when this is a failed replay of an existing dead letter (re-capture counts one more attempt). */
  id?: string;
  attempts?: number;
  correlationId?: string;
  idempotencyKey?: string;
}

function errorOf(error: unknown): DeadLetterError {
  if (typeof error === "string") return { message: error };
  const e = (error ?? {}) as { message?: unknown; stack?: unknown; code?: unknown };
  const out: DeadLetterError = { message: typeof e.message === "string" ? e.message : String(error) };
  if (typeof e.stack === "string") out.stack = e.stack;
  if (typeof e.code === "string") out.code = e.code;
  return out;
}

/**
 * The capture for a failed message: a new id unless one is given, the message redacted and size-checked.
 * msg.req and msg.res (HTTP In's live request/response objects) are left out: they cannot be stored or replayed.
 */
export function deadLetterOf(failed: FailedMessage, options: RedactOptions = {}): DeadLetterCapture {
  let message = failed.message;
  if (message && typeof message === "object" && !Array.isArray(message) && ("req" in message || "res" in message)) {
    const { req: _req, res: _res, ...rest } = message as Record<string, unknown>;
    message = rest;
  }
  const capture: DeadLetterCapture = {
    id: failed.id ?? randomUUID(),
    queue: failed.queue,
    message: redact(message, options),
    error: errorOf(failed.error),
    source: failed.source,
  };
  if (failed.attempts !== undefined) capture.attempts = failed.attempts;
  if (failed.correlationId !== undefined) capture.correlationId = failed.correlationId;
  if (failed.idempotencyKey !== undefined) capture.idempotencyKey = failed.idempotencyKey;
  return capture;
}
