import { counters } from "../observability/counters.ts";
import { STOPWORDS, stem, words } from "../text/words.ts";
import type { Embedder } from "./embedder.ts";

/** FNV-1a, 32-bit: fast, well spread, deterministic across runtimes. */
function fnv1a(s: string, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/**
 * Offline embedder: signed feature hashing of stemmed words, word bigrams and character
 * trigrams of each word into `dimensions` buckets, sublinear term weights, L2-normalised.
 * Deterministic and network-free; similar wording gives similar vectors.
 *
 * @example const [v] = await localEmbedder({ dimensions: 384 }).embed(["hello world"])
 */
export function localEmbedder(options: { dimensions: number; model?: string; batchSize?: number }): Embedder {
  const { dimensions } = options;
  const add = (counts: Map<number, number>, feature: string, weight: number) => {
    const h = fnv1a(feature);
    const bucket = h % dimensions;
    // The sign bit comes from a second hash so collisions cancel out on average instead of piling up.
    const sign = fnv1a(feature, 0x9e3779b9) & 1 ? 1 : -1;
    counts.set(bucket, (counts.get(bucket) ?? 0) + sign * weight);
  };

  const embedOne = (text: string): Float32Array => {
    const counts = new Map<number, number>();
    const tokens = words(text);
    const contentWords = tokens.filter((t) => !STOPWORDS.has(t));
    // A text of stopwords only still needs a direction of its own (a zero vector has no cosine).
    const content = contentWords.length > 0 ? contentWords : tokens;
    if (content.length === 0) add(counts, `raw:${text}`, 1);
    const termFreq = new Map<string, number>();
    for (const t of content) termFreq.set(stem(t), (termFreq.get(stem(t)) ?? 0) + 1);
    for (const [term, tf] of termFreq) {
      const w = 1 + Math.log(tf);
      add(counts, `w:${term}`, w);
      const padded = `<${term}>`;
      for (let i = 0; i + 3 <= padded.length; i++) add(counts, `c:${padded.slice(i, i + 3)}`, 0.25 * w);
    }
    for (let i = 0; i + 1 < content.length; i++) add(counts, `b:${stem(content[i]!)}_${stem(content[i + 1]!)}`, 0.5);

    const v = new Float32Array(dimensions);
    let norm = 0;
    for (const [bucket, value] of counts) {
      v[bucket] = value;
      norm += value * value;
    }
    if (norm > 0) {
      const inv = 1 / Math.sqrt(norm);
      for (let i = 0; i < dimensions; i++) v[i]! *= inv;
    }
    return v;
  };

  return {
    model: options.model ?? "local-hash-v1",
    dimensions,
    batchSize: options.batchSize ?? 256,
    embed: async (texts) => {
      counters.inc("rag_embedding_calls_total", { provider: "local" });
      return texts.map(embedOne);
    },
  };
}
