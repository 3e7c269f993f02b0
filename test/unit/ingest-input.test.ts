import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config";
import type { StoredMessage } from "../../src/db/messages";
import { findUnstorableStrings } from "../../src/http/read-json";
import { mergeMessages } from "../../src/ingest/ingest-service";
import { parseTimestamp } from "../../src/text/timestamp";

describe("parseTimestamp", () => {
  it.each([
    ["2025-03-01T10:00:00Z", "2025-03-01T10:00:00.000Z"],
    ["2025-03-01T10:00:00.123456Z", "2025-03-01T10:00:00.123Z"],
    ["2025-03-01T12:00:00+02:00", "2025-03-01T10:00:00.000Z"],
    ["2025-03-01T12:00:00+0200", "2025-03-01T10:00:00.000Z"],
    ["2025-03-01 10:00", "2025-03-01T10:00:00.000Z"],
    ["2025-03-01", "2025-03-01T00:00:00.000Z"],
    ["2024-02-29T00:00:00Z", "2024-02-29T00:00:00.000Z"],
  ])("parses %s", (input, iso) => {
    expect(parseTimestamp(input)?.toISOString()).toBe(iso);
  });

  it.each(["yesterday", "2025-02-30T00:00:00Z", "2023-02-29", "2025-13-01", "2025-03-01T24:00:00Z", "1700000000", ""])(
    "rejects %s",
    (input) => {
      expect(parseTimestamp(input)).toBeUndefined();
    },
  );
});

describe("findUnstorableStrings", () => {
  it("names NUL characters and lone surrogates by JSON pointer, keys included", () => {
    const problems = findUnstorableStrings({ a: ["ok", "x\u0000"], "b/c": { d: "\ud800" }, "k\u0000": 1 });
    expect(problems.map((p) => p.pointer)).toEqual(["#/a/1", "#/b~1c/d", "#/k\u0000"]);
  });

  it("refuses absurd nesting", () => {
    let deep: unknown = "x";
    for (let i = 0; i < 40; i++) deep = [deep];
    expect(findUnstorableStrings(deep)[0]!.detail).toMatch(/nesting/);
  });
});

describe("mergeMessages", () => {
  const stored = (id: string, minute: number, orderIndex: number): StoredMessage => ({
    id,
    authorName: "A",
    authorType: "human",
    text: id,
    timestamp: new Date(Date.UTC(2025, 0, 1, 0, minute)),
    orderIndex,
    contentHash: `h-${id}`,
  });
  const incoming = (id: string, minute: number, text = id) => ({
    id,
    author_name: "A",
    author_type: "human",
    text,
    timestamp: new Date(Date.UTC(2025, 0, 1, 0, minute)),
  });

  it("keeps stored messages, replaces by id, inserts new ones in time order", () => {
    const merged = mergeMessages([stored("a", 0, 0), stored("c", 2, 1)], [incoming("b", 1), incoming("c", 2, "edited")], "merge");
    expect(merged.map((m) => [m.id, m.orderIndex, m.text])).toEqual([
      ["a", 0, "a"],
      ["b", 1, "b"],
      ["c", 2, "edited"],
    ]);
  });

  it("drops messages the request omits in replace mode", () => {
    expect(mergeMessages([stored("a", 0, 0), stored("b", 1, 1)], [incoming("b", 1)], "replace").map((m) => m.id)).toEqual(["b"]);
  });

  it("keeps request order for equal timestamps, so re-sending is stable", () => {
    const once = mergeMessages([], [incoming("x", 5), incoming("y", 5), incoming("z", 5)], "merge");
    const again = mergeMessages(once, [incoming("x", 5), incoming("y", 5), incoming("z", 5)], "merge");
    expect(once.map((m) => m.id)).toEqual(["x", "y", "z"]);
    expect(again.map((m) => [m.id, m.contentHash])).toEqual(once.map((m) => [m.id, m.contentHash]));
  });
});

describe("parseConfig", () => {
  it("applies defaults", () => {
    expect(parseConfig({})).toMatchObject({
      embedding: { provider: "local", model: "local-hash-v1", dimensions: 384 },
      chunkMaxTokens: 256,
    });
  });

  it("names every invalid variable", () => {
    expect(() => parseConfig({ EMBEDDING_PROVIDER: "cohere", CHUNK_MAX_TOKENS: "lots" })).toThrow(/EMBEDDING_PROVIDER.*CHUNK_MAX_TOKENS/);
  });

  it("needs a key or base URL for the openai provider", () => {
    expect(() => parseConfig({ EMBEDDING_PROVIDER: "openai" })).toThrow(/OPENAI_API_KEY/);
  });
});
