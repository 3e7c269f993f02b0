import { type Config, ConfigError } from "../config.ts";
import type { EmbeddingModel } from "../db/embedding-models.ts";
import type { Embedder } from "../providers/embedder.ts";
import { createEmbedder, type ProviderBindings } from "../providers/index.ts";

/**
 * The embedder of a stored model (a tenant's search model, or the one a job fills in): the
 * configured provider settings (keys, gateway, batch size, retries) with that model's provider,
 * name and size. The configured model itself gives the configured embedder.
 */
export function embedderForModel(config: Config, bindings: ProviderBindings, model: EmbeddingModel): Embedder {
  return createEmbedder(configForModel(config, model), bindings);
}

/** The configuration with `model` as its embedding model (provider, name, size; the rest as configured). */
export function configForModel(config: Config, model: EmbeddingModel): Config {
  if (!isProvider(model.provider)) throw new Error(`unknown embedding provider '${model.provider}' of model ${model.model}`);
  if (
    model.model === config.embedding.model &&
    model.provider === config.embedding.provider &&
    model.dimensions === config.embedding.dimensions
  )
    return config;
  // A tenant not yet moved to the configured model still needs its own model's provider.
  if (model.provider === "openai" && !config.openai.apiKey && !config.openai.baseURL) {
    throw new ConfigError(
      `invalid configuration: this tenant's chunks are embedded with ${model.model} (openai), which needs OPENAI_API_KEY (or OPENAI_BASE_URL); keep it until a re-embedding job has moved the tenant to ${config.embedding.model} (docs/EMBEDDING_MODELS.md)`,
    );
  }
  return { ...config, embedding: { ...config.embedding, ...model, provider: model.provider } };
}

const isProvider = (p: string): p is Config["embedding"]["provider"] => p === "local" || p === "openai" || p === "workers-ai";

/** The configured model as stored. */
export const configuredModel = (config: Config): EmbeddingModel => ({
  provider: config.embedding.provider,
  model: config.embedding.model,
  dimensions: config.embedding.dimensions,
});
