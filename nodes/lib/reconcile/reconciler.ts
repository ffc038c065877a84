import { promises as fsp } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import jsonata from "jsonata";
import { compileGetter, type Getter } from "./paths";
import { FieldRule, ReconcileConfigError, normaliseKeyPart, sameExact, type FieldDiff, type FieldRuleSpec, type KeyNormalisation } from "./rules";
import { ControlTotals, type TotalsReport } from "./totals";
import { SideMerge, compareKeys, writeRun } from "./spill";
import { CsvReport } from "./csv";

export type Side = "left" | "right";
export const SIDES: readonly Side[] = ["left", "right"];

/** A key: one or more field paths, or a JSONata expression giving a value or an array of parts. */
export type KeySpec = { fields: string[] } | { expression: string };

export interface ReconcileSpec {
  key: { left: KeySpec; right?: KeySpec };
  normalise?: KeyNormalisation;
  fields?: FieldRuleSpec[];
  /** Compare every top-level field that no rule names and that is not a key field, exactly. */
  compareOtherFields?: boolean;
  /** Estimated bytes of records held before they are spilled to sorted runs on disk. */
  memoryBudgetBytes?: number;
  /** Where spilled runs go (a fresh folder inside it, removed afterwards). */
  tempDir?: string;
}

export type Outcome = "matched" | "mismatched" | "onlyLeft" | "onlyRight";

export interface ReconcileResult {
  key: string;
  left?: unknown;
  right?: unknown;
  diffs?: FieldDiff[];
  /** Further records with the same key on a side, beyond the one compared. */
  duplicates?: { left?: unknown[]; right?: unknown[] };
}

/** Receives results as the join produces them; a returned promise holds the join until it settles. */
export type ResultSink = (outcome: Outcome, result: ReconcileResult) => void | Promise<void>;

export interface DuplicateKey {
  key: string;
  count: number;
}

export interface Summary {
  counts: {
    left: number;
    right: number;
    matched: number;
    mismatched: number;
    onlyLeft: number;
    onlyRight: number;
    duplicateKeysLeft: number;
    duplicateKeysRight: number;
  };
  mismatchesByField: Record<string, number>;
  totals: TotalsReport;
  /** Duplicate keys in key order, at most `DUPLICATES_LISTED` per side; the CSV report lists every one. */
  duplicates: { left: DuplicateKey[]; right: DuplicateKey[]; truncated: boolean };
  /** "memory", or "spill" when records went to sorted runs on disk. */
  path: "memory" | "spill";
  spilledRuns: number;
  durationMs: number;
  csv?: string;
}

export const DUPLICATES_LISTED = 1000;
const DEFAULT_BUDGET = 1024 * 1024 * 1024;
const YIELD_EVERY = 4096;
/** V8's Map holds at most 2^24 entries; an index larger than that is split over several maps. */
const MAP_LIMIT = (1 << 24) - 1;

export class ReconcileInputError extends Error {}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}

/** A key → position index that grows past V8's Map limit by adding maps. */
export class KeyIndex {
  private readonly maps: Map<string, number>[] = [new Map()];

  /** `limit` is the entries one map takes; smaller than V8's only in tests. */
  constructor(private readonly limit = MAP_LIMIT) {}

  get(key: string): number | undefined {
    const first = this.maps[0] as Map<string, number>;
    const v = first.get(key);
    if (v !== undefined || this.maps.length === 1) return v;
    for (let i = 1; i < this.maps.length; i++) {
      const w = (this.maps[i] as Map<string, number>).get(key);
      if (w !== undefined) return w;
    }
    return undefined;
  }

  /** Sets the position of a key; true when the key was not there yet. One Map operation in the common case. */
  put(key: string, position: number): boolean {
    const last = this.maps[this.maps.length - 1] as Map<string, number>;
    if (this.maps.length === 1 && last.size < this.limit) {
      const size = last.size;
      return last.set(key, position).size !== size;
    }
    for (const m of this.maps) {
      if (m.has(key)) {
        m.set(key, position);
        return false;
      }
    }
    if (last.size >= this.limit) this.maps.push(new Map([[key, position]]));
    else last.set(key, position);
    return true;
  }
}

type KeyOf = (record: unknown, position: number) => string | Promise<string>;

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Compares two record sets by key. Records are added per side, in as many chunks as they come; `reconcile()` then
 * joins them and hands every result to a sink. Below the memory budget, the records stay as they came (one index
 * entry per record, nothing copied) and are joined through a Map; above it, each side is spilled to sorted runs on
 * disk and merge-joined, so the memory used no longer grows with the sets.
 */
export class Reconciler {
  private readonly keyOf: Record<Side, KeyOf>;
  private readonly rules: FieldRule[];
  private readonly ruled = new Set<string>();
  private readonly compareOthers: boolean;
  private readonly budget: number;
  private readonly tempDir: string;
  private readonly totals: ControlTotals;
  private readonly held: Record<Side, { keys: string[]; records: unknown[] }> = {
    left: { keys: [], records: [] },
    right: { keys: [], records: [] },
  };
  private readonly received: Record<Side, number> = { left: 0, right: 0 };
  private heldBytes = 0;
  private spillDir: string | undefined;
  private readonly runs: Record<Side, string[]> = { left: [], right: [] };
  private readonly started = Date.now();
  private finished = false;
  private stopped = false;

  constructor(spec: ReconcileSpec) {
    if (!spec || typeof spec !== "object" || !spec.key || !spec.key.left) throw new ReconcileConfigError("no key: name the key field(s)");
    const normalise: KeyNormalisation = { trim: true, ...spec.normalise };
    this.keyOf = {
      left: compileKey("left", spec.key.left, normalise),
      right: compileKey("right", spec.key.right ?? spec.key.left, normalise),
    };
    this.rules = (spec.fields ?? []).map((f) => new FieldRule(f));
    for (const r of this.rules) {
      this.ruled.add(topLevel(r.field));
      this.ruled.add(topLevel(r.rightField));
    }
    for (const k of [spec.key.left, spec.key.right ?? spec.key.left]) {
      if ("fields" in k) for (const f of k.fields) this.ruled.add(topLevel(f));
    }
    this.compareOthers = spec.compareOtherFields === true;
    this.budget = spec.memoryBudgetBytes && spec.memoryBudgetBytes > 0 ? spec.memoryBudgetBytes : DEFAULT_BUDGET;
    this.tempDir = spec.tempDir || os.tmpdir();
    this.totals = new ControlTotals(this.rules.filter((r) => r.moneyOf));
  }

  /** Records received so far on each side. */
  get counts(): Readonly<Record<Side, number>> {
    return this.received;
  }

  /**
   * Adds a chunk of one side. `label` names where the records came from, for error messages. A chunk with a bad
   * record is refused whole, so the sets stay as they were.
   */
  async add(side: Side, records: unknown, label = `${side} side`): Promise<void> {
    if (this.finished) throw new ReconcileInputError("this reconciliation has already run");
    if (!Array.isArray(records)) throw new ReconcileInputError(`${label} must be an array of records, got ${describe(records)}`);
    const keyOf = this.keyOf[side];
    const base = this.received[side];
    const keys: string[] = new Array(records.length);
    for (let i = 0; i < records.length; i++) {
      const record: unknown = records[i];
      if (record === null || typeof record !== "object" || Array.isArray(record)) {
        throw new ReconcileInputError(`${side} record ${base + i} is ${describe(record)}, not an object (${label})`);
      }
      const key = keyOf(record, base + i);
      keys[i] = typeof key === "string" ? key : await key;
    }
    const held = this.held[side];
    for (let i = 0; i < records.length; i++) {
      held.keys.push(keys[i] as string);
      held.records.push(records[i]);
      this.totals.add(side, records[i]);
    }
    this.received[side] = base + records.length;
    this.heldBytes += records.length * estimateRecordBytes(records);
    if (this.heldBytes > this.budget) await this.spill();
  }

  /** Joins both sides, hands each result to the sink, writes the CSV report if asked, and sums everything up. */
  async reconcile(sink: ResultSink, options: { csvPath?: string } = {}): Promise<Summary> {
    if (this.finished) throw new ReconcileInputError("this reconciliation has already run");
    this.finished = true;
    const join = new Join(this.rules, this.ruled, this.compareOthers, sink, options.csvPath ? new CsvReport(options.csvPath) : undefined, () => this.stopped);
    try {
      if (this.spillDir) {
        await this.spill();
        await this.mergeJoin(join);
      } else {
        await this.hashJoin(join);
      }
      await join.close();
    } catch (err) {
      join.abandon();
      throw err;
    } finally {
      await this.discard();
    }
    return {
      counts: {
        left: this.received.left,
        right: this.received.right,
        ...join.counts,
        duplicateKeysLeft: join.duplicates.left.length,
        duplicateKeysRight: join.duplicates.right.length,
      },
      mismatchesByField: join.byField,
      totals: this.totals.report(),
      duplicates: {
        left: sortDuplicates(join.duplicates.left),
        right: sortDuplicates(join.duplicates.right),
        truncated: join.duplicates.left.length > DUPLICATES_LISTED || join.duplicates.right.length > DUPLICATES_LISTED,
      },
      path: this.runs.left.length + this.runs.right.length > 0 ? "spill" : "memory",
      spilledRuns: this.runs.left.length + this.runs.right.length,
      durationMs: Date.now() - this.started,
      ...(options.csvPath ? { csv: options.csvPath } : {}),
    };
  }

  /** Drops everything held and removes spilled runs; a join under way stops with an error. */
  async discard(): Promise<void> {
    this.finished = true;
    this.stopped = true;
    for (const side of SIDES) {
      this.held[side].keys = [];
      this.held[side].records = [];
    }
    this.heldBytes = 0;
    if (this.spillDir) {
      const dir = this.spillDir;
      this.spillDir = undefined;
      await fsp.rm(dir, { recursive: true, force: true });
    }
  }

  private async spill(): Promise<void> {
    this.spillDir ??= await fsp.mkdtemp(path.join(this.tempDir, "keelson-reconcile-"));
    for (const side of SIDES) {
      const held = this.held[side];
      if (held.keys.length === 0) continue;
      const file = path.join(this.spillDir, `${side}-${this.runs[side].length}.run`);
      await writeRun(file, held.keys, held.records);
      this.runs[side].push(file);
      held.keys = [];
      held.records = [];
    }
    this.heldBytes = 0;
  }

  /**
   * The in-memory join: one Map operation per record. The left side is indexed (first arrival wins), each right
   * record probes it once; only keys absent from the left, and duplicates, need a second, small map.
   */
  private async hashJoin(join: Join): Promise<void> {
    const { keys: leftKeys, records: leftRecords } = this.held.left;
    const { keys: rightKeys, records: rightRecords } = this.held.right;
    const index = new KeyIndex();
    const duplicated = new Set<string>();
    // Walking backwards, the last write of a key is its first arrival; a key that is already there is a duplicate.
    for (let i = leftKeys.length - 1; i >= 0; i--) {
      const key = leftKeys[i] as string;
      if (!index.put(key, i)) duplicated.add(key);
    }
    const leftExtras = new Map<string, unknown[]>();
    if (duplicated.size) {
      for (let i = 0; i < leftKeys.length; i++) {
        const key = leftKeys[i] as string;
        if (duplicated.has(key) && index.get(key) !== i) push(leftExtras, key, leftRecords[i]);
      }
    }
    // partner[i] = 1 + position of the right record paired with left record i, 0 when none.
    const partner = new Float64Array(leftKeys.length);
    const rightOnly = new Map<string, number>();
    const rightExtras = new Map<string, unknown[]>();
    for (let j = 0; j < rightKeys.length; j++) {
      const key = rightKeys[j] as string;
      const i = index.get(key);
      if (i !== undefined) {
        if (partner[i] === 0) partner[i] = j + 1;
        else push(rightExtras, key, rightRecords[j]);
      } else if (rightOnly.get(key) === undefined) {
        rightOnly.set(key, j);
      } else {
        push(rightExtras, key, rightRecords[j]);
      }
    }
    for (let i = 0; i < leftKeys.length; i++) {
      const key = leftKeys[i] as string;
      if (duplicated.size && duplicated.has(key) && index.get(key) !== i) continue;
      const j = partner[i] as number;
      const pending = join.pair(
        key,
        leftRecords[i],
        j === 0 ? undefined : rightRecords[j - 1],
        leftExtras.size ? leftExtras.get(key) : undefined,
        rightExtras.size ? rightExtras.get(key) : undefined,
      );
      if (pending) await pending;
    }
    for (const [key, j] of rightOnly) {
      const pending = join.pair(key, undefined, rightRecords[j], undefined, rightExtras.size ? rightExtras.get(key) : undefined);
      if (pending) await pending;
    }
  }

  private async mergeJoin(join: Join): Promise<void> {
    const left = await SideMerge.open(this.runs.left);
    let right: SideMerge | undefined;
    try {
      right = await SideMerge.open(this.runs.right);
      let l = await left.next();
      let r = await right.next();
      while (l || r) {
        if (l && (!r || l.key < r.key)) {
          const pending = join.pair(l.key, l.first, undefined, l.extras, undefined);
          if (pending) await pending;
          l = await left.next();
        } else if (r && (!l || r.key < l.key)) {
          const pending = join.pair(r.key, undefined, r.first, undefined, r.extras);
          if (pending) await pending;
          r = await right.next();
        } else if (l && r) {
          const pending = join.pair(l.key, l.first, r.first, l.extras, r.extras);
          if (pending) await pending;
          l = await left.next();
          r = await right.next();
        }
      }
    } finally {
      await left.close();
      if (right) await right.close();
    }
  }
}

/** The comparison of key groups, shared by the hash and the merge join. */
class Join {
  readonly counts = { matched: 0, mismatched: 0, onlyLeft: 0, onlyRight: 0 };
  readonly byField: Record<string, number> = {};
  readonly duplicates: Record<Side, DuplicateKey[]> = { left: [], right: [] };
  private sinceYield = 0;

  constructor(
    private readonly rules: FieldRule[],
    private readonly ruled: Set<string>,
    private readonly compareOthers: boolean,
    private readonly sink: ResultSink,
    private readonly csv: CsvReport | undefined,
    private readonly stopped: () => boolean,
  ) {}

  /**
   * One key: its first record on the left, on the right, or both (records are objects, so undefined means absent),
   * and any further records of the key per side. Returns a promise only when the caller must wait.
   */
  pair(key: string, left: unknown, right: unknown, leftExtras: unknown[] | undefined, rightExtras: unknown[] | undefined): void | Promise<void> {
    let result: ReconcileResult;
    let outcome: Outcome;
    if (left !== undefined && right !== undefined) {
      const diffs = this.diff(left, right);
      if (diffs.length) {
        result = { key, left, right, diffs };
        outcome = "mismatched";
        for (const d of diffs) this.byField[d.field] = (this.byField[d.field] ?? 0) + 1;
      } else {
        result = { key, left, right };
        outcome = "matched";
      }
    } else if (left !== undefined) {
      result = { key, left };
      outcome = "onlyLeft";
    } else {
      result = { key, right };
      outcome = "onlyRight";
    }
    if (leftExtras || rightExtras) {
      result.duplicates = {};
      if (leftExtras) {
        result.duplicates.left = leftExtras;
        this.duplicates.left.push({ key, count: leftExtras.length + 1 });
      }
      if (rightExtras) {
        result.duplicates.right = rightExtras;
        this.duplicates.right.push({ key, count: rightExtras.length + 1 });
      }
    }
    this.counts[outcome]++;
    const csvPending = this.csv ? this.writeCsv(outcome, result) : undefined;
    const sinkPending = this.sink(outcome, result);
    if (csvPending || sinkPending || ++this.sinceYield >= YIELD_EVERY) return this.settle(csvPending, sinkPending);
  }

  async close(): Promise<void> {
    if (this.csv) await this.csv.close();
  }

  abandon(): void {
    this.csv?.destroy();
  }

  private async settle(a: void | Promise<void>, b: void | Promise<void>): Promise<void> {
    if (a) await a;
    if (b) await b;
    if (this.sinceYield >= YIELD_EVERY) {
      this.sinceYield = 0;
      // Lets the runtime deliver what was sent and serve other flows while a large join runs.
      await yieldToEventLoop();
      if (this.stopped()) throw new ReconcileInputError("the reconciliation was stopped");
    }
  }

  private diff(left: unknown, right: unknown): FieldDiff[] {
    const diffs: FieldDiff[] = [];
    for (const rule of this.rules) {
      const d = rule.compare(rule.readLeft(left), rule.readRight(right), left, right);
      if (d) diffs.push(d);
    }
    if (this.compareOthers) {
      const l = left as Record<string, unknown>;
      const r = right as Record<string, unknown>;
      for (const name of new Set([...Object.keys(l), ...Object.keys(r)])) {
        if (this.ruled.has(name)) continue;
        const a = Object.hasOwn(l, name) ? l[name] : undefined;
        const b = Object.hasOwn(r, name) ? r[name] : undefined;
        if (!sameExact(a, b)) diffs.push({ field: name, left: a, right: b, rule: "exact" });
      }
    }
    return diffs;
  }

  private writeCsv(outcome: Outcome, result: ReconcileResult): void | Promise<void> {
    const csv = this.csv as CsvReport;
    const waits: Promise<void>[] = [];
    const row = (cells: unknown[]): void => {
      const p = csv.row(cells);
      if (p) waits.push(p);
    };
    if (outcome === "mismatched") {
      for (const d of result.diffs ?? []) row(["mismatched", result.key, d.field, d.rightField, d.left, d.right, d.rule, d.difference, d.reason]);
    } else if (outcome === "onlyLeft") {
      row(["only-left", result.key, "", "", result.left, "", "", "", ""]);
    } else if (outcome === "onlyRight") {
      row(["only-right", result.key, "", "", "", result.right, "", "", ""]);
    }
    for (const record of result.duplicates?.left ?? []) row(["duplicate-left", result.key, "", "", record, "", "", "", ""]);
    for (const record of result.duplicates?.right ?? []) row(["duplicate-right", result.key, "", "", "", record, "", "", ""]);
    if (waits.length) return Promise.all(waits).then(() => undefined);
  }
}

function push(lists: Map<string, unknown[]>, key: string, record: unknown): void {
  const list = lists.get(key);
  if (list) list.push(record);
  else lists.set(key, [record]);
}

function sortDuplicates(list: DuplicateKey[]): DuplicateKey[] {
  return list.slice().sort((a, b) => compareKeys(a.key, b.key)).slice(0, DUPLICATES_LISTED);
}

function topLevel(fieldPath: string): string {
  return fieldPath.trim().split(/[.[]/)[0] as string;
}

/**
 * A rough size of records in memory: twice their JSON text plus the index entry, from a few samples.
 * It only decides when to spill, so a cheap estimate beats an exact one.
 */
function estimateRecordBytes(records: unknown[]): number {
  if (records.length === 0) return 0;
  const samples = Math.min(4, records.length);
  const step = Math.floor(records.length / samples);
  let text = 0;
  for (let i = 0; i < samples; i++) text += JSON.stringify(records[i * step])?.length ?? 0;
  return Math.ceil((2 * text) / samples) + 120;
}

function compileKey(side: Side, spec: KeySpec, how: KeyNormalisation): KeyOf {
  if ("expression" in spec) {
    if (typeof spec.expression !== "string" || spec.expression.trim() === "") throw new ReconcileConfigError(`${side} key: the expression is empty`);
    let expression: ReturnType<typeof jsonata>;
    try {
      expression = jsonata(spec.expression);
    } catch (err) {
      throw new ReconcileConfigError(`${side} key: the JSONata expression does not compile: ${(err as Error).message}`);
    }
    return async (record, position) => {
      let value: unknown;
      try {
        value = await expression.evaluate(record);
      } catch (err) {
        throw new ReconcileInputError(`${side} record ${position}: the key expression failed: ${(err as Error).message}`);
      }
      const parts = Array.isArray(value) ? value : [value];
      const text = parts.map((p) => normaliseKeyPart(p, how));
      if (parts.length === 0 || text.some((t) => t === undefined)) {
        throw new ReconcileInputError(`${side} record ${position} has no key: the key expression gave ${JSON.stringify(value) ?? "nothing"}`);
      }
      return text.length === 1 ? (text[0] as string) : JSON.stringify(text);
    };
  }
  if (!Array.isArray(spec.fields) || spec.fields.length === 0) throw new ReconcileConfigError(`no key: name the ${side} key field(s)`);
  const names = spec.fields.map((f) => String(f).trim());
  let getters: Getter[];
  try {
    getters = names.map(compileGetter);
  } catch (err) {
    throw new ReconcileConfigError(`${side} key: ${(err as Error).message}`);
  }
  const missing = (position: number, i: number, value: unknown): never => {
    const what = value === undefined || value === null ? "has no" : typeof value === "string" ? "has an empty" : `has ${describe(value)} as its`;
    throw new ReconcileInputError(`${side} record ${position} ${what} key field "${names[i]}"`);
  };
  if (getters.length === 1) {
    const get = getters[0] as Getter;
    return (record, position) => {
      const value = get(record);
      return normaliseKeyPart(value, how) ?? missing(position, 0, value);
    };
  }
  return (record, position) => {
    const parts: string[] = [];
    for (let i = 0; i < getters.length; i++) {
      const value = (getters[i] as Getter)(record);
      parts.push(normaliseKeyPart(value, how) ?? missing(position, i, value));
    }
    return JSON.stringify(parts);
  };
}
