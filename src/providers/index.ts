import type { Config } from "../config.ts";
import type { Tokenizer } from "../tokens/tokenizer.ts";
import type { ChatModels } from "./chat-model.ts";
import { breakerFor } from "./circuit-breaker.ts";
import type { Embedder } from "./embedder.ts";
import { extractiveAnswerer } from "./extractive-answerer.ts";
import { localEmbedder } from "./local-embedder.ts";
import { openAIChat } from "./openai-chat.ts";
import { openAIEmbedder } from "./openai-embedder.ts";
import { gatewayOption, requireAi, workersAiEndpoint } from "./workers-ai-binding.ts";
import { workersAiChat } from "./workers-ai-chat.ts";
import { workersAiEmbedder } from "./workers-ai-embedder.ts";

/** Bindings a provider may call (the Worker's env has them; tests pass stand-ins). */
export interface ProviderBindings {
  AI?: Ai | undefined;
}

/**
 * The one place where the configured embedding provider is chosen. Throws ConfigError when the
 * provider needs a binding the Worker does not have.
 */
export function createEmbedder(config: Pick<Config, "embedding" | "openai" | "workersAi">, bindings: ProviderBindings): Embedder {
  const { provider, model, dimensions, batchSize, maxRetries } = config.embedding;
  if (provider === "openai") {
    return openAIEmbedder({ ...config.openai, model, dimensions, batchSize, maxRetries });
  }
  if (provider === "workers-ai") {
    const ai = requireAi(bindings.AI, "EMBEDDING_PROVIDER");
    const { timeoutMs } = config.workersAi;
    return workersAiEmbedder({ ai, model, dimensions, batchSize, maxRetries, gateway: gatewayOption(config.workersAi), timeoutMs });
  }
  return localEmbedder({ model, dimensions, batchSize });
}

/**
 * The configured chat model and the extractive answerer it falls back to (the same object when
 * extractive is the configured provider), with the breaker of the provider's endpoint: the
 * OpenAI-compatible server, or the Workers AI model behind its gateway.
 */
export function createChatModels(
  config: Pick<Config, "chat" | "openai" | "workersAi">,
  tokenizer: () => Promise<Tokenizer>,
  bindings: ProviderBindings,
): ChatModels {
  const fallback = extractiveAnswerer({ tokenizer });
  const { provider, breaker } = config.chat;
  if (provider === "openai") {
    return {
      primary: openAIChat(config.openai),
      fallback,
      breaker: breakerFor(config.openai.baseURL ?? "https://api.openai.com/v1", breaker),
    };
  }
  if (provider === "workers-ai") {
    const ai = requireAi(bindings.AI, "CHAT_PROVIDER");
    return {
      primary: workersAiChat({ ai, gateway: gatewayOption(config.workersAi), timeoutMs: config.workersAi.timeoutMs }),
      fallback,
      breaker: breakerFor(workersAiEndpoint(config), breaker),
    };
  }
  return { primary: fallback, fallback };
}
