/** What the ERP order and invoice nodes share: message shape, input errors, the connection their status follows. */
import type { NodeMessageInFlow } from "node-red";
import type { Violation } from "../lib/canonical/schemas";
import type { BusinessErrorOnMsg } from "../common/vendor-node";
import type { Connection } from "../lib/resilience";
import type { ErpConnectionNode } from "./types";

export type ErpMessage = NodeMessageInFlow & {
  correlationId?: string;
  customer?: unknown;
  erp?: Record<string, unknown>;
  error?: BusinessErrorOnMsg;
  idempotency?: { reclaimed?: boolean };
};

/** A message input that fails its canonical schema: one error naming every offending field. */
export function inputError(type: string, where: string, errors: Violation[]): Error {
  const list = errors.slice(0, 5).map((e) => `${e.path || "(root)"} ${e.message}`).join("; ");
  const error = new Error(`${where} is not a valid ${type}: ${list}${errors.length > 5 ? ` (and ${errors.length - 5} more)` : ""}`) as Error & { fields?: string[] };
  error.fields = errors.map((e) => e.path);
  return error;
}

/** The connection an ERP node's status follows, or undefined when none is selected or it cannot be built. */
export function sharedConnection(connection: ErpConnectionNode | null): Connection | undefined {
  try {
    return connection?.adapter().connection;
  } catch {
    return undefined;
  }
}
