// Little-endian reading over a byte stream, for zip.ts.

/**
 * Bytes of a stream read on demand: views of its buffer (one chunk, or the chunks a read needed
 * joined once), little-endian numbers, and a count of the bytes consumed.
 */
export class ByteReader {
  #buffer: Uint8Array = new Uint8Array(0);
  #at = 0;
  /** Bytes consumed so far, counted from `offset` (where in the whole file the stream starts). */
  offset: number;

  constructor(
    private readonly reader: ReadableStreamDefaultReader<Uint8Array>,
    offset = 0,
  ) {
    this.offset = offset;
  }

  get available(): number {
    return this.#buffer.length - this.#at;
  }

  view(): Uint8Array {
    return this.#buffer.subarray(this.#at);
  }

  /** Waits until `n` bytes are buffered; false if the stream ends first. */
  async fill(n: number): Promise<boolean> {
    if (this.available >= n) return true;
    // Chunks are gathered and joined once: joining per chunk costs O(n²) when they are tiny.
    const parts = [this.view()];
    let have = this.available;
    let ended = false;
    while (have < n) {
      const { done, value } = await this.reader.read();
      if (done) {
        ended = true;
        break;
      }
      parts.push(value);
      have += value.length;
    }
    this.#buffer = concat(parts.filter((p) => p.length > 0));
    this.#at = 0;
    return !ended;
  }

  u16(at: number): number {
    return this.#buffer[this.#at + at]! | (this.#buffer[this.#at + at + 1]! << 8);
  }

  u32(at: number): number {
    return u32(this.#buffer, this.#at + at);
  }

  take(n: number): Uint8Array {
    const piece = this.#buffer.subarray(this.#at, this.#at + n);
    this.skip(n);
    return piece;
  }

  skip(n: number): void {
    this.#at += n;
    this.offset += n;
  }

  async close(): Promise<void> {
    await this.reader.cancel().catch(() => {});
  }
}

export function u32(bytes: Uint8Array, at: number): number {
  return (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0;
}

export function readU64(bytes: Uint8Array, at: number): number {
  return u32(bytes, at) + u32(bytes, at + 4) * 2 ** 32;
}

export function concat(chunks: Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}
