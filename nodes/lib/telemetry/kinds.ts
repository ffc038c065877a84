/**
 * What each Keelson node's outputs mean to telemetry: which output carries business exceptions, which message
 * starts or ends a business journey. Kept here, by node type, so a node's own file needs one line.
 */

/** The business journeys measured end to end (see README "Telemetry"). */
export type Journey = "opportunity_won_to_order_accepted" | "invoice_posted_to_crm_updated";

/** Carried on msg._keelson from the first Keelson node a message meets. */
export interface JourneyStamp {
  /** Epoch ms the journey started: when the first Keelson node took the message, or the invoice's updatedAt. */
  start: number;
  journey?: "order" | "invoice";
  /** Set once the journey's latency was observed, so a second writer does not count it twice. */
  ended?: boolean;
}

export interface NodeKind {
  /** The output whose messages are business exceptions (msg.error.code), if any. */
  rejectedOutput?: number;
  /** Called for each message the node sends; may end or start a journey. */
  onSend?(msg: Record<string, unknown>, output: number, now: number): { ends?: Journey; starts?: JourneyStamp } | undefined;
}

const crm: NodeKind = {
  rejectedOutput: 1,
  // A CRM write (msg.crm is set by upsert, link and write-back) ends an invoice's journey.
  onSend(msg, output) {
    if (output !== 0 || !msg.crm) return undefined;
    const stamp = msg._keelson as JourneyStamp | undefined;
    return stamp?.journey === "invoice" && !stamp.ended ? { ends: "invoice_posted_to_crm_updated" } : undefined;
  },
};

export const NODE_KINDS: Readonly<Record<string, NodeKind>> = {
  "keelson-crm-account": crm,
  "keelson-crm-opportunity": crm,
  "keelson-mapper": { rejectedOutput: 1 },
  "keelson-erp-order": {
    rejectedOutput: 1,
    // An order the ERP accepted (msg.erp.created is set by create only) ends the quote-to-cash journey.
    onSend(msg, output) {
      const erp = msg.erp as { created?: unknown } | undefined;
      if (output !== 0 || erp?.created === undefined) return undefined;
      const stamp = msg._keelson as JourneyStamp | undefined;
      return stamp && stamp.journey !== "invoice" && !stamp.ended ? { ends: "opportunity_won_to_order_accepted" } : undefined;
    },
  },
  "keelson-erp-invoice": {
    rejectedOutput: 1,
    // Each invoice read from the ERP starts its sync journey at the invoice's own updatedAt (its posting).
    onSend(msg, output, now) {
      const invoice = msg.payload as { totals?: unknown; issueDate?: unknown; updatedAt?: unknown } | undefined;
      if (output !== 0 || !invoice || typeof invoice !== "object" || invoice.totals === undefined || invoice.issueDate === undefined) return undefined;
      const posted = typeof invoice.updatedAt === "string" ? Date.parse(invoice.updatedAt) : NaN;
      return { starts: { start: Number.isFinite(posted) && posted <= now ? posted : now, journey: "invoice" } };
    },
  },
};

export const PLAIN_KIND: NodeKind = {};
