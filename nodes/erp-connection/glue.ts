/** What the ERP order and invoice nodes share: message shape, the business error on msg, connection status. */
import type { NodeMessageInFlow } from "node-red";
import type { Violation } from "../lib/canonical/schemas";
import type { BusinessError } from "../lib/resilience/errors";
import type { StatusBoard } from "../common/glue";
import type { ErpConnectionNode } from "./types";

export type ErpMessage = NodeMessageInFlow & {
  correlationId?: string;
  customer?: unknown;
  erp?: Record<string, unknown>;
  error?: { code: string; message: string; field?: string; hint?: string; status?: number };
  idempotency?: { reclaimed?: boolean };
};

/** msg.error of the rejected output: the ERP's own code, message and field, and what to do about it. */
export function businessError(err: BusinessError): NonNullable<ErpMessage["error"]> {
  return {
    code: err.code,
    message: err.message,
    ...(err.field !== undefined ? { field: err.field } : {}),
    ...(err.hint !== undefined ? { hint: err.hint } : {}),
    ...(err.status !== undefined ? { status: err.status } : {}),
  };
}

/** A message input that fails its canonical schema: one error naming every offending field. */
export function inputError(type: string, where: string, errors: Violation[]): Error {
  const list = errors.slice(0, 5).map((e) => `${e.path || "(root)"} ${e.message}`).join("; ");
  const error = new Error(`${where} is not a valid ${type}: ${list}${errors.length > 5 ? ` (and ${errors.length - 5} more)` : ""}`) as Error & { fields?: string[] };
  error.fields = errors.map((e) => e.path);
  return error;
}

/** Shows the connection's breaker and throttling on a node's status; returns the function that stops it. */
export function connectionStatus(connection: ErpConnectionNode, status: StatusBoard): () => void {
  let adapter;
  try {
    adapter = connection.adapter();
  } catch {
    return () => undefined;
  }
  const shared = adapter.connection;
  const onBreaker = (state: string): void => status.now({ fill: state === "closed" ? "green" : "red", shape: "ring", text: `breaker ${state}` });
  const onThrottled = (until: number): void => status.now({ fill: "yellow", shape: "ring", text: `rate-limited ${Math.max(0, Math.ceil((until - Date.now()) / 1000))} s` });
  shared.on("breaker", onBreaker);
  shared.on("throttled", onThrottled);
  return () => {
    shared.off("breaker", onBreaker);
    shared.off("throttled", onThrottled);
  };
}
