// Telegram Desktop's JSON export (result.json, given as is or zipped): one chat { name, type, id,
// messages } or a whole account { chats: { list: [chat…] }, left_chats: { list: [chat…] } }, each
// chat one conversation. Messages are streamed one by one, chats one after the other; a chat's
// name, type and id come before its messages, as Telegram Desktop writes them.
import { BatchEmitter, type Conversation, checkedConversationId, conversationId } from "./emitter.ts";
import { ImportError, type Importer, type ImportOptions, type ImportSink, type Resume } from "./format.ts";
import { list, record, str } from "./json-fields.ts";
import { type JsonPath, type JsonResume, jsonValues, pointer } from "./json-stream.ts";
import { namedMember, parseMember } from "./zip.ts";
import { zonedToUtc } from "./zone.ts";

const CHAT_FIELDS = ["name", "type", "id"];
const PATTERNS = [
  ...CHAT_FIELDS.map((f) => [f]),
  ["messages", "*"],
  ...["chats", "left_chats"].flatMap((group) => [
    ...CHAT_FIELDS.map((f) => [group, "list", "*", f]),
    [group, "list", "*", "messages", "*"],
  ]),
];
const MEDIA: Record<string, string> = {
  voice_message: "voice message",
  video_message: "video message",
  video_file: "video",
  animation: "GIF",
  audio_file: "audio",
};
const CHAT_TYPES =
  /"type"\s*:\s*"(personal_chat|bot_chat|private_group|private_supergroup|public_supergroup|private_channel|public_channel|saved_messages)"/;

/** Whether the first bytes look like a Telegram export: a chat's "type" with "messages", or an account export's "chats" or about text. */
export function looksLike(firstBytes: Uint8Array): boolean {
  const head = new TextDecoder().decode(firstBytes.subarray(0, 4096)).replace(/^\ufeff?\s*/, "");
  if (!head.startsWith("{")) return false;
  return (
    (CHAT_TYPES.test(head) && head.includes('"messages"')) ||
    /"(chats|personal_information)"\s*:\s*\{/.test(head) ||
    /"about"\s*:\s*"[^"]*Telegram/.test(head)
  );
}

const MEMBER = namedMember(["result.json"], "not the chat history (media and other files of the export)");

export const telegramImporter: Importer = {
  format: "telegram",
  zipMember: MEMBER,
  parse: (input, options, sink, resume) =>
    parseMember(input, options, sink, resume, MEMBER, "result.json", (body, file) => parse(body, file, options, sink, resume)),
};

interface Chat {
  /** Path of the chat object: [] for a single-chat export, ["chats", "list", 3] in an account export. */
  at: JsonPath;
  fields: Record<string, unknown>;
  conversation: Conversation | undefined;
}

/** What a paused parse needs to go on. */
interface TelegramState {
  json: JsonResume;
  chat: Chat | undefined;
  chats: number;
}

async function parse(
  input: ReadableStream<Uint8Array>,
  file: string,
  options: ImportOptions,
  sink: ImportSink,
  resume: Resume | undefined,
): Promise<void> {
  const emitter = new BatchEmitter(sink);
  const toUtc = wallClockToUtc(options.timezone);
  const state = resume?.state as TelegramState | undefined;
  let chat: Chat | undefined = state?.chat;
  let chats = state?.chats ?? 0;
  for await (const match of jsonValues(input, PATTERNS, file, state?.json)) {
    const { path, value } = match;
    const messages = path.indexOf("messages");
    const at = path.slice(0, messages >= 0 ? messages : path.length - 1);
    if (!chat || pointer(chat.at) !== pointer(at)) {
      if (chat?.conversation) await emitter.flush(chat.conversation.id);
      chat = { at, fields: {}, conversation: undefined };
      chats += 1;
    }
    if (messages < 0) {
      chat.fields[String(path.at(-1))] = value;
      continue;
    }
    const where = `${file}${pointer(path)}`;
    chat.conversation ??= conversationOf(chat, file, options);
    const m = record(value);
    const type = str(m.type);
    if (type === "service") sink.skipped(where, str(m.action) ?? "service");
    else if (type !== "message") sink.skipped(where, type ?? "no type");
    else await message(m, where, chat.conversation, String(chat.fields.id), toUtc, emitter, sink);
    const point = match.resume?.();
    const current = chat;
    if (point)
      await sink.pausable?.(point.at, async (): Promise<TelegramState> => {
        await emitter.flush();
        return { json: point, chat: current, chats };
      });
  }
  if (chats === 0) throw new ImportError(file, "not a Telegram export: no chat with name, type, id and messages");
  await emitter.flush();
}

function conversationOf(chat: Chat, file: string, options: ImportOptions): Conversation {
  const { name, type, id } = chat.fields;
  const chatId = typeof id === "number" || typeof id === "string" ? String(id) : undefined;
  const where = `${file}${pointer(chat.at)}`;
  if (chatId === undefined) throw new ImportError(where, "the chat's id must come before its messages (as Telegram Desktop writes it)");
  const single = chat.at.length === 0;
  return {
    id:
      single && options.conversationId !== undefined
        ? checkedConversationId(options.conversationId, "options")
        : conversationId(options, `telegram-${chatId}`, where),
    title: (single ? options.title : undefined) ?? str(name) ?? (type === "saved_messages" ? "Saved Messages" : `Telegram chat ${chatId}`),
    metadata: { source: "telegram", chat_id: chatId, chat_type: str(type) },
  };
}

async function message(
  m: Record<string, unknown>,
  where: string,
  conversation: Conversation,
  chatId: string,
  toUtc: (wall: string) => Date | undefined,
  emitter: BatchEmitter,
  sink: ImportSink,
): Promise<void> {
  const id = typeof m.id === "number" || typeof m.id === "string" ? String(m.id) : undefined;
  if (id === undefined) return sink.skipped(where, "no id");
  const unix = typeof m.date_unixtime === "string" && /^\d+$/.test(m.date_unixtime) ? Number(m.date_unixtime) : m.date_unixtime;
  const time = typeof unix === "number" ? new Date(unix * 1000) : typeof m.date === "string" ? toUtc(m.date) : undefined;
  if (!time) return sink.skipped(where, "no valid date");
  const forwarded = str(m.forwarded_from);
  const lines = [forwarded ? `[forwarded from ${forwarded}]` : "", plainText(m.text), media(m)];
  await emitter.add(
    conversation,
    {
      id: `${chatId}:${id}`,
      author: str(m.from) ?? str(m.author),
      fallbackAuthor: str(m.from_id) ?? "Deleted Account",
      authorType: "human",
      text: lines.filter((l) => l.trim() !== "").join("\n"),
      time,
    },
    where,
  );
}

/** A message's text: a string, or an array of strings and entities { type, text } ("text_link" also has href). */
export function plainText(text: unknown): string {
  if (typeof text === "string") return text;
  return list(text)
    .map((part) => {
      if (typeof part === "string") return part;
      const entity = record(part);
      const shown = str(entity.text) ?? "";
      const href = str(entity.href);
      return entity.type === "text_link" && href && href !== shown ? `${shown} (${href})` : shown;
    })
    .join("");
}

/** What a message carries besides text, as a bracketed note: "[photo]", "[sticker 👍]", "[file: report.pdf]". */
function media(m: Record<string, unknown>): string {
  if (m.photo !== undefined) return "[photo]";
  const type = str(m.media_type);
  if (type === "sticker") return str(m.sticker_emoji) ? `[sticker ${m.sticker_emoji}]` : "[sticker]";
  if (type && MEDIA[type]) return `[${MEDIA[type]}]`;
  if (m.file !== undefined) {
    const name = str(m.file_name) ?? str(m.file)?.match(/^[^(][^/]*\/(.+)$/)?.[1];
    return name ? `[file: ${name}]` : "[file]";
  }
  const poll = record(m.poll);
  if (str(poll.question)) {
    const answers = list(poll.answers).map((a) => str(record(a).text) ?? "");
    return `[poll: ${poll.question}${answers.length > 0 ? ` — ${answers.join(" / ")}` : ""}]`;
  }
  if (m.location_information !== undefined) return "[location]";
  const contact = record(m.contact_information);
  if (Object.keys(contact).length > 0)
    return `[contact: ${[str(contact.first_name), str(contact.last_name)].filter(Boolean).join(" ") || "unnamed"}]`;
  return "";
}

/**
 * Old exports have only "date", a wall-clock time in the exporting computer's zone: read it in
 * options.timezone (UTC by default; zone.ts). An unknown zone fails with ImportError("options").
 */
function wallClockToUtc(timeZone: string | undefined): (wall: string) => Date | undefined {
  const toUtc = zonedToUtc(timeZone);
  return (wall) => {
    const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})$/.exec(wall);
    if (!m) return undefined;
    const [year, month, day, hour, minute, second] = m.slice(1).map(Number) as [number, number, number, number, number, number];
    return toUtc({ year, month, day, hour, minute, second, millisecond: 0 });
  };
}
