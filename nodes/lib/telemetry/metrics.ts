/**
 * A small metrics registry written out in the Prometheus text exposition format (version 0.0.4). Recording is
 * meant to sit on every message's path: a counter is a number in a map keyed by its label values, a histogram
 * a fixed array of bucket counts. Nothing is formatted until a scrape asks.
 */

export type Labels = Readonly<Record<string, string>>;

/** Seconds: from a fast mapper step to a slow vendor round trip, and business latencies up to an hour. */
export const LATENCY_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];

interface Series<V> {
  labels: Labels;
  value: V;
}

abstract class Family<V> {
  protected readonly series = new Map<string, Series<V>>();
  constructor(readonly name: string, readonly help: string, readonly type: "counter" | "gauge" | "histogram") {}

  protected at(labels: Labels): Series<V> {
    const key = keyOf(labels);
    let s = this.series.get(key);
    if (!s) {
      s = { labels, value: this.initial() };
      this.series.set(key, s);
    }
    return s;
  }

  protected abstract initial(): V;
  abstract lines(out: string[]): void;
}

export class Counter extends Family<number> {
  inc(labels: Labels, by = 1): void {
    this.at(labels).value += by;
  }

  get(labels: Labels): number {
    return this.series.get(keyOf(labels))?.value ?? 0;
  }

  /** One series held on to, so the hot path adds to a number without building its key. */
  bind(labels: Labels): { inc(by?: number): void } {
    const s = this.at(labels);
    return { inc: (by = 1) => void (s.value += by) };
  }

  protected initial(): number {
    return 0;
  }

  lines(out: string[]): void {
    for (const s of this.series.values()) out.push(`${this.name}${labelText(s.labels)} ${num(s.value)}`);
  }
}

export class Gauge extends Family<number> {
  set(labels: Labels, value: number): void {
    this.at(labels).value = value;
  }

  get(labels: Labels): number | undefined {
    return this.series.get(keyOf(labels))?.value;
  }

  protected initial(): number {
    return 0;
  }

  lines(out: string[]): void {
    for (const s of this.series.values()) out.push(`${this.name}${labelText(s.labels)} ${num(s.value)}`);
  }
}

interface HistogramValue {
  counts: number[];
  sum: number;
  count: number;
}

export class Histogram extends Family<HistogramValue> {
  constructor(name: string, help: string, readonly buckets: readonly number[] = LATENCY_BUCKETS) {
    super(name, help, "histogram");
  }

  observe(labels: Labels, value: number): void {
    const v = this.at(labels).value;
    v.sum += value;
    v.count++;
    const b = this.buckets;
    for (let i = 0; i < b.length; i++) {
      if (value <= b[i]!) {
        v.counts[i]!++;
        return;
      }
    }
  }

  /** One series held on to (see Counter.bind). */
  bind(labels: Labels): { observe(value: number): void } {
    const s = this.at(labels);
    const b = this.buckets;
    return {
      observe: (value: number) => {
        const v = s.value;
        v.sum += value;
        v.count++;
        for (let i = 0; i < b.length; i++) {
          if (value <= b[i]!) {
            v.counts[i]!++;
            return;
          }
        }
      },
    };
  }

  /** Observations so far for these labels (count and sum), for tests and the health view. */
  get(labels: Labels): { count: number; sum: number } {
    const v = this.series.get(keyOf(labels))?.value;
    return { count: v?.count ?? 0, sum: v?.sum ?? 0 };
  }

  protected initial(): HistogramValue {
    return { counts: new Array<number>(this.buckets.length).fill(0), sum: 0, count: 0 };
  }

  lines(out: string[]): void {
    for (const s of this.series.values()) {
      let cumulative = 0;
      for (let i = 0; i < this.buckets.length; i++) {
        cumulative += s.value.counts[i]!;
        out.push(`${this.name}_bucket${labelText({ ...s.labels, le: num(this.buckets[i]!) })} ${cumulative}`);
      }
      out.push(`${this.name}_bucket${labelText({ ...s.labels, le: "+Inf" })} ${s.value.count}`);
      out.push(`${this.name}_sum${labelText(s.labels)} ${num(s.value.sum)}`);
      out.push(`${this.name}_count${labelText(s.labels)} ${s.value.count}`);
    }
  }
}

interface Written {
  readonly name: string;
  readonly help: string;
  readonly type: string;
  lines(out: string[]): void;
}

/** The families of one process, in registration order. */
export class Registry {
  private readonly families: Written[] = [];

  counter(name: string, help: string): Counter {
    return this.add(new Counter(name, help, "counter"));
  }

  gauge(name: string, help: string): Gauge {
    return this.add(new Gauge(name, help, "gauge"));
  }

  /** A counter kept elsewhere (a connection's running totals) and copied in at scrape: set like a gauge, typed counter. */
  copiedCounter(name: string, help: string): Gauge {
    return this.add(new Gauge(name, help, "counter"));
  }

  histogram(name: string, help: string, buckets?: readonly number[]): Histogram {
    return this.add(new Histogram(name, help, buckets));
  }

  /** The text exposition of every family. */
  render(): string {
    const out: string[] = [];
    for (const f of this.families) {
      out.push(`# HELP ${f.name} ${f.help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}`);
      out.push(`# TYPE ${f.name} ${f.type}`);
      f.lines(out);
    }
    return out.join("\n") + "\n";
  }

  private add<F extends Written>(family: F): F {
    this.families.push(family);
    return family;
  }
}

function keyOf(labels: Labels): string {
  let key = "";
  for (const k in labels) key += `${k}\u0000${labels[k]}\u0001`;
  return key;
}

function labelText(labels: Labels): string {
  const parts: string[] = [];
  for (const k in labels) parts.push(`${k}="${escapeLabel(labels[k]!)}"`);
  return parts.length ? `{${parts.join(",")}}` : "";
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function num(value: number): string {
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  if (Number.isNaN(value)) return "NaN";
  return String(value);
}
