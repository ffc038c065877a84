import type { Decimal, Rounding } from "../canonical/money";
import { isCurrency } from "../canonical/currencies";
import { compileGetter, type Getter } from "./paths";
import {
  absMinor,
  decimalText,
  formatMinorUnits,
  minorUnits,
  readDecimal,
  subtractDecimal,
  subtractMinor,
  withinTolerance,
  type Minor,
} from "./amounts";

/** How two values of a field are compared. */
export type RuleName = "exact" | "text" | "number" | "money" | "datetime" | "ignore";
export const RULE_NAMES: readonly RuleName[] = ["exact", "text", "number", "money", "datetime", "ignore"];

/** One field rule as configured. `rightField` defaults to `field`; options apply to their rule only. */
export interface FieldRuleSpec {
  field: string;
  rightField?: string;
  rule: RuleName;
  /** number: largest absolute difference that still matches (decimal). */
  absolute?: string | number;
  /** number: largest difference relative to the larger magnitude (0.001 = 0.1 %). */
  relative?: string | number;
  /** money: where the currency code is, when the amount is not a canonical {amount, currency}. */
  currencyField?: string;
  rightCurrencyField?: string;
  /** money: the currency when the record carries none. */
  currency?: string;
  /** money: how an amount with more places than the currency's minor unit is rounded before comparing. */
  rounding?: Rounding;
  /** money: largest difference that still matches, in the currency's units ("0.01"). */
  tolerance?: string | number;
  /** datetime: largest difference that still matches, in seconds. */
  window?: string | number;
}

/** A difference in one field of a key present on both sides. */
export interface FieldDiff {
  field: string;
  rightField?: string;
  left: unknown;
  right: unknown;
  rule: RuleName;
  /** left − right, in the field's unit: decimal text for number and money, milliseconds for datetime. */
  difference?: string | number;
  /** Why the values could not be compared as the rule asks ("not a number", "currency differs"…). */
  reason?: string;
}

/** A money amount of a record in exact minor units, for comparison and control totals. */
export interface MoneyValue {
  currency: string;
  minor: Minor;
}

export class ReconcileConfigError extends Error {}

const ROUNDINGS: readonly Rounding[] = ["half-up", "half-even", "down", "up", "exact"];

function present(v: unknown): boolean {
  return v !== undefined && v !== null && v !== "";
}

/** Canonical text of a value for exact comparison: key order of objects does not matter. */
function canonicalJson(value: unknown): string {
  if (value === undefined) return "null";
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (typeof (value as { toJSON?: unknown }).toJSON === "function") return canonicalJson((value as { toJSON(): unknown }).toJSON());
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const keys = Object.keys(value).filter((k) => (value as Record<string, unknown>)[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(",")}}`;
}

export function sameExact(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === undefined || a === null) return b === undefined || b === null;
  if (typeof a === "object" || typeof b === "object") return canonicalJson(a) === canonicalJson(b);
  return false;
}

const WHITESPACE = /\s+/g;

function isSpace(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13);
}

/**
 * Compares two ASCII strings ignoring case, surrounding whitespace and the length of inner whitespace runs, without
 * building the folded strings; undefined when either has other characters and the general path must decide.
 */
function foldedEqualAscii(a: string, b: string): boolean | undefined {
  let i = 0;
  let j = 0;
  let ea = a.length;
  let eb = b.length;
  while (i < ea && isSpace(a.charCodeAt(i))) i++;
  while (j < eb && isSpace(b.charCodeAt(j))) j++;
  while (ea > i && isSpace(a.charCodeAt(ea - 1))) ea--;
  while (eb > j && isSpace(b.charCodeAt(eb - 1))) eb--;
  while (i < ea && j < eb) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(j);
    if (x > 127 || y > 127) return undefined;
    if (isSpace(x)) {
      if (!isSpace(y)) return false;
      while (isSpace(a.charCodeAt(i))) i++;
      while (isSpace(b.charCodeAt(j))) j++;
      continue;
    }
    if (x >= 65 && x <= 90) x += 32;
    if (y >= 65 && y <= 90) y += 32;
    if (x !== y) return false;
    i++;
    j++;
  }
  if (i < ea || j < eb) {
    for (let k = i; k < ea; k++) if (a.charCodeAt(k) > 127) return undefined;
    for (let k = j; k < eb; k++) if (b.charCodeAt(k) > 127) return undefined;
    return false;
  }
  return true;
}

function sameText(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a === "string" && typeof b === "string") {
    const fast = foldedEqualAscii(a, b);
    if (fast !== undefined) return fast;
  }
  return foldText(a) === foldText(b);
}

function foldText(v: unknown): string {
  if (v === undefined || v === null) return "";
  const text = typeof v === "string" ? v : typeof v === "object" ? canonicalJson(v) : String(v);
  return text.trim().replace(WHITESPACE, " ").toLowerCase().normalize("NFC");
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function digitsAt(s: string, at: number, n: number): number {
  let v = 0;
  for (let k = at; k < at + n; k++) {
    const c = s.charCodeAt(k) - 48;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v;
}

/**
 * The common ISO 8601 shapes (`2026-01-31`, `2026-01-31T09:30:00Z`, `…:00.123+02:00`) read without Date.parse,
 * which dominates a large comparison otherwise; undefined for any other text (Date.parse then decides).
 */
function isoEpochMs(s: string): number | undefined {
  const n = s.length;
  if (n < 10 || s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45) return undefined;
  const year = digitsAt(s, 0, 4);
  const month = digitsAt(s, 5, 2);
  const day = digitsAt(s, 8, 2);
  // Date.UTC maps years below 100 to 19xx; Date.parse reads those.
  if (year < 100 || month < 1 || month > 12 || day < 1 || day > 31) return undefined;
  const leapYear = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (day > (month === 2 && leapYear ? 29 : (DAYS_IN_MONTH[month - 1] as number))) return undefined;
  if (n === 10) return Date.UTC(year, month - 1, day);
  const t = s.charCodeAt(10);
  if ((t !== 84 && t !== 32) || n < 17 || s.charCodeAt(13) !== 58) return undefined;
  const hour = digitsAt(s, 11, 2);
  const minute = digitsAt(s, 14, 2);
  let at = 16;
  let second = 0;
  let ms = 0;
  if (s.charCodeAt(at) === 58) {
    second = digitsAt(s, at + 1, 2);
    at += 3;
    if (s.charCodeAt(at) === 46) {
      let k = at + 1;
      let scale = 100;
      while (k < n && s.charCodeAt(k) >= 48 && s.charCodeAt(k) <= 57) {
        ms += (s.charCodeAt(k) - 48) * scale;
        scale /= 10;
        k++;
      }
      if (k === at + 1) return undefined;
      ms = Math.floor(ms);
      at = k;
    }
  }
  if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) return undefined;
  let offset = 0;
  const z = s.charCodeAt(at);
  if (z === 90 && at + 1 === n) offset = 0;
  else if ((z === 43 || z === 45) && at + 6 === n && s.charCodeAt(at + 3) === 58) {
    const oh = digitsAt(s, at + 1, 2);
    const om = digitsAt(s, at + 4, 2);
    if (oh < 0 || om < 0) return undefined;
    offset = (z === 43 ? 1 : -1) * (oh * 60 + om) * 60000;
  } else {
    // No zone: Date.parse reads it as local time, and so must we.
    return undefined;
  }
  return Date.UTC(year, month - 1, day, hour, minute, second, ms) - offset;
}

function epochMs(v: unknown): number | undefined {
  if (typeof v === "number") return Number.isFinite(v) ? v : undefined;
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? undefined : v.getTime();
  if (typeof v === "string") {
    const fast = isoEpochMs(v);
    if (fast !== undefined) return fast;
    const t = Date.parse(v);
    return Number.isNaN(t) ? undefined : t;
  }
  return undefined;
}

function optionalDecimal(spec: FieldRuleSpec, option: "absolute" | "relative" | "tolerance" | "window"): Decimal {
  const raw = spec[option];
  if (raw === undefined || raw === null || raw === "") return { coefficient: 0n, scale: 0 };
  const d = readDecimal(raw);
  if (!d || d.coefficient < 0n) {
    throw new ReconcileConfigError(`field "${spec.field}": ${option} must be a non-negative number, got ${JSON.stringify(raw)}`);
  }
  return d;
}

function toNumber(d: Decimal): number {
  return Number(decimalText(d));
}

/** A field rule ready to compare two records. */
export class FieldRule {
  readonly field: string;
  readonly rightField: string;
  readonly rule: RuleName;
  readonly readLeft: Getter;
  readonly readRight: Getter;
  readonly compare: (left: unknown, right: unknown, leftRecord: unknown, rightRecord: unknown) => FieldDiff | undefined;
  /** money rules: the amount of a record in minor units, or a reason it has none. */
  readonly moneyOf?: (record: unknown, side: "left" | "right") => MoneyValue | string | undefined;

  constructor(spec: FieldRuleSpec) {
    if (!spec || typeof spec !== "object") throw new ReconcileConfigError("a field rule must be an object");
    if (typeof spec.field !== "string" || spec.field.trim() === "") throw new ReconcileConfigError("a field rule has no field");
    if (!RULE_NAMES.includes(spec.rule)) {
      throw new ReconcileConfigError(`field "${spec.field}": unknown rule ${JSON.stringify(spec.rule)} (use ${RULE_NAMES.join(", ")})`);
    }
    this.field = spec.field.trim();
    this.rightField = spec.rightField && spec.rightField.trim() ? spec.rightField.trim() : this.field;
    this.rule = spec.rule;
    try {
      this.readLeft = compileGetter(this.field);
      this.readRight = compileGetter(this.rightField);
    } catch (err) {
      throw new ReconcileConfigError(`field "${spec.field}": ${(err as Error).message}`);
    }
    const diff = (left: unknown, right: unknown, extra?: Partial<FieldDiff>): FieldDiff => {
      const d: FieldDiff = { field: this.field, left, right, rule: this.rule, ...extra };
      if (this.rightField !== this.field) d.rightField = this.rightField;
      return d;
    };

    switch (spec.rule) {
      case "ignore":
        this.compare = () => undefined;
        break;
      case "exact":
        this.compare = (l, r) => (sameExact(l, r) ? undefined : diff(l, r));
        break;
      case "text":
        this.compare = (l, r) => (sameText(l, r) ? undefined : diff(l, r));
        break;
      case "number": {
        const absolute = optionalDecimal(spec, "absolute");
        const relative = optionalDecimal(spec, "relative");
        const fAbs = toNumber(absolute);
        const fRel = toNumber(relative);
        this.compare = (l, r) => {
          if (!present(l) && !present(r)) return undefined;
          if (!present(l) || !present(r)) return diff(l, r, { reason: "missing" });
          const a = readDecimal(l);
          const b = readDecimal(r);
          if (!a || !b) return diff(l, r, { reason: "not a number" });
          if (withinTolerance(a, b, Number(l), Number(r), absolute, relative, fAbs, fRel)) return undefined;
          return diff(l, r, { difference: decimalText(subtractDecimal(a, b)) });
        };
        break;
      }
      case "money": {
        const rounding = spec.rounding ?? "half-up";
        if (!ROUNDINGS.includes(rounding)) {
          throw new ReconcileConfigError(`field "${spec.field}": rounding must be one of ${ROUNDINGS.join(", ")}`);
        }
        if (spec.currency !== undefined && spec.currency !== "" && !isCurrency(spec.currency)) {
          throw new ReconcileConfigError(`field "${spec.field}": currency ${JSON.stringify(spec.currency)} is not an ISO 4217 code`);
        }
        const fixedCurrency = spec.currency || undefined;
        const tolerance = optionalDecimal(spec, "tolerance");
        let leftCurrency: Getter | undefined;
        let rightCurrency: Getter | undefined;
        try {
          if (spec.currencyField) leftCurrency = compileGetter(spec.currencyField);
          const rcf = spec.rightCurrencyField || spec.currencyField;
          if (rcf) rightCurrency = compileGetter(rcf);
        } catch (err) {
          throw new ReconcileConfigError(`field "${spec.field}": ${(err as Error).message}`);
        }
        const toleranceMinor = new Map<string, Minor>();
        const toleranceIn = (currency: string): Minor => {
          let t = toleranceMinor.get(currency);
          if (t === undefined) {
            t = minorUnits(decimalText(tolerance), currency, "up");
            toleranceMinor.set(currency, t);
          }
          return t;
        };
        const read = (value: unknown, record: unknown, currencyOf: Getter | undefined): MoneyValue | string | undefined => {
          let amount = value;
          let currency: unknown;
          if (value !== null && typeof value === "object" && Object.hasOwn(value, "amount")) {
            amount = (value as { amount: unknown }).amount;
            currency = (value as { currency?: unknown }).currency;
          }
          if (!present(amount)) return undefined;
          if (currency === undefined && currencyOf) currency = currencyOf(record);
          if (!present(currency)) currency = fixedCurrency;
          if (!present(currency)) return "no currency";
          if (!isCurrency(currency)) return "unknown currency";
          try {
            return { currency, minor: minorUnits(amount, currency, rounding) };
          } catch (err) {
            return err instanceof RangeError && /decimal places/.test(err.message) ? "too many decimal places" : "not an amount";
          }
        };
        this.moneyOf = (record, side) =>
          side === "left" ? read(this.readLeft(record), record, leftCurrency) : read(this.readRight(record), record, rightCurrency);
        this.compare = (l, r, lr, rr) => {
          const a = read(l, lr, leftCurrency);
          const b = read(r, rr, rightCurrency);
          if (a === undefined && b === undefined) return undefined;
          if (a === undefined || b === undefined) return diff(l, r, { reason: "missing" });
          if (typeof a === "string" || typeof b === "string") return diff(l, r, { reason: typeof a === "string" ? a : (b as string) });
          if (a.currency !== b.currency) return diff(l, r, { reason: "currency differs" });
          if (a.minor === b.minor) return undefined;
          const difference = subtractMinor(a.minor, b.minor);
          if (absMinor(difference) <= toleranceIn(a.currency)) return undefined;
          return diff(l, r, { difference: formatMinorUnits(difference, a.currency) });
        };
        break;
      }
      case "datetime": {
        const windowMs = toNumber(optionalDecimal(spec, "window")) * 1000;
        this.compare = (l, r) => {
          if (!present(l) && !present(r)) return undefined;
          if (!present(l) || !present(r)) return diff(l, r, { reason: "missing" });
          const a = epochMs(l);
          const b = epochMs(r);
          if (a === undefined || b === undefined) return diff(l, r, { reason: "not a date" });
          return Math.abs(a - b) <= windowMs ? undefined : diff(l, r, { difference: a - b });
        };
        break;
      }
    }
  }
}

/** How a key value is normalised before two keys are compared. */
export interface KeyNormalisation {
  trim?: boolean;
  ignoreCase?: boolean;
  stripLeadingZeros?: boolean;
}

const LEADING_ZEROS = /^0+(?=.)/;

/** A key part as text after normalisation; undefined when the record has no usable value there. */
export function normaliseKeyPart(value: unknown, how: KeyNormalisation): string | undefined {
  let text: string;
  if (typeof value === "string") text = value;
  else if (typeof value === "number") {
    if (!Number.isFinite(value)) return undefined;
    text = String(value);
  } else if (typeof value === "bigint" || typeof value === "boolean") text = String(value);
  else return undefined;
  if (how.trim) text = text.trim();
  if (how.ignoreCase) text = text.toLowerCase();
  if (how.stripLeadingZeros) text = text.replace(LEADING_ZEROS, "");
  return text === "" ? undefined : text;
}
