import type { Context } from "hono";
import { streamSSE } from "hono/streaming";
import { semanticMismatch } from "../answer-cache/semantic-guards.ts";
import type { AppEnv } from "../app-env.ts";
import { queryEmbedder, requestCache, scopeVersion } from "../cache/index.ts";
import { cacheKey, normaliseQuery } from "../cache/keys.ts";
import type { CacheStatus } from "../cache/multilevel.ts";
import { nearestCachedQuestions, putCachedQuestion } from "../db/semantic-cache.ts";
import type { JoinResult } from "../durable/ask-coalescer.ts";
import {
  type Budget,
  budgetedChat,
  chatBudget,
  coalescerFor,
  durableFallback,
  durableRequest,
  settleReservation,
  tenantQuota,
  tokensSpent,
} from "../durable/clients.ts";
import { ApiError, problemBody } from "../errors.ts";
import { needsContext } from "../generate/follow-up.ts";
import { type AskDeps, type GenerationDone, type PreparedAsk, prepareAsk } from "../generate/prepare.ts";
import { doneBody, present } from "../generate/present.ts";
import { PROMPT_VERSION } from "../generate/prompt.ts";
import { type AskRecord, fromProblem, generatorRecords, type RecordSource, streamRecords, toProblem } from "../generate/records.ts";
import { readJson } from "../http/read-json.ts";
import { parseBody } from "../http/validate.ts";
import { toApiError } from "../middleware/errors.ts";
import { counters } from "../observability/counters.ts";
import { createChatModels } from "../providers/index.ts";
import { AllStrategiesFailed, queryTexts } from "../retrieve/retrieve.ts";
import { elapsedMs, race } from "../timeouts.ts";
import { tiktoken, tokenizerForModel } from "../tokens/tokenizer.ts";
import { type AskBody, askSchema } from "./ask-schema.ts";
import { checkQueryLength, retrievalOptions, retrievalUnavailable, serverTiming } from "./scope.ts";

/** What an answer cache entry holds: everything but the request's own id, timings and cache status. */
interface CachedAnswer {
  meta: Record<string, unknown>;
  pieces: string[];
  done: Record<string, unknown>;
}

/**
 * POST /api/rag/ask. Cache first (L1, then L2: a hit replays the stored answer, as SSE with the
 * same events or as JSON, and touches neither Postgres, the embedder nor the model); otherwise the
 * pipeline prepares (problem+json on failure), then streams meta, delta…, done. Identical
 * cacheable asks in flight share one answer through the AskCoalescer (`openAnswer`). A complete,
 * non-fallback answer is cached after the response, by one request.
 */
export async function askHandler(c: Context<AppEnv>) {
  const startedAt = performance.now();
  const config = c.var.config;
  const body = parseBody(askSchema(config), await readJson(c, 256 * 1024), "ask request");
  await checkQueryLength(config, body.query, "ask request");
  const tenantId = c.var.auth.tenantId;
  const scope = retrievalOptions(c, body, body.top_k);
  c.set("model", body.model);
  const early: Record<string, number> = {};

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
        const found = await semanticLookup(c, cacheKey("answer", tenantId, version, parts), body.query, scope);
        if (found?.entry) {
          // Served and kept as the answer to the asker's own question (which the guards found to
          // ask the same thing): a replay never shows another question as the one asked.
          const query = {
            ...(found.entry.meta.query as Record<string, unknown>),
            text: body.query,
            standalone: body.query,
            rewritten_by: null,
            matched_question: found.matched,
          };
          const entry = { ...found.entry, meta: { ...found.entry.meta, query } };
          cache.put(key, JSON.stringify(entry), "answer");
          return replay(c, entry, "HIT-SEMANTIC", body.stream, startedAt);
        }
        semantic = found?.probe;
        if (found) early.embed = found.embedMs;
      }
    }
  }
  if (cacheable) early.cache = elapsedMs(startedAt);

  const opened = await openAnswer(c, body, scope, startedAt, key);
  const source = opened.source;
  const { durable, chat } = config;
  // Safety nets around the answer's own deadlines (first token, idle), so no client waits forever.
  const idleMs = Math.max(chat.firstTokenTimeoutMs, chat.idleTimeoutMs) + 5_000;
  const firstMs = opened.role === "follower" ? durable.coalescePrepareTimeoutMs + 5_000 : idleMs;

  let first: AskRecord | undefined;
  try {
    first = await source.next(firstMs);
  } catch (err) {
    await source.cancel(err);
    if (opened.role !== "follower") throw err;
    // The shared answer broke before it began: answer this request on its own.
    durableFallback("ask_coalescer", err);
    return respond(c, await openAnswer(c, body, scope, startedAt, undefined), body, status, key, semantic, idleMs, early);
  }
  return respond(c, { ...opened, first }, body, status, key, semantic, idleMs, early);
}

/** What the ask needs from the request: its database client, embedder, tokenizers and models. */
function askDeps(c: Context<AppEnv>, body: AskBody, budget: Budget): AskDeps {
  const config = c.var.config;
  return {
    sql: c.var.sql(),
    embedder: queryEmbedder(c),
    tokenizer: () => tokenizerForModel(body.model),
    retrievalTokenizer: tiktoken,
    chat: budgetedChat(
      createChatModels(config, () => tokenizerForModel(body.model)),
      budget,
      tenantQuota(c.env, c.var.auth.tenantId, config),
    ),
    now: new Date(),
  };
}

interface Ready {
  prepared: PreparedAsk;
  meta: Record<string, unknown>;
  forceFallback: string | undefined;
  /** Tokens reserved in the rate budget and the tenant's daily quota for the answer (0 when none were). */
  reservedTokens: number;
  /** The quota day the reservation belongs to ("" when there was none). */
  quotaDay: string;
}

/**
 * Retrieval, context and prompt (problem+json if they fail), then the rate budget: over it, the
 * configured policy either answers with the extractive fallback or refuses with 429.
 */
async function prepare(
  c: Context<AppEnv>,
  body: AskBody,
  scope: ReturnType<typeof retrievalOptions>,
  startedAt: number,
  budget: Budget,
): Promise<Ready> {
  const config = c.var.config;
  let prepared: PreparedAsk;
  try {
    prepared = await prepareAsk(askDeps(c, body, budget), {
      question: body.query.trim(),
      tenantId: c.var.auth.tenantId,
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
    });
  } catch (err) {
    throw err instanceof AllStrategiesFailed ? retrievalUnavailable(err) : err;
  }
  const meta = present(prepared, body);
  if (prepared.provider === "extractive") return { prepared, meta, forceFallback: undefined, reservedTokens: 0, quotaDay: "" };
  const reservedTokens = prepared.plan.usage.promptTokens + body.max_tokens;
  // The tenant's daily budget first (a denial of wallet is refused outright), then the provider's rate.
  const quota = tenantQuota(c.env, c.var.auth.tenantId, config);
  const reserved = await quota.reserve(reservedTokens);
  if (!reserved.granted) {
    counters.inc("rag_tenant_quota_rejections_total", { call: "answer" });
    const seconds = String(reserved.retryAfterS);
    throw new ApiError(
      429,
      "token-budget-exceeded",
      `this tenant has used its daily budget of ${config.rateBudget.tenantDailyTokens} chat tokens; it starts afresh at 00:00 UTC (in ${seconds} s)`,
      [],
      { "retry-after": seconds },
    );
  }
  const verdict = await budget.acquire(reservedTokens);
  if (verdict.granted) return { prepared, meta, forceFallback: undefined, reservedTokens, quotaDay: reserved.day };
  // Not generated by the provider after all: the reservation is given back.
  c.executionCtx.waitUntil(quota.settle(reserved.day, reservedTokens, 0));
  const policy = config.rateBudget.policy;
  counters.inc("rag_rate_budget_rejections_total", { provider: prepared.provider, call: "answer", policy });
  if (policy === "reject") {
    const seconds = String(Math.max(1, Math.ceil(verdict.retryAfterMs / 1000)));
    throw new ApiError(429, "rate-budget-exceeded", `the chat provider's rate budget is spent; retry after ${seconds} s`, [], {
      "retry-after": seconds,
    });
  }
  return { prepared, meta, forceFallback: "rate_budget", reservedTokens: 0, quotaDay: "" };
}

interface Opened {
  source: RecordSource;
  /** local: generated in this request; leader/follower: shared through the AskCoalescer. */
  role: "local" | "leader" | "follower";
}

/**
 * The answer's records. A cacheable ask (it has a cache key) joins the AskCoalescer of that key:
 * the first request prepares and hands over, later identical ones follow the same stream. Without
 * a key, with coalescing off, or when the object fails, the request answers on its own.
 */
async function openAnswer(
  c: Context<AppEnv>,
  body: AskBody,
  scope: ReturnType<typeof retrievalOptions>,
  startedAt: number,
  key: string | undefined,
): Promise<Opened> {
  const config = c.var.config;
  const budget = chatBudget(c.env, config);
  if (key && config.durable.coalesceAsks) {
    const stub = coalescerFor(c.env, c.var.auth.tenantId, key, config);
    let joined: JoinResult | undefined;
    try {
      // RPC types a union result oddly; the object returns exactly a JoinResult.
      durableRequest("ask_coalescer");
      const call = stub.join(key, { prepareTimeoutMs: config.durable.coalescePrepareTimeoutMs }) as unknown as Promise<JoinResult>;
      joined = await race(call, 5_000, () => new Error("ask coalescer did not answer within 5000 ms"));
    } catch (err) {
      durableFallback("ask_coalescer", err);
    }
    if (joined?.role === "follower") {
      counters.inc("rag_coalesced_requests_total");
      return { source: streamRecords(joined.stream), role: "follower" };
    }
    if (joined?.role === "leader") {
      const token = joined.token;
      let ready: Ready;
      try {
        ready = await prepare(c, body, scope, startedAt, budget);
      } catch (err) {
        // Followers waiting on this lead get the same problem.
        durableRequest("ask_coalescer");
        c.executionCtx.waitUntil(stub.fail(key, token, toProblem(toApiError(err))).catch(() => {}));
        throw err;
      }
      try {
        const { chat, openai, rateBudget } = config;
        durableRequest("ask_coalescer");
        const stream = await stub.start(
          key,
          {
            token,
            plan: ready.prepared.plan,
            meta: ready.meta,
            config: { chat, openai, rateBudget },
            forceFallback: ready.forceFallback,
            reservedTokens: ready.reservedTokens,
            quota: { tenantId: c.var.auth.tenantId, day: ready.quotaDay },
          },
          config.durable.coalesceGraceMs,
        );
        return { source: streamRecords(stream), role: "leader" };
      } catch (err) {
        durableFallback("ask_coalescer", err);
        return { source: localRecords(c, ready, budget), role: "local" };
      }
    }
  }
  return { source: localRecords(c, await prepare(c, body, scope, startedAt, budget), budget), role: "local" };
}

/** The answer generated in this request, as records. */
function localRecords(c: Context<AppEnv>, ready: Ready, budget: Budget): RecordSource {
  const aborted = new AbortController();
  async function* records(): AsyncGenerator<AskRecord, void> {
    yield { type: "meta", meta: ready.meta, timings: ready.prepared.timings };
    const generation = ready.prepared.answer(aborted.signal, ready.forceFallback);
    let streamed = 0;
    let settled = false;
    const settle = (done?: GenerationDone) => {
      if (settled) return;
      settled = true;
      const quota = tenantQuota(c.env, c.var.auth.tenantId, c.var.config);
      c.executionCtx.waitUntil(
        settleReservation(budget, quota, ready.quotaDay, ready.reservedTokens, tokensSpent(ready.prepared.plan, streamed, done)),
      );
    };
    try {
      let step = await generation.next();
      while (!step.done) {
        streamed += step.value.length;
        yield { type: "delta", text: step.value };
        step = await generation.next();
      }
      const done = step.value;
      // Settled before the last record: the reader may stop reading once it has it.
      settle(done);
      yield { type: "done", done: doneBody(done), cacheable: !done.fallback, writer: true };
    } catch (err) {
      if (aborted.signal.aborted) return;
      counters.inc("rag_errors_total", { kind: "stream" });
      console.warn(
        JSON.stringify({ level: "warn", event: "ask_stream_failed", request_id: c.var.requestId, error: String(err).slice(0, 300) }),
      );
      yield { type: "error", problem: toProblem(toApiError(err)) };
    } finally {
      if (aborted.signal.aborted) await generation.return(undefined as never).catch(() => {});
      settle();
    }
  }
  return generatorRecords(records(), () => aborted.abort(new Error("client disconnected")));
}

/**
 * Sends the answer: as SSE (meta, delta…, done, or error after a failure mid-stream) or as one
 * JSON body. The one request the records name as writer caches a whole answer once it is sent.
 */
async function respond(
  c: Context<AppEnv>,
  opened: Opened & { first?: AskRecord | undefined },
  body: AskBody,
  status: CacheStatus,
  key: string | undefined,
  semantic: { scopeKey: string; vector: Float32Array; model: string } | undefined,
  idleMs: number,
  early: Record<string, number>,
): Promise<Response> {
  const { source } = opened;
  const first = opened.first ?? (await source.next(idleMs));
  if (first?.type === "error") throw fromProblem(first.problem);
  if (first?.type !== "meta") throw new ApiError(502, "generation-failed", "the answer ended before it began");
  const tenantId = c.var.auth.tenantId;
  const { cache } = requestCache(c);
  const meta = { request_id: c.var.requestId, cache: status, ...first.meta };
  const pieces: string[] = [];
  const remember = (record: Extract<AskRecord, { type: "done" }>) => {
    if (!key || !record.writer || !record.cacheable) return;
    const entry: CachedAnswer = { meta: first.meta, pieces, done: record.done };
    cache.put(key, JSON.stringify(entry), "answer");
    if (semantic) {
      const { scopeKey, vector, model } = semantic;
      // The question as asked: the guards compare names by their capitals.
      const write = putCachedQuestion(
        c.var.sql(),
        tenantId,
        scopeKey,
        model,
        body.query.trim(),
        vector,
        entry,
        c.var.config.cache.l2TtlSeconds,
      );
      c.executionCtx.waitUntil(
        write.catch(() => counters.inc("rag_cache_errors_total", { cache_level: "semantic", op: "put", reason: "error" })),
      );
    }
  };
  c.header("x-cache", status);
  if (opened.role !== "local") c.header("x-coalesced", opened.role);
  // Server-Timing: cache (lookups), embed (the question's vectors), retrieve, select, and for a
  // JSON answer ttft and total; an SSE answer has them in its `done` event (headers go first).
  const timing = (t: Record<string, number>) =>
    serverTiming({ ...early, ...(t.retrieve_embed !== undefined && early.embed === undefined ? { embed: t.retrieve_embed } : {}), ...t });
  c.header("server-timing", timing(first.timings));

  if (!body.stream) {
    for (;;) {
      const record = await source.next(idleMs);
      if (record?.type === "delta") pieces.push(record.text);
      else if (record?.type === "done") {
        remember(record);
        const done = record.done as { timings: Record<string, number> };
        return c.json({ answer: pieces.join(""), ...meta, ...record.done }, 200, { "server-timing": timing(done.timings) });
      } else if (record?.type === "error") throw fromProblem(record.problem);
      else throw new ApiError(502, "generation-failed", "the answer ended before it was complete");
    }
  }

  return streamSSE(c, async (stream) => {
    let aborted = false;
    stream.onAbort(() => {
      aborted = true;
      void source.cancel(new Error("client disconnected"));
    });
    await stream.writeSSE({ event: "meta", data: JSON.stringify(meta) });
    for (;;) {
      let record: AskRecord | undefined;
      try {
        record = await source.next(idleMs);
      } catch (err) {
        if (aborted) return;
        await source.cancel(err);
        counters.inc("rag_errors_total", { kind: "stream" });
        record = {
          type: "error",
          problem: toProblem(new ApiError(503, "answer-unavailable", "the answer stopped arriving; retry", [], { "retry-after": "1" })),
        };
      }
      if (aborted) return;
      if (record?.type === "delta") {
        pieces.push(record.text);
        await stream.writeSSE({ event: "delta", data: JSON.stringify({ text: record.text }) });
      } else if (record?.type === "done") {
        await stream.writeSSE({ event: "done", data: JSON.stringify(record.done) });
        if (!aborted) remember(record);
        return;
      } else {
        const problem =
          record?.type === "error"
            ? record.problem
            : toProblem(new ApiError(502, "generation-failed", "the answer ended before it was complete"));
        await stream.writeSSE({ event: "error", data: JSON.stringify(problemBody(fromProblem(problem), c.req.path)) });
        return;
      }
    }
  });
}

/**
 * The semantic cache: the nearest cached questions of the same tenant and scope; the first that is
 * similar enough (SEMANTIC_CACHE_THRESHOLD, cosine) and has the same content (semantic-guards.ts:
 * no name, number, date, relation, negation or other content word that only one of them has)
 * gives its answer. Returns the probe (the question's vector) for the write
 * after a miss. Failures are misses.
 */
async function semanticLookup(
  c: Context<AppEnv>,
  scopeKey: string,
  question: string,
  scope: ReturnType<typeof retrievalOptions>,
): Promise<
  { entry?: CachedAnswer; matched?: string; probe: { scopeKey: string; vector: Float32Array; model: string }; embedMs: number } | undefined
> {
  const config = c.var.config;
  const embedder = queryEmbedder(c);
  try {
    // The question as retrieval will embed it, with the rest of what retrieval will embed for a
    // remote provider: one call (one batch) now, none after a miss.
    const query = question.trim();
    const more = config.embedding.provider === "local" ? [] : await queryTexts({ sql: c.var.sql(), now: new Date() }, { ...scope, query });
    const embedStarted = performance.now();
    const [vector] = await embedder.embed([...new Set([query, ...more])]);
    const embedMs = elapsedMs(embedStarted);
    const probe = { scopeKey, vector: vector!, model: embedder.model };
    const candidates = await nearestCachedQuestions(c.var.sql(), c.var.auth.tenantId, scopeKey, embedder.model, vector!, 5);
    const match = candidates.find((q) => {
      if (q.similarity < config.cache.semantic.threshold) return false;
      const reason = semanticMismatch(question, q.question);
      if (reason) counters.inc("rag_semantic_guard_rejections_total", { reason });
      return reason === undefined;
    });
    counters.inc(match ? "rag_cache_hits_total" : "rag_cache_misses_total", { cache_level: "semantic", kind: "answer" });
    return { entry: match?.entry as CachedAnswer | undefined, matched: match?.question, probe, embedMs };
  } catch (err) {
    counters.inc("rag_cache_errors_total", { cache_level: "semantic", op: "get", reason: "error" });
    console.warn(
      JSON.stringify({ level: "warn", event: "semantic_cache_failed", request_id: c.var.requestId, error: String(err).slice(0, 300) }),
    );
    return undefined;
  }
}

/** A cached answer, with this request's id, cache status and timings, as SSE events or JSON. */
function replay(
  c: Context<AppEnv>,
  cached: CachedAnswer,
  status: "HIT-L1" | "HIT-L2" | "HIT-SEMANTIC",
  stream: boolean,
  startedAt: number,
) {
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
