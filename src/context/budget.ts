import { queryTerms } from "../text/words.ts";
import type { Tokenizer } from "../tokens/tokenizer.ts";
import { type SelectableChunk, selectContext } from "./select.ts";

// Fitting retrieved chunks to a caller's token budget (POST /retrieve's token_budget): context
// selection for a caller who builds the prompt itself. Stored token counts are cl100k.

/**
 * Fills the token budget: as many hits as fit when compressed to their key sentences (query
 * terms, decisions, names, dates; see context/compress.ts), the best of them restored whole while
 * the room allows, and the next one truncated when more than 100 tokens remain. More distinct
 * hits in the same tokens is what raises evidence recall at every budget (docs/RETRIEVAL.md).
 */
export async function selectWithinBudget<T extends SelectableChunk & { excerpt?: boolean }>(
  chunks: T[],
  options: { query: string; budget: number | undefined; compress: boolean; tokenizer: () => Promise<Tokenizer> },
): Promise<{ kept: T[]; tokens: number }> {
  const { budget } = options;
  if (budget === undefined || !options.compress) return fitBudget(chunks, budget);
  // Whole chunks that fit need no tokenizer: stored token counts are cl100k, the budget's unit.
  if (chunks.reduce((sum, c) => sum + c.tokens, 0) <= budget) return { kept: chunks, tokens: chunks.reduce((sum, c) => sum + c.tokens, 0) };
  const selection = selectContext(chunks, {
    strategy: "hybrid",
    budget,
    lambda: 1,
    hybridLambda: 1,
    redundancy: 1,
    truncateMin: 100,
    terms: new Set(queryTerms(options.query)),
    tokenizer: await options.tokenizer(),
    recount: false,
  });
  return { kept: selection.chunks.map((c) => (c.compressed || c.truncated ? { ...c, excerpt: true } : c)), tokens: selection.tokens };
}

/** Keeps chunks in rank order while they fit the budget (a chunk that does not fit is skipped, later smaller ones may still fit). */
export function fitBudget<T extends { tokens: number }>(chunks: T[], budget: number | undefined): { kept: T[]; tokens: number } {
  let tokens = 0;
  const kept: T[] = [];
  for (const c of chunks) {
    if (budget !== undefined && tokens + c.tokens > budget) continue;
    kept.push(c);
    tokens += c.tokens;
  }
  return { kept, tokens };
}
