import { ChatError, type ChatFinish, type ChatModel } from "./chat-model.ts";
import { sseData } from "./sse-data.ts";
import { untilAborted, withinDeadline, workersAiStatus } from "./workers-ai-binding.ts";

/** Instruct models take the same messages input and stream the same events; this one names them for the binding's types. */
type InstructModel = "@cf/meta/llama-3.3-70b-instruct-fp8-fast";

export interface WorkersAiChatOptions {
  ai: Ai;
  gateway: GatewayOptions | undefined;
  /** Deadline of one non-streamed completion (the answer's stream has its first-token and idle deadlines). */
  timeoutMs: number;
}

/** One event of a streamed generation: Workers AI's own form, or the OpenAI form some newer models use. */
interface StreamEvent {
  response?: unknown;
  usage?: { prompt_tokens?: number; completion_tokens?: number };
  finish_reason?: string | null;
  choices?: { delta?: { content?: unknown }; finish_reason?: string | null }[];
}

const failure = (what: string, err: unknown) =>
  err instanceof ChatError
    ? err
    : new ChatError(`${what}: ${err instanceof Error ? err.message : String(err)}`, workersAiStatus(err), { cause: err });

/**
 * Chat from Workers AI through the AI binding, streamed: the binding answers with the bytes of an
 * event stream (`data: {"response":"…"}` events, usage in the last one, then `data: [DONE]`).
 * Aborting the signal cancels that stream, which stops the generation. Errors carry the HTTP
 * status Cloudflare documents for the binding's code (3040 out of capacity: 429), so the
 * fallback and the circuit breaker treat them as they treat the openai provider's.
 */
export function workersAiChat(options: WorkersAiChatOptions): ChatModel {
  const { ai, gateway } = options;
  return {
    provider: "workers-ai",
    async *stream(request, signal) {
      let body: ReadableStream<Uint8Array>;
      try {
        const input = {
          messages: request.messages,
          max_tokens: request.maxTokens,
          temperature: request.temperature,
          stream: true as const,
        };
        body = await untilAborted(ai.run(request.model as InstructModel, input, { gateway, signal }), signal);
      } catch (err) {
        throw failure("chat provider call failed", err);
      }
      const finish: ChatFinish = { finishReason: "stop" };
      let ended = false;
      let reason: string | null | undefined;
      try {
        for await (const data of sseData(body, signal)) {
          if (data === "[DONE]") {
            ended = true;
            break;
          }
          const event = JSON.parse(data) as StreamEvent;
          const choice = event.choices?.[0];
          const text = typeof event.response === "string" ? event.response : choice?.delta?.content;
          if (typeof text === "string" && text) yield text;
          reason ??= event.finish_reason ?? choice?.finish_reason;
          if (event.usage?.prompt_tokens !== undefined && event.usage.completion_tokens !== undefined)
            finish.usage = { promptTokens: event.usage.prompt_tokens, completionTokens: event.usage.completion_tokens };
        }
      } catch (err) {
        throw failure("chat provider stream failed", err);
      }
      // A body that stops without [DONE] was cut off: the answer is incomplete, not finished.
      if (!ended && !reason) throw new ChatError("chat provider stream ended before [DONE]");
      // Workers AI's own events name no finish reason: a completion as long as allowed was cut at max_tokens.
      if (reason ? reason === "length" : (finish.usage?.completionTokens ?? 0) >= request.maxTokens) finish.finishReason = "length";
      return finish;
    },
    async complete(messages, { model, maxTokens, signal }) {
      let output: AiModels[InstructModel]["postProcessedOutputs"];
      try {
        output = await withinDeadline(options.timeoutMs, signal, (s) =>
          ai.run(model as InstructModel, { messages, max_tokens: maxTokens, temperature: 0 }, { gateway, signal: s }),
        );
      } catch (err) {
        throw failure("chat provider call failed", err);
      }
      const text = (typeof output === "string" ? output : "response" in output ? output.response : undefined)?.trim();
      if (!text) throw new ChatError("chat provider returned an empty completion");
      return text;
    },
  };
}
