import type { Config } from "../config";
import type { Embedder } from "./embedder";
import { localEmbedder } from "./local-embedder";
import { openAIEmbedder } from "./openai-embedder";

/** The one place where the configured embedding provider is chosen. */
export function createEmbedder(config: Config): Embedder {
  const { provider, model, dimensions, batchSize } = config.embedding;
  if (provider === "openai") {
    return openAIEmbedder({ ...config.openai, model, dimensions, batchSize });
  }
  return localEmbedder({ model, dimensions, batchSize });
}
