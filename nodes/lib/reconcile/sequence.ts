/** Node-RED's `msg.parts` as a split node or a paginated read sets it. */
export interface Parts {
  id?: unknown;
  index?: unknown;
  count?: unknown;
}

export class SequenceError extends Error {}

/**
 * The chunks of one side of a reconciliation. With `msg.parts` the side is complete once every index below
 * `parts.count` has arrived once (count may come only with the last part, as a streaming split sends it);
 * without parts it ends with an explicit end message. Anything that would make the set ambiguous — an index twice,
 * an index past the count, a count that changes, a second sequence id — is an error.
 */
export class SideSequence {
  private id: unknown;
  private count: number | undefined;
  /** Every index below this one has arrived; arrivals above it wait in `ahead`. */
  private contiguous = 0;
  private readonly ahead = new Set<number>();
  private unsequenced = false;
  private ended = false;

  constructor(private readonly side: string) {}

  /** Records one chunk; returns true when it completes the side. */
  accept(parts: Parts | undefined): boolean {
    if (this.ended) throw new SequenceError(`${this.side} side has already ended: a chunk arrived after its last part or its end message`);
    if (parts === undefined || parts === null) {
      if (this.id !== undefined) throw new SequenceError(`${this.side} side: a chunk without msg.parts arrived inside the sequence ${String(this.id)}`);
      this.unsequenced = true;
      return false;
    }
    if (typeof parts !== "object") throw new SequenceError(`${this.side} side: msg.parts must be an object`);
    if (this.unsequenced) throw new SequenceError(`${this.side} side: a chunk with msg.parts arrived after chunks without`);
    const { id, index, count } = parts;
    if (typeof id !== "string" && typeof id !== "number") throw new SequenceError(`${this.side} side: msg.parts.id is missing`);
    if (this.id === undefined) this.id = id;
    else if (this.id !== id) {
      throw new SequenceError(`${this.side} side: msg.parts.id changed from ${String(this.id)} to ${String(id)} before the sequence was complete`);
    }
    if (typeof index !== "number" || !Number.isInteger(index) || index < 0) {
      throw new SequenceError(`${this.side} side: msg.parts.index must be a whole number ≥ 0, got ${JSON.stringify(index)}`);
    }
    if (count !== undefined) {
      if (typeof count !== "number" || !Number.isInteger(count) || count < 1) {
        throw new SequenceError(`${this.side} side: msg.parts.count must be a whole number ≥ 1, got ${JSON.stringify(count)}`);
      }
      if (this.count !== undefined && this.count !== count) {
        throw new SequenceError(`${this.side} side: msg.parts.count changed from ${this.count} to ${count}`);
      }
      if (this.count === undefined) {
        for (const i of this.ahead) {
          if (i >= count) throw new SequenceError(`${this.side} side: msg.parts.index ${i} is past msg.parts.count ${count}`);
        }
        if (this.contiguous > count) throw new SequenceError(`${this.side} side: more parts than msg.parts.count ${count}`);
      }
      this.count = count;
    }
    if (this.count !== undefined && index >= this.count) {
      throw new SequenceError(`${this.side} side: msg.parts.index ${index} is past msg.parts.count ${this.count}`);
    }
    if (index < this.contiguous || this.ahead.has(index)) throw new SequenceError(`${this.side} side: msg.parts.index ${index} arrived twice`);
    if (this.count !== undefined && this.contiguous + this.ahead.size >= this.count) {
      throw new SequenceError(`${this.side} side: more parts than msg.parts.count ${this.count}`);
    }
    if (index === this.contiguous) {
      this.contiguous++;
      while (this.ahead.delete(this.contiguous)) this.contiguous++;
    } else {
      this.ahead.add(index);
    }
    if (this.count !== undefined && this.contiguous === this.count) this.ended = true;
    return this.ended;
  }

  /** An explicit end: refused while a counted sequence still misses parts. */
  end(): void {
    if (this.ended) return;
    const received = this.contiguous + this.ahead.size;
    if (this.count !== undefined && received < this.count) {
      throw new SequenceError(`${this.side} side: end arrived after ${received} of ${this.count} parts`);
    }
    if (this.id !== undefined && this.ahead.size > 0) {
      throw new SequenceError(`${this.side} side: end arrived while parts before index ${Math.min(...this.ahead)} are missing`);
    }
    this.ended = true;
  }

  get complete(): boolean {
    return this.ended;
  }
}
