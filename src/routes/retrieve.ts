import { Hono } from "hono";
import type { AppEnv } from "../app-env.ts";
import { queryEmbedder, requestCache, scopeVersion } from "../cache/index.ts";
import { cacheKey, normaliseQuery } from "../cache/keys.ts";
import type { CacheStatus } from "../cache/multilevel.ts";
import { readJson } from "../http/read-json.ts";
import { parseBody } from "../http/validate.ts";
import { AllStrategiesFailed, type RetrievedChunk, retrieve } from "../retrieve/retrieve.ts";
import { tiktoken } from "../tokens/tokenizer.ts";
import { askHandler } from "./ask.ts";
import { retrieveSchema } from "./retrieve-schema.ts";
import { checkQueryLength, retrievalOptions, retrievalUnavailable, serverTiming } from "./scope.ts";

const present = (c: RetrievedChunk) => ({
  id: c.id,
  conversation_id: c.conversationId,
  message_ids: c.messageIds,
  authors: c.authors,
  start: c.start.toISOString(),
  end: c.end.toISOString(),
  text: c.text,
  tokens: c.tokens,
  score: Number(c.score.toFixed(6)),
  ranks: c.ranks,
  ...(c.expandedFrom ? { expanded_from: c.expandedFrom } : {}),
  ...(c.excerpt ? { excerpt: true } : {}),
});

/** /api/rag: retrieval and answers (the ask handler is in ask.ts). */
export const ragRoutes = new Hono<AppEnv>()
  .post("/retrieve", async (c) => {
    const started = performance.now();
    const config = c.var.config;
    const body = parseBody(retrieveSchema(config), await readJson(c, 256 * 1024), "retrieve request");
    await checkQueryLength(config, body.query, "retrieve request");
    const base = retrievalOptions(c, body, body.top_k);

    // Retrieval results are cached like answers (same tiers, same data versions), for CACHE_RETRIEVAL_TTL_SECONDS.
    const { cache, versions } = requestCache(c);
    let key: string | undefined;
    let status: CacheStatus = "BYPASS";
    if (config.cache.enabled) {
      const version = await scopeVersion(versions, c.var.auth.tenantId, base.scope.conversationIds, config.cache.tierTimeoutMs * 4);
      if (version !== undefined) {
        key = cacheKey("retrieve", c.var.auth.tenantId, version, {
          ...body,
          query: normaliseQuery(body.query),
          config: [config.retrieval, config.embedding.model],
        });
        const hit = await cache.get(key, "retrieve");
        if (hit) {
          const total = Number((performance.now() - started).toFixed(2));
          return c.json({ ...(JSON.parse(hit.value) as object), timings: { cache: total, total } }, 200, {
            "server-timing": `cache;dur=${total}, total;dur=${total}`,
            "x-cache": hit.status,
          });
        }
        status = "MISS";
      }
    }
    const cacheMs = Number((performance.now() - started).toFixed(2));
    try {
      const result = await retrieve(
        { sql: c.var.sql(), embedder: queryEmbedder(c), tokenizer: tiktoken, now: new Date() },
        {
          ...base,
          query: body.query.trim(),
          tokenBudget: body.token_budget,
          strategies: body.strategies ?? base.strategies,
          rrfK: body.rrf_k ?? base.rrfK,
          efSearch: body.ef_search ?? base.efSearch,
          expandNeighbours: body.expand_neighbors ?? false,
          compress: body.focus !== false,
        },
      );
      const timings = {
        ...(config.cache.enabled ? { cache: cacheMs } : {}),
        ...result.timings,
        total: Number((performance.now() - started).toFixed(2)),
      };
      const payload = {
        chunks: result.chunks.map(present),
        usage: { context_tokens: result.contextTokens },
        failed_strategies: result.failedStrategies,
        query: {
          speakers: result.analysis.speakers,
          time: result.analysis.time
            ? {
                from: result.analysis.time.from.toISOString(),
                to: result.analysis.time.to.toISOString(),
                match: result.analysis.time.match,
              }
            : null,
        },
      };
      // A partial result (a strategy failed) is not cached: the next request may do better.
      if (key && result.failedStrategies.length === 0)
        cache.put(key, JSON.stringify(payload), "retrieve", config.cache.retrievalTtlSeconds);
      return c.json({ ...payload, timings }, 200, { "server-timing": serverTiming(timings), "x-cache": status });
    } catch (err) {
      throw err instanceof AllStrategiesFailed ? retrievalUnavailable(err) : err;
    }
  })
  .post("/ask", askHandler);
