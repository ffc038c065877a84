import { TechnicalError } from "./errors";

/** One item's result in a vendor batch answer. */
export type BatchResult<R> = { ok: true; value: R } | { ok: false; error: Error };

export interface BatcherOptions<I, R> {
  /**
   * Sends one vendor batch call and returns one result per item, in the items' order. Throwing fails the whole
   * batch (retries belong inside, e.g. through Connection.request).
   */
  sendBatch(items: I[]): Promise<Array<BatchResult<R>>>;
  /** Vendor's batch ceiling: Salesforce collections 200, HubSpot 100, Dataverse and Business Central $batch 100. */
  maxBatchSize: number;
  /** How long the first item waits for company. Default 20 ms. */
  windowMs?: number;
}

interface Pending<I, R> {
  item: I;
  resolve(value: R): void;
  reject(err: Error): void;
}

/**
 * Coalesces items that arrive close together into one vendor batch call: a batch goes out when it is full or
 * `windowMs` after its first item arrived. Each caller gets its own item's result; a record the vendor refused
 * fails only its caller; a batch-level failure fails every caller of that batch.
 */
export class Batcher<I, R> {
  private readonly windowMs: number;
  private pending: Array<Pending<I, R>> = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: BatcherOptions<I, R>) {
    if (!Number.isInteger(options.maxBatchSize) || options.maxBatchSize < 1) throw new TypeError(`maxBatchSize must be a whole number ≥ 1, got ${options.maxBatchSize}`);
    this.windowMs = options.windowMs ?? 20;
  }

  /** Queues one item; resolves with its own result. */
  add(item: I): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      if (this.pending.length >= this.options.maxBatchSize) this.flush();
      else if (!this.timer) this.timer = setTimeout(() => this.flush(), this.windowMs);
    });
  }

  /** Items waiting for their batch to go out. */
  get waiting(): number {
    return this.pending.length;
  }

  /** Sends what is queued now without waiting for the window (e.g. on node close). */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    while (this.pending.length > 0) {
      void this.send(this.pending.splice(0, this.options.maxBatchSize));
    }
  }

  private async send(batch: Array<Pending<I, R>>): Promise<void> {
    let results: Array<BatchResult<R>>;
    try {
      results = await this.options.sendBatch(batch.map((p) => p.item));
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      for (const p of batch) p.reject(error);
      return;
    }
    if (!Array.isArray(results) || results.length !== batch.length) {
      const error = new TechnicalError({
        kind: "protocol",
        retryable: false,
        message: `batch of ${batch.length} answered with ${Array.isArray(results) ? results.length : "no"} results; every item's outcome is unknown`,
      });
      for (const p of batch) p.reject(error);
      return;
    }
    batch.forEach((p, i) => {
      const result = results[i]!;
      if (result.ok) p.resolve(result.value);
      else p.reject(result.error);
    });
  }
}
