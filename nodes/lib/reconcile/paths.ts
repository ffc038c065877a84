/** Reads a field of a record by a dot path (`customer.id`, `lines[0].amount`); own properties only. */
export type Getter = (record: unknown) => unknown;

const FORBIDDEN = new Set(["__proto__", "constructor", "prototype"]);
const SEGMENT = /^([^[\]]+)?((?:\[\d+\])*)$/;

/** Splits a path into property names and array indexes; throws naming the path when it cannot be read. */
export function parsePath(path: string): string[] {
  if (typeof path !== "string" || path.trim() === "") throw new Error("a field path is empty");
  const segments: string[] = [];
  for (const part of path.trim().split(".")) {
    const m = SEGMENT.exec(part);
    if (!m || (!m[1] && !m[2])) throw new Error(`field path "${path}" is not a dot path such as customer.id or lines[0].amount`);
    if (m[1]) segments.push(m[1]);
    for (const index of (m[2] ?? "").match(/\d+/g) ?? []) segments.push(index);
  }
  for (const s of segments) {
    if (FORBIDDEN.has(s)) throw new Error(`field path "${path}" uses "${s}", which is not allowed`);
  }
  return segments;
}

function step(value: unknown, name: string): unknown {
  return value !== null && typeof value === "object" && Object.hasOwn(value, name) ? (value as Record<string, unknown>)[name] : undefined;
}

export function compileGetter(path: string): Getter {
  const segments = parsePath(path);
  if (segments.length === 1) {
    const name = segments[0] as string;
    return (record) => step(record, name);
  }
  return (record) => {
    let value = record;
    for (const name of segments) {
      value = step(value, name);
      if (value === undefined) return undefined;
    }
    return value;
  };
}
