/**
 * Turns a JSONata AST (as jsonata 2.2.2's parser produces it) into the source of a JavaScript function.
 *
 * The source is made only of identifiers and punctuation chosen here: every string, number, regex and signature
 * from the expression is put in a constants array `K` and referred to by index, so no text of the expression is
 * ever spliced into code. Constructs the compiler does not model raise Unsupported, and the caller keeps the
 * interpreter for the whole expression.
 */
import { LIBRARY_NAMES } from "./runtime";

export class Unsupported extends Error {}

type Node = any;

export interface Generated {
  /** Body for `new Function("rt", "K", source)`; returns `(input, bindings, st) => value`. */
  source: string;
  constants: unknown[];
  /** Library functions the expression refers to by name: a binding with one of these names changes its meaning. */
  libraryNames: string[];
}

/** Names of jsonata library functions the compiler does not reproduce. */
const INTERPRETER_ONLY = new Set(["eval", "clone"]);

interface Scope {
  parent: Scope | undefined;
  /** jsonata variable name → JS expression reading it. */
  vars: Map<string, string>;
}

interface Fn {
  /** JS variable holding the caller's context inside a lambda (for tail calls), undefined at the root. */
  callerContext: string | undefined;
}

interface Ctx {
  /** JS expression (a variable) holding the context value. */
  input: string;
  scope: Scope;
  fn: Fn;
  /** Temporaries of the JS function being generated, declared at its top. */
  temps: string[];
}

export function generate(ast: Node, maxDepth: number): Generated {
  return new Generator(maxDepth).root(ast);
}

class Generator {
  private readonly constants: unknown[] = [];
  private readonly constantIndex = new Map<unknown, number>();
  private readonly globals = new Map<string, string>();
  private readonly globalDecls: string[] = [];
  private readonly libraryNames = new Set<string>();
  /** Bind nodes in a position where they write the enclosing frame (block statements, bodies). */
  private readonly statementBinds = new Set<Node>();
  private ids = 0;

  constructor(private readonly maxDepth: number) {}

  root(ast: Node): Generated {
    const rootScope: Scope = { parent: undefined, vars: new Map() };
    const fn: Fn = { callerContext: undefined };
    const frame = this.frame(rootScope, [ast]);
    const ctx: Ctx = { input: "c0", scope: frame.scope, fn, temps: [] };
    const body = this.gen(ast, ctx);
    const depth = depthOf(ast);
    const source = [
      '"use strict";',
      // Nothing the expression reaches should be able to name these; the code below never does either.
      "const globalThis = undefined, global = undefined, process = undefined, require = undefined, module = undefined,",
      "  Function = undefined, Reflect = undefined, Proxy = undefined, setTimeout = undefined, setInterval = undefined,",
      "  setImmediate = undefined, queueMicrotask = undefined, Buffer = undefined, fetch = undefined, WebAssembly = undefined;",
      `const LIM = K[${this.constant(this.maxDepth)}];`,
      "return function compiled(input, bindings, st) {",
      "  rt.begin(st);",
      "  const R = input;",
      "  const c0 = rt.wrapInput(input);",
      ...this.globalDecls.map((d) => "  " + d),
      `  if (K[${this.constant(depth)}] > LIM) rt.bail();`,
      `  st.d = K[${this.constant(depth + 2)}];`,
      ...frame.decls.map((d) => "  " + d),
      ...declareTemps(ctx.temps).map((d) => "  " + d),
      `  return ${body};`,
      "};",
    ].join("\n");
    return { source, constants: this.constants, libraryNames: [...this.libraryNames] };
  }

  private constant(value: unknown): number {
    let i = this.constantIndex.get(value);
    if (i === undefined || typeof value === "object") {
      i = this.constants.length;
      this.constants.push(value);
      if (typeof value !== "object") this.constantIndex.set(value, i);
    }
    return i;
  }

  private k(value: unknown): string {
    return `K[${this.constant(value)}]`;
  }

  private fresh(prefix: string): string {
    return `${prefix}${++this.ids}`;
  }

  /**
   * A temporary of the enclosing JS function. An expression cannot be re-entered within one invocation of that
   * function (re-entry goes through a call, which is a new invocation), so temporaries need no fresh scope.
   */
  private temp(c: Ctx, prefix: string): string {
    const t = this.fresh(prefix);
    c.temps.push(t);
    return t;
  }

  /** An arrow function whose body is generated with its own temporaries. */
  private arrow(params: string, body: (temps: string[]) => string): string {
    const temps: string[] = [];
    const expression = body(temps);
    if (temps.length === 0) return `((${params}) => ${expression})`;
    return `((${params}) => { ${declareTemps(temps).join(" ")} return ${expression}; })`;
  }

  /**
   * A jsonata frame (root, lambda body, block): the variables its statement-level binds write are declared
   * here, starting with the value the name has outside, which is what jsonata's lookup sees before the bind.
   * A lambda's frame already holds its parameters (`own`): a bind to a parameter writes the parameter.
   */
  private frame(outer: Scope, statements: Node[], own?: Scope): { scope: Scope; decls: string[] } {
    const scope: Scope = own ?? { parent: outer, vars: new Map() };
    const decls: string[] = [];
    for (const st of statements) {
      if (st && st.type === "bind") {
        if (st.lhs?.type !== "variable") throw new Unsupported("an assignment to something other than a variable");
        this.statementBinds.add(st);
        const name: string = st.lhs.value;
        if (!scope.vars.has(name)) {
          const outerValue = this.resolve(name, outer);
          const v = this.fresh("v");
          decls.push(`let ${v} = ${outerValue};`);
          scope.vars.set(name, v);
        }
      }
    }
    return { scope, decls };
  }

  private resolve(name: string, scope: Scope | undefined): string {
    for (let s = scope; s; s = s.parent) {
      const v = s.vars.get(name);
      if (v !== undefined) return v;
    }
    return this.global(name);
  }

  private global(name: string): string {
    const known = this.globals.get(name);
    if (known) return known;
    if (INTERPRETER_ONLY.has(name)) throw new Unsupported(`uses $${name}()`);
    const v = this.fresh("g");
    if (LIBRARY_NAMES.has(name)) {
      this.libraryNames.add(name);
      this.globalDecls.push(`const ${v} = rt.lib[${this.k(name)}];`);
    } else {
      this.globalDecls.push(`const ${v} = rt.binding(bindings, ${this.k(name)});`);
    }
    this.globals.set(name, v);
    return v;
  }

  /** The library function a call's procedure names, if it is one (and not shadowed by a variable). */
  private libraryFunction(proc: Node, scope: Scope): string | undefined {
    if (proc.type !== "variable" || proc.predicate || proc.group || proc.keepArray) return undefined;
    const name: string = proc.value;
    if (name === "" || name === "$") return undefined;
    for (let s: Scope | undefined = scope; s; s = s.parent) if (s.vars.has(name)) return undefined;
    if (!LIBRARY_NAMES.has(name)) return undefined;
    this.global(name);
    return name;
  }

  // -------------------------------------------------------------------------------------------------------
  // Expressions

  /** A node with jsonata's evaluate() around it: predicates, group-by, then sequence normalisation. */
  private gen(node: Node, c: Ctx): string {
    let code = this.bare(node, c);
    if (node.predicate) {
      for (const p of node.predicate) code = `rt.filter(${this.predicate(p.expr, c, undefined)}, ${code})`;
    }
    if (node.group && node.type !== "path") code = this.group(node.group.lhs, code, c, undefined);
    return this.wrap(node, code);
  }

  private wrap(node: Node, code: string): string {
    if (node.keepArray) return `rt.normKeep(${code})`;
    if (!mayBeSequence(node)) return code;
    return `rt.norm(${code})`;
  }

  private bare(node: Node, c: Ctx): string {
    switch (node.type) {
      case "string":
      case "number":
        return this.k(node.value);
      case "value":
        if (node.value === true) return "true";
        if (node.value === false) return "false";
        if (node.value === null) return "null";
        throw new Unsupported("an unknown literal");
      case "regex":
        return `rt.regex(${this.k(node.value)})`;
      case "name":
        return `rt.lookup(${c.input}, ${this.k(node.value)})`;
      case "wildcard":
        return `rt.wildcard(${c.input})`;
      case "descendant":
        return `rt.descendants(${c.input})`;
      case "variable":
        return this.variable(node, c);
      case "path":
        return this.path(node, c);
      case "binary":
        return this.binary(node, c);
      case "unary":
        return this.unary(node, c);
      case "condition":
        return this.condition(node, c, undefined);
      case "block":
        return this.block(node, c, undefined);
      case "bind":
        if (!this.statementBinds.has(node)) throw new Unsupported("an assignment inside an expression");
        return `(${this.resolve(node.lhs.value, c.scope)} = ${this.gen(node.rhs, c)})`;
      case "function":
        return this.call(node, c, c.input, undefined);
      case "lambda":
        if (node.thunk) throw new Unsupported("a tail call outside a function body");
        return this.lambda(node, c);
      case "apply":
        return this.apply(node, c);
      case "sort":
        throw new Unsupported("a sort outside a path");
      case "partial": {
        // arguments of a partial application are not wrapped like call arguments
        const args = node.arguments.map((a: Node) => (a.type === "operator" && a.value === "?" ? "rt.PLACEHOLDER" : this.gen(a, c)));
        return `rt.partial(${this.gen(node.procedure, c)}, [${args.join(", ")}])`;
      }
      case "transform":
        throw new Unsupported("uses the transform operator");
      case "parent":
        throw new Unsupported("uses the parent operator %");
      default:
        throw new Unsupported(`the ${String(node.type)} construct`);
    }
  }

  private variable(node: Node, c: Ctx): string {
    if (node.value === "") return `rt.context(${c.input})`;
    if (node.value === "$") return "R";
    return this.resolve(node.value, c.scope);
  }

  private binary(node: Node, c: Ctx): string {
    const l = this.gen(node.lhs, c);
    const r = this.gen(node.rhs, c);
    const helper: Record<string, string> = {
      "+": "add", "-": "sub", "*": "mul", "/": "div", "%": "mod", "=": "eq", "!=": "ne", "<": "lt", "<=": "le",
      ">": "gt", ">=": "ge", "&": "concat", "..": "range", in: "includes",
    };
    if (node.value === "and") return `(${this.truth(node.lhs, l)} && ${this.truth(node.rhs, r)})`;
    if (node.value === "or") return `(${this.truth(node.lhs, l)} || ${this.truth(node.rhs, r)})`;
    // Against a literal, jsonata's deep equality is ===, and an absent value is never equal nor unequal.
    if ((node.value === "=" || node.value === "!=") && (isLiteral(node.rhs) || isLiteral(node.lhs))) {
      const t = this.temp(c, "e");
      const [value, literal] = isLiteral(node.rhs) ? [l, r] : [r, l];
      return node.value === "=" ? `(${value} === ${literal})` : `((${t} = ${value}) !== undefined && ${t} !== ${literal})`;
    }
    const h = helper[node.value];
    if (!h) throw new Unsupported(`the ${String(node.value)} operator`);
    return `rt.${h}(${l}, ${r})`;
  }

  /** `code` (the value of `node`) as the boolean jsonata's and/or take: undefined counts as false. */
  private truth(node: Node, code: string): string {
    const kind = booleanKind(node);
    if (kind === "boolean") return code;
    if (kind === "maybe") return `(${code} === true)`;
    return `rt.truthy(${code})`;
  }

  /** `code` as the test of a condition: jsonata's effective boolean value, where undefined is false. */
  private test(node: Node, code: string): string {
    return booleanKind(node) === "other" ? `rt.boolean(${code})` : code;
  }

  private unary(node: Node, c: Ctx): string {
    if (node.value === "-") return `rt.neg(${this.gen(node.expression, c)})`;
    if (node.value === "[") {
      const a = this.temp(c, "a");
      const items = node.expressions.map(
        (item: Node) => `rt.arrayItem(${a}, ${this.gen(item, c)}, ${item.value === "[" ? "true" : "false"})`,
      );
      const result = node.consarray ? `rt.markCons(${a})` : a;
      return `(${[`${a} = []`, ...items, result].join(", ")})`;
    }
    if (node.value === "{") return this.group(node.lhs, c.input, c, undefined);
    throw new Unsupported(`the unary ${String(node.value)} operator`);
  }

  /** Object constructor / group-by over `inputCode`; tupleNames set when the input is a tuple stream. */
  private group(pairs: Node[][], inputCode: string, c: Ctx, tupleNames: Set<string> | undefined): string {
    const keysLiteral = !tupleNames && pairs.every((p) => isLiteral(p[0]) && p[0].type === "string");
    const keyValues = keysLiteral ? pairs.map((p) => p[0].value as string) : [];
    const literalOk =
      keysLiteral &&
      new Set(keyValues).size === keyValues.length &&
      !keyValues.includes("_jsonata_lambda") &&
      !keyValues.includes("_jsonata_function");
    if (!literalOk) {
      const keyFns = pairs.map((p) => this.itemFunction(p[0], c, tupleNames));
      const valueFns = pairs.map((p) => this.itemFunction(p[1], c, tupleNames));
      return `rt.group(${inputCode}, [${keyFns.join(", ")}], [${valueFns.join(", ")}])`;
    }
    // Distinct literal keys: every item of the input lands in every key, so each value is evaluated once, on
    // all the items appended together (rt.groupContext), in the key order jsonata's grouping produces.
    const i = this.temp(c, "i");
    const o = this.temp(c, "o");
    const v = this.temp(c, "x");
    const inner: Ctx = { ...c, input: i };
    const sets = jsonataKeyOrder(keyValues).map((idx) => {
      const key = keyValues[idx]!;
      const assign = (value: string): string =>
        key === "__proto__" ? `rt.setKey(${o}, ${this.k(key)}, ${value})` : `(${o}[${this.k(key)}] = ${value})`;
      const valueNode = pairs[idx]![1];
      if (isLiteral(valueNode)) return assign(this.gen(valueNode, inner));
      return `(${v} = ${this.gen(valueNode, inner)}) !== undefined && ${assign(v)}`;
    });
    return `(${[`${i} = rt.groupContext(${inputCode})`, `${o} = {}`, ...sets, o].join(", ")})`;
  }

  /** `(item, tuple) => expression` evaluated with item as context, tuple bindings visible when given. */
  private itemFunction(node: Node, c: Ctx, tupleNames: Set<string> | undefined): string {
    const x = this.fresh("x");
    const t = this.fresh("t");
    const scope = tupleNames ? this.tupleScope(c.scope, t, tupleNames) : c.scope;
    return this.arrow(`${x}, ${t}`, (temps) => this.gen(node, { ...c, input: x, scope, temps }));
  }

  private predicate(expr: Node, c: Ctx, tupleNames: Set<string> | undefined): string {
    if (expr.type === "number" && !expr.predicate && !expr.group && !expr.keepArray) return this.k(expr.value);
    return this.itemFunction(expr, c, tupleNames);
  }

  private tupleScope(outer: Scope, tupleVar: string, names: Set<string>): Scope {
    const vars = new Map<string, string>();
    for (const n of names) vars.set(n, `${tupleVar}[${this.k(n)}]`);
    return { parent: outer, vars };
  }

  private condition(node: Node, c: Ctx, tail: string[] | undefined): string {
    const test = this.gen(node.condition, c);
    if (tail) {
      if (node.predicate || node.group) throw new Unsupported("a filtered tail call");
      const w = [node.keepArray ? "normKeep" : "norm", ...tail];
      const then = this.tail(node.then, c, w);
      const otherwise = node.else !== undefined ? this.tail(node.else, c, w) : applyWrappers("undefined", w);
      return `(${this.test(node.condition, test)} ? ${then} : ${otherwise})`;
    }
    const then = this.gen(node.then, c);
    const otherwise = node.else !== undefined ? this.gen(node.else, c) : "undefined";
    return `(${this.test(node.condition, test)} ? ${then} : ${otherwise})`;
  }

  private block(node: Node, c: Ctx, tail: string[] | undefined): string {
    const expressions: Node[] = node.expressions;
    const frame = this.frame(c.scope, expressions);
    // a block that binds variables runs in its own function, so closures made in it keep their own frame
    const inner: Ctx = { ...c, scope: frame.scope, temps: frame.decls.length ? [] : c.temps };
    let parts: string[];
    if (tail) {
      if (node.predicate || node.group) throw new Unsupported("a filtered tail call");
      const w = [node.keepArray ? "normKeep" : "norm", ...tail];
      parts = expressions.map((e, i) => (i === expressions.length - 1 ? this.tail(e, inner, w) : this.gen(e, inner)));
      if (parts.length === 0) parts = [applyWrappers("undefined", w)];
    } else {
      parts = expressions.map((e) => this.gen(e, inner));
      if (parts.length === 0) parts = ["undefined"];
    }
    if (frame.decls.length === 0) return `(${parts.join(", ")})`;
    return `(() => { ${frame.decls.join(" ")} ${declareTemps(inner.temps).join(" ")} return (${parts.join(", ")}); })()`;
  }

  /**
   * An expression in tail position of a lambda body. jsonata turns a call there into a thunk that its
   * trampoline applies after the body returns: the call's result then skips the normalisation every enclosing
   * node would apply, while other results get it. `wrappers` are those enclosing normalisations.
   */
  private tail(node: Node, c: Ctx, wrappers: string[]): string {
    if (node.type === "lambda" && node.thunk) {
      const callNode = node.body;
      if (callNode.group) throw new Unsupported("a grouped tail call");
      return this.call(callNode, c, c.fn.callerContext ?? "null", undefined);
    }
    if (node.type === "condition") return this.condition(node, c, wrappers);
    if (node.type === "block") return this.block(node, c, wrappers);
    return applyWrappers(this.gen(node, c), wrappers);
  }

  /** A function call; `context` is what jsonata validates the arguments against (and `this` for JS functions). */
  private call(node: Node, c: Ctx, context: string, firstArgument: string | undefined): string {
    const args: string[] = [];
    if (firstArgument !== undefined) args.push(firstArgument);
    for (const a of node.arguments) {
      if (a.type === "operator" && a.value === "?") throw new Unsupported("partial function application");
      const code = this.gen(a, c);
      args.push(mayBeFunction(a) ? `rt.argument(${code})` : code);
    }
    const library = this.libraryFunction(node.procedure, c.scope);
    if (library !== undefined) {
      const fast = fastLibraryCall(library, args);
      if (fast) return fast;
      return `rt.callBuiltin(${this.resolve(library, c.scope)}, [${args.join(", ")}], ${context})`;
    }
    if (args.length === 1) return `rt.call1(st, ${this.gen(node.procedure, c)}, ${args[0]}, ${context})`;
    return `rt.call(st, ${this.gen(node.procedure, c)}, [${args.join(", ")}], ${context})`;
  }

  private apply(node: Node, c: Ctx): string {
    const lhs = this.gen(node.lhs, c);
    if (node.rhs.type === "function") return this.call(node.rhs, c, c.input, lhs);
    return `rt.applyTo(st, ${lhs}, ${this.gen(node.rhs, c)})`;
  }

  private lambda(node: Node, c: Ctx): string {
    const params: string[] = [];
    const scope: Scope = { parent: c.scope, vars: new Map() };
    for (const p of node.arguments) {
      if (p.type !== "variable") throw new Unsupported("a parameter that is not a variable");
      const v = this.fresh("p");
      params.push(v);
      scope.vars.set(p.value, v);
    }
    const frame = this.frame(c.scope, [node.body], scope);
    const decls = frame.decls;
    const b = this.fresh("B");
    const cc = this.fresh("CC");
    const r = this.fresh("r");
    const inner: Ctx = { input: c.input, scope: frame.scope, fn: { callerContext: cc }, temps: [] };
    const body = this.tail(node.body, inner, []);
    decls.push(...declareTemps(inner.temps));
    const depth = this.k(depthOf(node.body));
    const reserve = this.k(depthOf(node.body) + 2);
    const signature = node.signature ? this.k(node.signature) : "undefined";
    return (
      `rt.lambda(function (${params.join(", ")}) { const ${b} = st.d, ${cc} = st.cc; ` +
      `if (${b} + ${depth} > LIM) rt.bail(); if (--st.n < 0) rt.clock(st); st.d = ${b} + ${reserve}; ` +
      `${decls.join(" ")} const ${r} = ${body}; st.d = ${b}; return ${r}; }, ${signature})`
    );
  }

  // -------------------------------------------------------------------------------------------------------
  // Paths

  private path(node: Node, c: Ctx): string {
    const steps: Node[] = node.steps;
    if (node.tuple) throw new Unsupported("a path that carries bindings into an enclosing path");
    for (const s of steps) {
      if (s.type === "parent" || s.ancestor) throw new Unsupported("uses the parent operator %");
    }
    const fast = this.simplePath(node, c);
    if (fast) return fast;
    // the path runs in its own function; what it evaluates directly gets that function's temporaries
    c = { ...c, temps: [] };
    const inp = this.fresh("s");
    const rs = this.fresh("r");
    const tb = this.fresh("tb");
    const tup = this.fresh("tu");
    const lines: string[] = [];
    const firstIsVariable = steps[0].type === "variable";
    lines.push(
      firstIsVariable
        ? `let ${inp} = rt.seq1(${c.input}), ${rs}, ${tb}, ${tup} = false;`
        : `let ${inp} = Array.isArray(${c.input}) ? ${c.input} : rt.seq1(${c.input}), ${rs}, ${tb}, ${tup} = false;`,
    );
    lines.push("do {");
    let tupleMode = false;
    let tupleSeen = false;
    const tupleNames = new Set<string>();
    for (let ii = 0; ii < steps.length; ii++) {
      const s = steps[ii];
      const last = ii === steps.length - 1;
      if (s.tuple) tupleMode = true;
      if (ii === 0 && s.consarray) {
        if (tupleMode) throw new Unsupported("bindings on an array constructor");
        lines.push(`${rs} = ${this.gen(s, { ...c, input: inp })};`);
      } else if (tupleMode && last && tupleSeen && !node.group && s.type !== "sort" && !s.stages && s.focus === undefined && s.index === undefined) {
        // The last step of a path with bindings binds nothing new and nothing groups the tuples: its results
        // are the path's items, without building the tuples jsonata would unwrap at once.
        const x = this.fresh("x");
        const t = this.fresh("t");
        const before = new Set(tupleNames);
        const stepFn = this.arrow(`${x}, ${t}`, (temps) => this.gen(s, { ...c, input: x, scope: this.tupleScope(c.scope, t, before), temps }));
        lines.push(`${rs} = rt.tupleResults(${tb}, ${stepFn}); ${tup} = false;`);
      } else if (tupleMode) {
        lines.push(`${tup} = true;`);
        lines.push(`${tb} = ${this.tupleStep(s, inp, tb, !tupleSeen, c, tupleNames)};`);
        tupleSeen = true;
      } else if (s.type === "sort") {
        lines.push(`${rs} = ${this.sortStep(s, inp, c, undefined)};`);
        for (const stage of s.stages ?? []) {
          if (stage.type !== "filter") throw new Unsupported("an index binding on a sort step");
          lines.push(`${rs} = rt.filter(${this.predicate(stage.expr, c, undefined)}, ${rs});`);
        }
      } else {
        const x = this.fresh("x");
        const stepFn = this.arrow(x, (temps) => this.gen(s, { ...c, input: x, temps }));
        let stages = "undefined";
        if (s.stages) {
          const preds = s.stages.map((stage: Node) => {
            if (stage.type !== "filter") throw new Unsupported("an index binding outside a tuple path");
            return this.predicate(stage.expr, c, undefined);
          });
          stages = `[${preds.join(", ")}]`;
        }
        lines.push(`${rs} = rt.step(${inp}, ${stepFn}, ${stages}, ${last ? "true" : "false"});`);
      }
      if (!tupleMode) lines.push(`if (${rs} === undefined || ${rs}.length === 0) break;`);
      if (s.focus === undefined && !tupleMode) lines.push(`${inp} = ${rs};`);
    }
    lines.push("} while (false);");
    lines.push(`if (${tup}) ${rs} = rt.tupleItems(${tb});`);
    if (node.keepSingletonArray) lines.push(`${rs} = rt.keepSingletonArray(${rs});`);
    if (node.group) {
      const plain = this.group(node.group.lhs, rs, c, undefined);
      // a tuple stream is grouped with its bindings, an ordinary sequence without
      const grouped = tupleMode ? `${tup} ? ${this.group(node.group.lhs, tb, c, tupleNames)} : ${plain}` : plain;
      lines.push(`${rs} = ${grouped};`);
    }
    lines.push(`return ${rs};`);
    return `(() => { ${declareTemps(c.temps).join(" ")} ${lines.join(" ")} })()`;
  }

  /**
   * `a.b.c` on an object: a chain of field names without filters or array flags. Objects are walked directly;
   * on anything else (an array met on the way, a wrapped input) it falls back to the general path code.
   */
  private simplePath(node: Node, c: Ctx): string | undefined {
    const steps: Node[] = node.steps;
    if (node.group || node.keepSingletonArray || steps.length > 6) return undefined;
    for (const s of steps) {
      if (s.type !== "name" || s.stages || s.predicate || s.group || s.keepArray || s.tuple || s.focus || s.index !== undefined) {
        return undefined;
      }
    }
    if (steps.length === 1) return `rt.field(${c.input}, ${this.k(steps[0].value)})`;
    return `rt.fieldPath(${c.input}, ${this.k(Object.freeze(steps.map((s) => s.value as string)))})`;
  }

  private sortStep(s: Node, input: string, c: Ctx, tupleNames: Set<string> | undefined): string {
    const terms = s.terms.map((t: Node) => this.itemFunction(t.expression, c, tupleNames));
    const desc = s.terms.map((t: Node) => (t.descending === true ? "true" : "false"));
    return `rt.orderBy(${input}, [${terms.join(", ")}], [${desc.join(", ")}])`;
  }

  private tupleStep(s: Node, input: string, tuples: string, first: boolean, c: Ctx, names: Set<string>): string {
    for (const name of [s.focus, s.index, ...(s.stages ?? []).map((stage: Node) => stage.value)]) {
      if (name === "__proto__") throw new Unsupported("a binding named $__proto__");
    }
    const before = new Set(names);
    let stepFn = "";
    let sortTerms = "";
    if (s.type === "sort") {
      if (first && s.index === undefined) throw new Unsupported("a sort starting a path with bindings");
      // terms see the bindings of the tuples they sort (none when the sort starts the tuple stream)
      const terms = s.terms.map((term: Node) => this.itemFunction(term.expression, c, first ? undefined : before));
      const desc = s.terms.map((term: Node) => (term.descending === true ? "true" : "false"));
      sortTerms = `[${terms.join(", ")}], [${desc.join(", ")}]`;
    } else {
      const x = this.fresh("x");
      const t = this.fresh("t");
      stepFn = this.arrow(`${x}, ${t}`, (temps) => this.gen(s, { ...c, input: x, scope: this.tupleScope(c.scope, t, before), temps }));
    }
    if (s.focus !== undefined) names.add(s.focus);
    if (s.index !== undefined) names.add(s.index);
    const stages: string[] = [];
    for (const stage of s.stages ?? []) {
      if (stage.type === "filter") stages.push(`{ filter: ${this.predicate(stage.expr, c, new Set(names))} }`);
      else if (stage.type === "index") {
        stages.push(`{ index: ${this.k(stage.value)} }`);
        names.add(stage.value);
      } else throw new Unsupported(`a ${String(stage.type)} stage`);
    }
    const focus = s.focus !== undefined ? this.k(s.focus) : "undefined";
    const index = s.index !== undefined ? this.k(s.index) : "undefined";
    const stageList = stages.length ? `[${stages.join(", ")}]` : "undefined";
    if (s.type === "sort") return `rt.tupleSort(${input}, ${first ? "undefined" : tuples}, ${sortTerms}, ${index}, ${stageList})`;
    return `rt.tupleStep(${input}, ${tuples}, ${stepFn}, ${focus}, ${index}, ${stageList})`;
  }
}

/**
 * What a node's value can be: "boolean" (=, !=, in, and, or always give true or false), "maybe" (< <= > >= give
 * a boolean or undefined), or "other".
 */
function booleanKind(node: Node): "boolean" | "maybe" | "other" {
  if (node.type !== "binary" || node.predicate || node.group || node.keepArray) return "other";
  if (["=", "!=", "in", "and", "or"].includes(node.value)) return "boolean";
  if (["<", "<=", ">", ">="].includes(node.value)) return "maybe";
  return "other";
}

/** A literal without filters: its value is never undefined. */
function isLiteral(node: Node): boolean {
  return (node.type === "string" || node.type === "number" || node.type === "value") && !node.predicate && !node.group && !node.keepArray;
}

function declareTemps(temps: string[]): string[] {
  return temps.length ? [`let ${temps.join(", ")};`] : [];
}

function applyWrappers(code: string, wrappers: string[]): string {
  let out = code;
  for (const w of wrappers) out = `rt.${w}(${out})`;
  return out;
}

/** Calls to library functions that need no signature check for the argument shapes given. */
function fastLibraryCall(name: string, args: string[]): string | undefined {
  if (name === "string" && args.length === 1) return `rt.fastString(${args[0]})`;
  if (name === "exists" && args.length === 1) return `(${args[0]} !== undefined)`;
  return undefined;
}

/** Keys of an object in the order jsonata's grouping produces them: integer-like keys first, ascending. */
function jsonataKeyOrder(keys: string[]): number[] {
  const probe: Record<string, number> = Object.create(null);
  keys.forEach((k, i) => {
    probe[k] = i;
  });
  return Object.keys(probe).map((k) => probe[k]!);
}

/** Whether jsonata's evaluate() could get a sequence back from this node before normalising it. */
function mayBeSequence(node: Node): boolean {
  if (node.predicate) return true;
  if (node.group && node.type !== "path") return false;
  switch (node.type) {
    case "string":
    case "number":
    case "value":
    case "regex":
    case "lambda":
    case "partial":
      return false;
    case "unary":
      return false;
    case "binary":
      return node.value === "..";
    default:
      return true;
  }
}

/** Whether a node's value could be a function (only those are wrapped when passed as an argument). */
function mayBeFunction(node: Node): boolean {
  switch (node.type) {
    case "string":
    case "number":
    case "value":
    case "binary":
      return false;
    case "unary":
      return false;
    default:
      return true;
  }
}

/**
 * An upper bound of how many nested evaluate() calls jsonata makes for a node: one per AST level, which covers
 * the levels its evaluator adds for steps, filters and arguments.
 */
export function depthOf(node: Node): number {
  let max = 0;
  const visit = (v: any): void => {
    if (Array.isArray(v)) {
      for (const item of v) visit(item);
    } else if (v && typeof v === "object" && !(v instanceof RegExp)) {
      if (typeof v.type === "string") max = Math.max(max, depthOf(v));
      else for (const key of Object.keys(v)) if (key !== "signature") visit(v[key]);
    }
  };
  for (const key of Object.keys(node)) {
    if (key === "signature" || key === "position" || key === "value" || key === "slot") continue;
    visit(node[key]);
  }
  return 1 + max;
}
