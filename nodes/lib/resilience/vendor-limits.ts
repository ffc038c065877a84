import type { RateLimit } from "./rate-limiter";

/** A vendor's published limits: the defaults a connection starts from, every one overridable in its config. */
export interface VendorLimits {
  rateLimit?: RateLimit;
  concurrency?: number;
  /** Largest batch the vendor's batch endpoint takes. */
  maxBatchSize?: number;
}

/**
 * Published figures (research/erp-crm-wire.md, perf-reliability.md §7). Where a vendor publishes none (SAP,
 * Oracle Fusion, Acumatica, Odoo) nothing is set and the adaptive signals (429, Retry-After) do the work.
 */
export const VENDOR_LIMITS: Readonly<Record<string, Readonly<VendorLimits>>> = {
  // Daily allocation only, tracked through Sforce-Limit-Info; 25 concurrent long-running calls; collections of 200.
  salesforce: { concurrency: 25, maxBatchSize: 200 },
  // Private app, Professional/Enterprise: 190 per rolling 10 s; v3 batch endpoints take 100 inputs.
  hubspot: { rateLimit: { limit: 190, windowMs: 10_000 }, maxBatchSize: 100 },
  // Service protection per user: 6,000 per 5-minute sliding window, 52 concurrent.
  dataverse: { rateLimit: { limit: 6000, windowMs: 300_000 }, concurrency: 52, maxBatchSize: 100 },
  // 6,000 per 5-minute window per user; 5 processed at a time (95 more queued server-side); $batch ≤ 100.
  "business-central": { rateLimit: { limit: 6000, windowMs: 300_000 }, concurrency: 5, maxBatchSize: 100 },
  // Account-wide pool shared with SOAP and RESTlets: 5 on the base tier (15 on Tier 1, +10 per SuiteCloud Plus).
  netsuite: { concurrency: 5 },
  // 25 requests per second in sandbox mode (100 live).
  stripe: { rateLimit: { limit: 25, windowMs: 1000 } },
};
