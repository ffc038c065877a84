/**
 * PostgreSQL store: shared and durable. A claim is one statement (INSERT … ON CONFLICT DO UPDATE … WHERE the old
 * row expired or its lease ran out), so concurrent claimers across instances get exactly one `new`. complete and
 * release are updates conditional on the token. The tables are created on first use:
 *   <schema>.<prefix>gate, <schema>.<prefix>dead_letters, <schema>.<prefix>watermarks
 * Times are bigint epoch milliseconds from the caller's clock, like the other stores.
 */
import { randomUUID, createHash } from "node:crypto";
import { Pool, type PoolClient, type QueryResultRow } from "pg";
import { Deadlines } from "./deadline";
import { ClaimLostError, StoreUnavailableError } from "./errors";
import {
  captureRequest,
  checkKey,
  checkToken,
  claimRequest,
  decideClaim,
  decodeCursor,
  encodeCursor,
  errorOf,
  finishRefusal,
  finishRequest,
  listRequest,
  nowOf,
  releaseRequest,
  sourceOf,
  toJson,
  type GateRecord,
} from "./rules";
import {
  DEFAULT_SWEEP_INTERVAL_MS,
  DEFAULT_TIMEOUT_MS,
  type CaptureOptions,
  type ClaimOptions,
  type ClaimOutcome,
  type DeadLetter,
  type DeadLetterCapture,
  type DeadLetterPage,
  type FinishOptions,
  type ListOptions,
  type PostgresStoreConfig,
  type QueueDepth,
  type ReleaseOptions,
  type Store,
  MAX_STEPS_PER_ID,
  type AppendStepsOptions,
  type FindStepsOptions,
  type StepRecord,
} from "./types";
import { appendRequest, findRequest, findThrough } from "./steps";

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,40}$/;

/** SQLSTATE classes that mean "the server cannot serve now": connection exceptions, shutdown, too many connections. */
function isUnavailable(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)) return /^(08|53|57P0)/.test(code);
  return !(err instanceof TypeError || err instanceof ClaimLostError);
}

interface GateRow extends QueryResultRow {
  taken: boolean;
  reclaimed: boolean;
  state: GateRecord["state"];
  fingerprint: string | null;
  token: string;
  claimed_at: string;
  lease_expires_at: string;
  finished_at: string | null;
  result: string | null;
  reason: string | null;
  expires_at: string;
}

interface LetterRow extends QueryResultRow {
  id: string;
  queue: string;
  state: DeadLetter["state"];
  attempts: number;
  first_failed_at: string;
  last_failed_at: string;
  correlation_id: string | null;
  idempotency_key: string | null;
  failure: string;
  message: string;
}

function recordOf(row: GateRow): GateRecord {
  return {
    state: row.state,
    fingerprint: row.fingerprint ?? undefined,
    token: row.token,
    claimedAt: Number(row.claimed_at),
    leaseExpiresAt: Number(row.lease_expires_at),
    finishedAt: row.finished_at === null ? undefined : Number(row.finished_at),
    result: row.result ?? undefined,
    reason: row.reason ?? undefined,
    expiresAt: Number(row.expires_at),
  };
}

function letterOf(row: LetterRow): DeadLetter {
  const failure = JSON.parse(row.failure) as Pick<DeadLetter, "error" | "source">;
  const letter: DeadLetter = {
    id: row.id,
    queue: row.queue,
    message: JSON.parse(row.message),
    error: failure.error,
    source: failure.source,
    attempts: row.attempts,
    firstFailedAt: Number(row.first_failed_at),
    lastFailedAt: Number(row.last_failed_at),
    state: row.state,
  };
  if (row.correlation_id !== null) letter.correlationId = row.correlation_id;
  if (row.idempotency_key !== null) letter.idempotencyKey = row.idempotency_key;
  return letter;
}

export class PostgresStore implements Store {
  readonly backend = "postgres";
  private readonly pool: Pool;
  private readonly deadlines: Deadlines;
  private readonly schema: string;
  private readonly gate: string;
  private readonly letters: string;
  private readonly watermarks: string;
  private readonly steps: string;
  /** Prepared-statement names must differ per table set, or two stores in one process would share plans. */
  private readonly statementTag: string;
  private schemaReady: Promise<void> | undefined;
  private readonly sweeper: NodeJS.Timeout;
  private closed = false;

  constructor(config: Omit<PostgresStoreConfig, "backend"> = {}) {
    const schema = config.schema ?? "public";
    const prefix = config.tablePrefix ?? "keelson_";
    if (!IDENTIFIER.test(schema)) throw new TypeError(`postgres schema must be a plain identifier, got ${JSON.stringify(schema)}`);
    if (prefix !== "" && !IDENTIFIER.test(prefix)) throw new TypeError(`postgres table prefix must be a plain identifier, got ${JSON.stringify(prefix)}`);
    const timeoutMs = config.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.deadlines = new Deadlines("postgres", timeoutMs);
    this.schema = `"${schema}"`;
    this.gate = `"${schema}"."${prefix}gate"`;
    this.letters = `"${schema}"."${prefix}dead_letters"`;
    this.watermarks = `"${schema}"."${prefix}watermarks"`;
    this.steps = `"${schema}"."${prefix}trace_steps"`;
    this.statementTag = createHash("sha256").update(`${schema}.${prefix}`).digest("hex").slice(0, 12);
    const options: ConstructorParameters<typeof Pool>[0] = {
      max: config.poolSize ?? 10,
      connectionTimeoutMillis: timeoutMs,
      idleTimeoutMillis: 30_000,
    };
    if (config.connectionString !== undefined) options.connectionString = config.connectionString;
    this.pool = new Pool(options);
    // An idle connection dropped by the server is reported here; the pool replaces it, the next query reconnects.
    this.pool.on("error", () => undefined);
    this.sweeper = setInterval(() => void this.sweep().catch(() => undefined), config.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS);
    this.sweeper.unref();
  }

  private run<T>(op: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new StoreUnavailableError("postgres", "the store is closed"));
    return this.deadlines.run(async (expired) => {
      await this.ensureSchema();
      // Timed out while queueing for a connection or the schema: the caller has its error already.
      if (expired()) throw new StoreUnavailableError("postgres", "timed out");
      return op();
    }, isUnavailable);
  }

  private query<R extends QueryResultRow>(name: string, text: string, values: unknown[]): Promise<{ rows: R[]; rowCount: number | null }> {
    return this.pool.query<R>({ name: `keelson_${name}_${this.statementTag}`, text, values });
  }

  private ensureSchema(): Promise<void> {
    if (!this.schemaReady) {
      this.schemaReady = this.createSchema().catch((err: unknown) => {
        this.schemaReady = undefined;
        throw err;
      });
    }
    return this.schemaReady;
  }

  private async createSchema(): Promise<void> {
    const client: PoolClient = await this.pool.connect();
    try {
      await client.query("BEGIN");
      // Two instances starting together would race on CREATE … IF NOT EXISTS (a unique violation in the catalog).
      await client.query("SELECT pg_advisory_xact_lock(hashtext('keelson-store-schema'))");
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${this.schema}`);
      await client.query(`CREATE TABLE IF NOT EXISTS ${this.gate} (
        key text COLLATE "C" PRIMARY KEY,
        state text NOT NULL,
        fingerprint text,
        token text NOT NULL,
        claimed_at bigint NOT NULL,
        lease_expires_at bigint NOT NULL,
        finished_at bigint,
        result text,
        reason text,
        expires_at bigint NOT NULL,
        reclaimed boolean NOT NULL DEFAULT false)`);
      await client.query(`CREATE INDEX IF NOT EXISTS ${this.indexName("gate_expires")} ON ${this.gate} (expires_at)`);
      await client.query(`CREATE TABLE IF NOT EXISTS ${this.letters} (
        id text COLLATE "C" PRIMARY KEY,
        queue text NOT NULL,
        state text NOT NULL,
        attempts integer NOT NULL,
        first_failed_at bigint NOT NULL,
        last_failed_at bigint NOT NULL,
        expires_at bigint NOT NULL,
        correlation_id text,
        idempotency_key text,
        source_id text NOT NULL,
        failure text NOT NULL,
        message text NOT NULL)`);
      await client.query(`CREATE INDEX IF NOT EXISTS ${this.indexName("dlq_order")} ON ${this.letters} (queue, first_failed_at, id)`);
      await client.query(`CREATE INDEX IF NOT EXISTS ${this.indexName("dlq_expires")} ON ${this.letters} (expires_at)`);
      await client.query(`CREATE TABLE IF NOT EXISTS ${this.watermarks} (name text PRIMARY KEY, value text NOT NULL)`);
      // One row per step and id it is found by (its correlation id, each recorded id).
      await client.query(`CREATE TABLE IF NOT EXISTS ${this.steps} (key text COLLATE "C" NOT NULL, at bigint NOT NULL, expires_at bigint NOT NULL, step text NOT NULL)`);
      await client.query(`CREATE INDEX IF NOT EXISTS ${this.indexName("steps_key")} ON ${this.steps} (key, at)`);
      await client.query(`CREATE INDEX IF NOT EXISTS ${this.indexName("steps_expires")} ON ${this.steps} (expires_at)`);
      await client.query("COMMIT");
    } catch (err) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  private indexName(what: string): string {
    return `"keelson_${what}_${this.statementTag}"`;
  }

  async claim(key: string, options?: ClaimOptions): Promise<ClaimOutcome> {
    checkKey(key);
    const request = claimRequest(options);
    const token = randomUUID();
    const sql = `WITH taken AS (
        INSERT INTO ${this.gate} AS g (key, state, fingerprint, token, claimed_at, lease_expires_at, expires_at, reclaimed)
        VALUES ($1, 'claimed', $2, $3, $4, $5, $6, false)
        ON CONFLICT (key) DO UPDATE SET state = 'claimed', fingerprint = EXCLUDED.fingerprint, token = EXCLUDED.token,
          claimed_at = EXCLUDED.claimed_at, lease_expires_at = EXCLUDED.lease_expires_at, expires_at = EXCLUDED.expires_at,
          finished_at = NULL, result = NULL, reason = NULL, reclaimed = (g.expires_at > EXCLUDED.claimed_at)
        WHERE g.expires_at <= EXCLUDED.claimed_at
           OR (g.state = 'claimed' AND g.lease_expires_at <= EXCLUDED.claimed_at
               AND (g.fingerprint IS NULL OR EXCLUDED.fingerprint IS NULL OR g.fingerprint = EXCLUDED.fingerprint))
        RETURNING true AS taken, g.reclaimed, g.state, g.fingerprint, g.token, g.claimed_at, g.lease_expires_at, g.finished_at, g.result, g.reason, g.expires_at)
      SELECT * FROM taken
      UNION ALL
      SELECT false, reclaimed, state, fingerprint, token, claimed_at, lease_expires_at, finished_at, result, reason, expires_at
        FROM ${this.gate} WHERE key = $1 AND NOT EXISTS (SELECT 1 FROM taken)`;
    const values = [key, request.fingerprint ?? null, token, request.now, request.now + request.leaseMs, request.now + request.retentionMs];
    return this.run(async () => {
      // The fallback SELECT reads the statement's snapshot, which misses a row committed by a concurrent claimer
      // after it began: no row at all then, and the claim is simply tried again.
      for (let attempt = 0; attempt < 10; attempt++) {
        const { rows } = await this.query<GateRow>("claim", sql, values);
        const row = rows[0];
        if (!row) continue;
        if (row.taken) return { outcome: "new", token, claimedAt: request.now, reclaimed: row.reclaimed };
        const decision = decideClaim(recordOf(row), request);
        if (decision.outcome !== "take") return decision;
      }
      throw new StoreUnavailableError("postgres", `claim on "${key}" kept racing with concurrent changes`);
    });
  }

  private finish(key: string, token: string, target: "completed" | "failed" | "retry", detail: { result?: string; reason?: string; retentionMs: number; now: number }): Promise<void> {
    checkKey(key);
    checkToken(token);
    return this.run(async () => {
      const changed =
        target === "retry"
          ? await this.query("release", `DELETE FROM ${this.gate} WHERE key = $1 AND token = $2 AND state = 'claimed' AND expires_at > $3`, [key, token, detail.now])
          : await this.query(
              "finish",
              `UPDATE ${this.gate} SET state = $3, finished_at = $4, expires_at = $5, result = $6, reason = $7
                WHERE key = $1 AND token = $2 AND state = 'claimed' AND expires_at > $4`,
              [key, token, target, detail.now, detail.now + detail.retentionMs, detail.result ?? null, detail.reason ?? null],
            );
      if (changed.rowCount === 1) return;
      const { rows } = await this.query<GateRow>("read_gate", `SELECT * FROM ${this.gate} WHERE key = $1`, [key]);
      const refusal = finishRefusal(rows[0] && recordOf(rows[0]), token, target, detail.now);
      if (refusal !== "already") throw new ClaimLostError(key, refusal ?? "the key changed meanwhile");
    });
  }

  async complete(key: string, token: string, result: unknown, options?: FinishOptions): Promise<void> {
    return this.finish(key, token, "completed", { ...finishRequest(options), result: toJson(result, "result") });
  }

  async release(key: string, token: string, options: ReleaseOptions): Promise<void> {
    const request = releaseRequest(options);
    return this.finish(key, token, request.mode === "retry" ? "retry" : "failed", request);
  }

  async capture(entry: DeadLetterCapture, options?: CaptureOptions): Promise<DeadLetter> {
    const request = captureRequest(entry, options);
    const attempts = entry.attempts ?? 1;
    const values = [
      entry.id,
      entry.queue,
      attempts >= request.maxAttempts ? "parked" : "pending",
      attempts,
      request.now,
      request.now + request.retentionMs,
      entry.correlationId === undefined ? null : String(entry.correlationId),
      entry.idempotencyKey === undefined ? null : String(entry.idempotencyKey),
      entry.source.id,
      JSON.stringify({ error: errorOf(entry), source: sourceOf(entry) }),
      toJson(entry.message, "dead letter message"),
      request.maxAttempts,
    ];
    // An existing but expired row counts as absent: the capture starts it afresh.
    const sql = `INSERT INTO ${this.letters} AS d (id, queue, state, attempts, first_failed_at, last_failed_at, expires_at,
        correlation_id, idempotency_key, source_id, failure, message)
      VALUES ($1, $2, $3, $4, $5, $5, $6, $7, $8, $9, $10, $11)
      ON CONFLICT (id) DO UPDATE SET
        queue = CASE WHEN d.expires_at > $5 THEN d.queue ELSE EXCLUDED.queue END,
        state = CASE WHEN d.expires_at <= $5 THEN EXCLUDED.state
                     WHEN d.state = 'parked' OR d.attempts + 1 >= $12 THEN 'parked' ELSE 'pending' END,
        attempts = CASE WHEN d.expires_at > $5 THEN d.attempts + 1 ELSE EXCLUDED.attempts END,
        first_failed_at = CASE WHEN d.expires_at > $5 THEN d.first_failed_at ELSE EXCLUDED.first_failed_at END,
        correlation_id = CASE WHEN d.expires_at > $5 THEN d.correlation_id ELSE EXCLUDED.correlation_id END,
        idempotency_key = CASE WHEN d.expires_at > $5 THEN d.idempotency_key ELSE EXCLUDED.idempotency_key END,
        last_failed_at = EXCLUDED.last_failed_at, expires_at = EXCLUDED.expires_at, source_id = EXCLUDED.source_id,
        failure = EXCLUDED.failure, message = EXCLUDED.message
      RETURNING *`;
    return this.run(async () => letterOf((await this.query<LetterRow>("capture", sql, values)).rows[0]!));
  }

  async get(id: string, options?: { now?: number }): Promise<DeadLetter | undefined> {
    checkKey(id, "dead letter id");
    const now = nowOf(options?.now);
    return this.run(async () => {
      const { rows } = await this.query<LetterRow>("get", `SELECT * FROM ${this.letters} WHERE id = $1 AND expires_at > $2`, [id, now]);
      return rows[0] && letterOf(rows[0]);
    });
  }

  async update(id: string, patch: { message: unknown }, options?: { now?: number }): Promise<DeadLetter | undefined> {
    checkKey(id, "dead letter id");
    const message = toJson(patch?.message, "dead letter message");
    const now = nowOf(options?.now);
    return this.run(async () => {
      const { rows } = await this.query<LetterRow>("update", `UPDATE ${this.letters} SET message = $2 WHERE id = $1 AND expires_at > $3 RETURNING *`, [id, message, now]);
      return rows[0] && letterOf(rows[0]);
    });
  }

  async remove(ids: readonly string[]): Promise<number> {
    if (!Array.isArray(ids)) throw new TypeError("ids must be an array of dead letter ids");
    for (const id of ids) checkKey(id, "dead letter id");
    return this.run(async () => (await this.query("remove", `DELETE FROM ${this.letters} WHERE id = ANY($1::text[])`, [ids])).rowCount ?? 0);
  }

  async list(queue: string, options?: ListOptions): Promise<DeadLetterPage> {
    const request = listRequest(queue, options);
    decodeCursor(options?.cursor);
    const where = ["queue = $1", "expires_at > $2"];
    const values: unknown[] = [queue, request.now];
    const add = (sql: string, value: unknown): void => {
      values.push(value);
      where.push(sql.replace("?", `$${values.length}`));
    };
    if (request.after) {
      add("first_failed_at >= ?", request.after.at);
      values.push(request.after.id);
      where.push(`(first_failed_at, id) > ($${values.length - 1}, $${values.length})`);
    }
    const filter = options?.filter;
    if (filter?.state !== undefined) add("state = ?", filter.state);
    if (filter?.sourceId !== undefined) add("source_id = ?", filter.sourceId);
    if (filter?.correlationId !== undefined) add("correlation_id = ?", filter.correlationId);
    if (filter?.idempotencyKey !== undefined) add("idempotency_key = ?", filter.idempotencyKey);
    if (filter?.failedAfter !== undefined) add("last_failed_at >= ?", filter.failedAfter);
    if (filter?.failedBefore !== undefined) add("last_failed_at < ?", filter.failedBefore);
    values.push(request.limit);
    const sql = `SELECT * FROM ${this.letters} WHERE ${where.join(" AND ")} ORDER BY first_failed_at, id LIMIT $${values.length}`;
    return this.run(async () => {
      const { rows } = await this.pool.query<LetterRow>(sql, values);
      const page: DeadLetterPage = { entries: rows.map(letterOf) };
      const last = rows[rows.length - 1];
      if (rows.length === request.limit && last) page.cursor = encodeCursor({ at: Number(last.first_failed_at), id: last.id });
      return page;
    });
  }

  async queues(options?: { now?: number }): Promise<QueueDepth[]> {
    const now = nowOf(options?.now);
    return this.run(async () => {
      const { rows } = await this.query<{ queue: string; depth: string; oldest: string }>(
        "queues",
        `SELECT queue, count(*) AS depth, min(first_failed_at) AS oldest FROM ${this.letters} WHERE expires_at > $1 GROUP BY queue ORDER BY queue COLLATE "C"`,
        [now],
      );
      return rows.map((r) => ({ queue: r.queue, depth: Number(r.depth), oldestAt: Number(r.oldest) }));
    });
  }

  async appendSteps(steps: readonly StepRecord[], options?: AppendStepsOptions): Promise<void> {
    const stored = appendRequest(steps, options);
    if (!stored.length) return;
    const keys: string[] = [];
    const ats: number[] = [];
    const expires: number[] = [];
    const texts: string[] = [];
    for (const step of stored) {
      for (const key of step.keys) {
        keys.push(key);
        ats.push(step.at);
        expires.push(step.expiresAt);
        texts.push(step.json);
      }
    }
    return this.run(async () => {
      await this.query(
        "append_steps",
        `INSERT INTO ${this.steps} (key, at, expires_at, step) SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[])`,
        [keys, ats, expires, texts],
      );
    });
  }

  async findSteps(id: string, options?: FindStepsOptions): Promise<StepRecord[]> {
    const { now, limit } = findRequest(id, options);
    return this.run(() =>
      findThrough(id, limit, async (keys) => {
        const { rows } = await this.query<{ step: string }>(
          "find_steps",
          `SELECT step FROM (SELECT step, at, row_number() OVER (PARTITION BY key ORDER BY at DESC) AS n FROM ${this.steps}
             WHERE key = ANY($1::text[]) AND expires_at > $2) s WHERE n <= $3 ORDER BY at`,
          [keys, now, MAX_STEPS_PER_ID],
        );
        return rows.map((r) => r.step);
      }),
    );
  }

  async getWatermark(name: string): Promise<unknown> {
    checkKey(name, "watermark name");
    return this.run(async () => {
      const { rows } = await this.query<{ value: string }>("get_watermark", `SELECT value FROM ${this.watermarks} WHERE name = $1`, [name]);
      return rows[0] ? JSON.parse(rows[0].value) : undefined;
    });
  }

  async setWatermark(name: string, value: unknown): Promise<void> {
    checkKey(name, "watermark name");
    const json = toJson(value, "watermark");
    return this.run(async () => {
      await this.query("set_watermark", `INSERT INTO ${this.watermarks} (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value`, [name, json]);
    });
  }

  /** Deletes expired keys and dead letters in bounded slices (they are already invisible to every operation). */
  async sweep(now = Date.now()): Promise<number> {
    return this.run(async () => {
      let swept = 0;
      for (const table of [this.gate, this.letters]) {
        const column = table === this.gate ? "key" : "id";
        const { rowCount } = await this.pool.query(
          `DELETE FROM ${table} WHERE ${column} IN (SELECT ${column} FROM ${table} WHERE expires_at <= $1 LIMIT 10000)`,
          [now],
        );
        swept += rowCount ?? 0;
      }
      const { rowCount } = await this.pool.query(
        `DELETE FROM ${this.steps} WHERE ctid IN (SELECT ctid FROM ${this.steps} WHERE expires_at <= $1 LIMIT 10000)`,
        [now],
      );
      swept += rowCount ?? 0;
      return swept;
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweeper);
    this.deadlines.stop();
    await this.pool.end();
  }
}
