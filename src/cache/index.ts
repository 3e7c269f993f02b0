import type { Context } from "hono";
import type { AppEnv } from "../app-env.ts";
import { batchedEmbedder } from "../durable/clients.ts";
import { counters } from "../observability/counters.ts";
import type { Embedder } from "../providers/embedder.ts";
import { createEmbedder } from "../providers/index.ts";
import { cacheApiTier } from "./cache-api-tier.ts";
import { cachedEmbedder } from "./cached-embedder.ts";
import { kvTier } from "./kv-tier.ts";
import { type MultiLevelCache, multiLevelCache } from "./multilevel.ts";
import { type CacheTier, failOpen } from "./tier.ts";
import { upstashTier } from "./upstash-tier.ts";
import { kvVersions, type Versions } from "./versions.ts";

/**
 * The request's response cache (L1 Cache API, unless CACHE_L1=off → L2 KV or Upstash Redis) and
 * data versions (KV): the one place tiers are chosen.
 */
export function requestCache(c: Context<AppEnv>): { cache: MultiLevelCache; versions: Versions } {
  const { cache: config } = c.var.config;
  return {
    cache: multiLevelCache({
      l1: config.l1 === "off" ? undefined : failOpen(cacheApiTier(), config.tierTimeoutMs),
      l2: sharedTier(c),
      l1TtlSeconds: config.l1TtlSeconds,
      l2TtlSeconds: config.l2TtlSeconds,
      defer: (work) => c.executionCtx.waitUntil(work.catch(() => {})),
    }),
    versions: kvVersions(c.env.CACHE_KV),
  };
}

/** The L2 tier alone (KV or Upstash Redis, as configured), failing open like every tier. */
export function sharedTier(c: Context<AppEnv>): CacheTier {
  const { cache: config } = c.var.config;
  return failOpen(config.l2.kind === "upstash" ? upstashTier(config.l2) : kvTier(c.env.CACHE_KV), config.tierTimeoutMs);
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
 * Bumps the data versions after a conversation changed. A failure is logged and counted, never
 * turned into an error: the write it follows has succeeded, and stale entries expire by TTL.
 */
export async function dataChanged(c: Context<AppEnv>, conversationId: string): Promise<void> {
  try {
    await requestCache(c).versions.conversationChanged(c.var.auth.tenantId, conversationId);
  } catch (err) {
    counters.inc("rag_cache_errors_total", { cache_level: "versions", op: "bump", reason: "error" });
    console.error(
      JSON.stringify({ level: "error", event: "version_bump_failed", request_id: c.var.requestId, error: String(err).slice(0, 300) }),
    );
  }
}

const perRequest = new WeakMap<object, Embedder>();

/**
 * The request's embedder for questions. A remote provider's vectors are kept in the persistent
 * embedding cache and, with EMBEDDING_BATCHER on, requested through the tenant's batcher (which
 * reads that cache for the whole batch). Within a request a text is embedded once: the semantic
 * cache's probe and retrieval share the question's vector.
 */
export function queryEmbedder(c: Context<AppEnv>): Embedder {
  let embedder = perRequest.get(c);
  if (!embedder) {
    const config = c.var.config;
    embedder = createEmbedder(config);
    if (config.embedding.provider !== "local") {
      const direct = cachedEmbedder(embedder, c.var.sql(), c.var.auth.tenantId);
      embedder = config.durable.batchEmbeddings ? batchedEmbedder(c.env, c.var.auth.tenantId, config, direct) : direct;
    }
    embedder = memoised(embedder);
    perRequest.set(c, embedder);
  }
  return embedder;
}

/** Remembers each text's vector (a failed call is forgotten, so it can be tried again). */
function memoised(embedder: Embedder): Embedder {
  const known = new Map<string, Promise<Float32Array>>();
  return {
    model: embedder.model,
    dimensions: embedder.dimensions,
    batchSize: embedder.batchSize,
    async embed(texts, signal) {
      const missing = [...new Set(texts.filter((t) => !known.has(t)))];
      if (missing.length > 0) {
        const call = embedder.embed(missing, signal);
        missing.forEach((text, i) => {
          const vector = call.then((vectors) => vectors[i]!);
          vector.catch(() => known.delete(text));
          known.set(text, vector);
        });
      }
      return Promise.all(texts.map((t) => known.get(t)!));
    },
  };
}
