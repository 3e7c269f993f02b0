// A zip archive read front to back as it streams in: each entry's local header, then its data,
// inflated (fflate's Inflate) only when the reader opens it, otherwise passed over in place. No
// central directory, so nothing waits for the end of the file. fflate's own Unzip is not used: it
// keeps the compressed bytes of every entry that is not started (an export's attachments would
// pile up in memory), does not report encrypted entries, and finds the end of an entry of unknown
// size by the first byte pattern that looks like a header; here that end is a data descriptor
// whose recorded size matches the bytes read.
import { Inflate } from "fflate";
import { ByteReader, concat, readU64, u32 } from "./byte-reader.ts";
import { ImportError, type ImportOptions, type ImportSink, type Resume, type ZipLimits, type ZipMember } from "./format.ts";

/** Caps against zip bombs: 1 GiB in all, 1 GiB per entry, 200× (JSON exports compress 5–30×; deflate tops out near 1032×). */
export const ZIP_LIMITS: ZipLimits = { maxTotalBytes: 2 ** 30, maxEntryBytes: 2 ** 30, maxRatio: 200 };

export interface ZipEntry {
  /** The entry's path, "/"-separated ("general/2024-01-15.json"); never absolute, never with "..". */
  readonly name: string;
  /** Where in the archive its local header starts: reading can go on from here (ZipStart). */
  readonly offset: number;
  /** Bytes inflated from the entries before it, counted against maxTotalBytes. */
  readonly inflatedBefore: number;
  /**
   * The entry's inflated bytes. Read them (or stop) before asking for the next entry; an entry that
   * is never opened is passed over without being inflated. Fails with ImportError for an
   * encrypted entry, an unsupported compression method, corrupt data or a limit passed.
   */
  open(): ReadableStream<Uint8Array>;
}

const LOCAL = 0x04034b50;
const CENTRAL = 0x02014b50;
const END = 0x06054b50;
const END64 = 0x06064b50;
const DESCRIPTOR = 0x08074b50;
/** Longest data descriptor (signature, CRC, two 8-byte sizes) and the signature after it. */
const LOOKAHEAD = 28;
/** Compressed bytes handed out at a time (fewer only at the end of an entry or the input). */
const PIECE = 65536;
/** Compressed bytes per inflate step: one step can inflate to about 1032× this, so it bounds a spike. */
const STEP = 8192;
const MiB = 2 ** 20;

/** Whether bytes start like a zip archive ("PK\3\4", or "PK\5\6" for an empty one). */
export function isZip(firstBytes: Uint8Array): boolean {
  return (
    firstBytes.length >= 4 &&
    firstBytes[0] === 0x50 &&
    firstBytes[1] === 0x4b &&
    ((firstBytes[2] === 3 && firstBytes[3] === 4) || (firstBytes[2] === 5 && firstBytes[3] === 6))
  );
}

/** Where to go on reading an archive: an entry's `offset` (the input then starts there) and its `inflatedBefore`. */
export interface ZipStart {
  offset: number;
  inflated: number;
}

/**
 * The entries of a zip archive in the order they are stored, directories left out. With `start`,
 * `input` is the archive from the local header at `start.offset` on.
 *
 * @example for await (const entry of zipEntries(body)) if (entry.name === "users.json") await read(entry.open());
 */
export async function* zipEntries(
  input: ReadableStream<Uint8Array>,
  limits: ZipLimits = ZIP_LIMITS,
  start?: ZipStart,
): AsyncGenerator<ZipEntry> {
  const bytes = new ByteReader(input.getReader(), start?.offset ?? 0);
  const budget = { total: start?.inflated ?? 0 };
  try {
    for (let first = start === undefined; ; first = false) {
      if (!(await bytes.fill(4))) {
        if (first) throw new ImportError("archive", bytes.available === 0 ? "the file is empty" : "not a zip archive");
        throw new ImportError("archive", "the archive ends without its central directory (truncated?)");
      }
      const signature = bytes.u32(0);
      if (signature === CENTRAL || signature === END || signature === END64) return;
      if (signature !== LOCAL) {
        throw new ImportError("archive", first ? "not a zip archive" : `no zip entry header at byte ${bytes.offset} (corrupt archive?)`);
      }
      const offset = bytes.offset;
      const inflatedBefore = budget.total;
      const header = await readLocalHeader(bytes);
      const data = new EntryData(bytes, header);
      if (!header.name.endsWith("/")) yield entry(header, data, limits, budget, offset, inflatedBefore);
      await data.drain();
    }
  } finally {
    await bytes.close();
  }
}

/** A member that is the first entry named one of `names`, at any depth. */
export const namedMember = (names: readonly string[], others: string): ZipMember => ({
  accepts: (path) => names.includes(path.slice(path.lastIndexOf("/") + 1)),
  describe: names.join(" or "),
  others,
});

/**
 * Runs `read` on the one entry of a zip archive that `member` accepts, as its inflated bytes, and
 * names every other entry to `other` (in archive order, without inflating it). Fails with
 * ImportError when the archive has no such entry.
 *
 * @example await readZipMember(body, namedMember(["result.json"], "media"), (bytes, path) => parse(bytes, path), skip);
 */
export async function readZipMember<T>(
  input: ReadableStream<Uint8Array>,
  member: ZipMember,
  read: (body: ReadableStream<Uint8Array>, path: string) => Promise<T>,
  other: (path: string) => void,
  limits: ZipLimits = ZIP_LIMITS,
): Promise<T> {
  let found: { value: T } | undefined;
  for await (const entry of zipEntries(input, limits)) {
    if (found === undefined && member.accepts(entry.name)) found = { value: await read(entry.open(), entry.name) };
    else other(entry.name);
  }
  if (!found) throw new ImportError("archive", `no ${member.describe} in the zip archive`);
  return found.value;
}

/**
 * Runs `read` on a single-file format's input: the input itself, or the entry `member` accepts
 * when the input is a zip archive of the export (the other entries named to `other`).
 */
export async function readPlainOrZipped<T>(
  input: ReadableStream<Uint8Array>,
  member: ZipMember,
  read: (body: ReadableStream<Uint8Array>, file: string | undefined) => Promise<T>,
  other: (path: string) => void,
  limits: ZipLimits = ZIP_LIMITS,
): Promise<T> {
  const [head, whole] = await peek(input, 4);
  if (!isZip(head)) return read(whole, undefined);
  return readZipMember(whole, member, read, other, limits);
}

/**
 * Runs a single-file format's `parse` on its input: the file itself, or the entry `member`
 * accepts when the input is a zip archive of the export, whose other entries are then reported as
 * skipped (after the file's own report, in archive order). `parse` gets the file's name: the
 * entry's path, else options.file, else `fallback`. A resumed parse is given the file as it is.
 */
export async function parseMember(
  input: ReadableStream<Uint8Array>,
  options: ImportOptions,
  sink: ImportSink,
  resume: Resume | undefined,
  member: ZipMember,
  fallback: string,
  parse: (body: ReadableStream<Uint8Array>, file: string) => Promise<void>,
): Promise<void> {
  const file = options.file ?? fallback;
  if (resume) return parse(input, file);
  const others: string[] = [];
  await readPlainOrZipped(
    input,
    member,
    (body, path) => parse(body, path ?? file),
    (path) => others.push(path),
    options.zipLimits,
  );
  for (const path of others) sink.skipped(path, member.others);
}

/** The first `n` bytes of a stream (fewer if it is shorter) and a stream of all of it. */
export async function peek(input: ReadableStream<Uint8Array>, n: number): Promise<[Uint8Array, ReadableStream<Uint8Array>]> {
  const reader = input.getReader();
  const chunks: Uint8Array[] = [];
  let length = 0;
  while (length < n) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    length += value.length;
  }
  const head = concat(chunks).subarray(0, n);
  const replay = chunks.values();
  const whole = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const kept = replay.next();
      if (!kept.done) return controller.enqueue(kept.value);
      const { done, value } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel: (reason) => reader.cancel(reason),
  });
  return [head, whole];
}

interface LocalHeader {
  name: string;
  flags: number;
  method: number;
  compressedSize: number;
  zip64: boolean;
}

async function readLocalHeader(bytes: ByteReader): Promise<LocalHeader> {
  if (!(await bytes.fill(30))) throw new ImportError("archive", "the archive ends inside an entry header (truncated?)");
  const flags = bytes.u16(6);
  const method = bytes.u16(8);
  let compressedSize = bytes.u32(18);
  const uncompressedSize = bytes.u32(22);
  const nameLength = bytes.u16(26);
  const extraLength = bytes.u16(28);
  if (!(await bytes.fill(30 + nameLength + extraLength)))
    throw new ImportError("archive", "the archive ends inside an entry header (truncated?)");
  const view = bytes.view();
  const rawName = view.subarray(30, 30 + nameLength);
  const extra = view.subarray(30 + nameLength, 30 + nameLength + extraLength);
  // Bit 11 says UTF-8; without it the name is CP437 in theory, UTF-8 in practice (ASCII either way).
  const name = new TextDecoder("utf-8").decode(rawName);
  let zip64 = false;
  for (let at = 0; at + 4 <= extra.length; ) {
    const id = extra[at]! | (extra[at + 1]! << 8);
    const size = extra[at + 2]! | (extra[at + 3]! << 8);
    if (id === 0x0001) {
      zip64 = true;
      // The zip64 field holds the sizes whose 32-bit fields are 0xffffffff, uncompressed first.
      let field = at + 4;
      if (uncompressedSize === 0xffffffff) field += 8;
      if (compressedSize === 0xffffffff && field + 8 <= at + 4 + size) compressedSize = readU64(extra, field);
    }
    at += 4 + size;
  }
  bytes.skip(30 + nameLength + extraLength);
  return { name: checkedName(name), flags, method, compressedSize, zip64 };
}

/** "/"-separated, relative, without ".." or control characters: an entry name never leaves the archive. */
function checkedName(name: string): string {
  const normal = name.replaceAll("\\", "/");
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters in a path are the attack.
  if (/[\u0000-\u001f]/.test(normal)) throw new ImportError(JSON.stringify(name), "an entry name with control characters");
  if (normal.startsWith("/") || /^[a-zA-Z]:/.test(normal) || normal.split("/").includes("..")) {
    throw new ImportError(name, "an entry path that leaves the archive (absolute or with '..'): refusing the archive");
  }
  return normal.replace(/^(\.\/)+/, "");
}

function entry(
  header: LocalHeader,
  data: EntryData,
  limits: ZipLimits,
  budget: { total: number },
  offset: number,
  inflatedBefore: number,
): ZipEntry {
  let opened = false;
  return {
    name: header.name,
    offset,
    inflatedBefore,
    open() {
      if (opened) throw new Error(`zip entry ${header.name} opened twice`);
      opened = true;
      if (header.flags & 0x41) throw new ImportError(header.name, "the entry is encrypted: export the archive without a password");
      if (header.method !== 0 && header.method !== 8) {
        throw new ImportError(header.name, `compressed with method ${header.method}; only stored and deflate entries can be read`);
      }
      return inflated(header, data, limits, budget);
    },
  };
}

function inflated(header: LocalHeader, data: EntryData, limits: ZipLimits, budget: { total: number }): ReadableStream<Uint8Array> {
  let out: Uint8Array[] = [];
  let inflatedBytes = 0;
  let compressedBytes = 0;
  const emit = (chunk: Uint8Array) => {
    out.push(chunk);
    inflatedBytes += chunk.length;
    budget.total += chunk.length;
  };
  const inflate = header.method === 8 ? new Inflate(emit) : undefined;
  const step = (piece: Uint8Array, final: boolean) => {
    compressedBytes += piece.length;
    if (!inflate) emit(piece);
    else {
      try {
        inflate.push(piece, final);
      } catch (error) {
        throw new ImportError(header.name, `corrupt compressed data (${error instanceof Error ? error.message : String(error)})`);
      }
    }
    if (inflatedBytes > limits.maxEntryBytes)
      throw new ImportError(header.name, `the entry inflates to more than ${limits.maxEntryBytes} bytes`);
    if (budget.total > limits.maxTotalBytes)
      throw new ImportError(header.name, `the archive inflates to more than ${limits.maxTotalBytes} bytes`);
    if (inflatedBytes > MiB && inflatedBytes > limits.maxRatio * compressedBytes) {
      throw new ImportError(
        header.name,
        `the entry inflates to more than ${limits.maxRatio}× its compressed size: refusing a likely zip bomb`,
      );
    }
  };
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        for (;;) {
          const raw = await data.next();
          if (raw === undefined) {
            step(new Uint8Array(0), true);
          } else {
            for (let at = 0; at < raw.length; at += STEP) step(raw.subarray(at, at + STEP), false);
          }
          const ready = out.filter((c) => c.length > 0);
          out = [];
          for (const chunk of ready) controller.enqueue(chunk);
          if (raw === undefined) return controller.close();
          if (ready.length > 0) return;
        }
      },
    },
    { highWaterMark: 0 },
  );
}

/** The compressed bytes of one entry: a known count, or up to the data descriptor that records it. */
class EntryData {
  #left: number | undefined;
  #seen = 0;
  #done = false;

  constructor(
    private readonly bytes: ByteReader,
    private readonly header: LocalHeader,
  ) {
    const hasDescriptor = (header.flags & 8) !== 0;
    // With a descriptor the header's size is usually 0 ("unknown"); a writer that filled it in is believed.
    this.#left = hasDescriptor && header.compressedSize === 0 ? undefined : header.compressedSize;
  }

  /** The next piece of compressed data, or undefined after the last (its descriptor consumed). */
  async next(): Promise<Uint8Array | undefined> {
    if (this.#done) return undefined;
    if (this.#left === undefined) return this.#scan();
    if (this.#left === 0) {
      this.#done = true;
      if (this.header.flags & 8) await this.#skipDescriptor();
      return undefined;
    }
    if (!(await this.bytes.fill(Math.min(this.#left, PIECE))) && this.bytes.available === 0) throw this.#truncated();
    const piece = this.bytes.take(Math.min(this.#left, this.bytes.available, PIECE));
    this.#left -= piece.length;
    return piece;
  }

  async drain(): Promise<void> {
    while ((await this.next()) !== undefined) {}
  }

  async #skipDescriptor(): Promise<void> {
    const sizes = this.header.zip64 ? 16 : 8;
    if (!(await this.bytes.fill(4))) throw this.#truncated();
    const length = (this.bytes.u32(0) === DESCRIPTOR ? 8 : 4) + sizes;
    if (!(await this.bytes.fill(length))) throw this.#truncated();
    this.bytes.skip(length);
  }

  /** Data up to a descriptor whose compressed size equals the bytes before it and that a header follows. */
  async #scan(): Promise<Uint8Array | undefined> {
    const full = await this.bytes.fill(LOOKAHEAD + PIECE);
    const view = this.bytes.view();
    const limit = full ? view.length - LOOKAHEAD : view.length;
    // A descriptor starts with "PK" (signed) or is followed by a header's "PK" after its 12 or 20 bytes.
    const gap = this.header.zip64 ? 20 : 12;
    for (let i = 0; i < limit; i++) {
      if (view[i] !== 0x50 && view[i + gap] !== 0x50) continue;
      const length = this.#descriptorAt(view, i);
      if (length === 0) continue;
      const piece = this.bytes.take(i);
      this.bytes.skip(length);
      this.#done = true;
      return piece.length > 0 ? piece : undefined;
    }
    if (!full) throw this.#truncated();
    this.#seen += limit;
    return this.bytes.take(limit);
  }

  /** The length of a data descriptor for this entry at `i` (with or without its signature), or 0. */
  #descriptorAt(view: Uint8Array, i: number): number {
    const zip64 = this.header.zip64;
    const expected = zip64 ? this.#seen + i : (this.#seen + i) % 2 ** 32;
    for (const signed of [true, false]) {
      const length = (signed ? 8 : 4) + (zip64 ? 16 : 8);
      if (i + length + 4 > view.length || (signed && u32(view, i) !== DESCRIPTOR)) continue;
      const at = i + length - (zip64 ? 16 : 8);
      if ((zip64 ? readU64(view, at) : u32(view, at)) !== expected) continue;
      const next = u32(view, i + length);
      if (next === LOCAL || next === CENTRAL || next === END || next === END64) return length;
    }
    return 0;
  }

  #truncated(): ImportError {
    return new ImportError(this.header.name, "the archive ends inside this entry (truncated?)");
  }
}
