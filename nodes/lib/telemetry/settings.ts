/** The `keelson` key of Node-RED's settings.js, as telemetry reads it. Everything is off unless switched on. */
export interface TelemetrySettings {
  metrics: {
    enabled: boolean;
    /** Path on Node-RED's admin HTTP server (under httpAdminRoot). Default /keelson/metrics. */
    path: string;
    /** When set, scrapers send `Authorization: Bearer <token>`; otherwise the admin permission keelson-metrics.read guards it. */
    token?: string;
  };
  /**
   * `store`: the id of the keelson-store config node the trace is kept in; unset, the first store node deployed.
   * With no store node the trace lives in this process's memory only.
   */
  trace: { enabled: boolean; maxSteps: number; windowMinutes: number; store?: string };
  logs: { json: boolean };
  /** How often the health view is refreshed over RED.comms, in seconds. */
  healthIntervalSeconds: number;
}

export const DEFAULT_METRICS_PATH = "/keelson/metrics";

/**
 * Reads `settings.keelson`: `{metrics: {enabled, path, token}, trace: {enabled, maxSteps, windowMinutes, store}, logs: {json}}`.
 * `telemetry: false` beside them switches every part off at once (the benchmark's "without" run).
 */
export function telemetrySettings(raw: unknown): TelemetrySettings {
  const k = isObject(raw) ? raw : {};
  const off = k.telemetry === false;
  const metrics = isObject(k.metrics) ? k.metrics : {};
  const trace = isObject(k.trace) ? k.trace : {};
  const logs = isObject(k.logs) ? k.logs : {};
  const path = typeof metrics.path === "string" && metrics.path.trim() ? metrics.path.trim() : DEFAULT_METRICS_PATH;
  return {
    metrics: {
      enabled: !off && metrics.enabled === true,
      path: path.startsWith("/") ? path : `/${path}`,
      ...(typeof metrics.token === "string" && metrics.token ? { token: metrics.token } : {}),
    },
    trace: {
      enabled: !off && trace.enabled === true,
      maxSteps: positive(trace.maxSteps, 50_000),
      windowMinutes: positive(trace.windowMinutes, 60),
      ...(typeof trace.store === "string" && trace.store.trim() ? { store: trace.store.trim() } : {}),
    },
    logs: { json: !off && logs.json === true },
    healthIntervalSeconds: positive(k.healthIntervalSeconds, 5),
  };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function positive(value: unknown, fallback: number): number {
  const n = Number(value);
  return Number.isFinite(n) && n > 0 ? n : fallback;
}
