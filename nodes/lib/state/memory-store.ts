import { DEFAULT_SWEEP_INTERVAL_MS, LocalStore } from "./local-store";
import type { MemoryStoreConfig } from "./types";

/** Keeps everything in this process and loses it on restart: for tests and throwaway flows. */
export class MemoryStore extends LocalStore {
  readonly backend = "memory";

  constructor(config: Omit<MemoryStoreConfig, "backend"> = {}) {
    super(undefined, config.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS);
  }

  protected durable(): undefined {
    return undefined;
  }
}
