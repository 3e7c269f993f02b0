import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { api, directSql, newTenantKey } from "./support/api";

// Hostile input for the three write/read bodies: random JSON, unicode with lone surrogates and NUL,
// very long strings, deep nesting, __proto__ keys, bodies shaped almost like valid ones. The API
// must answer every one with 2xx or 4xx, never 5xx, and a 4xx must store nothing.

const sql = directSql();

/** Strings that break naive code: any code unit (lone surrogates included), NUL, control characters, long runs. */
const nasty = fc.oneof(
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.constantFrom(
    "\u0000",
    "a\u0000b",
    "\ud800",
    "x\udfffy",
    "\u202e",
    "<|endoftext|>",
    "__proto__",
    "constructor",
    "' OR 1=1 --",
    "$1",
    "\\",
    "%00",
  ),
  fc.integer({ min: 1_000, max: 40_000 }).map((n) => "ä".repeat(n)),
);

/** A JSON value of any shape, with nasty strings and keys (including __proto__). */
const anyJson = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small" },
    nasty,
    fc.double(),
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie("value"), { maxLength: 4 }),
    fc.dictionary(fc.oneof(nasty, fc.constantFrom("__proto__", "constructor", "prototype")), tie("value"), { maxKeys: 4 }),
  ),
})).value;

/** Almost an ingest body: the right keys, any values. */
const ingestLike = fc.record(
  {
    id: fc.oneof(nasty, anyJson),
    title: fc.oneof(nasty, anyJson),
    metadata: anyJson,
    mode: fc.oneof(fc.constantFrom("merge", "replace"), anyJson),
    messages: fc.oneof(
      fc.array(
        fc.record(
          {
            id: fc.oneof(nasty, anyJson),
            author_name: fc.oneof(nasty, anyJson),
            author_type: fc.oneof(fc.constant("human"), nasty),
            text: fc.oneof(nasty, anyJson),
            timestamp: fc.oneof(fc.constant("2025-03-01T10:00:00Z"), nasty, anyJson),
          },
          { requiredKeys: [] },
        ),
        { maxLength: 4 },
      ),
      anyJson,
    ),
  },
  { requiredKeys: [] },
);

/** A well-formed ingest body whose texts are hostile: it must be stored, or refused whole. */
const validIngest = fc.record({
  id: fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,20}$/),
  messages: fc
    .array(
      fc.record({
        author_name: fc.oneof(fc.constantFrom("Ann", "Bo", "Zoë"), nasty),
        text: nasty,
      }),
      { minLength: 1, maxLength: 3 },
    )
    .map((ms) => ms.map((m, i) => ({ id: `m${i}`, ...m, timestamp: `2025-03-01T10:0${i}:00Z` }))),
});

/** Almost a retrieve or ask body. */
const queryLike = fc.record(
  {
    query: fc.oneof(nasty, anyJson),
    conversation_id: fc.oneof(nasty, anyJson),
    session_id: fc.oneof(nasty, anyJson),
    filters: fc.oneof(
      anyJson,
      fc.record(
        { conversation_ids: anyJson, author_names: anyJson, from: fc.oneof(nasty, anyJson), to: fc.oneof(nasty, anyJson) },
        { requiredKeys: [] },
      ),
    ),
    top_k: fc.oneof(fc.integer(), fc.double(), nasty),
    token_budget: fc.oneof(fc.integer(), fc.double(), nasty),
    strategies: anyJson,
    strategy: fc.oneof(fc.constantFrom("relevance", "diversity", "hybrid"), nasty),
    max_tokens: fc.oneof(fc.integer(), nasty),
    temperature: fc.oneof(fc.double(), nasty),
    stream: fc.oneof(fc.constant(false), fc.constant(true), anyJson),
    cache: anyJson,
  },
  { requiredKeys: [] },
);

/** Raw bodies that are not JSON at all, or JSON nested far too deep. */
const rawBody = fc.oneof(
  fc.string({ unit: "binary", maxLength: 200 }),
  fc.integer({ min: 1_000, max: 20_000 }).map((depth) => "[".repeat(depth) + "]".repeat(depth)),
  fc.integer({ min: 1_000, max: 20_000 }).map((depth) => `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`),
  fc.constantFrom(
    '{"__proto__":{"polluted":true},"id":"x","messages":[]}',
    '{"query":"\\ud800"}',
    "\u0000",
    '{"a":1',
    "null",
    "[]",
    '"text"',
  ),
);

let tenant: { tenant: string; key: string };

/** Every row the tenant owns, by table: a 4xx must change none of them. */
async function stored() {
  const [row] = await sql`SELECT (SELECT count(*) FROM conversations WHERE tenant_id = ${tenant.tenant})::int AS c,
                                 (SELECT count(*) FROM messages WHERE tenant_id = ${tenant.tenant})::int AS m,
                                 (SELECT count(*) FROM conversation_chunks WHERE tenant_id = ${tenant.tenant})::int AS k,
                                 (SELECT count(*) FROM chat_sessions WHERE tenant_id = ${tenant.tenant})::int AS s,
                                 (SELECT count(*) FROM chat_turns WHERE tenant_id = ${tenant.tenant})::int AS t`;
  return row as { c: number; m: number; k: number; s: number; t: number };
}

async function send(path: string, body: unknown, raw = false, method = "POST") {
  const res = await api(
    method,
    path,
    method === "POST"
      ? { key: tenant.key, body: raw ? (body as string) : JSON.stringify(body), headers: { "content-type": "application/json" } }
      : { key: tenant.key },
  );
  const text = await res.text();
  if (res.status >= 500) throw new Error(`${path} answered ${res.status} to ${JSON.stringify(body).slice(0, 300)}: ${text.slice(0, 300)}`);
  if (res.status >= 400) {
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    // Never a stack trace, SQL or a secret in an error body.
    expect(text).not.toMatch(/\bat .+\.(ts|js):\d+|SELECT |INSERT |postgres:\/\/|sk-/);
  }
  return res.status;
}

describe("fuzzing the request bodies", () => {
  beforeAll(async () => {
    tenant = await newTenantKey("fuzz");
  });

  it("ingest: any body gets 2xx or 4xx, and a 4xx stores nothing", async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(ingestLike, anyJson), async (body) => {
        const before = await stored();
        const status = await send("/api/conversations", body);
        if (status >= 400) expect(await stored()).toEqual(before);
      }),
      { numRuns: 150 },
    );
  });

  it("ingest: well-formed bodies with hostile text are stored, or refused whole, and can be searched", async () => {
    const statuses: number[] = [];
    await fc.assert(
      fc.asyncProperty(validIngest, nasty, async (body, query) => {
        const before = await stored();
        const status = await send("/api/conversations", body);
        statuses.push(status);
        if (status >= 400) expect(await stored()).toEqual(before);
        await send("/api/rag/retrieve", { query, conversation_id: body.id });
        await send("/api/rag/ask", { query, conversation_id: body.id, stream: false });
      }),
      { numRuns: 60 },
    );
    // The generator must reach the storing path, or this test proves nothing.
    expect(statuses.filter((s) => s < 300).length).toBeGreaterThan(10);
  });

  it("ingest: raw, broken or deeply nested bodies get 4xx and store nothing", async () => {
    await fc.assert(
      fc.asyncProperty(rawBody, async (body) => {
        const before = await stored();
        const status = await send("/api/conversations", body, true);
        expect(status).toBeGreaterThanOrEqual(400);
        expect(await stored()).toEqual(before);
      }),
      { numRuns: 60 },
    );
  });

  it("retrieve and ask: any body gets 2xx or 4xx, and a 4xx stores nothing (no session, no turn)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(queryLike, anyJson), fc.constantFrom("/api/rag/retrieve", "/api/rag/ask"), async (body, path) => {
        const before = await stored();
        if ((await send(path, body)) >= 400) expect(await stored()).toEqual(before);
      }),
      { numRuns: 200 },
    );
    await fc.assert(
      fc.asyncProperty(rawBody, fc.constantFrom("/api/rag/retrieve", "/api/rag/ask"), async (body, path) => {
        const before = await stored();
        expect(await send(path, body, true)).toBeGreaterThanOrEqual(400);
        expect(await stored()).toEqual(before);
      }),
      { numRuns: 60 },
    );
  });

  it("paths and query strings: any conversation id, cursor or limit gets 2xx or 4xx and changes nothing unless it deletes", async () => {
    // Any bytes, percent-encoded: NUL, invalid UTF-8, '/', encoded lone surrogates (%ED%A0%80).
    const bytes = fc
      .uint8Array({ maxLength: 40 })
      .map((b) => [...b].map((x) => `%${x.toString(16).padStart(2, "0").toUpperCase()}`).join(""));
    const text = fc
      .oneof(nasty, fc.constantFrom("%00", "%ED%A0%80", "..", "%2F", "a".repeat(5000)))
      .map((t) => encodeURIComponent(t.toWellFormed()));
    const segment = fc.oneof(bytes, text, fc.constantFrom("%00", "a%00b", "%ED%A0%80", "%FF", "%", "%2"));
    const cursor = fc.oneof(segment, fc.constantFrom("AA==", "YQBi", btoa("a\u0000b"), "////", "=", "%00"));
    await fc.assert(
      fc.asyncProperty(segment, cursor, fc.oneof(fc.integer().map(String), segment), async (id, c, limit) => {
        const before = await stored();
        expect(await send(`/api/conversations/${id}`, undefined, false, "GET")).toBeLessThan(500);
        expect(await send(`/api/conversations?cursor=${c}&limit=${limit}`, undefined, false, "GET")).toBeLessThan(500);
        const deleted = await send(`/api/conversations/${id}`, undefined, false, "DELETE");
        expect(deleted).toBeLessThan(500);
        if (deleted !== 204) expect(await stored()).toEqual(before);
      }),
      { numRuns: 120 },
    );
  });

  it("a __proto__ key pollutes nothing", async () => {
    await send(
      "/api/conversations",
      '{"__proto__":{"polluted":true},"id":"p","messages":[{"id":"m1","author_name":"A","text":"hi","timestamp":"2025-03-01T10:00:00Z","__proto__":{"admin":true}}]}',
      true,
    );
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
    expect(({} as { admin?: unknown }).admin).toBeUndefined();
  });
});
