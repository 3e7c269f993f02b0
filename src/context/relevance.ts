import { FRAMING, STOPWORDS, termStem, words } from "../text/words.ts";

// How much of a question a retrieved text speaks to, on an absolute scale, so that an ask whose
// best source is unrelated ("the contingency plan if the audit uncovers issues" against a support
// ticket that shares only "issues") answers that nothing relevant was found instead of quoting it.

/** The question's content terms: stemmed, without stopwords and framing words ("say", "discuss"). */
export function relevanceTerms(question: string): string[] {
  return [
    ...new Set(
      words(question)
        .filter((w) => !STOPWORDS.has(w) && !FRAMING.has(w))
        .map(termStem),
    ),
  ];
}

/**
 * The share of the question's terms each text contains, each term weighted by how rare it is
 * among the texts (IDF over the retrieved candidates: a term every candidate shares says little,
 * a term none has weighs most). 1: every term is there; 0: none. Undefined when the question has
 * no content terms ("what happened?"): there is nothing to measure, and no floor applies.
 *
 * @example termCoverage("contingency plan for the audit", ["the audit plan", "lunch plan"]) // [≈0.52, ≈0.22]
 */
export function termCoverage(question: string, texts: string[]): number[] | undefined {
  const terms = relevanceTerms(question);
  if (terms.length === 0) return undefined;
  const bags = texts.map((t) => new Set(words(t).map(termStem)));
  const weights = terms.map((term) => Math.log(1 + bags.length / (1 + bags.filter((b) => b.has(term)).length)));
  const total = weights.reduce((a, b) => a + b, 0);
  return bags.map((bag) => terms.reduce((sum, term, i) => sum + (bag.has(term) ? weights[i]! : 0), 0) / total);
}
