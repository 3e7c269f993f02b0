import type { Config } from "../config.ts";
import { errorText, logLine } from "../log.ts";
import { counters } from "../observability/counters.ts";
import { cacheApiTier } from "./cache-api-tier.ts";
import { kvTier } from "./kv-tier.ts";
import { type MultiLevelCache, multiLevelCache } from "./multilevel.ts";
import { type CacheTier, failOpen } from "./tier.ts";
import { upstashTier } from "./upstash-tier.ts";
import { deleteStale, vectorIndex } from "./upstash-vector-index.ts";
import { kvVersions, observedVersions, type StaleEntries, type Versions } from "./versions.ts";

/**
 * The response cache (L1 Cache API, unless CACHE_L1=off → L2 KV or Upstash Redis) and data
 * versions (KV): the one place tiers are chosen. `defer` runs cache writes after the response,
 * and, with the semantic cache on Upstash Vector, the deletions a version bump calls for.
 */
export function responseCache(
  env: Env,
  config: Config,
  defer: (work: Promise<unknown>) => void,
): { cache: MultiLevelCache; versions: Versions } {
  const { cache } = config;
  return {
    cache: multiLevelCache({
      l1: cache.l1 === "off" ? undefined : failOpen(cacheApiTier(), cache.tierTimeoutMs),
      l2: sharedTier(env, config),
      l1TtlSeconds: cache.l1TtlSeconds,
      l2TtlSeconds: cache.l2TtlSeconds,
      defer: (work) => defer(work.catch(() => {})),
    }),
    versions: semanticDeletions(kvVersions(env.CACHE_KV), config, defer),
  };
}

/**
 * With the semantic cache on Upstash Vector (a paid store that holds what it is given until it
 * is deleted), a bump also deletes what it made stale, after the response: the scopes that
 * depended on the bumped records (and any expired entry of the tenant, in the same call), or the
 * tenant's namespace, or every tenant's. Postgres needs none of this: its rows are keyed on the
 * versions and pruned by the cron. A failure is counted; the entries can no longer be reached
 * anyway (their scope keys hold the old versions) and the next deletion or their scope's trim
 * removes them.
 */
function semanticDeletions(versions: Versions, config: Config, defer: (work: Promise<unknown>) => void): Versions {
  const { store } = config.cache.semantic;
  if (store.kind !== "upstash-vector") return versions;
  const index = vectorIndex(store, config.cache.tierTimeoutMs * 4);
  const stale: StaleEntries = (tenantId, records) =>
    defer(
      deleteStale(index, tenantId, records).catch((err) => {
        counters.inc("rag_cache_errors_total", { cache_level: "semantic", op: "delete", reason: "error" });
        logLine("warn", { event: "semantic_cache_delete_failed", error: errorText(err) });
      }),
    );
  return observedVersions(versions, stale);
}

/** The L2 tier alone (KV or Upstash Redis, as configured), failing open like every tier. */
export function sharedTier(env: Env, config: Config): CacheTier {
  const { cache } = config;
  return failOpen(cache.l2.kind === "upstash" ? upstashTier(cache.l2) : kvTier(env.CACHE_KV), cache.tierTimeoutMs);
}

/**
 * The scope's data version, or undefined when it cannot be read in time: without it no key is
 * safe, so the request is answered uncached (BYPASS) rather than risk a stale answer.
 */
export async function scopeVersion(
  versions: Versions,
  tenantId: string,
  conversationIds: string[] | undefined,
  timeoutMs: number,
): Promise<string | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      versions.scope(tenantId, conversationIds),
      new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), timeoutMs))),
    ]);
  } catch {
    counters.inc("rag_cache_errors_total", { cache_level: "versions", op: "get", reason: "error" });
    return undefined;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * After the tenant's search model changed (a re-embedding job's switch, and its drop of the old
 * vectors): every answer and retrieval cached for the tenant is made unreachable, since none of
 * their keys names the model. A failure is counted and logged; those entries then live out their TTL.
 */
export async function searchModelChanged(versions: Versions, tenantId: string, requestId: string): Promise<void> {
  try {
    await versions.invalidateTenant(tenantId);
  } catch (err) {
    counters.inc("rag_cache_errors_total", { cache_level: "versions", op: "bump", reason: "error" });
    logLine("error", { event: "version_bump_failed", request_id: requestId, error: errorText(err) });
  }
}

/**
 * Bumps the data versions after a conversation changed. A failure is logged and counted, never
 * turned into an error: the write it follows has succeeded, and stale entries expire by TTL.
 */
export async function dataChanged(versions: Versions, tenantId: string, conversationId: string, requestId: string): Promise<void> {
  try {
    await versions.conversationChanged(tenantId, conversationId);
  } catch (err) {
    counters.inc("rag_cache_errors_total", { cache_level: "versions", op: "bump", reason: "error" });
    logLine("error", { event: "version_bump_failed", request_id: requestId, error: errorText(err) });
  }
}
