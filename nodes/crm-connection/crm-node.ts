import { randomUUID } from "node:crypto";
import type { Node, NodeMessageInFlow } from "node-red";
import type { CrmAdapter, CrmCredentials, CrmSystem } from "../lib/vendors/crm";

/** The `keelson-crm-connection` config node: one adapter (one Connection) shared by every CRM node using it. */
export interface CrmConnectionNode extends Node<CrmCredentials> {
  system: CrmSystem;
  /** The adapter; throws with the reason when the configuration is unusable. */
  adapter(): CrmAdapter;
}

/** A message as the CRM nodes read and write it. */
export type CrmMessage = NodeMessageInFlow & {
  correlationId?: string;
  operation?: unknown;
  error?: unknown;
  raw?: unknown;
  crm?: unknown;
};

/** Input the node cannot work with: names the msg property and what was expected. */
export class BadInputError extends Error {
  override readonly name = "BadInputError";
  constructor(readonly property: string, problem: string) {
    super(`${property} ${problem}`);
  }
}

/** "must be X, got Y" for a BadInputError. */
export function expected(what: string, got: unknown): string {
  return `must be ${what}, got ${got === undefined ? "nothing" : (JSON.stringify(got) ?? String(got)).slice(0, 80)}`;
}

/** The message's correlation id, created when absent so every vendor call and log line carries one. */
export function correlationOf(msg: CrmMessage): string {
  if (typeof msg.correlationId !== "string" || msg.correlationId === "") msg.correlationId = randomUUID();
  return msg.correlationId;
}

/** A non-empty string at msg[property], or a BadInputError naming it. */
export function requiredString(msg: Record<string, unknown>, property: string): string {
  const value = msg[property];
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  if (typeof value !== "string" || value.trim() === "") throw new BadInputError(`msg.${property}`, expected("a non-empty string", value));
  return value.trim();
}

