// The subset of SOQL the Salesforce sandbox answers: SELECT fields (with parent relationship paths like
// Account.Name and child sub-queries "(SELECT … FROM OpportunityLineItems)"), FROM one object, WHERE with
// = != <> < <= > >= LIKE IN, AND / OR / NOT and parentheses, date and datetime literals, ORDER BY (ASC/DESC,
// NULLS FIRST/LAST), LIMIT, OFFSET. Aggregates, GROUP BY, semi-joins and date functions are not modelled.

export type Literal = string | number | boolean | null | { dateTime: string } | { date: string };

export type Condition =
  | { op: "and"; left: Condition; right: Condition }
  | { op: "or"; left: Condition; right: Condition }
  | { op: "not"; inner: Condition }
  | { op: "cmp"; field: string; cmp: string; value: Literal | Literal[] };

export interface SelectItem {
  field?: string;
  sub?: Query;
}

export interface Query {
  select: SelectItem[];
  from: string;
  where?: Condition;
  orderBy: { field: string; desc: boolean; nullsLast: boolean }[];
  limit?: number;
  offset?: number;
}

export class SoqlError extends Error {}

type Token = { kind: "word" | "string" | "number" | "datetime" | "date" | "punct"; text: string; value?: unknown };

function tokenize(q: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < q.length) {
    const c = q[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const rest = q.slice(i);
    let m: RegExpExecArray | null;
    if ((m = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})/.exec(rest))) {
      out.push({ kind: "datetime", text: m[0] });
      i += m[0].length;
    } else if ((m = /^\d{4}-\d{2}-\d{2}(?![\d:T])/.exec(rest))) {
      out.push({ kind: "date", text: m[0] });
      i += m[0].length;
    } else if ((m = /^-?\d+(\.\d+)?/.exec(rest))) {
      out.push({ kind: "number", text: m[0], value: Number(m[0]) });
      i += m[0].length;
    } else if (c === "'") {
      let j = i + 1;
      let s = "";
      while (j < q.length && q[j] !== "'") {
        if (q[j] === "\\" && j + 1 < q.length) {
          const e = q[j + 1]!;
          s += e === "n" ? "\n" : e === "t" ? "\t" : e;
          j += 2;
        } else s += q[j++];
      }
      if (j >= q.length) throw new SoqlError("unterminated string literal");
      out.push({ kind: "string", text: q.slice(i, j + 1), value: s });
      i = j + 1;
    } else if ((m = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*/.exec(rest))) {
      out.push({ kind: "word", text: m[0] });
      i += m[0].length;
    } else if ((m = /^(<=|>=|!=|<>|[=<>(),])/.exec(rest))) {
      out.push({ kind: "punct", text: m[0] });
      i += m[0].length;
    } else throw new SoqlError(`unexpected character '${c}'`);
  }
  return out;
}

const RESERVED = new Set(["select", "from", "where", "and", "or", "not", "order", "by", "limit", "offset", "asc", "desc", "nulls", "first", "last", "like", "in", "null", "true", "false"]);

class Parser {
  private i = 0;
  constructor(private toks: Token[]) {}

  private peek(): Token | undefined {
    return this.toks[this.i];
  }
  private isWord(w: string): boolean {
    const t = this.peek();
    return !!t && t.kind === "word" && t.text.toLowerCase() === w;
  }
  private expectWord(w: string): void {
    if (!this.isWord(w)) throw new SoqlError(`expecting '${w.toUpperCase()}', found '${this.peek()?.text ?? "end of query"}'`);
    this.i++;
  }
  private expectPunct(p: string): void {
    const t = this.peek();
    if (!t || t.kind !== "punct" || t.text !== p) throw new SoqlError(`expecting '${p}', found '${t?.text ?? "end of query"}'`);
    this.i++;
  }
  private identifier(): string {
    const t = this.peek();
    if (!t || t.kind !== "word" || RESERVED.has(t.text.toLowerCase())) throw new SoqlError(`unexpected token: '${t?.text ?? "end of query"}'`);
    this.i++;
    return t.text;
  }

  query(nested: boolean): Query {
    this.expectWord("select");
    const select: SelectItem[] = [];
    for (;;) {
      const t = this.peek();
      if (t?.kind === "punct" && t.text === "(") {
        if (nested) throw new SoqlError("nested sub-queries are not supported");
        this.i++;
        select.push({ sub: this.query(true) });
        this.expectPunct(")");
      } else select.push({ field: this.identifier() });
      const n = this.peek();
      if (n?.kind === "punct" && n.text === ",") this.i++;
      else break;
    }
    this.expectWord("from");
    const q: Query = { select, from: this.identifier(), orderBy: [] };
    if (this.isWord("where")) {
      this.i++;
      q.where = this.or();
    }
    if (this.isWord("order")) {
      this.i++;
      this.expectWord("by");
      for (;;) {
        const field = this.identifier();
        let desc = false;
        if (this.isWord("asc")) this.i++;
        else if (this.isWord("desc")) {
          this.i++;
          desc = true;
        }
        let nullsLast = desc;
        if (this.isWord("nulls")) {
          this.i++;
          if (this.isWord("first")) nullsLast = false;
          else if (this.isWord("last")) nullsLast = true;
          else throw new SoqlError("expecting FIRST or LAST after NULLS");
          this.i++;
        }
        q.orderBy.push({ field, desc, nullsLast });
        const n = this.peek();
        if (n?.kind === "punct" && n.text === ",") this.i++;
        else break;
      }
    }
    if (this.isWord("limit")) {
      this.i++;
      q.limit = this.nonNegativeInt("LIMIT");
    }
    if (this.isWord("offset")) {
      this.i++;
      q.offset = this.nonNegativeInt("OFFSET");
    }
    if (!nested && this.peek()) throw new SoqlError(`unexpected token: '${this.peek()!.text}'`);
    return q;
  }

  private nonNegativeInt(what: string): number {
    const t = this.peek();
    if (!t || t.kind !== "number" || !Number.isInteger(t.value) || (t.value as number) < 0) throw new SoqlError(`${what} must be a non-negative integer`);
    this.i++;
    return t.value as number;
  }

  private or(): Condition {
    let left = this.and();
    while (this.isWord("or")) {
      this.i++;
      left = { op: "or", left, right: this.and() };
    }
    return left;
  }
  private and(): Condition {
    let left = this.unary();
    while (this.isWord("and")) {
      this.i++;
      left = { op: "and", left, right: this.unary() };
    }
    return left;
  }
  private unary(): Condition {
    if (this.isWord("not")) {
      this.i++;
      return { op: "not", inner: this.unary() };
    }
    const t = this.peek();
    if (t?.kind === "punct" && t.text === "(") {
      this.i++;
      const c = this.or();
      this.expectPunct(")");
      return c;
    }
    const field = this.identifier();
    let cmp: string;
    const o = this.peek();
    if (o?.kind === "punct" && ["=", "!=", "<>", "<", "<=", ">", ">="].includes(o.text)) {
      cmp = o.text === "<>" ? "!=" : o.text;
      this.i++;
    } else if (this.isWord("like")) {
      cmp = "like";
      this.i++;
    } else if (this.isWord("in") || this.isWord("not")) {
      const negated = this.isWord("not");
      this.i++;
      if (negated) this.expectWord("in");
      this.expectPunct("(");
      const values: Literal[] = [];
      for (;;) {
        values.push(this.literal());
        const n = this.peek();
        if (n?.kind === "punct" && n.text === ",") this.i++;
        else break;
      }
      this.expectPunct(")");
      return { op: "cmp", field, cmp: negated ? "not in" : "in", value: values };
    } else throw new SoqlError(`unexpected token: '${o?.text ?? "end of query"}'`);
    return { op: "cmp", field, cmp, value: this.literal() };
  }
  private literal(): Literal {
    const t = this.peek();
    if (!t) throw new SoqlError("unexpected end of query");
    this.i++;
    if (t.kind === "string" || t.kind === "number") return t.value as Literal;
    if (t.kind === "datetime") return { dateTime: t.text };
    if (t.kind === "date") return { date: t.text };
    if (t.kind === "word") {
      const w = t.text.toLowerCase();
      if (w === "null") return null;
      if (w === "true" || w === "false") return w === "true";
    }
    throw new SoqlError(`unexpected token: '${t.text}'`);
  }
}

export function parseSoql(q: string): Query {
  return new Parser(tokenize(q)).query(false);
}
