import { DurableObject } from "cloudflare:workers";
import { cachedEmbedder } from "../cache/cached-embedder.ts";
import type { Config } from "../config.ts";
import { createSql, type Sql } from "../db/client.ts";
import { postgresEmbeddingStore } from "../db/postgres.ts";
import { counters } from "../observability/counters.ts";
import { flushMetrics } from "../observability/flush.ts";
import { type Embedder, EmbeddingError } from "../providers/embedder.ts";
import { createEmbedder } from "../providers/index.ts";

/** What the batcher needs of the caller's Config: the provider, and how to batch. */
export interface BatcherSettings {
  /** The tenant the object's name holds: its vectors are cached under it. */
  tenantId: string;
  config: Pick<Config, "embedding" | "openai" | "workersAi" | "durable">;
}

/** The provider the settings name. */
function embedderFor(settings: BatcherSettings, env: Env): Embedder {
  return createEmbedder(settings.config, env);
}

/** A provider failure is an answer (the caller must not retry it directly); anything thrown is the object's failure. */
export type BatchResult = { vectors: Float32Array[] } | { error: string };

interface Waiting {
  texts: string[];
  settings: BatcherSettings;
  resolve: (result: BatchResult) => void;
}

/** OpenAI accepts at most 2,048 inputs per embeddings call. */
const MAX_INPUTS_PER_CALL = 2048;
/** With this many batches already at the provider, new requests are refused at once: their callers embed directly instead of queueing behind a stuck provider. */
const MAX_WAITING_BATCHES = 16;

/**
 * Collects the embedding requests of one tenant and model that arrive within a short window (or
 * until enough are waiting) and sends them to the provider as one call: identical texts are
 * embedded once, vectors already in the persistent embedding cache are not asked for again, and
 * every caller gets exactly its own vectors, in order. Nothing here has to survive eviction: the
 * callers wait in memory, and if the object goes away their calls fail and they embed directly.
 */
export class EmbeddingBatcher extends DurableObject<Env> {
  private waiting: Waiting[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private inFlight = 0;
  private client: Sql | undefined;

  embed(texts: string[], settings: BatcherSettings): Promise<BatchResult> {
    if (this.inFlight >= MAX_WAITING_BATCHES) throw new Error("embedding batcher overloaded");
    // A provider this object cannot build (a binding it lacks) is its failure, not the provider's
    // answer: thrown here, the caller embeds directly and says why.
    embedderFor(settings, this.env);
    const { batchWindowMs, batchMaxRequests } = settings.config.durable;
    return new Promise((resolve) => {
      this.waiting.push({ texts, settings, resolve });
      if (this.waiting.length >= batchMaxRequests) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), batchWindowMs);
    });
  }

  private flush() {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.waiting.splice(0);
    if (batch.length === 0) return;
    this.inFlight++;
    void this.send(batch).finally(() => {
      this.inFlight--;
      void flushMetrics(this.env);
    });
  }

  private async send(batch: Waiting[]) {
    // Callers of one object share model and endpoint (the name says so); the first one's settings speak for all.
    const embedder = cachedEmbedder(
      chunked(embedderFor(batch[0]!.settings, this.env)),
      postgresEmbeddingStore(() => this.sql(), batch[0]!.settings.tenantId),
    );
    const unique = [...new Set(batch.flatMap((w) => w.texts))];
    counters.inc("rag_embedding_batches_total");
    counters.inc("rag_embedding_batch_requests_total", {}, batch.length);
    counters.inc("rag_embedding_batch_texts_total", {}, unique.length);
    try {
      const vectors = await embedder.embed(unique);
      const byText = new Map(unique.map((t, i) => [t, vectors[i]!]));
      for (const w of batch) w.resolve({ vectors: w.texts.map((t) => byText.get(t)!) });
    } catch (err) {
      const error = err instanceof EmbeddingError ? err.message : `embedding failed: ${String(err).slice(0, 300)}`;
      for (const w of batch) w.resolve({ error });
    }
  }

  /** One client for the object's life: batches are frequent, and workerd closes it on eviction. */
  private sql(): Sql {
    if (!this.client) {
      this.client = createSql(this.env.HYPERDRIVE);
      counters.inc("rag_db_clients_total");
    }
    return this.client;
  }
}

/** Splits a large batch into provider calls of at most MAX_INPUTS_PER_CALL texts. */
function chunked(embedder: Embedder): Embedder {
  return {
    ...embedder,
    async embed(texts, signal) {
      const out: Float32Array[] = [];
      for (let i = 0; i < texts.length; i += MAX_INPUTS_PER_CALL)
        out.push(...(await embedder.embed(texts.slice(i, i + MAX_INPUTS_PER_CALL), signal)));
      return out;
    },
  };
}
