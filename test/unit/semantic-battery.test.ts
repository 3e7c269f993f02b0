import { describe, expect, it } from "vitest";
import { minimalPairs, paraphrases } from "../../scripts/lib/semantic-battery";
import { semanticMismatch } from "../../src/answer-cache/semantic-guards";

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
});
