import { describe, expect, it } from "vitest";
import { ImportError } from "../../src/imports/format";
import { type JsonMatch, type JsonPattern, jsonValues } from "../../src/imports/json-stream";
import { chunked, rejection } from "../helpers/importer-harness";

async function values(input: string | Uint8Array, patterns: JsonPattern[], size = 3): Promise<JsonMatch[]> {
  const out: JsonMatch[] = [];
  for await (const { path, value } of jsonValues(chunked(input, size), patterns, "f.json")) out.push({ path, value });
  return out;
}

describe("jsonValues", () => {
  it("goes on after any object or array it yielded, from that byte, inside the same containers", async () => {
    const doc = JSON.stringify({
      chats: {
        list: [
          { id: 1, messages: [{ t: "é" }, { t: "b" }] },
          { id: 2, messages: [{ t: "c" }] },
        ],
      },
    });
    const bytes = new TextEncoder().encode(doc);
    const patterns = [
      ["chats", "list", "*", "id"],
      ["chats", "list", "*", "messages", "*"],
    ];
    const all: JsonMatch[] = [];
    for await (const { path, value } of jsonValues(chunked(bytes, 4), patterns, "f.json")) all.push({ path, value });
    for (let k = 0; k < all.length; k++) {
      const seen = jsonValues(chunked(bytes, 4), patterns, "f.json");
      let resume: ReturnType<NonNullable<JsonMatch["resume"]>> | undefined;
      let index = 0;
      for await (const match of seen) if (index++ === k) resume = match.resume?.();
      if (!resume) continue;
      const rest: JsonMatch[] = [];
      const state = JSON.parse(JSON.stringify(resume));
      for await (const { path, value } of jsonValues(chunked(bytes.subarray(resume.at), 3), patterns, "f.json", state))
        rest.push({ path, value });
      expect(rest).toEqual(all.slice(k + 1));
    }
  });

  it("yields the values under the patterns in document order, each once complete", async () => {
    const doc = JSON.stringify({
      guild: { id: "1", name: "Gé 🎉" },
      skip: [1, { deep: [true, null] }],
      channel: { id: "2" },
      messages: [{ id: "a", n: [1.5e3, -2, { x: 'y\n"z"' }] }, { id: "b" }],
      messageCount: 2,
    });
    expect(await values(doc, [["guild"], ["channel", "id"], ["messages", "*"]])).toEqual([
      { path: ["guild"], value: { id: "1", name: "Gé 🎉" } },
      { path: ["channel", "id"], value: "2" },
      { path: ["messages", 0], value: { id: "a", n: [1500, -2, { x: 'y\n"z"' }] } },
      { path: ["messages", 1], value: { id: "b" } },
    ]);
  });

  it("matches '*' to array elements, also at the root, and keeps '__proto__' an own key", async () => {
    const doc = '[{"mapping": {"__proto__": {"polluted": true}}}, 7]';
    const found = await values(doc, [["*"]]);
    expect(found.map((m) => m.path)).toEqual([[0], [1]]);
    const first = found[0]!.value as { mapping: Record<string, unknown> };
    expect(Object.keys(first.mapping)).toEqual(["__proto__"]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("gives the same values whatever the chunk size, a UTF-8 BOM and multi-byte characters split across chunks included", async () => {
    const doc = new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode('{"messages": ["ünïcødé 日本 🎉", "ok"]}')]);
    for (const size of [1, 2, 5, 64]) {
      expect((await values(doc, [["messages", "*"]], size)).map((m) => m.value)).toEqual(["ünïcødé 日本 🎉", "ok"]);
    }
  });

  it.each([
    [
      "truncated inside a string",
      '{"messages": [{"id": 1}, {"text": "hel',
      "f.json#/messages/1/text",
      "not valid JSON: the file ends before the JSON does (truncated?)",
    ],
    [
      "truncated between values",
      '{"messages": [{"id": 1}, ',
      "f.json#/messages/1",
      "not valid JSON: the file ends before the JSON does (truncated?)",
    ],
    ["empty", "", "f.json#", "not valid JSON: the file is empty: no JSON value"],
    ["only whitespace", " \n ", "f.json#", "not valid JSON: the file is empty: no JSON value"],
    ["a trailing comma", '{"messages": [1,]}', "f.json#/messages/1", "not valid JSON: unexpected right bracket"],
    ["a missing colon", '{"messages" []}', "f.json#/messages", "not valid JSON: unexpected left bracket"],
    ["data after the document", '{"messages": []} {}', "f.json#", "not valid JSON: unexpected data after the end of the JSON document"],
    ["the wrong shape on the way to a pattern", '{"messages": {"a": 1}}', "f.json#/messages", "expected an array"],
    ["an array where an object is expected", "[1, 2]", "f.json#", "expected an object"],
  ])("refuses %s, saying where, whatever the chunk size", async (_, doc, where, detail) => {
    for (const size of [1, 7, 65536]) {
      const error = await rejection(values(doc, [["messages", "*"]], size));
      expect(error).toBeInstanceOf(ImportError);
      expect([error.where, error.detail]).toEqual([where, detail]);
    }
  });

  it("refuses bytes that are not UTF-8, and UTF-16", async () => {
    const latin1 = new Uint8Array([...new TextEncoder().encode('{"messages": ["caf'), 0xe9, ...new TextEncoder().encode('"]}')]);
    const utf16 = new Uint8Array([0xff, 0xfe, ...[...'{"messages":[]}'].flatMap((c) => [c.charCodeAt(0), 0])]);
    for (const bytes of [latin1, utf16]) {
      const error = await rejection(values(bytes, [["messages", "*"]]));
      expect(error.where).toBe("f.json");
      expect(error.detail).toMatch(/^not UTF-8 text/);
    }
  });

  it("reads 20,000 values well within the test timeout (the library's own JSONParser took 10 s for 10,000)", async () => {
    const doc = JSON.stringify({ messages: Array.from({ length: 20_000 }, (_, i) => ({ id: String(i), text: `message ${i}` })) });
    let count = 0;
    for await (const _ of jsonValues(chunked(doc, 65536), [["messages", "*"]], "f.json")) count += 1;
    expect(count).toBe(20_000);
  });
});
