import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { discordImporter, looksLike } from "../../src/imports/discord";
import { ImportError } from "../../src/imports/format";
import { chunked, FIXTURES, rejection, runImport } from "../helpers/importer-harness";

const general = readFileSync(join(FIXTURES, "discord/general.json"));
const dm = readFileSync(join(FIXTURES, "discord/dm.json"));
const ID = "discord-800000000000000010";

const message = (id: string, author_name: string, text: string, timestamp: string, author_type = "human") => ({
  id: `9000000000000000${id}`,
  author_name,
  author_type,
  text,
  timestamp: `2024-02-01T${timestamp}Z`,
});
const GENERAL = [
  message("02", "Ana", "Hi all! The build is green again 🎉", "09:15:30.123"),
  message("03", "benji", "Nice, thanks for fixing it @Ana", "09:20:00.000"),
  message("04", "Ana", "[attachment: screenshot.png]", "09:25:00.000"),
  message(
    "06",
    "GitHub",
    "[heron/api] 2 new commits\nabc123 Fix flaky retry test - ana\ndef456 Bump timeout to 30s - benji",
    "09:30:00.000",
    "bot",
  ),
  message("07", "benji", "[sticker: Wave]", "09:31:00.000"),
  message("09", "Mika", "Here is the release report\n[attachment: report.pdf]", "09:40:00.000"),
  message("11", "Heron Bot", "Pong! Gateway latency is 42 ms.", "09:42:00.000", "bot"),
];

/** The fixture with `count` more Default messages from Ana, one a minute from 10:00. */
function longer(count: number, from = 0): string {
  const doc = JSON.parse(general.toString("utf8"));
  const ana = doc.messages[1].author;
  for (let i = from; i < from + count; i++) {
    const at = new Date(Date.UTC(2024, 1, 1, 10, i)).toISOString();
    doc.messages.push({
      id: String(950000000000000000n + BigInt(i)),
      type: "Default",
      timestamp: at,
      content: `update ${i}`,
      author: ana,
      attachments: [],
    });
  }
  return JSON.stringify(doc, null, 2);
}

describe("DiscordChatExporter JSON", () => {
  it("reads a channel: nickname or name, bots as bots, attachments, stickers and embeds as text, times in UTC", async () => {
    const run = await runImport(discordImporter, chunked(general));
    expect(run.conversations()).toEqual([ID]);
    expect(run.messages(ID)).toEqual(GENERAL);
    expect(run.batches[0]).toMatchObject({
      title: "#general (Heron Labs)",
      metadata: {
        source: "discord",
        guild_id: "800000000000000001",
        guild: "Heron Labs",
        channel_id: "800000000000000010",
        channel_type: "GuildTextChat",
        category: "Text Channels",
      },
    });
  });

  it("skips joins, pins, thread notices and empty messages with the reason", async () => {
    const run = await runImport(discordImporter, chunked(general));
    expect(run.skipped).toEqual([
      ["channel.json#/messages/0", "GuildMemberJoin"],
      ["channel.json#/messages/4", "ChannelPinnedMessage"],
      ["channel.json#/messages/7", "ThreadCreated"],
      ["channel.json#/messages/9", "empty"],
    ]);
  });

  it("titles a DM by the other person, skipping call notices", async () => {
    const run = await runImport(discordImporter, chunked(dm));
    expect(run.batches).toEqual([
      {
        id: "discord-810000000000000042",
        title: "mika (Direct Messages)",
        metadata: {
          source: "discord",
          guild_id: "0",
          guild: "Direct Messages",
          channel_id: "810000000000000042",
          channel_type: "DirectTextChat",
          category: undefined,
        },
        messages: [
          {
            id: "930000000000000001",
            author_name: "Mika",
            author_type: "human",
            text: "Are you coming to the meetup on Friday?",
            timestamp: "2024-02-02T18:00:00.000Z",
          },
        ],
      },
    ]);
    expect(run.skipped).toEqual([["channel.json#/messages/1", "Call"]]);
  });

  it("takes the conversation id and title from the options when given", async () => {
    const run = await runImport(discordImporter, chunked(general), { conversationId: "team-chat", title: "Team chat" });
    expect(run.batches.map((b) => [b.id, b.title])).toEqual([["team-chat", "Team chat"]]);
  });

  it("gives the same ids on every import, and a longer export only adds messages", async () => {
    const first = await runImport(discordImporter, chunked(general));
    const again = await runImport(discordImporter, chunked(general, 4096));
    expect(again.batches).toEqual(first.batches);
    const more = await runImport(discordImporter, chunked(longer(3)));
    expect(more.messages(ID).slice(0, GENERAL.length)).toEqual(GENERAL);
    expect(
      more
        .messages(ID)
        .slice(GENERAL.length)
        .map((m) => [m.id, m.text]),
    ).toEqual([
      ["950000000000000000", "update 0"],
      ["950000000000000001", "update 1"],
      ["950000000000000002", "update 2"],
    ]);
  });

  it("hands 1,200 messages to the sink in batches of at most 500", async () => {
    const run = await runImport(discordImporter, chunked(longer(1200 - GENERAL.length), 65536));
    expect(run.batches.map((b) => b.messages.length)).toEqual([500, 500, 200]);
  });

  describe("refuses a file it cannot read, saying where", () => {
    it.each([
      [
        "truncated JSON",
        general.subarray(0, 3000),
        "channel.json#/messages/2/reference",
        "not valid JSON: the file ends before the JSON does (truncated?)",
      ],
      ["an empty file", new Uint8Array(0), "channel.json#", "not valid JSON: the file is empty: no JSON value"],
      ["a JSON array", new TextEncoder().encode("[]"), "channel.json#", "expected an object"],
      [
        "messages that are not an array",
        new TextEncoder().encode('{"channel": {"id": "1"}, "messages": {}}'),
        "channel.json#/messages",
        "expected an array",
      ],
      [
        "another JSON object",
        new TextEncoder().encode('{"name": "x", "messages": []}'),
        "channel.json",
        "not a DiscordChatExporter JSON export: it has no channel object",
      ],
      [
        "a channel without an id",
        new TextEncoder().encode('{"channel": {"name": "x"}, "messages": [{"id": "1"}]}'),
        "channel.json#/channel",
        "the channel has no id",
      ],
      [
        "messages before the channel",
        new TextEncoder().encode('{"messages": [{"id": "1"}], "channel": {"id": "2"}}'),
        "channel.json#/messages/0",
        "the channel object must come before the messages (as DiscordChatExporter writes it)",
      ],
    ])("%s", async (_, bytes, where, detail) => {
      const error = await rejection(runImport(discordImporter, chunked(bytes)));
      expect(error).toBeInstanceOf(ImportError);
      expect([error.where, error.detail]).toEqual([where, detail]);
    });

    it("bytes that are not UTF-8", async () => {
      const broken = Uint8Array.from(general);
      broken[general.indexOf("🎉")] = 0xff;
      const error = await rejection(runImport(discordImporter, chunked(broken)));
      expect(error.where).toBe("channel.json");
      expect(error.detail).toMatch(/^not UTF-8 text/);
    });
  });

  it("looksLike: an object that opens with guild and channel", () => {
    expect(looksLike(general.subarray(0, 512))).toBe(true);
    expect(looksLike(readFileSync(join(FIXTURES, "telegram/single-chat.json")).subarray(0, 512))).toBe(false);
    expect(looksLike(readFileSync(join(FIXTURES, "chatgpt/conversations.json")).subarray(0, 512))).toBe(false);
  });
});
