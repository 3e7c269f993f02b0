import { z } from "zod";
import { count, isoTime } from "./rag-schemas.ts";

// Response bodies of /api/admin/embeddings (src/routes/admin-embeddings.ts).

const embeddingModel = z
  .object({
    provider: z.enum(["local", "openai", "workers-ai"]),
    model: z.string().meta({ example: "@cf/baai/bge-base-en-v1.5" }),
    dimensions: z.int().min(1),
  })
  .meta({ id: "EmbeddingModel" });

export const reembedJob = z
  .object({
    id: z.uuid(),
    status: z.enum(["queued", "running", "switched", "succeeded", "failed"]).meta({
      description:
        "`running`: filling the new model's vectors (searches use the old model); `switched`: searches use the new model, the old vectors are being dropped",
    }),
    from: embeddingModel,
    to: embeddingModel,
    progress: z.object({
      chunks_total: count,
      chunks_embedded: count.meta({ description: "Chunks with a vector under the new model" }),
      old_vectors_dropped: count,
    }),
    errors: z.array(z.object({ where: z.string(), detail: z.string() })).meta({ description: "Why a failed job failed" }),
    created_at: isoTime,
    started_at: isoTime.nullable(),
    switched_at: isoTime.nullable(),
    finished_at: isoTime.nullable(),
  })
  .meta({ id: "ReembedJob" });

export const embeddingsView = z
  .object({
    tenant: z.string(),
    search_model: embeddingModel.meta({ description: "The model the tenant's chunks are searched with" }),
    configured_model: embeddingModel.meta({ description: "EMBEDDING_PROVIDER, EMBEDDING_MODEL, EMBEDDING_DIMENSIONS" }),
    reembed_needed: z.boolean().meta({ description: "The tenant searches with another model than the configured one" }),
    jobs: z.array(reembedJob).meta({ description: "The latest 10 jobs, newest first" }),
  })
  .meta({ id: "EmbeddingsView" });
