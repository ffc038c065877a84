import type { ConnectionState } from "../resilience/connection";
import { Registry, type Counter, type Gauge, type Histogram } from "./metrics";
import { TraceLog, type TraceStep } from "./trace";
import { NODE_KINDS, PLAIN_KIND, type Journey, type JourneyStamp, type NodeKind } from "./kinds";
import { telemetrySettings, type TelemetrySettings } from "./settings";

/** A Keelson node as telemetry names it. */
export interface NodeIdentity {
  id: string;
  type: string;
  name?: string;
  /** The flow (tab) the node is on. */
  flow?: string;
}

/** A dead-letter queue's depth as the store reports it. */
export interface QueueReading {
  depth: number;
  oldestAt: number | null;
}

interface ConnectionEntry {
  id: string;
  name: string;
  system: string;
  state(): ConnectionState;
  /** Samples for calls per minute and the error rate: [epoch ms, requests, errors]. */
  samples: Array<[number, number, number]>;
}

interface QueueEntry {
  node: string;
  queue: string;
  store: string;
  read(): Promise<QueueReading | undefined>;
}

/** One minute of the health history. */
interface Minute {
  at: number;
  /** flow → messages into its Keelson nodes. */
  throughput: Map<string, number>;
  /** `${flow}\u0000${journey}` → latencies (seconds), at most SAMPLES_PER_MINUTE. */
  latency: Map<string, number[]>;
}

/** Where the trace is shared across processes and restarts: a Keelson store's two trace operations. */
export interface StepStore {
  appendSteps(steps: readonly TraceStep[], options?: { retentionMs?: number }): Promise<void>;
  findSteps(id: string, options?: { limit?: number }): Promise<TraceStep[]>;
}

/** What the trace answers for an id: the steps, and where they came from. */
export interface TraceAnswer {
  steps: TraceStep[];
  /** The store was asked (and answered, unless `storeError`). */
  stored: boolean;
  storeError?: string;
}

/** Steps go to the store in batches: after this long, or at this many steps, whichever comes first. */
export const STEP_FLUSH_MS = 250;
export const STEP_FLUSH_COUNT = 256;
/** Batches on their way to the store at most; a batch beyond that (the store is slow) is dropped and counted. */
const MAX_FLUSHES_IN_FLIGHT = 4;

const MINUTE = 60_000;
const HISTORY_MINUTES = 60;
const SAMPLES_PER_MINUTE = 512;
const BREAKER_STATES = ["closed", "half-open", "open"] as const;

/**
 * The process's telemetry: the metrics registry, the trace, the JSON log lines and the health history.
 * Off (recording nothing, costing nothing) unless settings switch a part on.
 */
export class Telemetry {
  readonly settings: TelemetrySettings;
  readonly registry = new Registry();
  readonly trace: TraceLog | undefined;
  private readonly writeLine: ((line: string) => void) | undefined;
  private readonly connections = new Map<string, ConnectionEntry>();
  private readonly queues = new Map<string, QueueEntry>();
  private readonly minutes: Minute[] = [];
  private current: Minute | undefined;
  private stepStore: (() => Promise<StepStore>) | undefined;
  private pendingSteps: TraceStep[] = [];
  private flushTimer: NodeJS.Timeout | undefined;
  private flushesInFlight = new Set<Promise<void>>();

  readonly messagesIn: Counter;
  readonly messagesOut: Counter;
  readonly businessExceptions: Counter;
  readonly technicalErrors: Counter;
  readonly nodeDuration: Histogram;
  readonly gateOutcomes: Counter;
  readonly deadLetters: Counter;
  readonly businessLatency: Histogram;
  readonly reconcileRuns: Counter;
  readonly reconcileRecords: Counter;
  readonly reconcileCountGap: Gauge;
  readonly reconcileAmountGap: Gauge;
  private readonly connectionRequests: Gauge;
  private readonly connectionSent: Gauge;
  private readonly connectionFailures: Gauge;
  private readonly connectionRetries: Gauge;
  private readonly connectionThrottled: Gauge;
  private readonly connectionBreaker: Gauge;
  private readonly connectionInFlight: Gauge;
  private readonly quotaRemaining: Gauge;
  private readonly quotaLimit: Gauge;
  private readonly quotaHeadroom: Gauge;
  private readonly dlqDepth: Gauge;
  private readonly dlqOldest: Gauge;
  private readonly traceSteps: Gauge;
  readonly traceDropped: Counter;

  constructor(raw: unknown, writeLine?: (line: string) => void) {
    this.settings = telemetrySettings(raw);
    if (this.settings.trace.enabled) this.trace = new TraceLog({ maxSteps: this.settings.trace.maxSteps, windowMs: this.settings.trace.windowMinutes * MINUTE });
    if (this.settings.logs.json && writeLine) this.writeLine = writeLine;
    const r = this.registry;
    this.messagesIn = r.counter("keelson_messages_in_total", "Messages a Keelson node received.");
    this.messagesOut = r.counter("keelson_messages_out_total", "Messages a Keelson node sent, per output (0 is the first).");
    this.businessExceptions = r.counter("keelson_business_exceptions_total", "Business exceptions (the rejected output), by the vendor's or Keelson's code.");
    this.technicalErrors = r.counter("keelson_technical_errors_total", "Technical errors a node reported with done(err), by class (TechnicalError kind or error name).");
    this.nodeDuration = r.histogram("keelson_node_duration_seconds", "Time from a node taking a message to its done().");
    this.gateOutcomes = r.counter("keelson_gate_outcomes_total", "Idempotency gate outcomes: claimed, completed, failed, in-flight, conflict, released.");
    this.deadLetters = r.counter("keelson_dlq_captured_total", "Messages captured into a dead-letter queue (state pending or parked).");
    this.businessLatency = r.histogram("keelson_business_latency_seconds", "End-to-end business latency per journey and flow.");
    this.reconcileRuns = r.counter("keelson_reconcile_runs_total", "Reconciliation runs finished.");
    this.reconcileRecords = r.counter("keelson_reconcile_records_total", "Reconciled records by outcome: matched, mismatched, only_left, only_right.");
    this.reconcileCountGap = r.gauge("keelson_reconcile_control_count_gap", "Last run's control-total record count, left minus right.");
    this.reconcileAmountGap = r.gauge("keelson_reconcile_control_amount_gap", "Last run's control-total amount gap, left minus right, per field and currency.");
    this.connectionRequests = r.copiedCounter("keelson_connection_requests_total", "Calls made on a vendor connection (read from the connection at scrape).");
    this.connectionSent = r.copiedCounter("keelson_connection_sent_total", "Requests sent to the vendor, retries and re-authenticated sends included (read from the connection at scrape).");
    this.connectionFailures = r.copiedCounter("keelson_connection_errors_total", "Calls that ended in an error, by kind: business, technical, unknown_outcome (read from the connection at scrape).");
    this.connectionRetries = r.copiedCounter("keelson_connection_retries_total", "Retries a vendor connection made (read from the connection at scrape).");
    this.connectionThrottled = r.copiedCounter("keelson_connection_throttled_total", "Throttle answers (429 and the vendor's own) a connection received (read from the connection at scrape).");
    this.connectionBreaker = r.gauge("keelson_connection_breaker_state", "Circuit breaker state: 1 on the current state's series, 0 on the others.");
    this.connectionInFlight = r.gauge("keelson_connection_in_flight", "Requests on the wire now.");
    this.quotaRemaining = r.gauge("keelson_vendor_quota_remaining", "Vendor rate-limit allowance left (Salesforce daily API requests, HubSpot rolling window), last seen.");
    this.quotaLimit = r.gauge("keelson_vendor_quota_limit", "Vendor rate-limit allowance in its window, last seen.");
    this.quotaHeadroom = r.gauge("keelson_vendor_quota_headroom_ratio", "Remaining over limit (0–1), last seen.");
    this.dlqDepth = r.gauge("keelson_dlq_depth", "Dead letters in a queue.");
    this.dlqOldest = r.gauge("keelson_dlq_oldest_age_seconds", "Age of the oldest dead letter in a queue (0 when empty).");
    this.traceSteps = r.gauge("keelson_trace_steps", "Steps held in the trace window.");
    this.traceDropped = r.counter("keelson_trace_steps_dropped_total", "Trace steps the store did not take (down, slow or failing); they stay in this process's memory window.");
  }

  /** Whether anything is recorded: the node glue skips instrumentation altogether when not. */
  get recording(): boolean {
    return this.settings.metrics.enabled || this.settings.trace.enabled || this.settings.logs.json;
  }

  probe(node: NodeIdentity): NodeProbe {
    return new NodeProbe(this, node, NODE_KINDS[node.type] ?? PLAIN_KIND);
  }

  /** A vendor connection to read at scrape; returns the function that forgets it. */
  watchConnection(id: string, name: string, system: string, state: () => ConnectionState): () => void {
    const entry: ConnectionEntry = { id, name, system, state, samples: [] };
    this.connections.set(id, entry);
    return () => {
      if (this.connections.get(id) === entry) this.connections.delete(id);
    };
  }

  /** A dead-letter queue to read at scrape; returns the function that forgets it. */
  watchQueue(node: string, queue: string, store: string, read: () => Promise<QueueReading | undefined>): () => void {
    const entry: QueueEntry = { node, queue, store, read };
    this.queues.set(node, entry);
    return () => {
      if (this.queues.get(node) === entry) this.queues.delete(node);
    };
  }

  /** The Prometheus text: counters as recorded, gauges read from connections and stores now. */
  async render(now: number = Date.now()): Promise<string> {
    for (const c of this.connections.values()) {
      const s = c.state();
      const labels = { connection: c.name, system: c.system };
      this.connectionRequests.set(labels, s.counters.requests);
      this.connectionSent.set(labels, s.counters.sent);
      this.connectionFailures.set({ ...labels, kind: "business" }, s.counters.businessErrors);
      this.connectionFailures.set({ ...labels, kind: "technical" }, s.counters.technicalErrors);
      this.connectionFailures.set({ ...labels, kind: "unknown_outcome" }, s.counters.unknownOutcomes);
      this.connectionRetries.set(labels, s.counters.retries);
      this.connectionThrottled.set(labels, s.counters.throttled);
      for (const state of BREAKER_STATES) this.connectionBreaker.set({ ...labels, state }, s.breaker === state ? 1 : 0);
      this.connectionInFlight.set(labels, s.inFlight);
      if (s.quota) {
        this.quotaRemaining.set(labels, s.quota.remaining);
        this.quotaLimit.set(labels, s.quota.limit);
        this.quotaHeadroom.set(labels, s.quota.limit > 0 ? s.quota.remaining / s.quota.limit : 0);
      }
    }
    for (const q of await this.readQueues(now)) {
      this.dlqDepth.set({ queue: q.queue, store: q.store }, q.depth);
      this.dlqOldest.set({ queue: q.queue, store: q.store }, q.oldestAgeSeconds);
    }
    this.traceSteps.set({}, this.trace?.size ?? 0);
    return this.registry.render();
  }

  /** Every step of a correlation id or business key this process holds in memory. */
  find(idOrKey: string, now: number = Date.now()): TraceStep[] {
    return this.trace ? this.trace.find(idOrKey, now) : [];
  }

  /**
   * Keeps the trace in a store as well (every process sharing it answers for every step); returns the function
   * that flushes what is pending and stops. Only one store at a time: a second call replaces the first.
   */
  useStore(open: () => Promise<StepStore>): () => Promise<void> {
    this.stepStore = open;
    return async () => {
      if (this.stepStore !== open) return;
      await this.flushSteps();
      if (this.stepStore === open) this.stepStore = undefined;
    };
  }

  /** Whether steps go to a store. */
  get storing(): boolean {
    return this.stepStore !== undefined;
  }

  /** Queues a step for the store: a push; the batch leaves on a timer or when full, never on the message path. */
  keepStep(step: TraceStep): void {
    if (!this.stepStore) return;
    this.pendingSteps.push(step);
    if (this.pendingSteps.length >= STEP_FLUSH_COUNT) void this.flushSteps();
    else if (!this.flushTimer) {
      this.flushTimer = setTimeout(() => void this.flushSteps(), STEP_FLUSH_MS);
      this.flushTimer.unref();
    }
  }

  /** Sends the pending steps now and waits for every batch on its way; a store error drops the batch and counts it. */
  async flushSteps(): Promise<void> {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const batch = this.pendingSteps;
    this.pendingSteps = [];
    const open = this.stepStore;
    if (batch.length && open) {
      if (this.flushesInFlight.size >= MAX_FLUSHES_IN_FLIGHT) this.traceDropped.inc({}, batch.length);
      else {
        const retentionMs = this.settings.trace.windowMinutes * MINUTE;
        const flush: Promise<void> = open()
          .then((store) => store.appendSteps(batch, { retentionMs }))
          .catch(() => this.traceDropped.inc({}, batch.length))
          .finally(() => this.flushesInFlight.delete(flush));
        this.flushesInFlight.add(flush);
      }
    }
    await Promise.all([...this.flushesInFlight]);
  }

  /**
   * Every step of a correlation id or business key: the store's (every process that shares it) merged with this
   * process's memory (steps not flushed yet, or all of them when the store fails to answer).
   */
  async lookup(idOrKey: string, now: number = Date.now()): Promise<TraceAnswer> {
    const local = this.find(idOrKey, now);
    const open = this.stepStore;
    if (!open) return { steps: local, stored: false };
    let stored: TraceStep[];
    try {
      stored = await (await open()).findSteps(idOrKey, { limit: Math.min(10_000, this.settings.trace.maxSteps) });
    } catch (err) {
      return { steps: local, stored: true, storeError: err instanceof Error ? err.message : String(err) };
    }
    const byKey = new Map<string, TraceStep>();
    for (const step of [...stored, ...local]) byKey.set(stepKey(step), step);
    return { steps: [...byKey.values()].sort((a, b) => a.at - b.at), stored: true };
  }

  /** What the health view shows. */
  async health(now: number = Date.now()): Promise<HealthSnapshot> {
    const connections = [...this.connections.values()].map((c) => {
      const s = c.state();
      const errors = s.counters.businessErrors + s.counters.technicalErrors;
      c.samples.push([now, s.counters.requests, errors]);
      while (c.samples.length > 2 && now - c.samples[1]![0] >= MINUTE) c.samples.shift();
      const [t0, r0, e0] = c.samples[0]!;
      const calls = s.counters.requests - r0;
      const spanMs = Math.max(now - t0, 1000);
      return {
        id: c.id,
        name: c.name,
        system: c.system,
        callsPerMinute: c.samples.length > 1 ? Math.round((calls * MINUTE) / spanMs) : 0,
        errorRate: calls > 0 ? (errors - e0) / calls : 0,
        requests: s.counters.requests,
        retries: s.counters.retries,
        throttled: s.counters.throttled,
        breaker: s.breaker,
        headroom: s.quota ? { remaining: s.quota.remaining, limit: s.quota.limit, ratio: s.quota.limit > 0 ? s.quota.remaining / s.quota.limit : 0 } : null,
      };
    });
    this.minuteAt(now);
    const flows = new Map<string, HealthFlow>();
    const flowOf = (id: string): HealthFlow => {
      let f = flows.get(id);
      if (!f) flows.set(id, (f = { flow: id, throughput: [], latency: {} }));
      return f;
    };
    for (const m of this.minutes) {
      if (now - m.at > HISTORY_MINUTES * MINUTE) continue;
      for (const [flow, count] of m.throughput) flowOf(flow).throughput.push({ at: m.at, count });
      for (const [key, samples] of m.latency) {
        const [flow, journey] = key.split("\u0000") as [string, string];
        const sorted = [...samples].sort((a, b) => a - b);
        (flowOf(flow).latency[journey] ??= []).push({ at: m.at, count: sorted.length, p50: quantile(sorted, 0.5), p95: quantile(sorted, 0.95) });
      }
    }
    return {
      at: now,
      connections,
      flows: [...flows.values()],
      queues: await this.readQueues(now),
      traceSteps: this.trace?.size ?? 0,
    };
  }

  /** JSON log line of one step, when logs are on. */
  log(step: TraceStep): void {
    if (!this.writeLine) return;
    const n = step.node;
    this.writeLine(
      JSON.stringify({
        time: new Date(step.at).toISOString(),
        level: step.outcome === "error" ? "error" : step.outcome === "rejected" ? "warn" : "info",
        event: "keelson.step",
        correlationId: step.correlationId,
        at: step.at,
        durationMs: step.durationMs,
        outcome: step.outcome,
        output: step.output,
        code: step.code,
        message: step.message,
        ids: step.ids,
        node: n.id,
        type: n.type,
        name: n.name,
        flow: n.flow,
      }),
    );
  }

  /** The minute bucket for `now`, opening a new one (and dropping the oldest) when the minute turned. */
  minuteAt(now: number): Minute {
    const at = now - (now % MINUTE);
    if (this.current && this.current.at === at) return this.current;
    this.current = { at, throughput: new Map(), latency: new Map() };
    this.minutes.push(this.current);
    while (this.minutes.length > HISTORY_MINUTES + 1) this.minutes.shift();
    return this.current;
  }

  private async readQueues(now: number): Promise<HealthQueue[]> {
    const seen = new Set<string>();
    const out: HealthQueue[] = [];
    for (const q of this.queues.values()) {
      const key = `${q.store}\u0000${q.queue}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const reading = await q.read().catch(() => undefined);
      if (!reading) continue;
      out.push({ queue: q.queue, store: q.store, node: q.node, depth: reading.depth, oldestAgeSeconds: reading.depth && reading.oldestAt !== null ? Math.max(0, (now - reading.oldestAt) / 1000) : 0 });
    }
    return out;
  }
}

export interface HealthQueue {
  queue: string;
  store: string;
  node: string;
  depth: number;
  oldestAgeSeconds: number;
}

export interface HealthFlow {
  flow: string;
  throughput: Array<{ at: number; count: number }>;
  latency: Record<string, Array<{ at: number; count: number; p50: number; p95: number }>>;
}

export interface HealthSnapshot {
  at: number;
  connections: Array<{
    id: string;
    name: string;
    system: string;
    callsPerMinute: number;
    errorRate: number;
    requests: number;
    retries: number;
    throttled: number;
    breaker: string;
    headroom: { remaining: number; limit: number; ratio: number } | null;
  }>;
  flows: HealthFlow[];
  queues: HealthQueue[];
  traceSteps: number;
}

/** The same step from the store and from memory. */
function stepKey(s: TraceStep): string {
  return `${s.correlationId}\u0000${s.at}\u0000${s.node.id}\u0000${s.outcome}\u0000${s.output ?? ""}\u0000${s.durationMs}`;
}

function quantile(sorted: number[], q: number): number {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** One message through one node, from input to done(). */
export interface Handling {
  readonly started: number;
  output?: number;
  outcome?: string;
  code?: string;
  ids?: Record<string, string>;
}

/** The recorder one node holds: counts bound once, so the per-message path adds to numbers. */
export class NodeProbe {
  private readonly received: { inc(by?: number): void };
  private readonly duration: { observe(value: number): void };
  private readonly outputs: Array<{ inc(by?: number): void }> = [];
  /** Business codes and gate outcomes met so far, each bound once. */
  private readonly byCode = new Map<string, { inc(by?: number): void }>();
  private readonly byOutcome = new Map<string, { inc(by?: number): void }>();
  private readonly labels: { node: string; type: string; name: string; flow: string };
  private readonly stepNode: TraceStep["node"];
  /** Minute bucket and this flow's count in it, kept until the minute turns. */
  private minute: Minute | undefined;

  constructor(private readonly t: Telemetry, private readonly node: NodeIdentity, private readonly kind: NodeKind) {
    this.labels = { node: node.id, type: node.type, name: node.name ?? "", flow: node.flow ?? "" };
    this.received = t.messagesIn.bind(this.labels);
    this.duration = t.nodeDuration.bind({ node: node.id, type: node.type });
    this.stepNode = { id: node.id, type: node.type, ...(node.name ? { name: node.name } : {}), ...(node.flow ? { flow: node.flow } : {}) };
  }

  /** A message arrived: counted, and stamped with its journey's start when it is the first Keelson node it meets. */
  begin(msg: Record<string, unknown>): Handling {
    const now = Date.now();
    if (msg._keelson === undefined) msg._keelson = { start: now } satisfies JourneyStamp;
    this.received.inc();
    let minute = this.minute;
    if (!minute || now - minute.at >= MINUTE) minute = this.minute = this.t.minuteAt(now);
    const flow = this.labels.flow;
    minute.throughput.set(flow, (minute.throughput.get(flow) ?? 0) + 1);
    return { started: now };
  }

  /** A message leaves by `output`. */
  sent(handling: Handling, msg: Record<string, unknown>, output: number): void {
    (this.outputs[output] ??= this.t.messagesOut.bind({ ...this.labels, output: String(output) })).inc();
    handling.output = output;
    const now = Date.now();
    if (output === this.kind.rejectedOutput) {
      const code = codeOf(msg, this.node.type);
      let counter = this.byCode.get(code);
      if (!counter) this.byCode.set(code, (counter = this.t.businessExceptions.bind({ node: this.node.id, type: this.node.type, code })));
      counter.inc();
      handling.outcome = "rejected";
      handling.code = code;
    } else if (this.node.type === "keelson-gate") {
      const state = (msg.idempotency as { state?: string } | undefined)?.state ?? "unknown";
      let counter = this.byOutcome.get(state);
      if (!counter) this.byOutcome.set(state, (counter = this.t.gateOutcomes.bind({ node: this.node.id, name: this.labels.name, outcome: state })));
      counter.inc();
      handling.outcome = state;
    } else if (this.node.type === "keelson-dlq" && output === 1 && typeof msg.topic === "string" && msg.topic.startsWith("dlq/")) {
      const entry = msg.payload as { id?: string; queue?: string; state?: string };
      this.t.deadLetters.inc({ queue: entry.queue ?? "", state: entry.state ?? "" });
      handling.outcome = "captured";
      if (entry.id) handling.ids = { ...handling.ids, deadLetter: entry.id };
    } else if (this.node.type === "keelson-reconcile" && output === 4) {
      this.reconciled(msg.payload as ReconcileSummary);
    }
    const effect = this.kind.onSend?.(msg, output, now);
    if (effect?.starts) msg._keelson = effect.starts;
    if (effect?.ends) {
      const stamp = msg._keelson as JourneyStamp;
      stamp.ended = true;
      this.latency(effect.ends, (now - stamp.start) / 1000, now);
    }
  }

  /** The node called done(err?): duration, technical error, trace step, log line. */
  end(handling: Handling, msg: Record<string, unknown>, err?: unknown): void {
    const durationMs = Date.now() - handling.started;
    this.duration.observe(durationMs / 1000);
    if (err) {
      handling.code = classOf(err);
      handling.outcome = "error";
      this.t.technicalErrors.inc({ node: this.node.id, type: this.node.type, class: handling.code });
    }
    this.step(handling, msg, durationMs, err ? (err instanceof Error ? err.message : String(err)) : undefined);
  }

  /** A message the node sent on its own, not while handling an input: a dead letter replayed from the admin API. */
  emitted(msg: Record<string, unknown>, output: number): void {
    const handling: Handling = { started: Date.now() };
    this.sent(handling, msg, output);
    if (this.node.type === "keelson-dlq" && output === 0) handling.outcome = "replayed";
    this.step(handling, msg, 0);
  }

  private step(handling: Handling, msg: Record<string, unknown>, durationMs: number, message?: string): void {
    if (!this.t.trace && !this.t.settings.logs.json) return;
    const correlationId = typeof msg.correlationId === "string" && msg.correlationId ? msg.correlationId : String(msg._msgid ?? "");
    const step: TraceStep = { correlationId, at: handling.started, durationMs, node: this.stepNode, outcome: handling.outcome ?? (handling.output === undefined ? "done" : "ok") };
    if (handling.output !== undefined) step.output = handling.output;
    if (handling.code) step.code = handling.code;
    if (message) step.message = message;
    const ids = idsOf(msg, handling.ids);
    if (ids) step.ids = ids;
    this.t.trace?.record(step);
    if (this.t.storing) this.t.keepStep(step);
    this.t.log(step);
  }

  private latency(journey: Journey, seconds: number, now: number): void {
    this.t.businessLatency.observe({ journey, flow: this.labels.flow }, seconds);
    const minute = this.t.minuteAt(now);
    const key = `${this.labels.flow}\u0000${journey}`;
    let samples = minute.latency.get(key);
    if (!samples) minute.latency.set(key, (samples = []));
    if (samples.length < SAMPLES_PER_MINUTE) samples.push(seconds);
  }

  private reconciled(summary: ReconcileSummary | undefined): void {
    if (!summary?.counts) return;
    const node = this.node.id;
    this.t.reconcileRuns.inc({ node });
    const c = summary.counts;
    const outcomes: Array<[string, number]> = [["matched", c.matched], ["mismatched", c.mismatched], ["only_left", c.onlyLeft], ["only_right", c.onlyRight]];
    for (const [outcome, n] of outcomes) if (n) this.t.reconcileRecords.inc({ node, outcome }, n);
    const difference = summary.totals?.difference;
    if (!difference) return;
    this.t.reconcileCountGap.set({ node }, difference.count);
    for (const [field, currencies] of Object.entries(difference.sums ?? {})) {
      for (const [currency, amount] of Object.entries(currencies)) this.t.reconcileAmountGap.set({ node, field, currency }, Number(amount));
    }
  }
}

interface ReconcileSummary {
  counts?: { matched: number; mismatched: number; onlyLeft: number; onlyRight: number };
  totals?: { difference?: { count: number; sums?: Record<string, Record<string, string>> } };
}

function codeOf(msg: Record<string, unknown>, type: string): string {
  const code = (msg.error as { code?: unknown } | undefined)?.code;
  if (typeof code === "string" && code) return code;
  return type === "keelson-mapper" ? "SCHEMA_INVALID" : "UNKNOWN";
}

/** "timeout", "throttled", "network"… for a TechnicalError, the error's name otherwise. */
function classOf(err: unknown): string {
  const kind = (err as { kind?: unknown }).kind;
  if (typeof kind === "string" && kind) return kind;
  return err instanceof Error ? err.name : "Error";
}

/** The business and vendor ids a message carries (and `extra`), for finding it by "opportunity Y" as well as by correlation id. */
function idsOf(msg: Record<string, unknown>, extra: Record<string, string> | undefined): Record<string, string> | undefined {
  let ids: Record<string, string> | undefined;
  const put = (name: string, value: unknown): void => {
    if (typeof value === "string" && value) (ids ??= {})[name] = value;
    else if (typeof value === "number") (ids ??= {})[name] = String(value);
  };
  put("opportunityId", msg.opportunityId);
  put("accountId", msg.accountId);
  const crm = msg.crm as { system?: string; id?: unknown } | undefined;
  if (crm?.system) put(crm.system, crm.id);
  const idempotency = msg.idempotency as { key?: unknown } | undefined;
  if (idempotency) put("idempotencyKey", idempotency.key);
  const dlq = msg.dlq as { id?: unknown } | undefined;
  if (dlq) put("deadLetter", dlq.id);
  const payload = msg.payload as { refs?: unknown; externalReference?: unknown; invoiceNumber?: unknown } | undefined;
  if (payload && typeof payload === "object" && !Array.isArray(payload)) {
    put("externalReference", payload.externalReference);
    put("invoiceNumber", payload.invoiceNumber);
    if (Array.isArray(payload.refs)) for (const r of payload.refs as Array<{ system?: unknown; id?: unknown }>) if (typeof r?.system === "string") put(r.system, r.id);
  }
  if (extra) for (const k in extra) put(k, extra[k]);
  return ids;
}
