import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import type { RecordedCall } from "../../scripts/lib/fake-openai";
import { counters } from "../../src/observability/counters";
import { forgetSearchModel } from "../../src/reembed/search-model";
import { ADMIN_KEY, api, directSql, newTenantKey, uid } from "./support/api";
import { launchConversation } from "./support/fixtures";
import { callWith, parseSse } from "./support/sse";

let tenant: { key: string; tenant: string };
const release = uid("release");
const other = uid("other");

/** Variables pointing chat and embeddings at a fresh scenario of the fake OpenAI server, so its calls can be counted. */
async function providers() {
  const base = `${env.FAKE_OPENAI_URL}/${crypto.randomUUID()}`;
  await fetch(`${base}/_control`, { method: "POST", body: JSON.stringify({ chat: { text: "The launch stays on June 2 [1]." } }) });
  return {
    vars: {
      CHAT_PROVIDER: "openai",
      EMBEDDING_PROVIDER: "openai",
      EMBEDDING_MODEL: "fake-embed",
      OPENAI_BASE_URL: `${base}/v1`,
      OPENAI_API_KEY: "sk-test",
      CHAT_MODEL: "fake-chat",
    },
    calls: async () => (await (await fetch(`${base}/_calls`)).json()) as RecordedCall[],
    fail: () => fetch(`${base}/_control`, { method: "POST", body: JSON.stringify({ failAfter: 0, failStatus: 500 }) }),
  };
}

async function ask(vars: Record<string, string>, body: Record<string, unknown>, key = tenant.key) {
  const { res, settled } = await callWith(vars, "POST", "/api/rag/ask", { conversation_id: release, ...body }, key);
  const text = await res.text();
  await settled();
  const events = res.headers.get("content-type")?.startsWith("text/event-stream") ? parseSse(text) : [];
  return {
    res,
    cache: res.headers.get("x-cache"),
    events,
    json: events.length ? undefined : (JSON.parse(text) as Record<string, unknown>),
  };
}

// A tenant's questions are embedded with the model its chunks have (src/reembed): the shared
// tenant's are the local embedder's; a test that counts embedding calls ingests its own.
async function ingest(id: string, extra: { id: string; text: string }[] = [], key = tenant.key, vars: Record<string, string> = {}) {
  const conv = launchConversation(id);
  conv.messages.push(...extra.map((m) => ({ ...m, author_name: "Priya", author_type: "human", timestamp: "2025-05-14T09:00:00Z" })));
  const { res } = await callWith(vars, "POST", "/api/conversations", conv, key);
  expect([200, 201]).toContain(res.status);
}

beforeAll(async () => {
  tenant = await newTenantKey("cache");
  await ingest(release);
  await ingest(other);
});

describe("answer cache", () => {
  it("replays a cached answer as the same SSE events without touching Postgres, the embedder or the model", async () => {
    const p = await providers();
    const own = await newTenantKey("cache-replay");
    await ingest(release, [], own.key, p.vars);
    const first = await ask(p.vars, { query: "When is the launch date?" }, own.key);
    expect(first.cache).toBe("MISS");
    const callsAfterMiss = (await p.calls()).length;
    expect((await p.calls()).filter((c) => c.path.endsWith("/chat/completions"))).toHaveLength(1);
    expect((await p.calls()).some((c) => c.path.endsWith("/embeddings"))).toBe(true);

    // Not even the tenant's search model is read (the isolate's copy of it is dropped first).
    forgetSearchModel(own.tenant);
    const dbClients = counters.get("rag_db_clients_total");
    const second = await ask(p.vars, { query: "  when is the LAUNCH date? " }, own.key);
    expect(second.cache).toBe("HIT-L1");
    expect(counters.get("rag_db_clients_total")).toBe(dbClients);
    expect((await p.calls()).length).toBe(callsAfterMiss);

    expect(second.events.map((e) => e.event)).toEqual(first.events.map((e) => e.event));
    const [m1, m2] = [JSON.parse(first.events[0]!.data), JSON.parse(second.events[0]!.data)];
    expect(m2.cache).toBe("HIT-L1");
    expect(m2.request_id).not.toBe(m1.request_id);
    expect({ ...m2, cache: 0, request_id: 0 }).toEqual({ ...m1, cache: 0, request_id: 0 });
    expect(second.events.filter((e) => e.event === "delta").map((e) => e.data)).toEqual(
      first.events.filter((e) => e.event === "delta").map((e) => e.data),
    );
    const [d1, d2] = [JSON.parse(first.events.at(-1)!.data), JSON.parse(second.events.at(-1)!.data)];
    expect(d2.usage).toEqual(d1.usage);
    expect(d2.citations).toEqual(d1.citations);

    const json = await ask(p.vars, { query: "When is the launch date?", stream: false }, own.key);
    expect(json.cache).toBe("HIT-L1");
    expect(json.json!.answer).toBe("The launch stays on June 2 [1].");
  });

  it("serves from L2 when L1 has expired, and promotes the entry to L1", async () => {
    const p = await providers();
    const vars = { ...p.vars, CACHE_L1_TTL_SECONDS: "1" };
    expect((await ask(vars, { query: "Who takes the Saturday support shift?", stream: false })).cache).toBe("MISS");
    await new Promise((r) => setTimeout(r, 1500));
    expect((await ask(vars, { query: "Who takes the Saturday support shift?", stream: false })).cache).toBe("HIT-L2");
    expect((await ask(vars, { query: "Who takes the Saturday support shift?", stream: false })).cache).toBe("HIT-L1");
    expect((await p.calls()).filter((c) => c.path.endsWith("/chat/completions"))).toHaveLength(1);
  });

  it("misses after the conversation changes, and only for questions over it", async () => {
    const p = await providers();
    const q = { query: "What did Marco say about the LRU limit?", stream: false };
    await ask(p.vars, q);
    await ask(p.vars, { ...q, conversation_id: other });
    expect((await ask(p.vars, q)).cache).toBe("HIT-L1");
    await ingest(release, [{ id: "m99", text: "Update: the LRU limit is set to 500 thumbnails." }]);
    const fresh = await ask(p.vars, q);
    expect(fresh.cache).toBe("MISS");
    expect((fresh.json!.sources as { message_ids: string[] }[]).some((s) => s.message_ids.includes("m99"))).toBe(true);
    expect((await ask(p.vars, { ...q, conversation_id: other })).cache).toBe("HIT-L1");
    // An unscoped question depends on every conversation of the tenant.
    const all = { query: "What did Marco say about the LRU limit?", stream: false, conversation_id: undefined };
    await ask(p.vars, all);
    expect((await ask(p.vars, all)).cache).toBe("HIT-L1");
    const res = await api("DELETE", `/api/conversations/${other}`, { key: tenant.key });
    expect(res.status).toBe(204);
    expect((await ask(p.vars, all)).cache).toBe("MISS");
    await ingest(other);
  });

  it("is invalidated by the admin API for a conversation, a tenant or everything", async () => {
    const p = await providers();
    const q = { query: "Why was the staging deploy rolled back?", stream: false };
    for (const body of [{ tenant: tenant.tenant, conversation_id: release }, { tenant: tenant.tenant }, { scope: "all" }]) {
      await ask(p.vars, q);
      expect((await ask(p.vars, q)).cache).toBe("HIT-L1");
      const res = await api("POST", "/api/admin/cache/invalidate", { key: ADMIN_KEY, body });
      expect(res.status).toBe(200);
      expect((await ask(p.vars, q)).cache).toBe("MISS");
    }
    const bad = await api("POST", "/api/admin/cache/invalidate", { key: ADMIN_KEY, body: { tenant: "Not A Tenant" } });
    expect(bad.status).toBe(400);
    expect((await api("POST", "/api/admin/cache/invalidate", { key: tenant.key, body: { scope: "all" } })).status).toBe(403);
  });

  it("bypasses for cache: false, a high temperature and a session's later questions", async () => {
    const p = await providers();
    const q = { query: "Does the rollback delay the launch?", stream: false };
    await ask(p.vars, q);
    expect((await ask(p.vars, { ...q, cache: false })).cache).toBe("BYPASS");
    expect((await ask({ ...p.vars, CACHE_MAX_TEMPERATURE: "0.5" }, { ...q, temperature: 0.9 })).cache).toBe("BYPASS");
    const session = uid("s");
    expect((await ask(p.vars, { ...q, session_id: session })).cache).toBe("HIT-L1");
    expect((await ask(p.vars, { ...q, session_id: session })).cache).toBe("BYPASS");
  });

  it("answers a session's first question from the cache and stores its turn; the answer made for it is cached without the session", async () => {
    const p = await providers();
    const own = await newTenantKey("cache-session");
    await ingest(release, [], own.key, p.vars);
    const answers = async () => (await p.calls()).filter((c) => c.path.endsWith("/chat/completions") && c.body.stream).length;
    const q = { query: "When is the launch date?", stream: false };
    // Made for a session's first question: the turn is stored, and the answer cached as the question's alone.
    const made = await ask(p.vars, { ...q, session_id: uid("s") }, own.key);
    expect(made.cache).toBe("MISS");
    expect(made.json).toMatchObject({ session_id: expect.any(String), session_saved: true });
    const alone = await ask(p.vars, q, own.key);
    expect(alone.cache).toBe("HIT-L1");
    expect(alone.json!.session_id).toBeNull();
    expect(alone.json).not.toHaveProperty("session_saved");
    expect(alone.json!.answer).toBe(made.json!.answer);

    // Served from the cache as another session's first turn: named for it, and stored in it.
    const session = uid("s");
    const served = await ask(p.vars, { ...q, session_id: session }, own.key);
    expect(served.cache).toBe("HIT-L1");
    expect(served.json).toMatchObject({ session_id: session, session_saved: true, answer: made.json!.answer });
    expect(await answers()).toBe(1);
    const turns = await directSql()<{ question: string; answer: string }[]>`
      SELECT question, answer FROM chat_turns WHERE tenant_id = ${own.tenant} AND session_id = ${session}`;
    expect(turns).toEqual([{ question: q.query, answer: made.json!.answer }]);

    // Its next question has that turn as history, so it is answered afresh.
    const next = await ask(p.vars, { query: "Does the rollback delay the launch?", session_id: session, stream: false }, own.key);
    expect(next.cache).toBe("BYPASS");
    expect(next.json!.history).toMatchObject({ turns: 1 });
    expect(await answers()).toBe(2);
  });

  it("never serves one tenant's cached answer to another", async () => {
    const p = await providers();
    const q = { query: "When is the launch date?", stream: false };
    await ask(p.vars, q);
    expect((await ask(p.vars, q)).cache).toBe("HIT-L1");
    const stranger = await newTenantKey("cache-other");
    const theirs = await ask(p.vars, q, stranger.key);
    expect(theirs.cache).toBe("MISS");
    expect(theirs.json!.sources).toEqual([]);
    // Nor from L2: once L1 has expired, the owner gets HIT-L2 and the stranger still a miss.
    const shortL1 = { ...p.vars, CACHE_L1_TTL_SECONDS: "1" };
    const l2q = { query: "Who takes the Saturday support shift and why?", stream: false };
    await ask(shortL1, l2q);
    await new Promise((r) => setTimeout(r, 1500));
    expect((await ask(shortL1, l2q, stranger.key)).cache).toBe("MISS");
    expect((await ask(shortL1, l2q)).cache).toBe("HIT-L2");
  });

  it("does not cache a fallback answer", async () => {
    const p = await providers();
    await p.fail();
    const q = { query: "What is in the release checklist?", stream: false };
    expect((await ask(p.vars, q)).json!.fallback).toBe(true);
    expect((await ask(p.vars, q)).cache).toBe("MISS");
  });

  it("answers uncached when the cache store fails", async () => {
    const p = await providers();
    const broken = { get: () => Promise.reject(new Error("kv down")), put: () => Promise.reject(new Error("kv down")) };
    const { res, settled } = await callWith(
      { ...p.vars },
      "POST",
      "/api/rag/ask",
      { conversation_id: release, query: "When is the launch date?", stream: false },
      tenant.key,
      { CACHE_KV: broken },
    );
    expect(res.status).toBe(200);
    expect(res.headers.get("x-cache")).toBe("BYPASS");
    await res.text();
    await settled();
  });
});

describe("semantic answer cache", () => {
  // The local embedder places paraphrases close together; the fake server's vectors are random per text.
  const withLocalEmbedder = async () => {
    const p = await providers();
    return { ...p, vars: { ...p.vars, EMBEDDING_PROVIDER: "local", EMBEDDING_MODEL: "local-hash-v1", SEMANTIC_CACHE_THRESHOLD: "0.85" } };
  };

  it("answers a paraphrase from the cache, and refuses look-alikes the guards catch", async () => {
    const p = await withLocalEmbedder();
    const first = await ask(p.vars, { query: "Why was the staging deploy rolled back?", stream: false });
    expect(first.cache).toBe("MISS");
    const paraphrase = await ask(p.vars, { query: "Why did the staging deploy get rolled back?" });
    expect(paraphrase.cache).toBe("HIT-SEMANTIC");
    expect(JSON.parse(paraphrase.events[0]!.data).cache).toBe("HIT-SEMANTIC");
    expect(
      paraphrase.events
        .filter((e) => e.event === "delta")
        .map((e) => JSON.parse(e.data).text)
        .join(""),
    ).toBe(first.json!.answer);
    // The paraphrase itself is now an exact entry.
    expect((await ask(p.vars, { query: "Why did the staging deploy get rolled back?", stream: false })).cache).toBe("HIT-L1");
    expect((await p.calls()).filter((c) => c.path.endsWith("/chat/completions"))).toHaveLength(1);

    // Names keep their capitals in the stored question, so a paraphrase naming the same people still matches.
    await ask(p.vars, { query: "What did Marco say about the LRU limit?", stream: false });
    expect((await ask(p.vars, { query: "What did Marco say about the LRU limit", stream: false })).cache).toBe("HIT-SEMANTIC");
    expect((await ask(p.vars, { query: "What did Priya say about the LRU limit", stream: false })).cache).toBe("MISS");

    await ask(p.vars, { query: "Is the launch on June 2?", stream: false });
    expect((await ask(p.vars, { query: "Is the launch not on June 2?", stream: false })).cache).toBe("MISS");
    expect((await ask(p.vars, { query: "Where is the launch on June 2?", stream: false })).cache).toBe("MISS");
  });

  it("is per tenant and scope, and forgets answers when the data changes", async () => {
    const p = await withLocalEmbedder();
    await ask(p.vars, { query: "Why was the staging deploy rolled back?", stream: false, conversation_id: other });
    expect((await ask(p.vars, { query: "Why did the staging deploy get rolled back?", stream: false, conversation_id: other })).cache).toBe(
      "HIT-SEMANTIC",
    );
    const stranger = await newTenantKey("semantic-other");
    expect(
      (await ask(p.vars, { query: "Why did the staging deploy get rolled back?", stream: false, conversation_id: other }, stranger.key))
        .cache,
    ).toBe("MISS");
    await ingest(other, [{ id: "m97", text: "The image resizer fix shipped." }]);
    expect((await ask(p.vars, { query: "Why did the staging deploy get rolled back?", stream: false, conversation_id: other })).cache).toBe(
      "MISS",
    );
  });

  it("never answers a different question: lower-case and first-word names, other scripts, relation words; a promoted hit carries the asker's question", async () => {
    const p = await withLocalEmbedder();
    const topic = "the release checklist, the changelog and the maintenance window";
    const cases: [string, string][] = [
      [`what did john say about ${topic}?`, `what did priya say about ${topic}?`],
      [`John, what was said about ${topic}?`, `Priya, what was said about ${topic}?`],
      [`What did Émile say about ${topic}?`, `What did Åsa say about ${topic}?`],
      [`What did Ольга say about ${topic}?`, `What did Дмитрий say about ${topic}?`],
      [`What happened before ${topic}?`, `What happened after ${topic}?`],
      [`Did the team approve ${topic}?`, `Did the team reject ${topic}?`],
    ];
    // Each pair in a scope of its own (the first two are paraphrases of each other, rightly).
    for (const [i, [first, second]] of cases.entries()) {
      const scope = { max_context_tokens: 600 + i };
      expect((await ask(p.vars, { query: first, stream: false, ...scope })).cache, first).toBe("MISS");
      const other = await ask(p.vars, { query: second, stream: false, ...scope });
      expect(other.cache, second).toBe("MISS");
      expect((other.json!.query as { text: string }).text).toBe(second);
    }
    // The correctly written question is not served the other person's answer from the exact cache either.
    const capitalised = await ask(p.vars, { query: `What did Priya say about ${topic}?`, stream: false, max_context_tokens: 600 });
    expect(capitalised.cache).not.toBe("HIT-SEMANTIC");
    expect((capitalised.json!.query as { text: string }).text).not.toMatch(/john/i);

    // A true rewording hits, and both the replay and the entry promoted under its exact key report its own words.
    const reworded = `Hey, what did john say about ${topic}`;
    const hit = await ask(p.vars, { query: reworded, stream: false, max_context_tokens: 600 });
    expect(hit.cache).toBe("HIT-SEMANTIC");
    expect(hit.json!.query).toMatchObject({ text: reworded, matched_question: `what did john say about ${topic}?` });
    const again = await ask(p.vars, { query: reworded, stream: false, max_context_tokens: 600 });
    expect(again.cache).toBe("HIT-L1");
    expect((again.json!.query as { text: string }).text).toBe(reworded);
  });

  it("never matches a follow-up by meaning", async () => {
    const p = await withLocalEmbedder();
    await ask(p.vars, { query: "Tell me more about the staging deploy.", stream: false });
    expect((await ask(p.vars, { query: "Tell me more about that.", stream: false })).cache).toBe("MISS");
  });
});

describe.skipIf(!env.UPSTASH_TEST_URL)("Upstash Redis as L2 (real redis-server behind the REST protocol)", () => {
  const upstash = (vars: Record<string, string>, token = "test-upstash-token") => ({
    ...vars,
    CACHE_L2: "upstash",
    UPSTASH_REDIS_REST_URL: env.UPSTASH_TEST_URL,
    UPSTASH_REDIS_REST_TOKEN: token,
    CACHE_L1_TTL_SECONDS: "1",
  });
  const commands = async () => (await (await fetch(`${env.UPSTASH_TEST_URL}/_commands`)).json()) as string[][];

  it("stores answers in Redis and serves them from there once L1 has expired", async () => {
    const p = await providers();
    const vars = upstash(p.vars);
    const q = { query: "What is the plan for the maintenance window?", stream: false };
    const before = (await commands()).length;
    expect((await ask(vars, q)).cache).toBe("MISS");
    const sent = (await commands()).slice(before);
    const set = sent.find((c) => c[0]?.toLowerCase() === "set");
    expect(set).toBeDefined();
    expect(set!.slice(3).map((x) => x.toLowerCase())).toEqual(["ex", "3600"]);
    await new Promise((r) => setTimeout(r, 1500));
    const fromRedis = await ask(vars, q);
    expect(fromRedis.cache).toBe("HIT-L2");
    expect((await commands()).slice(before).some((c) => c[0]?.toLowerCase() === "get" && c[1] === set![1])).toBe(true);
    expect((await p.calls()).filter((c) => c.path.endsWith("/chat/completions"))).toHaveLength(1);
  });

  it("treats a refused or unreachable Redis as a miss, never as a failed request", async () => {
    const p = await providers();
    const q = { query: "What is the plan for the maintenance window?", stream: false, temperature: 0.1 };
    const wrongToken = await ask(upstash(p.vars, "wrong-token"), q);
    expect(wrongToken.res.status).toBe(200);
    expect(wrongToken.cache).toBe("MISS");
    const gone = await ask({ ...upstash(p.vars), UPSTASH_REDIS_REST_URL: "http://127.0.0.1:9" }, q);
    expect(gone.res.status).toBe(200);
  });
});

describe("query embeddings", () => {
  it("are kept in Postgres per tenant: the same question embeds once for its tenant, and again for another", async () => {
    const p = await providers();
    const vars = { ...p.vars, CACHE_ENABLED: "false", EMBEDDING_MODEL: `fake-embed-${crypto.randomUUID()}` };
    const owner = await newTenantKey("embed-owner");
    await ingest(release, [], owner.key, vars);
    const body = { query: "memory leak in the image resizer", conversation_id: release, strategies: ["semantic"] };
    const ingestCalls = (await p.calls()).filter((c) => c.path.endsWith("/embeddings")).length;
    const embeddingCalls = async () => (await p.calls()).filter((c) => c.path.endsWith("/embeddings")).length - ingestCalls;
    expect((await callWith(vars, "POST", "/api/rag/retrieve", body, owner.key)).res.status).toBe(200);
    expect(await embeddingCalls()).toBe(1);
    expect((await callWith(vars, "POST", "/api/rag/retrieve", body, owner.key)).res.status).toBe(200);
    const stranger = await newTenantKey("embed-other");
    expect((await callWith(vars, "POST", "/api/rag/retrieve", { ...body, conversation_id: undefined }, stranger.key)).res.status).toBe(200);
    // Served from the first tenant's cache, the stranger's question would be faster than a new one: a timing channel.
    expect(await embeddingCalls()).toBe(2);
  });
});

describe("cache stats", () => {
  it("reports hits, misses and hit rate per level, guard rejections and the Postgres caches' size", async () => {
    const p = await providers();
    const vars = { ...p.vars, EMBEDDING_PROVIDER: "local", EMBEDDING_MODEL: "local-hash-v1" };
    await ask(vars, { query: "Is the launch on June 2?", stream: false });
    await ask(vars, { query: "Is the launch on June 2?", stream: false });
    await ask(vars, { query: "Is the launch not on June 2?", stream: false });
    const { res } = await callWith(vars, "GET", "/api/admin/cache/stats", undefined, ADMIN_KEY);
    expect(res.status).toBe(200);
    const stats = (await res.json()) as {
      levels: Record<string, { hits: number; misses: number; hit_rate: number | null }>;
      semantic_guard_rejections: Record<string, number>;
      stores: Record<string, { entries: number; bytes: number }>;
    };
    expect(stats.levels.l1!.hits).toBeGreaterThanOrEqual(1);
    expect(stats.levels.l1!.misses).toBeGreaterThanOrEqual(2);
    expect(stats.levels.l1!.hit_rate).toBeCloseTo(stats.levels.l1!.hits / (stats.levels.l1!.hits + stats.levels.l1!.misses), 3);
    expect(stats.semantic_guard_rejections.negation).toBeGreaterThanOrEqual(1);
    expect(stats.stores.semantic_cache!.entries).toBeGreaterThanOrEqual(1);
    expect(stats.stores.embedding_cache!.bytes).toBeGreaterThan(0);
    expect((await callWith(vars, "GET", "/api/admin/cache/stats", undefined, tenant.key)).res.status).toBe(403);
  });
});

describe("retrieval cache", () => {
  it("caches retrieve results per scope version", async () => {
    const body = { query: "maintenance window", conversation_id: release, token_budget: 200 };
    const first = await api("POST", "/api/rag/retrieve", { key: tenant.key, body });
    expect(first.headers.get("x-cache")).toBe("MISS");
    const firstBody = (await first.json()) as { chunks: unknown[] };
    forgetSearchModel(tenant.tenant);
    const dbClients = counters.get("rag_db_clients_total");
    const { res: second, settled } = await callWith({}, "POST", "/api/rag/retrieve", body, tenant.key);
    await settled();
    expect(second.headers.get("x-cache")).toMatch(/^HIT-L[12]$/);
    // A hit reads no database, not even the tenant's search model.
    expect(counters.get("rag_db_clients_total")).toBe(dbClients);
    expect(((await second.json()) as { chunks: unknown[] }).chunks).toEqual(firstBody.chunks);
    await ingest(release, [{ id: "m98", text: "The maintenance window moves to Sunday." }]);
    const third = await api("POST", "/api/rag/retrieve", { key: tenant.key, body });
    expect(third.headers.get("x-cache")).toBe("MISS");
  });
});
