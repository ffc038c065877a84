import { LocalStore } from "./local-store";
import { DEFAULT_SWEEP_INTERVAL_MS, type MemoryStoreConfig } from "./types";

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
