/** Cosine similarity of two vectors (0 when either is zero). */
export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  const norm = Math.sqrt(na) * Math.sqrt(nb);
  return norm > 0 && Number.isFinite(dot / norm) ? dot / norm : 0;
}

/**
 * Maximal Marginal Relevance order: repeatedly takes the item with the best
 * λ · relevance − (1 − λ) · (highest similarity to an item already taken), relevance scaled to
 * 0…1 by the best score. λ = 1 is plain relevance order; lower values trade relevance for variety.
 * A pair whose similarity is unknown (undefined) counts as unlike.
 *
 * @example mmrOrder(chunks, (c) => c.score, (a, b) => cosine(a.embedding, b.embedding), 0.7)
 */
export function mmrOrder<T>(
  items: T[],
  relevance: (item: T) => number,
  similarity: (a: T, b: T) => number | undefined,
  lambda: number,
): T[] {
  const top = Math.max(0, ...items.map(relevance));
  const rel = items.map((item) => (top > 0 ? relevance(item) / top : 0));
  const maxSim = items.map(() => 0);
  const left = new Set(items.keys());
  const order: T[] = [];
  while (left.size > 0) {
    let best = left.values().next().value!;
    let bestValue = -Infinity;
    for (const i of left) {
      const value = lambda * rel[i]! - (1 - lambda) * maxSim[i]!;
      if (value > bestValue) [best, bestValue] = [i, value];
    }
    left.delete(best);
    order.push(items[best]!);
    for (const i of left) {
      const s = similarity(items[best]!, items[i]!);
      if (s !== undefined) maxSim[i] = Math.max(maxSim[i]!, s);
    }
  }
  return order;
}
