import { responseCache, searchModelChanged } from "../cache/index.ts";
import { type Config, configFor } from "../config.ts";
import { insertChunkVectors } from "../db/chunks.ts";
import { createSql, type Sql } from "../db/client.ts";
import { postgresEmbeddingStore } from "../db/postgres.ts";
import {
  chunksWithoutVector,
  dropModelVectors,
  finishReembedJob,
  getReembedJob,
  type ReembedJob,
  recordReembedProgress,
  startReembedStep,
  switchEmbeddingModel,
} from "../db/reembed-jobs.ts";
import { sha256Hex } from "../hash.ts";
import { embedInto } from "../ingest/ingest-service.ts";
import { errorText, logLine } from "../log.ts";
import { embedderForModel } from "./embedders.ts";
import { forgetSearchModel } from "./search-model.ts";

// A re-embedding job moves a tenant to another embedding model in bounded steps, each a message
// of the import queue (src/index.ts) like an import's:
// - fill: vectors under the new model for the chunks that have none, REEMBED_STEP_CHUNKS a step,
//   beside the old ones (the tenant keeps searching with the old model; ingests meanwhile write
//   both, src/ingest). A step that fails and runs again finds only what is still missing.
// - switch: once no chunk lacks a new vector, one transaction makes the new model the tenant's
//   (switchEmbeddingModel): searches use it from then on, in every isolate within 10 s, and the
//   tenant's cached answers and retrievals are made unreachable (their keys name no model).
// - drop: after REEMBED_GRACE_SECONDS (isolates that looked the model up just before the switch
//   still search with the old one), the old vectors are deleted, a bounded number a step.

/** The queue message of a re-embedding step. */
export interface ReembedQueueJob {
  kind: "reembed";
  tenantId: string;
  id: string;
}

/** What the queue consumer does next: nothing, the next step now, or the next step later. */
export type StepOutcome = "done" | "continue" | { delaySeconds: number };

/** Old vectors dropped per statement. */
const DROP_BATCH = 2000;

export async function runReembedStep(env: Env, message: ReembedQueueJob): Promise<StepOutcome> {
  const config = configFor(env);
  const sql = createSql(env.HYPERDRIVE);
  try {
    const job = await startReembedStep(sql, message.tenantId, message.id);
    if (!job) return "done";
    if (job.status === "switched") return await dropStep(env, sql, config, message.tenantId, job);
    return await fillStep(env, sql, config, message.tenantId, job);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

async function fillStep(env: Env, sql: Sql, config: Config, tenantId: string, job: ReembedJob): Promise<StepOutcome> {
  const embedder = embedderForModel(config, env, job.to);
  const store = postgresEmbeddingStore(() => sql, tenantId);
  const counts = { computed: 0, cached: 0, provider_calls: 0 };
  let filled = 0;
  while (filled < config.reembed.stepChunks) {
    const chunks = await chunksWithoutVector(sql, tenantId, job.to.model, Math.min(embedder.batchSize, config.reembed.stepChunks - filled));
    if (chunks.length === 0) break;
    const hashed = chunks.map((c) => ({ id: c.id, text: c.text, textHash: sha256Hex(c.text) }));
    await embedInto(store, embedder, hashed, counts);
    // A chunk deleted meanwhile gets no vector and is not looked for again.
    await insertChunkVectors(sql, tenantId, job.to.model, hashed);
    filled += chunks.length;
  }
  await recordReembedProgress(sql, tenantId, job.id, job.to.model);
  logLine("info", { event: "reembed_step", tenant: tenantId, job_id: job.id, chunks: filled, embeddings: counts });
  if (filled >= config.reembed.stepChunks) return "continue";
  if (!(await switchEmbeddingModel(sql, tenantId, job))) return "continue"; // an ingest added chunks meanwhile
  forgetSearchModel(tenantId);
  await cachedAnswersStale(env, config, tenantId, job);
  logLine("info", { event: "embedding_model_switched", tenant: tenantId, job_id: job.id, from: job.from.model, to: job.to.model });
  return config.reembed.graceSeconds > 0 ? { delaySeconds: config.reembed.graceSeconds } : "continue";
}

/**
 * Cached answers and retrievals name no model, so the switch makes the tenant's unreachable; so
 * does the drop, for any an isolate still on the old model (for up to SEARCH_MODEL_TTL_MS after
 * the switch) cached under the new version.
 */
async function cachedAnswersStale(env: Env, config: Config, tenantId: string, job: ReembedJob): Promise<void> {
  const pending: Promise<unknown>[] = [];
  const { versions } = responseCache(env, config, (work) => pending.push(work));
  await searchModelChanged(versions, tenantId, `reembed-${job.id}`);
  await Promise.allSettled(pending);
}

async function dropStep(env: Env, sql: Sql, config: Config, tenantId: string, job: ReembedJob): Promise<StepOutcome> {
  const waitMs = (job.switchedAt?.getTime() ?? 0) + config.reembed.graceSeconds * 1000 - Date.now();
  if (waitMs > 0) return { delaySeconds: Math.ceil(waitMs / 1000) };
  if (job.from.model !== job.to.model) {
    const budget = config.reembed.stepChunks * 4;
    for (let dropped = 0; dropped < budget; ) {
      const n = await dropModelVectors(sql, tenantId, job.id, job.from.model, Math.min(DROP_BATCH, budget - dropped));
      if (n === 0) break;
      dropped += n;
      if (dropped >= budget) return "continue";
    }
  }
  await cachedAnswersStale(env, config, tenantId, job);
  await finishReembedJob(sql, tenantId, job.id, "succeeded");
  logLine("info", { event: "reembed_succeeded", tenant: tenantId, job_id: job.id, model: job.to.model });
  return "done";
}

/** Marks a job failed after its step kept failing; before the switch the tenant keeps its model, and a new job resumes what this one filled. */
export async function giveUpReembed(env: Env, message: ReembedQueueJob, err: unknown): Promise<void> {
  const sql = createSql(env.HYPERDRIVE);
  try {
    const job = await getReembedJob(sql, message.tenantId, message.id);
    const detail =
      job?.status === "switched"
        ? `the tenant searches with ${job.to.model}, but dropping the old vectors kept failing (${errorText(err).slice(0, 200)})`
        : `the job stopped after repeated failures (${errorText(err).slice(0, 200)}); the tenant keeps searching with ${job?.from.model ?? "its model"}, and a new job resumes from the vectors already filled`;
    await finishReembedJob(sql, message.tenantId, message.id, "failed", [{ where: "server", detail }]);
  } finally {
    await sql.end({ timeout: 5 });
  }
}
