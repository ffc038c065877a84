/**
 * The store interface behind the idempotency gate, the dead-letter queue and the list-changed-since watermarks.
 * Four implementations (memory, file, redis, postgres) keep exactly these semantics; the contract tests in
 * test/state/contract.test.js run against each.
 *
 * Times are epoch milliseconds from the caller's clock (`now`, default Date.now()). Node-RED instances sharing a
 * Redis or PostgreSQL store must keep their clocks in step (NTP): skew eats into the lease.
 */

/** How long a claim protects its key before another claimer may take it over (a crashed claimer never releases). */
export const DEFAULT_LEASE_MS = 10 * 60 * 1000;
/** How long a key (claimed, completed or failed) and a dead letter are kept before they expire. */
export const DEFAULT_RETENTION_MS = 30 * 24 * 60 * 60 * 1000;
/** A dead letter captured this many times is parked: no more automatic replays. */
export const DEFAULT_MAX_ATTEMPTS = 5;
/** Each store operation fails with StoreUnavailableError after this long. */
export const DEFAULT_TIMEOUT_MS = 5000;
/** How often expired records are deleted (they are invisible from the moment they expire). */
export const DEFAULT_SWEEP_INTERVAL_MS = 60_000;

export interface ClaimOptions {
  /** Payload fingerprint (fingerprintOf): the same key with a different fingerprint is a `conflict`. */
  fingerprint?: string;
  leaseMs?: number;
  retentionMs?: number;
  now?: number;
}

/** The caller owns the key: do the side effect, then complete() or release() with this token. */
export interface ClaimNew {
  outcome: "new";
  token: string;
  claimedAt: number;
  /** True when this claim took over the expired lease of a claimer that never finished (crashed). */
  reclaimed: boolean;
}
/** The key was completed before: `result` is what complete() stored. */
export interface ClaimDuplicate {
  outcome: "duplicate";
  result: unknown;
  claimedAt: number;
  completedAt: number;
}
/** Another claimer holds the key and its lease has not expired. */
export interface ClaimInFlight {
  outcome: "in-flight";
  claimedAt: number;
  leaseExpiresAt: number;
}
/** The key was claimed with a different payload fingerprint (the idempotency-key draft's 422). */
export interface ClaimConflict {
  outcome: "conflict";
  storedFingerprint: string;
}
/**
 * The key was released as failed (the side effect may or may not have happened): it stays terminal until it
 * expires, so nothing re-runs it silently; `reason` is what release() recorded.
 */
export interface ClaimFailed {
  outcome: "failed";
  reason: string;
  claimedAt: number;
  failedAt: number;
}
export type ClaimOutcome = ClaimNew | ClaimDuplicate | ClaimInFlight | ClaimConflict | ClaimFailed;

export interface FinishOptions {
  /** Retention counts again from the time of completion or failure. */
  retentionMs?: number;
  now?: number;
}

export interface ReleaseOptions extends FinishOptions {
  /** `retry`: forget the claim so the key can be claimed again; `failed`: keep a terminal failed state. */
  mode: "retry" | "failed";
  reason?: string;
}

export interface DeadLetterError {
  message: string;
  stack?: string;
  code?: string;
}

export interface DeadLetterSource {
  id: string;
  type: string;
  name?: string;
}

export type DeadLetterState = "pending" | "parked";

/** A captured failure. `message` is the (already redacted) Node-RED message as JSON. */
export interface DeadLetter {
  id: string;
  queue: string;
  message: unknown;
  error: DeadLetterError;
  source: DeadLetterSource;
  attempts: number;
  firstFailedAt: number;
  lastFailedAt: number;
  correlationId?: string;
  idempotencyKey?: string;
  state: DeadLetterState;
}

/** What capture() takes: a new entry, or a failed replay of an existing one (same id). */
export interface DeadLetterCapture {
  id: string;
  queue: string;
  message: unknown;
  error: DeadLetterError;
  source: DeadLetterSource;
  /** Failures so far when first captured (e.g. after in-node retries); default 1. Ignored on re-capture. */
  attempts?: number;
  correlationId?: string;
  idempotencyKey?: string;
}

export interface CaptureOptions {
  /** At this many attempts the entry is parked. */
  maxAttempts?: number;
  /** Counts from the last failure. */
  retentionMs?: number;
  now?: number;
}

export interface DeadLetterFilter {
  state?: DeadLetterState;
  sourceId?: string;
  correlationId?: string;
  idempotencyKey?: string;
  /** lastFailedAt >= failedAfter */
  failedAfter?: number;
  /** lastFailedAt < failedBefore */
  failedBefore?: number;
}

export interface ListOptions {
  filter?: DeadLetterFilter;
  /** Page size, 1..1000. */
  limit?: number;
  /** Opaque: the `cursor` of the previous page. */
  cursor?: string;
  now?: number;
}

/** Oldest first (by firstFailedAt, then id). `cursor` is set when another page may follow. */
export interface DeadLetterPage {
  entries: DeadLetter[];
  cursor?: string;
}

export interface QueueDepth {
  queue: string;
  depth: number;
  /** firstFailedAt of the oldest entry. */
  oldestAt: number;
}

/** How long a trace step is kept by default (settings `keelson.trace.windowMinutes` sets it). */
export const DEFAULT_STEP_RETENTION_MS = 60 * 60 * 1000;
/** findSteps answers at most this many steps by default (the most recent). */
export const DEFAULT_STEP_LIMIT = 1000;
/** Steps kept per id (correlation id or business key) at most; older ones of that id are dropped first. */
export const MAX_STEPS_PER_ID = 1000;

/**
 * One trace step as the store keeps it: found by its correlation id and by every value of `ids`. The other fields
 * (node, outcome, duration…) are the telemetry's and are kept as JSON.
 */
export interface StepRecord {
  correlationId: string;
  /** Epoch ms. */
  at: number;
  ids?: Record<string, string>;
}

export interface AppendStepsOptions {
  /** Counts from `now`; default one hour. */
  retentionMs?: number;
  now?: number;
}

export interface FindStepsOptions {
  /** The most recent steps, at most this many (1..10000, default 1000). */
  limit?: number;
  now?: number;
}

export interface Store {
  /** "memory" | "file" | "redis" | "postgres" */
  readonly backend: StoreBackend;

  /** Claims `key` for one side effect; see ClaimOutcome for the five answers. */
  claim(key: string, options?: ClaimOptions): Promise<ClaimOutcome>;
  /** Stores `result` (JSON) so later claims are `duplicate`. Throws ClaimLostError if `token` no longer owns the key. */
  complete(key: string, token: string, result: unknown, options?: FinishOptions): Promise<void>;
  /** Gives the key back (`retry`) or marks it failed. Throws ClaimLostError if `token` no longer owns the key. */
  release(key: string, token: string, options: ReleaseOptions): Promise<void>;

  /** Adds an entry, or for an existing id counts one more attempt (and parks it at maxAttempts). */
  capture(entry: DeadLetterCapture, options?: CaptureOptions): Promise<DeadLetter>;
  list(queue: string, options?: ListOptions): Promise<DeadLetterPage>;
  get(id: string, options?: { now?: number }): Promise<DeadLetter | undefined>;
  /** Replaces the message (edit before replay); undefined when there is no such entry. */
  update(id: string, patch: { message: unknown }, options?: { now?: number }): Promise<DeadLetter | undefined>;
  /** Deletes entries; returns how many existed. */
  remove(ids: readonly string[]): Promise<number>;
  /** Every queue with at least one entry. */
  queues(options?: { now?: number }): Promise<QueueDepth[]>;

  /**
   * Keeps trace steps for `retentionMs` (a batch: callers buffer, never one call per message). A step's ids must be
   * strings; at most MAX_STEPS_PER_ID are kept per id.
   */
  appendSteps(steps: readonly StepRecord[], options?: AppendStepsOptions): Promise<void>;
  /**
   * The live steps whose correlation id or any recorded id equals `id`, and every step of the correlation ids
   * those carry: "where is opportunity Y" answers the whole journey. Time order, the most recent `limit`.
   */
  findSteps(id: string, options?: FindStepsOptions): Promise<StepRecord[]>;

  getWatermark(name: string): Promise<unknown>;
  setWatermark(name: string, value: unknown): Promise<void>;

  close(): Promise<void>;
}

export type StoreBackend = "memory" | "file" | "redis" | "postgres";

interface CommonStoreConfig {
  /** Every operation fails with StoreUnavailableError after this long (default 5 s). */
  timeoutMs?: number;
  /** How often expired keys and dead letters are deleted (default 60 s). Expired records are invisible at once. */
  sweepIntervalMs?: number;
}

export interface MemoryStoreConfig extends CommonStoreConfig {
  backend: "memory";
}

export interface FileStoreConfig extends CommonStoreConfig {
  backend: "file";
  /** A directory owned by this store alone (e.g. <userDir>/keelson-state). Created if missing. */
  dir: string;
  /** Compact when the log is larger than this and more than half of it is dead records (default 64 MiB). */
  compactAfterBytes?: number;
}

export interface RedisStoreConfig extends CommonStoreConfig {
  backend: "redis";
  /** redis://[user:password@]host:port[/db]; default redis://127.0.0.1:6379 */
  url?: string;
  /** Prepended to every key (default "keelson:"). */
  prefix?: string;
}

export interface PostgresStoreConfig extends CommonStoreConfig {
  backend: "postgres";
  /** postgres://user:password@host:port/database; default from the PG* environment variables. */
  connectionString?: string;
  /** Schema of the tables, created if missing (default "public"). */
  schema?: string;
  /** Prefix of the table names (default "keelson_"): <prefix>gate, <prefix>dead_letters, <prefix>watermarks. */
  tablePrefix?: string;
  /** Connections in the pool (default 10). */
  poolSize?: number;
}

export type StoreConfig = MemoryStoreConfig | FileStoreConfig | RedisStoreConfig | PostgresStoreConfig;
