import { describe, expect, it } from "vitest";
import { type ChunkInputMessage, chunkMessages } from "../../src/ingest/chunker";
import { tiktoken } from "../../src/tokens/tokenizer";

const tokenizer = await tiktoken();
const at = (iso: string) => new Date(iso);
const msg = (id: string, authorName: string, text: string, iso: string, authorType = "human"): ChunkInputMessage => ({
  id,
  authorName,
  authorType,
  text,
  timestamp: at(iso),
});
const options = { maxTokens: 60, sessionGapMs: 3_600_000 };

describe("chunkMessages", () => {
  it("keeps speaker names and dates in the text, the date only when the day changes", () => {
    const [chunk] = chunkMessages(
      [msg("a", "John", "Timeline slips two weeks.", "2025-03-01T10:00:00Z"), msg("b", "Mary", "OK.", "2025-03-01T10:02:00Z")],
      tokenizer,
      options,
    );
    expect(chunk!.text).toBe("[2025-03-01 10:00] John: Timeline slips two weeks.\n[10:02] Mary: OK.");
    expect(chunk).toMatchObject({ messageIds: ["a", "b"], authors: ["John", "Mary"], authorType: "human", orderIndex: 0 });
    expect(chunk!.start.toISOString()).toBe("2025-03-01T10:00:00.000Z");
    expect(chunk!.end.toISOString()).toBe("2025-03-01T10:02:00.000Z");
    expect(chunk!.tokenCount).toBe(tokenizer.count(chunk!.text));
  });

  it("never exceeds the token budget and keeps every message once, in order", () => {
    const messages = Array.from({ length: 50 }, (_, i) =>
      msg(
        `m${i}`,
        i % 2 ? "Ann" : "Bob",
        `Point ${i}: ${"we should ship the export fix soon ".repeat((i % 4) + 1)}`,
        new Date(Date.UTC(2025, 0, 1, 9, i)).toISOString(),
      ),
    );
    const chunks = chunkMessages(messages, tokenizer, options);
    expect(chunks.length).toBeGreaterThan(5);
    for (const c of chunks) expect(c.tokenCount).toBeLessThanOrEqual(options.maxTokens);
    expect(chunks.flatMap((c) => c.messageIds)).toEqual(messages.map((m) => m.id));
    expect(chunks.map((c) => c.orderIndex)).toEqual(chunks.map((_, i) => i));
  });

  it("starts a new chunk after a session gap, however small the chunks are", () => {
    const chunks = chunkMessages(
      [
        msg("a", "A", "hi", "2025-03-01T10:00:00Z"),
        msg("b", "B", "hello", "2025-03-01T10:01:00Z"),
        msg("c", "A", "next day", "2025-03-02T10:00:00Z"),
      ],
      tokenizer,
      options,
    );
    expect(chunks.map((c) => c.messageIds)).toEqual([["a", "b"], ["c"]]);
    expect(chunks[1]!.text).toBe("[2025-03-02 10:00] A: next day");
  });

  it("splits a message longer than a chunk into pieces that all carry its id", () => {
    const long = Array.from({ length: 40 }, (_, i) => `Sentence number ${i} talks about the quarterly budget review.`).join(" ");
    const chunks = chunkMessages(
      [msg("before", "A", "short", "2025-03-01T09:59:00Z"), msg("long", "B", long, "2025-03-01T10:00:00Z")],
      tokenizer,
      options,
    );
    const pieces = chunks.filter((c) => c.messageIds.includes("long"));
    expect(pieces.length).toBeGreaterThan(3);
    for (const p of pieces) {
      expect(p.messageIds).toEqual(["long"]);
      expect(p.text).toMatch(/^\[2025-03-01 10:00\] B: /);
      expect(p.tokenCount).toBeLessThanOrEqual(options.maxTokens);
    }
    const rebuilt = pieces.map((p) => p.text.replace(/^\[[^\]]+\] B: /, "")).join(" ");
    expect(rebuilt.replace(/\s+/g, " ")).toBe(long);
  });

  it("marks chunks with several author types as mixed and lists them", () => {
    const [chunk] = chunkMessages(
      [msg("a", "Dana", "Export fails", "2025-03-01T10:00:00Z"), msg("b", "Bot", "Ticket opened", "2025-03-01T10:01:00Z", "bot")],
      tokenizer,
      options,
    );
    expect(chunk).toMatchObject({ authorType: "mixed", authorTypes: ["human", "bot"] });
  });

  it("is deterministic", () => {
    const messages = [msg("a", "A", "one", "2025-03-01T10:00:00Z"), msg("b", "B", "two", "2025-03-01T10:01:00Z")];
    expect(chunkMessages(messages, tokenizer, options)).toEqual(chunkMessages(messages, tokenizer, options));
  });
});
