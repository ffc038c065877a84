import { formatDecimal, formatMinor, parseDecimal, rescale, type Decimal, type Rounding } from "../canonical/money";
import { minorUnitDigits } from "../canonical/currencies";

/**
 * An amount in minor units: a Number while it is a safe integer, a BigInt beyond. Each value has exactly one
 * representation, so `===` compares two of them, and the common case costs no BigInt arithmetic.
 */
export type Minor = number | bigint;

const MAX_FAST_DIGITS = 15;
const POW10 = [1, 10, 100, 1000, 10000];

/** "123.45" with 2 minor digits → 12345, without allocating; undefined when the text needs the exact parser. */
function fastMinor(text: string, digits: number): number | undefined {
  const n = text.length;
  let i = 0;
  let negative = false;
  const first = text.charCodeAt(0);
  if (first === 45 || first === 43) {
    negative = first === 45;
    i = 1;
  }
  let value = 0;
  let count = 0;
  let fraction = -1;
  for (; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      value = value * 10 + (c - 48);
      count++;
      if (fraction >= 0) fraction++;
    } else if (c === 46 && fraction < 0) {
      fraction = 0;
    } else {
      return undefined;
    }
  }
  if (fraction < 0) fraction = 0;
  if (count === 0 || fraction > digits || count + digits - fraction > MAX_FAST_DIGITS) return undefined;
  value *= POW10[digits - fraction] as number;
  return negative ? -value : value;
}

function narrow(value: bigint): Minor {
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
}

/** An amount (decimal text or JSON number) in minor units of its currency, rounded as asked when it has more places. */
export function minorUnits(amount: unknown, currency: string, rounding: Rounding): Minor {
  const digits = minorUnitDigits(currency);
  if (typeof amount === "number") amount = String(amount);
  if (typeof amount !== "string") throw new TypeError("not an amount");
  if (digits < POW10.length) {
    const fast = fastMinor(amount, digits);
    if (fast !== undefined) return fast === 0 ? 0 : fast;
  }
  return narrow(rescale(parseDecimal(amount), digits, rounding));
}

export function subtractMinor(a: Minor, b: Minor): Minor {
  if (typeof a === "number" && typeof b === "number") {
    const d = a - b;
    if (Number.isSafeInteger(d)) return d;
  }
  return narrow(BigInt(a) - BigInt(b));
}

export function absMinor(a: Minor): Minor {
  return a < 0 ? -a : a;
}

export function formatMinorUnits(value: Minor, currency: string): string {
  return formatMinor(BigInt(value), currency);
}

/** An exact running sum of minor units: Number arithmetic while it stays exact, BigInt beyond. */
export class MinorSum {
  private small = 0;
  private big = 0n;

  add(value: Minor): void {
    if (typeof value === "number") {
      const s = this.small + value;
      if (Number.isSafeInteger(s)) {
        this.small = s;
        return;
      }
      this.big += BigInt(this.small) + BigInt(value);
      this.small = 0;
      return;
    }
    this.big += value;
  }

  get total(): bigint {
    return this.big + BigInt(this.small);
  }
}

/** A decimal number read from a JSON number or decimal text; undefined when it is neither. */
export function readDecimal(value: unknown): Decimal | undefined {
  if (typeof value !== "number" && typeof value !== "string") return undefined;
  if (typeof value === "string" && value.trim() === "") return undefined;
  try {
    return parseDecimal(value);
  } catch {
    return undefined;
  }
}

function align(a: Decimal, b: Decimal): [bigint, bigint, number] {
  const scale = Math.max(a.scale, b.scale);
  return [a.coefficient * 10n ** BigInt(scale - a.scale), b.coefficient * 10n ** BigInt(scale - b.scale), scale];
}

export function subtractDecimal(a: Decimal, b: Decimal): Decimal {
  const [x, y, scale] = align(a, b);
  return { coefficient: x - y, scale };
}

function absDecimal(d: Decimal): Decimal {
  return d.coefficient < 0n ? { coefficient: -d.coefficient, scale: d.scale } : d;
}

function lessOrEqual(a: Decimal, b: Decimal): boolean {
  const [x, y] = align(a, b);
  return x <= y;
}

export function decimalText(d: Decimal): string {
  return formatDecimal(d);
}

/**
 * Whether |a − b| ≤ max(absolute, relative × max(|a|, |b|)), decided on the exact decimals the records carry,
 * so 100.01 against 100.00 with a tolerance of 0.01 passes (binary floats say 0.010000000000005 > 0.01).
 * Floats decide first when the answer is far from the boundary; exact arithmetic decides near it.
 */
export function withinTolerance(a: Decimal, b: Decimal, fa: number, fb: number, absolute: Decimal, relative: Decimal, fAbs: number, fRel: number): boolean {
  const magnitude = Math.max(Math.abs(fa), Math.abs(fb));
  const d = Math.abs(fa - fb);
  const tolerance = Math.max(fAbs, fRel * magnitude);
  const slack = 1e-12 * (magnitude + tolerance);
  if (d + slack < tolerance) return true;
  if (d - slack > tolerance) return false;
  const difference = absDecimal(subtractDecimal(a, b));
  if (lessOrEqual(difference, absolute)) return true;
  const larger = lessOrEqual(absDecimal(a), absDecimal(b)) ? absDecimal(b) : absDecimal(a);
  const scaled: Decimal = { coefficient: relative.coefficient * larger.coefficient, scale: relative.scale + larger.scale };
  return lessOrEqual(difference, scaled);
}
