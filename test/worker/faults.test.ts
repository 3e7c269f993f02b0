import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { conversation, directSql, uid } from "./support/api";
import { launchConversation, tenantWithLaunch } from "./support/fixtures";
import { callWith } from "./support/sse";

const sql = directSql();
/** The binding pointed at a port where nothing listens: the database is unreachable. */
const deadDatabase = { HYPERDRIVE: { connectionString: "postgres://postgres:postgres@127.0.0.1:1/postgres" } };
/** The binding through the proxy a test can cut mid-transaction. */
const cuttable = { HYPERDRIVE: { connectionString: env.CUT_PROXY_DATABASE_URL } };
const control = (path: string) => fetch(`${env.CUT_PROXY_CONTROL_URL}${path}`, { method: "POST" });

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

    const uncached = await callWith({}, "POST", "/api/rag/ask", { ...question, query: "Why was the staging deploy rolled back?" }, tenant.key, deadDatabase);
    expect(uncached.res.status).toBe(503);
    expect(uncached.res.headers.get("retry-after")).toBeTruthy();
    expect(uncached.res.headers.get("content-type")).toBe("application/problem+json");

    const id = uid("never");
    const ingest = await callWith({}, "POST", "/api/conversations", launchConversation(id), tenant.key, deadDatabase);
    expect(ingest.res.status).toBe(503);
    expect(ingest.res.headers.get("retry-after")).toBeTruthy();
    expect(await sql`SELECT 1 FROM conversations WHERE tenant_id = ${tenant.tenant} AND id = ${id}`).toHaveLength(0);
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
});
