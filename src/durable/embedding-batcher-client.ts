import type { Config } from "../config.ts";
import { sha256Hex } from "../hash.ts";
import { type Embedder, EmbeddingError } from "../providers/embedder.ts";
import { race } from "../timeouts.ts";
import { durableFallback, durableRequest, timedOut } from "./calls.ts";
import type { BatchResult } from "./embedding-batcher.ts";

let isolateShard: number | undefined;

/** The batcher this isolate uses for a tenant's query embeddings with a given provider and model. */
export function batcherName(tenantId: string, config: Pick<Config, "embedding" | "openai" | "workersAi" | "durable">): string {
  const { embedding, openai, workersAi, durable } = config;
  isolateShard ??= Math.floor(Math.random() * 1_000_000);
  const endpoint = embedding.provider === "workers-ai" ? `workers-ai:${workersAi.gateway ?? ""}` : (openai.baseURL ?? "");
  return `tenant:${tenantId}:embed:${sha256Hex(embedding.model, String(embedding.dimensions), endpoint)}:${isolateShard % durable.batcherShards}`;
}

/**
 * Query embeddings through the tenant's EmbeddingBatcher. Each isolate sticks to one of the
 * configured shards, so its requests batch together while many isolates spread over the shards.
 * If the object cannot be reached or answers too late, `direct` embeds instead (counted); a
 * provider failure inside a batch is the provider's answer and is not retried.
 */
export function batchedEmbedder(env: Env, tenantId: string, config: Config, direct: Embedder): Embedder {
  const { embedding, openai, workersAi, durable } = config;
  const name = batcherName(tenantId, config);
  // The object's answer may include the provider's retries of a failing call: wait for all of them.
  const callMs = embedding.provider === "workers-ai" ? workersAi.timeoutMs : openai.timeoutMs;
  const timeoutMs = durable.batchWindowMs + (embedding.maxRetries + 1) * callMs + 10_000;
  const settings = { tenantId, config: { embedding, openai, workersAi, durable } };
  return {
    model: direct.model,
    dimensions: direct.dimensions,
    batchSize: direct.batchSize,
    async embed(texts, signal) {
      if (texts.length === 0) return [];
      let result: BatchResult;
      try {
        // RPC types a union result oddly; the object returns exactly a BatchResult.
        durableRequest("embedding_batcher");
        const call = env.EMBEDDING_BATCHER.getByName(name).embed(texts, settings) as unknown as Promise<BatchResult>;
        result = await race(call, timeoutMs, timedOut("embedding batcher", timeoutMs));
      } catch (err) {
        durableFallback("embedding_batcher", err);
        return direct.embed(texts, signal);
      }
      if ("error" in result) throw new EmbeddingError(result.error);
      return result.vectors;
    },
  };
}
