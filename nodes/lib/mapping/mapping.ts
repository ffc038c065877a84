import { validatorFor, type Violation } from "../canonical/schemas";
import { compileJsonata, type CompiledExpression } from "./compiler";

/** Limits that stop a runaway mapping: wall time per evaluation and depth of nested evaluation. */
export interface MappingLimits {
  timeoutMs: number;
  maxDepth: number;
}

export const DEFAULT_LIMITS: Readonly<MappingLimits> = Object.freeze({ timeoutMs: 1000, maxDepth: 500 });

/** JSONata reports errors as plain objects carrying a code and the position in the expression. */
interface JsonataErrorObject {
  code?: string;
  position?: number;
  token?: string;
  message?: string;
  value?: unknown;
}

/** The expression does not parse; `position` is the 1-based character where JSONata gave up. */
export class MappingSyntaxError extends Error {
  readonly code: string;
  readonly position: number | undefined;
  readonly token: string | undefined;
  constructor(e: JsonataErrorObject) {
    const where = e.position !== undefined ? ` at position ${e.position}` : "";
    const near = e.token !== undefined ? ` near "${e.token}"` : "";
    super(`mapping expression error ${e.code ?? ""}${where}${near}: ${e.message ?? "does not parse"}`);
    this.name = "MappingSyntaxError";
    this.code = e.code ?? "S0000";
    this.position = e.position;
    this.token = e.token;
  }
}

/** The expression failed while running on one input (a type error, a timeout, too deep a recursion). */
export class MappingRuntimeError extends Error {
  readonly code: string;
  readonly position: number | undefined;
  constructor(e: JsonataErrorObject) {
    let message = e.message ?? "evaluation failed";
    if (e.code === "D1012") message = `mapping ran longer than its time limit of ${String(e.value)} ms and was stopped`;
    if (e.code === "D1011") message = `mapping nested deeper than its depth limit of ${String(e.value)} and was stopped`;
    const where = e.position !== undefined && e.code !== "D1012" && e.code !== "D1011" ? ` at position ${e.position}` : "";
    super(`mapping error ${e.code ?? ""}${where}: ${message}`);
    this.name = "MappingRuntimeError";
    this.code = e.code ?? "D0000";
    this.position = e.position;
  }
}

/**
 * A JSONata mapping compiled once, evaluated per message. Most expressions are compiled to JavaScript; the rest
 * run in the jsonata interpreter (`mode` says which, `reason` why), with the same results either way.
 */
export class Mapping {
  readonly expression: string;
  readonly limits: MappingLimits;
  private readonly compiled: CompiledExpression;
  /** The evaluation in progress; the next one starts after it (see evaluate). */
  private tail: Promise<unknown> = Promise.resolve();
  private pending = 0;

  private constructor(expression: string, compiled: CompiledExpression, limits: MappingLimits) {
    this.expression = expression;
    this.compiled = compiled;
    this.limits = limits;
  }

  /** "compiled" when the expression runs as generated JavaScript, "interpreted" when jsonata evaluates it. */
  get mode(): "compiled" | "interpreted" {
    return this.compiled.mode;
  }

  /** Why the expression is interpreted (undefined when compiled). */
  get reason(): string | undefined {
    return this.compiled.reason;
  }

  static compile(expression: string, limits: Partial<MappingLimits> = {}): Mapping {
    if (typeof expression !== "string" || expression.trim() === "") {
      throw new MappingSyntaxError({ code: "S0000", message: "the mapping expression is empty" });
    }
    const effective: MappingLimits = {
      timeoutMs: positive(limits.timeoutMs, DEFAULT_LIMITS.timeoutMs),
      maxDepth: positive(limits.maxDepth, DEFAULT_LIMITS.maxDepth),
    };
    let compiled: CompiledExpression;
    try {
      compiled = compileJsonata(expression, effective);
    } catch (err) {
      throw new MappingSyntaxError(err as JsonataErrorObject);
    }
    return new Mapping(expression, compiled, effective);
  }

  /**
   * Evaluates against one input; the result never carries prototype-polluting keys.
   * Evaluations of one mapping run one after another: compiled code runs without pausing, but JSONata's
   * interpreter (for interpreted expressions and fallbacks) awaits at every step, so concurrent evaluations would
   * interleave and each would see the wall time of all of them against its time limit. Mapping is CPU-bound, so
   * running them in turn costs no throughput.
   */
  evaluate(input: unknown, bindings?: Record<string, unknown>): Promise<unknown> {
    // Nothing in progress: start now rather than a turn of the event loop later.
    const run = this.pending === 0 ? this.evaluateNow(input, bindings) : this.tail.then(() => this.evaluateNow(input, bindings));
    this.pending++;
    const settled = run.then(
      () => void this.pending--,
      () => void this.pending--,
    );
    this.tail = settled;
    return run;
  }

  private async evaluateNow(input: unknown, bindings?: Record<string, unknown>): Promise<unknown> {
    let result: unknown;
    try {
      result = await this.compiled.evaluate(input, bindings);
    } catch (err) {
      if (err instanceof Error && !(err as JsonataErrorObject).code) throw err;
      throw new MappingRuntimeError(err as JsonataErrorObject);
    }
    return cleanResult(result);
  }
}

function positive(value: number | undefined, fallback: number): number {
  return typeof value === "number" && Number.isFinite(value) && value > 0 ? value : fallback;
}

const FORBIDDEN_KEYS = new Set(["__proto__", "constructor", "prototype"]);

/**
 * Makes a JSONata result safe to hand on: plain objects only, no `__proto__` / `constructor` / `prototype` keys
 * (from the input or built by the expression), JSONata's sequence markers gone. Objects that are already clean
 * are returned as they are, so the common case costs one walk and no copy.
 */
export function cleanResult(value: unknown): unknown {
  return clean(value, 0);
}

function clean(value: unknown, depth: number): unknown {
  if (value === null || typeof value !== "object") return value;
  if (depth > 1000) throw new MappingRuntimeError({ code: "D1011", value: 1000 });
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    if ((value as { sequence?: boolean }).sequence) out = value.slice();
    for (let i = 0; i < value.length; i++) {
      const item = value[i];
      const cleaned = clean(item, depth + 1);
      if (cleaned !== item) {
        out ??= value.slice();
        out[i] = cleaned;
      }
    }
    return out ?? value;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) {
    // Buffers, dates and the like pass as they are; anything pretending to be a plain object is rebuilt.
    if (!isPollutedPlainObject(value)) return value;
  }
  let out: Record<string, unknown> | undefined = proto === Object.prototype ? undefined : {};
  const source = value as Record<string, unknown>;
  for (const key of Object.keys(source)) {
    if (FORBIDDEN_KEYS.has(key)) {
      out ??= copyUpTo(source, key);
      continue;
    }
    const item = source[key];
    const cleaned = clean(item, depth + 1);
    if (out) out[key] = cleaned;
    else if (cleaned !== item) {
      out = copyUpTo(source, key);
      out[key] = cleaned;
    }
  }
  return out ?? value;
}

/** An object whose prototype was replaced through a `__proto__` assignment by a JSONata object constructor. */
function isPollutedPlainObject(value: object): boolean {
  const ctor = (value as { constructor?: unknown }).constructor;
  return typeof ctor !== "function" || ctor === Object;
}

function copyUpTo(source: Record<string, unknown>, stop: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(source)) {
    if (key === stop) break;
    if (!FORBIDDEN_KEYS.has(key)) out[key] = source[key];
  }
  return out;
}

export interface MapResult {
  value: unknown;
  valid: boolean;
  errors: Violation[];
}

/** A mapping plus the canonical schema its result must satisfy. */
export class CanonicalMapper {
  readonly mapping: Mapping;
  readonly targetSchema: string | undefined;
  private readonly validate: ((data: unknown) => { valid: boolean; errors: Violation[] }) | undefined;

  constructor(options: { expression: string; targetSchema?: string | undefined; limits?: Partial<MappingLimits> }) {
    this.mapping = Mapping.compile(options.expression, options.limits);
    this.targetSchema = options.targetSchema || undefined;
    this.validate = this.targetSchema ? validatorFor(this.targetSchema) : undefined;
  }

  async map(input: unknown, bindings?: Record<string, unknown>): Promise<MapResult> {
    const value = await this.mapping.evaluate(input, bindings);
    if (!this.validate) return { value, valid: true, errors: [] };
    if (value === undefined) {
      return { value, valid: false, errors: [{ path: "(root)", message: "the mapping produced nothing", keyword: "required" }] };
    }
    const { valid, errors } = this.validate(value);
    return { value, valid, errors };
  }
}
