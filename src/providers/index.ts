import type { Config } from "../config.ts";
import type { Tokenizer } from "../tokens/tokenizer.ts";
import type { ChatModels } from "./chat-model.ts";
import { breakerFor } from "./circuit-breaker.ts";
import type { Embedder } from "./embedder.ts";
import { extractiveAnswerer } from "./extractive-answerer.ts";
import { localEmbedder } from "./local-embedder.ts";
import { openAIChat } from "./openai-chat.ts";
import { openAIEmbedder } from "./openai-embedder.ts";

/** Bindings a provider may call (the Worker's env has them; tests pass stand-ins). */
export interface ProviderBindings {
  AI?: Ai | undefined;
}

/** The one place where the configured embedding provider is chosen. */
export function createEmbedder(config: Config, _bindings: ProviderBindings): Embedder {
  const { provider, model, dimensions, batchSize, maxRetries } = config.embedding;
  if (provider === "openai") {
    return openAIEmbedder({ ...config.openai, model, dimensions, batchSize, maxRetries });
  }
  return localEmbedder({ model, dimensions, batchSize });
}

/**
 * The configured chat model and the extractive answerer it falls back to (the same object when
 * extractive is the configured provider).
 */
export function createChatModels(
  config: Pick<Config, "chat" | "openai" | "workersAi">,
  tokenizer: () => Promise<Tokenizer>,
  _bindings: ProviderBindings,
): ChatModels {
  const fallback = extractiveAnswerer({ tokenizer });
  if (config.chat.provider !== "openai") return { primary: fallback, fallback };
  return {
    primary: openAIChat(config.openai),
    fallback,
    breaker: breakerFor(config.openai.baseURL ?? "https://api.openai.com/v1", config.chat.breaker),
  };
}
