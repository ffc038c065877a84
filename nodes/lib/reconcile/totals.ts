import type { FieldRule } from "./rules";
import { MinorSum, formatMinorUnits, subtractMinor, type Minor } from "./amounts";

/** Control totals of one side: record count, and per money field the exact sum per currency. */
export interface SideTotals {
  count: number;
  /** field → currency → decimal text in the currency's minor unit ("1234.50", "1200" for JPY). */
  sums: Record<string, Record<string, string>>;
  /** field → records whose amount could not be read (no currency, not an amount…); they are in no sum. */
  unreadable: Record<string, number>;
}

export interface TotalsReport {
  left: SideTotals;
  right: SideTotals;
  /** left − right: the count, and per field and currency the amount. */
  difference: { count: number; sums: Record<string, Record<string, string>> };
}

type Sums = Map<string, Map<string, MinorSum>>;

/** Sums money fields per side and currency in exact minor units while records arrive. */
export class ControlTotals {
  private readonly count = { left: 0, right: 0 };
  private readonly sums: Record<"left" | "right", Sums> = { left: new Map(), right: new Map() };
  private readonly unreadable: Record<"left" | "right", Map<string, number>> = { left: new Map(), right: new Map() };

  constructor(private readonly moneyRules: FieldRule[]) {
    for (const side of ["left", "right"] as const) {
      for (const r of moneyRules) this.sums[side].set(r.field, new Map());
    }
  }

  add(side: "left" | "right", record: unknown): void {
    this.count[side]++;
    for (const rule of this.moneyRules) {
      const money = rule.moneyOf!(record, side);
      if (money === undefined) continue;
      if (typeof money === "string") {
        this.unreadable[side].set(rule.field, (this.unreadable[side].get(rule.field) ?? 0) + 1);
        continue;
      }
      const byCurrency = this.sums[side].get(rule.field) as Map<string, MinorSum>;
      let sum = byCurrency.get(money.currency);
      if (!sum) byCurrency.set(money.currency, (sum = new MinorSum()));
      sum.add(money.minor);
    }
  }

  report(): TotalsReport {
    const side = (s: "left" | "right"): SideTotals => {
      const sums: Record<string, Record<string, string>> = {};
      for (const [field, byCurrency] of this.sums[s]) {
        sums[field] = {};
        for (const [currency, sum] of [...byCurrency].sort(([a], [b]) => (a < b ? -1 : 1))) {
          sums[field][currency] = formatMinorUnits(sum.total, currency);
        }
      }
      return { count: this.count[s], sums, unreadable: Object.fromEntries(this.unreadable[s]) };
    };
    const difference: Record<string, Record<string, string>> = {};
    for (const [field, leftSums] of this.sums.left) {
      const rightSums = this.sums.right.get(field) as Map<string, MinorSum>;
      const currencies = [...new Set([...leftSums.keys(), ...rightSums.keys()])].sort();
      difference[field] = {};
      for (const c of currencies) {
        const l: Minor = leftSums.get(c)?.total ?? 0n;
        const r: Minor = rightSums.get(c)?.total ?? 0n;
        difference[field][c] = formatMinorUnits(subtractMinor(l, r), c);
      }
    }
    return { left: side("left"), right: side("right"), difference: { count: this.count.left - this.count.right, sums: difference } };
  }
}
