// What JSONL and CSV share: which field holds what (options.columns, else the usual names), and a
// row's fields to a message of its conversation. A row that cannot be a message is skipped with
// the field and the reason; the file goes on.
import { parseTimestamp } from "../text/timestamp.ts";
import { BatchWriter, type ConversationRef } from "./batches.ts";
import type { ImportOptions, ImportSink, Where } from "./format.ts";
import { ContentIds, type ContentIdsState, conversationIdOption, conversationIdProblem, messageIdProblem, shortHash } from "./ids.ts";
import { authorName, authorType, textProblem } from "./message-fields.ts";
import { type ToUtc, zonedToUtc } from "./zone.ts";

/** The names looked for when options.columns does not name a field, first match wins. */
export const DEFAULT_FIELDS = {
  author: ["author", "author_name", "user", "speaker", "from", "name"],
  text: ["text", "message", "content", "body"],
  timestamp: ["timestamp", "time", "date", "ts", "created_at"],
  id: ["id", "message_id"],
  authorType: ["author_type", "role"],
  conversation: ["conversation_id", "conversation"],
} as const;

export type Field = keyof typeof DEFAULT_FIELDS;
export const REQUIRED: readonly Field[] = ["author", "text", "timestamp"];

/** The names a field may have in this import: the one options.columns gives, else the defaults. */
export function fieldNames(field: Field, options: ImportOptions): readonly string[] {
  const named = field === "conversation" ? undefined : options.columns?.[field];
  return named !== undefined ? [named] : DEFAULT_FIELDS[field];
}

/** A row's value for a field and the name it was found under; undefined when the row has none. */
export type RowLookup = (field: Field) => { name: string; value: unknown } | undefined;

/**
 * A timestamp value: ISO 8601 with an offset, ISO 8601 without one (wall-clock time in the
 * import's zone), or epoch seconds (below 10^11) or milliseconds, as a number or digits.
 *
 * @example rowTimestamp(1705312800, zonedToUtc(undefined))?.toISOString() // "2024-01-15T10:00:00.000Z"
 */
export function rowTimestamp(value: unknown, toUtc: ToUtc): Date | undefined {
  let date: Date | undefined;
  const text = typeof value === "string" ? value.trim() : undefined;
  if (typeof value === "number" || (text !== undefined && /^-?\d+(?:\.\d+)?$/.test(text))) {
    const n = Number(value);
    date = Number.isFinite(n) ? new Date(Math.abs(n) < 1e11 ? Math.round(n * 1000) : Math.round(n)) : undefined;
  } else if (text !== undefined) {
    const asUtc = parseTimestamp(text);
    const zoned = /\d{2}:\d{2}.*(?:Z|[+-]\d{2}:?\d{2})$/i.test(text);
    date =
      asUtc && !zoned
        ? toUtc({
            year: asUtc.getUTCFullYear(),
            month: asUtc.getUTCMonth() + 1,
            day: asUtc.getUTCDate(),
            hour: asUtc.getUTCHours(),
            minute: asUtc.getUTCMinutes(),
            second: asUtc.getUTCSeconds(),
            millisecond: asUtc.getUTCMilliseconds(),
          })
        : asUtc;
  }
  if (!date || Number.isNaN(date.getTime())) return undefined;
  const year = date.getUTCFullYear();
  return year >= 1 && year <= 9999 ? date : undefined;
}

const scalar = (value: unknown): string | undefined =>
  typeof value === "string" ? value : typeof value === "number" && Number.isFinite(value) ? String(value) : undefined;

/** What a row writer needs to go on in another step. */
export interface RowWriterState {
  default: ConversationRef | undefined;
  ids: ContentIdsState;
}

/**
 * Turns rows into messages. Rows with a conversation field go to that conversation (after
 * options.conversationId and "-" when given); the others to options.conversationId, else
 * "<format>-" and a hash of the first such row.
 */
export class RowWriter {
  readonly #toUtc: ToUtc;
  readonly #out: BatchWriter;
  #ids = new ContentIds();
  #default: ConversationRef | undefined;

  constructor(
    private readonly format: "jsonl" | "csv",
    private readonly options: ImportOptions,
    private readonly sink: ImportSink,
    state?: RowWriterState,
  ) {
    this.#toUtc = zonedToUtc(options.timezone);
    conversationIdOption(options);
    this.#out = new BatchWriter(sink);
    if (state) {
      this.#default = state.default;
      this.#ids = ContentIds.from(state.ids);
    }
  }

  /** Hands over what it holds and returns what it needs to go on in another step. */
  async suspend(): Promise<RowWriterState> {
    await this.#out.finish();
    return { default: this.#default, ids: this.#ids.state() };
  }

  async row(where: Where, get: RowLookup): Promise<void> {
    const skip = (reason: string) => this.sink.skipped(where, reason);
    const values: Partial<Record<Field, string>> = {};
    for (const field of REQUIRED) {
      const found = get(field);
      const value = found ? scalar(found.value) : undefined;
      if (!found || value === undefined || value.trim() === "") {
        const names = fieldNames(field, this.options).join(", ");
        return skip(found && value === undefined ? `${field} field '${found.name}' is not text` : `no ${field} (looked for ${names})`);
      }
      values[field] = value;
    }
    const author = authorName(values.author!);
    if (!author) return skip("unusable author name (empty or over 256 characters)");
    const text = values.text!;
    const problem = textProblem(text);
    if (problem) return skip(problem);
    const time = rowTimestamp(get("timestamp")!.value, this.#toUtc);
    if (!time) return skip(`timestamp '${values.timestamp!.slice(0, 40)}' is neither ISO 8601 nor epoch seconds or milliseconds`);
    const type = authorType(scalar(get("authorType")?.value));
    if (!type) return skip(`author type '${scalar(get("authorType")?.value)}' is not a lower-case word such as human, ai or system`);
    const timestamp = time.toISOString();

    const conversationValue = scalar(get("conversation")?.value)?.trim();
    let conversation: ConversationRef;
    if (conversationValue) {
      const prefix = this.options.conversationId;
      const id = prefix ? `${prefix}-${conversationValue}` : conversationValue;
      const invalid = conversationIdProblem(id);
      if (invalid) return skip(`conversation id '${id.slice(0, 60)}' ${invalid}`);
      conversation = { id, title: conversationValue };
    } else {
      conversation = this.#default ??= {
        id: this.options.conversationId ?? `${this.format}-${shortHash(this.format, timestamp, author, text).slice(0, 16)}`,
        title: this.options.title ?? null,
      };
    }

    const ownId = get("id");
    let id: string;
    if (ownId && ownId.value !== null && ownId.value !== "") {
      const raw = scalar(ownId.value);
      const invalid = raw === undefined ? "must be text or a number" : messageIdProblem(raw);
      if (invalid || raw === undefined) return skip(`id ${invalid}`);
      id = raw;
    } else id = this.#ids.next(conversation.id, time.getTime(), timestamp, author, text);

    await this.#out.add(conversation, { id, author_name: author, author_type: type, text, timestamp }, where);
  }

  async finish(): Promise<void> {
    await this.#out.finish();
  }
}
