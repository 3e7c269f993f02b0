import type { Context } from "hono";
import type { AppEnv } from "../app-env.ts";
import { counters } from "../observability/counters.ts";
import type { Embedder } from "../providers/embedder.ts";
import { createEmbedder } from "../providers/index.ts";
import { cachedEmbedder } from "./cached-embedder.ts";
import { cacheApiTier } from "./cache-api-tier.ts";
import { kvTier } from "./kv-tier.ts";
import { multiLevelCache, type MultiLevelCache } from "./multilevel.ts";
import { failOpen } from "./tier.ts";
import { upstashTier } from "./upstash-tier.ts";
import { kvVersions, type Versions } from "./versions.ts";

/**
 * The request's response cache (L1 Cache API → L2 KV or Upstash Redis) and data versions (KV):
 * the one place tiers are chosen.
 */
export function requestCache(c: Context<AppEnv>): { cache: MultiLevelCache; versions: Versions } {
  const { cache: config } = c.var.config;
  return {
    cache: multiLevelCache({
      l1: failOpen(cacheApiTier(), config.tierTimeoutMs),
      l2: failOpen(config.l2.kind === "upstash" ? upstashTier(config.l2) : kvTier(c.env.CACHE_KV), config.tierTimeoutMs),
      l1TtlSeconds: config.l1TtlSeconds,
      l2TtlSeconds: config.l2TtlSeconds,
      defer: (work) => c.executionCtx.waitUntil(work.catch(() => {})),
    }),
    versions: kvVersions(c.env.CACHE_KV),
  };
}

/**
 * The scope's data version, or undefined when it cannot be read in time: without it no key is
 * safe, so the request is answered uncached (BYPASS) rather than risk a stale answer.
 */
export async function scopeVersion(versions: Versions, tenantId: string, conversationIds: string[] | undefined, timeoutMs: number): Promise<string | undefined> {
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
 * Bumps the data versions after a conversation changed. A failure is logged and counted, never
 * turned into an error: the write it follows has succeeded, and stale entries expire by TTL.
 */
export async function dataChanged(c: Context<AppEnv>, conversationId: string): Promise<void> {
  try {
    await requestCache(c).versions.conversationChanged(c.var.auth.tenantId, conversationId);
  } catch (err) {
    counters.inc("rag_cache_errors_total", { cache_level: "versions", op: "bump", reason: "error" });
    console.error(JSON.stringify({ level: "error", event: "version_bump_failed", request_id: c.var.requestId, error: String(err).slice(0, 300) }));
  }
}

/** The embedder for questions: a remote provider's vectors are kept in the persistent embedding cache. */
export function queryEmbedder(c: Context<AppEnv>): Embedder {
  const embedder = createEmbedder(c.var.config);
  return c.var.config.embedding.provider === "local" ? embedder : cachedEmbedder(embedder, c.var.sql());
}
