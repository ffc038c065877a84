/**
 * Parsers for the throttle signals vendors put in their responses. Vendor-neutral: an adapter picks the ones
 * its vendor sends and hands the result to its Connection (see `ConnectionHooks.readSignals`).
 */

/** How much of a vendor's allowance is left. */
export interface QuotaSignal {
  remaining: number;
  limit: number;
  /** The window the allowance is counted over, when known (HubSpot says; Salesforce's is a rolling 24 h). */
  windowMs?: number;
}

/** What one response says about throttling. */
export interface ThrottleSignals {
  /** Pause the whole connection this long. */
  retryAfterMs?: number;
  quota?: QuotaSignal;
}

const DAY_MS = 86_400_000;

/** Retry-After as delay-seconds ("120") or an HTTP date; undefined when absent or unreadable. Never negative. */
export function parseRetryAfter(value: string | undefined, now: number = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+(?:\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  if (!/[a-z]/i.test(text)) return undefined;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Salesforce `Sforce-Limit-Info: api-usage=18/5000` (used/allowed over a rolling 24 h). */
export function parseSforceLimitInfo(value: string | undefined): QuotaSignal | undefined {
  const m = value === undefined ? null : /(?:^|[\s;,])api-usage=(\d+)\/(\d+)/.exec(value);
  if (!m) return undefined;
  const used = Number(m[1]);
  const limit = Number(m[2]);
  if (limit <= 0) return undefined;
  return { remaining: Math.max(0, limit - used), limit, windowMs: DAY_MS };
}

/** HubSpot `X-HubSpot-RateLimit-Remaining`, `-Max`, `-Interval-Milliseconds` (the rolling window). */
export function parseHubSpotRateLimit(headers: Record<string, string>): QuotaSignal | undefined {
  const remaining = integer(headers["x-hubspot-ratelimit-remaining"]);
  const limit = integer(headers["x-hubspot-ratelimit-max"]);
  if (remaining === undefined || limit === undefined || limit <= 0) return undefined;
  const windowMs = integer(headers["x-hubspot-ratelimit-interval-milliseconds"]);
  return windowMs === undefined ? { remaining, limit } : { remaining, limit, windowMs };
}

/**
 * Dataverse `x-ms-ratelimit-burst-remaining-xrm-requests`: requests left in the 5-minute service-protection
 * window, whose size (6,000 by default) the vendor does not echo, so the caller passes it.
 */
export function parseDataverseRemaining(headers: Record<string, string>, limit = 6000): QuotaSignal | undefined {
  const remaining = integer(headers["x-ms-ratelimit-burst-remaining-xrm-requests"]);
  return remaining === undefined ? undefined : { remaining, limit, windowMs: 300_000 };
}

/** Stripe `Stripe-Should-Retry`: the vendor's own verdict on retrying; undefined when it did not say. */
export function parseStripeShouldRetry(headers: Record<string, string>): boolean | undefined {
  const value = headers["stripe-should-retry"];
  if (value === "true") return true;
  if (value === "false") return false;
  return undefined;
}

/** The signal every HTTP API may send: Retry-After (429, 503). */
export function standardSignals(response: { headers: Record<string, string> }): ThrottleSignals {
  const retryAfterMs = parseRetryAfter(response.headers["retry-after"]);
  return retryAfterMs === undefined ? {} : { retryAfterMs };
}

function integer(value: string | undefined): number | undefined {
  if (value === undefined || !/^\s*\d+\s*$/.test(value)) return undefined;
  return Number(value);
}
