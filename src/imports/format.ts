// What every importer shares: the options a user gives, what a parser emits, and where it points
// when it skips or rejects part of a file. A parser streams its input and emits conversations in
// batches, so no step holds a whole archive in memory (docs/IMPORTS.md).

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
  parse(input: ReadableStream<Uint8Array>, options: ImportOptions, sink: ImportSink): Promise<void>;
}
