/** The Store API over LocalState, shared by the memory and file stores; the file store adds durability. */
import { StoreUnavailableError } from "./errors";
import { LocalState, type Answer, type Journal } from "./local-state";
import {
  captureRequest,
  checkKey,
  checkToken,
  claimRequest,
  finishRequest,
  listRequest,
  nowOf,
  releaseRequest,
  toJson,
} from "./rules";
import { appendRequest, findRequest, findThrough, StepIndex, type StoredStep } from "./steps";
import type {
  AppendStepsOptions,
  CaptureOptions,
  ClaimOptions,
  ClaimOutcome,
  DeadLetter,
  DeadLetterCapture,
  DeadLetterPage,
  FindStepsOptions,
  FinishOptions,
  ListOptions,
  QueueDepth,
  ReleaseOptions,
  StepRecord,
  Store,
} from "./types";

export abstract class LocalStore implements Store {
  abstract readonly backend: "memory" | "file";
  protected state: LocalState;
  /** Trace steps: memory only (the file store keeps them in a file of their own, not in the state log). */
  protected readonly steps = new StepIndex();
  protected closed = false;
  private sweeper: NodeJS.Timeout | undefined;

  protected constructor(journal: Journal | undefined, sweepIntervalMs: number) {
    this.state = new LocalState(journal);
    this.sweeper = setInterval(() => this.sweep(), sweepIntervalMs);
    this.sweeper.unref();
  }

  /** Runs before every operation; the file store recovers from a failed write here. */
  protected prepare(): void {}

  /** Waits until journal batch `seq` is on disk; the memory store has nothing to wait for. */
  protected abstract durable(seq: number): Promise<void> | undefined;

  protected sweep(): void {
    const now = Date.now();
    this.state.sweep(now);
    this.stepsSwept(this.steps.sweep(now));
  }

  /** The file store writes new steps to its trace file. */
  protected stepsAdded(_steps: StoredStep[]): void {}

  /** The live steps after a sweep, oldest first: the file store rewrites its trace file from them. */
  protected stepsSwept(_live: StoredStep[]): void {}

  /** Resolves with the answer once what it depends on is durable; validation errors become rejections. */
  private answer<T>(compute: () => Answer<T>): Promise<T> {
    let answer: Answer<T>;
    try {
      if (this.closed) throw new StoreUnavailableError(this.backend, "the store is closed");
      this.prepare();
      answer = compute();
    } catch (err) {
      return Promise.reject(err);
    }
    const durable = answer.seq === 0 ? undefined : this.durable(answer.seq);
    return durable ? durable.then(() => answer.value) : Promise.resolve(answer.value);
  }

  protected checkOpen(): void {
    if (this.closed) throw new StoreUnavailableError(this.backend, "the store is closed");
  }

  claim(key: string, options?: ClaimOptions): Promise<ClaimOutcome> {
    return this.answer(() => this.state.claim(checkKey(key), claimRequest(options)));
  }

  complete(key: string, token: string, result: unknown, options?: FinishOptions): Promise<void> {
    return this.answer(() => this.state.finish(checkKey(key), checkToken(token), "completed", { ...finishRequest(options), result: toJson(result, "result") }));
  }

  release(key: string, token: string, options: ReleaseOptions): Promise<void> {
    return this.answer(() => {
      const request = releaseRequest(options);
      return this.state.finish(checkKey(key), checkToken(token), request.mode === "retry" ? "retry" : "failed", request);
    });
  }

  capture(entry: DeadLetterCapture, options?: CaptureOptions): Promise<DeadLetter> {
    return this.answer(() => {
      const request = captureRequest(entry, options);
      return this.state.capture(entry, request.maxAttempts, request.retentionMs, request.now);
    });
  }

  list(queue: string, options?: ListOptions): Promise<DeadLetterPage> {
    return this.answer(() => {
      const request = listRequest(queue, options);
      return this.state.list(queue, options?.filter, request.limit, request.after, request.now);
    });
  }

  get(id: string, options?: { now?: number }): Promise<DeadLetter | undefined> {
    return this.answer(() => this.state.get(checkKey(id, "dead letter id"), nowOf(options?.now)));
  }

  update(id: string, patch: { message: unknown }, options?: { now?: number }): Promise<DeadLetter | undefined> {
    return this.answer(() => this.state.update(checkKey(id, "dead letter id"), patch?.message, nowOf(options?.now)));
  }

  remove(ids: readonly string[]): Promise<number> {
    return this.answer(() => {
      if (!Array.isArray(ids)) throw new TypeError("ids must be an array of dead letter ids");
      for (const id of ids) checkKey(id, "dead letter id");
      return this.state.remove(ids, Date.now());
    });
  }

  queues(options?: { now?: number }): Promise<QueueDepth[]> {
    return this.answer(() => ({ value: this.state.queues(nowOf(options?.now)), seq: 0 }));
  }

  appendSteps(steps: readonly StepRecord[], options?: AppendStepsOptions): Promise<void> {
    try {
      this.checkOpen();
      const stored = appendRequest(steps, options);
      for (const step of stored) this.steps.add(step);
      this.stepsAdded(stored);
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err);
    }
  }

  findSteps(id: string, options?: FindStepsOptions): Promise<StepRecord[]> {
    try {
      this.checkOpen();
      const { now, limit } = findRequest(id, options);
      return findThrough(id, limit, async (keys) => this.steps.read(keys, now));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  getWatermark(name: string): Promise<unknown> {
    return this.answer(() => this.state.getWatermark(checkKey(name, "watermark name")));
  }

  setWatermark(name: string, value: unknown): Promise<void> {
    return this.answer(() => this.state.setWatermark(checkKey(name, "watermark name"), toJson(value, "watermark")));
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
  }
}
