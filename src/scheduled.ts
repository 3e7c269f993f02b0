import { configFor } from "./config.ts";
import { createSql } from "./db/client.ts";
import { pruneEmbeddingCache, pruneSemanticCache, pruneSessions } from "./db/housekeeping.ts";

/**
 * The cron's housekeeping (wrangler.toml [triggers]): drops cached embeddings that no chunk uses
 * and nobody asked for within EMBEDDING_CACHE_RETENTION_DAYS, and sessions idle for
 * SESSION_RETENTION_DAYS, and expired semantic-cache rows. Answer and retrieval cache entries need no sweep: they expire by TTL and
 * invalidation never scans keys. Logs one JSON line with the counts.
 */
export async function housekeeping(env: Env): Promise<{ embeddings: number; sessions: number; semantic: number }> {
  const config = configFor(env);
  const sql = createSql(env.HYPERDRIVE);
  const embeddings = await pruneEmbeddingCache(sql, config.retention.embeddingCacheDays);
  const sessions = await pruneSessions(sql, config.retention.sessionDays);
  const semantic = await pruneSemanticCache(sql);
  console.log(JSON.stringify({ level: "info", event: "housekeeping", pruned: { embeddings, sessions, semantic } }));
  return { embeddings, sessions, semantic };
}
