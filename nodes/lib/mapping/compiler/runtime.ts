/**
 * What compiled JSONata code calls at run time. Every helper reproduces one piece of jsonata 2.2.2's evaluator
 * (sequences, flattening, filters, object grouping, function application) on plain synchronous values.
 *
 * Where jsonata would raise an error, or where a value is of a kind these helpers do not model (a Promise from a
 * user function, a jsonata lambda object handed in through bindings), they throw BAIL instead: the caller then
 * runs the whole expression again in the jsonata interpreter, which produces the exact error or result. Compiled
 * evaluation is free of side effects, so running it again is safe. Only the time limit is reported directly.
 */
import jsonata from "jsonata";

/** Thrown to abandon a compiled evaluation; carries no stack so throwing it is cheap. */
export const BAIL: { readonly bail: true } = Object.freeze({ bail: true as const });

/** jsonata's error for an evaluation that ran past its time limit. */
export class TimeLimitError {
  readonly code = "D1012";
  readonly value: number;
  readonly message: string;
  constructor(limitMs: number) {
    this.value = limitMs;
    this.message = `Evaluation timeout after ${limitMs} milliseconds. Check for infinite loop`;
  }
}

/** Per-evaluation state shared by the generated code and these helpers. */
export interface EvalState {
  /** Evaluation start (ms) and limit. */
  t0: number;
  timeoutMs: number;
  /** Countdown to the next clock check, so Date.now() is read once per many steps. */
  n: number;
  /** Upper bound of jsonata's evaluation depth at the current point. */
  d: number;
  /** Context of the call that invoked the current lambda (jsonata validates tail calls against it). */
  cc: unknown;
  /** The evaluation's timestamp for $now() and $millis(). */
  ts: number;
  /** Made on first use by a date function. */
  env?: { timestamp: Date };
}

export const CLOCK_EVERY = 256;

/** The state of the evaluation in progress; evaluations are synchronous, so one slot is enough. */
let current: EvalState;

export function begin(st: EvalState): void {
  current = st;
}


/** Counts one step of work; every CLOCK_EVERY steps the time limit is checked. */
export function tick(): void {
  if (--current.n < 0) clock(current);
}

export function clock(st: EvalState): void {
  st.n = CLOCK_EVERY;
  if (Date.now() - st.t0 > st.timeoutMs) throw new TimeLimitError(st.timeoutMs);
}

export function bail(): never {
  throw BAIL;
}

// ---------------------------------------------------------------------------------------------------------
// Values and sequences

export type Seq = any[] & { sequence?: boolean; keepSingleton?: boolean; tupleStream?: boolean; outerWrapper?: boolean; cons?: boolean };

export function seq(): Seq {
  const s: Seq = [];
  s.sequence = true;
  return s;
}

/** jsonata's createSequence(value): note that it holds the value even when it is undefined. */
export function seq1(value: unknown): Seq {
  const s: Seq = [value];
  s.sequence = true;
  return s;
}

export function isSeq(v: any): boolean {
  return Array.isArray(v) && (v as Seq).sequence === true;
}

/** A JSON array given as the whole input is wrapped so that it is treated as one value. */
export function wrapInput(input: unknown): unknown {
  if (Array.isArray(input) && !isSeq(input)) {
    const s = seq1(input);
    s.outerWrapper = true;
    return s;
  }
  return input;
}

/** The end of jsonata's evaluate(): empty sequences vanish, singletons unwrap unless kept. */
export function norm(r: any): any {
  if (r && isSeq(r) && !r.tupleStream) {
    if (r.length === 0) return undefined;
    if (r.length === 1) return r.keepSingleton ? r : r[0];
  }
  return r;
}

/** norm() for a node written with `[]`. */
export function normKeep(r: any): any {
  if (r && isSeq(r) && !r.tupleStream) {
    r.keepSingleton = true;
    if (r.length === 0) return undefined;
  }
  return r;
}

export function isFunction(v: any): boolean {
  if (typeof v === "function") return true;
  return typeof v === "object" && v !== null && (v._jsonata_function === true || v._jsonata_lambda === true);
}

/** jsonata's isNumeric: NaN is not a number, and an infinite number is an error. */
export function isNumeric(n: any): boolean {
  if (typeof n !== "number") return false;
  if (Number.isNaN(n)) return false;
  if (!Number.isFinite(n)) throw BAIL;
  return true;
}

function isArrayOfNumbers(v: any): boolean {
  if (!Array.isArray(v)) return false;
  for (let i = 0; i < v.length; i++) if (!isNumeric(v[i])) return false;
  return true;
}

const hasOwn = Object.prototype.hasOwnProperty;

/** A field step: `input.key`, mapping over arrays and flattening one level. */
export function lookup(input: any, key: string): any {
  if (Array.isArray(input)) {
    const result = seq();
    for (let i = 0; i < input.length; i++) {
      const res = lookup(input[i], key);
      if (res !== undefined) {
        if (Array.isArray(res)) for (let j = 0; j < res.length; j++) result.push(res[j]);
        else result.push(res);
      }
    }
    return result;
  }
  if (input !== null && typeof input === "object" && hasOwn.call(input, key) && !isFunction(input)) return input[key];
  return undefined;
}

/** The value of `$`: the context, unwrapped if it is the wrapped input array. */
export function context(input: any): any {
  return input && input.outerWrapper ? input[0] : input;
}

/** Sets a key on an object built by the expression without ever touching its prototype. */
export function setKey(obj: Record<string, unknown>, key: string, value: unknown): void {
  if (key === "__proto__") Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  else obj[key] = value;
}

/** Equality as jsonata's isDeepEqual. */
export function deepEqual(lhs: any, rhs: any): boolean {
  if (lhs === rhs) return true;
  if (typeof lhs === "object" && typeof rhs === "object" && lhs !== null && rhs !== null) {
    if (Array.isArray(lhs) && Array.isArray(rhs)) {
      if (lhs.length !== rhs.length) return false;
      for (let i = 0; i < lhs.length; i++) if (!deepEqual(lhs[i], rhs[i])) return false;
      return true;
    }
    const lkeys = Object.getOwnPropertyNames(lhs).sort();
    const rkeys = Object.getOwnPropertyNames(rhs).sort();
    if (lkeys.length !== rkeys.length) return false;
    for (let i = 0; i < lkeys.length; i++) if (lkeys[i] !== rkeys[i]) return false;
    for (let i = 0; i < lkeys.length; i++) if (!deepEqual(lhs[lkeys[i]!], rhs[lkeys[i]!])) return false;
    return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------------------
// Operators

function numericOperands(l: any, r: any): boolean {
  if (l !== undefined && !isNumeric(l)) throw BAIL;
  if (r !== undefined && !isNumeric(r)) throw BAIL;
  return l !== undefined && r !== undefined;
}

export function add(l: any, r: any): any {
  if (typeof l === "number" && typeof r === "number" && Number.isFinite(l) && Number.isFinite(r)) return l + r;
  return numericOperands(l, r) ? l + r : undefined;
}
export function sub(l: any, r: any): any {
  return numericOperands(l, r) ? l - r : undefined;
}
export function mul(l: any, r: any): any {
  return numericOperands(l, r) ? l * r : undefined;
}
export function div(l: any, r: any): any {
  return numericOperands(l, r) ? l / r : undefined;
}
export function mod(l: any, r: any): any {
  return numericOperands(l, r) ? l % r : undefined;
}

export function neg(v: any): any {
  if (v === undefined) return undefined;
  if (isNumeric(v)) return -v;
  throw BAIL;
}

export function eq(l: any, r: any): boolean {
  if (l === undefined || r === undefined) return false;
  return deepEqual(l, r);
}
export function ne(l: any, r: any): boolean {
  if (l === undefined || r === undefined) return false;
  return !deepEqual(l, r);
}

/** Checks the operands of < <= > >=; true when both are present (then of one type). */
function comparable(l: any, r: any): boolean {
  const lt = typeof l;
  const rt = typeof r;
  if (!(lt === "undefined" || lt === "string" || lt === "number")) throw BAIL;
  if (!(rt === "undefined" || rt === "string" || rt === "number")) throw BAIL;
  if (lt === "undefined" || rt === "undefined") return false;
  if (lt !== rt) throw BAIL;
  return true;
}
export function lt(l: any, r: any): any {
  return comparable(l, r) ? l < r : undefined;
}
export function le(l: any, r: any): any {
  return comparable(l, r) ? l <= r : undefined;
}
export function gt(l: any, r: any): any {
  return comparable(l, r) ? l > r : undefined;
}
export function ge(l: any, r: any): any {
  return comparable(l, r) ? l >= r : undefined;
}

export function includes(l: any, r: any): boolean {
  if (l === undefined || r === undefined) return false;
  if (!Array.isArray(r)) return r === l;
  for (let i = 0; i < r.length; i++) if (r[i] === l) return true;
  return false;
}

export function range(l: any, r: any): any {
  if (l !== undefined && !Number.isInteger(l)) throw BAIL;
  if (r !== undefined && !Number.isInteger(r)) throw BAIL;
  if (l === undefined || r === undefined || l > r) return undefined;
  const size = r - l + 1;
  if (size > 1e7) throw BAIL;
  // pushed rather than preallocated: V8 keeps a pushed array packed, a huge preallocated one is not
  const result = seq();
  for (let item = l; item <= r; item++) result.push(item);
  return result;
}

export function concat(l: any, r: any): string {
  const ls = l === undefined ? "" : toText(l);
  const rs = r === undefined ? "" : toText(r);
  return ls.concat(rs);
}

/** jsonata's string conversion (used by `&` and `$string(v)`), short-cut for scalars. */
export function toText(v: any): any {
  if (typeof v === "string") return v;
  if (typeof v === "number" && Number.isFinite(v)) {
    // a number whose shortest form has at most 15 digits is unchanged by jsonata's toPrecision(15)
    const shortest = String(v);
    return shortest.length <= 15 || Number.isInteger(v) ? shortest : String(Number(v.toPrecision(15)));
  }
  if (typeof v === "boolean") return v ? "true" : "false";
  if (v === null) return "null";
  return lib.string.implementation(v);
}

/** Effective boolean value (jsonata's $boolean), undefined for undefined. */
export function boolean(v: any): any {
  if (typeof v === "boolean") return v;
  if (typeof v === "string") return v.length > 0;
  return lib.boolean.implementation(v);
}

/** and / or operands: undefined counts as false. */
export function truthy(v: any): boolean {
  const b = boolean(v);
  return b === undefined ? false : b;
}

// ---------------------------------------------------------------------------------------------------------
// Paths, filters and constructors

/** A predicate: a number literal, or an expression evaluated per item. */
export type Predicate = number | ((item: any, tuple: any) => any);

export function filter(predicate: Predicate, input: any): any {
  let results = seq();
  const tupleStream = input && input.tupleStream;
  if (tupleStream) results.tupleStream = true;
  if (!Array.isArray(input)) input = seq1(input);
  if (typeof predicate === "number") {
    let index = Math.floor(predicate);
    if (index < 0) index = input.length + index;
    const item = input[index];
    if (item !== undefined) {
      if (Array.isArray(item)) results = item;
      else results.push(item);
    }
    return results;
  }
  for (let index = 0; index < input.length; index++) {
    tick();
    const item = input[index];
    let res = tupleStream ? predicate(item["@"], item) : predicate(item, undefined);
    if (isNumeric(res)) res = [res];
    if (isArrayOfNumbers(res)) {
      for (let k = 0; k < res.length; k++) {
        let ii = Math.floor(res[k]);
        if (ii < 0) ii = input.length + ii;
        if (ii === index) results.push(item);
      }
    } else if (boolean(res)) {
      results.push(item);
    }
  }
  return results;
}

/** One path step applied to every item of the input sequence; results flattened as jsonata does. */
export function step(input: any, fn: (item: any) => any, stages: Predicate[] | undefined, lastStep: boolean): Seq {
  const result = seq();
  for (let i = 0; i < input.length; i++) {
    tick();
    let res = fn(input[i]);
    if (stages) for (let s = 0; s < stages.length; s++) res = filter(stages[s]!, res);
    if (res !== undefined) result.push(res);
  }
  if (lastStep && result.length === 1 && Array.isArray(result[0]) && !isSeq(result[0])) return result[0];
  const out = seq();
  for (let i = 0; i < result.length; i++) {
    const res = result[i];
    if (!Array.isArray(res) || (res as Seq).cons) out.push(res);
    else for (let j = 0; j < res.length; j++) out.push(res[j]);
  }
  return out;
}

/** A step of a path that carries bindings (`#$i`, `@$x`) alongside each item. */
export interface TupleStage {
  filter?: Predicate;
  index?: string;
}

export function tupleStep(
  input: any,
  tuples: any[] | undefined,
  fn: (item: any, tuple: any) => any,
  focus: string | undefined,
  index: string | undefined,
  stages: TupleStage[] | undefined,
): Seq {
  let result = seq();
  result.tupleStream = true;
  if (tuples === undefined) {
    tuples = [];
    for (let i = 0; i < input.length; i++) tuples.push({ "@": input[i] });
  }
  for (let e = 0; e < tuples!.length; e++) {
    tick();
    const tb = tuples![e];
    let res = fn(tb["@"], tb);
    if (res !== undefined) {
      if (!Array.isArray(res)) res = [res];
      if ((res as Seq).tupleStream) throw BAIL;
      for (let b = 0; b < res.length; b++) {
        const tuple = Object.assign({}, tb);
        if (focus !== undefined) {
          tuple[focus] = res[b];
          tuple["@"] = tb["@"];
        } else {
          tuple["@"] = res[b];
        }
        if (index !== undefined) tuple[index] = b;
        result.push(tuple);
      }
    }
  }
  if (stages) result = tupleStages(stages, result);
  return result;
}

/** A sort step in a path with bindings: sorts the tuples, or starts them from the sorted items. */
export function tupleSort(
  input: any,
  tuples: any[] | undefined,
  terms: ((ctx: any, tuple: any) => any)[],
  descending: boolean[],
  index: string | undefined,
  stages: TupleStage[] | undefined,
): any {
  let result: any;
  if (tuples !== undefined) {
    result = orderBy(tuples, terms, descending);
  } else {
    const sorted = orderBy(input, terms, descending);
    result = seq();
    result.tupleStream = true;
    for (let i = 0; i < sorted.length; i++) result.push({ "@": sorted[i], [index!]: i });
  }
  if (stages) result = tupleStages(stages, result);
  return result;
}

export function tupleStages(stages: TupleStage[], input: Seq): Seq {
  let result = input;
  for (const stage of stages) {
    if (stage.filter !== undefined) result = filter(stage.filter, result);
    else for (let e = 0; e < result.length; e++) result[e][stage.index!] = e;
  }
  return result;
}

/** tupleItems(tupleStep(...)) for a last step that adds no bindings: the step's results, flattened. */
export function tupleResults(tuples: any[], fn: (item: any, tuple: any) => any): Seq {
  const out = seq();
  for (let e = 0; e < tuples.length; e++) {
    tick();
    const tb = tuples[e];
    const res = fn(tb["@"], tb);
    if (res === undefined) continue;
    if (!Array.isArray(res)) {
      out.push(res);
      continue;
    }
    if ((res as Seq).tupleStream) throw BAIL;
    for (let b = 0; b < res.length; b++) out.push(res[b]);
  }
  return out;
}

/** The end of a path in tuple mode: the items without their bindings. */
export function tupleItems(tuples: any[]): Seq {
  const out = seq();
  for (let i = 0; i < tuples.length; i++) out.push(tuples[i]["@"]);
  return out;
}

/** `[]` on a path. */
export function keepSingletonArray(rs: any): any {
  if (Array.isArray(rs) && (rs as Seq).cons && !isSeq(rs)) rs = seq1(rs);
  rs.keepSingleton = true;
  return rs;
}

export function markCons(result: any[]): any[] {
  Object.defineProperty(result, "cons", { enumerable: false, configurable: false, value: true });
  return result;
}

/** Appends an array constructor's item: arrays are spliced in unless the item is itself `[...]`. */
export function arrayItem(result: any[], value: any, nested: boolean): void {
  if (value === undefined) return;
  if (nested || !Array.isArray(value)) result.push(value);
  else for (let i = 0; i < value.length; i++) result.push(value[i]);
}

/** The general object constructor / group-by: keys evaluated per item, items grouped per key. */
export function group(
  input: any,
  keys: ((item: any, tuple: any) => any)[],
  values: ((ctx: any, tuple: any) => any)[],
): Record<string, unknown> {
  const reduce = input && input.tupleStream ? true : false;
  if (!Array.isArray(input)) input = seq1(input);
  if (input.length === 0 && !reduce) input.push(undefined);
  const groups: Record<string, { data: any; exprIndex: number }> = Object.create(null);
  for (let i = 0; i < input.length; i++) {
    tick();
    const item = input[i];
    for (let p = 0; p < keys.length; p++) {
      const key = reduce ? keys[p]!(item["@"], item) : keys[p]!(item, undefined);
      if (typeof key !== "string" && key !== undefined) throw BAIL;
      if (key === undefined) continue;
      if (key === "_jsonata_lambda" || key === "_jsonata_function") throw BAIL;
      const existing = groups[key];
      if (existing) {
        if (existing.exprIndex !== p) throw BAIL;
        existing.data = append(existing.data, item);
      } else {
        groups[key] = { data: item, exprIndex: p };
      }
    }
  }
  const result: Record<string, unknown> = {};
  for (const key of Object.keys(groups)) {
    const entry = groups[key]!;
    let value;
    if (reduce) {
      const tuple = reduceTuples(entry.data);
      const ctx = tuple["@"];
      delete tuple["@"];
      value = values[entry.exprIndex]!(ctx, tuple);
    } else {
      value = values[entry.exprIndex]!(entry.data, undefined);
    }
    if (value !== undefined) setKey(result, key, value);
  }
  return result;
}

/**
 * The context an object constructor with distinct literal keys evaluates its values on: the input itself, or
 * for a sequence its items appended together (what grouping every item under each key produces).
 */
export function groupContext(input: any): any {
  if (!Array.isArray(input)) return input;
  if (input.length === 0) return undefined;
  let data = input[0];
  for (let i = 1; i < input.length; i++) data = append(data, input[i]);
  return data;
}

function reduceTuples(tuples: any): any {
  if (!Array.isArray(tuples)) return tuples;
  const result = Object.create(null);
  Object.assign(result, tuples[0]);
  for (let i = 1; i < tuples.length; i++) {
    for (const prop of Object.keys(tuples[i])) result[prop] = append(result[prop], tuples[i][prop]);
  }
  return result;
}

/** jsonata's $append (internal use). */
export function append(a: any, b: any): any {
  if (a === undefined) return b;
  if (b === undefined) return a;
  if (!Array.isArray(a)) a = seq1(a);
  if (!Array.isArray(b)) b = [b];
  return a.concat(b);
}

export function wildcard(input: any): Seq {
  let results: any = seq();
  if (Array.isArray(input) && (input as Seq).outerWrapper && input.length > 0) input = input[0];
  if (input !== null && typeof input === "object" && !isFunction(input)) {
    for (const key of Object.keys(input)) {
      const value = input[key];
      if (Array.isArray(value)) results = append(results, flatten(value, []));
      else results.push(value);
    }
  }
  return results;
}

function flatten(arg: any, flattened: any[]): any[] {
  if (Array.isArray(arg)) for (const item of arg) flatten(item, flattened);
  else flattened.push(arg);
  return flattened;
}

export function descendants(input: any): any {
  if (input === undefined) return undefined;
  const results = seq();
  recurseDescendants(input, results);
  return results.length === 1 ? results[0] : results;
}

function recurseDescendants(input: any, results: any[]): void {
  if (!Array.isArray(input)) results.push(input);
  if (Array.isArray(input)) {
    for (const member of input) recurseDescendants(member, results);
  } else if (input !== null && typeof input === "object" && !isFunction(input)) {
    for (const key of Object.keys(input)) recurseDescendants(input[key], results);
  }
}

/** A sort step `^(...)`: terms evaluated per item, jsonata's merge sort (stable, swaps on `>`). */
export function orderBy(
  input: any,
  terms: ((ctx: any, tuple: any) => any)[],
  descending: boolean[],
): any {
  const isTupleSort = input.tupleStream ? true : false;
  const swap = (a: any, b: any): boolean => {
    tick();
    let comp = 0;
    for (let t = 0; comp === 0 && t < terms.length; t++) {
      const aa = isTupleSort ? terms[t]!(a["@"], a) : terms[t]!(a, undefined);
      const bb = isTupleSort ? terms[t]!(b["@"], b) : terms[t]!(b, undefined);
      const at = typeof aa;
      const bt = typeof bb;
      if (at === "undefined") {
        comp = bt === "undefined" ? 0 : 1;
        continue;
      }
      if (bt === "undefined") {
        comp = -1;
        continue;
      }
      if (!(at === "string" || at === "number") || !(bt === "string" || bt === "number")) throw BAIL;
      if (at !== bt) throw BAIL;
      if (aa === bb) continue;
      comp = aa < bb ? -1 : 1;
      if (descending[t] === true) comp = -comp;
    }
    return comp === 1;
  };
  return mergeSort(input, swap);
}

/** jsonata's $sort algorithm: top-down merge sort that takes the right item only when swap() says so. */
function mergeSort(arr: any, swap: (a: any, b: any) => boolean): any {
  if (arr === undefined) return undefined;
  if (arr.length <= 1) return arr;
  const msort = (array: any[]): any[] => {
    if (!Array.isArray(array) || array.length <= 1) return array;
    const middle = Math.floor(array.length / 2);
    const left = msort(array.slice(0, middle));
    const right = msort(array.slice(middle));
    const merged: any[] = [];
    let l = 0;
    let r = 0;
    while (l < left.length && r < right.length) {
      if (swap(left[l], right[r])) merged.push(right[r++]);
      else merged.push(left[l++]);
    }
    while (l < left.length) merged.push(left[l++]);
    while (r < right.length) merged.push(right[r++]);
    return merged;
  };
  return msort(arr);
}

/** A regex literal: a matcher function as jsonata builds it. */
export function regex(re: RegExp): (str: string, fromIndex?: number) => any {
  const engine = new RegExp(re);
  const closure = (str: string, fromIndex?: number): any => {
    engine.lastIndex = fromIndex || 0;
    const match = engine.exec(str);
    if (match === null) return undefined;
    const result: any = { match: match[0], start: match.index, end: match.index + match[0].length, groups: [] };
    for (let i = 1; i < match.length; i++) result.groups.push(match[i]);
    result.next = () => {
      if (engine.lastIndex >= str.length) return undefined;
      const next = closure(str, engine.lastIndex);
      if (next && next.match === "") throw BAIL;
      return next;
    };
    return result;
  };
  return closure;
}

// ---------------------------------------------------------------------------------------------------------
// Functions

/** Marks functions produced by compiled lambdas. */
const LAMBDA = Symbol("keelson.compiled-lambda");
/** Marks the closures a function argument is wrapped in, as jsonata does before passing it on. */
const ARGUMENT = Symbol("keelson.function-argument");

interface Signature {
  validate(args: unknown[], context: unknown): unknown[];
}

export function lambda(fn: (...args: any[]) => any, signature: Signature | undefined): any {
  (fn as any)[LAMBDA] = true;
  // always an own property, so call() never searches the prototype chain for it
  (fn as any).signature = signature;
  return fn;
}

export function arity(f: any): number {
  return typeof f.arity === "number" ? f.arity : typeof f.implementation === "function" ? f.implementation.length : typeof f.length === "number" ? f.length : f.arguments.length;
}

/** Arguments that are functions reach the callee wrapped: the wrapped function is later applied without context. */
export function argument(v: any): any {
  if (!isFunction(v)) return v;
  const st = current;
  const wrapped: any = (...params: any[]) => call(st, v, params, null);
  wrapped.arity = arity(v);
  wrapped[ARGUMENT] = true;
  return wrapped;
}

function isPromise(v: any): boolean {
  return typeof v === "object" && v !== null && "then" in v && typeof v.then === "function";
}

function isIterable(v: any): boolean {
  return typeof v === "object" && v !== null && Symbol.iterator in v && "next" in v && typeof v.next === "function";
}

/** Applies any function value (jsonata's apply without the tail-call trampoline). */
export function call(st: EvalState, f: any, args: any[], ctx: any): any {
  if (typeof f === "function") {
    if (f[LAMBDA] === true) {
      const validated = f.signature ? f.signature.validate(args, ctx) : args;
      st.cc = ctx;
      return validated.length === 1 ? f(validated[0]) : f(...validated);
    }
    if (f[ARGUMENT] === true) return f(...args);
    for (const a of args) if (isFunction(a)) throw BAIL;
    const validated = f.signature ? f.signature.validate(args, ctx) : args;
    const result = f.apply(ctx, validated);
    if (isPromise(result) || isIterable(result)) throw BAIL;
    return result;
  }
  if (typeof f === "object" && f !== null) {
    if (f._jsonata_function === true) return callBuiltin(f, args, ctx);
  }
  throw BAIL;
}

/** call() with one argument, the commonest shape, without building an argument list for lambdas. */
export function call1(st: EvalState, f: any, arg: any, ctx: any): any {
  if (typeof f === "function" && f[LAMBDA] === true && f.signature === undefined) {
    st.cc = ctx;
    return f(arg);
  }
  return call(st, f, [arg], ctx);
}

/** Applies a library function object: its signature validation, then its implementation. */
export function callBuiltin(f: Builtin, args: any[], ctx: any): any {
  const validated = f.signature ? f.signature.validate(args, ctx) : args;
  const result = f.implementation.apply(new Focus(ctx), validated);
  if (isPromise(result) || isIterable(result)) throw BAIL;
  return result;
}

/** What jsonata passes library functions as `this`; its date functions read the evaluation's timestamp. */
class Focus {
  constructor(readonly input: unknown) {}
  get environment(): { timestamp: Date } {
    current.env ??= { timestamp: new Date(current.ts) };
    return current.env;
  }
  createSequence(...items: unknown[]): Seq {
    return createSequence(...items);
  }
}

function createSequence(...items: unknown[]): Seq {
  const s = seq();
  if (items.length === 1) s.push(items[0]);
  return s;
}

/** The `?` of a partial application. */
export const PLACEHOLDER: { readonly placeholder: true } = Object.freeze({ placeholder: true as const });

/**
 * `$f(?, 2)`: a function of the `?` positions. As in jsonata the result has no signature, so the function it
 * wraps is invoked without argument validation; a library function is invoked with the parameters its source
 * declares. Functions from bindings are left to the interpreter.
 */
export function partial(f: any, args: any[]): any {
  if (typeof f === "function" && f[LAMBDA] === true) return bindPartial(f.length, args, (full) => f(...full));
  if (typeof f === "object" && f !== null && f._jsonata_function === true && !OWN_IMPLEMENTATIONS.has(f.implementation)) {
    const implementation = f.implementation;
    const params = /\(([^)]*)\)/.exec(implementation.toString())![1]!.split(",");
    // jsonata parses these as lambda parameters: anything but a plain name is its own business
    if (!params.every((p) => /^\s*[A-Za-z_][A-Za-z0-9_]*\s*$/.test(p))) throw BAIL;
    return bindPartial(params.length, args, (full) => {
      const result = implementation.apply(new Focus(undefined), full);
      if (isPromise(result) || isIterable(result)) throw BAIL;
      return result;
    });
  }
  throw BAIL;
}

function bindPartial(count: number, args: any[], invoke: (full: any[]) => any): any {
  const bound: any[] = new Array(count);
  const open: number[] = [];
  for (let i = 0; i < count; i++) {
    if (args[i] === PLACEHOLDER) open.push(i);
    else bound[i] = args[i];
  }
  const fn = (...rest: any[]): any => {
    const full = bound.slice();
    for (let k = 0; k < open.length; k++) full[open[k]!] = rest[k];
    return invoke(full);
  };
  Object.defineProperty(fn, "length", { value: open.length });
  return lambda(fn, undefined);
}

function hofArgs(func: any, value: any, position: any, whole: any): any[] {
  const args = [value];
  const n = arity(func);
  if (n >= 2) args.push(position);
  if (n >= 3) args.push(whole);
  return args;
}

function apply(func: any, args: any[]): any {
  tick();
  return call(current, func, args, null);
}

// Synchronous versions of jsonata's higher-order and pattern functions (its own are async). Each keeps the
// parameter count of the original, since jsonata passes a function's arity on to callbacks.

function hofMap(arr: any, func: any): any {
  if (arr === undefined) return undefined;
  const result = seq();
  for (let i = 0; i < arr.length; i++) {
    const res = apply(func, hofArgs(func, arr[i], i, arr));
    if (res !== undefined) result.push(res);
  }
  return result;
}

function hofFilter(arr: any, func: any): any {
  if (arr === undefined) return undefined;
  const result = seq();
  for (let i = 0; i < arr.length; i++) {
    if (boolean(apply(func, hofArgs(func, arr[i], i, arr)))) result.push(arr[i]);
  }
  return result;
}

function hofSingle(arr: any, func: any): any {
  if (arr === undefined) return undefined;
  let found = false;
  let result;
  for (let i = 0; i < arr.length; i++) {
    const positive = func === undefined ? true : boolean(apply(func, hofArgs(func, arr[i], i, arr)));
    if (positive) {
      if (found) throw BAIL;
      result = arr[i];
      found = true;
    }
  }
  if (!found) throw BAIL;
  return result;
}

function hofReduce(sequence: any, func: any, init: any): any {
  if (sequence === undefined) return undefined;
  const n = arity(func);
  if (n < 2) throw BAIL;
  let result;
  let index;
  if (init === undefined && sequence.length > 0) {
    result = sequence[0];
    index = 1;
  } else {
    result = init;
    index = 0;
  }
  while (index < sequence.length) {
    const args = [result, sequence[index]];
    if (n >= 3) args.push(index);
    if (n >= 4) args.push(sequence);
    result = apply(func, args);
    index++;
  }
  return result;
}

function hofSift(arg: any, func: any): any {
  const result: Record<string, unknown> = Object.create(null);
  for (const key of objectKeys(arg)) {
    const entry = arg[key];
    if (boolean(apply(func, hofArgs(func, entry, key, arg)))) result[key] = entry;
  }
  return Object.keys(result).length === 0 ? undefined : result;
}

function hofEach(obj: any, func: any): any {
  const result = seq();
  for (const key of objectKeys(obj)) {
    const val = apply(func, hofArgs(func, obj[key], key, obj));
    if (val !== undefined) result.push(val);
  }
  return result;
}

function objectKeys(v: any): string[] {
  return typeof v === "object" && v !== null ? Object.keys(v) : [];
}

function hofSort(arr: any, comparator: any): any {
  if (arr === undefined) return undefined;
  if (arr.length <= 1) return arr;
  let swap: (a: any, b: any) => boolean;
  if (comparator === undefined) {
    const allNumbers = isArrayOfNumbers(arr);
    const allStrings = arr.every((x: any) => typeof x === "string");
    if (!allNumbers && !allStrings) throw BAIL;
    swap = (a, b) => a > b;
  } else {
    // jsonata awaits the comparator's result and uses it as a condition
    swap = (a, b) => {
      const r = apply(comparator, [a, b]);
      return r ? true : false;
    };
  }
  return mergeSort(arr, swap);
}

function matcherResult(matcher: any, str: any): any {
  const result = apply(matcher, [str]);
  if (result && !(typeof result.start === "number" || result.end === "number" || Array.isArray(result.groups) || isFunction(result.next))) throw BAIL;
  return result;
}

function matcherNext(next: any): any {
  const result = apply(next, []);
  if (result && !(typeof result.start === "number" || result.end === "number" || Array.isArray(result.groups) || isFunction(result.next))) throw BAIL;
  return result;
}

function fnContains(str: any, token: any): any {
  if (str === undefined || token === undefined) return undefined;
  if (typeof token === "string") return str.indexOf(token) !== -1;
  return matcherResult(token, str) !== undefined;
}

function fnMatch(str: any, regex: any, limit: any): any {
  if (str === undefined) return undefined;
  if (limit < 0) throw BAIL;
  const result = seq();
  if (limit === undefined || limit > 0) {
    let count = 0;
    let matches = matcherResult(regex, str);
    while (matches !== undefined && (limit === undefined || count < limit)) {
      result.push({ match: matches.match, index: matches.start, groups: matches.groups });
      matches = matcherNext(matches.next);
      count++;
    }
  }
  return result;
}

function fnReplace(str: any, pattern: any, replacement: any, limit: any): any {
  if (str === undefined) return undefined;
  if (pattern === "") throw BAIL;
  if (limit < 0) throw BAIL;
  let result = "";
  let position = 0;
  if (limit === undefined || limit > 0) {
    let count = 0;
    if (typeof pattern === "string") {
      let index = str.indexOf(pattern, position);
      while (index !== -1 && (limit === undefined || count < limit)) {
        result += str.substring(position, index);
        result += replacement;
        position = index + pattern.length;
        count++;
        index = str.indexOf(pattern, position);
      }
      result += str.substring(position);
    } else {
      let matches = matcherResult(pattern, str);
      if (matches !== undefined) {
        while (matches !== undefined && (limit === undefined || count < limit)) {
          result += str.substring(position, matches.start);
          const replacedWith = typeof replacement === "string" ? substitute(replacement, matches) : apply(replacement, [matches]);
          if (typeof replacedWith !== "string") throw BAIL;
          result += replacedWith;
          position = matches.start + matches.match.length;
          count++;
          matches = matcherNext(matches.next);
        }
        result += str.substring(position);
      } else {
        result = str;
      }
    }
  } else {
    result = str;
  }
  return result;
}

/** `$0`, `$1`.. and `$$` in a replacement string, resolved as jsonata resolves them. */
function substitute(replacement: string, regexMatch: any): string {
  let out = "";
  let position = 0;
  let index = replacement.indexOf("$", position);
  while (index !== -1 && position < replacement.length) {
    out += replacement.substring(position, index);
    position = index + 1;
    const dollarVal = replacement.charAt(position);
    if (dollarVal === "$") {
      out += "$";
      position++;
    } else if (dollarVal === "0") {
      out += regexMatch.match;
      position++;
    } else {
      const maxDigits = regexMatch.groups.length === 0 ? 1 : Math.floor(Math.log(regexMatch.groups.length) * Math.LOG10E) + 1;
      let group = parseInt(replacement.substring(position, position + maxDigits), 10);
      if (maxDigits > 1 && group > regexMatch.groups.length) group = parseInt(replacement.substring(position, position + maxDigits - 1), 10);
      if (!Number.isNaN(group)) {
        if (regexMatch.groups.length > 0) {
          const submatch = regexMatch.groups[group - 1];
          if (submatch !== undefined) out += submatch;
        }
        position += group.toString().length;
      } else {
        out += "$";
      }
    }
    index = replacement.indexOf("$", position);
  }
  return out + replacement.substring(position);
}

function fnSplit(str: any, separator: any, limit: any): any {
  if (str === undefined) return undefined;
  if (limit < 0) throw BAIL;
  let result: any[] = [];
  if (limit === undefined || limit > 0) {
    if (typeof separator === "string") {
      result = str.split(separator, limit);
    } else {
      let count = 0;
      let matches = matcherResult(separator, str);
      if (matches !== undefined) {
        let start = 0;
        while (matches !== undefined && (limit === undefined || count < limit)) {
          result.push(str.substring(start, matches.start));
          start = matches.end;
          matches = matcherNext(matches.next);
          count++;
        }
        if (limit === undefined || count < limit) result.push(str.substring(start));
      } else {
        result.push(str);
      }
    }
  }
  return result;
}

// ---------------------------------------------------------------------------------------------------------
// The function library

export interface Builtin {
  _jsonata_function: true;
  implementation: (...args: any[]) => any;
  signature?: Signature;
}

/** Library functions whose jsonata implementation is synchronous and pure apart from $random/$shuffle. */
const SYNC_FUNCTIONS = [
  "sum", "count", "max", "min", "average", "string", "substring", "substringBefore", "substringAfter", "lowercase",
  "uppercase", "length", "trim", "pad", "join", "formatNumber", "formatBase", "formatInteger", "parseInteger", "number",
  "floor", "ceil", "round", "abs", "sqrt", "power", "random", "boolean", "not", "zip", "keys", "lookup", "append",
  "exists", "spread", "merge", "reverse", "error", "assert", "type", "shuffle", "distinct", "base64encode",
  "base64decode", "encodeUrlComponent", "encodeUrl", "decodeUrlComponent", "decodeUrl", "toMillis", "fromMillis",
];

/** Replacements for jsonata's asynchronous library functions, with the same signatures. */
const SYNC_REPLACEMENTS: Record<string, (...args: any[]) => any> = {
  map: hofMap, filter: hofFilter, single: hofSingle, reduce: hofReduce, sift: hofSift, each: hofEach, sort: hofSort,
  contains: fnContains, match: fnMatch, replace: fnReplace, split: fnSplit,
};

/** Implementations written here rather than taken from jsonata. */
const OWN_IMPLEMENTATIONS: ReadonlySet<unknown> = new Set<unknown>([...Object.values(SYNC_REPLACEMENTS), now, millis]);

/** Names the compiler may call; $now and $millis read the evaluation's timestamp. */
export const LIBRARY_NAMES: ReadonlySet<string> = new Set([...SYNC_FUNCTIONS, ...Object.keys(SYNC_REPLACEMENTS), "now", "millis"]);

export let lib: Record<string, Builtin> = Object.create(null);
let loading: Promise<void> | undefined;

/**
 * Takes the function objects (implementation + parsed signature) out of jsonata itself, so compiled code
 * validates arguments and formats values exactly as the interpreter does.
 */
export function loadLibrary(): Promise<void> {
  loading ??= (async () => {
    const names = [...SYNC_FUNCTIONS, ...Object.keys(SYNC_REPLACEMENTS), "now", "millis"];
    const found = (await jsonata(`[${names.map((n) => "$" + n).join(",")}]`).evaluate({})) as Builtin[];
    const table: Record<string, Builtin> = Object.create(null);
    names.forEach((name, i) => {
      const original = found[i]!;
      const replacement = SYNC_REPLACEMENTS[name];
      const implementation = replacement ?? (name === "now" ? now : name === "millis" ? millis : original.implementation);
      const entry: Builtin = { _jsonata_function: true, implementation };
      if (original.signature) entry.signature = original.signature;
      table[name] = Object.freeze(entry) as Builtin;
    });
    lib = table;
  })();
  return loading;
}

function now(picture: any, timezone: any): any {
  return lib.fromMillis.implementation(current.ts, picture, timezone);
}

function millis(): number {
  return current.ts;
}

export function libraryReady(): boolean {
  return lib.string !== undefined;
}

// ---------------------------------------------------------------------------------------------------------
// Shortcuts the generated code uses for common shapes; each gives what the general code would.

/** `$string(v)` with one argument: its signature accepts any value and never reads the context. */
export function fastString(v: any): any {
  return toText(v);
}

/** A single field of the context (`Name`); arrays take the general path code. */
export function field(input: any, key: string): any {
  if (input === null || typeof input !== "object") return undefined;
  if (Array.isArray(input)) return namePath(input, [key]);
  if (input._jsonata_function === true || input._jsonata_lambda === true || !hasOwn.call(input, key)) return undefined;
  const v = input[key];
  return Array.isArray(v) ? namePath(input, [key]) : v;
}

/**
 * `a.b.c`: walks plain objects directly. When it meets an array (which jsonata maps over and flattens) it
 * starts again with the general path evaluation, which is pure, so the result is the same.
 */
export function fieldPath(input: any, keys: string[]): any {
  let v = input;
  for (let i = 0; i < keys.length; i++) {
    if (v === null || typeof v !== "object") return undefined;
    if (Array.isArray(v)) return namePath(input, keys);
    if (v._jsonata_function === true || v._jsonata_lambda === true) return undefined;
    const key = keys[i]!;
    if (!hasOwn.call(v, key)) return undefined;
    v = v[key];
  }
  if (Array.isArray(v)) return namePath(input, keys);
  return v;
}

function namePath(input: any, keys: string[]): any {
  let inp = Array.isArray(input) ? input : seq1(input);
  let rs: any;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    rs = step(inp, (x) => norm(lookup(x, key)), undefined, i === keys.length - 1);
    if (rs === undefined || rs.length === 0) break;
    inp = rs;
  }
  return rs;
}

/** `value ~> $f` where the right side is a function value rather than a call. */
export function applyTo(st: EvalState, lhs: any, func: any): any {
  if (!isFunction(func)) throw BAIL;
  // function composition builds a jsonata lambda; the interpreter does that
  if (isFunction(lhs)) throw BAIL;
  return call(st, func, [lhs], null);
}

/** A variable given in the evaluate() bindings (own enumerable keys only, as jsonata reads them). */
export function binding(bindings: any, name: string): any {
  if (bindings === null || typeof bindings !== "object") return undefined;
  return Object.prototype.propertyIsEnumerable.call(bindings, name) ? bindings[name] : undefined;
}
