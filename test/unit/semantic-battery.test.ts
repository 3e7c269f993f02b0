import { describe, expect, it } from "vitest";
import { minimalPairs, paraphrases } from "../../scripts/lib/semantic-battery";
import { semanticMismatch } from "../../src/cache/semantic-guards";

// The guard alone, on the whole battery (npm run eval:semantic runs it through the API, where a
// hit also needs the embeddings to be close): every minimal pair is refused, both ways round.
describe("semantic cache guard on the question battery", () => {
  const pairs = minimalPairs();

  it(`refuses all ${pairs.length} minimal pairs (one crucial word differs), whichever of the two is cached`, () => {
    expect(pairs.length).toBeGreaterThanOrEqual(300);
    const accepted = pairs.filter((p) => semanticMismatch(p.a, p.b) === undefined || semanticMismatch(p.b, p.a) === undefined);
    expect(accepted).toEqual([]);
  });

  it("accepts every paraphrase of the battery (order, filler, case, inflection, contractions, numbers written out)", () => {
    const refused = paraphrases()
      .map((p) => ({ ...p, reason: semanticMismatch(p.a, p.b) }))
      .filter((p) => p.reason !== undefined);
    expect(refused).toEqual([]);
  });

  it("names the kind of difference", () => {
    // Lower-case names are refused too; only the label cannot tell them from other words.
    expect(semanticMismatch("what did john say about the launch?", "what did priya say about the launch?")).toBe("content");
    expect(semanticMismatch("What did John say about the launch?", "What did Priya say about the launch?")).toBe("names");
    expect(semanticMismatch("Ольга, what was decided?", "Дмитрий, what was decided?")).toBe("names");
    expect(semanticMismatch("Who has three tickets?", "Who has twelve tickets?")).toBe("numbers");
    expect(semanticMismatch("What happened before the outage?", "What happened after the outage?")).toBe("relation");
    expect(semanticMismatch("Is the launch in May?", "Is the launch in June?")).toBe("dates");
    expect(semanticMismatch("What did Will say about it?", "What did you say about it?")).toBe("names");
  });
});
