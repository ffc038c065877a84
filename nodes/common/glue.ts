import type { Node, NodeAPI, NodeMessage, NodeStatus } from "node-red";

/** Where a typedInput points: a msg property, or a key in flow or global context. */
export type PropertyType = "msg" | "flow" | "global";

/** Reads a msg/flow/global property through Node-RED's own accessors (callback form, so async context stores work). */
export function readProperty(RED: NodeAPI, node: Node, type: PropertyType, name: string, msg: NodeMessage): Promise<unknown> {
  if (type === "msg") return Promise.resolve(RED.util.getMessageProperty(msg, name));
  return new Promise((resolve, reject) => {
    RED.util.evaluateNodeProperty(name, type, node, msg, (err: Error | null, value: unknown) => (err ? reject(err) : resolve(value)));
  });
}

/** Writes a msg/flow/global property; context writes wait for the store to acknowledge. */
export function writeProperty(RED: NodeAPI, node: Node, type: PropertyType, name: string, msg: NodeMessage, value: unknown): Promise<void> {
  if (type === "msg") {
    RED.util.setMessageProperty(msg, name, value, true);
    return Promise.resolve();
  }
  const parsed = RED.util.parseContextStore(name);
  const context = type === "flow" ? node.context().flow : node.context().global;
  return new Promise((resolve, reject) => {
    context.set(parsed.key, value, parsed.store, (err?: Error) => (err ? reject(err) : resolve()));
  });
}

/**
 * Shows a node's status without flooding the editor: at most one update per interval, always the latest.
 * Node-RED sends every status change to each open editor, so a per-message status would cost more than the work.
 */
export class StatusBoard {
  private pending: NodeStatus | undefined;
  private timer: NodeJS.Timeout | undefined;
  private shown = "";

  constructor(private readonly node: Node, private readonly intervalMs = 250) {}

  /** Shows at once (errors, state changes). */
  now(status: NodeStatus): void {
    this.pending = undefined;
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.show(status);
  }

  /** Shows within the interval (counters). */
  soon(status: NodeStatus): void {
    this.pending = status;
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.pending) this.show(this.pending);
      this.pending = undefined;
    }, this.intervalMs);
    this.timer.unref();
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.pending = undefined;
  }

  private show(status: NodeStatus): void {
    const key = `${status.fill}|${status.shape}|${String(status.text)}`;
    if (key === this.shown) return;
    this.shown = key;
    this.node.status(status);
  }
}

/** A message error as Node-RED shows it, without leaking anything but the message. */
export function asError(err: unknown): Error {
  if (err instanceof Error) return err;
  if (typeof err === "object" && err !== null && typeof (err as { message?: unknown }).message === "string") {
    return new Error((err as { message: string }).message);
  }
  return new Error(String(err));
}

/** A dialog's numeric field: its value when it is a positive number, else the default. */
export function positiveNumber(value: unknown, fallback: number): number {
  const n = Number(value);
  return Number.isFinite(n) && n > 0 ? n : fallback;
}

type Middleware = (req: { user?: unknown }, res: { status(code: number): unknown }, next: (err?: unknown) => void) => void;

/**
 * RED.auth.needsPermission, answering 403 rather than 401 when the caller is signed in but lacks the permission:
 * 401 stays for "who are you?" (no or a bad token), 403 says "you, not this". Node-RED still writes its
 * permission.fail audit event.
 */
export function permission(RED: NodeAPI, name: string): Middleware {
  const check = RED.auth.needsPermission(name) as unknown as Middleware;
  return (req, res, next) => {
    const status = res.status;
    res.status = function (this: unknown, code: number) {
      return status.call(this, code === 401 && req.user ? 403 : code);
    };
    check(req, res, (err?: unknown) => {
      res.status = status;
      next(err);
    });
  };
}
