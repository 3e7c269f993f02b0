// RFC 4180 records over lines: a quoted field may hold delimiters, doubled quotes ("") and line
// breaks, so one record may span many lines; only the current record is held.
import { ImportError } from "./format.ts";

export type Delimiter = "," | ";" | "\t";

export interface CsvRecord {
  fields: string[];
  /** The line the record starts on. */
  line: number;
}

const MAX_RECORD_CHARS = 1024 * 1024;

/**
 * The delimiter of a header line: whichever of , ; and tab occurs most outside quotes (ties in
 * that order), or undefined when none does.
 *
 * @example delimiterOf("author;text;time") // ";"
 */
export function delimiterOf(header: string): Delimiter | undefined {
  const counts = new Map<Delimiter, number>([
    [",", 0],
    [";", 0],
    ["\t", 0],
  ]);
  let quoted = false;
  for (const c of header) {
    if (c === '"') quoted = !quoted;
    else if (!quoted && counts.has(c as Delimiter)) counts.set(c as Delimiter, counts.get(c as Delimiter)! + 1);
  }
  let best: Delimiter | undefined;
  for (const [d, n] of counts) if (n > 0 && (best === undefined || n > counts.get(best)!)) best = d;
  return best;
}

/**
 * Splits lines into records. Feed every line in order; `line` returns a record when one ends on
 * it. Text after a closing quote is kept as part of the field (as most readers do); a field
 * that starts unquoted keeps any quotes in it literally.
 *
 * @example const records = new CsvRecords(",", "messages.csv"); records.line('a,"b', 1); records.line('c"', 2) // { fields: ["a", "b\nc"], line: 1 }
 */
export class CsvRecords {
  #fields: string[] = [];
  #field = "";
  #chars = 0;
  #quoted = false;
  #start = 0;
  #quoteLine = 0;

  constructor(
    readonly delimiter: Delimiter,
    private readonly file: string,
  ) {}

  /** Whether the lines so far end a record (no quoted field is open). */
  get between(): boolean {
    return !this.#quoted;
  }

  line(text: string, number: number): CsvRecord | undefined {
    if (this.#quoted) {
      this.#field += "\n";
    } else {
      this.#fields = [];
      this.#field = "";
      this.#chars = 0;
      this.#start = number;
    }
    let at = 0;
    let fieldStart = !this.#quoted;
    while (at <= text.length) {
      if (this.#quoted) {
        const quote = text.indexOf('"', at);
        if (quote === -1) {
          this.#field += text.slice(at);
          this.#chars += text.length - at;
          if (this.#chars > MAX_RECORD_CHARS) {
            throw new ImportError(`${this.file}:${this.#quoteLine}`, "a quoted field runs over 1 MiB: is its closing quote missing?");
          }
          return undefined;
        }
        this.#field += text.slice(at, quote);
        if (text[quote + 1] === '"') {
          this.#field += '"';
          at = quote + 2;
        } else {
          this.#quoted = false;
          at = quote + 1;
        }
        continue;
      }
      if (fieldStart && text[at] === '"') {
        this.#quoted = true;
        this.#quoteLine = number;
        fieldStart = false;
        at += 1;
        continue;
      }
      const end = text.indexOf(this.delimiter, at);
      this.#field += text.slice(at, end === -1 ? text.length : end);
      this.#chars += this.#field.length;
      this.#fields.push(this.#field);
      this.#field = "";
      if (end === -1) break;
      at = end + 1;
      fieldStart = true;
    }
    return { fields: this.#fields, line: this.#start };
  }

  /** Fails if the input ended inside a quoted field. */
  end(): void {
    if (this.#quoted) {
      throw new ImportError(`${this.file}:${this.#quoteLine}`, 'a quoted field is never closed: its closing quote (") is missing');
    }
  }
}
