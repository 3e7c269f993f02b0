import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { createSql } from "../../src/db/client";
import { postgresStores } from "../../src/db/postgres";
import { type Embedder, EmbeddingError } from "../../src/providers/embedder";
import { localEmbedder } from "../../src/providers/local-embedder";
import { type RetrieveOptions, retrieve } from "../../src/retrieve/retrieve";
import { api, conversation, newTenantKey, problem, uid } from "./support/api";
import { launchConversation } from "./support/fixtures";

interface Chunk {
  id: string;
  conversation_id: string;
  message_ids: string[];
  authors: string[];
  start: string;
  end: string;
  text: string;
  tokens: number;
  score: number;
  ranks: Record<string, number>;
  expanded_from?: string;
  excerpt?: boolean;
}
interface RetrieveResponse {
  chunks: Chunk[];
  usage: { context_tokens: number };
  failed_strategies: string[];
  query: { speakers: string[]; time: { from: string; to: string } | null };
}

let tenant: { key: string; tenant: string };
const release = uid("release");
const other = uid("other");

async function ask(body: Record<string, unknown>, key = tenant.key) {
  const res = await api("POST", "/api/rag/retrieve", { key, body: { conversation_id: release, ...body } });
  return { res, body: res.ok ? ((await res.json()) as RetrieveResponse) : undefined };
}

beforeAll(async () => {
  tenant = await newTenantKey("retrieve");
  // Small chunks (see vitest.config: CHUNK_MAX_TOKENS is the default), so a 12-message conversation has several.
  for (const body of [launchConversation(release), conversation(other, 12)]) {
    const res = await api("POST", "/api/conversations", { key: tenant.key, body });
    expect(res.status).toBe(201);
  }
});

describe("POST /api/rag/retrieve", () => {
  it("returns ranked chunks with ids, speakers, times, tokens, fused score and per-strategy ranks", async () => {
    const { res, body } = await ask({
      query: "Why was the staging deploy rolled back?",
      strategies: ["semantic", "keyword", "multi_query"],
    });
    expect(res.status).toBe(200);
    for (const name of ["semantic", "keyword", "multi_query", "total"])
      expect(res.headers.get("server-timing")).toMatch(new RegExp(`\\b${name};dur=[\\d.]+`));
    expect(body!.failed_strategies).toEqual([]);
    const top = body!.chunks[0]!;
    expect(top.message_ids).toContain("m8");
    expect(top.text).toContain("rolled back because of a memory leak");
    expect(top).toMatchObject({ conversation_id: release, authors: expect.arrayContaining(["Priya"]) });
    expect(Object.keys(top.ranks).sort()).toEqual(["keyword", "multi_query", "semantic"]);
    expect(new Date(top.start) <= new Date(top.end)).toBe(true);
    const scores = body!.chunks.map((c) => c.score);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
    expect(body!.usage.context_tokens).toBe(body!.chunks.reduce((s, c) => s + c.tokens, 0));
  });

  it("runs only the strategies asked for", async () => {
    for (const strategy of ["semantic", "keyword", "multi_query"]) {
      const { body } = await ask({ query: "maintenance window for the database migration", strategies: [strategy] });
      expect(body!.chunks.length).toBeGreaterThan(0);
      for (const c of body!.chunks) expect(Object.keys(c.ranks)).toEqual([strategy]);
    }
  });

  it("keeps chunks within top_k and the token budget, in rank order", async () => {
    const unlimited = (await ask({ query: "launch date fix memory leak", top_k: 20 })).body!;
    const budget = unlimited.chunks[0]!.tokens + 5;
    const { body } = await ask({ query: "launch date fix memory leak", top_k: 20, token_budget: budget });
    expect(body!.usage.context_tokens).toBeLessThanOrEqual(budget);
    expect(body!.chunks[0]!.id).toBe(unlimited.chunks[0]!.id);
    expect((await ask({ query: "launch", top_k: 1 })).body!.chunks).toHaveLength(1);
  });

  it("filters by conversation, author name, author type and time range", async () => {
    const q = { query: "maintenance window migration support shift leak", top_k: 50 };
    const all = (await ask({ ...q, conversation_id: undefined })).body!;
    expect(new Set(all.chunks.map((c) => c.conversation_id))).toEqual(new Set([release, other]));

    const byAuthor = (await ask({ ...q, filters: { author_names: ["Helpdesk"] } })).body!;
    expect(byAuthor.chunks.length).toBeGreaterThan(0);
    for (const c of byAuthor.chunks) expect(c.authors).toContain("Helpdesk");

    const byType = (await ask({ ...q, filters: { author_types: ["bot"] } })).body!;
    expect(byType.chunks.map((c) => c.id)).toEqual(byAuthor.chunks.map((c) => c.id));

    const day2 = (await ask({ ...q, filters: { from: "2025-05-13T00:00:00Z", to: "2025-05-13T23:59:59Z" } })).body!;
    expect(day2.chunks.length).toBeGreaterThan(0);
    for (const c of day2.chunks) expect(c.start >= "2025-05-13").toBe(true);
  });

  it("cuts a hit larger than its share of a small budget to its most relevant messages", async () => {
    const whole = (await ask({ query: "unbounded cache of decoded thumbnails", top_k: 1 })).body!.chunks[0]!;
    expect(whole.tokens).toBeGreaterThan(60);
    const { body } = await ask({ query: "unbounded cache of decoded thumbnails", top_k: 1, token_budget: 60 });
    const [excerpt] = body!.chunks;
    expect(excerpt).toMatchObject({ id: whole.id, excerpt: true });
    expect(excerpt!.message_ids).toContain("m9");
    expect(whole.message_ids).toEqual(expect.arrayContaining(excerpt!.message_ids));
    expect(excerpt!.message_ids.length).toBeLessThan(whole.message_ids.length);
    expect(excerpt!.text).toMatch(/^\[2025-05-13 \d\d:\d\d\] /);
    expect(body!.usage.context_tokens).toBe(excerpt!.tokens);
    expect(excerpt!.tokens).toBeLessThanOrEqual(60);
    // With focus off, a chunk that does not fit is left out rather than cut.
    expect((await ask({ query: "unbounded cache of decoded thumbnails", top_k: 1, token_budget: 60, focus: false })).body!.chunks).toEqual(
      [],
    );
  });

  it("recognises a speaker and a time expression in the query", async () => {
    const { body } = await ask({ query: "What did Marco say in May 2025 about the leak?" });
    expect(body!.query.speakers).toEqual(["Marco"]);
    expect(body!.query.time).toMatchObject({ from: "2025-05-01T00:00:00.000Z", to: "2025-06-01T00:00:00.000Z" });
    expect(body!.chunks[0]!.authors).toContain("Marco");
  });

  it("spends leftover budget on the neighbours of the hits when asked", async () => {
    const { body } = await ask({
      query: "unbounded cache of decoded thumbnails",
      top_k: 1,
      token_budget: 4000,
      expand_neighbors: true,
      strategies: ["keyword"],
    });
    const [hit, ...neighbours] = body!.chunks;
    expect(neighbours.length).toBeGreaterThan(0);
    for (const n of neighbours) expect(n.expanded_from).toBe(hit!.id);
  });

  it("returns another tenant's conversation as an empty result, like an unknown id", async () => {
    const intruder = await newTenantKey("intruder");
    const { res, body } = await ask({ query: "memory leak" }, intruder.key);
    expect(res.status).toBe(200);
    expect(body!.chunks).toEqual([]);
    expect((await ask({ query: "memory leak", conversation_id: uid("unknown") })).body!.chunks).toEqual([]);
  });
});

describe("retrieve input errors", () => {
  it.each([
    [{ query: "   " }, "#/query"],
    [{ query: "x", top_k: 0 }, "#/top_k"],
    [{ query: "x", top_k: 101 }, "#/top_k"],
    [{ query: "x", strategies: ["vibes"] }, "#/strategies/0"],
    [{ query: "x", strategies: [] }, "#/strategies"],
    [{ query: "x", filters: { from: "2025-02-01T00:00:00Z", to: "2025-01-01T00:00:00Z" } }, "#/filters/from"],
    [{ query: "x", filters: { from: "not a date" } }, "#/filters/from"],
    [{ query: "x", filters: { colour: "red" } }, "#/filters/colour"],
    [{}, "#/query"],
  ])("%j → 400 naming %s", async (body, pointer) => {
    const res = await api("POST", "/api/rag/retrieve", { key: tenant.key, body });
    expect(res.status).toBe(400);
    expect((await problem(res)).errors!.map((e) => e.pointer)).toContain(pointer);
  });

  it("rejects a query over the token limit", async () => {
    const res = await api("POST", "/api/rag/retrieve", { key: tenant.key, body: { query: "budget ".repeat(300) } });
    expect(res.status).toBe(400);
    expect((await problem(res)).detail).toMatch(/at most 256 tokens/);
  });
});

describe("strategy failures", () => {
  const chunksOf = () => {
    const sql = createSql(env.HYPERDRIVE);
    return postgresStores(() => sql, tenant.tenant).chunks;
  };
  const failing: Embedder = {
    ...localEmbedder({ dimensions: 384 }),
    embed: async () => Promise.reject(new EmbeddingError("provider down")),
  };
  const options = (strategies: RetrieveOptions["strategies"]): RetrieveOptions => ({
    query: "memory leak",
    scope: { tenantId: tenant.tenant, conversationIds: [release] },
    topK: 5,
    tokenBudget: undefined,
    strategies,
    rrfK: 60,
    efSearch: 40,
    candidates: 20,
    strategyTimeoutMs: 5000,
    statementTimeoutMs: 5000,
    expandNeighbours: false,
    weights: { semantic: 1, keyword: 1, multi_query: 1 },
  });

  it("returns the other strategies' results and names the failed ones", async () => {
    const result = await retrieve(
      { chunks: chunksOf(), embedder: failing, now: new Date() },
      options(["semantic", "keyword", "multi_query"]),
    );
    expect(result.failedStrategies.sort()).toEqual(["multi_query", "semantic"]);
    expect(result.chunks[0]!.messageIds).toContain("m8");
  });

  it("drops a strategy that exceeds its timeout and answers with the others", async () => {
    const slow: Embedder = {
      ...localEmbedder({ dimensions: 384 }),
      embed: () => new Promise((resolve) => setTimeout(() => resolve([]), 5000)),
    };
    const started = Date.now();
    const result = await retrieve(
      { chunks: chunksOf(), embedder: slow, now: new Date() },
      { ...options(["semantic", "keyword"]), strategyTimeoutMs: 1000 },
    );
    expect(Date.now() - started).toBeLessThan(4000);
    expect(result.failedStrategies).toEqual(["semantic"]);
    expect(result.chunks[0]!.messageIds).toContain("m8");
  });

  it("answers 503 problem+json when every strategy fails", async () => {
    const s = `${env.FAKE_OPENAI_URL}/${crypto.randomUUID()}`;
    await fetch(`${s}/_control`, { method: "POST", body: JSON.stringify({ failAfter: 0, failStatus: 500 }) });
    const worker = (await import("../../src/index")).default;
    const broken = { ...env, EMBEDDING_PROVIDER: "openai", OPENAI_BASE_URL: `${s}/v1`, OPENAI_API_KEY: "sk-test" } as unknown as Env;
    // A tenant with no chunks yet searches with the configured (failing) model; one with chunks would keep its own.
    const fresh = await newTenantKey("all-fail");
    const res = await worker.fetch(
      new Request("http://api.test/api/rag/retrieve", {
        method: "POST",
        headers: { authorization: `Bearer ${fresh.key}`, "content-type": "application/json" },
        body: JSON.stringify({ query: "memory leak", strategies: ["semantic", "multi_query"] }),
      }),
      broken,
      { waitUntil: () => {}, passThroughOnException: () => {}, props: {} } as unknown as ExecutionContext,
    );
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("5");
    expect((await problem(res)).detail).toMatch(/every retrieval strategy failed: semantic, multi_query/);
  });
});
