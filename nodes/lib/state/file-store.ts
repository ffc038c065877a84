/**
 * The embedded durable store: an append-only log of checksummed records in a directory owned by one process, with
 * the whole state indexed in memory. Concurrent operations share one write + fdatasync (group commit) and each is
 * answered only once the batch holding its record (or the record it read) is on disk.
 *
 * Files in the directory: `state-v1.log` (the log), `lock` (owner pid), `state-v1.log.compact` (only during compaction),
 * `trace-v1.log` (trace steps: one JSON line `[expiresAt, step]` each, appended without fsync — the trace is
 * diagnostics, a torn last line is skipped on load — and rewritten with the live steps when the sweep finds more
 * than half of it expired).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { StoreUnavailableError } from "./errors";
import { LocalState, type Journal } from "./local-state";
import { LocalStore } from "./local-store";
import { DirectoryLock } from "./lock";
import { encodeRecord, scanLog, type DamagedRange } from "./log-format";
import { keysOf, type StoredStep } from "./steps";
import { DEFAULT_SWEEP_INTERVAL_MS, type FileStoreConfig, type StepRecord } from "./types";

const LOG_NAME = "state-v1.log";
const TRACE_NAME = "trace-v1.log";
const DEFAULT_COMPACT_AFTER_BYTES = 64 * 1024 * 1024;
/** Compaction writes its snapshot in slices this large, yielding to the event loop between them. */
const SNAPSHOT_SLICE_BYTES = 1024 * 1024;

/** What start-up found in the log. */
export interface RecoveryReport {
  records: number;
  /** Bytes cut off the end: a torn or corrupt last write. */
  truncatedBytes: number;
  /** Damaged stretches in the middle of the log that were skipped. */
  damaged: DamagedRange[];
}

interface Batch {
  seq: number;
  buffers: Buffer[];
  bytes: number;
  promise: Promise<void> | undefined;
  resolve: () => void;
  reject: (err: Error) => void;
}

function newBatch(seq: number): Batch {
  const batch = { seq, buffers: [], bytes: 0, promise: undefined } as unknown as Batch;
  return batch;
}

function promiseOf(batch: Batch): Promise<void> {
  if (!batch.promise) {
    batch.promise = new Promise<void>((resolve, reject) => {
      batch.resolve = resolve;
      batch.reject = reject;
    });
    // A batch nobody awaits must not become an unhandled rejection.
    batch.promise.catch(() => undefined);
  }
  return batch.promise;
}

function writeAll(fd: number, buf: Buffer, position: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const step = (offset: number): void => {
      fs.write(fd, buf, offset, buf.length - offset, position + offset, (err, written) => {
        if (err) return reject(err);
        if (offset + written < buf.length) return step(offset + written);
        resolve();
      });
    };
    step(0);
  });
}

function datasync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.fdatasync(fd, (err) => (err ? reject(err) : resolve())));
}

function fsyncDirectory(dir: string): void {
  const fd = fs.openSync(dir, "r");
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** The group-commit log: records appended between two flushes are written and fdatasync'ed together. */
class GroupCommitLog implements Journal {
  private current: Batch;
  /** The batch being written and synced, if any. */
  private inFlight: Batch | undefined;
  private durableSeq: number;
  private flushing = false;
  private flushQueued = false;
  private failure: Error | undefined;
  /** While compaction runs, every batch flushed is also kept here to be appended to the new file. */
  private tail: Buffer[] | undefined;
  private tailRecords = 0;
  private switching: Promise<void> | undefined;
  /** Who waits for the flush in progress to end (compaction's switch, close). */
  private idleWaiters: (() => void)[] = [];
  records: number;

  constructor(private fd: number, private size: number, records: number, private readonly onFlushed: () => void) {
    this.records = records;
    this.durableSeq = 0;
    this.current = newBatch(1);
  }

  get bytes(): number {
    return this.size;
  }

  append(text: string): number {
    if (this.failure) throw this.unavailable();
    const buf = encodeRecord(text);
    const batch = this.current;
    batch.buffers.push(buf);
    batch.bytes += buf.length;
    if (!this.flushing && !this.flushQueued) {
      this.flushQueued = true;
      // Ops started in the same turn of the event loop join this batch.
      setImmediate(() => this.flush());
    }
    return batch.seq;
  }

  /** Resolves once batch `seq` is on disk; undefined if it already is. */
  durable(seq: number): Promise<void> | undefined {
    if (seq <= this.durableSeq) return undefined;
    if (this.failure) return Promise.reject(this.unavailable());
    return promiseOf(this.inFlight?.seq === seq ? this.inFlight : this.current);
  }

  /** Set once a write or sync failed: the log takes no more records (the store reloads from disk instead). */
  get failed(): Error | undefined {
    return this.failure;
  }

  private unavailable(): StoreUnavailableError {
    return new StoreUnavailableError("file", `a write to the log failed (${this.failure?.message})`, { cause: this.failure });
  }

  private async flush(): Promise<void> {
    this.flushQueued = false;
    if (this.flushing || this.switching || this.current.buffers.length === 0) return;
    this.flushing = true;
    const batch = (this.inFlight = this.current);
    this.current = newBatch(batch.seq + 1);
    const data = batch.buffers.length === 1 ? batch.buffers[0]! : Buffer.concat(batch.buffers, batch.bytes);
    try {
      await writeAll(this.fd, data, this.size);
      await datasync(this.fd);
      this.size += data.length;
      this.records += batch.buffers.length;
      if (this.tail) {
        this.tail.push(data);
        this.tailRecords += batch.buffers.length;
      }
      this.durableSeq = batch.seq;
      if (batch.promise) batch.resolve();
    } catch (err) {
      this.failure = err as Error;
      if (batch.promise) batch.reject(this.unavailable());
      if (this.current.promise) this.current.reject(this.unavailable());
    } finally {
      this.flushing = false;
      this.inFlight = undefined;
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const wake of waiters) wake();
    }
    if (this.failure) return;
    this.onFlushed();
    if (this.current.buffers.length > 0 && !this.switching) this.flush();
  }

  private async waitIdle(): Promise<void> {
    while (this.flushing) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Writes a compacted log: `snapshot` (the live state) then every batch flushed meanwhile, and swaps it in with
   * fsync + rename + directory fsync. The old log stays authoritative until the rename.
   */
  async compact(dir: string, logPath: string, snapshot: Iterable<string>): Promise<void> {
    const tmpPath = `${logPath}.compact`;
    this.tail = [];
    this.tailRecords = 0;
    let records = 0;
    let fd: number | undefined;
    try {
      fd = fs.openSync(tmpPath, "w");
      let size = 0;
      let slice: Buffer[] = [];
      let sliceBytes = 0;
      for (const text of snapshot) {
        const buf = encodeRecord(text);
        records++;
        slice.push(buf);
        sliceBytes += buf.length;
        if (sliceBytes >= SNAPSHOT_SLICE_BYTES) {
          await writeAll(fd, Buffer.concat(slice, sliceBytes), size);
          size += sliceBytes;
          slice = [];
          sliceBytes = 0;
        }
      }
      if (sliceBytes > 0) await writeAll(fd, Buffer.concat(slice, sliceBytes), size);
      size += sliceBytes;
      await datasync(fd);

      let release!: () => void;
      this.switching = new Promise<void>((resolve) => (release = resolve));
      try {
        await this.waitIdle();
        if (this.failure) throw this.failure;
        const tail = Buffer.concat(this.tail);
        if (tail.length > 0) await writeAll(fd, tail, size);
        size += tail.length;
        await datasync(fd);
        fs.renameSync(tmpPath, logPath);
        fsyncDirectory(dir);
        fs.closeSync(this.fd);
        this.fd = fd;
        fd = undefined;
        this.size = size;
        this.records = records + this.tailRecords;
      } finally {
        this.switching = undefined;
        release();
      }
    } finally {
      this.tail = undefined;
      if (fd !== undefined) {
        fs.closeSync(fd);
        fs.rmSync(tmpPath, { force: true });
      }
      if (this.current.buffers.length > 0 && !this.flushing) this.flush();
    }
  }

  /** Lets go of the file after a failure, without waiting for anything. */
  abandon(): void {
    try {
      fs.closeSync(this.fd);
    } catch {
      // already unusable
    }
  }

  async close(): Promise<void> {
    while (this.flushing || this.switching || (this.current.buffers.length > 0 && !this.failure)) {
      if (this.switching) await this.switching;
      else if (this.flushing) await this.waitIdle();
      else await this.flush();
    }
    if (this.failure) this.abandon();
    else fs.closeSync(this.fd);
  }
}

/** The journal LocalState writes to: whichever log is current (a new one after recovering from a write failure). */
class CurrentLog implements Journal {
  log: GroupCommitLog | undefined;
  append(text: string): number {
    return this.log!.append(text);
  }
}

/** After a failed write, how long to wait before reloading from disk again. */
const RECOVERY_INTERVAL_MS = 1000;

export class FileStore extends LocalStore {
  readonly backend = "file";
  /** What start-up (or the last reload after a write failure) found: records, and any torn tail or damage skipped. */
  recovery: RecoveryReport;
  private readonly journal: CurrentLog;
  private readonly logPath: string;
  private compacting: Promise<void> | undefined;
  /** Why the last automatic compaction failed, if it did (the store keeps working on the old log). */
  lastCompactionError: Error | undefined;
  private readonly compactAfterBytes: number;
  private nextCompactionAt: number;
  private nextRecoveryAt = 0;
  private readonly tracePath: string;
  /** Trace file writes, one after another (appends and rewrites). */
  private traceWrites: Promise<void> = Promise.resolve();
  /** Lines in the trace file (live or expired). */
  private traceLines = 0;

  private constructor(private readonly dir: string, private readonly lock: DirectoryLock, config: FileStoreConfig) {
    const journal = new CurrentLog();
    super(journal, config.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS);
    this.journal = journal;
    this.logPath = path.join(dir, LOG_NAME);
    this.compactAfterBytes = config.compactAfterBytes ?? DEFAULT_COMPACT_AFTER_BYTES;
    this.nextCompactionAt = this.compactAfterBytes;
    fs.rmSync(`${this.logPath}.compact`, { force: true });
    this.recovery = this.load();
    this.tracePath = path.join(dir, TRACE_NAME);
    this.loadTrace();
  }

  /** Reads the trace file's live steps; a damaged line (a torn last append) is skipped. */
  private loadTrace(): void {
    let text: string;
    try {
      text = fs.readFileSync(this.tracePath, "utf8");
    } catch {
      return;
    }
    const now = Date.now();
    for (const line of text.split("\n")) {
      if (!line) continue;
      this.traceLines++;
      try {
        const [expiresAt, step] = JSON.parse(line) as [number, StepRecord];
        if (typeof expiresAt !== "number" || expiresAt <= now || typeof step?.correlationId !== "string") continue;
        this.steps.add({ json: JSON.stringify(step), at: step.at, expiresAt, keys: keysOf(step) });
      } catch {
        // a torn line: skipped
      }
    }
  }

  protected override stepsAdded(steps: StoredStep[]): void {
    const text = steps.map((s) => `[${s.expiresAt},${s.json}]\n`).join("");
    this.traceLines += steps.length;
    this.traceWrites = this.traceWrites.then(() => fs.promises.appendFile(this.tracePath, text)).catch(() => undefined);
  }

  protected override stepsSwept(live: StoredStep[]): void {
    if (this.traceLines <= 2 * live.length + 1000) return;
    const text = live.map((s) => `[${s.expiresAt},${s.json}]\n`).join("");
    this.traceLines = live.length;
    const tmp = `${this.tracePath}.compact`;
    this.traceWrites = this.traceWrites
      .then(async () => {
        await fs.promises.writeFile(tmp, text);
        await fs.promises.rename(tmp, this.tracePath);
      })
      .catch(() => undefined);
  }

  /** Trace file writes so far have ended (for tests and close). */
  flushTrace(): Promise<void> {
    return this.traceWrites;
  }

  /** Sweeps now (expired steps and records); exposed for tests. */
  sweepNow(): Promise<void> {
    this.sweep();
    return this.traceWrites;
  }

  /** Reads the log into the (fresh) state, cuts off a torn tail and starts a log writer at its end. */
  private load(): RecoveryReport {
    const created = !fs.existsSync(this.logPath);
    const fd = fs.openSync(this.logPath, created ? "w+" : "r+");
    try {
      const scan = scanLog(fd, (payload) => this.state.replay(payload));
      const size = fs.fstatSync(fd).size;
      if (scan.validLength < size) {
        fs.ftruncateSync(fd, scan.validLength);
        fs.fsyncSync(fd);
      }
      if (created) fsyncDirectory(this.dir);
      this.journal.log = new GroupCommitLog(fd, scan.validLength, scan.records, () => this.maybeCompact());
      return { records: scan.records, truncatedBytes: size - scan.validLength, damaged: scan.damaged };
    } catch (err) {
      fs.closeSync(fd);
      throw err;
    }
  }

  private get log(): GroupCommitLog {
    return this.journal.log!;
  }

  /**
   * After a failed write (disk full, I/O error) the memory may hold changes that never reached the disk, so nothing
   * more is answered from it: the next operation reloads the state from the log (at most once a second) and goes on
   * from what is really there. Until a reload succeeds, operations fail with StoreUnavailableError.
   */
  protected override prepare(): void {
    const failure = this.log.failed;
    if (!failure) return;
    const now = Date.now();
    if (this.compacting || now < this.nextRecoveryAt) throw new StoreUnavailableError("file", `a write to the log failed (${failure.message})`, { cause: failure });
    this.nextRecoveryAt = now + RECOVERY_INTERVAL_MS;
    this.log.abandon();
    this.state = new LocalState(this.journal);
    try {
      this.recovery = this.load();
    } catch (err) {
      this.state = new LocalState(this.journal);
      throw new StoreUnavailableError("file", `reloading after a failed write failed too (${(err as Error).message})`, { cause: err });
    }
  }

  /** Opens (creating if needed) the store in `config.dir`; throws StoreLockedError if another process has it. */
  static async open(config: FileStoreConfig): Promise<FileStore> {
    if (typeof config.dir !== "string" || config.dir === "") throw new TypeError("file store needs a dir");
    const dir = path.resolve(config.dir);
    fs.mkdirSync(dir, { recursive: true });
    const lock = DirectoryLock.acquire(dir);
    try {
      return new FileStore(dir, lock, config);
    } catch (err) {
      lock.release();
      throw err;
    }
  }

  protected durable(seq: number): Promise<void> | undefined {
    return this.log.durable(seq);
  }

  /** Bytes in the log file now. */
  get logBytes(): number {
    return this.log.bytes;
  }

  private maybeCompact(): void {
    if (this.compacting || this.closed) return;
    if (this.log.bytes < this.nextCompactionAt || this.log.records < 2 * this.state.size) return;
    this.compacting = this.compact()
      .then(() => {
        this.lastCompactionError = undefined;
        this.nextCompactionAt = this.compactAfterBytes;
      })
      .catch((err: Error) => {
        // The old log stays in use; try again once it has grown by another threshold.
        this.lastCompactionError = err;
        this.nextCompactionAt = this.log.bytes + this.compactAfterBytes;
      })
      .finally(() => (this.compacting = undefined));
  }

  /** Rewrites the log with only the live state. Runs by itself when the log grows; exposed for tests and tools. */
  async compact(): Promise<void> {
    this.checkOpen();
    await this.log.compact(this.dir, this.logPath, this.state.snapshot(Date.now()));
  }

  override async close(): Promise<void> {
    if (this.closed) return;
    await super.close();
    try {
      await this.traceWrites;
      await this.compacting?.catch(() => undefined);
      await this.log.close();
    } finally {
      this.lock.release();
    }
  }
}
