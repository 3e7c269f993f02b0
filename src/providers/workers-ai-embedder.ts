import { counters } from "../observability/counters.ts";
import { type Embedder, EmbeddingError } from "./embedder.ts";
import { isTransient, withinDeadline, workersAiStatus } from "./workers-ai-binding.ts";

/** The bge models share one input and output shape; this one names it for the binding's types. */
type BgeModel = "@cf/baai/bge-small-en-v1.5";

export interface WorkersAiEmbedderOptions {
  ai: Ai;
  /** A Workers AI text-embedding model: @cf/baai/bge-small-en-v1.5 (384), bge-base (768), bge-large (1024). */
  model: string;
  dimensions: number;
  /** Texts per binding call. */
  batchSize: number;
  /** Retries of a call that failed for a transient reason (capacity, timeout); embedding again is harmless. */
  maxRetries: number;
  gateway: GatewayOptions | undefined;
  /** Deadline of one binding call. */
  timeoutMs: number;
}

const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * Embeddings from Workers AI through the AI binding, `batchSize` texts a call. The model decides
 * the vectors' size: a response of any other size than `dimensions` is refused, so a model that
 * does not fit the schema fails clearly instead of storing vectors nothing can be compared with.
 */
export function workersAiEmbedder(options: WorkersAiEmbedderOptions): Embedder {
  const { ai, model, dimensions, batchSize, gateway } = options;

  async function call(texts: string[], signal: AbortSignal | undefined): Promise<Float32Array[]> {
    counters.inc("rag_embedding_calls_total", { provider: "workers-ai" });
    let output: AiModels[BgeModel]["postProcessedOutputs"];
    try {
      output = await withinDeadline(options.timeoutMs, signal, (s) => ai.run(model as BgeModel, { text: texts }, { gateway, signal: s }));
    } catch (err) {
      throw new EmbeddingError(`embedding provider call failed: ${errorText(err)}`, { cause: err });
    }
    // Only a queued request (queueRequest, never asked for here) answers with a request id.
    if (!("data" in output) || !Array.isArray(output.data)) {
      const queued = "request_id" in output ? ` (a queued request, id ${output.request_id})` : "";
      throw new EmbeddingError(`embedding provider returned no vectors${queued}`);
    }
    const { data } = output;
    if (data.length !== texts.length)
      throw new EmbeddingError(`embedding provider returned ${data.length} vectors for ${texts.length} texts`);
    const size = data.find((v) => v.length !== dimensions)?.length;
    if (size !== undefined) {
      throw new EmbeddingError(
        `embedding provider returned ${size} dimensions, expected ${dimensions}: set EMBEDDING_DIMENSIONS to ${model}'s size (docs/WORKERS_AI.md)`,
      );
    }
    return data.map((v) => Float32Array.from(v));
  }

  async function withRetries(texts: string[], signal: AbortSignal | undefined): Promise<Float32Array[]> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await call(texts, signal);
      } catch (err) {
        const status = workersAiStatus((err as Error).cause);
        const retry = attempt < options.maxRetries && !signal?.aborted && (err as Error).cause !== undefined && isTransient(status);
        if (!retry) throw err;
        // Capped exponential backoff with full jitter, as the OpenAI SDK does for the openai embedder.
        await new Promise((r) => setTimeout(r, Math.random() * Math.min(8_000, 500 * 2 ** attempt)));
      }
    }
  }

  return {
    model,
    dimensions,
    batchSize,
    async embed(texts, signal) {
      const vectors: Float32Array[] = [];
      for (let i = 0; i < texts.length; i += batchSize) vectors.push(...(await withRetries(texts.slice(i, i + batchSize), signal)));
      return vectors;
    },
  };
}
