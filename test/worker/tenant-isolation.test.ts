import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import type { RecordedCall } from "../../scripts/lib/fake-openai";
import { api, conversation, directSql, newTenantKey, problem, uid } from "./support/api";
import { callWith } from "./support/sse";

describe("tenant isolation", () => {
  it("tenant B cannot read, list or delete tenant A's conversation (404, as for an unknown id)", async () => {
    const a = await newTenantKey("iso-a");
    const b = await newTenantKey("iso-b");
    const conv = conversation(uid("secret"), 6);
    expect((await api("POST", "/api/conversations", { key: a.key, body: conv })).status).toBe(201);

    const read = await api("GET", `/api/conversations/${conv.id}`, { key: b.key });
    expect(read.status).toBe(404);
    const unknown = await api("GET", `/api/conversations/${uid("nope")}`, { key: b.key });
    expect(unknown.status).toBe(404);
    expect((await problem(read)).title).toBe((await problem(unknown)).title);

    const list = (await (await api("GET", "/api/conversations", { key: b.key })).json()) as { conversations: unknown[] };
    expect(list.conversations).toEqual([]);

    expect((await api("DELETE", `/api/conversations/${conv.id}`, { key: b.key })).status).toBe(404);
    // Still there for its owner.
    expect((await api("GET", `/api/conversations/${conv.id}`, { key: a.key })).status).toBe(200);
  });

  it("the same conversation id in two tenants are two separate conversations", async () => {
    const a = await newTenantKey("same-a");
    const b = await newTenantKey("same-b");
    const id = uid("shared");
    await api("POST", "/api/conversations", { key: a.key, body: conversation(id, 4) });
    const res = await api("POST", "/api/conversations", { key: b.key, body: conversation(id, 2) });
    expect(res.status).toBe(201);
    const ofA = (await (await api("GET", `/api/conversations/${id}`, { key: a.key })).json()) as { message_count: number };
    const ofB = (await (await api("GET", `/api/conversations/${id}`, { key: b.key })).json()) as { message_count: number };
    expect([ofA.message_count, ofB.message_count]).toEqual([4, 2]);
  });
});

describe("the embedding cache between tenants", () => {
  // A remote embedder (the fake OpenAI-compatible server, its own calls recorded), as the cache
  // only matters when vectors cost a provider call.
  const base = `${env.FAKE_OPENAI_URL}/${crypto.randomUUID()}`;
  const vars = {
    EMBEDDING_PROVIDER: "openai",
    EMBEDDING_MODEL: "fake-embedding",
    OPENAI_BASE_URL: `${base}/v1`,
    OPENAI_API_KEY: "sk-test",
    SEMANTIC_CACHE_ENABLED: "false",
  };
  const embeddingInputs = async () =>
    ((await (await fetch(`${base}/_calls`)).json()) as RecordedCall[])
      .filter((c) => c.path === "/v1/embeddings")
      .flatMap((c) => c.body.input as string[]);
  type Ingested = { embeddings: { computed: number; cached: number; provider_calls: number } };
  const ingest = async (key: string, body: unknown) => {
    const { res, settled } = await callWith(vars, "POST", "/api/conversations", body, key);
    await settled();
    expect(res.status).toBe(201);
    return (await res.json()) as Ingested;
  };
  const secretConversation = (id: string, code: string) => ({
    id,
    messages: [{ id: "m1", author_name: "Ops", text: `The vault code for the server room is ${code}.`, timestamp: "2025-06-02T09:00:00Z" }],
  });

  it("never tells a tenant that another stored the same text: guessing a secret by ingesting it learns nothing, costs a provider call each time", async () => {
    const a = await newTenantKey("emb-a");
    const b = await newTenantKey("emb-b");
    const code = String(1000 + Math.floor(Math.random() * 9000));
    expect((await ingest(a.key, secretConversation(uid("vault"), code))).embeddings).toMatchObject({ computed: 1, cached: 0 });
    // The attacker tries the right code and two wrong ones: every answer is the same.
    const guesses = [String((Number(code) % 9000) + 1000 + 1), code, String((Number(code) % 9000) + 1000 + 2)];
    const results = [];
    for (const guess of guesses) results.push((await ingest(b.key, secretConversation(uid("guess"), guess))).embeddings);
    expect(results).toEqual(guesses.map(() => ({ computed: 1, cached: 0, provider_calls: 1 })));
    // Its own re-ingest of the same text in another conversation is still served from its cache.
    expect((await ingest(b.key, secretConversation(uid("again"), code))).embeddings).toMatchObject({ computed: 0, cached: 1 });
  });

  it("deleting a conversation leaves another tenant's cached vectors alone, and questions are cached per tenant too", async () => {
    const a = await newTenantKey("emb-del-a");
    const b = await newTenantKey("emb-del-b");
    const text = `Shared wording ${crypto.randomUUID()}`;
    const body = (id: string) => ({ id, messages: [{ id: "m1", author_name: "Ann", text, timestamp: "2025-06-02T09:00:00Z" }] });
    const [convA, convB] = [uid("a"), uid("b")];
    await ingest(a.key, body(convA));
    await ingest(b.key, body(convB));
    const { res } = await callWith(vars, "DELETE", `/api/conversations/${convB}`, undefined, b.key);
    expect(res.status).toBe(204);
    const sql = directSql();
    const rows = await sql<{ tenant_id: string }[]>`SELECT tenant_id FROM embedding_cache WHERE tenant_id IN (${a.tenant}, ${b.tenant})`;
    await sql.end();
    expect(rows.map((r) => r.tenant_id)).toEqual([a.tenant]);
    // A re-ingest by A finds its vector (no provider call).
    expect((await ingest(a.key, body(uid("a2")))).embeddings).toMatchObject({ computed: 0, cached: 1, provider_calls: 0 });

    // The same question from both: B's is embedded by the provider although A asked it first.
    const question = { query: `What is said about ${text}?`, cache: false, stream: false };
    const before = (await embeddingInputs()).filter((t) => t === question.query).length;
    for (const key of [a.key, b.key]) {
      const ask = await callWith(vars, "POST", "/api/rag/ask", question, key);
      expect(ask.res.status).toBe(200);
      await ask.res.text();
      await ask.settled();
    }
    expect((await embeddingInputs()).filter((t) => t === question.query).length - before).toBe(2);
  });
});

/** Two tenants whose data differ only in who said what: any crossing shows up as the other's word. */
function secretConversation(id: string, speaker: string, secret: string) {
  return {
    id,
    title: "Vault planning",
    messages: [
      { id: "m1", author_name: speaker, text: `The vault code for the launch is ${secret}.`, timestamp: "2025-04-01T09:00:00Z" },
      {
        id: "m2",
        author_name: speaker,
        text: `Only the release team may know ${secret}; rotate it after the launch.`,
        timestamp: "2025-04-01T09:01:00Z",
      },
    ],
  };
}

describe("tenant isolation matrix (every route that reads data, every cache tier, sessions)", () => {
  const shared = uid("vault");
  const onlyA = uid("vault-a");
  let a: { tenant: string; key: string };
  let b: { tenant: string; key: string };

  const ask = async (key: string, body: Record<string, unknown>, vars: Record<string, string> = {}) => {
    const { res, settled } = await callWith(vars, "POST", "/api/rag/ask", { stream: false, ...body }, key);
    const text = await res.text();
    await settled();
    return { res, text };
  };

  beforeAll(async () => {
    a = await newTenantKey("matrix-a");
    b = await newTenantKey("matrix-b");
    for (const [key, id, who, secret] of [
      [a.key, shared, "Alice", "ALPHA-7731"],
      [a.key, onlyA, "Alice", "ALPHA-7731"],
      [b.key, shared, "Bruno", "BRAVO-2208"],
    ] as const) {
      expect((await api("POST", "/api/conversations", { key, body: secretConversation(id, who, secret) })).status).toBe(201);
    }
  });

  for (const [tier, vars] of [
    ["L1 + KV", {}],
    [
      "L1 + Upstash",
      { CACHE_L2: "upstash", UPSTASH_REDIS_REST_URL: env.UPSTASH_TEST_URL || "http://127.0.0.1:1", UPSTASH_REDIS_REST_TOKEN: "test" },
    ],
  ] as const) {
    it(`the same question through ${tier}: each tenant gets its own answer, never the other's cached one`, async () => {
      const query = `What is the vault code for the launch (${tier})?`;
      const first = await ask(a.key, { query, conversation_id: shared }, vars);
      expect(first.res.status).toBe(200);
      expect(first.text).toContain("ALPHA-7731");
      const again = await ask(a.key, { query, conversation_id: shared }, vars);
      expect(again.res.headers.get("x-cache")).toMatch(/^HIT/);
      // Tenant B, same words, same conversation id: its own data, not A's cached answer (exact or
      // semantic). Its first ask misses; the rewordings may then hit B's own entry, never A's.
      const asked: (string | null)[] = [];
      for (const q of [query, `what is the vault code for the launch (${tier})`, `Tell me the vault code for the launch (${tier}).`]) {
        const other = await ask(b.key, { query: q, conversation_id: shared }, vars);
        expect(other.res.status).toBe(200);
        asked.push(other.res.headers.get("x-cache"));
        expect(other.text).toContain("BRAVO-2208");
        expect(other.text).not.toContain("ALPHA-7731");
        expect(other.text).not.toContain("Alice");
      }
      expect(asked[0]).toBe("MISS");

      // The retrieval cache, and a streamed ask, read the same tiers.
      const retrieve = async (key: string) => {
        const { res, settled } = await callWith(vars, "POST", "/api/rag/retrieve", { query, conversation_id: shared }, key);
        const text = await res.text();
        await settled();
        return { res, text };
      };
      expect((await retrieve(a.key)).text).toContain("ALPHA-7731");
      const cachedForA = await retrieve(a.key);
      expect(cachedForA.res.headers.get("x-cache")).toMatch(/^HIT/);
      const forB = await retrieve(b.key);
      expect(forB.res.headers.get("x-cache")).toBe("MISS");
      expect(forB.text).toContain("BRAVO-2208");
      expect(forB.text).not.toContain("ALPHA-7731");
      const { res: streamed, settled } = await callWith(vars, "POST", "/api/rag/ask", { query, conversation_id: shared }, b.key);
      expect(streamed.headers.get("content-type")).toMatch(/^text\/event-stream/);
      const events = await streamed.text();
      await settled();
      expect(events).toContain("BRAVO-2208");
      expect(events).not.toContain("ALPHA-7731");
    });
  }

  it("the other tenant's conversation id finds nothing: retrieve, ask, read", async () => {
    const retrieve = await api("POST", "/api/rag/retrieve", { key: b.key, body: { query: "vault code", conversation_id: onlyA } });
    expect(retrieve.status).toBe(200);
    expect(((await retrieve.json()) as { chunks: unknown[] }).chunks).toEqual([]);
    const answer = await ask(b.key, { query: "What is the vault code?", conversation_id: onlyA });
    expect(answer.text).not.toContain("ALPHA-7731");
    expect((await api("GET", `/api/conversations/${onlyA}`, { key: b.key })).status).toBe(404);
    // Unscoped, B searches only its own conversations.
    const all = await api("POST", "/api/rag/retrieve", { key: b.key, body: { query: "vault code launch" } });
    const text = await all.text();
    expect(text).toContain("BRAVO-2208");
    expect(text).not.toContain("ALPHA-7731");
  });

  it("the other tenant's session id is a different session: no history crosses", async () => {
    const session = uid("sess");
    const first = await ask(a.key, { query: "What is the vault code for the launch?", session_id: session, conversation_id: shared });
    expect(first.text).toContain("ALPHA-7731");
    const follow = await ask(b.key, { query: "Tell me more about that.", session_id: session });
    expect(follow.res.status).toBe(200);
    const body = JSON.parse(follow.text) as { history: { turns: number }; query: { standalone: string } };
    expect(body.history.turns).toBe(0);
    expect(follow.text).not.toContain("ALPHA-7731");
    expect(body.query.standalone).not.toContain("vault code");
    // A's session is untouched by B's use of the same id: one turn, A's own.
    const again = await ask(a.key, { query: "And who may know it?", session_id: session, conversation_id: shared });
    const mine = JSON.parse(again.text) as { history: { turns: number } };
    expect(mine.history.turns).toBe(1);
    expect(again.text).not.toContain("BRAVO-2208");
  });

  it("identical asks in flight from two tenants are not shared", async () => {
    const query = `Who may know the vault code ${uid("q")}?`;
    const [fromA, fromB] = await Promise.all([
      ask(a.key, { query, conversation_id: shared }),
      ask(b.key, { query, conversation_id: shared }),
    ]);
    expect(fromA.text).toContain("Alice");
    expect(fromA.text).not.toContain("Bruno");
    expect(fromB.text).toContain("Bruno");
    expect(fromB.text).not.toContain("Alice");
  });

  it("a user key cannot reach admin routes or metrics", async () => {
    expect((await api("POST", "/api/admin/cache/invalidate", { key: b.key, body: { tenant: a.tenant } })).status).toBe(403);
    expect((await api("GET", "/api/admin/cache/stats", { key: b.key })).status).toBe(403);
    expect((await api("GET", `/api/admin/keys?tenant=${a.tenant}`, { key: b.key })).status).toBe(403);
    expect((await api("GET", "/metrics", { key: b.key })).status).toBe(403);
  });
});
