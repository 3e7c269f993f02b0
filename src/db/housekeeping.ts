import type { Db } from "./client.ts";

// Maintenance and statistics across tenants (the cron and the admin stats route); counts only, never rows.

/** Deletes cached embeddings unused for `days` that none of their tenant's current chunks has. */
export async function pruneEmbeddingCache(db: Db, days: number): Promise<number> {
  // The cache keys on the SHA-256 of a chunk's text; live texts are hashed once per run.
  const rows = await db`
    WITH live AS (
      SELECT DISTINCT c.tenant_id, v.model, encode(sha256(convert_to(c.text, 'UTF8')), 'hex') AS text_hash
      FROM conversation_chunks c JOIN chunk_vectors v ON v.tenant_id = c.tenant_id AND v.chunk_id = c.id)
    DELETE FROM embedding_cache e
    WHERE e.last_used_at < now() - make_interval(days => ${days})
      AND NOT EXISTS (SELECT 1 FROM live WHERE live.tenant_id = e.tenant_id AND live.model = e.model AND live.text_hash = e.content_hash)
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

/** Rows and on-disk bytes (table and indexes) of the Postgres-backed caches, for the stats route. */
export async function cacheTableSizes(db: Db): Promise<Record<"semantic_cache" | "embedding_cache", { entries: number; bytes: number }>> {
  const [row] = await db<{ s_rows: number; s_bytes: string; e_rows: number; e_bytes: string }[]>`
    SELECT (SELECT count(*) FROM semantic_cache WHERE expires_at > now())::int AS s_rows, pg_total_relation_size('semantic_cache') AS s_bytes,
           (SELECT count(*) FROM embedding_cache)::int AS e_rows, pg_total_relation_size('embedding_cache') AS e_bytes`;
  return {
    semantic_cache: { entries: row!.s_rows, bytes: Number(row!.s_bytes) },
    embedding_cache: { entries: row!.e_rows, bytes: Number(row!.e_bytes) },
  };
}

/** Entries of the Postgres-backed caches that belong to one tenant (what its admin may see). */
export async function tenantCacheEntries(
  db: Db,
  tenantId: string,
): Promise<Record<"semantic_cache" | "embedding_cache", { entries: number }>> {
  const [row] = await db<{ s: number; e: number }[]>`
    SELECT (SELECT count(*) FROM semantic_cache WHERE tenant_id = ${tenantId} AND expires_at > now())::int AS s,
           (SELECT count(*) FROM embedding_cache WHERE tenant_id = ${tenantId})::int AS e`;
  return { semantic_cache: { entries: row!.s }, embedding_cache: { entries: row!.e } };
}

/**
 * Unfinished imports (of every tenant: the cron's watchdog) whose steps have been silent for
 * `stallMinutes`: their queue message was lost (a local restart drops Miniflare's in-memory
 * queue). Their heartbeat is set to now, so the next run waits as long again before it takes them
 * a second time. Returns the jobs to queue again, which nothing shows to any tenant.
 */
export async function claimStalledImports(db: Db, stallMinutes: number): Promise<{ tenantId: string; id: string }[]> {
  const rows = await db<{ tenant_id: string; id: string }[]>`
    UPDATE imports SET heartbeat_at = now()
    WHERE status IN ('queued', 'running') AND heartbeat_at < now() - make_interval(mins => ${stallMinutes})
    RETURNING tenant_id, id::text`;
  return rows.map((r) => ({ tenantId: r.tenant_id, id: r.id }));
}

/** Unfinished re-embedding jobs silent for `stallMinutes` (their queue message was lost), their heartbeat renewed. */
export async function claimStalledReembeds(db: Db, stallMinutes: number): Promise<{ tenantId: string; id: string }[]> {
  const rows = await db<{ tenant_id: string; id: string }[]>`
    UPDATE reembed_jobs SET heartbeat_at = now()
    WHERE status IN ('queued', 'running', 'switched') AND heartbeat_at < now() - make_interval(mins => ${stallMinutes})
    RETURNING tenant_id, id::text`;
  return rows.map((r) => ({ tenantId: r.tenant_id, id: r.id }));
}
