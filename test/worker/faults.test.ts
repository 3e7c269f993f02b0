import { env } from "cloudflare:test";
import postgres from "postgres";
import { beforeAll, describe, expect, it } from "vitest";
import { hashApiKey } from "../../src/auth/api-key";
import { keyCache } from "../../src/auth/key-cache";
import { counters } from "../../src/observability/counters";
import { ADMIN_KEY, api, conversation, DEV_KEY, directSql, newTenantKey, uid } from "./support/api";
import { launchConversation, tenantWithLaunch } from "./support/fixtures";
import { callWith } from "./support/sse";
import { waitFor } from "./support/wait";

const sql = directSql();
/** The binding pointed at a port where nothing listens: the database is unreachable. */
const deadDatabase = { HYPERDRIVE: { connectionString: "postgres://postgres:postgres@127.0.0.1:1/postgres" } };
/** The binding through the proxy a test can cut mid-transaction. */
const cuttable = { HYPERDRIVE: { connectionString: env.CUT_PROXY_DATABASE_URL } };
const control = (path: string) => fetch(`${env.CUT_PROXY_CONTROL_URL}${path}`, { method: "POST" });
/** The binding to a second database, in a process the test kills (SIGKILL) and starts again. */
const stoppable = { HYPERDRIVE: { connectionString: env.STOPPABLE_DATABASE_URL } };
const database = async <T>(path: string) => (await fetch(`${env.STOPPABLE_CONTROL_URL}${path}`, { method: "POST" })).json() as Promise<T>;

describe("faults", () => {
  let tenant: { tenant: string; key: string };
  const conv = uid("faults");

  beforeAll(async () => {
    tenant = await tenantWithLaunch("faults", conv);
  });

  it("with the database unreachable: a cached answer is still served, other asks and ingests get 503 with Retry-After", async () => {
    const question = { query: "Who takes the Saturday support shift?", conversation_id: conv, stream: false };
    const warm = await callWith({}, "POST", "/api/rag/ask", question, tenant.key);
    expect(warm.res.status).toBe(200);
    await warm.res.json();
    await warm.settled();

    const cached = await callWith({}, "POST", "/api/rag/ask", question, tenant.key, deadDatabase);
    expect(cached.res.status).toBe(200);
    expect(cached.res.headers.get("x-cache")).toMatch(/^HIT/);

    const uncached = await callWith(
      {},
      "POST",
      "/api/rag/ask",
      { ...question, query: "Why was the staging deploy rolled back?" },
      tenant.key,
      deadDatabase,
    );
    expect(uncached.res.status).toBe(503);
    expect(uncached.res.headers.get("retry-after")).toBeTruthy();
    expect(uncached.res.headers.get("content-type")).toBe("application/problem+json");

    const id = uid("never");
    const ingest = await callWith({}, "POST", "/api/conversations", launchConversation(id), tenant.key, deadDatabase);
    expect(ingest.res.status).toBe(503);
    expect(ingest.res.headers.get("retry-after")).toBeTruthy();
    expect(await sql`SELECT 1 FROM conversations WHERE tenant_id = ${tenant.tenant} AND id = ${id}`).toHaveLength(0);
  });

  it("with the database unreachable, a key the isolate has not verified lately still gets cached answers from the L2 copy of its owner; a revoked key does not", async () => {
    const owner = await newTenantKey("faults-copy");
    const id = uid("copy");
    expect((await callWith({}, "POST", "/api/conversations", launchConversation(id), owner.key)).res.status).toBe(201);
    const question = { query: "Who takes the Saturday support shift?", conversation_id: id, stream: false };
    const warm = await callWith({}, "POST", "/api/rag/ask", question, owner.key);
    expect(warm.res.status).toBe(200);
    await warm.res.json();
    await warm.settled();
    const copy = `c:auth:v1:owner:${hashApiKey(owner.key)}`;
    expect(await waitFor(async () => (await env.CACHE_KV.get(copy)) !== null)).toBe(true);

    // As in a new isolate: nothing remembered, and the database is down.
    keyCache.clear();
    const copies = counters.get("rag_fallbacks_total", { kind: "auth_copy" });
    const cached = await callWith({}, "POST", "/api/rag/ask", question, owner.key, deadDatabase);
    expect(cached.res.status).toBe(200);
    expect(cached.res.headers.get("x-cache")).toMatch(/^HIT/);
    expect(counters.get("rag_fallbacks_total", { kind: "auth_copy" }) - copies).toBe(1);
    // Not a cached answer: the database's 503. A key without a copy cannot be checked: 503, not 401.
    const uncached = await callWith(
      {},
      "POST",
      "/api/rag/ask",
      { ...question, query: "Why was the staging deploy rolled back?" },
      owner.key,
      deadDatabase,
    );
    expect(uncached.res.status).toBe(503);
    expect((await callWith({}, "POST", "/api/rag/ask", question, "crag_never-issued", deadDatabase)).res.status).toBe(503);

    // Revoked (database up), then the database goes down again: the tombstone keeps it out.
    expect((await api("DELETE", `/api/admin/keys/${owner.id}`, { key: ADMIN_KEY })).status).toBe(204);
    keyCache.clear();
    const revoked = await callWith({}, "POST", "/api/rag/ask", question, owner.key, deadDatabase);
    expect(revoked.res.status).toBe(401);
  });

  it("a database connection cut in the middle of an ingest leaves no partial conversation, and the next ingest succeeds", async () => {
    const id = uid("cut");
    const body = conversation(id, 400);
    await control("/arm?afterBytes=30000");
    const cut = await callWith({}, "POST", "/api/conversations", body, tenant.key, cuttable);
    await control("/disarm");
    expect(cut.res.status).toBe(503);
    expect(cut.res.headers.get("retry-after")).toBeTruthy();
    const rows = await sql`SELECT (SELECT count(*) FROM conversations WHERE tenant_id = ${tenant.tenant} AND id = ${id})::int AS c,
                                  (SELECT count(*) FROM messages WHERE tenant_id = ${tenant.tenant} AND conversation_id = ${id})::int AS m,
                                  (SELECT count(*) FROM conversation_chunks WHERE tenant_id = ${tenant.tenant} AND conversation_id = ${id})::int AS k`;
    expect(rows[0]).toEqual({ c: 0, m: 0, k: 0 });
    const again = await callWith({}, "POST", "/api/conversations", body, tenant.key, cuttable);
    expect(again.res.status).toBe(201);
    const [stored] = await sql`SELECT count(*)::int AS m FROM messages WHERE tenant_id = ${tenant.tenant} AND conversation_id = ${id}`;
    expect(stored!.m).toBe(400);
  });

  // Hyperdrive pools connections per transaction, so only SET LOCAL holds: each search must carry
  // its statement_timeout in its own transaction, ahead of the statement, on the same connection.
  // The proxy reports the markers in the order each was last sent before the trip: the setting
  // after the last BEGIN, and no COMMIT since. (That Postgres then cancels the statement is
  // checked on a real server: statement-timeout.test.ts.)
  const markers = (setting: string) => ["begin", "commit", setting].map((m) => `&marker=${encodeURIComponent(m)}`).join("");
  const statusReport = async () => (await (await control("/status")).json()) as { tripped: boolean; sentBeforeTrip: string[] };

  it.each([
    ["keyword", "scope_stats AS"],
    ["semantic", "nearest AS MATERIALIZED"],
    ["multi_query", "SELECT DISTINCT unnest(c.authors)"],
  ])(
    "a %s retrieve sends its search statement in a transaction, after DB_READ_TIMEOUT_MS as statement_timeout",
    async (strategy, statement) => {
      const setting = "set_config('statement_timeout', '4321', true)";
      await control(`/arm?on=${encodeURIComponent(statement)}${markers(setting)}`);
      // A filter no earlier request used: the scope's speakers are looked up, not remembered.
      const body = { query: "Who takes the Saturday support shift?", strategies: [strategy], filters: { author_names: [uid("speaker")] } };
      const { res } = await callWith(
        { DB_READ_TIMEOUT_MS: "4321", CACHE_ENABLED: "false" },
        "POST",
        "/api/rag/retrieve",
        body,
        tenant.key,
        cuttable,
      );
      await control("/disarm");
      const report = await statusReport();
      expect(report.tripped).toBe(true);
      expect(report.sentBeforeTrip.slice(-2)).toEqual(["begin", setting]);
      // The cut connection fails the strategy: an answer naming it, or 503 when nothing else answered.
      expect([200, 503]).toContain(res.status);
      await res.arrayBuffer();
    },
  );

  it("an ingest sends its writes in a transaction, after DB_STATEMENT_TIMEOUT_MS as statement_timeout", async () => {
    const setting = "set_config('statement_timeout', '12345', true)";
    await control(`/arm?on=${encodeURIComponent("INSERT INTO messages")}${markers(setting)}`);
    const { res } = await callWith(
      { DB_STATEMENT_TIMEOUT_MS: "12345" },
      "POST",
      "/api/conversations",
      conversation(uid("timed"), 5),
      tenant.key,
      cuttable,
    );
    await control("/disarm");
    const report = await statusReport();
    expect(report.tripped).toBe(true);
    expect(report.sentBeforeTrip.slice(-2)).toEqual(["begin", setting]);
    expect(res.status).toBe(503);
  });

  it("the database process killed in the middle of an ingest: 503; after it restarts the conversation is wholly absent, earlier ones intact, and the retry succeeds", async () => {
    const kept = uid("kept");
    const lost = uid("lost");
    const first = await callWith({}, "POST", "/api/conversations", conversation(kept, 60), DEV_KEY, stoppable);
    expect(first.res.status).toBe(201);

    // Killed when the ingest sends its chunk insert: by then its transaction has begun and written
    // the conversation row and all 400 messages.
    const insertChunks = encodeURIComponent("INSERT INTO conversation_chunks");
    await database(`/arm?on=${insertChunks}&marker=begin&marker=${encodeURIComponent("INSERT INTO messages")}`);
    const killed = await callWith({}, "POST", "/api/conversations", conversation(lost, 400), DEV_KEY, stoppable);
    expect(killed.res.status).toBe(503);
    expect(killed.res.headers.get("retry-after")).toBeTruthy();
    expect(killed.res.headers.get("content-type")).toBe("application/problem+json");
    const report = await database<{ tripped: boolean; sentBeforeTrip: string[] }>("/status");
    expect(report.tripped).toBe(true);
    expect(report.sentBeforeTrip.sort()).toEqual(["begin", "insert into messages"]);

    // While it is down, an ingest is refused the same way.
    const whileDown = await callWith({}, "POST", "/api/conversations", conversation(uid("down"), 5), DEV_KEY, stoppable);
    expect(whileDown.res.status).toBe(503);

    await database("/start");
    const db = postgres(env.STOPPABLE_DATABASE_URL, { max: 1, fetch_types: false, onnotice: () => {} });
    try {
      const count = async (id: string) =>
        (
          await db`SELECT (SELECT count(*) FROM conversations WHERE tenant_id = 'dev' AND id = ${id})::int AS c,
                          (SELECT count(*) FROM messages WHERE tenant_id = 'dev' AND conversation_id = ${id})::int AS m,
                          (SELECT count(*) FROM conversation_chunks WHERE tenant_id = 'dev' AND conversation_id = ${id})::int AS k`
        )[0];
      const keptRows = await count(kept);
      expect(keptRows).toMatchObject({ c: 1, m: 60 });
      expect(keptRows!.k).toBeGreaterThan(0);
      expect(await count(lost)).toEqual({ c: 0, m: 0, k: 0 });

      const again = await callWith({}, "POST", "/api/conversations", conversation(lost, 400), DEV_KEY, stoppable);
      expect(again.res.status).toBe(201);
      expect((await count(lost))!.m).toBe(400);
    } finally {
      await db.end();
    }
  });
});
