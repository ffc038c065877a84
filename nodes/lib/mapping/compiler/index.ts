import jsonata from "jsonata";
import { generate, Unsupported } from "./codegen";
import * as runtime from "./runtime";

export interface CompileOptions {
  /** Wall-time limit of one evaluation; past it evaluation fails with jsonata's D1012. */
  timeoutMs: number;
  /** Limit of jsonata's evaluation depth; past it evaluation fails with jsonata's D1011. */
  maxDepth: number;
}

/** A JSONata expression ready to evaluate, as generated JavaScript or in the jsonata interpreter. */
export interface CompiledExpression {
  readonly mode: "compiled" | "interpreted";
  /** Why the expression runs in the interpreter (only when mode is "interpreted"). */
  readonly reason?: string;
  /** The generated function's source, for diagnostics (only when compiled). */
  readonly source?: string;
  /** Evaluations the compiled code handed to the interpreter: errors, depth near the limit, async bindings. */
  readonly fallbacks: number;
  /** Same result as jsonata 2.2.2's evaluate: the value, undefined, or a rejection with jsonata's error. */
  evaluate(input: unknown, bindings?: Record<string, unknown>): Promise<unknown>;
}

type Interpreter = ReturnType<typeof jsonata>;
type GeneratedFunction = (input: unknown, bindings: unknown, st: runtime.EvalState) => unknown;

/**
 * Parses with jsonata (syntax errors are jsonata's own, thrown here) and compiles the AST to JavaScript.
 * Expressions using constructs the compiler does not reproduce run in the interpreter as a whole.
 *
 * Compiled evaluation has no side effects, so whenever it meets an error or a case it does not model it is
 * abandoned and the interpreter evaluates the same input: errors carry jsonata's exact code and message.
 */
export function compileJsonata(expression: string, options: CompileOptions): CompiledExpression {
  // The typings of jsonata 2.x omit the options argument that carries the guardrails.
  const withOptions = jsonata as unknown as (e: string, o: { timeout: number; stack: number }) => Interpreter;
  const interpreter = withOptions(expression, { timeout: options.timeoutMs, stack: options.maxDepth });
  let generated;
  try {
    generated = generate(interpreter.ast(), options.maxDepth);
  } catch (err) {
    if (err instanceof Unsupported) return new Interpreted(interpreter, err.message);
    throw err;
  }
  let fn: GeneratedFunction;
  try {
    const factory = new Function("rt", "K", generated.source) as (rt: unknown, k: unknown[]) => GeneratedFunction;
    fn = factory(runtime, Object.freeze(generated.constants.slice()) as unknown[]);
  } catch (err) {
    return new Interpreted(interpreter, `code generation failed: ${(err as Error).message}`);
  }
  return new Compiled(interpreter, fn, generated.source, generated.libraryNames, options.timeoutMs);
}

class Interpreted implements CompiledExpression {
  readonly mode = "interpreted" as const;
  readonly fallbacks = 0;
  constructor(
    private readonly interpreter: Interpreter,
    readonly reason: string,
  ) {}

  evaluate(input: unknown, bindings?: Record<string, unknown>): Promise<unknown> {
    return this.interpreter.evaluate(input, bindings);
  }
}

class Compiled implements CompiledExpression {
  readonly mode = "compiled" as const;
  private fallbackCount = 0;

  constructor(
    private readonly interpreter: Interpreter,
    private readonly fn: GeneratedFunction,
    readonly source: string,
    private readonly libraryNames: readonly string[],
    private readonly timeoutMs: number,
  ) {}

  get fallbacks(): number {
    return this.fallbackCount;
  }

  async evaluate(input: unknown, bindings?: Record<string, unknown>): Promise<unknown> {
    if (!runtime.libraryReady()) await runtime.loadLibrary();
    // A binding named like a library function replaces it; the generated code assumed the library.
    if (bindings && this.libraryNames.some((name) => hasKey(bindings, name))) {
      return this.fallback(input, bindings);
    }
    const now = Date.now();
    const st: runtime.EvalState = { t0: now, timeoutMs: this.timeoutMs, n: runtime.CLOCK_EVERY, d: 0, cc: undefined, ts: now };
    let result: unknown;
    try {
      result = this.fn(input, bindings, st);
    } catch (err) {
      if (err instanceof runtime.TimeLimitError) throw { code: err.code, value: err.value, message: err.message };
      return this.fallback(input, bindings);
    }
    // jsonata returns its own lambda objects; function results are left to it.
    if (runtime.isFunction(result)) return this.fallback(input, bindings);
    return result;
  }

  private fallback(input: unknown, bindings: Record<string, unknown> | undefined): Promise<unknown> {
    this.fallbackCount++;
    return this.interpreter.evaluate(input, bindings);
  }
}

function hasKey(bindings: object, name: string): boolean {
  return Object.prototype.propertyIsEnumerable.call(bindings, name);
}
