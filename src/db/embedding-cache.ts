import type { Db } from "./client.ts";
import { json } from "./json.ts";
import { fromVectorLiteral, toVectorLiteral } from "./vector.ts";

// Cached vectors belong to one tenant: a tenant never learns, through counts or timing, that
// another stored or asked the same text (migrations/0004).

/** The tenant's cached vectors for these text hashes under `model`; touches last_used_at so housekeeping keeps them. */
export async function getCachedEmbeddings(db: Db, tenantId: string, model: string, hashes: string[]): Promise<Map<string, Float32Array>> {
  const found = new Map<string, Float32Array>();
  if (hashes.length === 0) return found;
  const rows = await db<{ content_hash: string; embedding: string }[]>`
    UPDATE embedding_cache SET last_used_at = now()
    WHERE tenant_id = ${tenantId} AND model = ${model} AND content_hash IN (SELECT jsonb_array_elements_text(${json(db, hashes)}::jsonb))
    RETURNING content_hash, embedding::text AS embedding`;
  for (const r of rows) found.set(r.content_hash, fromVectorLiteral(r.embedding));
  return found;
}

/**
 * Which of these text hashes the tenant has a cached vector for under `model`, without reading the
 * vectors (an ingest's chunks take theirs from the cache in SQL: insertChunks); touches
 * last_used_at as getCachedEmbeddings does.
 */
export async function touchCachedEmbeddings(db: Db, tenantId: string, model: string, hashes: string[]): Promise<Set<string>> {
  if (hashes.length === 0) return new Set();
  const rows = await db<{ content_hash: string }[]>`
    UPDATE embedding_cache SET last_used_at = now()
    WHERE tenant_id = ${tenantId} AND model = ${model} AND content_hash IN (SELECT jsonb_array_elements_text(${json(db, hashes)}::jsonb))
    RETURNING content_hash`;
  return new Set(rows.map((r) => r.content_hash));
}

export async function putCachedEmbeddings(
  db: Db,
  tenantId: string,
  model: string,
  entries: { hash: string; embedding: Float32Array }[],
): Promise<void> {
  if (entries.length === 0) return;
  const rows = entries.map((e) => ({ content_hash: e.hash, embedding: toVectorLiteral(e.embedding) }));
  await db`
    INSERT INTO embedding_cache (tenant_id, model, content_hash, embedding)
    SELECT ${tenantId}, ${model}, r.content_hash, r.embedding::vector
    FROM jsonb_to_recordset(${json(db, rows)}::jsonb) AS r(content_hash text, embedding text)
    ON CONFLICT (tenant_id, model, content_hash) DO UPDATE SET last_used_at = now()`;
}
