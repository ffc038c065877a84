import { minorUnitDigits } from "./currencies";

/**
 * Exact decimal money. Canonical objects carry amounts as decimal strings ("1234.50") next to an ISO 4217
 * currency; arithmetic runs on BigInt counts of the currency's minor unit, so no sum ever drifts the way
 * binary floats do.
 */
export interface Money {
  amount: string;
  currency: string;
}

/** How to round when a value has more digits than the currency's minor unit. */
export type Rounding = "half-up" | "half-even" | "down" | "up" | "exact";

/** A decimal as coefficient × 10^-scale. */
export interface Decimal {
  coefficient: bigint;
  scale: number;
}

const DECIMAL_TEXT = /^([+-]?)(\d+)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$|^([+-]?)\.(\d+)(?:[eE]([+-]?\d+))?$/;
const MAX_SCALE = 40;

/**
 * Parses a decimal from its text or from a JSON number. A number is read from its shortest round-trip text
 * (19.99 → "19.99"), which is what the sender wrote in its JSON.
 */
export function parseDecimal(value: string | number | bigint): Decimal {
  if (typeof value === "bigint") return { coefficient: value, scale: 0 };
  let text: string;
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new RangeError(`not a finite amount: ${value}`);
    text = String(value);
  } else if (typeof value === "string") {
    text = value.trim();
  } else {
    throw new TypeError(`amount must be a decimal string or a number, got ${describe(value)}`);
  }
  const m = DECIMAL_TEXT.exec(text);
  if (!m) throw new RangeError(`not a decimal amount: ${JSON.stringify(value)}`);
  const sign = m[1] ?? m[5] ?? "";
  const intPart = m[2] ?? "0";
  const fracPart = m[3] ?? m[6] ?? "";
  const exponent = Number(m[4] ?? m[7] ?? "0");
  let coefficient = BigInt(intPart + fracPart);
  let scale = fracPart.length - exponent;
  if (scale < 0) {
    coefficient *= 10n ** BigInt(-scale);
    scale = 0;
  }
  if (scale > MAX_SCALE) throw new RangeError(`amount has too many decimal places: ${JSON.stringify(value)}`);
  if (sign === "-") coefficient = -coefficient;
  return { coefficient, scale };
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value;
}

function pow10(n: number): bigint {
  return 10n ** BigInt(n);
}

/** Rescales a decimal to `digits` places, rounding as asked; "exact" throws when digits would be lost. */
export function rescale(d: Decimal, digits: number, rounding: Rounding = "half-up"): bigint {
  if (d.scale <= digits) return d.coefficient * pow10(digits - d.scale);
  const divisor = pow10(d.scale - digits);
  const quotient = d.coefficient / divisor; // truncates toward zero
  const remainder = d.coefficient % divisor;
  if (remainder === 0n) return quotient;
  const negative = d.coefficient < 0n;
  const away = negative ? quotient - 1n : quotient + 1n;
  const twice = (remainder < 0n ? -remainder : remainder) * 2n;
  switch (rounding) {
    case "exact":
      throw new RangeError(`amount has more than ${digits} decimal places`);
    case "down":
      return quotient;
    case "up":
      return away;
    case "half-up":
      return twice >= divisor ? away : quotient;
    case "half-even":
      if (twice > divisor) return away;
      if (twice < divisor) return quotient;
      return quotient % 2n === 0n ? quotient : away;
  }
}

/** The amount in minor units of its currency (cents for USD, yen for JPY, fils for BHD). */
export function toMinor(amount: string | number, currency: string, rounding: Rounding = "exact"): bigint {
  const digits = minorUnitDigits(currency);
  try {
    return rescale(parseDecimal(amount), digits, rounding);
  } catch (err) {
    if (err instanceof RangeError && rounding === "exact" && /decimal places/.test(err.message)) {
      throw new RangeError(`${JSON.stringify(amount)} has more decimal places than ${currency} allows (${digits})`);
    }
    throw err;
  }
}

/** Formats minor units as the currency's decimal text, always with its full number of places ("12.30", "1200", "1.250"). */
export function formatMinor(minor: bigint, currency: string): string {
  return formatDecimal({ coefficient: minor, scale: minorUnitDigits(currency) });
}

export function formatDecimal(d: Decimal): string {
  const negative = d.coefficient < 0n;
  let digits = (negative ? -d.coefficient : d.coefficient).toString();
  if (d.scale > 0) {
    digits = digits.padStart(d.scale + 1, "0");
    digits = `${digits.slice(0, -d.scale)}.${digits.slice(-d.scale)}`;
  }
  return negative ? `-${digits}` : digits;
}

/** A Money rounded to its currency's minor unit. */
export function money(amount: string | number, currency: string, rounding: Rounding = "half-up"): Money {
  return { amount: formatMinor(toMinor(amount, currency, rounding), currency), currency };
}

/**
 * Sums amounts of one currency exactly. Each amount must already fit the minor unit ("exact"), so a
 * misplaced digit is reported rather than rounded away.
 */
export function sumMoney(amounts: Iterable<string | number | Money>, currency: string): Money {
  let total = 0n;
  for (const a of amounts) {
    if (typeof a === "object" && a !== null) {
      if (a.currency !== currency) throw new RangeError(`cannot add ${a.currency} to ${currency}`);
      total += toMinor(a.amount, currency);
    } else {
      total += toMinor(a, currency);
    }
  }
  return { amount: formatMinor(total, currency), currency };
}

/** Sums per currency: the control totals of a record set. */
export function totalsByCurrency(items: Iterable<Money>): Record<string, Money> {
  const minors = new Map<string, bigint>();
  for (const m of items) minors.set(m.currency, (minors.get(m.currency) ?? 0n) + toMinor(m.amount, m.currency));
  const out: Record<string, Money> = {};
  for (const [currency, minor] of minors) out[currency] = { amount: formatMinor(minor, currency), currency };
  return out;
}

/** unitPrice × quantity, computed exactly and then rounded once to the currency's minor unit. */
export function extend(unitPrice: string | number, quantity: string | number, currency: string, rounding: Rounding = "half-up"): Money {
  const p = parseDecimal(unitPrice);
  const q = parseDecimal(quantity);
  const product: Decimal = { coefficient: p.coefficient * q.coefficient, scale: p.scale + q.scale };
  return { amount: formatMinor(rescale(product, minorUnitDigits(currency), rounding), currency), currency };
}

/** Compares two decimals: -1, 0 or 1. */
export function compareDecimal(a: string | number, b: string | number): number {
  const x = parseDecimal(a);
  const y = parseDecimal(b);
  const scale = Math.max(x.scale, y.scale);
  const xa = x.coefficient * pow10(scale - x.scale);
  const ya = y.coefficient * pow10(scale - y.scale);
  return xa === ya ? 0 : xa < ya ? -1 : 1;
}
