import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ImportError } from "../../src/imports/format";
import { looksLike, plainText, telegramImporter } from "../../src/imports/telegram";
import { chunked, FIXTURES, rejection, runImport, zipOf } from "../helpers/importer-harness";

const fixture = (name: string) => readFileSync(join(FIXTURES, "telegram", name));
const single = fixture("single-chat.json");
const account = fixture("account.json");

const lena = (id: number, text: string, time: string) => message(id, "Lena Fischer", text, time);
const jonas = (id: number, text: string, time: string) => message(id, "Jonas Weber", text, time);
function message(id: number, author_name: string, text: string, time: string) {
  return { id: `4815162342:${id}`, author_name, author_type: "human", text, timestamp: `2024-03-10T${time}.000Z` };
}
const SINGLE = [
  lena(102, "Morning! Did you see the venue options for the offsite?", "10:00:00"),
  jonas(
    103,
    "Yes — I liked Haus am See, see their page (https://haus-am-see.example/events) and https://maps.example/hs. Ping @lena_f",
    "10:02:15",
  ),
  lena(104, "The lake view\n[photo]", "10:05:00"),
  jonas(105, "[sticker 👍]", "10:06:00"),
  lena(106, "[voice message]", "10:07:30"),
  jonas(107, "Budget draft attached\n[file: offsite-budget.xlsx]", "10:09:00"),
  lena(108, "[forwarded from Offsite Planning Channel]\nReminder: book rooms before Friday", "10:12:00"),
  jonas(109, "[poll: Which date works? — April 12 / April 19]", "10:15:00"),
  message(110, "user999", "Message from an account that was deleted", "10:16:00"),
];

describe("Telegram Desktop export", () => {
  it("reads a single chat: entities joined, links kept, media noted, forwards marked, times from date_unixtime", async () => {
    const run = await runImport(telegramImporter, chunked(single));
    expect(run.batches).toEqual([
      {
        id: "telegram-4815162342",
        title: "Lena Fischer",
        metadata: { source: "telegram", chat_id: "4815162342", chat_type: "personal_chat" },
        messages: SINGLE,
      },
    ]);
    expect(run.skipped).toEqual([["result.json#/messages/0", "phone_call"]]);
  });

  it("reads every chat of an account export, left chats included, one conversation each", async () => {
    const run = await runImport(telegramImporter, chunked(account));
    expect(run.batches.map((b) => [b.id, b.title, b.metadata?.chat_type])).toEqual([
      ["telegram-1987654321", "Heron Team", "private_supergroup"],
      ["telegram-1000001", "Saved Messages", "saved_messages"],
      ["telegram-555000111", "Old Book Club", "private_group"],
    ]);
    expect(run.messages("telegram-1987654321")).toEqual([
      {
        id: "1987654321:5002",
        author_name: "Jonas Weber",
        author_type: "human",
        text: "Standup in 10, agenda in the doc",
        timestamp: "2024-03-11T08:01:00.000Z",
      },
      {
        id: "1987654321:5004",
        author_name: "Lena Fischer",
        author_type: "human",
        text: "On my way, two minutes",
        timestamp: "2024-03-11T08:03:00.000Z",
      },
    ]);
    expect(run.messages("telegram-1000001").map((m) => m.text)).toEqual(["Note to self: renew passport before May"]);
    expect(run.messages("telegram-555000111").map((m) => [m.id, m.timestamp])).toEqual([["555000111:9", "2023-11-02T19:30:00.000Z"]]);
    expect(run.skipped).toEqual([
      ["result.json#/chats/list/0/messages/0", "invite_members"],
      ["result.json#/chats/list/0/messages/2", "pin_message"],
    ]);
  });

  it("uses options.conversationId as a single chat's id and an account export's prefix", async () => {
    const one = await runImport(telegramImporter, chunked(single), { conversationId: "lena", title: "Lena" });
    expect(one.batches.map((b) => [b.id, b.title])).toEqual([["lena", "Lena"]]);
    const many = await runImport(telegramImporter, chunked(account), { conversationId: "jonas" });
    expect(many.conversations()).toEqual(["jonas-telegram-1987654321", "jonas-telegram-1000001", "jonas-telegram-555000111"]);
  });

  it("reads old exports' wall-clock dates in options.timezone (UTC by default), across a DST change", async () => {
    const berlin = await runImport(telegramImporter, chunked(fixture("old-dates.json")), { timezone: "Europe/Berlin" });
    expect(berlin.messages("telegram-22334455").map((m) => m.timestamp)).toEqual([
      "2024-03-31T00:30:00.000Z",
      "2024-03-31T01:30:00.000Z",
      "2024-07-01T10:00:00.000Z",
    ]);
    const utc = await runImport(telegramImporter, chunked(fixture("old-dates.json")));
    expect(utc.messages("telegram-22334455").map((m) => m.timestamp)).toEqual([
      "2024-03-31T01:30:00.000Z",
      "2024-03-31T03:30:00.000Z",
      "2024-07-01T12:00:00.000Z",
    ]);
    const error = await rejection(runImport(telegramImporter, chunked(fixture("old-dates.json")), { timezone: "Mars/Olympus" }));
    expect(error.where).toBe("options");
  });

  it("reads result.json from a zip of the export folder", async () => {
    const zip = zipOf([
      ["ChatExport_2024-03-10/photos/photo_1@10-03-2024_10-05-00.jpg", new Uint8Array(2000)],
      ["ChatExport_2024-03-10/result.json", single],
    ]);
    const run = await runImport(telegramImporter, chunked(zip));
    expect(run.messages("telegram-4815162342")).toEqual(SINGLE);
    expect(run.skipped).toEqual([
      ["ChatExport_2024-03-10/result.json#/messages/0", "phone_call"],
      ["ChatExport_2024-03-10/photos/photo_1@10-03-2024_10-05-00.jpg", "not the chat history (media and other files of the export)"],
    ]);
  });

  it("gives the same ids on every import, and a longer export only adds messages", async () => {
    const first = await runImport(telegramImporter, chunked(single));
    expect((await runImport(telegramImporter, chunked(single, 4096))).batches).toEqual(first.batches);
    const doc = JSON.parse(single.toString("utf8"));
    doc.messages.push({
      id: 111,
      type: "message",
      date_unixtime: "1710066000",
      from: "Lena Fischer",
      from_id: "user4815162342",
      text: "Booked!",
    });
    const more = await runImport(telegramImporter, chunked(JSON.stringify(doc)));
    expect(more.messages("telegram-4815162342")).toEqual([
      ...SINGLE,
      { id: "4815162342:111", author_name: "Lena Fischer", author_type: "human", text: "Booked!", timestamp: "2024-03-10T10:20:00.000Z" },
    ]);
  });

  it("hands a 1,200-message chat to the sink in batches of at most 500", async () => {
    const messages = Array.from({ length: 1200 }, (_, i) => ({
      id: i + 1,
      type: "message",
      date_unixtime: String(1710000000 + i),
      from: "A",
      text: `m${i}`,
    }));
    const run = await runImport(telegramImporter, chunked(JSON.stringify({ name: "Big", type: "private_group", id: 1, messages }), 65536));
    expect(run.batches.map((b) => b.messages.length)).toEqual([500, 500, 200]);
  });

  describe("refuses a file it cannot read, saying where", () => {
    it.each([
      [
        "truncated JSON",
        single.subarray(0, 1500),
        "result.json#/messages/3/date",
        "not valid JSON: the file ends before the JSON does (truncated?)",
      ],
      ["an empty file", new Uint8Array(0), "result.json#", "not valid JSON: the file is empty: no JSON value"],
      [
        "another JSON object",
        new TextEncoder().encode('{"hello": "world"}'),
        "result.json",
        "not a Telegram export: no chat with name, type, id and messages",
      ],
      [
        "a chat whose id comes after its messages",
        new TextEncoder().encode('{"name": "x", "messages": [{"id": 1, "type": "message", "text": "hi"}], "id": 5}'),
        "result.json#",
        "the chat's id must come before its messages (as Telegram Desktop writes it)",
      ],
    ])("%s", async (_, bytes, where, detail) => {
      const error = await rejection(runImport(telegramImporter, chunked(bytes)));
      expect(error).toBeInstanceOf(ImportError);
      expect([error.where, error.detail]).toEqual([where, detail]);
    });

    it("bytes that are not UTF-8", async () => {
      const broken = Uint8Array.from(single);
      broken[single.indexOf("—")] = 0xff;
      const error = await rejection(runImport(telegramImporter, chunked(broken)));
      expect(error.where).toBe("result.json");
      expect(error.detail).toMatch(/^not UTF-8 text/);
    });
  });

  it("plainText joins strings and entities, a text_link with its address", () => {
    expect(plainText("plain")).toBe("plain");
    expect(
      plainText([
        "a ",
        { type: "text_link", text: "b", href: "https://b.example" },
        { type: "text_link", text: "https://c", href: "https://c" },
      ]),
    ).toBe("a b (https://b.example)https://c");
    expect(plainText(null)).toBe("");
  });

  it("looksLike: a chat with a Telegram type and messages, or an account export", () => {
    expect(looksLike(single.subarray(0, 512))).toBe(true);
    expect(looksLike(account.subarray(0, 512))).toBe(true);
    expect(looksLike(readFileSync(join(FIXTURES, "discord/general.json")).subarray(0, 512))).toBe(false);
    expect(looksLike(readFileSync(join(FIXTURES, "chatgpt/conversations.json")).subarray(0, 512))).toBe(false);
  });
});
