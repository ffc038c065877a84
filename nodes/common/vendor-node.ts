/**
 * What every node that calls a vendor (CRM account and opportunity, ERP order and invoice) does the same way: its
 * status, and how a message ends — accepted, a business exception on output 2, or a technical error for Catch nodes.
 */
import type { Node } from "node-red";
import { BusinessError, TechnicalError, type BreakerState, type Connection } from "../lib/resilience";
import { StatusBoard, asError } from "./glue";

/** msg.error on the rejected output: the vendor's own code, message and field, what to do about it, and the HTTP status. */
export interface BusinessErrorOnMsg {
  code: string;
  message: string;
  field?: string;
  hint?: string;
  status?: number;
}

export function businessErrorOf(err: BusinessError): BusinessErrorOnMsg {
  return {
    code: err.code,
    message: err.message,
    ...(err.field ? { field: err.field } : {}),
    ...(err.hint ? { hint: err.hint } : {}),
    ...(err.status !== undefined ? { status: err.status } : {}),
  };
}

/**
 * A vendor node's status: its counts, and the shared connection's state when that matters more (breaker open,
 * rate-limited). Listens to the connection's events for as long as the node lives; updates are rate-limited by a
 * StatusBoard except state changes and failures, which show at once.
 */
export class VendorStatus {
  private readonly board: StatusBoard;
  private readonly counts = { ok: 0, rejected: 0, failed: 0 };
  private breaker: BreakerState = "closed";
  private throttledUntil = 0;
  private lastError = "";
  private activity = "";
  private readonly detach: () => void;

  /**
   * `connection` undefined: the node's configuration is unusable, and the status says so (`unconfigured`).
   * `okLabel` names what output 1 counts ("created", "sent"); `idle` is shown before the first message.
   */
  constructor(
    node: Node,
    private readonly connection: Connection | undefined,
    private readonly labels: { ok?: string; idle?: string; unconfigured?: string } = {},
  ) {
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
    connection?.on("breaker", onBreaker);
    connection?.on("throttled", onThrottled);
    this.detach = () => {
      connection?.off("breaker", onBreaker);
      connection?.off("throttled", onThrottled);
    };
    this.refresh(true);
  }

  /** What the node is doing now ("creating order", "page 3"), shown until the message ends. */
  working(what: string): void {
    this.activity = what;
    this.refresh(false);
  }

  /** Nothing under way any more (a listing that found nothing new). */
  idle(): void {
    this.activity = "";
    this.refresh(false);
  }

  /** `count` more on output 1 (a listing sends many per message). */
  succeeded(count = 1): void {
    this.counts.ok += count;
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
    this.lastError = err instanceof TechnicalError ? (err.code ?? err.kind) : asError(err).message.slice(0, 60);
    this.refresh(true);
  }

  close(): void {
    this.detach();
    this.board.close();
  }

  private refresh(now: boolean): void {
    const c = this.counts;
    const tally = `${c.ok} ${this.labels.ok ?? "ok"} · ${c.rejected} rejected · ${c.failed} failed`;
    let status: { fill: "red" | "yellow" | "green" | "blue" | "grey"; shape: "dot" | "ring"; text: string };
    if (!this.connection) status = { fill: "red", shape: "ring", text: this.labels.unconfigured ?? "connection not configured" };
    else if (this.breaker === "open") status = { fill: "red", shape: "ring", text: `breaker open · ${tally}` };
    else if (this.throttledUntil > Date.now()) status = { fill: "yellow", shape: "ring", text: `rate-limited · ${tally}` };
    else if (this.activity) status = { fill: "blue", shape: "dot", text: `${this.activity} · ${tally}` };
    else if (c.failed || c.rejected) status = { fill: c.failed ? "red" : "yellow", shape: "dot", text: `${tally} (last: ${this.lastError})` };
    else if (c.ok) status = { fill: "green", shape: "dot", text: tally };
    else status = { fill: "grey", shape: "ring", text: this.labels.idle ?? "ready" };
    if (now) this.board.now(status);
    else this.board.soon(status);
  }
}

/**
 * Ends a message once `work` (which sends what output 1 gets) has settled: done(); a BusinessError leaves output 2
 * with msg.error = {code, message, field, hint, status}; anything else is a technical error, done(err), for Catch
 * nodes and the dead-letter queue.
 */
export function settle<M extends { error?: unknown }>(
  work: Promise<unknown>,
  msg: M,
  send: (out: [null, M]) => void,
  done: (err?: Error) => void,
  status: VendorStatus,
): void {
  work.then(
    () => done(),
    (err: unknown) => {
      if (err instanceof BusinessError) {
        sendRejection(err, msg, send, status);
        done();
        return;
      }
      status.failed(err);
      done(asError(err));
    },
  );
}

/** A business refusal out of output 2: msg.error = {code, message, field, hint, status}, counted on the status. */
export function sendRejection<M extends { error?: unknown }>(err: BusinessError, msg: M, send: (out: [null, M]) => void, status: VendorStatus): void {
  status.rejected(err);
  msg.error = businessErrorOf(err);
  send([null, msg]);
}
