import OpenAI from "openai";
import { ChatError, type ChatFinish, type ChatModel } from "./chat-model.ts";
import { type OpenAIClientOptions, openAIClient } from "./openai-client.ts";

export type OpenAIChatOptions = OpenAIClientOptions;

/** Retry-After (seconds or an HTTP date) of a provider error, in ms. */
function retryAfterMs(err: unknown): number | undefined {
  const value = err instanceof OpenAI.APIError ? err.headers?.get("retry-after") : undefined;
  if (!value) return undefined;
  const seconds = Number(value);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(value) - Date.now();
  return Number.isFinite(ms) && ms > 0 ? Math.min(ms, 10 * 60_000) : undefined;
}

const failure = (what: string, err: unknown) =>
  new ChatError(`${what}: ${err instanceof Error ? err.message : String(err)}`, err instanceof OpenAI.APIError ? err.status : undefined, {
    cause: err,
    retryAfterMs: retryAfterMs(err),
  });

/**
 * Chat completions from any OpenAI-compatible server through the official SDK, streamed.
 * Sends `max_tokens` (the field every compatible server understands) and asks for usage in the
 * last chunk. Aborting the signal closes the upstream request, which stops the generation.
 */
export function openAIChat(options: OpenAIChatOptions): ChatModel {
  const client = openAIClient(options);
  return {
    provider: "openai",
    async *stream(request, signal) {
      let stream: Awaited<ReturnType<typeof client.chat.completions.create>>;
      try {
        stream = await client.chat.completions.create(
          {
            model: request.model,
            messages: request.messages,
            temperature: request.temperature,
            max_tokens: request.maxTokens,
            stream: true,
            stream_options: { include_usage: true },
          },
          { signal },
        );
      } catch (err) {
        throw failure("chat provider call failed", err);
      }
      const finish: ChatFinish = { finishReason: "stop" };
      try {
        for await (const chunk of stream) {
          const choice = chunk.choices[0];
          if (choice?.delta?.content) yield choice.delta.content;
          if (choice?.finish_reason) finish.finishReason = choice.finish_reason === "length" ? "length" : "stop";
          if (chunk.usage) finish.usage = { promptTokens: chunk.usage.prompt_tokens, completionTokens: chunk.usage.completion_tokens };
        }
      } catch (err) {
        throw failure("chat provider stream failed", err);
      }
      return finish;
    },
    async complete(messages, { model, maxTokens, signal }) {
      try {
        const response = await client.chat.completions.create({ model, messages, temperature: 0, max_tokens: maxTokens }, { signal });
        const text = response.choices[0]?.message?.content?.trim();
        if (!text) throw new ChatError("chat provider returned an empty completion");
        return text;
      } catch (err) {
        throw err instanceof ChatError ? err : failure("chat provider call failed", err);
      }
    },
  };
}
