import { strToU8, Zip, ZipDeflate, ZipPassThrough } from "fflate";
import { describe, expect, it } from "vitest";
import { ImportError } from "../../src/imports/format";
import { namedMember, readPlainOrZipped, ZIP_LIMITS, zipEntries } from "../../src/imports/zip";
import { chunked, rejection, zipOf } from "../helpers/importer-harness";

async function read(zip: Uint8Array, size = 7, open = (_: string) => true): Promise<[string, string][]> {
  const out: [string, string][] = [];
  for await (const entry of zipEntries(chunked(zip, size))) {
    out.push([entry.name, open(entry.name) ? await new Response(entry.open()).text() : "(not opened)"]);
  }
  return out;
}

/** A zip as a streaming writer makes it: sizes after the data, in data descriptors (fflate's Zip). */
function streamedZip(files: [string, string, "stored" | "deflate"][]): Uint8Array {
  const parts: Uint8Array[] = [];
  const zip = new Zip((error, data) => {
    if (error) throw error;
    parts.push(data);
  });
  for (const [name, text, method] of files) {
    const file = method === "stored" ? new ZipPassThrough(name) : new ZipDeflate(name, { level: 6 });
    zip.add(file);
    file.push(strToU8(text), true);
  }
  zip.end();
  return concat(parts);
}

/** One stored entry written by hand: a descriptor without its signature, or zip64 sizes. */
function handmade(name: string, text: string, form: "unsigned-descriptor" | "zip64"): Uint8Array {
  const data = strToU8(text);
  const nameBytes = strToU8(name);
  const zip64 = form === "zip64";
  const extra = zip64 ? [0x01, 0x00, 16, 0x00, ...u64(data.length), ...u64(data.length)] : [];
  const header = [
    ...u32(0x04034b50),
    ...u16(45),
    ...u16(zip64 ? 0 : 8),
    ...u16(0),
    ...u16(0),
    ...u16(0),
    ...u32(0),
    ...u32(zip64 ? 0xffffffff : 0),
    ...u32(zip64 ? 0xffffffff : 0),
    ...u16(nameBytes.length),
    ...u16(extra.length),
  ];
  const descriptor = zip64 ? [] : [...u32(0), ...u32(data.length), ...u32(data.length)];
  return concat([
    new Uint8Array(header),
    nameBytes,
    new Uint8Array(extra),
    data,
    new Uint8Array(descriptor),
    new Uint8Array(u32(0x06054b50)),
    new Uint8Array(18),
  ]);
}

const u16 = (n: number) => [n & 0xff, (n >>> 8) & 0xff];
const u32 = (n: number) => [...u16(n & 0xffff), ...u16(n >>> 16)];
const u64 = (n: number) => [...u32(n % 2 ** 32), ...u32(Math.floor(n / 2 ** 32))];

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

const noisy = Array.from({ length: 3000 }, (_, i) => `line ${i} ${((i * 2654435761) % 2 ** 32).toString(36)}`).join("\n");

describe("zipEntries", () => {
  it("yields entries in stored order with their bytes, directories left out, whatever the chunk size", async () => {
    const zip = zipOf([
      ["users.json", '[{"id":"U1"}]'],
      ["general/", new Uint8Array(0)],
      ["general/2024-01-15.json", noisy],
      ["ünïcode/名前.json", "{}"],
    ]);
    for (const size of [1, 7, 65536]) {
      expect(await read(zip, size)).toEqual([
        ["users.json", '[{"id":"U1"}]'],
        ["general/2024-01-15.json", noisy],
        ["ünïcode/名前.json", "{}"],
      ]);
    }
  });

  it("finds where an entry of unknown size ends by a data descriptor that records it, not by the first 'PK' in its data", async () => {
    const tricky = `${"x".repeat(100)}PK\u0007\u0008${"y".repeat(20)}PK\u0003\u0004${"z".repeat(50)}`;
    const zip = streamedZip([
      ["a.json", noisy, "deflate"],
      ["b/stored.txt", tricky, "stored"],
      ["c.json", '{"k": 1}', "stored"],
    ]);
    expect(zip[6]! & 8).toBe(8);
    expect(await read(zip)).toEqual([
      ["a.json", noisy],
      ["b/stored.txt", tricky],
      ["c.json", '{"k": 1}'],
    ]);
    expect(await read(zip, 7, (name) => name === "c.json")).toEqual([
      ["a.json", "(not opened)"],
      ["b/stored.txt", "(not opened)"],
      ["c.json", '{"k": 1}'],
    ]);
  });

  it("reads a descriptor without its signature, and zip64 sizes", async () => {
    expect(await read(handmade("a.txt", "hello PK there", "unsigned-descriptor"))).toEqual([["a.txt", "hello PK there"]]);
    expect(await read(handmade("big.txt", "sixty-four", "zip64"))).toEqual([["big.txt", "sixty-four"]]);
  });

  it("passes over an entry nobody opens, also one that would inflate past every limit", async () => {
    const zip = zipOf([
      ["huge.bin", new Uint8Array(8 * 2 ** 20)],
      ["wanted.json", "[1]"],
    ]);
    expect(await read(zip, 4096, (name) => name === "wanted.json")).toEqual([
      ["huge.bin", "(not opened)"],
      ["wanted.json", "[1]"],
    ]);
  });

  it.each([
    ["../evil", "../evil"],
    ["docs/../../evil", "docs/../../evil"],
    ["..\\evil", "..\\evil"],
    ["/etc/passwd", "/etc/passwd"],
    ["C:/Windows/evil", "C:/Windows/evil"],
  ])("refuses an entry named %s", async (name, where) => {
    const error = await rejection(
      read(
        zipOf([
          ["ok.json", "{}"],
          [name, "x"],
        ]),
      ),
    );
    expect(error).toBeInstanceOf(ImportError);
    expect([error.where, error.detail]).toEqual([
      where,
      "an entry path that leaves the archive (absolute or with '..'): refusing the archive",
    ]);
  });

  it("refuses an unknown compression method and corrupt deflate data when the entry is opened", async () => {
    const zip = zipOf([["a.json", noisy]]);
    const bzip2 = zip.slice();
    bzip2[8] = 12;
    expect((await rejection(read(bzip2))).detail).toBe("compressed with method 12; only stored and deflate entries can be read");
    const corrupt = zip.slice();
    corrupt.fill(0xff, 40, 60);
    const error = await rejection(read(corrupt));
    expect(error.where).toBe("a.json");
    expect(error.detail).toMatch(/^corrupt compressed data/);
  });

  it("caps one entry's size, all entries' size, and the inflation ratio", async () => {
    const zip = zipOf([
      ["a.txt", noisy],
      ["b.txt", noisy],
    ]);
    const limited = async (limits: Partial<typeof ZIP_LIMITS>) => {
      for await (const entry of zipEntries(chunked(zip, 4096), { ...ZIP_LIMITS, ...limits }))
        await new Response(entry.open()).arrayBuffer();
    };
    await expect(limited({})).resolves.toBeUndefined();
    expect((await rejection(limited({ maxEntryBytes: 10_000 }))).detail).toBe("the entry inflates to more than 10000 bytes");
    const total = await rejection(limited({ maxTotalBytes: noisy.length + 10 }));
    expect([total.where, total.detail]).toEqual(["b.txt", `the archive inflates to more than ${noisy.length + 10} bytes`]);
    const zeros = zipOf([["zeros.bin", new Uint8Array(4 * 2 ** 20)]]);
    const bomb = await rejection(
      (async () => {
        for await (const entry of zipEntries(chunked(zeros, 4096))) await new Response(entry.open()).arrayBuffer();
      })(),
    );
    expect([bomb.where, bomb.detail]).toEqual([
      "zeros.bin",
      "the entry inflates to more than 200× its compressed size: refusing a likely zip bomb",
    ]);
  });
});

describe("readPlainOrZipped", () => {
  const text = (body: ReadableStream<Uint8Array>, file: string | undefined) => new Response(body).text().then((t) => `${file}: ${t}`);
  const member = namedMember(["conversations.json"], "other file");

  it("reads the input itself, or the named file anywhere in a zip of the export, naming the other entries", async () => {
    const others: string[] = [];
    expect(await readPlainOrZipped(chunked("[1, 2]", 1), member, text, (p) => others.push(p))).toBe("undefined: [1, 2]");
    const zip = zipOf([
      ["chat.html", "<html>"],
      ["Export/conversations.json", "[3]"],
      ["conversations.json", "[4]"],
    ]);
    expect(await readPlainOrZipped(chunked(zip), member, text, (p) => others.push(p))).toBe("Export/conversations.json: [3]");
    expect(others).toEqual(["chat.html", "conversations.json"]);
  });

  it("says which file a zip lacks", async () => {
    const error = await rejection(
      readPlainOrZipped(chunked(zipOf([["chat.html", "<html>"]])), namedMember(["result.json"], "x"), text, () => {}),
    );
    expect([error.where, error.detail]).toEqual(["archive", "no result.json in the zip archive"]);
  });

  it("refuses an archive with an entry that climbs out, wherever it is, before or after the member", async () => {
    for (const files of [
      [["../../conversations.json", "[1]"]],
      [
        ["conversations.json", "[1]"],
        ["../x.txt", "x"],
      ],
      [
        ["a/../../b.txt", "x"],
        ["conversations.json", "[1]"],
      ],
    ] as [string, string][][]) {
      const error = await rejection(readPlainOrZipped(chunked(zipOf(files)), member, text, () => {}));
      expect(error.detail).toBe("an entry path that leaves the archive (absolute or with '..'): refusing the archive");
    }
  });
});
