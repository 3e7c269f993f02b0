import { env } from "cloudflare:test";
import { Index } from "@upstash/vector/cloudflare";
import { beforeAll, describe, expect, it } from "vitest";
import type { VectorRequest } from "../../scripts/lib/upstash-vector-server";
import { upstashVectorStore } from "../../src/answer-cache/upstash-vector-store";
import { semanticNamespace, versionTag } from "../../src/cache/upstash-vector-index";
import { counters } from "../../src/observability/counters";
import { ADMIN_KEY, directSql, newTenantKey, uid } from "./support/api";
import { launchConversation } from "./support/fixtures";
import { callWith } from "./support/sse";

// The semantic answer cache on Upstash Vector (SEMANTIC_CACHE_STORE=upstash-vector), against a
// local server that speaks Upstash Vector's REST protocol over PGlite + pgvector
// (scripts/lib/upstash-vector-server.ts); the tests count the commands that reach it.

const TOKEN = "test-upstash-vector-token";
const vars = {
  EMBEDDING_PROVIDER: "local",
  EMBEDDING_MODEL: "local-hash-v1",
  SEMANTIC_CACHE_THRESHOLD: "0.85",
  SEMANTIC_CACHE_STORE: "upstash-vector",
  UPSTASH_VECTOR_REST_URL: env.UPSTASH_VECTOR_TEST_URL,
  UPSTASH_VECTOR_REST_TOKEN: TOKEN,
};
const index = new Index({ url: env.UPSTASH_VECTOR_TEST_URL, token: TOKEN, retry: false, enableTelemetry: false });
const requests = async () => (await (await fetch(`${env.UPSTASH_VECTOR_TEST_URL}/_requests`)).json()) as VectorRequest[];
/** The commands the server runs during `work`. */
async function sentDuring(work: () => Promise<unknown>): Promise<VectorRequest[]> {
  const before = (await requests()).length;
  await work();
  return (await requests()).slice(before);
}
/** Everything stored in a namespace, with metadata. */
async function stored(namespace: string) {
  const page = await index.namespace(namespace).range({ cursor: 0, limit: 1000, includeMetadata: true });
  return page.vectors as { id: string; metadata?: { question: string; deps: string[] } }[];
}

let tenant: { key: string; tenant: string };
const release = uid("release");
const other = uid("other");

async function ask(body: Record<string, unknown>, options: { key?: string; extra?: Record<string, string> } = {}) {
  const { res, settled } = await callWith(
    { ...vars, ...options.extra },
    "POST",
    "/api/rag/ask",
    { conversation_id: release, stream: false, ...body },
    options.key ?? tenant.key,
  );
  const json = (await res.json()) as { answer: string; query: { text: string; matched_question?: string } };
  await settled();
  return { status: res.status, cache: res.headers.get("x-cache"), json };
}

async function ingest(id: string, extra: { id: string; text: string }[] = []) {
  const conv = launchConversation(id);
  conv.messages.push(...extra.map((m) => ({ ...m, author_name: "Priya", author_type: "human", timestamp: "2025-05-14T09:00:00Z" })));
  const { res, settled } = await callWith(vars, "POST", "/api/conversations", conv, tenant.key);
  expect([200, 201]).toContain(res.status);
  await settled();
}

beforeAll(async () => {
  tenant = await newTenantKey("vector");
  await ingest(release);
  await ingest(other);
});

describe("semantic answer cache on Upstash Vector", () => {
  it("answers a paraphrase from the tenant's namespace, reading only the accepted answer, and nothing from Postgres", async () => {
    const ns = semanticNamespace(tenant.tenant);
    const write = await sentDuring(() => ask({ query: "Why was the staging deploy rolled back?" }));
    expect(write.map((r) => [r.command, r.namespace])).toEqual([
      ["query", ns],
      ["upsert", ns],
      ["query", ns], // the scope's trim
    ]);
    let hit: Awaited<ReturnType<typeof ask>> | undefined;
    const read = await sentDuring(async () => (hit = await ask({ query: "Why did the staging deploy get rolled back?" })));
    expect(hit!.cache).toBe("HIT-SEMANTIC");
    expect(hit!.json.query).toMatchObject({
      text: "Why did the staging deploy get rolled back?",
      matched_question: "Why was the staging deploy rolled back?",
    });
    expect(read.map((r) => [r.command, r.namespace])).toEqual([
      ["query", ns],
      ["fetch", ns],
    ]);
    expect(read[0]!.filter).toMatch(/^scope = '[0-9a-f]{64}' AND model = 'local-hash-v1' AND expires > \d+$/);
    const sql = directSql();
    try {
      expect((await sql`SELECT count(*)::int AS n FROM semantic_cache WHERE tenant_id = ${tenant.tenant}`)[0]!.n).toBe(0);
    } finally {
      await sql.end();
    }
  });

  it("never gives one tenant's entry to another: each asks only its own namespace", async () => {
    const scope = { max_context_tokens: 700 };
    await ask({ query: "Why was the staging deploy rolled back?", ...scope });
    const stranger = await newTenantKey("vector-other");
    let missed: Awaited<ReturnType<typeof ask>> | undefined;
    const sent = await sentDuring(
      async () => (missed = await ask({ query: "Why did the staging deploy get rolled back?", ...scope }, { key: stranger.key })),
    );
    expect(missed!.cache).toBe("MISS");
    expect(semanticNamespace(stranger.tenant)).not.toBe(semanticNamespace(tenant.tenant));
    expect(new Set(sent.map((r) => r.namespace))).toEqual(new Set([semanticNamespace(stranger.tenant)]));
    // The owner still gets it.
    expect((await ask({ query: "Why did the staging deploy get rolled back?", ...scope })).cache).toBe("HIT-SEMANTIC");
  });

  it("keeps the semantic guards: a close question naming someone else is not served", async () => {
    const topic = "the release checklist, the changelog and the maintenance window";
    await ask({ query: `What did John say about ${topic}?` });
    const before = counters.get("rag_semantic_guard_rejections_total", { reason: "names" });
    const other = await ask({ query: `What did Priya say about ${topic}?` });
    expect(other.cache).toBe("MISS");
    expect(other.json.query.text).toBe(`What did Priya say about ${topic}?`);
    expect(counters.get("rag_semantic_guard_rejections_total", { reason: "names" })).toBe(before + 1);
  });

  it("deletes the entries of the scopes a data change made stale, and keeps the others", async () => {
    const ns = semanticNamespace(tenant.tenant);
    await ask({ query: "Who will announce the maintenance window?", conversation_id: release });
    await ask({ query: "Who will announce the maintenance window?", conversation_id: other });
    const tagOf = (id: string) => versionTag(`c:${id}`);
    const questions = async (id: string) =>
      (await stored(ns)).filter((v) => v.metadata?.question.startsWith("Who will announce") && v.metadata.deps.includes(tagOf(id))).length;
    expect(await questions(other)).toBe(1);

    const sent = await sentDuring(() => ingest(other, [{ id: "m90", text: "The maintenance window moved to Sunday." }]));
    expect(sent.filter((r) => r.command === "delete")).toEqual([
      {
        command: "delete",
        namespace: ns,
        filter: expect.stringMatching(new RegExp(`^deps CONTAINS 'd' OR deps CONTAINS '${tagOf(other)}' OR expires <= \\d+$`)),
      },
    ]);
    expect(await questions(other)).toBe(0);
    expect(await questions(release)).toBe(1);
    expect((await ask({ query: "Who will announce the maintenance window, please?", conversation_id: other })).cache).toBe("MISS");
    expect((await ask({ query: "Who will announce the maintenance window, please?", conversation_id: release })).cache).toBe(
      "HIT-SEMANTIC",
    );
  });

  it("deletes the tenant's namespace when an admin purges the tenant's cache", async () => {
    const ns = semanticNamespace(tenant.tenant);
    await ask({ query: "Who takes the Saturday support shift?" });
    expect(await index.listNamespaces()).toContain(ns);
    const { res, settled } = await callWith(vars, "POST", "/api/admin/cache/invalidate", { tenant: tenant.tenant }, ADMIN_KEY);
    expect(res.status).toBe(200);
    await settled();
    expect(await index.listNamespaces()).not.toContain(ns);
    expect((await ask({ query: "Who takes the Saturday support shift, please?" })).cache).toBe("MISS");
  });

  it("treats an unreachable or refusing server as a miss: the answer is served and the failure counted", async () => {
    const failures = (op: "get" | "put") => counters.get("rag_cache_errors_total", { cache_level: "semantic", op, reason: "error" });
    const settings: Record<string, string>[] = [
      { UPSTASH_VECTOR_REST_URL: "http://127.0.0.1:9" },
      { UPSTASH_VECTOR_REST_TOKEN: "wrong-token" },
    ];
    for (const extra of settings) {
      const [get, put] = [failures("get"), failures("put")];
      const down = await ask(
        { query: `Is the support rota for the weekend filled? (${extra.UPSTASH_VECTOR_REST_URL ?? "token"})` },
        { extra },
      );
      expect(down.status).toBe(200);
      expect(down.cache).toBe("MISS");
      expect(down.json.answer.length).toBeGreaterThan(0);
      expect(failures("get")).toBe(get + 1);
      expect(failures("put")).toBe(put); // no vector, no write
    }
  });
});

describe("Upstash Vector store", () => {
  const vector = (seed: number) => Float32Array.from({ length: 384 }, (_, i) => Math.sin(seed + i));

  it("never serves an expired entry: not as a candidate, not when its answer is read", async () => {
    let now = Date.UTC(2026, 0, 1);
    const store = upstashVectorStore(index, uid("clock"), () => now);
    await store.put("scope", "m", "Q?", vector(1), { answer: 1 }, 60, 200, ["d"]);
    const [candidate] = await store.candidates("scope", "m", vector(1), 0.99, 5);
    expect(candidate).toMatchObject({ question: "Q?" });
    expect(candidate!.similarity).toBeCloseTo(1, 5); // Upstash's (1 + cos) / 2, converted back to a cosine
    expect(await store.entry(candidate!.id)).toEqual({ answer: 1 });
    now += 60_000;
    expect(await store.candidates("scope", "m", vector(1), 0.99, 5)).toEqual([]);
    expect(await store.entry(candidate!.id)).toBeUndefined();
  });

  it("applies the threshold to the cosine, and keeps other models and scopes apart", async () => {
    const store = upstashVectorStore(index, uid("threshold"));
    await store.put("scope", "m", "Q?", vector(1), {}, 60, 200);
    const near = Float32Array.from(vector(1), (x, i) => (i === 0 ? x + 0.5 : x));
    const cosine = (a: Float32Array, b: Float32Array) => {
      let dot = 0;
      let na = 0;
      let nb = 0;
      for (let i = 0; i < a.length; i++) [dot, na, nb] = [dot + a[i]! * b[i]!, na + a[i]! ** 2, nb + b[i]! ** 2];
      return dot / Math.sqrt(na * nb);
    };
    const c = cosine(near, vector(1));
    expect((await store.candidates("scope", "m", near, c - 0.001, 5))[0]!.similarity).toBeCloseTo(c, 5);
    expect(await store.candidates("scope", "m", near, c + 0.001, 5)).toEqual([]);
    expect(await store.candidates("scope", "other-model", vector(1), 0.5, 5)).toEqual([]);
    expect(await store.candidates("other-scope", "m", vector(1), 0.5, 5)).toEqual([]);
  });

  it("keeps a scope's newest maxPerScope entries", async () => {
    const tenantId = uid("trim");
    let now = Date.UTC(2026, 0, 1);
    const store = upstashVectorStore(index, tenantId, () => now);
    for (let i = 0; i < 6; i++) {
      now += 1000;
      await store.put("scope", "m", `Q${i}?`, vector(i), {}, 600, 3);
    }
    await store.put("another", "m", "Other?", vector(9), {}, 600, 3);
    const questions = (await stored(semanticNamespace(tenantId))).map((v) => v.metadata!.question).sort();
    expect(questions).toEqual(["Other?", "Q3?", "Q4?", "Q5?"]);
  });
});
