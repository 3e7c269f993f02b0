import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { RecordedCall } from "../../scripts/lib/fake-openai";
import { createSql } from "../../src/db/client";
import { getReembedJob, switchEmbeddingModel } from "../../src/db/reembed-jobs";
import { semanticQuery } from "../../src/db/search";
import { giveUpReembed, type ReembedQueueJob, runReembedStep, type StepOutcome } from "../../src/reembed/job";
import { ADMIN_KEY, conversation, directSql, newTenantKey, uid } from "./support/api";
import { callWith } from "./support/sse";
import { waitFor } from "./support/wait";

// Moving a tenant to another embedding model (src/reembed). The queue is replaced by a recorder and
// the steps are run by the test, one at a time: each test decides what happens between two steps.

const sql = directSql();
const NEW_MODEL = "text-embedding-3-small";

/** Variables that configure the OpenAI-compatible embedder at 768 dimensions, on a fake server of its own. */
function target(extra: Record<string, string> = {}) {
  const base = `${env.FAKE_OPENAI_URL}/${crypto.randomUUID()}`;
  return {
    base,
    vars: {
      EMBEDDING_PROVIDER: "openai",
      OPENAI_BASE_URL: `${base}/v1`,
      OPENAI_API_KEY: "sk-test",
      EMBEDDING_MODEL: NEW_MODEL,
      EMBEDDING_DIMENSIONS: "768",
      EMBEDDING_BATCHING: "false",
      REEMBED_STEP_CHUNKS: "4",
      REEMBED_GRACE_SECONDS: "0",
      CACHE_ENABLED: "false",
      ...extra,
    },
    calls: async () => (await (await fetch(`${base}/_calls`)).json()) as RecordedCall[],
    failAfter: (n: number) => fetch(`${base}/_control`, { method: "POST", body: JSON.stringify({ failAfter: n, failStatus: 500 }) }),
  };
}

/** A queue that records what is sent to it. */
function recordingQueue() {
  const sent: { body: ReembedQueueJob; options?: QueueSendOptions }[] = [];
  const queue = {
    send: async (body: ReembedQueueJob, options?: QueueSendOptions) => {
      sent.push({ body, ...(options ? { options } : {}) });
    },
    sendBatch: async () => {},
  };
  return { sent, bindings: { IMPORT_QUEUE: queue } };
}

/** A tenant with a user key, an admin key and `conversations` conversations ingested with the local embedder. */
async function tenantWithChunks(conversations: number) {
  const { tenant, key } = await newTenantKey("reembed");
  const admin = await callWith({}, "POST", "/api/admin/keys", { tenant, role: "admin" }, ADMIN_KEY);
  const adminKey = ((await admin.res.json()) as { key: string }).key;
  for (let i = 0; i < conversations; i++) {
    const { res } = await callWith({}, "POST", "/api/conversations", conversation(uid("c"), 40), key);
    expect(res.status).toBe(201);
  }
  return { tenant, key, adminKey };
}

async function json<T>(call: Promise<{ res: Response }>): Promise<{ status: number; body: T; headers: Headers }> {
  const { res } = await call;
  return { status: res.status, body: (await res.json()) as T, headers: res.headers };
}

const vectorsByModel = async (tenant: string) =>
  Object.fromEntries(
    (
      await sql<{ model: string; n: number; dims: number }[]>`
        SELECT model, count(*)::int AS n, max(vector_dims(embedding))::int AS dims FROM chunk_vectors WHERE tenant_id = ${tenant} GROUP BY model`
    ).map((r) => [r.model, { n: r.n, dims: r.dims }]),
  );
const chunkCount = async (tenant: string) =>
  (await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM conversation_chunks WHERE tenant_id = ${tenant}`)[0]!.n;

/** Runs steps until the job is done (at most `max`), as the queue consumer would; returns their outcomes. */
async function drive(vars: Record<string, string>, job: ReembedQueueJob, max = 100): Promise<StepOutcome[]> {
  const stepEnv = { ...env, ...vars } as Env;
  const outcomes: StepOutcome[] = [];
  for (let i = 0; i < max; i++) {
    const outcome = await runReembedStep(stepEnv, job);
    outcomes.push(outcome);
    if (outcome === "done") break;
  }
  return outcomes;
}

interface EmbeddingsView {
  search_model: { provider: string; model: string; dimensions: number };
  configured_model: { model: string };
  reembed_needed: boolean;
  jobs: { id: string; status: string; progress: { chunks_total: number; chunks_embedded: number; old_vectors_dropped: number } }[];
}

describe("changing a tenant's embedding model", () => {
  it("keeps serving with the old model while the new vectors are filled, switches once all exist, then drops the old ones", async () => {
    const { tenant, key, adminKey } = await tenantWithChunks(3);
    const other = await tenantWithChunks(1);
    const t = target();
    const queue = recordingQueue();
    const chunksBefore = await chunkCount(tenant);
    expect(chunksBefore).toBeGreaterThan(8); // more than two steps of 4

    // The configuration names the new model: nothing answers 503, searches keep the stored model.
    const view = await json<EmbeddingsView>(callWith(t.vars, "GET", "/api/admin/embeddings", undefined, adminKey));
    expect(view.body).toMatchObject({
      search_model: { provider: "local", model: "local-hash-v1", dimensions: 384 },
      configured_model: { model: NEW_MODEL },
      reembed_needed: true,
    });
    const before = await json<{ chunks: unknown[] }>(
      callWith(t.vars, "POST", "/api/rag/retrieve", { query: "launch timeline", strategies: ["semantic"] }, key),
    );
    expect(before.status).toBe(200);
    expect(before.body.chunks.length).toBeGreaterThan(0);
    expect(await t.calls()).toEqual([]); // the question was embedded by the local model

    const started = await json<{ id: string; status: string }>(
      callWith(t.vars, "POST", "/api/admin/embeddings/reembed", undefined, adminKey, queue.bindings),
    );
    expect(started.status).toBe(202);
    expect(started.body.status).toBe("queued");
    expect(started.headers.get("location")).toBe(`/api/admin/embeddings/jobs/${started.body.id}`);
    const job: ReembedQueueJob = { kind: "reembed", tenantId: tenant, id: started.body.id };
    expect(queue.sent).toEqual([{ body: job }]);
    const again = await callWith(t.vars, "POST", "/api/admin/embeddings/reembed", undefined, adminKey, queue.bindings);
    expect(again.res.status).toBe(409);
    expect(((await again.res.json()) as { type: string }).type).toMatch(/reembed-running$/);

    // One step fills four chunks; the tenant still searches with the old model.
    expect(await drive(t.vars, job, 1)).toEqual(["continue"]);
    expect(await vectorsByModel(tenant)).toEqual({ "local-hash-v1": { n: chunksBefore, dims: 384 }, [NEW_MODEL]: { n: 4, dims: 768 } });
    const during = await json<EmbeddingsView>(callWith(t.vars, "GET", "/api/admin/embeddings", undefined, adminKey));
    expect(during.body.search_model.model).toBe("local-hash-v1");
    expect(during.body.jobs[0]).toMatchObject({ status: "running", progress: { chunks_total: chunksBefore, chunks_embedded: 4 } });

    // An ingest meanwhile writes vectors for both models, so the job never has to chase it.
    const late = conversation(uid("late"), 40);
    expect((await callWith(t.vars, "POST", "/api/conversations", late, key)).res.status).toBe(201);
    const [lateVectors] = await sql<{ local: number; next: number; chunks: number }[]>`
      SELECT count(*) FILTER (WHERE v.model = 'local-hash-v1')::int AS local, count(*) FILTER (WHERE v.model = ${NEW_MODEL})::int AS next,
        count(DISTINCT c.id)::int AS chunks
      FROM conversation_chunks c JOIN chunk_vectors v ON v.chunk_id = c.id WHERE c.tenant_id = ${tenant} AND c.conversation_id = ${late.id}`;
    expect(lateVectors!.local).toBe(lateVectors!.chunks);
    expect(lateVectors!.next).toBe(lateVectors!.chunks);

    const outcomes = await drive(t.vars, job);
    expect(outcomes.at(-1)).toBe("done");
    const chunksAfter = await chunkCount(tenant);
    expect(await vectorsByModel(tenant)).toEqual({ [NEW_MODEL]: { n: chunksAfter, dims: 768 } });
    const done = await json<EmbeddingsView["jobs"][number]>(
      callWith(t.vars, "GET", `/api/admin/embeddings/jobs/${job.id}`, undefined, adminKey),
    );
    expect(done.body).toMatchObject({
      status: "succeeded",
      progress: { chunks_total: chunksAfter, chunks_embedded: chunksAfter, old_vectors_dropped: chunksAfter },
    });
    const after = await json<EmbeddingsView>(callWith(t.vars, "GET", "/api/admin/embeddings", undefined, adminKey));
    expect(after.body).toMatchObject({ search_model: { provider: "openai", model: NEW_MODEL, dimensions: 768 }, reembed_needed: false });

    // Searches now embed the question with the new model and find the new vectors.
    const callsBefore = (await t.calls()).length;
    const now = await json<{ chunks: unknown[] }>(
      callWith(t.vars, "POST", "/api/rag/retrieve", { query: "launch timeline", strategies: ["semantic"] }, key),
    );
    expect(now.body.chunks.length).toBeGreaterThan(0);
    const calls = (await t.calls()).slice(callsBefore);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.body).toMatchObject({ input: ["launch timeline"], dimensions: 768 });

    // Back on the local embedder with no OpenAI settings, the tenant (not moved back) gets a
    // problem naming what its model needs, not an obscure failure.
    const unconfigured = await callWith({}, "POST", "/api/rag/retrieve", { query: "launch timeline" }, key);
    expect(unconfigured.res.status).toBe(500);
    expect(await unconfigured.res.json()).toMatchObject({
      type: expect.stringMatching(/misconfigured$/),
      detail: expect.stringMatching(/embedded with text-embedding-3-small \(openai\), which needs OPENAI_API_KEY/),
    });

    // The other tenant was not touched.
    const untouched = await json<EmbeddingsView>(
      callWith(t.vars, "GET", `/api/admin/embeddings?tenant=${other.tenant}`, undefined, ADMIN_KEY),
    );
    expect(untouched.body.search_model.model).toBe("local-hash-v1");
    expect(Object.keys(await vectorsByModel(other.tenant))).toEqual(["local-hash-v1"]);
  });

  it("can search 768-dimension vectors through their own HNSW index", async () => {
    const db = createSql(env.HYPERDRIVE);
    const vector = Float32Array.from({ length: 768 }, (_, i) => (i === 0 ? 1 : 0));
    // The test data holds few such vectors, so the planner would rightly scan and sort them; with
    // both priced out, a plan through the index shows that the statement matches the partial index.
    const rows = await db.begin(async (tx) => {
      await tx`SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true), set_config('enable_seqscan', 'off', true),
        set_config('enable_sort', 'off', true)`;
      return tx`EXPLAIN ${semanticQuery(tx, { tenantId: "dev" }, { model: NEW_MODEL, vector }, 10)}`;
    });
    const plan = (rows as unknown as Record<string, string>[]).map((r) => Object.values(r)[0]).join("\n");
    expect(plan).toMatch(/chunk_vectors_hnsw_768/);
    await db.end();
  });

  it("does not switch while a chunk lacks a new vector, and a failed job leaves the tenant on its model for a new job to finish", async () => {
    const { tenant, adminKey } = await tenantWithChunks(2);
    const broken = target();
    const queue = recordingQueue();
    const started = await json<{ id: string }>(
      callWith(broken.vars, "POST", "/api/admin/embeddings/reembed", undefined, adminKey, queue.bindings),
    );
    const job: ReembedQueueJob = { kind: "reembed", tenantId: tenant, id: started.body.id };
    expect(await drive(broken.vars, job, 1)).toEqual(["continue"]);

    const db = createSql(env.HYPERDRIVE);
    const row = await getReembedJob(db, tenant, job.id);
    expect(await switchEmbeddingModel(db, tenant, row!)).toBe(false);
    await db.end();

    // The provider fails; the queue would retry the step and finally give up.
    await broken.failAfter(0);
    await expect(drive(broken.vars, job, 1)).rejects.toThrow();
    await giveUpReembed({ ...env, ...broken.vars } as Env, job, new Error("provider down"));
    const failed = await json<EmbeddingsView>(callWith(broken.vars, "GET", "/api/admin/embeddings", undefined, adminKey));
    expect(failed.body.search_model.model).toBe("local-hash-v1");
    expect(failed.body.jobs[0]).toMatchObject({ status: "failed", progress: { chunks_embedded: 4 } });

    // A new job starts from the vectors already filled: it embeds only the rest.
    const fixed = target();
    const resumed = await json<{ id: string }>(
      callWith(fixed.vars, "POST", "/api/admin/embeddings/reembed", undefined, adminKey, queue.bindings),
    );
    expect(resumed.status).toBe(202);
    expect((await drive(fixed.vars, { kind: "reembed", tenantId: tenant, id: resumed.body.id })).at(-1)).toBe("done");
    const total = await chunkCount(tenant);
    const embedded = (await fixed.calls()).reduce((n, c) => n + [c.body.input ?? []].flat().length, 0);
    expect(embedded).toBeLessThanOrEqual(total - 4);
    expect(await vectorsByModel(tenant)).toEqual({ [NEW_MODEL]: { n: total, dims: 768 } });
  });

  it("makes the tenant's cached answers and retrievals unreachable when it switches, and no other tenant's", async () => {
    const { tenant, key, adminKey } = await tenantWithChunks(2);
    const other = await tenantWithChunks(1);
    const t = target({ CACHE_ENABLED: "true" });
    const queue = recordingQueue();
    const ask = { query: "What is the launch timeline?", stream: false };
    const retrieve = { query: "launch timeline" };
    const xCache = async (path: string, body: unknown, as = key) => {
      const { res, settled } = await callWith(t.vars, "POST", path, body, as);
      expect(res.status).toBe(200);
      await res.arrayBuffer();
      await settled();
      return res.headers.get("x-cache");
    };
    for (const [path, body] of [
      ["/api/rag/ask", ask],
      ["/api/rag/retrieve", retrieve],
    ] as const) {
      expect(await xCache(path, body)).toBe("MISS");
      expect(await xCache(path, body)).toBe("HIT-L1");
      expect(await xCache(path, body, other.key)).toBe("MISS");
    }

    const started = await json<{ id: string }>(
      callWith(t.vars, "POST", "/api/admin/embeddings/reembed", undefined, adminKey, queue.bindings),
    );
    expect((await drive(t.vars, { kind: "reembed", tenantId: tenant, id: started.body.id })).at(-1)).toBe("done");
    // Nothing found with the old model is served as the new one's; the other tenant keeps its entries.
    expect(await xCache("/api/rag/ask", ask)).toBe("MISS");
    expect(await xCache("/api/rag/retrieve", retrieve)).toBe("MISS");
    expect((await t.calls()).some((c) => c.path.endsWith("/embeddings") && [c.body.input].flat().includes("launch timeline"))).toBe(true);
    expect(await xCache("/api/rag/ask", ask, other.key)).toBe("HIT-L1");
    expect(await xCache("/api/rag/retrieve", retrieve, other.key)).toBe("HIT-L1");
  });

  it("refuses what it cannot do with a problem naming why", async () => {
    const { tenant, adminKey } = await tenantWithChunks(1);
    const t = target();
    const queue = recordingQueue();
    const problem = async (call: Promise<{ res: Response }>) => {
      const { res } = await call;
      return { status: res.status, type: ((await res.json()) as { type: string }).type };
    };
    // Already on the configured model.
    expect(await problem(callWith({}, "POST", "/api/admin/embeddings/reembed", undefined, adminKey, queue.bindings))).toMatchObject({
      status: 409,
      type: expect.stringMatching(/model-in-use$/),
    });
    // A tenant without chunks takes the configured model with its first ones.
    const empty = await newTenantKey("reembed-empty");
    expect(
      await problem(callWith(t.vars, "POST", `/api/admin/embeddings/reembed?tenant=${empty.tenant}`, undefined, ADMIN_KEY, queue.bindings)),
    ).toMatchObject({ status: 409, type: expect.stringMatching(/nothing-to-reembed$/) });
    // An admin acts on its own tenant only; a user key not at all.
    expect(
      (await problem(callWith(t.vars, "POST", `/api/admin/embeddings/reembed?tenant=${empty.tenant}`, undefined, adminKey, queue.bindings)))
        .status,
    ).toBe(403);
    expect((await problem(callWith(t.vars, "GET", "/api/admin/embeddings", undefined, empty.key))).status).toBe(403);
    // Strict bodies and ids.
    expect(
      await problem(callWith(t.vars, "POST", "/api/admin/embeddings/reembed", { model: "x" }, adminKey, queue.bindings)),
    ).toMatchObject({
      status: 400,
    });
    expect((await problem(callWith(t.vars, "GET", `/api/admin/embeddings/jobs/${crypto.randomUUID()}`, undefined, adminKey))).status).toBe(
      404,
    );
    expect(queue.sent).toEqual([]);
    expect(Object.keys(await vectorsByModel(tenant))).toEqual(["local-hash-v1"]);
  });
});

describe("a job through the real queue", () => {
  it("runs its steps on the import queue's consumer until the tenant searches with the configured model", async () => {
    // The tenant's chunks carry another local model's name; the configured one (local-hash-v1)
    // is the target, so the consumer, which has the suite's own variables, can embed it.
    const old = { EMBEDDING_MODEL: "local-hash-v0" };
    const { tenant, key } = await newTenantKey("reembed-queue");
    for (let i = 0; i < 2; i++)
      expect((await callWith(old, "POST", "/api/conversations", conversation(uid("q"), 40), key)).res.status).toBe(201);
    const before = await json<EmbeddingsView>(callWith({}, "GET", `/api/admin/embeddings?tenant=${tenant}`, undefined, ADMIN_KEY));
    expect(before.body).toMatchObject({ search_model: { model: "local-hash-v0" }, reembed_needed: true });

    const started = await json<{ id: string }>(
      callWith({}, "POST", `/api/admin/embeddings/reembed?tenant=${tenant}`, undefined, ADMIN_KEY),
    );
    expect(started.status).toBe(202);
    expect(started.headers.get("location")).toBe(`/api/admin/embeddings/jobs/${started.body.id}?tenant=${tenant}`);
    const status = async () =>
      (
        await json<EmbeddingsView["jobs"][number]>(
          callWith({}, "GET", `/api/admin/embeddings/jobs/${started.body.id}?tenant=${tenant}`, undefined, ADMIN_KEY),
        )
      ).body.status;
    expect(await waitFor(async () => (await status()) === "succeeded", 60_000)).toBe(true);
    const chunks = await chunkCount(tenant);
    expect(await vectorsByModel(tenant)).toEqual({ "local-hash-v1": { n: chunks, dims: 384 } });
    // Fill steps of four chunks, the one that switches, the one that drops: each a queue message.
    const [row] = await sql<
      { steps: number }[]
    >`SELECT steps FROM reembed_jobs WHERE tenant_id = ${tenant} AND id = ${started.body.id}::uuid`;
    expect(chunks).toBeGreaterThan(4);
    expect(row!.steps).toBeGreaterThanOrEqual(Math.ceil(chunks / 4) + 1);
    const after = await json<EmbeddingsView>(callWith({}, "GET", `/api/admin/embeddings?tenant=${tenant}`, undefined, ADMIN_KEY));
    expect(after.body).toMatchObject({ search_model: { model: "local-hash-v1" }, reembed_needed: false });
  });
});
