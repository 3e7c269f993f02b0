import type { Config } from "../config.ts";
import { embedderForModel } from "../reembed/embedders.ts";
import type { Services } from "../services.ts";
import { tiktoken } from "../tokens/tokenizer.ts";
import type { IngestDeps } from "./ingest-service.ts";

/** What an ingest of the services' tenant needs: its stores, the configured embedder and those of its other live models. */
export async function ingestDeps(services: Services, config: Config): Promise<IngestDeps> {
  return {
    conversations: services.stores.conversations,
    embeddings: services.stores.embeddings,
    embedder: embedderForModel(config, services.env, {
      provider: config.embedding.provider,
      model: config.embedding.model,
      dimensions: config.embedding.dimensions,
    }),
    provider: config.embedding.provider,
    embedderFor: (model) => embedderForModel(config, services.env, model),
    tokenizer: await tiktoken(),
    chunking: { maxTokens: config.chunkMaxTokens, sessionGapMs: config.chunkSessionGapMinutes * 60_000 },
    statementTimeoutMs: config.statementTimeoutMs,
  };
}
