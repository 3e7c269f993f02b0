// JSON Lines (https://jsonlines.org): one message per line, as a JSON object (docs/IMPORTS.md).
import { ImportError, type Importer, type ImportOptions } from "./format.ts";
import { type Field, fieldNames, RowWriter } from "./generic-rows.ts";
import { leadingLines, readLines, streamChunks } from "./text-lines.ts";

const FILE = "messages.jsonl";

/**
 * Whether a file's first bytes start like JSON Lines: the first non-blank line is a JSON object
 * (or, cut off by the end of the bytes, starts like one).
 *
 * @example looksLike(new TextEncoder().encode('{"author":"Ana","text":"hi","ts":1}\n')) // true
 */
export function looksLike(firstBytes: Uint8Array): boolean {
  const lines = leadingLines(firstBytes, 50);
  const index = lines.findIndex((l) => l.trim() !== "");
  const first = lines[index]?.trim();
  if (first === undefined) return false;
  if (index === lines.length - 1) return /^\{\s*"/.test(first);
  try {
    const value: unknown = JSON.parse(first);
    return typeof value === "object" && value !== null && !Array.isArray(value);
  } catch {
    return false;
  }
}

/** A field of an object by its name, or else by a dotted path ("user.name"). */
function lookup(row: Record<string, unknown>, name: string): unknown {
  if (Object.hasOwn(row, name)) return row[name];
  let value: unknown = row;
  for (const key of name.split(".")) {
    if (typeof value !== "object" || value === null || !Object.hasOwn(value, key)) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

function finder(row: Record<string, unknown>, options: ImportOptions) {
  return (field: Field) => {
    for (const name of fieldNames(field, options)) {
      const value = lookup(row, name);
      if (value !== undefined && value !== null) return { name, value };
    }
    return undefined;
  };
}

/** Reads JSON Lines: each non-blank line one JSON object, one message. */
export const jsonlImporter: Importer = {
  format: "jsonl",
  async parse(input, options, sink) {
    const out = new RowWriter("jsonl", options, sink);
    let rows = 0;
    for await (const { text, number } of readLines(streamChunks(input), FILE)) {
      if (text.trim() === "") continue;
      rows += 1;
      const where = `${FILE}:${number}`;
      let row: unknown;
      try {
        row = JSON.parse(text);
      } catch (error) {
        throw new ImportError(where, `not JSON: ${error instanceof Error ? error.message : String(error)}`);
      }
      if (typeof row !== "object" || row === null || Array.isArray(row)) throw new ImportError(where, "expected a JSON object");
      await out.row(where, finder(row as Record<string, unknown>, options));
    }
    if (rows === 0) throw new ImportError(FILE, "the file is empty");
    await out.finish();
  },
};
