import type OpenAI from "openai";
import { counters } from "../observability/counters.ts";
import { type Embedder, EmbeddingError } from "./embedder.ts";
import { type OpenAIClientOptions, openAIClient } from "./openai-client.ts";

export interface OpenAIEmbedderOptions extends OpenAIClientOptions {
  model: string;
  dimensions: number;
  batchSize: number;
  /** Retries of a failed call (the SDK's backoff); embedding the same texts again is harmless. */
  maxRetries: number;
}

/**
 * Embeddings from any OpenAI-compatible server through the official SDK. Asks for the
 * configured `dimensions` (text-embedding-3-* shorten natively) and checks what comes back.
 */
export function openAIEmbedder(options: OpenAIEmbedderOptions): Embedder {
  const client = openAIClient(options, options.maxRetries);
  return {
    model: options.model,
    dimensions: options.dimensions,
    batchSize: options.batchSize,
    async embed(texts, signal) {
      if (texts.length === 0) return [];
      let response: OpenAI.CreateEmbeddingResponse;
      counters.inc("rag_embedding_calls_total", { provider: "openai" });
      try {
        response = await client.embeddings.create({ model: options.model, input: texts, dimensions: options.dimensions }, { signal });
      } catch (err) {
        throw new EmbeddingError(`embedding provider call failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      }
      const vectors = new Array<Float32Array>(texts.length);
      for (const item of response.data) {
        if (item.embedding.length !== options.dimensions) {
          throw new EmbeddingError(`embedding provider returned ${item.embedding.length} dimensions, expected ${options.dimensions}`);
        }
        vectors[item.index] = Float32Array.from(item.embedding);
      }
      if (response.data.length !== texts.length || vectors.some((v) => v === undefined)) {
        throw new EmbeddingError(`embedding provider returned ${response.data.length} vectors for ${texts.length} texts`);
      }
      return vectors;
    },
  };
}
