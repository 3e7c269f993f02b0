// DiscordChatExporter's JSON (one channel per file): { guild, channel, dateRange, exportedAt,
// messages: [...], messageCount }, written in that order. The messages are streamed one by one,
// so a file of any size is read in the memory of one message and one batch.
import { parseTimestamp } from "../text/timestamp.ts";
import { BatchEmitter, type Conversation, checkedConversationId } from "./emitter.ts";
import { ImportError, type Importer, type ImportOptions, type ImportSink, type Resume } from "./format.ts";
import { list, record, str } from "./json-fields.ts";
import { type JsonResume, jsonValues } from "./json-stream.ts";

/** What `where` calls the file (the importer is not told its name). */
const FILE = "channel.json";
/**
 * Message types that carry what someone wrote: Default, Reply, and application commands' replies
 * (20, 23: DiscordChatExporter writes types it has no name for as their number). Joins, pins,
 * calls, renames, thread notices and the rest are skipped with their type as the reason.
 */
const SPOKEN = new Set(["Default", "Reply", "20", "23"]);
const DIRECT = new Set(["DirectTextChat", "DirectGroupTextChat"]);

/** Whether the first bytes look like a DiscordChatExporter JSON export: an object that starts with "guild" and "channel". */
export function looksLike(firstBytes: Uint8Array): boolean {
  const head = new TextDecoder().decode(firstBytes.subarray(0, 4096)).replace(/^\ufeff?\s*/, "");
  return head.startsWith("{") && /"guild"\s*:\s*\{/.test(head) && /"channel"\s*:\s*\{/.test(head);
}

export const discordImporter: Importer = { format: "discord", parse };

/** What a paused parse needs to go on. */
interface DiscordState {
  json: JsonResume;
  guild: Record<string, unknown>;
  channel: Record<string, unknown>;
  conversation: Conversation;
}

async function parse(input: ReadableStream<Uint8Array>, options: ImportOptions, sink: ImportSink, resume?: Resume): Promise<void> {
  const file = options.file ?? FILE;
  const emitter = new BatchEmitter(sink);
  const state = resume?.state as DiscordState | undefined;
  let guild: Record<string, unknown> = state?.guild ?? {};
  let channel: Record<string, unknown> | undefined = state?.channel;
  let conversation: Conversation | undefined = state?.conversation;
  for await (const match of jsonValues(input, [["guild"], ["channel"], ["messages", "*"]], file, state?.json)) {
    const { path, value } = match;
    if (path[0] === "guild") guild = record(value);
    else if (path[0] === "channel") channel = record(value);
    else {
      const where = `${file}#/messages/${path[1]}`;
      if (!channel) throw new ImportError(where, "the channel object must come before the messages (as DiscordChatExporter writes it)");
      const current = (conversation ??= conversationOf(guild, channel, options, file));
      await message(record(value), where, current, emitter, sink);
      const point = match.resume?.();
      const known = { guild, channel };
      if (point)
        await sink.pausable?.(point.at, async (): Promise<DiscordState> => {
          await emitter.flush();
          return { json: point, ...known, conversation: current };
        });
    }
  }
  if (!channel) throw new ImportError(file, "not a DiscordChatExporter JSON export: it has no channel object");
  await emitter.flush();
}

function conversationOf(
  guild: Record<string, unknown>,
  channel: Record<string, unknown>,
  options: ImportOptions,
  file: string,
): Conversation {
  const channelId = str(channel.id) ?? (typeof channel.id === "number" ? String(channel.id) : undefined);
  if (channelId === undefined) throw new ImportError(`${file}#/channel`, "the channel has no id");
  const name = str(channel.name) ?? channelId;
  const guildName = str(guild.name) ?? "Discord";
  const id = options.conversationId ?? `discord-${channelId}`;
  return {
    id: checkedConversationId(id, options.conversationId === undefined ? `${file}#/channel/id` : "options"),
    title: options.title ?? (DIRECT.has(str(channel.type) ?? "") ? `${name} (${guildName})` : `#${name} (${guildName})`),
    metadata: {
      source: "discord",
      guild_id: str(guild.id),
      guild: str(guild.name),
      channel_id: channelId,
      channel_type: str(channel.type),
      category: str(channel.category),
    },
  };
}

async function message(
  m: Record<string, unknown>,
  where: string,
  conversation: Conversation,
  emitter: BatchEmitter,
  sink: ImportSink,
): Promise<void> {
  const type = str(m.type) ?? "Default";
  if (!SPOKEN.has(type)) return sink.skipped(where, type);
  const id = str(m.id);
  const time = typeof m.timestamp === "string" ? parseTimestamp(m.timestamp) : undefined;
  if (!id || !time) return sink.skipped(where, id ? "no valid timestamp" : "no id");
  const author = record(m.author);
  const forwarded = str(record(m.forwardedMessage).content);
  const parts = [
    str(m.content) ?? "",
    forwarded ? `[forwarded] ${forwarded}` : "",
    ...list(m.attachments).map((a) => `[attachment: ${str(record(a).fileName) ?? "file"}]`),
    ...list(m.stickers).map((s) => `[sticker: ${str(record(s).name) ?? "sticker"}]`),
  ].filter((s) => s.trim() !== "");
  // A bot's message is often all embed: its title and description are what it said.
  if (parts.length === 0) {
    for (const embed of list(m.embeds).map(record))
      parts.push(...[str(embed.title), str(embed.description)].filter((s) => s !== undefined));
  }
  await emitter.add(
    conversation,
    {
      id,
      author: str(author.nickname) ?? str(author.name),
      fallbackAuthor: str(author.id) ?? "Unknown",
      authorType: author.isBot === true ? "bot" : "human",
      text: parts.join("\n"),
      time,
    },
    where,
  );
}
