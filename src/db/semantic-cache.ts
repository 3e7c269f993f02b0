import type { Db } from "./client.ts";
import { json } from "./json.ts";
import { toVectorLiteral } from "./vector.ts";

export interface SemanticCandidate {
  question: string;
  similarity: number;
  entry: unknown;
}

/** The cached questions of this tenant and scope nearest to `vector` (exact cosine over the scope's few rows). */
export async function nearestCachedQuestions(
  db: Db,
  tenantId: string,
  scopeKey: string,
  model: string,
  vector: Float32Array,
  limit: number,
): Promise<SemanticCandidate[]> {
  const v = toVectorLiteral(vector);
  const rows = await db<{ question: string; similarity: number; entry: unknown }[]>`
    SELECT question, 1 - (embedding <=> ${v}::vector) AS similarity, entry FROM semantic_cache
    WHERE tenant_id = ${tenantId} AND scope_key = ${scopeKey} AND embedding_model = ${model} AND expires_at > now()
    ORDER BY embedding <=> ${v}::vector LIMIT ${limit}`;
  return rows.map((r) => ({
    question: r.question,
    similarity: Number(r.similarity),
    entry: typeof r.entry === "string" ? JSON.parse(r.entry) : r.entry,
  }));
}

export async function putCachedQuestion(
  db: Db,
  tenantId: string,
  scopeKey: string,
  model: string,
  question: string,
  vector: Float32Array,
  entry: unknown,
  ttlSeconds: number,
): Promise<void> {
  await db`
    INSERT INTO semantic_cache (tenant_id, scope_key, question, embedding_model, embedding, entry, expires_at)
    VALUES (${tenantId}, ${scopeKey}, ${question}, ${model}, ${toVectorLiteral(vector)}::vector, ${json(db, entry)}, now() + make_interval(secs => ${ttlSeconds}))`;
}
