// A small OData $filter parser shared by the OData sandboxes (Dataverse v4, SAP v2, Business Central): comparisons
// (eq ne gt ge lt le), and / or / not, parentheses, contains / startswith / endswith / substringof, and literals
// ('text' with '' escapes, numbers, true/false/null, GUIDs, datetime, date; V2's datetime'…' and guid'…').
// Also the query options of a read ($select, $filter, $orderby, $top, $skip, $expand) for the sandboxes whose reads take
// them all (Business Central, Dataverse), checked against the entity set and refused in the vendor's envelope.

export type FilterLiteral = string | number | boolean | null | { dateTime: string } | { guid: string };

export type FilterExpr =
  | { op: "and"; left: FilterExpr; right: FilterExpr }
  | { op: "or"; left: FilterExpr; right: FilterExpr }
  | { op: "not"; inner: FilterExpr }
  | { op: "cmp"; field: string; cmp: "eq" | "ne" | "gt" | "ge" | "lt" | "le"; value: FilterLiteral }
  | { op: "fn"; fn: "contains" | "startswith" | "endswith"; field: string; value: string };

export class FilterError extends Error {}

type Tok = { kind: "ident" | "literal" | "punct"; text: string; value?: FilterLiteral };

const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}/;

function tokenize(s: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < s.length) {
    if (/\s/.test(s[i]!)) {
      i++;
      continue;
    }
    const rest = s.slice(i);
    let m: RegExpExecArray | null;
    if (s[i] === "'") {
      let j = i + 1;
      let v = "";
      for (;;) {
        if (j >= s.length) throw new FilterError("Unterminated string literal");
        if (s[j] === "'") {
          if (s[j + 1] === "'") {
            v += "'";
            j += 2;
            continue;
          }
          break;
        }
        v += s[j++];
      }
      out.push({ kind: "literal", text: s.slice(i, j + 1), value: v });
      i = j + 1;
    } else if ((m = /^datetime(offset)?'([^']*)'/.exec(rest))) {
      out.push({ kind: "literal", text: m[0], value: { dateTime: m[2]! } });
      i += m[0].length;
    } else if ((m = /^guid'([^']*)'/.exec(rest))) {
      out.push({ kind: "literal", text: m[0], value: { guid: m[1]!.toLowerCase() } });
      i += m[0].length;
    } else if ((m = GUID.exec(rest))) {
      out.push({ kind: "literal", text: m[0], value: { guid: m[0].toLowerCase() } });
      i += m[0].length;
    } else if ((m = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?/.exec(rest))) {
      out.push({ kind: "literal", text: m[0], value: { dateTime: m[0] } });
      i += m[0].length;
    } else if ((m = /^-?\d+(\.\d+)?[mMdDfFlL]?(?![\w])/.exec(rest))) {
      out.push({ kind: "literal", text: m[0], value: Number(m[0].replace(/[mMdDfFlL]$/, "")) });
      i += m[0].length;
    } else if ((m = /^[A-Za-z_][\w/]*/.exec(rest))) {
      const w = m[0];
      if (w === "true" || w === "false") out.push({ kind: "literal", text: w, value: w === "true" });
      else if (w === "null") out.push({ kind: "literal", text: w, value: null });
      else out.push({ kind: "ident", text: w });
      i += w.length;
    } else if ("(),".includes(s[i]!)) {
      out.push({ kind: "punct", text: s[i]! });
      i++;
    } else throw new FilterError(`Syntax error at position ${i} in '${s}'.`);
  }
  return out;
}

const CMP = new Set(["eq", "ne", "gt", "ge", "lt", "le"]);

export function parseFilter(text: string): FilterExpr {
  const toks = tokenize(text);
  let i = 0;
  const peek = () => toks[i];
  const isIdent = (w: string) => peek()?.kind === "ident" && peek()!.text.toLowerCase() === w;
  const expectPunct = (p: string) => {
    if (peek()?.kind !== "punct" || peek()!.text !== p) throw new FilterError(`Syntax error: expected '${p}' at position ${i} in '${text}'.`);
    i++;
  };
  const literal = (): FilterLiteral => {
    const t = peek();
    if (!t || t.kind !== "literal") throw new FilterError(`Syntax error: expected a literal at position ${i} in '${text}'.`);
    i++;
    return t.value!;
  };
  const or = (): FilterExpr => {
    let left = and();
    while (isIdent("or")) {
      i++;
      left = { op: "or", left, right: and() };
    }
    return left;
  };
  const and = (): FilterExpr => {
    let left = unary();
    while (isIdent("and")) {
      i++;
      left = { op: "and", left, right: unary() };
    }
    return left;
  };
  const unary = (): FilterExpr => {
    if (isIdent("not")) {
      i++;
      return { op: "not", inner: unary() };
    }
    const t = peek();
    if (t?.kind === "punct" && t.text === "(") {
      i++;
      const e = or();
      expectPunct(")");
      return e;
    }
    if (!t || t.kind !== "ident") throw new FilterError(`Syntax error at position ${i} in '${text}'.`);
    i++;
    const fn = t.text.toLowerCase();
    if (["contains", "startswith", "endswith", "substringof"].includes(fn) && peek()?.text === "(") {
      i++;
      let field: string;
      let value: FilterLiteral;
      if (fn === "substringof") {
        // V2: substringof('text', Field)
        value = literal();
        expectPunct(",");
        field = ident();
      } else {
        field = ident();
        expectPunct(",");
        value = literal();
      }
      expectPunct(")");
      if (typeof value !== "string") throw new FilterError(`${fn} needs a string literal`);
      let e: FilterExpr = { op: "fn", fn: fn === "substringof" ? "contains" : (fn as "contains" | "startswith" | "endswith"), field, value };
      // V2 writes "substringof('x', F) eq true".
      if (isIdent("eq")) {
        i++;
        if (literal() === false) e = { op: "not", inner: e };
      }
      return e;
    }
    const op = peek();
    if (!op || op.kind !== "ident" || !CMP.has(op.text.toLowerCase())) throw new FilterError(`Syntax error: expected a comparison after '${t.text}' in '${text}'.`);
    i++;
    return { op: "cmp", field: t.text, cmp: op.text.toLowerCase() as "eq", value: literal() };
  };
  const ident = (): string => {
    const t = peek();
    if (!t || t.kind !== "ident") throw new FilterError(`Syntax error: expected a property at position ${i} in '${text}'.`);
    i++;
    return t.text;
  };
  const e = or();
  if (i < toks.length) throw new FilterError(`Syntax error at position ${i} in '${text}'.`);
  return e;
}

/** Fields an expression reads, so callers can reject unknown properties before evaluating. */
export function filterFields(e: FilterExpr): string[] {
  switch (e.op) {
    case "and":
    case "or":
      return [...filterFields(e.left), ...filterFields(e.right)];
    case "not":
      return filterFields(e.inner);
    default:
      return [e.field];
  }
}

/** Evaluates against a record; values compare as dates when either side is a datetime literal. */
export function evaluateFilter(e: FilterExpr, get: (field: string) => unknown): boolean {
  switch (e.op) {
    case "and":
      return evaluateFilter(e.left, get) && evaluateFilter(e.right, get);
    case "or":
      return evaluateFilter(e.left, get) || evaluateFilter(e.right, get);
    case "not":
      return !evaluateFilter(e.inner, get);
    case "fn": {
      const v = get(e.field);
      if (typeof v !== "string") return false;
      const a = v.toLowerCase();
      const b = e.value.toLowerCase();
      return e.fn === "contains" ? a.includes(b) : e.fn === "startswith" ? a.startsWith(b) : a.endsWith(b);
    }
    case "cmp": {
      const v = get(e.field);
      const lit = e.value;
      if (lit === null || v === null || v === undefined) {
        const both = (lit === null) === (v === null || v === undefined);
        return e.cmp === "eq" ? both : e.cmp === "ne" ? !both : false;
      }
      let d: number;
      if (typeof lit === "object" && "dateTime" in lit) d = Date.parse(String(v)) - Date.parse(lit.dateTime);
      else if (typeof lit === "object" && "guid" in lit) d = String(v).toLowerCase() === lit.guid ? 0 : 1;
      else if (typeof lit === "number") d = Number(v) - lit;
      else if (typeof lit === "boolean") d = v === lit ? 0 : 1;
      else d = String(v).toLowerCase().localeCompare(lit.toLowerCase());
      if (Number.isNaN(d)) return false;
      return e.cmp === "eq" ? d === 0 : e.cmp === "ne" ? d !== 0 : e.cmp === "gt" ? d > 0 : e.cmp === "ge" ? d >= 0 : e.cmp === "lt" ? d < 0 : d <= 0;
    }
  }
}

/** The query options of an OData read: $select, $filter, $orderby, $top, $skip, $expand (with nested options). */
export interface QueryOptions {
  select?: string[];
  filter?: FilterExpr;
  orderby?: { field: string; desc: boolean }[];
  top?: number;
  skip?: number;
  expand?: { nav: string; options: QueryOptions }[];
}

/** What a sandbox tells the query-option parser about its entity sets, and how it refuses (each vendor's envelope). */
export interface QueryModel<Refusal extends Error> {
  hasField(set: string, field: string): boolean;
  /** The entity set a navigation property leads to, or undefined when the set has no such property. */
  navigationTarget(set: string, nav: string): string | undefined;
  noProperty(set: string, name: string): Refusal;
  badRequest(message: string): Refusal;
  /** The paging options the service takes; others are ignored (Dataverse: $top only). */
  paging: ReadonlyArray<"$top" | "$skip">;
}

/**
 * Parses and checks a read's query options against the entity set: unknown properties in $select, $filter,
 * $orderby and $expand are refused as the vendor does, a bad $filter or paging value is a bad request. `get` reads
 * one option ("$filter") from the query string, or from the parentheses of an $expand item.
 */
export function parseQueryOptions<Refusal extends Error>(set: string, get: (name: string) => string | null, model: QueryModel<Refusal>): QueryOptions {
  const o: QueryOptions = {};
  const known = (field: string): string => {
    if (!model.hasField(set, field)) throw model.noProperty(set, field);
    return field;
  };
  const select = get("$select");
  if (select) o.select = select.split(",").map((x) => known(x.trim()));
  const filter = get("$filter");
  if (filter) {
    try {
      o.filter = parseFilter(filter);
    } catch (e) {
      if (e instanceof FilterError) throw model.badRequest(e.message);
      throw e;
    }
    filterFields(o.filter).forEach(known);
  }
  const orderby = get("$orderby");
  if (orderby)
    o.orderby = orderby.split(",").map((part) => {
      const [field, dir] = part.trim().split(/\s+/);
      return { field: known(field!), desc: dir?.toLowerCase() === "desc" };
    });
  for (const option of model.paging) {
    const v = get(option);
    if (v === null) continue;
    if (!/^\d+$/.test(v)) throw model.badRequest(`Invalid value '${v}' for ${option} query option found.`);
    o[option === "$top" ? "top" : "skip"] = Number(v);
  }
  const expand = get("$expand");
  if (expand)
    o.expand = splitOutsideParentheses(expand, ",").map((item) => {
      const m = /^(\w+)(?:\((.*)\))?$/.exec(item);
      const nav = m?.[1] ?? item;
      const target = model.navigationTarget(set, nav);
      if (!target) throw model.noProperty(set, nav);
      const inner = new Map<string, string>();
      for (const option of splitOutsideParentheses(m?.[2] ?? "", ";")) {
        const eq = option.indexOf("=");
        inner.set(option.slice(0, eq), option.slice(eq + 1));
      }
      return { nav, options: parseQueryOptions(target, (name) => inner.get(name) ?? null, model) };
    });
  return o;
}

/** Splits at `separator` where it is not inside parentheses: "a($select=x,y),b" → ["a($select=x,y)", "b"]. */
export function splitOutsideParentheses(text: string, separator: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let current = "";
  for (const ch of text) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (ch === separator && depth === 0) {
      out.push(current);
      current = "";
    } else current += ch;
  }
  out.push(current);
  return out.map((x) => x.trim()).filter(Boolean);
}
