/**
 * The step a message is in, for code far below the node (a vendor connection) to add ids to it: the node glue runs
 * each input inside `stepContext.run(handling, …)` when the trace is on; outside of that, noting is a no-op.
 */
import { AsyncLocalStorage } from "node:async_hooks";

export const stepContext = new AsyncLocalStorage<{ ids?: Record<string, string> }>();

/** Vendor request ids kept per step at most (a node that pages through a listing makes many calls). */
const MAX_REQUEST_IDS = 5;

/**
 * Records a vendor's request id (`label`: "stripeRequestId") on the current step. A second call of the same
 * vendor in one step adds `label#2`, and so on.
 */
export function noteRequestId(label: string, id: string): void {
  const step = stepContext.getStore();
  if (!step || !id) return;
  const ids = (step.ids ??= {});
  for (let n = 1; n <= MAX_REQUEST_IDS; n++) {
    const key = n === 1 ? label : `${label}#${n}`;
    if (ids[key] === id) return;
    if (ids[key] === undefined) {
      ids[key] = id;
      return;
    }
  }
}
