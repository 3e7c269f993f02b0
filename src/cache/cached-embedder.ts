import type { EmbeddingStore } from "../db/ports.ts";
import { sha256Hex } from "../hash.ts";
import { counters } from "../observability/counters.ts";
import type { Embedder } from "../providers/embedder.ts";

/**
 * An embedder that remembers the tenant's vectors in Postgres (`embedding_cache`, keyed by tenant,
 * model and the text's SHA-256; never shared between tenants): a question asked again costs no
 * provider call. Cache reads and writes fail open. Worth it for a remote provider only; the local
 * embedder is cheaper than the round trip.
 */
export function cachedEmbedder(embedder: Embedder, store: EmbeddingStore): Embedder {
  return {
    model: embedder.model,
    dimensions: embedder.dimensions,
    batchSize: embedder.batchSize,
    async embed(texts, signal) {
      const hashes = texts.map((t) => sha256Hex(t));
      const found = await store.get(embedder.model, [...new Set(hashes)]).catch(() => new Map<string, Float32Array>());
      const missing = [...new Set(hashes.filter((h) => !found.has(h)))];
      counters.inc("rag_embedding_cache_total", { result: "hit" }, hashes.length - hashes.filter((h) => !found.has(h)).length);
      if (missing.length > 0) {
        const textOf = new Map(hashes.map((h, i) => [h, texts[i]!]));
        const vectors = await embedder.embed(
          missing.map((h) => textOf.get(h)!),
          signal,
        );
        const fresh = missing.map((hash, i) => ({ hash, embedding: vectors[i]! }));
        for (const f of fresh) found.set(f.hash, f.embedding);
        counters.inc("rag_embedding_cache_total", { result: "miss" }, missing.length);
        await store
          .put(embedder.model, fresh)
          .catch(() => counters.inc("rag_cache_errors_total", { cache_level: "embeddings", op: "put", reason: "error" }));
      }
      return hashes.map((h) => found.get(h)!);
    },
  };
}
