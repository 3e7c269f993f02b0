import { describe, expect, it } from "vitest";
import { localEmbedder } from "../../src/providers/local-embedder";
import { stem } from "../../src/text/words";

const embedder = localEmbedder({ dimensions: 384 });
const cosine = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i]!, 0);

describe("localEmbedder", () => {
  it("returns unit vectors of the configured size, deterministically", async () => {
    const [a, b] = await embedder.embed(["The launch moved to April 14.", "The launch moved to April 14."]);
    expect(a).toHaveLength(384);
    expect(Math.hypot(...a!)).toBeCloseTo(1, 5);
    expect([...a!]).toEqual([...b!]);
  });

  it("places texts that share words closer than unrelated texts", async () => {
    const [query, related, unrelated] = await embedder.embed([
      "When is the product launch?",
      "We agreed the launch of the product is on April 14",
      "My cat likes sleeping in the sun",
    ]);
    expect(cosine(query!, related!)).toBeGreaterThan(cosine(query!, unrelated!) + 0.1);
  });

  it("folds simple inflections together", async () => {
    const [a, b, c] = await embedder.embed(["meetings scheduled", "meeting schedule", "banana bread"]);
    expect(cosine(a!, b!)).toBeGreaterThan(0.5);
    expect(cosine(a!, c!)).toBeLessThan(0.2);
  });

  it("gives empty and stopword-only texts a non-zero vector", async () => {
    for (const v of await embedder.embed(["", "the and of", "!!!"])) expect(Math.hypot(...v)).toBeCloseTo(1, 5);
  });
});

describe("stem", () => {
  it.each([
    ["meetings", "meet"],
    ["meeting", "meet"],
    ["scheduled", "schedul"],
    ["schedule", "schedul"],
    ["parties", "party"],
    ["status", "status"],
    ["john's", "john"],
  ])("%s → %s", (word, expected) => expect(stem(word)).toBe(expected));
});
