// CSV (RFC 4180) with a header row: one message per row (docs/IMPORTS.md).
import { CsvRecords, type Delimiter, delimiterOf } from "./csv-records.ts";
import { ImportError, type Importer, type ImportOptions } from "./format.ts";
import { DEFAULT_FIELDS, type Field, fieldNames, REQUIRED, RowWriter, type RowWriterState } from "./generic-rows.ts";
import { leadingLines, readLines, streamChunks } from "./text-lines.ts";

const DEFAULT_FILE = "messages.csv";
const FIELDS = Object.keys(DEFAULT_FIELDS) as Field[];

/**
 * Whether a file's first bytes start like a CSV export of messages: a header line with a
 * delimiter and a column named like a text or author column.
 *
 * @example looksLike(new TextEncoder().encode("timestamp,author,text\n")) // true
 */
export function looksLike(firstBytes: Uint8Array): boolean {
  const header = leadingLines(firstBytes, 1)[0] ?? "";
  const delimiter = delimiterOf(header);
  if (!delimiter || header.trimStart().startsWith("{")) return false;
  const names = new Set(header.split(delimiter).map((c) => c.trim().replace(/^"|"$/g, "").toLowerCase()));
  return [...DEFAULT_FIELDS.text, ...DEFAULT_FIELDS.author].some((n) => names.has(n));
}

/** Which column holds each field, from the header; a missing required or named column fails. */
function columnsOf(header: string[], options: ImportOptions, file: string): Columns {
  const normalised = header.map((h) => h.trim().toLowerCase());
  const columns: Columns = new Map();
  for (const field of FIELDS) {
    const names = fieldNames(field, options);
    const wanted = new Set(names.map((n) => n.toLowerCase()));
    const index = normalised.findIndex((h) => wanted.has(h));
    if (index !== -1) columns.set(field, { name: header[index]!.trim(), index });
    else if (field !== "conversation" && options.columns?.[field] !== undefined) {
      throw new ImportError(
        "options",
        `columns.${field} is '${options.columns[field]}', which the header does not have (it has ${header.join(", ")})`,
      );
    } else if (REQUIRED.includes(field)) {
      throw new ImportError(`${file}:1`, `no ${field} column: name one with columns.${field} (looked for ${names.join(", ")})`);
    }
  }
  return columns;
}

type Columns = Map<Field, { name: string; index: number }>;

/** What a paused parse needs to go on (after the header). */
interface CsvState {
  line: number;
  delimiter: Delimiter;
  columns: [Field, { name: string; index: number }][];
  width: number;
  writer: RowWriterState;
}

/** Reads a CSV file with a header row; the delimiter (, ; or tab) is the header's. */
export const csvImporter: Importer = {
  format: "csv",
  async parse(input, options, sink, resume) {
    const file = options.file ?? DEFAULT_FILE;
    const state = resume?.state as CsvState | undefined;
    const out = new RowWriter("csv", options, sink, state?.writer);
    let records: CsvRecords | undefined = state && new CsvRecords(state.delimiter, file);
    let columns: Columns | undefined = state && new Map(state.columns);
    let width = state?.width ?? 0;
    let sepHint: Delimiter | undefined;
    const start = resume && state ? { offset: resume.at, line: state.line } : undefined;
    for await (const { text, number, offset } of readLines(streamChunks(input), file, start)) {
      if (records && columns && records.between) {
        const known = { delimiter: records.delimiter, columns: [...columns], width };
        await sink.pausable?.(offset, async (): Promise<CsvState> => ({ line: number - 1, ...known, writer: await out.suspend() }));
      }
      if (!records) {
        if (text.trim() === "") continue;
        // Excel's hint line "sep=;" names the delimiter; the header follows it.
        const hint = /^"?sep=([,;\t])"?$/i.exec(text);
        if (hint && !sepHint) {
          sepHint = hint[1] as Delimiter;
          continue;
        }
        const delimiter = sepHint ?? delimiterOf(text);
        if (!delimiter)
          throw new ImportError(`${file}:${number}`, "the header has one column: separate columns with commas, semicolons or tabs");
        records = new CsvRecords(delimiter, file);
      }
      const record = records.line(text, number);
      if (!record) continue;
      if (!columns) {
        columns = columnsOf(record.fields, options, file);
        width = record.fields.length;
        continue;
      }
      const { fields, line } = record;
      if (fields.length === 1 && fields[0] === "") continue;
      const where = `${file}:${line}`;
      if (fields.slice(width).some((f) => f !== "")) {
        sink.skipped(where, `the row has ${fields.length} fields, the header ${width}: a delimiter in an unquoted field?`);
        continue;
      }
      const cols = columns;
      await out.row(where, (field) => {
        const column = cols.get(field);
        const value = column ? fields[column.index] : undefined;
        return column && value !== undefined && value !== "" ? { name: column.name, value } : undefined;
      });
    }
    if (!records) throw new ImportError(file, "the file is empty");
    records.end();
    await out.finish();
  },
};
