import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { keySentences } from "../../src/context/compress";
import { cosine, mmrOrder } from "../../src/context/mmr";
import { SELECTION_STRATEGIES, type SelectableChunk, selectContext, truncateChunk } from "../../src/context/select";
import { encodingForModel, loadTokenizer, tiktoken } from "../../src/tokens/tokenizer";

const tokenizer = await tiktoken();
const START = new Date("2025-03-03T10:00:00Z");

function chunk(id: string, lines: string[], score: number, embedding?: number[]): SelectableChunk {
  const text = lines.map((l, i) => (i === 0 ? `[2025-03-03 10:0${i}] ${l}` : `[10:0${i}] ${l}`)).join("\n");
  return {
    id,
    text,
    messageIds: lines.map((_, i) => `${id}-m${i}`),
    authors: ["John", "Priya"],
    start: START,
    tokens: tokenizer.count(text),
    score,
    embedding,
  };
}

const options = (strategy: (typeof SELECTION_STRATEGIES)[number], budget: number, terms: string[] = []) => ({
  strategy,
  budget,
  lambda: 0.7,
  hybridLambda: 0.85,
  redundancy: 0.9,
  truncateMin: 100,
  terms: new Set(terms),
  tokenizer,
});

describe("context selection", () => {
  it("never exceeds the budget, for any chunk sizes, strategies and budgets", () => {
    const arbChunk = fc.record({
      lines: fc.array(
        fc.string({ minLength: 1, maxLength: 200 }).map((s) => `John: ${s.replace(/\n/g, " ")}`),
        { minLength: 1, maxLength: 6 },
      ),
      score: fc.double({ min: 0, max: 1, noNaN: true }),
      embedding: fc.option(fc.array(fc.double({ min: -1, max: 1, noNaN: true }), { minLength: 4, maxLength: 4 }), { nil: undefined }),
    });
    fc.assert(
      fc.property(
        fc.array(arbChunk, { maxLength: 10 }),
        fc.integer({ min: 1, max: 1500 }),
        fc.constantFrom(...SELECTION_STRATEGIES),
        (specs, budget, strategy) => {
          const candidates = specs.map((s, i) => chunk(`c${i}`, s.lines, s.score, s.embedding));
          const selection = selectContext(candidates, options(strategy, budget, ["john", "plan"]));
          const counted = selection.chunks.reduce((sum, c) => sum + tokenizer.count(c.text), 0);
          expect(counted).toBeLessThanOrEqual(budget);
          expect(selection.tokens).toBe(counted);
          expect(selection.naiveTokens).toBe(candidates.reduce((sum, c) => sum + tokenizer.count(c.text), 0));
        },
      ),
      { numRuns: 150 },
    );
  });

  it("picks a diverse chunk over a near-duplicate with MMR", () => {
    const a = chunk("a", ["John: The beta ships on April 14."], 1.0, [1, 0, 0]);
    const dup = chunk("dup", ["John: The beta ships on April 14 as planned."], 0.95, [0.99, 0.05, 0]);
    const other = chunk("other", ["Priya: Billing moves to Stripe in June."], 0.6, [0, 1, 0]);
    expect(
      mmrOrder(
        [a, dup, other],
        (c) => c.score,
        (x, y) => cosine(x.embedding!, y.embedding!),
        0.7,
      ).map((c) => c.id),
    ).toEqual(["a", "other", "dup"]);
    expect(
      mmrOrder(
        [a, dup, other],
        (c) => c.score,
        (x, y) => cosine(x.embedding!, y.embedding!),
        1,
      ).map((c) => c.id),
    ).toEqual(["a", "dup", "other"]);
    const budget = a.tokens + other.tokens + 2;
    expect(selectContext([a, dup, other], options("diversity", budget)).chunks.map((c) => c.id)).toEqual(["a", "other"]);
    expect(selectContext([a, dup, other], options("relevance", budget)).chunks.map((c) => c.id)).toEqual(["a", "dup"]);
    const hybrid = selectContext([a, dup, other], options("hybrid", 1000));
    expect(hybrid.redundant).toBe(1);
    expect(hybrid.chunks.map((c) => c.id)).toEqual(["a", "other"]);
  });

  it("adds a truncated copy of the next chunk when more than ~100 tokens remain, and stops", () => {
    const long = Array.from(
      { length: 8 },
      (_, i) => `John: Point ${i} of the long plan is about the launch and the billing work, with details that take space.`,
    );
    const first = chunk("first", ["John: Short."], 1);
    const second = chunk("second", long, 0.9);
    const third = chunk("third", ["Priya: Small."], 0.8);
    const budget = first.tokens + 150;
    const s = selectContext([first, second, third], options("relevance", budget));
    expect(s.chunks.map((c) => c.id)).toEqual(["first", "second"]);
    expect(s.chunks[1]!.truncated).toBe(true);
    expect(s.chunks[1]!.text.startsWith("[2025-03-03 10:00] John: Point 0")).toBe(true);
    expect(s.chunks[1]!.messageIds).toEqual(second.messageIds.slice(0, s.chunks[1]!.text.split("\n").length));
    // with less room left than truncateMin, no truncated copy
    expect(selectContext([first, second, third], options("relevance", first.tokens + 60)).chunks.map((c) => c.id)).toEqual(["first"]);
  });

  it("still gives some context with a tiny budget", () => {
    const c = chunk("c", ["John: The launch date is June 2 and it holds if the fix ships by Friday."], 1);
    const s = selectContext([c], options("hybrid", 8, ["launch"]));
    expect(s.chunks).toHaveLength(1);
    expect(s.tokens).toBeGreaterThan(0);
    expect(s.tokens).toBeLessThanOrEqual(8);
  });
});

describe("truncation", () => {
  it("keeps the start or the end, within the limit", () => {
    const text = "alpha beta gamma delta epsilon zeta eta theta iota kappa";
    const start = tokenizer.truncate(text, 3, "start");
    const end = tokenizer.truncate(text, 3, "end");
    expect(text.startsWith(start)).toBe(true);
    expect(text.endsWith(end)).toBe(true);
    expect(end).toContain("kappa");
    expect(start).toContain("alpha");
    expect(tokenizer.count(start)).toBeLessThanOrEqual(3);
    expect(tokenizer.count(end)).toBeLessThanOrEqual(3);
    expect(tokenizer.truncate(text, 1000)).toBe(text);
  });

  it("drops the replacement characters a cut inside a multi-byte character decodes to", () => {
    expect(tokenizer.truncate(" \u{10000} ", 5, "start")).toBe(" \u{10000}");
  });

  it("never leaves a broken character or exceeds the limit on any text", () => {
    fc.assert(
      fc.property(
        fc.string({ unit: "grapheme", maxLength: 80 }),
        fc.integer({ min: 0, max: 40 }),
        fc.constantFrom("start" as const, "end" as const),
        (text, n, keep) => {
          const cut = tokenizer.truncate(text, n, keep);
          expect(tokenizer.count(cut)).toBeLessThanOrEqual(Math.max(n, 0));
          expect(cut.includes("\uFFFD") && !text.includes("\uFFFD")).toBe(false);
        },
      ),
      { numRuns: 500 },
    );
  });

  it("cuts a chunk at whole messages when one fits", () => {
    const c = chunk("c", ["John: One two three.", "Priya: Four five six seven eight nine ten eleven twelve."], 1);
    const cut = truncateChunk(c, tokenizer.count(c.text.split("\n")[0]!) + 2, tokenizer)!;
    expect(cut.text).toBe(c.text.split("\n")[0]);
    expect(cut.messageIds).toEqual(["c-m0"]);
  });

  it("picks the encoding of the model", async () => {
    expect(encodingForModel("gpt-4o-mini")).toBe("o200k_base");
    expect(encodingForModel("gpt-4-turbo")).toBe("cl100k_base");
    expect(encodingForModel("extractive-v1")).toBe("cl100k_base");
    const o200k = await loadTokenizer("o200k_base");
    expect(o200k.decode(o200k.encode("Hello, world"))).toBe("Hello, world");
  });
});

describe("key-sentence compression", () => {
  it("keeps sentences with query terms, decisions, names and dates, in their original order", () => {
    const c = chunk(
      "c",
      [
        "John: Morning all. We decided to move the launch. Coffee is great.",
        "Priya: Haha yes. Ok.",
        "John: The beta ships on April 14. I like trains. Ask Marco about the patch.",
      ],
      1,
    );
    const out = keySentences(c, { terms: new Set(["launch"]), tokenizer, replies: false })!;
    expect(out.text).toBe(
      [
        "[2025-03-03 10:00] John: … We decided to move the launch. …",
        "[10:02] John: The beta ships on April 14. … Ask Marco about the patch.",
      ].join("\n"),
    );
    expect(out.messageIds).toEqual(["c-m0", "c-m2"]);
    // By default the first sentence of a reply to a message with a query term stays too.
    const withReplies = keySentences(c, { terms: new Set(["launch"]), tokenizer })!;
    expect(withReplies.text.split("\n")[1]).toBe("[10:01] Priya: Haha yes. …");
    expect(withReplies.messageIds).toEqual(["c-m0", "c-m1", "c-m2"]);
    expect(out.tokens).toBe(tokenizer.count(out.text));
    expect(out.tokens).toBeLessThan(c.tokens);
  });

  it("leaves a chunk alone when nothing would be saved or its lines do not map to messages", () => {
    const c = chunk("c", ["John: The launch is on June 2."], 1);
    expect(keySentences(c, { terms: new Set(["launch"]), tokenizer })).toBeUndefined();
    expect(keySentences({ ...c, messageIds: ["a", "b"] }, { terms: new Set(["launch"]), tokenizer })).toBeUndefined();
  });

  it("measures cosine similarity", () => {
    expect(cosine([1, 0], [1, 0])).toBeCloseTo(1);
    expect(cosine([1, 0], [0, 1])).toBeCloseTo(0);
    expect(cosine([0, 0], [0, 1])).toBe(0);
  });
});

describe("tokenizer", () => {
  it("counts special-token text as plain text instead of throwing", () => {
    const text = "Ignore this: <|endoftext|> and <|im_start|>system";
    expect(tokenizer.count(text)).toBeGreaterThan(5);
    expect(tokenizer.decode(tokenizer.encode(text))).toBe(text);
  });
});
