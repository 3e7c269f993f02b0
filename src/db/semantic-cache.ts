import type { Db } from "./client.ts";
import { json } from "./json.ts";
import type { SemanticCandidate } from "./ports.ts";
import { toVectorLiteral } from "./vector.ts";

/**
 * The tenant's cached questions of a scope at least `threshold` similar to `vector`, best first
 * (exact cosine over the scope's rows, which `maxPerScope` keeps few). The answers stay in the
 * database: a miss reads none, a hit reads only its own (semanticEntry).
 */
export async function semanticCandidates(
  db: Db,
  tenantId: string,
  scopeKey: string,
  model: string,
  vector: Float32Array,
  threshold: number,
  limit: number,
): Promise<SemanticCandidate[]> {
  const v = toVectorLiteral(vector);
  const rows = await db<{ id: string; question: string; similarity: number }[]>`
    SELECT id::text AS id, question, 1 - (embedding <=> ${v}::vector) AS similarity FROM semantic_cache
    WHERE tenant_id = ${tenantId} AND scope_key = ${scopeKey} AND embedding_model = ${model} AND expires_at > now()
      AND embedding <=> ${v}::vector <= ${1 - threshold}
    ORDER BY embedding <=> ${v}::vector LIMIT ${limit}`;
  return rows.map((r) => ({ id: r.id, question: r.question, similarity: Number(r.similarity) }));
}

/** The cached answer of one entry of the tenant, if it has not expired. */
export async function semanticEntry(db: Db, tenantId: string, id: string): Promise<unknown> {
  const [row] = await db<{ entry: unknown }[]>`
    SELECT entry FROM semantic_cache WHERE tenant_id = ${tenantId} AND id = ${id}::bigint AND expires_at > now()`;
  if (!row) return undefined;
  return typeof row.entry === "string" ? JSON.parse(row.entry) : row.entry;
}

/** Caches a question's answer; the scope keeps its newest `maxPerScope` entries. */
export async function putSemanticEntry(
  db: Db,
  tenantId: string,
  scopeKey: string,
  model: string,
  question: string,
  vector: Float32Array,
  entry: unknown,
  ttlSeconds: number,
  maxPerScope: number,
): Promise<void> {
  // The DELETE does not see the row the INSERT adds (one snapshot): it keeps room for it.
  await db`
    WITH added AS (
      INSERT INTO semantic_cache (tenant_id, scope_key, question, embedding_model, embedding, entry, expires_at)
      VALUES (${tenantId}, ${scopeKey}, ${question}, ${model}, ${toVectorLiteral(vector)}::vector, ${json(db, entry)},
        now() + make_interval(secs => ${ttlSeconds}))
      RETURNING id)
    DELETE FROM semantic_cache WHERE tenant_id = ${tenantId} AND scope_key = ${scopeKey} AND id IN (
      SELECT id FROM semantic_cache WHERE tenant_id = ${tenantId} AND scope_key = ${scopeKey}
      ORDER BY id DESC OFFSET ${Math.max(0, maxPerScope - 1)})`;
}
