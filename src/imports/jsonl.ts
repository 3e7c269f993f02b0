// JSON Lines (https://jsonlines.org): one message per line, as a JSON object (docs/IMPORTS.md).
import { ImportError, type Importer, type ImportOptions } from "./format.ts";
import { type Field, fieldNames, RowWriter, type RowWriterState } from "./generic-rows.ts";
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

/** What a paused parse needs to go on. */
interface JsonlState {
  line: number;
  rows: number;
  writer: RowWriterState;
}

/** Reads JSON Lines: each non-blank line one JSON object, one message. */
export const jsonlImporter: Importer = {
  format: "jsonl",
  async parse(input, options, sink, resume) {
    const file = options.file ?? FILE;
    const state = resume?.state as JsonlState | undefined;
    const out = new RowWriter("jsonl", options, sink, state?.writer);
    let rows = state?.rows ?? 0;
    const start = resume && state ? { offset: resume.at, line: state.line } : undefined;
    for await (const { text, number, offset } of readLines(streamChunks(input), file, start)) {
      if (text.trim() === "") continue;
      const before = rows;
      await sink.pausable?.(offset, async (): Promise<JsonlState> => ({ line: number - 1, rows: before, writer: await out.suspend() }));
      rows += 1;
      const where = `${file}:${number}`;
      let row: unknown;
      try {
        row = JSON.parse(text);
      } catch (error) {
        throw new ImportError(where, `not JSON: ${error instanceof Error ? error.message : String(error)}`);
      }
      if (typeof row !== "object" || row === null || Array.isArray(row)) throw new ImportError(where, "expected a JSON object");
      await out.row(where, finder(row as Record<string, unknown>, options));
    }
    if (rows === 0) throw new ImportError(file, "the file is empty");
    await out.finish();
  },
};
