// A tenant with many chunks, loaded once before the workerd tests start (loading it while other
// tests run would block them: PGlite executes one statement at a time): 3,000 with vectors, enough
// for the planner to prefer the HNSW index, 1% by the speaker "Rare"; and 12,000 more without, for
// the GIN index: without the vectors in its rows (migrations/0009) the table is narrow, and at 3,000
// rows a sequential scan costs less than the index.
import type postgres from "postgres";
import { hashApiKey, keyPrefix } from "../../src/auth/api-key.ts";

export const BULK = { tenant: "bulk-plans", key: "bulk-plans-key", rows: 3000, textRows: 15_000, rareEvery: 100 } as const;

export async function loadBulkChunks(sql: postgres.Sql): Promise<void> {
  const t = BULK.tenant;
  await sql`INSERT INTO tenants (id) VALUES (${t})`;
  await sql`INSERT INTO api_keys (tenant_id, key_hash, key_prefix, role) VALUES (${t}, ${hashApiKey(BULK.key)}, ${keyPrefix(BULK.key)}, 'user')`;
  await sql`INSERT INTO conversations (tenant_id, id) VALUES (${t}, 'bulk')`;
  await sql`INSERT INTO tenant_embedding_models (tenant_id, provider, model, dimensions) VALUES (${t}, 'local', 'local-hash-v1', 384)`;
  await sql`
    WITH chunks AS (
    INSERT INTO conversation_chunks (tenant_id, conversation_id, order_index, text, message_ids, authors, author_types,
      author_type, start_ts, end_ts, token_count, content_hash)
    SELECT ${t}, 'bulk', g,
      'note ' || g || ' about ' || (ARRAY['budget','roadmap','hiring','billing','outage','design'])[1 + g % 6]
        || CASE WHEN g % 500 = 0 THEN ' zeppelin' ELSE '' END,
      ARRAY['m' || g], ARRAY[CASE WHEN g % ${BULK.rareEvery} = 0 THEN 'Rare' ELSE 'Common' END], ARRAY['human'], 'human',
      timestamptz '2025-01-01' + g * interval '1 minute', timestamptz '2025-01-01' + g * interval '1 minute',
      8, md5(g::text)
    FROM generate_series(1, ${BULK.rows}) AS g
    RETURNING id)
    INSERT INTO chunk_vectors (chunk_id, tenant_id, model, embedding)
    SELECT c.id, ${t}, 'local-hash-v1', v.vec FROM chunks c,
      LATERAL (SELECT array_agg(random() - 0.5)::vector(384) AS vec FROM generate_series(1, 384) WHERE c.id IS NOT NULL) AS v`;
  await sql`
    INSERT INTO conversation_chunks (tenant_id, conversation_id, order_index, text, message_ids, authors, author_types,
      author_type, start_ts, end_ts, token_count, content_hash)
    SELECT ${t}, 'bulk', g, 'note ' || g || ' about ' || (ARRAY['budget','roadmap','hiring','billing','outage','design'])[1 + g % 6],
      ARRAY['m' || g], ARRAY['Common'], ARRAY['human'], 'human',
      timestamptz '2025-01-01' + g * interval '1 minute', timestamptz '2025-01-01' + g * interval '1 minute', 8, md5(g::text)
    FROM generate_series(${BULK.rows + 1}::int, ${BULK.textRows}::int) AS g`;
  await sql`ANALYZE`;
}
