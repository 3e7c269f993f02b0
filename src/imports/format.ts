// What every importer shares: the options a user gives, what a parser emits, and where it points
// when it skips or rejects part of a file. A parser streams its input and emits conversations in
// batches, so no step holds a whole archive in memory, and offers points where a step may stop and
// the next go on from, so no step reads what an earlier one read (docs/IMPORTS.md).

/** The formats an import can name (`?format=`), or that detection finds. */
export const IMPORT_FORMATS = ["slack", "whatsapp", "discord", "telegram", "chatgpt", "vtt", "srt", "jsonl", "csv"] as const;
export type ImportFormat = (typeof IMPORT_FORMATS)[number];

export interface ImportOptions {
  /** The id of the conversation (single-conversation formats), or a prefix for the ids of many. */
  conversationId?: string | undefined;
  title?: string | undefined;
  /** IANA time zone of timestamps that carry none (WhatsApp, CSV, JSONL without offsets); default UTC. */
  timezone?: string | undefined;
  /** Day/month order of numeric dates when the file cannot tell (WhatsApp): "dmy", "mdy" or "ymd". */
  dateOrder?: "dmy" | "mdy" | "ymd" | undefined;
  /** When a transcript's time 00:00:00 was (VTT, SRT); required for them. */
  startedAt?: Date | undefined;
  /** Column or field names for the generic formats (CSV, JSONL): which holds the author, text, time, id. */
  columns?: { author?: string; text?: string; timestamp?: string; id?: string; authorType?: string } | undefined;
  /** The file's name as `where` should call it (a zip entry's path); each format has a default. */
  file?: string | undefined;
  /** Caps on what zip archives may inflate to (the import step's, from the configuration); default ZIP_LIMITS. */
  zipLimits?: ZipLimits | undefined;
}

/** One message as the ingest API takes it (src/ingest/ingest-schema.ts). */
export interface ImportedMessage {
  id: string;
  author_name: string;
  /** human, ai, bot or system (lower-case word). */
  author_type: string;
  text: string;
  /** ISO 8601 with an offset (UTC "Z"). */
  timestamp: string;
}

/**
 * Messages of one conversation, in order. One conversation may arrive in several batches (a
 * Slack channel, one file per day); every batch of a conversation carries the same id and title.
 */
export interface ConversationBatch {
  id: string;
  title: string | null;
  metadata?: Record<string, unknown> | undefined;
  messages: ImportedMessage[];
}

/** Where in an input something is: "general/2024-01-15.json#/3", "_chat.txt:120", "result.json#/messages/17". */
export type Where = string;

/** What a parser reports besides its conversations. */
export interface ImportSink {
  /** Messages parsed and ready to store; the parser awaits it (back-pressure). */
  batch(batch: ConversationBatch): Promise<void>;
  /** A part of the file deliberately left out (a join notice, an attachment line), and why. */
  skipped(where: Where, reason: string): void;
  /**
   * Offers a point where the parse could stop: everything before byte `at` of the input has been
   * read, and `suspend` hands what the parser still holds to `batch` and returns the state it
   * needs to go on from `at` (JSON). The sink resolves to go on, or calls `suspend` and rejects
   * with ParsePaused to end the parse here. A sink without it never stops a parse.
   */
  pausable?(at: number, suspend: () => Promise<unknown>): Promise<void>;
}

/** Where a paused parse goes on: the byte of the input (the parse is then given the input from there) and the parser's state. */
export interface Resume {
  at: number;
  state: unknown;
}

/** Thrown by a sink's `pausable` to stop a parse at that point (it is not a failure). */
export class ParsePaused extends Error {
  override name = "ParsePaused";
  constructor(readonly resume: Resume) {
    super("the parse paused");
  }
}

export interface ZipLimits {
  /** Inflated bytes of all opened entries together. */
  maxTotalBytes: number;
  /** Inflated bytes of one entry. */
  maxEntryBytes: number;
  /** Inflated bytes per compressed byte of one entry, once it is past 1 MiB inflated. */
  maxRatio: number;
}

/** Which entry of a zip a single-file format reads, and what the others are to it. */
export interface ZipMember {
  /** Whether `path` is the entry to read (the first such entry is read). */
  accepts(path: string): boolean;
  /** The entry as a user knows it, for "no … in the zip archive". */
  describe: string;
  /** Why every other entry is left out, as reported in the import's `skipped`. */
  others: string;
}

/** A file the parser cannot read: the import fails with this, pointing at the place. */
export class ImportError extends Error {
  override name = "ImportError";
  constructor(
    readonly where: Where,
    readonly detail: string,
  ) {
    super(`${where}: ${detail}`);
  }
}

/** An importer: reads the raw file as a stream of bytes and emits batches to the sink. */
export interface Importer {
  format: ImportFormat;
  /**
   * Parses `input` into the sink. With `resume` (from a ParsePaused of an earlier parse of the same
   * file and options), `input` is the file from byte `resume.at` on, and the parse goes on there.
   */
  parse(input: ReadableStream<Uint8Array>, options: ImportOptions, sink: ImportSink, resume?: Resume): Promise<void>;
  /** For a format of one file that may come zipped with others (WhatsApp's media): which entry it reads. */
  zipMember?: ZipMember;
}
