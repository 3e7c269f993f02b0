import type { Db } from "./client.ts";

// Maintenance across tenants, run by the scheduled handler only; it returns counts, never rows.

/** Deletes cached embeddings unused for `days` that no current chunk has (shared across tenants by text hash). */
export async function pruneEmbeddingCache(db: Db, days: number): Promise<number> {
  // The cache keys on the SHA-256 of a chunk's text; live texts are hashed once per run.
  const rows = await db`
    WITH live AS (
      SELECT DISTINCT embedding_model AS model, encode(sha256(convert_to(text, 'UTF8')), 'hex') AS text_hash FROM conversation_chunks)
    DELETE FROM embedding_cache e
    WHERE e.last_used_at < now() - make_interval(days => ${days})
      AND NOT EXISTS (SELECT 1 FROM live WHERE live.model = e.model AND live.text_hash = e.content_hash)
    RETURNING 1`;
  return rows.length;
}

/** Deletes sessions (and their turns) not used for `days`. */
export async function pruneSessions(db: Db, days: number): Promise<number> {
  const rows = await db`DELETE FROM chat_sessions WHERE updated_at < now() - make_interval(days => ${days}) RETURNING 1`;
  return rows.length;
}

/** Drops expired semantic-cache entries. */
export async function pruneSemanticCache(db: Db): Promise<number> {
  return (await db`DELETE FROM semantic_cache WHERE expires_at <= now() RETURNING 1`).length;
}
