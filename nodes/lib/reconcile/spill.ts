import { promises as fsp } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { StringDecoder } from "node:string_decoder";

/**
 * Sorted runs on disk for the external sort-merge path. A run is one line per record,
 * `<key as JSON>\t<record as JSON>\n`, sorted by key and, for equal keys, in arrival order. JSON text never holds a
 * raw tab or newline, so both split without a parser.
 */

const WRITE_BLOCK = 1 << 20;
const READ_BLOCK = 1 << 20;

export function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Writes records sorted by key (stable) to a new run file. */
export async function writeRun(file: string, keys: string[], records: unknown[]): Promise<void> {
  const order = new Uint32Array(keys.length);
  for (let i = 0; i < order.length; i++) order[i] = i;
  // A typed-array sort is not guaranteed stable, so ties are broken by arrival position explicitly.
  order.sort((a, b) => compareKeys(keys[a] as string, keys[b] as string) || a - b);
  const handle = await fsp.open(file, "wx");
  try {
    let block = "";
    for (const i of order) {
      block += `${JSON.stringify(keys[i])}\t${JSON.stringify(records[i])}\n`;
      if (block.length >= WRITE_BLOCK) {
        await handle.write(block);
        block = "";
      }
    }
    if (block) await handle.write(block);
  } finally {
    await handle.close();
  }
}

/** Reads a run back one record at a time; `advance()` only returns a promise when it has to read from disk. */
export class RunReader {
  key = "";
  record: unknown = undefined;
  done = false;
  private lines: string[] = [];
  private position = 0;
  private rest = "";
  private endOfFile = false;
  private readonly buffer = Buffer.allocUnsafe(READ_BLOCK);
  private readonly decoder = new StringDecoder("utf8");

  private constructor(private readonly handle: FileHandle, readonly file: string) {}

  static async open(file: string): Promise<RunReader> {
    const reader = new RunReader(await fsp.open(file, "r"), file);
    await reader.advance();
    return reader;
  }

  advance(): void | Promise<void> {
    if (this.position < this.lines.length) {
      this.take(this.lines[this.position++] as string);
      return;
    }
    return this.refillAndAdvance();
  }

  async close(): Promise<void> {
    await this.handle.close();
  }

  private take(line: string): void {
    const tab = line.indexOf("\t");
    if (tab < 0) throw new Error(`spill file ${this.file} is damaged`);
    this.key = JSON.parse(line.slice(0, tab)) as string;
    this.record = JSON.parse(line.slice(tab + 1));
  }

  private async refillAndAdvance(): Promise<void> {
    while (this.position >= this.lines.length) {
      if (this.endOfFile) {
        this.done = true;
        this.record = undefined;
        return;
      }
      const { bytesRead } = await this.handle.read(this.buffer, 0, READ_BLOCK, null);
      let text: string;
      if (bytesRead === 0) {
        this.endOfFile = true;
        text = this.rest + this.decoder.end();
        this.rest = "";
        this.lines = text ? [text] : [];
      } else {
        text = this.rest + this.decoder.write(this.buffer.subarray(0, bytesRead));
        const lines = text.split("\n");
        this.rest = lines.pop() as string;
        this.lines = lines;
      }
      this.position = 0;
    }
    this.take(this.lines[this.position++] as string);
  }
}

/** All records of one key on one side: the first to arrive, and any further ones (duplicates). */
export interface KeyGroup {
  key: string;
  first: unknown;
  extras: unknown[] | undefined;
}

/** Merges one side's runs into a stream of key groups in key order; runs are given oldest first. */
export class SideMerge {
  private constructor(private readonly readers: RunReader[]) {}

  static async open(files: string[]): Promise<SideMerge> {
    const readers: RunReader[] = [];
    try {
      for (const file of files) readers.push(await RunReader.open(file));
    } catch (err) {
      await Promise.all(readers.map((r) => r.close()));
      throw err;
    }
    return new SideMerge(readers);
  }

  /** The next key group, or undefined at the end. The few runs a budget gives make a linear scan cheaper than a heap. */
  async next(): Promise<KeyGroup | undefined> {
    let lowest: RunReader | undefined;
    for (const r of this.readers) {
      if (!r.done && (lowest === undefined || r.key < lowest.key)) lowest = r;
    }
    if (!lowest) return undefined;
    const key = lowest.key;
    const group: KeyGroup = { key, first: lowest.record, extras: undefined };
    let pending = lowest.advance();
    if (pending) await pending;
    for (const r of this.readers) {
      while (!r.done && r.key === key) {
        (group.extras ??= []).push(r.record);
        pending = r.advance();
        if (pending) await pending;
      }
    }
    return group;
  }

  async close(): Promise<void> {
    await Promise.all(this.readers.map((r) => r.close()));
  }
}
