/**
 * The in-process state of the memory and file stores: gate keys, dead letters and watermarks in maps, every change
 * also written as one self-contained log record (the file store's journal). A record carries the full state of its
 * key, so replaying a log (or a compacted snapshot followed by later records) is "last record per key wins".
 */
import { randomUUID } from "node:crypto";
import { ClaimLostError } from "./errors";
import {
  comparePositions,
  decideClaim,
  encodeCursor,
  finishRefusal,
  matchesFilter,
  newDeadLetter,
  recapturedDeadLetter,
  type ClaimRequest,
  type GateRecord,
  type QueuePosition,
} from "./rules";
import type { ClaimOutcome, DeadLetter, DeadLetterCapture, DeadLetterFilter, DeadLetterPage, QueueDepth } from "./types";

/** Where changes go; the file store's group-commit log. Returns the batch sequence number holding the record. */
export interface Journal {
  append(text: string): number;
}

/** What an operation answers, and the journal batch it depends on (0: nothing to wait for). */
export interface Answer<T> {
  value: T;
  seq: number;
}

interface Durable {
  /** Journal batch of the last record written for this entry: readers wait for it before answering. */
  seq: number;
}

type GateEntry = GateRecord & Durable;

interface LetterEntry extends Durable {
  letter: DeadLetter;
  /** The letter as JSON text: answers are parsed from it, so callers never share objects with the index. */
  json: string;
  expiresAt: number;
}

interface WatermarkEntry extends Durable {
  json: string;
}

/** Log records (one JSON object per record in the file). */
type LogRecord =
  | { t: "g"; k: string; s: GateRecord["state"]; fp?: string; tok: string; ca: number; le: number; fa?: number; r?: string; why?: string; ex: number }
  | { t: "gx"; k: string }
  | { t: "l"; e: DeadLetter; ex: number }
  | { t: "lx"; id: string }
  | { t: "w"; n: string; v: string };

/**
 * A Map that does not hit V8's limit of 2^24 entries: past 2^23 keys a further Map is added. Almost every store has
 * one shard, so lookups cost what a Map costs.
 */
class KeyMap<V> {
  private static readonly SHARD_LIMIT = 1 << 23;
  private readonly shards: Map<string, V>[] = [new Map()];

  get size(): number {
    let n = 0;
    for (const shard of this.shards) n += shard.size;
    return n;
  }

  get(key: string): V | undefined {
    const shards = this.shards;
    if (shards.length === 1) return shards[0]!.get(key);
    for (const shard of shards) {
      const value = shard.get(key);
      if (value !== undefined) return value;
    }
    return undefined;
  }

  set(key: string, value: V): void {
    const shards = this.shards;
    for (let i = 0; i < shards.length - 1; i++) {
      if (shards[i]!.has(key)) {
        shards[i]!.set(key, value);
        return;
      }
    }
    let last = shards[shards.length - 1]!;
    if (last.size >= KeyMap.SHARD_LIMIT && !last.has(key)) {
      last = new Map();
      shards.push(last);
    }
    last.set(key, value);
  }

  delete(key: string): boolean {
    for (const shard of this.shards) if (shard.delete(key)) return true;
    return false;
  }

  *entries(): IterableIterator<[string, V]> {
    for (const shard of this.shards) yield* shard;
  }
}

function gateRecord(key: string, e: GateRecord): LogRecord {
  const record: LogRecord = { t: "g", k: key, s: e.state, tok: e.token, ca: e.claimedAt, le: e.leaseExpiresAt, ex: e.expiresAt };
  if (e.fingerprint !== undefined) record.fp = e.fingerprint;
  if (e.finishedAt !== undefined) record.fa = e.finishedAt;
  if (e.result !== undefined) record.r = e.result;
  if (e.reason !== undefined) record.why = e.reason;
  return record;
}

function letterRecord(json: string, expiresAt: number): string {
  return `{"t":"l","ex":${expiresAt},"e":${json}}`;
}

function letterJson(letter: DeadLetter): string {
  try {
    return JSON.stringify(letter);
  } catch (err) {
    throw new TypeError(`dead letter message is not JSON-serializable: ${(err as Error).message}`);
  }
}

/** What the index keeps to filter and order letters: no message, and nothing shared with a caller's object. */
function indexCopy(letter: DeadLetter): DeadLetter {
  return { ...letter, message: undefined, error: { ...letter.error }, source: { ...letter.source } };
}

function positionOf(letter: DeadLetter): QueuePosition {
  return { at: letter.firstFailedAt, id: letter.id };
}

/** Index of one queue, sorted oldest first; binary search keeps insert and delete cheap for typical DLQ sizes. */
class QueueIndex {
  readonly positions: QueuePosition[] = [];

  /** Index of the first position not before `p`. */
  lowerBound(p: QueuePosition): number {
    let lo = 0;
    let hi = this.positions.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (comparePositions(this.positions[mid]!, p) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  add(p: QueuePosition): void {
    this.positions.splice(this.lowerBound(p), 0, p);
  }

  delete(p: QueuePosition): void {
    const i = this.lowerBound(p);
    if (i < this.positions.length && comparePositions(this.positions[i]!, p) === 0) this.positions.splice(i, 1);
  }
}

interface Expiry {
  expiresAt: number;
  id: string;
}

/**
 * Letter ids by expiry, so expired letters are found without a scan. A replaced or removed letter leaves a stale
 * item behind (skipped when popped); the owner rebuilds the heap when stale items outnumber live ones.
 */
class ExpiryHeap {
  private readonly items: Expiry[] = [];

  get size(): number {
    return this.items.length;
  }

  push(entry: Expiry): void {
    const items = this.items;
    items.push(entry);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (items[parent]!.expiresAt <= entry.expiresAt) break;
      items[i] = items[parent]!;
      i = parent;
    }
    items[i] = entry;
  }

  /** Removes and returns the item expiring first if it expires by `now`. */
  popExpired(now: number): Expiry | undefined {
    const items = this.items;
    const top = items[0];
    if (!top || top.expiresAt > now) return undefined;
    const last = items.pop()!;
    if (items.length > 0) {
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        if (left >= items.length) break;
        const right = left + 1;
        const child = right < items.length && items[right]!.expiresAt < items[left]!.expiresAt ? right : left;
        if (items[child]!.expiresAt >= last.expiresAt) break;
        items[i] = items[child]!;
        i = child;
      }
      items[i] = last;
    }
    return top;
  }
}

export class LocalState {
  private readonly gate = new KeyMap<GateEntry>();
  private readonly letters = new Map<string, LetterEntry>();
  private readonly queueIndex = new Map<string, QueueIndex>();
  private letterExpiry = new ExpiryHeap();
  private readonly watermarks = new Map<string, WatermarkEntry>();
  /**
   * Claim tokens only have to differ between claims of this store (one process owns it): a random prefix per
   * open and a counter are unique and cost far less than a UUID per claim.
   */
  private readonly tokenPrefix = randomUUID().slice(0, 8) + ".";
  private tokenCount = 0;

  constructor(private readonly journal?: Journal) {}

  private write(record: LogRecord): number {
    return this.journal ? this.journal.append(JSON.stringify(record)) : 0;
  }

  /** A dead-letter record around the letter's JSON text as it is (serialized once, not escaped into a string). */
  private writeLetter(json: string, expiresAt: number): number {
    return this.journal ? this.journal.append(letterRecord(json, expiresAt)) : 0;
  }

  claim(key: string, request: ClaimRequest): Answer<ClaimOutcome> {
    const existing = this.gate.get(key);
    const decision = decideClaim(existing, request);
    if (decision.outcome !== "take") return { value: decision, seq: existing?.seq ?? 0 };
    const entry: GateEntry = {
      state: "claimed",
      fingerprint: request.fingerprint,
      token: this.tokenPrefix + (this.tokenCount++).toString(36),
      claimedAt: request.now,
      leaseExpiresAt: request.now + request.leaseMs,
      finishedAt: undefined,
      result: undefined,
      reason: undefined,
      expiresAt: request.now + request.retentionMs,
      seq: 0,
    };
    entry.seq = this.writeGate(key, entry);
    this.gate.set(key, entry);
    return { value: { outcome: "new", token: entry.token, claimedAt: entry.claimedAt, reclaimed: decision.reclaimed }, seq: entry.seq };
  }

  /** Completes (`result` set) or fails (`reason` set) a claim, or forgets it (`retry`). */
  finish(key: string, token: string, target: "completed" | "failed" | "retry", detail: { result?: string; reason?: string; retentionMs: number; now: number }): Answer<void> {
    const existing = this.gate.get(key);
    const refusal = finishRefusal(existing, token, target, detail.now);
    if (refusal === "already") return { value: undefined, seq: existing?.seq ?? 0 };
    if (refusal !== undefined || existing === undefined) throw new ClaimLostError(key, refusal ?? "not claimed");
    if (target === "retry") {
      const seq = this.write({ t: "gx", k: key });
      this.gate.delete(key);
      return { value: undefined, seq };
    }
    const entry: GateEntry = {
      ...existing,
      state: target,
      finishedAt: detail.now,
      result: target === "completed" ? detail.result : undefined,
      reason: target === "failed" ? detail.reason : undefined,
      expiresAt: detail.now + detail.retentionMs,
    };
    entry.seq = this.writeGate(key, entry);
    this.gate.set(key, entry);
    return { value: undefined, seq: entry.seq };
  }

  private writeGate(key: string, entry: GateRecord): number {
    return this.journal ? this.journal.append(JSON.stringify(gateRecord(key, entry))) : 0;
  }

  capture(entry: DeadLetterCapture, maxAttempts: number, retentionMs: number, now: number): Answer<DeadLetter> {
    const existing = this.liveLetter(entry.id, now);
    const letter = existing ? recapturedDeadLetter(this.parse(existing), entry, maxAttempts, now) : newDeadLetter(entry, maxAttempts, now);
    return this.store(letter, now + retentionMs);
  }

  /** Writes and indexes `letter`; the caller gets `letter` itself, the index keeps the JSON and its own copies. */
  private store(letter: DeadLetter, expiresAt: number): Answer<DeadLetter> {
    const json = letterJson(letter);
    const stored: LetterEntry = { letter: indexCopy(letter), json, expiresAt, seq: 0 };
    stored.seq = this.writeLetter(json, expiresAt);
    this.putLetter(stored);
    return { value: letter, seq: stored.seq };
  }

  get(id: string, now: number): Answer<DeadLetter | undefined> {
    const entry = this.liveLetter(id, now);
    return entry ? { value: this.parse(entry), seq: entry.seq } : { value: undefined, seq: 0 };
  }

  update(id: string, message: unknown, now: number): Answer<DeadLetter | undefined> {
    const entry = this.liveLetter(id, now);
    if (!entry) return { value: undefined, seq: 0 };
    return this.store({ ...this.parse(entry), message: message === undefined ? null : message }, entry.expiresAt);
  }

  remove(ids: readonly string[], now: number): Answer<number> {
    let removed = 0;
    let seq = 0;
    for (const id of ids) {
      const entry = this.letters.get(id);
      if (!entry) continue;
      if (entry.expiresAt > now) removed++;
      seq = this.write({ t: "lx", id });
      this.dropLetter(entry);
    }
    return { value: removed, seq };
  }

  list(queue: string, filter: DeadLetterFilter | undefined, limit: number, after: QueuePosition | undefined, now: number): Answer<DeadLetterPage> {
    this.dropExpiredLetters(now);
    const index = this.queueIndex.get(queue);
    const entries: DeadLetter[] = [];
    let seq = 0;
    if (!index) return { value: { entries }, seq };
    const positions = index.positions;
    let i = after ? index.lowerBound(after) : 0;
    if (after && i < positions.length && comparePositions(positions[i]!, after) === 0) i++;
    let last: QueuePosition | undefined;
    for (; i < positions.length && entries.length < limit; i++) {
      const entry = this.letters.get(positions[i]!.id)!;
      last = positions[i];
      if (entry.expiresAt <= now || !matchesFilter(entry.letter, filter)) continue;
      entries.push(this.parse(entry));
      seq = Math.max(seq, entry.seq);
    }
    const page: DeadLetterPage = { entries };
    if (i < positions.length && last) page.cursor = encodeCursor(last);
    return { value: page, seq };
  }

  queues(now: number): QueueDepth[] {
    this.dropExpiredLetters(now);
    const depths: QueueDepth[] = [];
    for (const [queue, index] of this.queueIndex) depths.push({ queue, depth: index.positions.length, oldestAt: index.positions[0]!.at });
    return depths.sort((a, b) => (a.queue < b.queue ? -1 : a.queue > b.queue ? 1 : 0));
  }

  /** Expired letters are invisible already; this takes them out of the queue indexes (cheap: by expiry order). */
  private dropExpiredLetters(now: number): number {
    let dropped = 0;
    for (let item = this.letterExpiry.popExpired(now); item; item = this.letterExpiry.popExpired(now)) {
      const entry = this.letters.get(item.id);
      if (!entry || entry.expiresAt > now) continue;
      this.dropLetter(entry);
      dropped++;
    }
    return dropped;
  }

  getWatermark(name: string): Answer<unknown> {
    const entry = this.watermarks.get(name);
    return entry ? { value: JSON.parse(entry.json), seq: entry.seq } : { value: undefined, seq: 0 };
  }

  setWatermark(name: string, json: string): Answer<void> {
    const entry: WatermarkEntry = { json, seq: 0 };
    entry.seq = this.write({ t: "w", n: name, v: json });
    this.watermarks.set(name, entry);
    return { value: undefined, seq: entry.seq };
  }

  /** Deletes expired keys and letters from the maps; they were already invisible. Returns how many went. */
  sweep(now: number): number {
    let swept = 0;
    for (const [key, entry] of this.gate.entries()) {
      if (entry.expiresAt <= now) {
        this.gate.delete(key);
        swept++;
      }
    }
    return swept + this.dropExpiredLetters(now);
  }

  /** Applies one record read back from the log (no journal write). Throws on a record it cannot understand. */
  replay(text: string): void {
    const record = JSON.parse(text) as LogRecord;
    switch (record.t) {
      case "g":
        this.gate.set(record.k, {
          state: record.s,
          fingerprint: record.fp,
          token: record.tok,
          claimedAt: record.ca,
          leaseExpiresAt: record.le,
          finishedAt: record.fa,
          result: record.r,
          reason: record.why,
          expiresAt: record.ex,
          seq: 0,
        });
        return;
      case "gx":
        this.gate.delete(record.k);
        return;
      case "l":
        this.putLetter({ letter: indexCopy(record.e), json: JSON.stringify(record.e), expiresAt: record.ex, seq: 0 });
        return;
      case "lx": {
        const entry = this.letters.get(record.id);
        if (entry) this.dropLetter(entry);
        return;
      }
      case "w":
        this.watermarks.set(record.n, { json: record.v, seq: 0 });
        return;
      default:
        throw new Error(`unknown log record type ${JSON.stringify((record as { t: unknown }).t)}`);
    }
  }

  /** Records that rebuild the live state (for compaction); expired entries are left out. */
  *snapshot(now: number): IterableIterator<string> {
    for (const [key, entry] of this.gate.entries()) {
      if (entry.expiresAt > now) yield JSON.stringify(gateRecord(key, entry));
    }
    for (const entry of this.letters.values()) {
      if (entry.expiresAt > now) yield letterRecord(entry.json, entry.expiresAt);
    }
    for (const [name, entry] of this.watermarks) yield JSON.stringify({ t: "w", n: name, v: entry.json } satisfies LogRecord);
  }

  /** Live entries, for deciding when compaction pays. */
  get size(): number {
    return this.gate.size + this.letters.size + this.watermarks.size;
  }

  private liveLetter(id: string, now: number): LetterEntry | undefined {
    const entry = this.letters.get(id);
    return entry && entry.expiresAt > now ? entry : undefined;
  }

  private parse(entry: LetterEntry): DeadLetter {
    return JSON.parse(entry.json) as DeadLetter;
  }

  private putLetter(entry: LetterEntry): void {
    const previous = this.letters.get(entry.letter.id);
    if (previous) this.dropLetter(previous);
    this.letters.set(entry.letter.id, entry);
    if (this.letterExpiry.size > 2 * this.letters.size + 1024) {
      this.letterExpiry = new ExpiryHeap();
      for (const live of this.letters.values()) this.letterExpiry.push({ expiresAt: live.expiresAt, id: live.letter.id });
    } else {
      this.letterExpiry.push({ expiresAt: entry.expiresAt, id: entry.letter.id });
    }
    let index = this.queueIndex.get(entry.letter.queue);
    if (!index) this.queueIndex.set(entry.letter.queue, (index = new QueueIndex()));
    index.add(positionOf(entry.letter));
  }

  private dropLetter(entry: LetterEntry): void {
    this.letters.delete(entry.letter.id);
    const index = this.queueIndex.get(entry.letter.queue);
    if (!index) return;
    index.delete(positionOf(entry.letter));
    if (index.positions.length === 0) this.queueIndex.delete(entry.letter.queue);
  }
}
