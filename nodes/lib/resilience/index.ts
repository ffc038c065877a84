// The connectivity core in one import for vendor adapters and connection config nodes.
export * from "./errors";
export * from "./classify";
export * from "./retry";
export * from "./rate-limiter";
export * from "./concurrency";
export * from "./breaker";
export * from "./signals";
export * from "./batcher";
export * from "./connection";
export * from "./vendor-limits";
export * from "../http/client";
export * from "../http/auth";
