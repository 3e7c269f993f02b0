import type { Embedder } from "./embedder.ts";

/** Remembers each text's vector for the embedder's life (one request); a failed call is forgotten, so it can be tried again. */
export function memoisedEmbedder(embedder: Embedder): Embedder {
  const known = new Map<string, Promise<Float32Array>>();
  return {
    model: embedder.model,
    dimensions: embedder.dimensions,
    batchSize: embedder.batchSize,
    async embed(texts, signal) {
      const missing = [...new Set(texts.filter((t) => !known.has(t)))];
      if (missing.length > 0) {
        const call = embedder.embed(missing, signal);
        missing.forEach((text, i) => {
          const vector = call.then((vectors) => vectors[i]!);
          vector.catch(() => known.delete(text));
          known.set(text, vector);
        });
      }
      return Promise.all(texts.map((t) => known.get(t)!));
    },
  };
}
