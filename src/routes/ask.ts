import type { Context } from "hono";
import { streamSSE } from "hono/streaming";
import type { AppEnv } from "../app-env.ts";
import { queryEmbedder, requestCache, scopeVersion } from "../cache/index.ts";
import { cacheKey, normaliseQuery } from "../cache/keys.ts";
import type { CacheStatus } from "../cache/multilevel.ts";
import { semanticMismatch } from "../cache/semantic-guards.ts";
import { nearestCachedQuestions, putCachedQuestion } from "../db/semantic-cache.ts";
import { problemBody } from "../errors.ts";
import { readJson } from "../http/read-json.ts";
import { parseBody } from "../http/validate.ts";
import { toApiError } from "../middleware/errors.ts";
import { counters } from "../observability/counters.ts";
import { createChatModels } from "../providers/index.ts";
import { askSchema, type AskBody } from "../rag/ask-schema.ts";
import { prepareAsk, type AskDone, type PreparedAsk } from "../rag/ask.ts";
import { needsContext } from "../rag/follow-up.ts";
import { PROMPT_VERSION } from "../rag/prompt.ts";
import { AllStrategiesFailed } from "../rag/retrieve.ts";
import { tiktoken, tokenizerForModel } from "../tokens/tokenizer.ts";
import { checkQueryLength, retrievalOptions, retrievalUnavailable, serverTiming } from "./rag-common.ts";

/** What an answer cache entry holds: everything but the request's own id, timings and cache status. */
interface CachedAnswer {
  meta: Record<string, unknown>;
  pieces: string[];
  done: Record<string, unknown>;
}

const present = (prepared: PreparedAsk, body: AskBody) => ({
  model: body.model,
  provider: prepared.provider,
  strategy: body.strategy,
  session_id: body.session_id ?? null,
  query: { text: prepared.query.text, standalone: prepared.query.standalone, rewritten_by: prepared.query.rewrittenBy },
  history: { turns: prepared.history.recent.length, summarised_by: prepared.history.summarisedBy ?? null, tokens: prepared.history.tokens },
  sources: prepared.sources.map((s) => ({
    n: s.n,
    chunk_id: s.chunk.id,
    conversation_id: s.conversationId,
    message_ids: s.chunk.messageIds,
    speakers: s.speakers,
    start: s.start.toISOString(),
    end: s.end.toISOString(),
    text: s.text,
    tokens: s.chunk.tokens,
    score: Number(s.chunk.score.toFixed(6)),
    ...(s.chunk.compressed ? { compressed: true } : {}),
    ...(s.chunk.truncated ? { truncated: true } : {}),
  })),
  failed_strategies: prepared.failedStrategies,
});

const doneBody = (done: AskDone) => ({
  finish_reason: done.finishReason,
  fallback: done.fallback,
  ...(done.fallbackReason ? { fallback_reason: done.fallbackReason } : {}),
  citations: done.citations,
  usage: {
    context_tokens: done.usage.contextTokens,
    history_tokens: done.usage.historyTokens,
    prompt_tokens: done.usage.promptTokens,
    completion_tokens: done.usage.completionTokens,
    naive_context_tokens: done.usage.naiveContextTokens,
    tokens_saved: done.usage.tokensSaved,
  },
  timings: done.timings,
  ...(done.sessionSaved !== undefined ? { session_saved: done.sessionSaved } : {}),
});

/**
 * POST /api/rag/ask. Cache first (L1, then L2: a hit replays the stored answer, as SSE with the
 * same events or as JSON, and touches neither Postgres, the embedder nor the model); otherwise the
 * pipeline prepares (problem+json on failure), then streams meta, delta…, done. A complete,
 * non-fallback answer is cached after the response.
 */
export async function askHandler(c: Context<AppEnv>) {
  const startedAt = performance.now();
  const config = c.var.config;
  const body = parseBody(askSchema(config), await readJson(c, 256 * 1024), "ask request");
  await checkQueryLength(config, body.query, "ask request");
  const tenantId = c.var.auth.tenantId;
  const scope = retrievalOptions(c, body, body.top_k);

  // Session asks depend on the stored history and add a turn to it, so they are not cached.
  const cacheable = config.cache.enabled && body.cache && body.temperature <= config.cache.maxTemperature && !body.session_id;
  const { cache, versions } = requestCache(c);
  let key: string | undefined;
  let status: CacheStatus = "BYPASS";
  let semantic: { scopeKey: string; vector: Float32Array; model: string } | undefined;
  if (cacheable) {
    const version = await scopeVersion(versions, tenantId, scope.scope.conversationIds, config.cache.tierTimeoutMs * 4);
    if (version !== undefined) {
      // Everything but the question that shapes the answer; the exact key adds the question.
      const parts = {
        filters: { ...scope.scope, tenantId: undefined },
        top_k: body.top_k,
        strategy: body.strategy,
        max_context_tokens: body.max_context_tokens,
        model: body.model,
        temperature: body.temperature.toFixed(2),
        max_tokens: body.max_tokens,
        prompt: PROMPT_VERSION,
        config: [config.chat.provider, config.openai.baseURL, config.retrieval.defaultStrategies, config.embedding.model],
      };
      key = cacheKey("answer", tenantId, version, { ...parts, query: normaliseQuery(body.query) });
      const hit = await cache.get(key, "answer");
      if (hit) return replay(c, JSON.parse(hit.value) as CachedAnswer, hit.status, body.stream, startedAt);
      status = "MISS";
      // A follow-up ("tell me more about that") means different things in different places: never matched by meaning.
      if (config.cache.semantic.enabled && !needsContext(body.query)) {
        const found = await semanticLookup(c, cacheKey("answer", tenantId, version, parts), body.query);
        if (found?.entry) {
          cache.put(key, JSON.stringify(found.entry), "answer");
          return replay(c, found.entry, "HIT-SEMANTIC", body.stream, startedAt);
        }
        semantic = found?.probe;
      }
    }
  }

  let prepared: PreparedAsk;
  try {
    prepared = await prepareAsk(
      {
        sql: c.var.sql(),
        embedder: queryEmbedder(c),
        tokenizer: () => tokenizerForModel(body.model),
        retrievalTokenizer: tiktoken,
        chat: createChatModels(config, () => tokenizerForModel(body.model)),
        now: new Date(),
      },
      {
        question: body.query.trim(),
        tenantId,
        sessionId: body.session_id,
        // The top_k best chunks are the candidates; context selection fits them to the budget.
        retrieval: { ...scope, tokenBudget: undefined, expandNeighbours: false, compress: false },
        maxContextTokens: body.max_context_tokens,
        selection: {
          strategy: body.strategy,
          lambda: config.ask.mmrLambda,
          hybridLambda: config.ask.hybridLambda,
          redundancy: config.ask.redundancy,
          truncateMin: config.ask.truncateMin,
        },
        model: body.model,
        temperature: body.temperature,
        maxTokens: body.max_tokens,
        history: { maxTokens: config.ask.historyMaxTokens, verbatimTurns: config.ask.historyVerbatimTurns },
        firstTokenTimeoutMs: config.chat.firstTokenTimeoutMs,
        idleTimeoutMs: config.chat.idleTimeoutMs,
        helperTimeoutMs: config.chat.helperTimeoutMs,
        startedAt,
      },
    );
  } catch (err) {
    throw err instanceof AllStrategiesFailed ? retrievalUnavailable(err) : err;
  }

  counters.inc("rag_llm_calls_total", { provider: prepared.provider });
  const stored = present(prepared, body);
  const meta = { request_id: c.var.requestId, cache: status, ...stored };
  const pieces: string[] = [];
  // Only a whole answer from the configured model is worth keeping: not a fallback, not a broken stream.
  const remember = (done: AskDone) => {
    if (!key || done.fallback) return;
    const entry: CachedAnswer = { meta: stored, pieces, done: doneBody(done) };
    cache.put(key, JSON.stringify(entry), "answer");
    if (semantic) {
      const { scopeKey, vector, model } = semantic;
      // The question as asked: the guards compare names by their capitals.
      const write = putCachedQuestion(c.var.sql(), tenantId, scopeKey, model, body.query.trim(), vector, entry, config.cache.l2TtlSeconds);
      c.executionCtx.waitUntil(write.catch(() => counters.inc("rag_cache_errors_total", { cache_level: "semantic", op: "put", reason: "error" })));
    }
  };
  c.header("x-cache", status);
  c.header("server-timing", serverTiming(prepared.timings));

  if (!body.stream) {
    const generation = prepared.answer(c.req.raw.signal);
    let result = await generation.next();
    while (!result.done) {
      pieces.push(result.value);
      result = await generation.next();
    }
    const done = result.value;
    remember(done);
    return c.json({ answer: done.answer, ...meta, ...doneBody(done) }, 200, { "server-timing": serverTiming(done.timings) });
  }

  return streamSSE(c, async (stream) => {
    const aborted = new AbortController();
    stream.onAbort(() => aborted.abort(new Error("client disconnected")));
    try {
      await stream.writeSSE({ event: "meta", data: JSON.stringify(meta) });
      const generation = prepared.answer(aborted.signal);
      let result = await generation.next();
      while (!result.done) {
        if (aborted.signal.aborted) return void (await generation.return(undefined as never));
        pieces.push(result.value);
        await stream.writeSSE({ event: "delta", data: JSON.stringify({ text: result.value }) });
        result = await generation.next();
      }
      await stream.writeSSE({ event: "done", data: JSON.stringify(doneBody(result.value)) });
      if (!aborted.signal.aborted) remember(result.value);
    } catch (err) {
      if (aborted.signal.aborted) return;
      const apiError = toApiError(err);
      counters.inc("rag_errors_total", { kind: "stream" });
      console.warn(JSON.stringify({ level: "warn", event: "ask_stream_failed", request_id: c.var.requestId, error: String(err).slice(0, 300) }));
      await stream.writeSSE({ event: "error", data: JSON.stringify(problemBody(apiError, c.req.path)) });
    }
  });
}

/**
 * The semantic cache: the nearest cached questions of the same tenant and scope; the first that is
 * similar enough (SEMANTIC_CACHE_THRESHOLD, cosine) and differs in no guarded way (negation,
 * names, numbers, dates) gives its answer. Returns the probe (the question's vector) for the write
 * after a miss. Failures are misses.
 */
async function semanticLookup(c: Context<AppEnv>, scopeKey: string, question: string): Promise<{ entry?: CachedAnswer; probe: { scopeKey: string; vector: Float32Array; model: string } } | undefined> {
  const config = c.var.config;
  const embedder = queryEmbedder(c);
  try {
    const [vector] = await embedder.embed([normaliseQuery(question)]);
    const probe = { scopeKey, vector: vector!, model: embedder.model };
    const candidates = await nearestCachedQuestions(c.var.sql(), c.var.auth.tenantId, scopeKey, embedder.model, vector!, 5);
    const match = candidates.find((q) => {
      if (q.similarity < config.cache.semantic.threshold) return false;
      const reason = semanticMismatch(question, q.question);
      if (reason) counters.inc("rag_semantic_guard_rejections_total", { reason });
      return reason === undefined;
    });
    counters.inc(match ? "rag_cache_hits_total" : "rag_cache_misses_total", { cache_level: "semantic", kind: "answer" });
    return { entry: match?.entry as CachedAnswer | undefined, probe };
  } catch (err) {
    counters.inc("rag_cache_errors_total", { cache_level: "semantic", op: "get", reason: "error" });
    console.warn(JSON.stringify({ level: "warn", event: "semantic_cache_failed", request_id: c.var.requestId, error: String(err).slice(0, 300) }));
    return undefined;
  }
}

/** A cached answer, with this request's id, cache status and timings, as SSE events or JSON. */
function replay(c: Context<AppEnv>, cached: CachedAnswer, status: "HIT-L1" | "HIT-L2" | "HIT-SEMANTIC", stream: boolean, startedAt: number) {
  const meta = { request_id: c.var.requestId, cache: status, ...cached.meta };
  const elapsed = Number((performance.now() - startedAt).toFixed(2));
  const done = { ...cached.done, timings: { cache: elapsed, ttft: elapsed, total: elapsed } };
  const headers = { "x-cache": status, "server-timing": `cache;dur=${elapsed}, total;dur=${elapsed}` };
  if (!stream) return c.json({ answer: cached.pieces.join(""), ...meta, ...done }, 200, headers);
  for (const [k, v] of Object.entries(headers)) c.header(k, v);
  return streamSSE(c, async (sse) => {
    await sse.writeSSE({ event: "meta", data: JSON.stringify(meta) });
    for (const text of cached.pieces) await sse.writeSSE({ event: "delta", data: JSON.stringify({ text }) });
    await sse.writeSSE({ event: "done", data: JSON.stringify(done) });
  });
}
