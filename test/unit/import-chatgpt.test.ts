import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { branch, chatgptImporter, looksLike } from "../../src/imports/chatgpt";
import { ImportError } from "../../src/imports/format";
import { chunked, FIXTURES, rejection, runImport, zipOf } from "../helpers/importer-harness";

const conversations = readFileSync(join(FIXTURES, "chatgpt/conversations.json"));
const A = "chatgpt-6f1e2d3c-aaaa-4bbb-8ccc-000000000001";
const B = "chatgpt-6f1e2d3c-aaaa-4bbb-8ccc-000000000002";

const user = (id: string, text: string, timestamp: string) => ({ id, author_name: "User", author_type: "human", text, timestamp });
const gpt = (id: string, text: string, timestamp: string) => ({ id, author_name: "ChatGPT", author_type: "ai", text, timestamp });
const TRIP = [
  user("n-a3", "Plan a 3-day trip to Lisbon in May", "2024-02-29T09:46:50.500Z"),
  gpt("n-a5", "Here is a plan:\nDay 1: Belém\nDay 2: Sintra\nDay 3: Alfama", "2024-02-29T09:47:10.250Z"),
  user("n-a6", "[image]\nIs this tram the 28?", "2024-02-29T09:48:20.000Z"),
  gpt("n-a7", "print(28 * 2)", "2024-02-29T09:48:30.750Z"),
  gpt("n-a9", "Yes, that's tram 28 — it climbs to Graça.", "2024-02-29T09:46:40.123Z"),
];

describe("ChatGPT export", () => {
  it("reads each conversation's current branch: user and assistant turns, images noted, code kept", async () => {
    const run = await runImport(chatgptImporter, chunked(conversations));
    expect(run.conversations()).toEqual([A, B]);
    expect(run.batches[0]).toEqual({
      id: A,
      title: "Trip to Lisbon",
      metadata: { source: "chatgpt", created: "2024-02-29T09:46:40.123Z", updated: "2024-02-29T09:56:40.500Z", model: "gpt-4o" },
      messages: TRIP,
    });
    expect(run.messages(B)).toEqual([
      user("n-b1", "How do I match a UUID?", "2024-03-01T13:33:21.000Z"),
      gpt("n-b4", "Use ^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$ with the i flag.", "2024-03-01T13:33:30.000Z"),
    ]);
  });

  it("skips system, hidden, tool, reasoning and empty messages and a conversation without an id, with the reason", async () => {
    const run = await runImport(chatgptImporter, chunked(conversations));
    expect(run.skipped).toEqual([
      ["conversations.json#/0/mapping/n-a1", "system message"],
      ["conversations.json#/0/mapping/n-a2", "hidden message"],
      ["conversations.json#/0/mapping/n-a8", "tool message"],
      ["conversations.json#/1/mapping/n-b2", "reasoning"],
      ["conversations.json#/1/mapping/n-b3", "reasoning"],
      ["conversations.json#/1/mapping/n-b5", "empty"],
      ["conversations.json#/2", "a conversation without an id"],
    ]);
  });

  it("follows current_node up to the root, or without it the last child down from the root", () => {
    const mapping = {
      r: { parent: null, children: ["a"] },
      a: { parent: "r", children: ["b1", "b2"] },
      b1: { parent: "a", children: [] },
      b2: { parent: "a", children: ["c"] },
      c: { parent: "b2", children: [] },
    };
    expect(branch(mapping, "b1")).toEqual(["r", "a", "b1"]);
    expect(branch(mapping, undefined)).toEqual(["r", "a", "b2", "c"]);
    expect(branch(mapping, "gone")).toEqual(["r", "a", "b2", "c"]);
    expect(branch({ x: { parent: "y" }, y: { parent: "x" } }, "x")).toEqual(["y", "x"]);
  });

  it("reads conversations.json from the export's zip, and prefixes ids with options.conversationId", async () => {
    const zip = zipOf([
      ["chat.html", "<html></html>"],
      ["file-7Hq2.png", new Uint8Array(5000)],
      ["conversations.json", conversations],
      ["user.json", "{}"],
    ]);
    const run = await runImport(chatgptImporter, chunked(zip), { conversationId: "me" });
    expect(run.conversations()).toEqual([`me-${A}`, `me-${B}`]);
    expect(run.messages(`me-${A}`)).toEqual(TRIP);
  });

  it("gives the same ids on every import, and a longer export only adds messages", async () => {
    const first = await runImport(chatgptImporter, chunked(conversations));
    expect((await runImport(chatgptImporter, chunked(conversations, 4096))).batches).toEqual(first.batches);
    const doc = JSON.parse(conversations.toString("utf8"));
    const trip = doc[0];
    trip.mapping["n-a9"].children = ["n-a10"];
    trip.mapping["n-a10"] = {
      id: "n-a10",
      parent: "n-a9",
      children: [],
      message: { id: "n-a10", author: { role: "user" }, create_time: 1709200700, content: { content_type: "text", parts: ["Thanks!"] } },
    };
    trip.current_node = "n-a10";
    const more = await runImport(chatgptImporter, chunked(JSON.stringify(doc)));
    expect(more.messages(A)).toEqual([...TRIP, user("n-a10", "Thanks!", "2024-02-29T09:58:20.000Z")]);
    expect(more.messages(B)).toEqual(first.messages(B));
  });

  it("hands a 1,200-message conversation to the sink in batches of at most 500", async () => {
    const mapping: Record<string, unknown> = {};
    for (let i = 0; i < 1200; i++) {
      mapping[`m${i}`] = {
        parent: i === 0 ? null : `m${i - 1}`,
        children: i === 1199 ? [] : [`m${i + 1}`],
        message: {
          author: { role: i % 2 ? "assistant" : "user" },
          create_time: 1709200000 + i,
          content: { content_type: "text", parts: [`turn ${i}`] },
        },
      };
    }
    const doc = [{ id: "long", title: "Long", create_time: 1709200000, mapping, current_node: "m1199" }];
    const run = await runImport(chatgptImporter, chunked(JSON.stringify(doc), 65536));
    expect(run.batches.map((b) => b.messages.length)).toEqual([500, 500, 200]);
    expect(run.batches[2]!.messages.at(-1)!.id).toBe("m1199");
  });

  describe("refuses a file it cannot read, saying where", () => {
    it.each([
      [
        "truncated JSON",
        conversations.subarray(0, 2000),
        "conversations.json#/0/mapping/n-a4/parent",
        "not valid JSON: the file ends before the JSON does (truncated?)",
      ],
      ["an empty file", new Uint8Array(0), "conversations.json#", "not valid JSON: the file is empty: no JSON value"],
      ["an object instead of the array", new TextEncoder().encode('{"mapping": {}}'), "conversations.json#", "expected an array"],
    ])("%s", async (_, bytes, where, detail) => {
      const error = await rejection(runImport(chatgptImporter, chunked(bytes)));
      expect(error).toBeInstanceOf(ImportError);
      expect([error.where, error.detail]).toEqual([where, detail]);
    });

    it("bytes that are not UTF-8", async () => {
      const broken = Uint8Array.from(conversations);
      broken[conversations.indexOf("é")] = 0xff;
      const error = await rejection(runImport(chatgptImporter, chunked(broken)));
      expect(error.where).toBe("conversations.json");
      expect(error.detail).toMatch(/^not UTF-8 text/);
    });

    it("a zip without conversations.json", async () => {
      const error = await rejection(runImport(chatgptImporter, chunked(zipOf([["chat.html", "<html></html>"]]))));
      expect([error.where, error.detail]).toEqual(["archive", "no conversations.json in the zip archive"]);
    });
  });

  it("looksLike: an array whose first object has a mapping", () => {
    expect(looksLike(conversations.subarray(0, 512))).toBe(true);
    expect(looksLike(readFileSync(join(FIXTURES, "discord/general.json")).subarray(0, 512))).toBe(false);
    expect(looksLike(readFileSync(join(FIXTURES, "telegram/single-chat.json")).subarray(0, 512))).toBe(false);
    expect(looksLike(new TextEncoder().encode('[{"id": 1}]'))).toBe(false);
  });
});
