import { describe, expect, it } from "vitest";
import { ADMIN_KEY, api, conversation, directSql, newTenantKey, problem, uid } from "./support/api";
import { parseSse } from "./support/sse";

const sql = directSql();

/** Expects a 400 problem+json whose errors point at exactly `pointers`, and returns it. */
async function rejected(res: Response, pointers: string[]) {
  expect(res.status).toBe(400);
  const p = await problem(res);
  expect(p.type).toBe("urn:convo-rag:problem:invalid-request");
  expect(p.errors!.map((e) => e.pointer)).toEqual(pointers);
  return p;
}

describe("request bodies are strict: an unknown field is a 400 naming it, and nothing happens", () => {
  it("a camelCase typo in an ask is rejected with a pointer and the field it meant, not answered over every conversation", async () => {
    const { key, tenant } = await newTenantKey("strict");
    expect((await api("POST", "/api/conversations", { key, body: conversation(uid("c"), 4) })).status).toBe(201);
    const res = await api("POST", "/api/rag/ask", {
      key,
      body: { query: "when is the feature freeze?", conversationId: "x", stream: false },
    });
    const p = await rejected(res, ["#/conversationId"]);
    expect(p.errors![0]!.detail).toBe("is not a field of this request (did you mean 'conversation_id'?)");
    expect(p.detail).toMatch(/^invalid ask request: conversationId: is not a field/);
    // Nothing was answered: no session turn, no cache entry, no semantic-cache row.
    const [stored] = await sql`
      SELECT (SELECT count(*) FROM semantic_cache WHERE tenant_id = ${tenant})::int AS semantic,
             (SELECT count(*) FROM chat_turns WHERE tenant_id = ${tenant})::int AS turns`;
    expect(stored).toEqual({ semantic: 0, turns: 0 });
  });

  it("every unknown field is named, nested ones with their full pointer", async () => {
    const res = await api("POST", "/api/rag/retrieve", {
      body: { query: "freeze", topK: 3, filters: { author_name: ["John"], from: "2025-01-01T00:00:00Z" }, extra: true },
    });
    const p = await rejected(res, ["#/filters/author_name", "#/topK", "#/extra"]);
    const detail = Object.fromEntries(p.errors!.map((e) => [e.pointer, e.detail]));
    expect(detail["#/filters/author_name"]).toMatch(/did you mean 'author_names'/);
    expect(detail["#/topK"]).toMatch(/did you mean 'top_k'/);
    expect(detail["#/extra"]).toBe("is not a field of this request");
  });

  it("an ingest with an unknown message field stores nothing", async () => {
    const { key, tenant } = await newTenantKey("strict");
    const body = conversation(uid("c"), 3) as unknown as { messages: Record<string, unknown>[] };
    body.messages[2]!.reactions = ["+1"];
    await rejected(await api("POST", "/api/conversations", { key, body }), ["#/messages/2/reactions"]);
    const [counts] = await sql`SELECT count(*)::int AS n FROM messages WHERE tenant_id = ${tenant}`;
    expect(counts!.n).toBe(0);
  });

  it("admin bodies are strict too", async () => {
    await rejected(await api("POST", "/api/admin/keys", { key: ADMIN_KEY, body: { role: "user", tenat: "x" } }), ["#/tenat"]);
    const res = await api("POST", "/api/admin/cache/invalidate", { key: ADMIN_KEY, body: { tenant: "dev", conversation: "x" } });
    expect(res.status).toBe(400);
    expect((await problem(res)).errors!.map((e) => e.pointer)).toContain("#/conversation");
  });

  it("an unknown query parameter is a 400 on routes with and without parameters", async () => {
    await rejected(await api("GET", "/api/conversations?limt=5"), ["#/limt"]);
    await rejected(await api("GET", "/api/conversations/some-id?verbose=1"), ["#/verbose"]);
    await rejected(await api("POST", "/api/rag/ask?stream=false", { body: { query: "freeze" } }), ["#/stream"]);
    await rejected(await api("GET", "/api/admin/keys?tenant=dev&all=1", { key: ADMIN_KEY }), ["#/all"]);
  });

  it("documented fields are all still accepted", async () => {
    const { key } = await newTenantKey("strict");
    const conv = conversation(uid("c"), 4);
    const ingest = await api("POST", "/api/conversations", { key, body: { ...conv, metadata: { a: 1 }, mode: "merge" } });
    expect(ingest.status).toBe(201);
    const retrieve = await api("POST", "/api/rag/retrieve", {
      key,
      body: {
        query: "feature freeze",
        conversation_id: conv.id,
        filters: {
          author_names: ["John", "Priya", "Marco"],
          author_types: ["human"],
          from: "2025-01-01T00:00:00Z",
          to: "2026-01-01T00:00:00Z",
        },
        top_k: 3,
        token_budget: 500,
        strategies: ["keyword"],
        rrf_k: 60,
        ef_search: 40,
        expand_neighbors: true,
        focus: false,
      },
    });
    expect(retrieve.status).toBe(200);
    const ask = await api("POST", "/api/rag/ask", {
      key,
      body: {
        query: "When is the feature freeze?",
        conversation_id: conv.id,
        filters: { author_names: ["Priya"] },
        strategies: ["keyword", "semantic"],
        top_k: 5,
        strategy: "hybrid",
        max_context_tokens: 1000,
        cache: false,
        stream: true,
        temperature: 0,
        max_tokens: 200,
      },
    });
    expect(ask.status).toBe(200);
    expect(parseSse(await ask.text()).at(-1)!.event).toBe("done");
  });
});

describe("ask accepts strategies", () => {
  it("runs only the strategies it names, and they are part of the cache key", async () => {
    const { key } = await newTenantKey("strict");
    const conv = conversation(uid("c"), 6);
    expect((await api("POST", "/api/conversations", { key, body: conv })).status).toBe(201);
    const ask = (strategies: string[] | undefined) =>
      api("POST", "/api/rag/ask", { key, body: { query: "What did we agree about the feature freeze?", stream: false, strategies } });
    const keyword = await ask(["keyword"]);
    expect(keyword.status).toBe(200);
    expect(keyword.headers.get("x-cache")).toBe("MISS");
    expect(((await keyword.json()) as { strategies: string[] }).strategies).toEqual(["keyword"]);
    // The same question with other strategies is another answer, not a cache hit of the first.
    const semantic = await ask(["semantic"]);
    expect(semantic.headers.get("x-cache")).toBe("MISS");
    expect(((await semantic.json()) as { strategies: string[] }).strategies).toEqual(["semantic"]);
    expect((await ask(["keyword"])).headers.get("x-cache")).toMatch(/^HIT/);
    await rejected(await ask(["keyword", "keyword"]), ["#/strategies"]);
  });
});
