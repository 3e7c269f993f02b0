import OpenAI from "openai";

export interface OpenAIClientOptions {
  apiKey: string | undefined;
  baseURL: string | undefined;
  timeoutMs: number;
}

/**
 * The SDK client both OpenAI-compatible providers use. A local server needs no key. Retries
 * happen at one layer only, this one, and only for idempotent calls: embeddings are retried by
 * the SDK (capped, exponential backoff with jitter, honouring Retry-After); chat answers are not
 * (they fall back instead, and the circuit breaker watches them).
 */
export function openAIClient(options: OpenAIClientOptions, maxRetries = 0): OpenAI {
  return new OpenAI({ apiKey: options.apiKey ?? "not-needed", baseURL: options.baseURL, timeout: options.timeoutMs, maxRetries });
}
