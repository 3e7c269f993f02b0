import { scopeVersion } from "../cache/index.ts";
import { cacheKey, normaliseQuery } from "../cache/keys.ts";
import type { CacheStatus } from "../cache/multilevel.ts";
import { selectWithinBudget } from "../context/budget.ts";
import type { Services } from "../services.ts";
import { elapsedMs } from "../timeouts.ts";
import { tiktoken } from "../tokens/tokenizer.ts";
import { AllStrategiesFailed, type RetrievedChunk, retrieve } from "./retrieve.ts";
import type { RetrieveBody } from "./retrieve-schema.ts";
import { requestScope, retrievalOptions, retrievalUnavailable } from "./scope.ts";

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

export interface RetrieveOutcome {
  /** The response body without its timings. */
  payload: Record<string, unknown>;
  status: CacheStatus;
  timings: Record<string, number>;
}

/**
 * POST /retrieve's work: the response cache (same tiers and data versions as answers, for
 * CACHE_RETRIEVAL_TTL_SECONDS), else retrieval, then selection to the caller's token budget.
 */
export async function retrieveForRequest(services: Services, body: RetrieveBody, startedAt: number): Promise<RetrieveOutcome> {
  const { config, tenantId } = services;
  const elapsed = () => elapsedMs(startedAt);
  let key: string | undefined;
  let status: CacheStatus = "BYPASS";
  if (config.cache.enabled) {
    const { conversationIds } = requestScope(tenantId, body);
    const version = await scopeVersion(services.versions, tenantId, conversationIds, config.cache.tierTimeoutMs * 4);
    if (version !== undefined) {
      // Not keyed on the tenant's search model (a database read a hit does without): switching
      // it bumps the tenant's version (src/reembed).
      key = cacheKey("retrieve", tenantId, version, { ...body, query: normaliseQuery(body.query), config: [config.retrieval] });
      const hit = await services.cache.get(key, "retrieve");
      if (hit) {
        const total = elapsed();
        return { payload: JSON.parse(hit.value) as Record<string, unknown>, status: hit.status, timings: { cache: total, total } };
      }
      status = "MISS";
    }
  }
  const cacheMs = elapsed();
  const query = body.query.trim();
  const scope = retrievalOptions(config, tenantId, body, body.top_k, await services.searchModel());
  try {
    const result = await retrieve(
      { chunks: services.stores.chunks, embedder: services.embedder, now: new Date() },
      {
        ...scope,
        query,
        tokenBudget: body.token_budget,
        rrfK: body.rrf_k ?? scope.rrfK,
        efSearch: body.ef_search ?? scope.efSearch,
        expandNeighbours: body.expand_neighbors ?? false,
      },
    );
    const selectStarted = performance.now();
    const { kept, tokens } = await selectWithinBudget(result.chunks, {
      query,
      budget: body.token_budget,
      compress: body.focus !== false,
      tokenizer: tiktoken,
    });
    const timings = {
      ...(config.cache.enabled ? { cache: cacheMs } : {}),
      ...result.timings,
      select: elapsedMs(selectStarted),
      total: elapsed(),
    };
    const payload = {
      chunks: kept.map(present),
      usage: { context_tokens: tokens },
      failed_strategies: result.failedStrategies,
      query: {
        speakers: result.analysis.speakers,
        time: result.analysis.time
          ? { from: result.analysis.time.from.toISOString(), to: result.analysis.time.to.toISOString(), match: result.analysis.time.match }
          : null,
      },
    };
    // A partial result (a strategy failed) is not cached: the next request may do better.
    if (key && result.failedStrategies.length === 0)
      services.cache.put(key, JSON.stringify(payload), "retrieve", config.cache.retrievalTtlSeconds);
    return { payload, status, timings };
  } catch (err) {
    throw err instanceof AllStrategiesFailed ? retrievalUnavailable(err) : err;
  }
}
