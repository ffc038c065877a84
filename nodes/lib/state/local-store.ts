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
import type {
  CaptureOptions,
  ClaimOptions,
  ClaimOutcome,
  DeadLetter,
  DeadLetterCapture,
  DeadLetterPage,
  FinishOptions,
  ListOptions,
  QueueDepth,
  ReleaseOptions,
  Store,
} from "./types";

export const DEFAULT_SWEEP_INTERVAL_MS = 60_000;

export abstract class LocalStore implements Store {
  abstract readonly backend: "memory" | "file";
  protected state: LocalState;
  protected closed = false;
  private sweeper: NodeJS.Timeout | undefined;

  protected constructor(journal: Journal | undefined, sweepIntervalMs: number) {
    this.state = new LocalState(journal);
    this.sweeper = setInterval(() => this.sweep(), sweepIntervalMs);
    this.sweeper.unref();
  }

  /** Waits until journal batch `seq` is on disk; the memory store has nothing to wait for. */
  protected abstract durable(seq: number): Promise<void> | undefined;

  protected sweep(): void {
    this.state.sweep(Date.now());
  }

  private async answer<T>(answer: Answer<T>): Promise<T> {
    if (answer.seq !== 0) await this.durable(answer.seq);
    return answer.value;
  }

  protected checkOpen(): void {
    if (this.closed) throw new StoreUnavailableError(this.backend, "the store is closed");
  }

  async claim(key: string, options?: ClaimOptions): Promise<ClaimOutcome> {
    this.checkOpen();
    return this.answer(this.state.claim(checkKey(key), claimRequest(options)));
  }

  async complete(key: string, token: string, result: unknown, options?: FinishOptions): Promise<void> {
    this.checkOpen();
    const detail = { ...finishRequest(options), result: toJson(result, "result") };
    return this.answer(this.state.finish(checkKey(key), checkToken(token), "completed", detail));
  }

  async release(key: string, token: string, options: ReleaseOptions): Promise<void> {
    this.checkOpen();
    const request = releaseRequest(options);
    return this.answer(this.state.finish(checkKey(key), checkToken(token), request.mode === "retry" ? "retry" : "failed", request));
  }

  async capture(entry: DeadLetterCapture, options?: CaptureOptions): Promise<DeadLetter> {
    this.checkOpen();
    const request = captureRequest(entry, options);
    toJson(entry.message, "dead letter message");
    return this.answer(this.state.capture(entry, request.maxAttempts, request.retentionMs, request.now));
  }

  async list(queue: string, options?: ListOptions): Promise<DeadLetterPage> {
    this.checkOpen();
    const request = listRequest(queue, options);
    return this.answer(this.state.list(queue, options?.filter, request.limit, request.after, request.now));
  }

  async get(id: string, options?: { now?: number }): Promise<DeadLetter | undefined> {
    this.checkOpen();
    return this.answer(this.state.get(checkKey(id, "dead letter id"), nowOf(options?.now)));
  }

  async update(id: string, patch: { message: unknown }, options?: { now?: number }): Promise<DeadLetter | undefined> {
    this.checkOpen();
    toJson(patch?.message, "dead letter message");
    return this.answer(this.state.update(checkKey(id, "dead letter id"), patch.message, nowOf(options?.now)));
  }

  async remove(ids: readonly string[]): Promise<number> {
    this.checkOpen();
    if (!Array.isArray(ids)) throw new TypeError("ids must be an array of dead letter ids");
    for (const id of ids) checkKey(id, "dead letter id");
    return this.answer(this.state.remove(ids, Date.now()));
  }

  async queues(options?: { now?: number }): Promise<QueueDepth[]> {
    this.checkOpen();
    return this.state.queues(nowOf(options?.now));
  }

  async getWatermark(name: string): Promise<unknown> {
    this.checkOpen();
    return this.answer(this.state.getWatermark(checkKey(name, "watermark name")));
  }

  async setWatermark(name: string, value: unknown): Promise<void> {
    this.checkOpen();
    return this.answer(this.state.setWatermark(checkKey(name, "watermark name"), toJson(value, "watermark")));
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
  }
}
