/** Turns texts into vectors. Implementations: local (offline), openai (any OpenAI-compatible server), workers-ai (the AI binding). */
export interface Embedder {
  /** Names the model: the embedding cache keys on it, so a different model never reuses vectors. */
  readonly model: string;
  readonly dimensions: number;
  /** Largest number of texts sent in one provider call. */
  readonly batchSize: number;
  /** One vector per text, in order, each of length `dimensions`. */
  embed(texts: string[], signal?: AbortSignal): Promise<Float32Array[]>;
}

export class EmbeddingError extends Error {
  override name = "EmbeddingError";
}
