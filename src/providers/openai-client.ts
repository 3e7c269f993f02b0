import OpenAI from "openai";

export interface OpenAIClientOptions {
  apiKey: string | undefined;
  baseURL: string | undefined;
  timeoutMs: number;
}

/**
 * The SDK client both OpenAI-compatible providers use. A local server needs no key. Retries
 * belong to one layer only: ingestion is retried by its caller, answers fall back instead.
 */
export function openAIClient(options: OpenAIClientOptions): OpenAI {
  return new OpenAI({ apiKey: options.apiKey ?? "not-needed", baseURL: options.baseURL, timeout: options.timeoutMs, maxRetries: 0 });
}
