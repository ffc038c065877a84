import { createWriteStream, type WriteStream } from "node:fs";
import { once } from "node:events";

const NEEDS_QUOTES = /[",\r\n]/;
const FORMULA = /^[=+@\t\r]|^-(?!\d)/;

/** A CSV cell: quoted when needed, and never read as a formula by a spreadsheet (a report often ends up in one). */
export function csvCell(value: unknown): string {
  if (value === undefined || value === null) return "";
  let text = typeof value === "string" ? value : typeof value === "object" ? JSON.stringify(value) : String(value);
  if (FORMULA.test(text)) text = `'${text}`;
  return NEEDS_QUOTES.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export const CSV_COLUMNS = ["outcome", "key", "field", "right_field", "left", "right", "rule", "difference", "reason"] as const;

/** The exceptions of a reconciliation as a CSV file, written as results come, with back-pressure. */
export class CsvReport {
  private readonly stream: WriteStream;
  private failure: Error | undefined;

  constructor(readonly path: string) {
    this.stream = createWriteStream(path, { encoding: "utf8" });
    this.stream.on("error", (err) => {
      this.failure = err;
    });
    this.stream.write(CSV_COLUMNS.join(",") + "\n");
  }

  /** Returns a promise only when the file is behind and the caller should wait. */
  row(cells: readonly unknown[]): void | Promise<void> {
    if (this.failure) throw this.failure;
    if (!this.stream.write(cells.map(csvCell).join(",") + "\n")) return this.drain();
  }

  async close(): Promise<void> {
    if (this.failure) throw this.failure;
    this.stream.end();
    await once(this.stream, "finish");
    if (this.failure) throw this.failure;
  }

  destroy(): void {
    this.stream.destroy();
  }

  private async drain(): Promise<void> {
    await Promise.race([once(this.stream, "drain"), once(this.stream, "error")]);
    if (this.failure) throw this.failure;
  }
}
