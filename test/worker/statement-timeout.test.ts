import { env } from "cloudflare:test";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keywordSearch } from "../../src/db/search";
import { toApiError } from "../../src/to-api-error";

// PGlite stores a statement_timeout but never fires it (one thread, no timer signals), so these run
// on a real PostgreSQL server (test/helpers/real-postgres.ts; CI installs it). Debian's server has
// no pgvector: the table holds the columns the keyword search reads, with the real migration's types.
describe.skipIf(!env.REAL_POSTGRES_URL)("search statements on a real PostgreSQL server", () => {
  const tenantId = "timeouts";
  // One connection, as the Worker's client would hand one to the next statement of a request.
  let sql: postgres.Sql;

  beforeAll(async () => {
    sql = postgres(env.REAL_POSTGRES_URL, { max: 1, fetch_types: false, prepare: true, onnotice: () => {} });
    await sql`DROP TABLE IF EXISTS conversation_chunks`;
    await sql`CREATE TABLE conversation_chunks (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(), tenant_id text NOT NULL, conversation_id text NOT NULL,
      order_index integer NOT NULL, text text NOT NULL, message_ids text[] NOT NULL, authors text[] NOT NULL,
      author_types text[] NOT NULL, start_ts timestamptz NOT NULL, end_ts timestamptz NOT NULL, token_count integer NOT NULL,
      tsv tsvector GENERATED ALWAYS AS (to_tsvector('english'::regconfig, text)) STORED)`;
    await sql`CREATE INDEX ON conversation_chunks USING gin (tsv)`;
    // 20,000 chunks that all match the query: ranking them takes far longer than a millisecond.
    await sql`INSERT INTO conversation_chunks (tenant_id, conversation_id, order_index, text, message_ids, authors, author_types, start_ts, end_ts, token_count)
      SELECT ${tenantId}, 'c' || (i / 100), i % 100, 'the budget review moved the roadmap by week ' || i, ARRAY['m' || i], ARRAY['Ann'], ARRAY['human'],
             now(), now(), 12
      FROM generate_series(1, 20000) AS i`;
    await sql`ANALYZE conversation_chunks`;
  });

  afterAll(async () => {
    await sql?.end();
  });

  it("with room, the keyword search returns its hits", async () => {
    const hits = await keywordSearch(sql, { tenantId }, "budget roadmap", 60, 10_000);
    expect(hits).toHaveLength(60);
  });

  it("past its timeout Postgres cancels it (57014), the API answers 503 with Retry-After, and the setting ends with the transaction", async () => {
    const error = await keywordSearch(sql, { tenantId }, "budget roadmap", 60, 1).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toMatchObject({ code: "57014" });
    const answer = toApiError(error);
    expect(answer.status).toBe(503);
    expect(answer.headers).toMatchObject({ "retry-after": "5" });

    // The same connection, outside the transaction: the server's default again, nothing left over.
    const [row] = await sql<{ statement_timeout: string }[]>`SHOW statement_timeout`;
    expect(row!.statement_timeout).toBe("0");
    expect(await keywordSearch(sql, { tenantId }, "budget roadmap", 5, 10_000)).toHaveLength(5);
  });
});
