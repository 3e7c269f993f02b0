import type { Db, Sql } from "./client.ts";
import type { EmbeddingModel } from "./embedding-models.ts";

// Re-embedding jobs (migrations/0009, src/reembed): every function is bound to one tenant.

export type ReembedStatus = "queued" | "running" | "switched" | "succeeded" | "failed";

export interface ReembedJob {
  id: string;
  status: ReembedStatus;
  from: EmbeddingModel;
  to: EmbeddingModel;
  chunksTotal: number;
  chunksDone: number;
  vectorsDropped: number;
  steps: number;
  errors: { where: string; detail: string }[];
  createdAt: Date;
  startedAt: Date | null;
  switchedAt: Date | null;
  finishedAt: Date | null;
}

interface Row {
  id: string;
  status: ReembedStatus;
  from_provider: string;
  from_model: string;
  from_dimensions: number;
  provider: string;
  model: string;
  dimensions: number;
  chunks_total: number;
  chunks_done: number;
  vectors_dropped: number;
  steps: number;
  errors: { where: string; detail: string }[];
  created_at: string;
  started_at: string | null;
  switched_at: string | null;
  finished_at: string | null;
}

const date = (s: string | null) => (s === null ? null : new Date(s));
const toJob = (r: Row): ReembedJob => ({
  id: r.id,
  status: r.status,
  from: { provider: r.from_provider, model: r.from_model, dimensions: r.from_dimensions },
  to: { provider: r.provider, model: r.model, dimensions: r.dimensions },
  chunksTotal: r.chunks_total,
  chunksDone: r.chunks_done,
  vectorsDropped: r.vectors_dropped,
  steps: r.steps,
  errors: typeof r.errors === "string" ? JSON.parse(r.errors) : r.errors,
  createdAt: new Date(r.created_at),
  startedAt: date(r.started_at),
  switchedAt: date(r.switched_at),
  finishedAt: date(r.finished_at),
});

const COLUMNS = (db: Db) => db`id::text AS id, status, from_provider, from_model, from_dimensions, provider, model, dimensions,
  chunks_total, chunks_done, vectors_dropped, steps, errors, created_at, started_at, switched_at, finished_at`;

/**
 * Queues a job moving the tenant from `from` to `to`; undefined when the tenant already has an
 * unfinished one (the unique index on unfinished jobs decides, so two requests cannot both start one).
 */
export async function insertReembedJob(
  db: Db,
  tenantId: string,
  id: string,
  from: EmbeddingModel,
  to: EmbeddingModel,
): Promise<ReembedJob | undefined> {
  const [row] = await db<Row[]>`
    INSERT INTO reembed_jobs (tenant_id, id, status, from_provider, from_model, from_dimensions, provider, model, dimensions, chunks_total)
    VALUES (${tenantId}, ${id}::uuid, 'queued', ${from.provider}, ${from.model}, ${from.dimensions}, ${to.provider}, ${to.model}, ${to.dimensions},
      (SELECT count(*) FROM conversation_chunks WHERE tenant_id = ${tenantId}))
    ON CONFLICT (tenant_id) WHERE status IN ('queued', 'running', 'switched') DO NOTHING
    RETURNING ${COLUMNS(db)}`;
  return row && toJob(row);
}

export async function getReembedJob(db: Db, tenantId: string, id: string): Promise<ReembedJob | undefined> {
  const [row] = await db<Row[]>`SELECT ${COLUMNS(db)} FROM reembed_jobs WHERE tenant_id = ${tenantId} AND id = ${id}::uuid`;
  return row && toJob(row);
}

/** The tenant's latest jobs, newest first. */
export async function listReembedJobs(db: Db, tenantId: string, limit: number): Promise<ReembedJob[]> {
  const rows = await db<Row[]>`
    SELECT ${COLUMNS(db)} FROM reembed_jobs WHERE tenant_id = ${tenantId} ORDER BY created_at DESC LIMIT ${limit}`;
  return rows.map(toJob);
}

/** Starts a step of an unfinished job: one step more, a sign of life; undefined for a finished one. */
export async function startReembedStep(db: Db, tenantId: string, id: string): Promise<ReembedJob | undefined> {
  const [row] = await db<Row[]>`
    UPDATE reembed_jobs SET steps = steps + 1, heartbeat_at = now(), started_at = coalesce(started_at, now()),
      status = CASE WHEN status = 'queued' THEN 'running' ELSE status END
    WHERE tenant_id = ${tenantId} AND id = ${id}::uuid AND status IN ('queued', 'running', 'switched')
    RETURNING ${COLUMNS(db)}`;
  return row && toJob(row);
}

/** Up to `limit` of the tenant's chunks without a vector under `model` (id and text), in id order. */
export async function chunksWithoutVector(db: Db, tenantId: string, model: string, limit: number): Promise<{ id: string; text: string }[]> {
  return db<{ id: string; text: string }[]>`
    SELECT c.id::text AS id, c.text FROM conversation_chunks c
    WHERE c.tenant_id = ${tenantId}
      AND NOT EXISTS (SELECT 1 FROM chunk_vectors v WHERE v.chunk_id = c.id AND v.model = ${model})
    ORDER BY c.id LIMIT ${limit}`;
}

/** Records a fill step's progress: the tenant's chunks, and those with a vector under the job's model. */
export async function recordReembedProgress(db: Db, tenantId: string, id: string, model: string): Promise<void> {
  await db`
    UPDATE reembed_jobs SET heartbeat_at = now(),
      chunks_total = (SELECT count(*) FROM conversation_chunks WHERE tenant_id = ${tenantId}),
      chunks_done = (SELECT count(*) FROM chunk_vectors WHERE tenant_id = ${tenantId} AND model = ${model})
    WHERE tenant_id = ${tenantId} AND id = ${id}::uuid`;
}

/**
 * Switches the tenant to the job's model if every chunk has a vector under it: in one transaction
 * that locks the tenant's model row, so ingests in flight (which read it FOR SHARE, and write
 * vectors for both models while the job runs) finish first, and those after see the new model.
 * Returns false, switching nothing, while some chunk still lacks a vector.
 */
export async function switchEmbeddingModel(sql: Sql, tenantId: string, job: ReembedJob): Promise<boolean> {
  return sql.begin(async (tx) => {
    await tx`SELECT 1 FROM tenant_embedding_models WHERE tenant_id = ${tenantId} FOR UPDATE`;
    const missing = await chunksWithoutVector(tx, tenantId, job.to.model, 1);
    if (missing.length > 0) return false;
    await tx`
      INSERT INTO tenant_embedding_models (tenant_id, provider, model, dimensions)
      VALUES (${tenantId}, ${job.to.provider}, ${job.to.model}, ${job.to.dimensions})
      ON CONFLICT (tenant_id) DO UPDATE SET provider = excluded.provider, model = excluded.model,
        dimensions = excluded.dimensions, switched_at = now()`;
    await tx`
      UPDATE reembed_jobs SET status = 'switched', switched_at = now(), heartbeat_at = now(),
        chunks_done = (SELECT count(*) FROM chunk_vectors WHERE tenant_id = ${tenantId} AND model = ${job.to.model}),
        chunks_total = (SELECT count(*) FROM conversation_chunks WHERE tenant_id = ${tenantId})
      WHERE tenant_id = ${tenantId} AND id = ${job.id}::uuid`;
    return true;
  }) as Promise<boolean>;
}

/** Drops up to `limit` of the tenant's vectors under `model`; how many it dropped. */
export async function dropModelVectors(db: Db, tenantId: string, jobId: string, model: string, limit: number): Promise<number> {
  const [row] = await db<{ dropped: number }[]>`
    WITH gone AS (
      DELETE FROM chunk_vectors WHERE tenant_id = ${tenantId} AND model = ${model} AND chunk_id IN (
        SELECT chunk_id FROM chunk_vectors WHERE tenant_id = ${tenantId} AND model = ${model} LIMIT ${limit})
      RETURNING 1),
    counted AS (
      UPDATE reembed_jobs SET vectors_dropped = vectors_dropped + (SELECT count(*) FROM gone), heartbeat_at = now()
      WHERE tenant_id = ${tenantId} AND id = ${jobId}::uuid)
    SELECT count(*)::int AS dropped FROM gone`;
  return row!.dropped;
}

/** Ends a job: succeeded once the old vectors are gone, or failed with its errors (the tenant keeps searching with the model it had). */
export async function finishReembedJob(
  db: Db,
  tenantId: string,
  id: string,
  status: "succeeded" | "failed",
  errors: { where: string; detail: string }[] = [],
): Promise<void> {
  await db`
    UPDATE reembed_jobs SET status = ${status}, finished_at = now(), heartbeat_at = now(), errors = errors || ${JSON.stringify(errors)}::jsonb
    WHERE tenant_id = ${tenantId} AND id = ${id}::uuid AND status IN ('queued', 'running', 'switched')`;
}
