/**
 * The file store's record format: [0xF5 0x01][u32le length][u32le CRC-32 of length bytes + payload][payload JSON].
 * 0xF5 never occurs in UTF-8, so after a damaged stretch the next record start can be found by scanning for it.
 */
import * as fs from "node:fs";
import * as zlib from "node:zlib";

export const HEADER_BYTES = 10;
const MAGIC0 = 0xf5;
const MAGIC1 = 0x01;
/** Larger records are refused when written and treated as damage when read. */
export const MAX_RECORD_BYTES = 64 * 1024 * 1024;
const OPEN_BRACE = 0x7b;

const CRC_TABLE = (() => {
  const table = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c;
  }
  return table;
})();

/** zlib.crc32 is native from Node 20.15/22.2; the table version serves older Node 20 releases. */
const crc32: (data: Uint8Array, initial?: number) => number =
  (zlib as unknown as { crc32?: (data: Uint8Array, initial?: number) => number }).crc32 ??
  ((data, initial = 0) => {
    let c = ~initial;
    for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
    return ~c >>> 0;
  });

export function encodeRecord(payload: string): Buffer {
  const length = Buffer.byteLength(payload);
  if (length > MAX_RECORD_BYTES) throw new RangeError(`record of ${length} bytes is larger than the file store's limit of ${MAX_RECORD_BYTES}`);
  const buf = Buffer.allocUnsafe(HEADER_BYTES + length);
  buf[0] = MAGIC0;
  buf[1] = MAGIC1;
  buf.writeUInt32LE(length, 2);
  buf.write(payload, HEADER_BYTES, "utf8");
  buf.writeUInt32LE(crc32(buf.subarray(HEADER_BYTES), crc32(buf.subarray(2, 6))), 6);
  return buf;
}

/** Reads a file through a sliding window, so a large log is not read into memory at once. */
class WindowReader {
  private window = Buffer.alloc(0);
  private start = 0;

  constructor(private readonly fd: number, readonly size: number) {}

  /** `length` bytes at `offset`, or undefined past the end of the file. The view is valid until the next call. */
  bytes(offset: number, length: number): Buffer | undefined {
    if (offset + length > this.size) return undefined;
    if (offset < this.start || offset + length > this.start + this.window.length) {
      const want = Math.min(Math.max(length, 4 * 1024 * 1024), this.size - offset);
      if (this.window.length < want) this.window = Buffer.allocUnsafe(want);
      let got = 0;
      while (got < want) {
        const n = fs.readSync(this.fd, this.window, got, want - got, offset + got);
        if (n === 0) break;
        got += n;
      }
      this.start = offset;
      if (got < length) return undefined;
      return this.window.subarray(0, length);
    }
    return this.window.subarray(offset - this.start, offset - this.start + length);
  }
}

/** The payload of a valid record at `offset`, with the offset of the next one; undefined if none starts there. */
function recordAt(reader: WindowReader, offset: number): { payload: Buffer; next: number } | undefined {
  const header = reader.bytes(offset, HEADER_BYTES);
  if (!header || header[0] !== MAGIC0 || header[1] !== MAGIC1) return undefined;
  const length = header.readUInt32LE(2);
  const crc = header.readUInt32LE(6);
  if (length < 2 || length > MAX_RECORD_BYTES) return undefined;
  const lengthCrc = crc32(header.subarray(2, 6));
  const payload = reader.bytes(offset + HEADER_BYTES, length);
  if (!payload || payload[0] !== OPEN_BRACE || crc32(payload, lengthCrc) !== crc) return undefined;
  return { payload, next: offset + HEADER_BYTES + length };
}

export interface DamagedRange {
  offset: number;
  bytes: number;
}

export interface ScanResult {
  records: number;
  /** Where the last valid record ends: the file is truncated to this length. */
  validLength: number;
  /** Stretches between valid records that were skipped (mid-file damage). The torn tail is not among them. */
  damaged: DamagedRange[];
}

/**
 * Reads every valid record of an open log and hands its payload to `apply`. A record that fails its check (or that
 * `apply` rejects) starts a damaged stretch; reading resumes at the next valid record, and a stretch with no valid
 * record after it is the torn tail.
 */
export function scanLog(fd: number, apply: (payload: string) => void): ScanResult {
  const size = fs.fstatSync(fd).size;
  const reader = new WindowReader(fd, size);
  const damaged: DamagedRange[] = [];
  let records = 0;
  let offset = 0;
  let validLength = 0;
  while (offset < size) {
    const found = recordAt(reader, offset);
    let applied = false;
    if (found) {
      try {
        apply(found.payload.toString("utf8"));
        applied = true;
      } catch {
        applied = false;
      }
    }
    if (found && applied) {
      records++;
      offset = found.next;
      validLength = offset;
      continue;
    }
    const resume = nextRecordStart(reader, offset + 1, size);
    if (resume === undefined) break;
    damaged.push({ offset, bytes: resume - offset });
    offset = resume;
  }
  return { records, validLength, damaged };
}

function nextRecordStart(reader: WindowReader, from: number, size: number): number | undefined {
  for (let offset = from; offset + HEADER_BYTES < size; offset++) {
    const first = reader.bytes(offset, 1);
    if (first && first[0] === MAGIC0 && recordAt(reader, offset)) return offset;
  }
  return undefined;
}
