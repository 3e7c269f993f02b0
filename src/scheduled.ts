import { kvVersions } from "./cache/versions.ts";
import { configFor } from "./config.ts";
import { createSql } from "./db/client.ts";
import { existingConversationIds } from "./db/conversations.ts";
import {
  cacheTableSizes,
  claimStalledImports,
  claimStalledReembeds,
  pruneEmbeddingCache,
  pruneSemanticCache,
  pruneSessions,
} from "./db/housekeeping.ts";
import type { ImportJob } from "./imports/run.ts";
import { logLine } from "./log.ts";
import type { ReembedQueueJob } from "./reembed/job.ts";

/** KV key of the latest housekeeping snapshot (read by GET /api/admin/cache/stats). */
export const SNAPSHOT_KEY = "stats:snapshot";

/**
 * The cron's housekeeping (wrangler.toml [triggers]): drops cached embeddings that no chunk uses
 * and nobody asked for within EMBEDDING_CACHE_RETENTION_DAYS, and sessions idle for
 * SESSION_RETENTION_DAYS, expired semantic-cache rows and the version records of deleted
 * conversations whose entries have all expired; then stores a stats snapshot in KV. Answer and
 * retrieval cache entries need no sweep: they expire by TTL and
 * invalidation never scans keys. Logs one JSON line with the counts.
 */
export async function housekeeping(env: Env): Promise<{ embeddings: number; sessions: number; semantic: number; versions: number }> {
  const config = configFor(env);
  const sql = createSql(env.HYPERDRIVE);
  const embeddings = await pruneEmbeddingCache(sql, config.retention.embeddingCacheDays);
  const sessions = await pruneSessions(sql, config.retention.sessionDays);
  const semantic = await pruneSemanticCache(sql);
  const longestTtlMs = Math.max(config.cache.l1TtlSeconds, config.cache.l2TtlSeconds, config.cache.retrievalTtlSeconds) * 1000;
  const versions = await kvVersions(env.CACHE_KV).compact((tenantId, ids) => existingConversationIds(sql, tenantId, ids), longestTtlMs);
  const pruned = { embeddings, sessions, semantic, versions };
  await env.CACHE_KV.put(SNAPSHOT_KEY, JSON.stringify({ at: new Date().toISOString(), pruned, stores: await cacheTableSizes(sql) }));
  logLine("info", { event: "housekeeping", pruned });
  return pruned;
}

/** The import watchdog's cron (wrangler.toml [triggers]); any other cron runs the housekeeping. */
export const IMPORT_WATCHDOG_CRON = "*/10 * * * *";

/**
 * Queues the next step of every unfinished import whose steps have been silent for
 * IMPORT_STALL_MINUTES: its queue message was lost (a local restart drops Miniflare's in-memory
 * queue; on Cloudflare a message outlives the consumer). Steps resume where the import stands
 * (src/imports/run.ts), so a step queued twice stores nothing twice. Returns how many it queued.
 */
export async function importWatchdog(env: Env): Promise<number> {
  const config = configFor(env);
  const sql = createSql(env.HYPERDRIVE);
  try {
    const stalled = await claimStalledImports(sql, config.imports.stallMinutes);
    for (const job of stalled) await env.IMPORT_QUEUE.send(job satisfies ImportJob);
    if (stalled.length > 0) logLine("warn", { event: "imports_requeued", imports: stalled.map((j) => j.id) });
    const jobs = await claimStalledReembeds(sql, config.imports.stallMinutes);
    for (const job of jobs) await env.IMPORT_QUEUE.send({ kind: "reembed", ...job } satisfies ReembedQueueJob);
    if (jobs.length > 0) logLine("warn", { event: "reembeds_requeued", jobs: jobs.map((j) => j.id) });
    return stalled.length + jobs.length;
  } finally {
    await sql.end({ timeout: 5 });
  }
}
