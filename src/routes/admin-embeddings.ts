import { Hono } from "hono";
import { z } from "zod";
import type { AppEnv } from "../app-env.ts";
import { tenantEmbeddingModel } from "../db/embedding-models.ts";
import { getReembedJob, insertReembedJob, listReembedJobs, type ReembedJob } from "../db/reembed-jobs.ts";
import { ApiError, notFound } from "../errors.ts";
import { readJson } from "../http/read-json.ts";
import { parseBody } from "../http/validate.ts";
import { actingTenant } from "../middleware/auth.ts";
import { configuredModel } from "../reembed/embedders.ts";
import type { ReembedQueueJob } from "../reembed/job.ts";

/** Query of the /api/admin/embeddings routes: an operator may name another tenant. */
export const embeddingsQuery = z.strictObject({
  tenant: z.string().min(1).max(63).optional().meta({ description: "Default: the key's own tenant (another one needs an operator key)" }),
});
/** Body of POST /api/admin/embeddings/reembed: empty; the target is always the configured model (EMBEDDING_*). */
export const reembedBody = z.strictObject({});
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const model = (m: { provider: string; model: string; dimensions: number }) => ({
  provider: m.provider,
  model: m.model,
  dimensions: m.dimensions,
});

/** A job as the API shows it. */
export function jobBody(job: ReembedJob) {
  return {
    id: job.id,
    status: job.status,
    from: model(job.from),
    to: model(job.to),
    progress: { chunks_total: job.chunksTotal, chunks_embedded: job.chunksDone, old_vectors_dropped: job.vectorsDropped },
    errors: job.errors,
    created_at: job.createdAt.toISOString(),
    started_at: job.startedAt?.toISOString() ?? null,
    switched_at: job.switchedAt?.toISOString() ?? null,
    finished_at: job.finishedAt?.toISOString() ?? null,
  };
}

/**
 * /api/admin/embeddings (admin or operator): the model a tenant's chunks are searched with, the
 * configured one, and the jobs that move the tenant from one to the other (src/reembed).
 */
export const adminEmbeddingRoutes = new Hono<AppEnv>()
  .get("/", async (c) => {
    const query = parseBody(embeddingsQuery, c.req.query(), "query string");
    const tenant = actingTenant(c.var.auth, query.tenant);
    const sql = c.var.sql();
    const stored = await tenantEmbeddingModel(sql, tenant);
    const configured = configuredModel(c.var.config);
    const jobs = await listReembedJobs(sql, tenant, 10);
    return c.json({
      tenant,
      search_model: stored ? model(stored) : configured,
      configured_model: configured,
      // The tenant searches with another model than the configured one until a job moves it.
      reembed_needed: stored !== undefined && stored.model !== configured.model,
      jobs: jobs.map(jobBody),
    });
  })
  .post("/reembed", async (c) => {
    const query = parseBody(embeddingsQuery, c.req.query(), "query string");
    const tenant = actingTenant(c.var.auth, query.tenant);
    // No body is needed; one that is sent must be an empty JSON object (bodies are strict).
    if (c.req.raw.body) parseBody(reembedBody, await readJson(c, 1024), "re-embedding request");
    const sql = c.var.sql();
    const from = await tenantEmbeddingModel(sql, tenant);
    const to = configuredModel(c.var.config);
    if (!from) {
      throw new ApiError(
        409,
        "nothing-to-reembed",
        `tenant '${tenant}' has stored no chunks yet; its first ones will be embedded with ${to.model}`,
      );
    }
    if (from.model === to.model) {
      throw new ApiError(
        409,
        "model-in-use",
        `tenant '${tenant}' already searches with ${to.model}; set EMBEDDING_PROVIDER, EMBEDDING_MODEL and EMBEDDING_DIMENSIONS to the model to move to`,
      );
    }
    const job = await insertReembedJob(sql, tenant, crypto.randomUUID(), from, to);
    if (!job) {
      const [running] = await listReembedJobs(sql, tenant, 1);
      throw new ApiError(409, "reembed-running", `tenant '${tenant}' already has an unfinished re-embedding job (${running?.id ?? "?"})`);
    }
    await c.env.IMPORT_QUEUE.send({ kind: "reembed", tenantId: tenant, id: job.id } satisfies ReembedQueueJob);
    const location = `/api/admin/embeddings/jobs/${job.id}${query.tenant ? `?tenant=${encodeURIComponent(tenant)}` : ""}`;
    return c.json(jobBody(job), 202, { location });
  })
  .get("/jobs/:id", async (c) => {
    const query = parseBody(embeddingsQuery, c.req.query(), "query string");
    const tenant = actingTenant(c.var.auth, query.tenant);
    const id = c.req.param("id");
    const job = UUID.test(id) ? await getReembedJob(c.var.sql(), tenant, id) : undefined;
    if (!job) throw notFound(`re-embedding job '${id.slice(0, 64)}' does not exist`);
    return c.json(jobBody(job));
  });
