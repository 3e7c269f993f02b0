// WhatsApp chat exports (docs/IMPORTS.md): the .txt, or the .zip that holds it beside the media.
import { BatchWriter, type ConversationRef } from "./batches.ts";
import { ImportError, type Importer, type ImportOptions, type ImportSink, type Where } from "./format.ts";
import { ContentIds, conversationIdOption, shortHash, slug } from "./ids.ts";
import { authorName, textProblem } from "./message-fields.ts";
import { type Line, leadingLines, peekBytes, readLines, streamChunks } from "./text-lines.ts";
import { chatNameFrom, classify, type DateOrder, type Header, orderHint, parseHeader, wallClock } from "./whatsapp-lines.ts";
import { chatNameOfEntry, isZip, openChatInZip } from "./whatsapp-zip.ts";
import { isCalendarDay, type ToUtc, zonedToUtc } from "./zone.ts";

const BATCH = 500;
const MAX_MESSAGE_CHARS = 1024 * 1024;
/** Messages (and their characters) held while the file has not yet shown its day/month order. */
const MAX_UNDATED = 50_000;
const MAX_UNDATED_CHARS = 32 * 1024 * 1024;
const ORDER_NAMES: Record<DateOrder, string> = { dmy: "day/month/year", mdy: "month/day/year", ymd: "year/month/day" };

interface Raw {
  header: Header;
  more: string[];
  where: Where;
  chars: number;
}

interface Draft {
  time: Date;
  author: string;
  text: string;
  where: Where;
}

/**
 * Whether a file's first bytes start like a WhatsApp .txt export. A zip cannot be told from
 * Slack's by its first bytes, so this says false for every zip.
 *
 * @example looksLike(new TextEncoder().encode("15/01/2024, 10:00 - Ana: hi\n")) // true
 */
export function looksLike(firstBytes: Uint8Array): boolean {
  const first = leadingLines(firstBytes, 5).find((l) => l.trim() !== "");
  return first !== undefined && parseHeader(first) !== undefined;
}

/** Reads a WhatsApp chat export, .txt or .zip, into one conversation. */
export const whatsappImporter: Importer = {
  format: "whatsapp",
  async parse(input, options, sink) {
    const toUtc = zonedToUtc(options.timezone);
    conversationIdOption(options);
    const { head, chunks } = await peekBytes(streamChunks(input), 4);
    let file = "chat.txt";
    let bytes: AsyncIterable<Uint8Array> = chunks;
    // Reported after the chat, in archive order: when each is found depends on the chunking.
    const others: string[] = [];
    if (isZip(head)) {
      const chat = await openChatInZip(chunks, (path) => others.push(path));
      file = chat.path;
      bytes = chat.bytes;
    }
    const chat = new ChatReader(file, options, sink, toUtc, chatNameOfEntry(file));
    for await (const line of readLines(bytes, file)) await chat.line(line);
    await chat.end();
    for (const path of others) sink.skipped(path, "attachment file");
  },
};

class ChatReader {
  #current: Raw | undefined;
  #order: DateOrder | undefined;
  #undated: Raw[] = [];
  #undatedChars = 0;
  #drafts: Draft[] = [];
  #conversation: ConversationRef | undefined;
  #authors: string[] = [];
  #ids = new ContentIds();
  #out: BatchWriter;
  #sawText = false;

  constructor(
    private readonly file: string,
    private readonly options: ImportOptions,
    private readonly sink: ImportSink,
    private readonly toUtc: ToUtc,
    private chatName: string | undefined,
  ) {
    this.#order = options.dateOrder;
    this.#out = new BatchWriter(sink, BATCH);
  }

  async line({ text, number }: Line): Promise<void> {
    const header = parseHeader(text);
    if (header) {
      await this.#finishEntry();
      this.#current = { header, more: [], where: `${this.file}:${number}`, chars: text.length };
      return;
    }
    if (this.#current) {
      this.#current.more.push(text);
      this.#current.chars += text.length + 1;
      if (this.#current.chars > MAX_MESSAGE_CHARS)
        throw new ImportError(this.#current.where, "a message longer than 1 MiB: not a chat export");
      return;
    }
    if (text.trim() === "") return;
    throw new ImportError(
      `${this.file}:${number}`,
      "not a WhatsApp chat export: a chat's lines start like '15/01/2024, 10:00 - Name: text' or '[15/01/2024, 10:00:00] Name: text'",
    );
  }

  async end(): Promise<void> {
    await this.#finishEntry();
    if (!this.#sawText) throw new ImportError(this.file, "the file is empty");
    if (this.#undated.length > 0 && !this.#order) throw orderUnknown(this.#undated.length);
    await this.#dateUndated();
    await this.#identify();
    await this.#out.finish();
  }

  async #finishEntry(): Promise<void> {
    const raw = this.#current;
    this.#current = undefined;
    if (!raw) return;
    this.#sawText = true;
    if (!this.#order) {
      const hint = orderHint(raw.header.fields);
      if (hint === "none")
        throw new ImportError(raw.where, `'${raw.header.fields.join("/")}' is no date: both its first numbers are over 12`);
      if (!hint) {
        this.#undated.push(raw);
        this.#undatedChars += raw.chars;
        if (this.#undated.length > MAX_UNDATED || this.#undatedChars > MAX_UNDATED_CHARS) throw orderUnknown(this.#undated.length);
        return;
      }
      this.#order = hint;
      await this.#dateUndated();
    }
    await this.#entry(raw, this.#order);
  }

  async #dateUndated(): Promise<void> {
    const order = this.#order;
    if (!order) return;
    this.#undatedChars = 0;
    for (const raw of this.#undated.splice(0)) await this.#entry(raw, order);
  }

  async #entry(raw: Raw, order: DateOrder): Promise<void> {
    const wall = wallClock(raw.header, order);
    if (!wall || !isCalendarDay(wall.year, wall.month, wall.day)) {
      const given = this.options.dateOrder ? ` (date_order ${this.options.dateOrder})` : "";
      throw new ImportError(raw.where, `'${raw.header.fields.join("/")}' is no valid date and time in ${ORDER_NAMES[order]} order${given}`);
    }
    const entry = classify(raw.header.rest, raw.more);
    if (entry.kind === "system") {
      if (!this.#conversation) this.chatName ??= chatNameFrom(entry);
      this.sink.skipped(raw.where, "system message");
      return;
    }
    if (entry.kind === "attachment") return this.sink.skipped(raw.where, "attachment");
    if (entry.kind === "deleted") return this.sink.skipped(raw.where, "deleted message");
    const author = authorName(entry.author);
    if (!author) return this.sink.skipped(raw.where, "unusable author name (empty or over 256 characters)");
    const problem = textProblem(entry.text);
    if (problem) return this.sink.skipped(raw.where, problem);
    if (entry.attachments > 0) this.sink.skipped(raw.where, "attachment");
    await this.#draft({ time: this.toUtc(wall), author, text: entry.text, where: raw.where });
  }

  async #draft(draft: Draft): Promise<void> {
    if (this.#conversation) return this.#emit(this.#conversation, draft);
    this.#drafts.push(draft);
    if (this.#authors.length < 2 && !this.#authors.includes(draft.author)) this.#authors.push(draft.author);
    if (this.#drafts.length >= BATCH) await this.#identify();
  }

  /** Names the conversation once the first batch is read, then writes what was held. */
  async #identify(): Promise<void> {
    if (this.#conversation) return;
    const name = this.chatName;
    const people = [...this.#authors].sort();
    const derivedId = name
      ? `whatsapp-${slug(name) || shortHash("whatsapp", name).slice(0, 16)}`
      : `whatsapp-${shortHash("whatsapp", ...people).slice(0, 16)}`;
    const derivedTitle = name ? `WhatsApp chat with ${name}` : people.length > 0 ? `WhatsApp chat: ${people.join(", ")}` : "WhatsApp chat";
    const conversation = { id: this.options.conversationId ?? derivedId, title: this.options.title ?? derivedTitle };
    this.#conversation = conversation;
    for (const draft of this.#drafts.splice(0)) await this.#emit(conversation, draft);
  }

  async #emit(conversation: ConversationRef, { time, author, text, where }: Draft): Promise<void> {
    const timestamp = time.toISOString();
    const id = this.#ids.next(conversation.id, time.getTime(), timestamp, author, text);
    await this.#out.add(conversation, { id, author_name: author, author_type: "human", text, timestamp }, where);
  }
}

function orderUnknown(messages: number): ImportError {
  return new ImportError(
    "options",
    `the day/month order of the dates cannot be told from the file (no day over 12 in ${messages} messages): pass date_order dmy (15/01/2024) or mdy (01/15/2024)`,
  );
}
