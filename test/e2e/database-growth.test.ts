// The embedded database serves every Worker connection from PGlite's one session, so whatever a
// connection leaves in the session stays there unless the server removes it. This runs rounds of
// every kind of request through the real Worker (`wrangler dev`, one connection per request, as in
// production) against a throwaway stack, and checks that the session's state does not grow with
// the number of requests: no prepared statement outlives its connection, and the backend's memory
// after eight more rounds is what it was after the warm-up.
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalStack, startLocalStack } from "../../scripts/lib/local-stack.ts";

let stack: LocalStack;
let sql: postgres.Sql;

beforeAll(async () => {
  stack = await startLocalStack();
  // prepare: false: the test's own connection must add no statement to what it counts.
  sql = postgres(stack.databaseUrl, { max: 1, prepare: false, onnotice: () => {} });
}, 300_000);

afterAll(async () => {
  await sql?.end();
  await stack?.stop();
});

async function call(method: string, path: string, body?: unknown): Promise<void> {
  const res = await fetch(`${stack.url}${path}`, {
    method,
    headers: { authorization: "Bearer dev-local-key", ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status >= 400) throw new Error(`${method} ${path}: ${res.status} ${text}`);
}

const SPEAKERS = ["John", "Priya", "Marco"];
const TOPICS = [
  "the launch timeline moved after the load tests failed",
  "billing needs a month of invoice mirroring",
  "the feature freeze is on March 28",
  "hiring reached the final round",
];
const conversation = (id: string, n: number) => ({
  id,
  title: `Growth ${id}`,
  messages: Array.from({ length: n }, (_, i) => ({
    id: `m${i + 1}`,
    author_name: SPEAKERS[i % SPEAKERS.length],
    text: `Message ${i + 1}: ${TOPICS[i % TOPICS.length]}.`,
    timestamp: new Date(Date.UTC(2025, 2, 3, 10) + i * 60_000).toISOString(),
  })),
});

let rounds = 0;
/** One of every kind of request that touches the database (11 requests). */
async function round(): Promise<void> {
  const id = `growth-${++rounds}`;
  await call("POST", "/api/conversations", conversation(id, 24));
  await call("POST", "/api/conversations", { ...conversation(id, 30), title: "Grown" });
  await call("GET", "/api/conversations");
  await call("GET", `/api/conversations/${id}`);
  await call("POST", "/api/rag/retrieve", { query: "When is the feature freeze?", conversation_id: id });
  await call("POST", "/api/rag/retrieve", { query: "What did Priya say about billing?", strategies: ["keyword", "semantic"] });
  await call("POST", "/api/rag/ask", { query: "Why did the launch timeline move?", conversation_id: id, cache: false, stream: false });
  await call("POST", "/api/rag/ask", { query: `Who reached the final round ${rounds}?`, cache: false });
  await call("POST", "/api/rag/ask", { query: "What about the invoice mirroring?", session_id: `s-${rounds}`, stream: false });
  await call("POST", "/api/rag/ask", { query: "Tell me more about that.", session_id: `s-${rounds}`, stream: false });
  await call("DELETE", `/api/conversations/${id}`);
}

const preparedStatements = async () => (await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM pg_prepared_statements`)[0]!.n;
const backendBytes = async () =>
  Number((await sql<{ n: string }[]>`SELECT sum(total_bytes)::bigint AS n FROM pg_backend_memory_contexts`)[0]!.n);

/** Polls until the Worker's connections have closed and taken their statements with them. */
async function noStatementsLeft(): Promise<number> {
  let n = await preparedStatements();
  for (let i = 0; i < 200 && n > 0; i++) {
    await new Promise((r) => setTimeout(r, 50));
    n = await preparedStatements();
  }
  return n;
}

describe("the embedded database's session under repeated requests through the Worker", () => {
  it("keeps no prepared statement of a closed connection, and its memory does not grow with the number of requests", async () => {
    // Warm-up: the first rounds fill the catalog and plan caches. That takes more than one: the
    // plan cache builds a statement's generic plan at its sixth execution (the foreign-key and
    // cascade checks' statements among them), and the backend's hash tables double as they fill,
    // once, around the ninth round (measured: flat from the tenth round through the twenty-fourth).
    for (let i = 0; i < 12; i++) await round();
    expect(await noStatementsLeft()).toBe(0);
    const warm = await backendBytes();

    for (let i = 0; i < 8; i++) await round();
    expect(await noStatementsLeft()).toBe(0);
    // Eight more rounds (88 requests, each leaving 2–10 statements of ≈ 5–20 KB when none were
    // released): a leak of even 750 bytes per request would pass this bound.
    expect((await backendBytes()) - warm).toBeLessThan(64 * 1024);
  }, 300_000);
});
