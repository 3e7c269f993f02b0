import type { SelectionStrategy } from "../config.ts";
import type { Tokenizer } from "../tokens/tokenizer.ts";
import { type CompressibleChunk, keySentences } from "./compress.ts";
import { cosine, mmrOrder } from "./mmr.ts";

export { SELECTION_STRATEGIES, type SelectionStrategy } from "../config.ts";

export interface SelectableChunk extends CompressibleChunk {
  id: string;
  score: number;
  embedding?: ArrayLike<number> | undefined;
}

export interface SelectOptions {
  strategy: SelectionStrategy;
  budget: number;
  /** MMR trade-off for `diversity` (1: relevance only). */
  lambda: number;
  /** MMR trade-off for `hybrid`. */
  hybridLambda: number;
  /** Chunks more similar than this to a better one are dropped (hybrid). */
  redundancy: number;
  /** A chunk that does not fit is added cut down when more than this many tokens remain. */
  truncateMin: number;
  /** Stemmed query terms, for key-sentence compression (hybrid). */
  terms: Set<string>;
  tokenizer: Tokenizer;
  /** Count the candidates' texts again (default); false when their `tokens` are already in this tokenizer's encoding. */
  recount?: boolean;
  /** Similarity of two candidates (undefined: unknown, counted as unlike); default: the cosine of their `embedding`s. */
  similarity?: (a: SelectableChunk, b: SelectableChunk) => number | undefined;
}

/** The cosine of two chunks' embeddings, when both have one. */
export const embeddingSimilarity = (a: SelectableChunk, b: SelectableChunk) =>
  a.embedding && b.embedding ? cosine(a.embedding, b.embedding) : undefined;

export type Selected<T> = T & { truncated?: true; compressed?: true };

export interface Selection<T> {
  chunks: Selected<T>[];
  tokens: number;
  /** Tokens of all candidates concatenated whole: what naive top-k would send. */
  naiveTokens: number;
  redundant: number;
}

/**
 * Chooses the context for a prompt from ranked candidates within `budget` tokens:
 * - relevance: best fused score first;
 * - diversity: Maximal Marginal Relevance over the chunks' embeddings (λ = `lambda`);
 * - hybrid: drops near-duplicates, orders by MMR with a relevance-leaning λ (`hybridLambda`),
 *   then takes as many chunks as fit compressed to their key sentences, and restores the most
 *   relevant of them whole while the budget allows (see fitByCompression).
 * Whole chunks are taken while they fit; the first that does not is added as a truncated copy
 * when more than `truncateMin` tokens remain (or when nothing was taken yet, so a tiny budget
 * still gets some context). The result never exceeds the budget.
 */
export function selectContext<T extends SelectableChunk>(candidates: T[], options: SelectOptions): Selection<T> {
  const { tokenizer } = options;
  const counted = options.recount === false ? candidates : candidates.map((c) => ({ ...c, tokens: tokenizer.count(c.text) }));
  const naiveTokens = counted.reduce((sum, c) => sum + c.tokens, 0);
  let pool: Selected<T>[] = [...counted].sort((a, b) => b.score - a.score);
  let redundant = 0;
  const similarity = options.similarity ?? embeddingSimilarity;

  if (options.strategy === "diversity") pool = mmrOrder(pool, (c) => c.score, similarity, options.lambda);
  if (options.strategy === "hybrid") {
    const kept: Selected<T>[] = [];
    for (const c of pool) {
      if (kept.some((k) => (similarity(k, c) ?? 0) > options.redundancy)) redundant++;
      else kept.push(c);
    }
    pool = fitByCompression(
      mmrOrder(kept, (c) => c.score, similarity, options.hybridLambda),
      options,
    );
  }

  const chunks: Selected<T>[] = [];
  let tokens = 0;
  for (const c of pool) {
    const room = options.budget - tokens;
    if (room <= 0) break;
    if (c.tokens <= room) {
      chunks.push(c);
      tokens += c.tokens;
      continue;
    }
    if (room > options.truncateMin || chunks.length === 0) {
      const cut = truncateChunk(c, room, tokenizer);
      if (cut) {
        chunks.push(cut);
        tokens += cut.tokens;
      }
    }
    break;
  }
  return { chunks, tokens, naiveTokens, redundant };
}

/**
 * The longest run of leading chunks that fits the budget when compressed to key sentences,
 * followed by the next chunk (compressed), which the caller adds truncated when enough room
 * remains; when it does not, the leading chunks are restored whole while the room allows. Compression is computed only for the chunks it may keep.
 */
function fitByCompression<T extends SelectableChunk>(pool: Selected<T>[], options: SelectOptions): Selected<T>[] {
  const small = new Map<number, Selected<T>>();
  const compressed = (i: number) => {
    let c = small.get(i);
    if (!c) small.set(i, (c = keySentences(pool[i]!, { terms: options.terms, tokenizer: options.tokenizer }) ?? pool[i]!));
    return c;
  };
  let total = 0;
  let taken = 0;
  while (taken < pool.length && total + compressed(taken).tokens <= options.budget) total += compressed(taken++).tokens;
  const out = pool.slice(0, taken).map((_, i) => compressed(i));
  // Room enough for a truncated copy of the next chunk brings new messages; spend it on that
  // rather than on restoring what compression dropped from the chunks already taken.
  const next = taken < pool.length;
  if (next && options.budget - total > options.truncateMin) return [...out, compressed(taken)];
  for (let i = 0; i < taken; i++) {
    const extra = pool[i]!.tokens - out[i]!.tokens;
    if (extra > 0 && total + extra <= options.budget) {
      out[i] = pool[i]!;
      total += extra;
    }
  }
  return next ? [...out, compressed(taken)] : out;
}

/** The chunk cut to `maxTokens`: whole leading messages when at least one fits, else its first tokens. */
export function truncateChunk<T extends SelectableChunk>(chunk: T, maxTokens: number, tokenizer: Tokenizer): Selected<T> | undefined {
  const lines = chunk.text.split("\n");
  const mapped = lines.length === chunk.messageIds.length;
  // The most leading lines that fit: a prefix's count only grows with its length, so a binary search
  // counts log(lines) prefixes instead of every one.
  let n = 0;
  let over = lines.length + 1;
  while (over - n > 1) {
    const mid = (n + over) >> 1;
    if (tokenizer.count(lines.slice(0, mid).join("\n")) <= maxTokens) n = mid;
    else over = mid;
  }
  const text = n > 0 ? lines.slice(0, n).join("\n") : tokenizer.truncate(chunk.text, maxTokens, "start");
  if (!text) return undefined;
  const messageIds = mapped ? chunk.messageIds.slice(0, Math.max(1, n)) : chunk.messageIds;
  return { ...chunk, text, messageIds, tokens: tokenizer.count(text), truncated: true };
}
