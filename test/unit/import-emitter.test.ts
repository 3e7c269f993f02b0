import { describe, expect, it } from "vitest";
import { BatchEmitter, cleanName, conversationId, type ParsedMessage, splitText } from "../../src/imports/emitter";
import type { ConversationBatch } from "../../src/imports/format";
import { rejection } from "../helpers/importer-harness";

const conversation = { id: "c1", title: "C1" };
const message = (id: string, text = `text ${id}`, extra: Partial<ParsedMessage> = {}): ParsedMessage => ({
  id,
  author: "Ana",
  fallbackAuthor: "U1",
  authorType: "human",
  text,
  time: new Date("2024-01-15T10:00:00Z"),
  ...extra,
});

function recorder() {
  const batches: ConversationBatch[] = [];
  const skipped: [string, string][] = [];
  const sink = {
    batch: async (b: ConversationBatch) => void batches.push(b),
    skipped: (w: string, r: string) => void skipped.push([w, r]),
  };
  return { batches, skipped, sink };
}

describe("BatchEmitter", () => {
  it("hands a conversation over in batches of batchSize, and the rest on flush", async () => {
    const { batches, sink } = recorder();
    const out = new BatchEmitter(sink, 2);
    for (const id of ["a", "b", "c"]) await out.add(conversation, message(id), id);
    expect(batches.map((b) => b.messages.map((m) => m.id))).toEqual([["a", "b"]]);
    await out.flush();
    expect(batches.map((b) => b.messages.map((m) => m.id))).toEqual([["a", "b"], ["c"]]);
    expect(batches[0]).toMatchObject({ id: "c1", title: "C1" });
  });

  it("fits messages to ingest: cleaned names, NUL removed, empty or undated ones skipped, long text split into parts (at a space in the last fifth, else where it must)", async () => {
    const { batches, skipped, sink } = recorder();
    const out = new BatchEmitter(sink, 500, 5000, 10);
    await out.add(conversation, message("a", "hi\u0000 there", { author: " \u202eAna\u200b  Lima " }), "#/0");
    await out.add(conversation, message("b", "x", { author: "\u200b" }), "#/1");
    await out.add(conversation, message("c", "  \n"), "#/2");
    await out.add(conversation, message("d", "x", { time: new Date(Number.NaN) }), "#/3");
    await out.add(conversation, message("e", "one two three four five"), "#/4");
    await out.flush();
    expect(batches[0]!.messages).toEqual([
      { id: "a", author_name: "Ana Lima", author_type: "human", text: "hi there", timestamp: "2024-01-15T10:00:00.000Z" },
      { id: "b", author_name: "U1", author_type: "human", text: "x", timestamp: "2024-01-15T10:00:00.000Z" },
      { id: "e", author_name: "Ana", author_type: "human", text: "one two th", timestamp: "2024-01-15T10:00:00.000Z" },
      { id: "e#2", author_name: "Ana", author_type: "human", text: "ree four ", timestamp: "2024-01-15T10:00:00.000Z" },
      { id: "e#3", author_name: "Ana", author_type: "human", text: "five", timestamp: "2024-01-15T10:00:00.000Z" },
    ]);
    expect(skipped).toEqual([
      ["#/2", "empty"],
      ["#/3", "no valid timestamp"],
    ]);
  });

  it("keeps the later of two messages with one id in a batch, and says so", async () => {
    const { batches, skipped, sink } = recorder();
    const out = new BatchEmitter(sink);
    await out.add(conversation, message("a", "first"), "#/0");
    await out.add(conversation, message("a", "second"), "#/1");
    await out.flush();
    expect(batches[0]!.messages.map((m) => m.text)).toEqual(["second"]);
    expect(skipped).toEqual([["#/0", "replaced by the message with the same id 'a' at #/1"]]);
  });

  it("flushes every conversation once `held` messages wait in all", async () => {
    const { batches, sink } = recorder();
    const out = new BatchEmitter(sink, 10, 3);
    await out.add({ id: "x", title: null }, message("1"), "");
    await out.add({ id: "y", title: null }, message("2"), "");
    expect(batches).toEqual([]);
    await out.add({ id: "x", title: null }, message("3"), "");
    expect(batches.map((b) => [b.id, b.messages.length])).toEqual([
      ["x", 2],
      ["y", 1],
    ]);
  });
});

describe("message fitting helpers", () => {
  it("cleanName keeps joiners and scripts, drops controls, caps at 256", () => {
    expect(cleanName("Zoë\u0007 O'Brien")).toBe("Zoë O'Brien");
    expect(cleanName("می\u200cخواهم")).toBe("می\u200cخواهم");
    expect(cleanName("e\u0301")).toBe("é");
    expect(cleanName("x".repeat(300))).toHaveLength(256);
    expect(cleanName(`${"x".repeat(255)}🎉`)).toBe("x".repeat(255));
    expect(cleanName("\u202e\u2066")).toBeUndefined();
  });

  it("splitText cuts at a space in the last fifth, else hard, never inside a surrogate pair", () => {
    expect(splitText("aaaa bbbb cccc", 10)).toEqual(["aaaa bbbb ", "cccc"]);
    expect(splitText("abcdefghijkl", 5)).toEqual(["abcde", "fghij", "kl"]);
    expect(splitText("abcd🎉efgh", 5)).toEqual(["abcd", "🎉efg", "h"]);
  });

  it("conversationId prefixes with options.conversationId and refuses ids ingest would", async () => {
    expect(conversationId({}, "slack-general", "x")).toBe("slack-general");
    expect(conversationId({ conversationId: "acme" }, "slack-general", "x")).toBe("acme-slack-general");
    const bad = await rejection((async () => conversationId({}, "discord-../x", "channel.json#/channel/id"))());
    expect([bad.where, bad.detail]).toEqual([
      "channel.json#/channel/id",
      "the conversation id 'discord-../x' must not contain '/' or '\\' or be '.' or '..'",
    ]);
  });
});
