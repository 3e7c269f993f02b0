// WhatsApp chat exports (docs/IMPORTS.md): the .txt, or the .zip that holds it beside the media.
import { BatchWriter, type ConversationRef } from "./batches.ts";
import { ImportError, type Importer, type ImportOptions, type ImportSink, type Resume, type Where, type ZipMember } from "./format.ts";
import { ContentIds, type ContentIdsState, conversationIdOption, shortHash, slug } from "./ids.ts";
import { authorName, textProblem } from "./message-fields.ts";
import { type Line, leadingLines, readLines, streamChunks } from "./text-lines.ts";
import { chatNameFrom, classify, type DateOrder, type Header, orderHint, parseHeader, wallClock } from "./whatsapp-lines.ts";
import { parseMember } from "./zip.ts";
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

/** What a paused parse needs to go on (once every date's order is known). */
interface ChatState {
  /** Lines before the one the parse goes on with. */
  line: number;
  order: DateOrder;
  /** Named once the first batch is read; until then its messages wait in `drafts`. */
  conversation: ConversationRef | undefined;
  drafts: (Omit<Draft, "time"> & { time: string })[];
  authors: string[];
  chatName: string | undefined;
  ids: ContentIdsState;
}

const ANDROID_NAME = /^WhatsApp Chat (?:with|-) (.+)\.txt$/i;
const FOLDER_NAME = /^WhatsApp Chat (?:with|-) (.+)$/i;
const baseName = (path: string) => path.slice(path.lastIndexOf("/") + 1);

/** The chat in an export zip: `_chat.txt` (iOS) or `WhatsApp Chat with X.txt` (Android), in any folder. */
export const CHAT_MEMBER: ZipMember = {
  accepts: (path) => baseName(path) === "_chat.txt" || ANDROID_NAME.test(baseName(path)),
  describe: "_chat.txt (or 'WhatsApp Chat with ….txt')",
  others: "attachment file",
};

/** The chat's name an entry's path gives ("WhatsApp Chat with Bob.txt", "WhatsApp Chat - Bob/_chat.txt"). */
export function chatNameOfEntry(path: string): string | undefined {
  const named = ANDROID_NAME.exec(baseName(path));
  if (named) return named[1];
  const folder = path.split("/").at(-2);
  return folder === undefined ? undefined : FOLDER_NAME.exec(folder)?.[1];
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
  zipMember: CHAT_MEMBER,
  async parse(input, options, sink, resume) {
    const toUtc = zonedToUtc(options.timezone);
    conversationIdOption(options);
    await parseMember(input, options, sink, resume, CHAT_MEMBER, "chat.txt", async (body, file) => {
      const chat = new ChatReader(file, options, sink, toUtc, chatNameOfEntry(file), resume);
      const state = resume?.state as ChatState | undefined;
      const start = resume && state ? { offset: resume.at, line: state.line } : undefined;
      for await (const line of readLines(streamChunks(body), file, start)) await chat.line(line);
      await chat.end();
    });
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
    resume: Resume | undefined,
  ) {
    this.#order = options.dateOrder;
    this.#out = new BatchWriter(sink, BATCH);
    const state = resume?.state as ChatState | undefined;
    if (state) {
      this.#order = state.order;
      this.#conversation = state.conversation;
      this.#drafts = state.drafts.map((d) => ({ ...d, time: new Date(d.time) }));
      this.#authors = state.authors;
      this.chatName = state.chatName;
      this.#ids = ContentIds.from(state.ids);
      this.#sawText = true;
    }
  }

  async line({ text, number, offset }: Line): Promise<void> {
    const header = parseHeader(text);
    if (header) {
      await this.#finishEntry();
      // A message ends here: once the dates' order is known, nothing before this line is needed.
      const order = this.#order;
      if (order && this.#sawText && this.#undated.length === 0) {
        await this.sink.pausable?.(offset, async (): Promise<ChatState> => {
          await this.#out.finish();
          return {
            line: number - 1,
            order,
            conversation: this.#conversation,
            drafts: this.#drafts.map((d) => ({ ...d, time: d.time.toISOString() })),
            authors: this.#authors,
            chatName: this.chatName,
            ids: this.#ids.state(),
          };
        });
      }
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
