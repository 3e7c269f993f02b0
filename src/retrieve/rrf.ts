/**
 * Reciprocal Rank Fusion: score(d) = Σ weight / (k + rank), ranks starting at 1. Items are keyed by
 * `key`; the result is ordered by fused score, ties broken by the best single rank.
 *
 * @example rrf([["a", "b"], ["b", "c"]], (x) => x, 60) // b first: it is in both lists
 */
export function rrf<T>(
  lists: { items: T[]; weight?: number }[] | T[][],
  key: (item: T) => string,
  k: number,
): { item: T; score: number; ranks: number[] }[] {
  const normalised = lists.map((l) => (Array.isArray(l) ? { items: l, weight: 1 } : { items: l.items, weight: l.weight ?? 1 }));
  const fused = new Map<string, { item: T; score: number; ranks: number[] }>();
  normalised.forEach(({ items, weight }, listIndex) => {
    items.forEach((item, i) => {
      const id = key(item);
      let entry = fused.get(id);
      if (!entry) fused.set(id, (entry = { item, score: 0, ranks: normalised.map(() => 0) }));
      if (entry.ranks[listIndex] === 0) {
        entry.ranks[listIndex] = i + 1;
        entry.score += weight / (k + i + 1);
      }
    });
  });
  const best = (ranks: number[]) => Math.min(...ranks.filter((r) => r > 0));
  return [...fused.values()].sort((a, b) => b.score - a.score || best(a.ranks) - best(b.ranks));
}
