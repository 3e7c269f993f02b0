import type { Config } from "../config.ts";
import type { Embedder } from "./embedder.ts";
import { localEmbedder } from "./local-embedder.ts";
import { openAIEmbedder } from "./openai-embedder.ts";

/** The one place where the configured embedding provider is chosen. */
export function createEmbedder(config: Config): Embedder {
  const { provider, model, dimensions, batchSize } = config.embedding;
  if (provider === "openai") {
    return openAIEmbedder({ ...config.openai, model, dimensions, batchSize });
  }
  return localEmbedder({ model, dimensions, batchSize });
}
