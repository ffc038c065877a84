/**
 * Redis store (standalone or Sentinel, Redis >= 6.2 for PXAT; not Cluster: dead-letter scripts touch keys of one
 * queue that are named inside the script). Several Node-RED instances share it; every state change is one atomic
 * command or Lua script, and commands issued together are sent as one pipeline (ioredis auto-pipelining).
 *
 * Keys under the prefix P:
 *   P g:<key>          gate record "state\ntoken\nclaimedAt\nleaseExpiresAt\nfinishedAt\nexpiresAt\nfingerprint\ntail",
 *                      tail = result JSON (completed) or reason (failed); expires (PXAT) with its retention
 *   P dlq:e:<id>       dead letter hash; expires with its retention
 *   P dlq:q:<queue>    ids by firstFailedAt; P dlq:x:<queue> ids by expiry (to prune); P dlq:queues the queue names
 *   P wm               watermarks hash
 *   P t:<id>           trace steps found by <id> (a correlation id or a recorded id): a list of "expiresAt json",
 *                      trimmed to MAX_STEPS_PER_ID, PEXPIREd with the retention at each append
 */
import { randomUUID } from "node:crypto";
import Redis from "ioredis";
import { Deadlines } from "./deadline";
import { ClaimLostError, StoreUnavailableError } from "./errors";
import {
  captureRequest,
  checkKey,
  checkToken,
  claimRequest,
  comparePositions,
  encodeCursor,
  errorOf,
  finishRequest,
  listRequest,
  matchesFilter,
  nowOf,
  releaseRequest,
  sourceOf,
  toJson,
} from "./rules";
import { appendRequest, findRequest, findThrough } from "./steps";
import {
  MAX_STEPS_PER_ID,
  DEFAULT_STEP_RETENTION_MS,
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
  type QueueDepth,
  type RedisStoreConfig,
  type ReleaseOptions,
  type Store,
  type AppendStepsOptions,
  type FindStepsOptions,
  type StepRecord,
} from "./types";

const FIELDS = `
local function fields(v)
  local out = {}
  local pos = 1
  for i = 1, 7 do
    local nl = string.find(v, '\\n', pos, true)
    out[i] = string.sub(v, pos, nl - 1)
    pos = nl + 1
  end
  out[8] = string.sub(v, pos)
  return out
end
`;

/** KEYS[1] gate key; ARGV: claimed record, now, expiresAt, fingerprint ('' for none). */
const CLAIM = `${FIELDS}
local v = redis.call('GET', KEYS[1])
if v then
  local f = fields(v)
  if tonumber(f[6]) > tonumber(ARGV[2]) then
    if ARGV[4] ~= '' and f[7] ~= '' and f[7] ~= ARGV[4] then return {'conflict', f[7]} end
    if f[1] == 'd' then return {'duplicate', f[3], f[5], f[8]} end
    if f[1] == 'f' then return {'failed', f[3], f[5], f[8]} end
    if tonumber(f[4]) > tonumber(ARGV[2]) then return {'in-flight', f[3], f[4]} end
    redis.call('SET', KEYS[1], ARGV[1], 'PXAT', ARGV[3])
    return {'new', '1'}
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'PXAT', ARGV[3])
return {'new', '0'}
`;

/** KEYS: gate keys; ARGV: record and expiresAt of each, in turn. SET NX PXAT for each; 1 where it was set. */
const CLAIM_NEW = `
local out = {}
for i = 1, #KEYS do
  if redis.call('SET', KEYS[i], ARGV[2 * i - 1], 'PXAT', ARGV[2 * i], 'NX') then out[i] = 1 else out[i] = 0 end
end
return out
`;

/** KEYS[1] gate key; ARGV: token, target ('d' | 'f' | 'x'), tail, now, expiresAt. */
const FINISH = `${FIELDS}
local v = redis.call('GET', KEYS[1])
if not v then
  if ARGV[2] == 'x' then return 'already' end
  return 'the key is not claimed (released or expired)'
end
local f = fields(v)
if tonumber(f[6]) <= tonumber(ARGV[4]) then
  if ARGV[2] == 'x' then return 'already' end
  return 'the key is not claimed (released or expired)'
end
if f[2] ~= ARGV[1] then return 'another claimer took the key over' end
if f[1] == 'c' then
  if ARGV[2] == 'x' then
    redis.call('DEL', KEYS[1])
  else
    redis.call('SET', KEYS[1], ARGV[2] .. '\\n' .. f[2] .. '\\n' .. f[3] .. '\\n' .. f[4] .. '\\n' .. ARGV[4] .. '\\n' .. ARGV[5] .. '\\n' .. f[7] .. '\\n' .. ARGV[3], 'PXAT', ARGV[5])
  end
  return 'ok'
end
if f[1] == ARGV[2] then return 'already' end
if f[1] == 'd' then return 'the key is already completed' end
return 'the key is already failed'
`;

/** ARGV: prefix, id, queue, err JSON, message JSON, ids JSON, attempts, now, expiresAt, maxAttempts. */
const CAPTURE = `
local p, id, queue = ARGV[1], ARGV[2], ARGV[3]
local now, expires, max = ARGV[8], ARGV[9], tonumber(ARGV[10])
local key = p .. 'dlq:e:' .. id
local cur = redis.call('HMGET', key, 'q', 'at', 'ff', 'st', 'ex')
local attempts, first, state
if cur[1] and tonumber(cur[5]) > tonumber(now) then
  queue = cur[1]
  attempts = tonumber(cur[2]) + 1
  first = cur[3]
  if cur[4] == 'parked' or attempts >= max then state = 'parked' else state = 'pending' end
else
  if cur[1] then
    redis.call('ZREM', p .. 'dlq:q:' .. cur[1], id)
    redis.call('ZREM', p .. 'dlq:x:' .. cur[1], id)
  end
  attempts = tonumber(ARGV[7])
  first = now
  if attempts >= max then state = 'parked' else state = 'pending' end
  redis.call('HSET', key, 'ids', ARGV[6])
end
redis.call('HSET', key, 'q', queue, 'at', attempts, 'ff', first, 'lf', now, 'st', state, 'err', ARGV[4], 'msg', ARGV[5], 'ex', expires)
redis.call('PEXPIREAT', key, expires)
redis.call('ZADD', p .. 'dlq:q:' .. queue, first, id)
redis.call('ZADD', p .. 'dlq:x:' .. queue, expires, id)
redis.call('SADD', p .. 'dlq:queues', queue)
return redis.call('HGETALL', key)
`;

/** ARGV: prefix, id, message JSON, now. */
const UPDATE = `
local key = ARGV[1] .. 'dlq:e:' .. ARGV[2]
local ex = redis.call('HGET', key, 'ex')
if not ex or tonumber(ex) <= tonumber(ARGV[4]) then return {} end
redis.call('HSET', key, 'msg', ARGV[3])
return redis.call('HGETALL', key)
`;

/** ARGV: prefix, ids... */
const REMOVE = `
local removed = 0
for i = 2, #ARGV do
  local key = ARGV[1] .. 'dlq:e:' .. ARGV[i]
  local q = redis.call('HGET', key, 'q')
  if q then
    redis.call('DEL', key)
    redis.call('ZREM', ARGV[1] .. 'dlq:q:' .. q, ARGV[i])
    redis.call('ZREM', ARGV[1] .. 'dlq:x:' .. q, ARGV[i])
    removed = removed + 1
  end
end
return removed
`;

/** Drops expired ids from a queue's indexes, then answers {depth, oldest firstFailedAt}. ARGV: prefix, queue, now. */
const PRUNE = `
local p, queue = ARGV[1], ARGV[2]
local order, expiry = p .. 'dlq:q:' .. queue, p .. 'dlq:x:' .. queue
local gone = redis.call('ZRANGEBYSCORE', expiry, '-inf', ARGV[3], 'LIMIT', 0, 10000)
for _, id in ipairs(gone) do
  redis.call('ZREM', order, id)
  redis.call('ZREM', expiry, id)
  redis.call('DEL', p .. 'dlq:e:' .. id)
end
local depth = redis.call('ZCARD', order)
if depth == 0 then
  redis.call('SREM', p .. 'dlq:queues', queue)
  return {0, '0'}
end
local oldest = redis.call('ZRANGE', order, 0, 0, 'WITHSCORES')
return {depth, oldest[2]}
`;

interface ScriptedRedis extends Redis {
  keelsonClaimNew(numberOfKeys: number, ...keysThenArgs: string[]): Promise<number[]>;
  keelsonClaim(key: string, record: string, now: string, expiresAt: string, fingerprint: string): Promise<string[]>;
  keelsonFinish(key: string, token: string, target: string, tail: string, now: string, expiresAt: string): Promise<string>;
  keelsonCapture(...args: string[]): Promise<string[]>;
  keelsonUpdate(prefix: string, id: string, message: string, now: string): Promise<string[]>;
  keelsonRemove(prefix: string, ...ids: string[]): Promise<number>;
  keelsonPrune(prefix: string, queue: string, now: string): Promise<[number, string]>;
}

/** Reply errors that mean "the server cannot serve now", not "the command is wrong". */
const UNAVAILABLE_REPLY = /^(LOADING|READONLY|MASTERDOWN|BUSY|TRYAGAIN|CLUSTERDOWN)/;

function isUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return true;
  if (err.name === "ReplyError") return UNAVAILABLE_REPLY.test(err.message);
  return !(err instanceof TypeError || err instanceof ClaimLostError || err instanceof SyntaxError);
}

/** A script's HGETALL reply [field, value, ...] as an object. */
function hashOf(flat: string[]): Record<string, string> {
  const h: Record<string, string> = {};
  for (let i = 0; i < flat.length; i += 2) h[flat[i]!] = flat[i + 1]!;
  return h;
}

/** The dead letter in hash `h`, if it exists and has not expired by `now`. */
function letterOf(id: string, h: Record<string, string>, now: number): DeadLetter | undefined {
  if (h.q === undefined || !(Number(h.ex) > now)) return undefined;
  const failure = JSON.parse(h.err!) as Pick<DeadLetter, "error" | "source">;
  const ids = JSON.parse(h.ids ?? "{}") as Pick<DeadLetter, "correlationId" | "idempotencyKey">;
  const letter: DeadLetter = {
    id,
    queue: h.q,
    message: JSON.parse(h.msg!),
    error: failure.error,
    source: failure.source,
    attempts: Number(h.at),
    firstFailedAt: Number(h.ff),
    lastFailedAt: Number(h.lf),
    state: h.st as DeadLetter["state"],
  };
  if (ids.correlationId !== undefined) letter.correlationId = ids.correlationId;
  if (ids.idempotencyKey !== undefined) letter.idempotencyKey = ids.idempotencyKey;
  return letter;
}

/** Most claims one script call sets. */
const MAX_CLAIM_BATCH = 512;

/** A claim's SET NX waiting for the next batch. */
interface PendingSet {
  key: string;
  record: string;
  expiresAt: string;
  resolve: (set: boolean) => void;
  reject: (err: unknown) => void;
}

export class RedisStore implements Store {
  readonly backend = "redis";
  private readonly client: ScriptedRedis;
  private readonly prefix: string;
  private readonly deadlines: Deadlines;
  private readyWait: Promise<void> | undefined;
  private pendingSets: PendingSet[] = [];
  private readonly sweeper: NodeJS.Timeout;
  private closed = false;

  constructor(config: Omit<RedisStoreConfig, "backend"> = {}) {
    this.prefix = config.prefix ?? "keelson:";
    const timeoutMs = config.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.deadlines = new Deadlines("redis", timeoutMs, () => (this.client.status === "ready" ? "" : `not connected: ${this.client.status}`));
    this.client = new Redis(config.url ?? "redis://127.0.0.1:6379", {
      enableAutoPipelining: true,
      // Commands fail at once while disconnected instead of queueing for a later resend (a resent claim would
      // find its own record and answer in-flight); in-flight commands fail when the connection drops.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: timeoutMs,
      retryStrategy: (times) => Math.min(50 * 2 ** times, 1000),
      lazyConnect: false,
    }) as ScriptedRedis;
    // Connection errors surface through the operations; without a listener ioredis would print each one.
    this.client.on("error", () => undefined);
    this.client.defineCommand("keelsonClaimNew", { lua: CLAIM_NEW });
    this.client.defineCommand("keelsonClaim", { numberOfKeys: 1, lua: CLAIM });
    this.client.defineCommand("keelsonFinish", { numberOfKeys: 1, lua: FINISH });
    this.client.defineCommand("keelsonCapture", { numberOfKeys: 0, lua: CAPTURE });
    this.client.defineCommand("keelsonUpdate", { numberOfKeys: 0, lua: UPDATE });
    this.client.defineCommand("keelsonRemove", { numberOfKeys: 0, lua: REMOVE });
    this.client.defineCommand("keelsonPrune", { numberOfKeys: 0, lua: PRUNE });
    // Gate keys and dead letters expire by TTL; the queue indexes are pruned here (and on every list/queues).
    this.sweeper = setInterval(() => void this.queues().catch(() => undefined), config.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS);
    this.sweeper.unref();
  }

  /** Runs `op` once connected (waiting for a reconnect within the deadline), mapping failures to StoreUnavailableError. */
  private run<T>(op: (client: ScriptedRedis) => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new StoreUnavailableError("redis", "the store is closed"));
    if (this.client.status === "ready") return this.deadlines.run(() => op(this.client), isUnavailable);
    return this.deadlines.run(async (expired) => {
      await this.whenReady();
      // Timed out while waiting: the caller has its error, so the command must not run after all.
      if (expired()) throw new StoreUnavailableError("redis", "timed out");
      return op(this.client);
    }, isUnavailable);
  }

  /** One shared wait for the next "ready" (no listener per operation). */
  private whenReady(): Promise<void> {
    if (this.client.status === "ready") return Promise.resolve();
    if (this.client.status === "end") return Promise.reject(new StoreUnavailableError("redis", "the connection is closed"));
    if (!this.readyWait) {
      this.readyWait = new Promise<void>((resolve) =>
        this.client.once("ready", () => {
          this.readyWait = undefined;
          resolve();
        }),
      );
    }
    return this.readyWait;
  }

  async claim(key: string, options?: ClaimOptions): Promise<ClaimOutcome> {
    const request = claimRequest(options);
    const redisKey = this.prefix + "g:" + checkKey(key);
    const token = randomUUID();
    const now = String(request.now);
    const expiresAt = String(request.now + request.retentionMs);
    const record = `c\n${token}\n${now}\n${request.now + request.leaseMs}\n\n${expiresAt}\n${request.fingerprint ?? ""}\n`;
    return this.run(async (client) => {
      // Most claims are for new keys: one SET NX, batched with its neighbours; the script decides the rest.
      if (await this.setIfAbsent(redisKey, record, expiresAt)) return { outcome: "new", token, claimedAt: request.now, reclaimed: false };
      const r = await client.keelsonClaim(redisKey, record, now, expiresAt, request.fingerprint ?? "");
      switch (r[0]) {
        case "new":
          return { outcome: "new", token, claimedAt: request.now, reclaimed: r[1] === "1" };
        case "conflict":
          return { outcome: "conflict", storedFingerprint: r[1]! };
        case "duplicate":
          return { outcome: "duplicate", result: JSON.parse(r[3]!), claimedAt: Number(r[1]), completedAt: Number(r[2]) };
        case "failed":
          return { outcome: "failed", reason: r[3]!, claimedAt: Number(r[1]), failedAt: Number(r[2]) };
        default:
          return { outcome: "in-flight", claimedAt: Number(r[1]), leaseExpiresAt: Number(r[2]) };
      }
    });
  }

  /**
   * SET NX PXAT, sent with every other claim made before the event loop turns, as one script call. Node-RED hands
   * each message to a node in a callback of its own and ioredis's auto-pipelining flushes after each, so claims
   * arriving one message at a time would each cost a write, a command and a reply to parse; collected until
   * setImmediate they share them.
   */
  private setIfAbsent(key: string, record: string, expiresAt: string): Promise<boolean> {
    return new Promise((resolve, reject) => {
      if (this.pendingSets.length === 0) setImmediate(this.flushSets);
      this.pendingSets.push({ key, record, expiresAt, resolve, reject });
    });
  }

  private readonly flushSets = (): void => {
    const all = this.pendingSets;
    this.pendingSets = [];
    // A script holds Redis while it runs: keep each call short.
    for (let from = 0; from < all.length; from += MAX_CLAIM_BATCH) {
      const batch = all.length <= MAX_CLAIM_BATCH ? all : all.slice(from, from + MAX_CLAIM_BATCH);
      const args: string[] = new Array(batch.length * 3);
      for (let i = 0; i < batch.length; i++) {
        const s = batch[i]!;
        args[i] = s.key;
        args[batch.length + 2 * i] = s.record;
        args[batch.length + 2 * i + 1] = s.expiresAt;
      }
      this.client.keelsonClaimNew(batch.length, ...args).then(
        (set) => {
          for (let i = 0; i < batch.length; i++) batch[i]!.resolve(set[i] === 1);
        },
        (err: unknown) => {
          for (const s of batch) s.reject(err);
        },
      );
    }
  };

  private finish(key: string, token: string, target: "d" | "f" | "x", tail: string, request: { now: number; retentionMs: number }): Promise<void> {
    const redisKey = this.prefix + "g:" + checkKey(key);
    checkToken(token);
    return this.run(async (client) => {
      const answer = await client.keelsonFinish(redisKey, token, target, tail, String(request.now), String(request.now + request.retentionMs));
      if (answer !== "ok" && answer !== "already") throw new ClaimLostError(key, answer);
    });
  }

  async complete(key: string, token: string, result: unknown, options?: FinishOptions): Promise<void> {
    return this.finish(key, token, "d", toJson(result, "result"), finishRequest(options));
  }

  async release(key: string, token: string, options: ReleaseOptions): Promise<void> {
    const request = releaseRequest(options);
    return this.finish(key, token, request.mode === "retry" ? "x" : "f", request.reason, request);
  }

  async capture(entry: DeadLetterCapture, options?: CaptureOptions): Promise<DeadLetter> {
    const request = captureRequest(entry, options);
    const ids: Pick<DeadLetter, "correlationId" | "idempotencyKey"> = {};
    if (entry.correlationId !== undefined) ids.correlationId = String(entry.correlationId);
    if (entry.idempotencyKey !== undefined) ids.idempotencyKey = String(entry.idempotencyKey);
    const args = [
      this.prefix,
      entry.id,
      entry.queue,
      JSON.stringify({ error: errorOf(entry), source: sourceOf(entry) }),
      toJson(entry.message, "dead letter message"),
      JSON.stringify(ids),
      String(entry.attempts ?? 1),
      String(request.now),
      String(request.now + request.retentionMs),
      String(request.maxAttempts),
    ];
    return this.run(async (client) => letterOf(entry.id, hashOf(await client.keelsonCapture(...args)), request.now)!);
  }

  async get(id: string, options?: { now?: number }): Promise<DeadLetter | undefined> {
    const now = nowOf(options?.now);
    const key = this.prefix + "dlq:e:" + checkKey(id, "dead letter id");
    return this.run(async (client) => letterOf(id, await client.hgetall(key), now));
  }

  async update(id: string, patch: { message: unknown }, options?: { now?: number }): Promise<DeadLetter | undefined> {
    const message = toJson(patch?.message, "dead letter message");
    const now = nowOf(options?.now);
    checkKey(id, "dead letter id");
    return this.run(async (client) => letterOf(id, hashOf(await client.keelsonUpdate(this.prefix, id, message, String(now))), now));
  }

  async remove(ids: readonly string[]): Promise<number> {
    if (!Array.isArray(ids)) throw new TypeError("ids must be an array of dead letter ids");
    for (const id of ids) checkKey(id, "dead letter id");
    if (ids.length === 0) return Promise.resolve(0);
    return this.run((client) => client.keelsonRemove(this.prefix, ...ids));
  }

  async list(queue: string, options?: ListOptions): Promise<DeadLetterPage> {
    const request = listRequest(queue, options);
    const order = this.prefix + "dlq:q:" + queue;
    return this.run(async (client) => {
      await client.keelsonPrune(this.prefix, queue, String(request.now));
      const entries: DeadLetter[] = [];
      const chunk = Math.max(request.limit, 100);
      let offset = 0;
      let last = request.after;
      let exhausted = false;
      while (entries.length < request.limit && !exhausted) {
        const min = request.after ? String(request.after.at) : "-inf";
        const flat = await client.zrangebyscore(order, min, "+inf", "WITHSCORES", "LIMIT", offset, chunk);
        offset += flat.length / 2;
        exhausted = flat.length / 2 < chunk;
        const positions: { at: number; id: string }[] = [];
        for (let i = 0; i < flat.length; i += 2) {
          const p = { id: flat[i]!, at: Number(flat[i + 1]) };
          if (!request.after || comparePositions(p, request.after) > 0) positions.push(p);
        }
        const hashes = await Promise.all(positions.map((p) => client.hgetall(this.prefix + "dlq:e:" + p.id)));
        for (let i = 0; i < positions.length; i++) {
          last = positions[i];
          const letter = letterOf(positions[i]!.id, hashes[i]!, request.now);
          if (letter && matchesFilter(letter, options?.filter)) entries.push(letter);
          if (entries.length === request.limit) {
            exhausted = exhausted && i === positions.length - 1;
            break;
          }
        }
      }
      const page: DeadLetterPage = { entries };
      if (!exhausted && last) page.cursor = encodeCursor(last);
      return page;
    });
  }

  async queues(options?: { now?: number }): Promise<QueueDepth[]> {
    const now = String(nowOf(options?.now));
    return this.run(async (client) => {
      const names = (await client.smembers(this.prefix + "dlq:queues")).sort();
      const depths = await Promise.all(names.map((queue) => client.keelsonPrune(this.prefix, queue, now)));
      const result: QueueDepth[] = [];
      names.forEach((queue, i) => {
        const [depth, oldest] = depths[i]!;
        if (depth > 0) result.push({ queue, depth, oldestAt: Number(oldest) });
      });
      return result;
    });
  }

  async appendSteps(steps: readonly StepRecord[], options?: AppendStepsOptions): Promise<void> {
    const stored = appendRequest(steps, options);
    if (!stored.length) return;
    const retentionMs = options?.retentionMs ?? DEFAULT_STEP_RETENTION_MS;
    const byKey = new Map<string, string[]>();
    for (const step of stored) {
      for (const key of step.keys) {
        let list = byKey.get(key);
        if (!list) byKey.set(key, (list = []));
        list.push(`${step.expiresAt} ${step.json}`);
      }
    }
    return this.run(async (client) => {
      const pipeline = client.pipeline();
      for (const [key, values] of byKey) {
        const name = `${this.prefix}t:${key}`;
        pipeline.rpush(name, ...values).ltrim(name, -MAX_STEPS_PER_ID, -1).pexpire(name, Math.ceil(retentionMs));
      }
      const results = (await pipeline.exec()) ?? [];
      for (const [err] of results) if (err) throw err;
    });
  }

  async findSteps(id: string, options?: FindStepsOptions): Promise<StepRecord[]> {
    const { now, limit } = findRequest(id, options);
    return this.run((client) =>
      findThrough(id, limit, async (keys) => {
        const lists = await Promise.all(keys.map((key) => client.lrange(`${this.prefix}t:${key}`, 0, -1)));
        const out: string[] = [];
        for (const list of lists) {
          for (const item of list) {
            const space = item.indexOf(" ");
            if (Number(item.slice(0, space)) > now) out.push(item.slice(space + 1));
          }
        }
        return out;
      }),
    );
  }

  async getWatermark(name: string): Promise<unknown> {
    checkKey(name, "watermark name");
    return this.run(async (client) => {
      const json = await client.hget(this.prefix + "wm", name);
      return json === null ? undefined : JSON.parse(json);
    });
  }

  async setWatermark(name: string, value: unknown): Promise<void> {
    checkKey(name, "watermark name");
    const json = toJson(value, "watermark");
    return this.run(async (client) => {
      await client.hset(this.prefix + "wm", name, json);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweeper);
    this.deadlines.stop();
    try {
      await this.client.quit();
    } catch {
      this.client.disconnect();
    }
  }
}
