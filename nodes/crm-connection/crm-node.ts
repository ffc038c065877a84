import { randomUUID } from "node:crypto";
import type { Node, NodeMessageInFlow } from "node-red";
import { BusinessError, TechnicalError, type BreakerState } from "../lib/resilience";
import type { CrmAdapter, CrmCredentials, CrmSystem } from "../lib/vendors/crm";
import { StatusBoard } from "../common/glue";

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

/** Business exceptions as the second output shows them: `msg.error = {code, message, field, hint}`. */
export function businessErrorOf(err: BusinessError): { code: string; message: string; field?: string; hint?: string } {
  return { code: err.code, message: err.message, ...(err.field ? { field: err.field } : {}), ...(err.hint ? { hint: err.hint } : {}) };
}

/**
 * What a CRM node shows: its counts, and the connection's state when it matters more (breaker open,
 * rate-limited). Listens to the shared connection's events for as long as the node lives.
 */
export class CrmStatus {
  private readonly board: StatusBoard;
  private readonly counts = { ok: 0, rejected: 0, failed: 0 };
  private breaker: BreakerState = "closed";
  private throttledUntil = 0;
  private lastError = "";
  private activity = "";
  private readonly detach: () => void;

  constructor(node: Node, private readonly adapter: CrmAdapter | undefined) {
    this.board = new StatusBoard(node);
    const onBreaker = (state: BreakerState): void => {
      this.breaker = state;
      this.refresh(true);
    };
    const onThrottled = (until: number): void => {
      this.throttledUntil = until;
      this.refresh(true);
      setTimeout(() => this.refresh(true), Math.max(0, until - Date.now()) + 5).unref();
    };
    adapter?.connection.on("breaker", onBreaker);
    adapter?.connection.on("throttled", onThrottled);
    this.detach = () => {
      adapter?.connection.off("breaker", onBreaker);
      adapter?.connection.off("throttled", onThrottled);
    };
    this.refresh(true);
  }

  working(what: string): void {
    this.activity = what;
    this.refresh(false);
  }

  succeeded(): void {
    this.counts.ok++;
    this.activity = "";
    this.refresh(false);
  }

  rejected(err: BusinessError): void {
    this.counts.rejected++;
    this.activity = "";
    this.lastError = err.code;
    this.refresh(false);
  }

  failed(err: unknown): void {
    this.counts.failed++;
    this.activity = "";
    this.lastError = err instanceof TechnicalError ? (err.code ?? err.kind) : err instanceof Error ? err.name : "error";
    this.refresh(true);
  }

  close(): void {
    this.detach();
    this.board.close();
  }

  private refresh(now: boolean): void {
    const c = this.counts;
    const tally = `${c.ok} ok · ${c.rejected} rejected · ${c.failed} failed`;
    let status: { fill: "red" | "yellow" | "green" | "blue" | "grey"; shape: "dot" | "ring"; text: string };
    if (!this.adapter) status = { fill: "red", shape: "ring", text: "connection not configured" };
    else if (this.breaker === "open") status = { fill: "red", shape: "ring", text: `breaker open · ${tally}` };
    else if (this.throttledUntil > Date.now()) status = { fill: "yellow", shape: "ring", text: `rate-limited · ${tally}` };
    else if (this.activity) status = { fill: "blue", shape: "dot", text: `${this.activity} · ${tally}` };
    else if (c.failed || c.rejected) status = { fill: c.failed ? "red" : "yellow", shape: "dot", text: `${tally} (last: ${this.lastError})` };
    else status = { fill: c.ok ? "green" : "grey", shape: c.ok ? "dot" : "ring", text: c.ok ? tally : "ready" };
    if (now) this.board.now(status);
    else this.board.soon(status);
  }
}
