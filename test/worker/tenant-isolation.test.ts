import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { api, conversation, newTenantKey, problem, uid } from "./support/api";
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

/** Two tenants whose data differ only in who said what: any crossing shows up as the other's word. */
function secretConversation(id: string, speaker: string, secret: string) {
  return {
    id,
    title: "Vault planning",
    messages: [
      { id: "m1", author_name: speaker, text: `The vault code for the launch is ${secret}.`, timestamp: "2025-04-01T09:00:00Z" },
      { id: "m2", author_name: speaker, text: `Only the release team may know ${secret}; rotate it after the launch.`, timestamp: "2025-04-01T09:01:00Z" },
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
    ["L1 + Upstash", { CACHE_L2: "upstash", UPSTASH_REDIS_REST_URL: env.UPSTASH_TEST_URL || "http://127.0.0.1:1", UPSTASH_REDIS_REST_TOKEN: "test" }],
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
    const [fromA, fromB] = await Promise.all([ask(a.key, { query, conversation_id: shared }), ask(b.key, { query, conversation_id: shared })]);
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
