import { createHash } from "node:crypto";

/**
 * Canonical JSON: object keys sorted (by UTF-16 code units), no whitespace, undefined members left out as JSON
 * does. Two payloads that differ only in key order give the same text.
 */
export function canonicalJson(value: unknown): string {
  const seen = new Set<object>();
  const write = (v: unknown): string | undefined => {
    if (v === null || typeof v === "boolean" || typeof v === "string") return JSON.stringify(v);
    if (typeof v === "number") return Number.isFinite(v) ? JSON.stringify(v) : "null";
    if (typeof v === "bigint") return JSON.stringify(v.toString());
    if (typeof v !== "object") return undefined;
    const withJson = v as { toJSON?: () => unknown };
    if (typeof withJson.toJSON === "function") return write(withJson.toJSON());
    if (seen.has(v)) throw new TypeError("cannot fingerprint a circular structure");
    seen.add(v);
    let text: string;
    if (Array.isArray(v)) {
      text = `[${v.map((item) => write(item) ?? "null").join(",")}]`;
    } else {
      const parts: string[] = [];
      for (const key of Object.keys(v).sort()) {
        const item = write((v as Record<string, unknown>)[key]);
        if (item !== undefined) parts.push(`${JSON.stringify(key)}:${item}`);
      }
      text = `{${parts.join(",")}}`;
    }
    seen.delete(v);
    return text;
  };
  return write(value) ?? "null";
}

/** SHA-256 (hex) of the canonical JSON of `value`: the gate's payload fingerprint. */
export function fingerprintOf(value: unknown): string {
  return createHash("sha256").update(canonicalJson(value)).digest("hex");
}
