// From parsed messages to the sink: each message made to pass ingest (src/ingest/ingest-schema.ts)
// or skipped with a reason, then collected per conversation and handed over in batches.
import { ImportError, type ImportedMessage, type ImportOptions, type ImportSink, type Where } from "./format.ts";

/** Messages per batch: a sink call is one ingest request. */
export const BATCH_SIZE = 500;
/** MAX_MESSAGE_CHARS's default; a longer text is split into parts ("<id>", "<id>#2", …). */
export const MAX_TEXT_CHARS = 32_000;

export interface Conversation {
  id: string;
  title: string | null;
  metadata?: Record<string, unknown> | undefined;
}

/** A message as a format yields it, before it is fitted to ingest's rules. */
export interface ParsedMessage {
  id: string;
  author: string | undefined;
  /** Used when `author` is missing or has nothing left once cleaned (a user id, "Unknown"). */
  fallbackAuthor: string;
  authorType: "human" | "ai" | "bot" | "system";
  text: string;
  time: Date;
}

interface Pending {
  conversation: Conversation;
  messages: ImportedMessage[];
  wheres: Where[];
  byId: Map<string, number>;
}

const UNFIT_IN_NAME = /[\p{Cc}\u061c\u200b\u200e\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff]/gu;

/**
 * A speaker's name as ingest takes it (no control characters, bidi controls or invisible spacing;
 * spaces collapsed; NFC; at most 256 characters), or undefined when nothing is left.
 *
 * @example cleanName("  Ana\u202e  Lima ") // "Ana Lima"
 */
export function cleanName(raw: string | undefined): string | undefined {
  let name = (raw ?? "").replace(UNFIT_IN_NAME, "").replace(/\s+/g, " ").trim().normalize("NFC").toWellFormed().slice(0, 256);
  if (/[\ud800-\udbff]$/.test(name)) name = name.slice(0, -1);
  return name.trim() || undefined;
}

/**
 * The id of one of many conversations in an import: `<prefix>-<own>` with options.conversationId
 * as the prefix, `<own>` without. An unusable prefix fails with ImportError("options"), an
 * unusable id (from the file) with ImportError(where).
 *
 * @example conversationId({ conversationId: "acme" }, "slack-general", "general/") // "acme-slack-general"
 */
export function conversationId(options: ImportOptions, own: string, where: Where): string {
  const prefix = options.conversationId;
  const problem = prefix === undefined ? undefined : conversationIdProblem(prefix);
  if (problem) throw new ImportError("options", `conversation_id ${problem}`);
  return checkedConversationId(prefix === undefined ? own : `${prefix}-${own}`, where);
}

/** `id` if it can be a conversation id, else ImportError(where). */
export function checkedConversationId(id: string, where: Where): string {
  const problem = conversationIdProblem(id);
  if (problem) throw new ImportError(where, `the conversation id '${id.slice(0, 80)}' ${problem}`);
  return id;
}

/** Why `id` cannot be a message id (ingest: 1–256 characters, no control or format characters), or undefined. */
export function messageIdProblem(id: string): string | undefined {
  if (id.trim() !== id || id === "" || id.length > 256) return "must be 1–256 characters without leading or trailing spaces";
  if (/[\p{Cc}\p{Cf}]/u.test(id) || !id.isWellFormed()) return "must not contain control or invisible formatting characters";
  return undefined;
}

/** Why `id` cannot be a conversation id (a message id that also travels as a URL path segment), or undefined. */
export function conversationIdProblem(id: string): string | undefined {
  if (/[/\\]/.test(id) || id === "." || id === "..") return "must not contain '/' or '\\' or be '.' or '..'";
  return messageIdProblem(id);
}

/**
 * Fits messages to ingest's rules and hands them to the sink per conversation in batches of at
 * most `batchSize`, awaiting each. All conversations together hold at most `held` messages; past
 * that every buffer is flushed. Within one batch a repeated id keeps the later message.
 *
 * @example const out = new BatchEmitter(sink); await out.add(conversation, message, "general/2024-01-15.json#/3"); await out.finish();
 */
export class BatchEmitter {
  #pending = new Map<string, Pending>();
  #held = 0;

  constructor(
    private readonly sink: ImportSink,
    private readonly batchSize = BATCH_SIZE,
    private readonly held = 10 * BATCH_SIZE,
    private readonly maxChars = MAX_TEXT_CHARS,
  ) {}

  async add(conversation: Conversation, message: ParsedMessage, where: Where): Promise<void> {
    const text = message.text.replaceAll("\u0000", "").toWellFormed();
    if (text.trim() === "") return this.sink.skipped(where, "empty");
    const time = message.time.getTime();
    if (!Number.isFinite(time) || message.time.getUTCFullYear() < 1 || message.time.getUTCFullYear() > 9999) {
      return this.sink.skipped(where, "no valid timestamp");
    }
    if (messageIdProblem(message.id)) return this.sink.skipped(where, `unusable message id '${message.id.slice(0, 80)}'`);
    const base: Omit<ImportedMessage, "id" | "text"> = {
      author_name: cleanName(message.author) ?? cleanName(message.fallbackAuthor) ?? "Unknown",
      author_type: message.authorType,
      timestamp: message.time.toISOString(),
    };
    const parts = splitText(text, this.maxChars);
    for (const [i, part] of parts.entries()) {
      await this.#push(conversation, { id: i === 0 ? message.id : `${message.id}#${i + 1}`, ...base, text: part }, where);
    }
  }

  /** Hands over the buffered messages of one conversation, or of all. */
  async flush(conversationId?: string): Promise<void> {
    const ids = conversationId === undefined ? [...this.#pending.keys()] : [conversationId];
    for (const id of ids) {
      const pending = this.#pending.get(id);
      if (!pending) continue;
      this.#pending.delete(id);
      this.#held -= pending.messages.length;
      const { conversation } = pending;
      await this.sink.batch({
        id: conversation.id,
        title: conversation.title,
        metadata: conversation.metadata,
        messages: pending.messages,
      });
    }
  }

  async #push(conversation: Conversation, message: ImportedMessage, where: Where): Promise<void> {
    let pending = this.#pending.get(conversation.id);
    if (!pending) this.#pending.set(conversation.id, (pending = { conversation, messages: [], wheres: [], byId: new Map() }));
    const earlier = pending.byId.get(message.id);
    if (earlier !== undefined) {
      this.sink.skipped(pending.wheres[earlier]!, `replaced by the message with the same id '${message.id}' at ${where}`);
      pending.messages[earlier] = message;
      pending.wheres[earlier] = where;
      return;
    }
    pending.byId.set(message.id, pending.messages.length);
    pending.messages.push(message);
    pending.wheres.push(where);
    this.#held += 1;
    if (pending.messages.length >= this.batchSize) await this.flush(conversation.id);
    else if (this.#held >= this.held) await this.flush();
  }
}

/** Text cut into parts of at most `max` characters, at a line break or space in each part's last fifth when there is one. */
export function splitText(text: string, max: number): string[] {
  const parts: string[] = [];
  let rest = text;
  while (rest.length > max) {
    let cut = max;
    const window = rest.slice(Math.floor(max * 0.8), max);
    const space = Math.max(window.lastIndexOf("\n"), window.lastIndexOf(" "));
    if (space >= 0) cut = Math.floor(max * 0.8) + space + 1;
    // Never between the two halves of a surrogate pair.
    else if (/[\ud800-\udbff]/.test(rest[cut - 1]!)) cut -= 1;
    const part = rest.slice(0, cut);
    if (part.trim() !== "") parts.push(part);
    rest = rest.slice(cut);
  }
  if (rest.trim() !== "") parts.push(rest);
  return parts;
}
