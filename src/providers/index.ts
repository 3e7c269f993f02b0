import type { Config } from "../config.ts";
import type { Tokenizer } from "../tokens/tokenizer.ts";
import type { ChatModel } from "./chat-model.ts";
import type { Embedder } from "./embedder.ts";
import { extractiveAnswerer } from "./extractive-answerer.ts";
import { localEmbedder } from "./local-embedder.ts";
import { openAIChat } from "./openai-chat.ts";
import { openAIEmbedder } from "./openai-embedder.ts";

/** The one place where the configured embedding provider is chosen. */
export function createEmbedder(config: Config): Embedder {
  const { provider, model, dimensions, batchSize } = config.embedding;
  if (provider === "openai") {
    return openAIEmbedder({ ...config.openai, model, dimensions, batchSize });
  }
  return localEmbedder({ model, dimensions, batchSize });
}

/**
 * The configured chat model and the extractive answerer it falls back to (the same object when
 * extractive is the configured provider).
 */
export function createChatModels(config: Config, tokenizer: () => Promise<Tokenizer>): { primary: ChatModel; fallback: ChatModel } {
  const fallback = extractiveAnswerer({ tokenizer });
  return { primary: config.chat.provider === "openai" ? openAIChat(config.openai) : fallback, fallback };
}
