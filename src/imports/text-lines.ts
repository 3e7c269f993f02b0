// Text formats read line by line: bytes are split at LF before decoding (an LF byte never occurs
// inside a multi-byte UTF-8 sequence), so a chunk boundary anywhere, also inside a character or
// a CRLF, changes nothing, and only the current line is ever held.
import { ImportError } from "./format.ts";

export interface Line {
  text: string;
  /** 1-based. */
  number: number;
  /** Where in the file the line starts, in bytes. */
  offset: number;
}

/** Consecutive non-blank lines, as blank-line separated formats (WebVTT, SRT) group them. */
export interface Block {
  lines: string[];
  /** Number of the block's first line. */
  line: number;
  /** Where in the file the block's first line starts, in bytes. */
  offset: number;
}

/** Where reading goes on in a file read before: the input then starts at byte `offset`, which begins line `line` + 1. */
export interface LineStart {
  offset: number;
  line: number;
}

const MAX_LINE_BYTES = 8 * 1024 * 1024;
const MAX_BLOCK_CHARS = 1024 * 1024;

/** The chunks of a byte stream; leaving early cancels the stream. */
export async function* streamChunks(input: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
  const reader = input.getReader();
  let finished = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (value.length > 0) yield value;
    }
    finished = true;
  } finally {
    if (finished) reader.releaseLock();
    else await reader.cancel().catch(() => undefined);
  }
}

/** The first `n` bytes (fewer if the input is shorter), and every chunk again, those bytes included. */
export async function peekBytes(
  chunks: AsyncIterable<Uint8Array>,
  n: number,
): Promise<{ head: Uint8Array; chunks: AsyncGenerator<Uint8Array> }> {
  const iterator = chunks[Symbol.asyncIterator]();
  const seen: Uint8Array[] = [];
  let size = 0;
  let done = false;
  while (size < n) {
    const next = await iterator.next();
    if (next.done) {
      done = true;
      break;
    }
    seen.push(next.value);
    size += next.value.length;
  }
  async function* replay(): AsyncGenerator<Uint8Array> {
    yield* seen;
    if (!done) yield* { [Symbol.asyncIterator]: () => iterator };
  }
  return { head: concat(seen).subarray(0, n), chunks: replay() };
}

/**
 * The lines of UTF-8 text (LF or CRLF endings, a leading BOM dropped), numbered from 1. Bytes that
 * are not UTF-8, a NUL byte or a line over 8 MiB fail with an ImportError at `file:line`. With
 * `start`, the chunks are the file from a line's start on, and lines are numbered and placed as
 * in the whole file.
 *
 * @example for await (const { text, number } of readLines(streamChunks(body), "chat.txt")) …
 */
export async function* readLines(chunks: AsyncIterable<Uint8Array>, file: string, start?: LineStart): AsyncGenerator<Line> {
  const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  let parts: Uint8Array[] = [];
  let size = 0;
  let number = start?.line ?? 0;
  let offset = start?.offset ?? 0;
  // Whole lines are decoded a chunk at a time, not one by one: one decoder call per chunk.
  function* lines(bytes: Uint8Array): Generator<Line> {
    const text = decodeLines(decoder, bytes, file, number, offset);
    const split = text.split("\n");
    if (split.at(-1) === "") split.pop();
    // An LF byte is an LF character, so the nth line of the text starts after the nth LF byte.
    let from = 0;
    for (const raw of split) {
      number += 1;
      const bare = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
      yield { text: number === 1 && bare.startsWith("\ufeff") ? bare.slice(1) : bare, number, offset: offset + from };
      const lf = bytes.indexOf(10, from);
      from = lf === -1 ? bytes.length : lf + 1;
    }
    offset += bytes.length;
  }
  for await (const chunk of chunks) {
    const last = chunk.lastIndexOf(10);
    if (last === -1) {
      parts.push(chunk);
      size += chunk.length;
      if (size > MAX_LINE_BYTES) throw new ImportError(`${file}:${number + 1}`, "line longer than 8 MiB: not a text file of this format");
      continue;
    }
    const whole = chunk.subarray(0, last + 1);
    yield* lines(parts.length === 0 ? whole : concat([...parts, whole]));
    parts = last + 1 < chunk.length ? [chunk.subarray(last + 1)] : [];
    size = chunk.length - last - 1;
  }
  if (size > 0) yield* lines(concat(parts));
}

/**
 * Groups lines into blocks separated by blank (or whitespace-only) lines.
 *
 * @example for await (const block of readBlocks(readLines(chunks, "transcript.srt"), "transcript.srt")) …
 */
export async function* readBlocks(lines: AsyncIterable<Line>, file: string): AsyncGenerator<Block> {
  let block: Block | undefined;
  let chars = 0;
  for await (const { text, number, offset } of lines) {
    if (text.trim() === "") {
      if (block) yield block;
      block = undefined;
      chars = 0;
      continue;
    }
    block ??= { lines: [], line: number, offset };
    block.lines.push(text);
    chars += text.length;
    if (chars > MAX_BLOCK_CHARS) throw new ImportError(`${file}:${block.line}`, "block longer than 1 MiB without a blank line");
  }
  if (block) yield block;
}

/** The first lines of a file's first bytes, decoded leniently (for format detection). */
export function leadingLines(firstBytes: Uint8Array, count: number): string[] {
  const text = new TextDecoder("utf-8").decode(firstBytes);
  return text.split("\n", count).map((l) => l.replace(/\r$/, ""));
}

/** Decodes whole lines; a problem is reported at its line, counted from the `before` lines already read. */
function decodeLines(decoder: TextDecoder, bytes: Uint8Array, file: string, before: number, offset: number): string {
  const where = (at: number) => `${file}:${before + 1 + countLineFeeds(bytes, at)}`;
  if (offset === 0 && ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff))) {
    throw new ImportError(where(0), "the file is UTF-16, not UTF-8: save or export it as UTF-8");
  }
  const nul = bytes.indexOf(0);
  if (nul !== -1) throw new ImportError(where(nul), `NUL byte at byte ${offset + nul}: not a text file (or not UTF-8)`);
  try {
    return decoder.decode(bytes);
  } catch {
    const at = invalidUtf8At(bytes);
    const hex = (bytes[at] ?? 0).toString(16).toUpperCase().padStart(2, "0");
    throw new ImportError(where(at), `not UTF-8: byte 0x${hex} at byte ${offset + at} (save or export the file as UTF-8)`);
  }
}

function countLineFeeds(bytes: Uint8Array, end: number): number {
  let n = 0;
  for (let at = bytes.indexOf(10); at !== -1 && at < end; at = bytes.indexOf(10, at + 1)) n += 1;
  return n;
}

/** Offset of the first byte that does not start a well-formed UTF-8 sequence (RFC 3629), or -1. */
export function invalidUtf8At(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    if (c < 0x80) {
      i += 1;
      continue;
    }
    const tail = c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : 0;
    if (tail === 0) return i;
    const lo = c === 0xe0 ? 0xa0 : c === 0xf0 ? 0x90 : 0x80;
    const hi = c === 0xed ? 0x9f : c === 0xf4 ? 0x8f : 0xbf;
    const second = b[i + 1];
    if (second === undefined || second < lo || second > hi) return i;
    for (let k = 2; k <= tail; k++) if (((b[i + k] ?? 0) & 0xc0) !== 0x80) return i;
    i += tail + 1;
  }
  return -1;
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
