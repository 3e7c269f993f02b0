import { Hono, type Context } from "hono";
import { streamSSE } from "hono/streaming";
import type { AppEnv } from "../app-env.ts";
import type { Config } from "../config.ts";
import { ApiError, badRequest, problemBody } from "../errors.ts";
import { readJson } from "../http/read-json.ts";
import { parseBody } from "../http/validate.ts";
import { toApiError } from "../middleware/errors.ts";
import { counters } from "../observability/counters.ts";
import { createChatModels, createEmbedder } from "../providers/index.ts";
import { askSchema } from "../rag/ask-schema.ts";
import { prepareAsk, type AskDone, type PreparedAsk } from "../rag/ask.ts";
import { AllStrategiesFailed, retrieve, type RetrievedChunk, type RetrieveOptions } from "../rag/retrieve.ts";
import { retrieveSchema } from "../rag/retrieve-schema.ts";
import { tiktoken, tokenizerForModel } from "../tokens/tokenizer.ts";

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

interface ScopeBody {
  query: string;
  conversation_id?: string | undefined;
  filters?: { conversation_ids?: string[]; author_names?: string[]; author_types?: string[]; from?: Date; to?: Date } | undefined;
}

/** Rejects a query over the configured token limit; only a long query needs the tokenizer loaded. */
async function checkQueryLength(config: Config, query: string, what: string) {
  const limit = config.retrieval.maxQueryTokens;
  if (new TextEncoder().encode(query).length > limit && (await tiktoken()).count(query) > limit) {
    throw badRequest(`invalid ${what}: query: must be at most ${limit} tokens`, [{ pointer: "#/query", detail: `must be at most ${limit} tokens` }]);
  }
}

/** Retrieval options for a request: its scope (always the caller's tenant) and the configured defaults. */
function retrievalOptions(c: Context<AppEnv>, body: ScopeBody, topK: number): Omit<RetrieveOptions, "query" | "tokenBudget" | "expandNeighbours" | "compress"> {
  const config = c.var.config;
  const conversationIds = [...new Set([...(body.conversation_id ? [body.conversation_id] : []), ...(body.filters?.conversation_ids ?? [])])];
  return {
    scope: {
      tenantId: c.var.auth.tenantId,
      conversationIds: conversationIds.length ? conversationIds : undefined,
      authorNames: body.filters?.author_names,
      authorTypes: body.filters?.author_types,
      from: body.filters?.from,
      to: body.filters?.to,
    },
    topK,
    strategies: config.retrieval.defaultStrategies,
    rrfK: config.retrieval.rrfK,
    efSearch: config.retrieval.efSearch,
    candidates: Math.max(config.retrieval.candidates, topK),
    strategyTimeoutMs: config.retrieval.strategyTimeoutMs,
    weights: config.retrieval.weights,
  };
}

const retrievalUnavailable = (err: AllStrategiesFailed) => new ApiError(503, "retrieval-unavailable", err.message, [], { "retry-after": "5" });
const serverTiming = (timings: Record<string, number>) => Object.entries(timings).map(([k, v]) => `${k};dur=${v}`).join(", ");

/** /api/rag: retrieval and answers. */
export const ragRoutes = new Hono<AppEnv>()
  .post("/retrieve", async (c) => {
    const started = performance.now();
    const config = c.var.config;
    const body = parseBody(retrieveSchema(config), await readJson(c, 256 * 1024), "retrieve request");
    await checkQueryLength(config, body.query, "retrieve request");
    const base = retrievalOptions(c, body, body.top_k);
    try {
      const result = await retrieve(
        { sql: c.var.sql(), embedder: createEmbedder(config), tokenizer: tiktoken, now: new Date() },
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
      const timings = { ...result.timings, total: Number((performance.now() - started).toFixed(2)) };
      return c.json(
        {
          chunks: result.chunks.map(present),
          usage: { context_tokens: result.contextTokens },
          failed_strategies: result.failedStrategies,
          query: {
            speakers: result.analysis.speakers,
            time: result.analysis.time ? { from: result.analysis.time.from.toISOString(), to: result.analysis.time.to.toISOString(), match: result.analysis.time.match } : null,
          },
          timings,
        },
        200,
        { "server-timing": serverTiming(timings), "x-cache": "BYPASS" },
      );
    } catch (err) {
      throw err instanceof AllStrategiesFailed ? retrievalUnavailable(err) : err;
    }
  })
  .post("/ask", async (c) => {
    const startedAt = performance.now();
    const config = c.var.config;
    const body = parseBody(askSchema(config), await readJson(c, 256 * 1024), "ask request");
    await checkQueryLength(config, body.query, "ask request");

    let prepared: PreparedAsk;
    try {
      prepared = await prepareAsk(
        {
          sql: c.var.sql(),
          embedder: createEmbedder(config),
          tokenizer: () => tokenizerForModel(body.model),
          retrievalTokenizer: tiktoken,
          chat: createChatModels(config, () => tokenizerForModel(body.model)),
          now: new Date(),
        },
        {
          question: body.query.trim(),
          tenantId: c.var.auth.tenantId,
          sessionId: body.session_id,
          // The top_k best chunks are the candidates; context selection fits them to the budget.
          retrieval: { ...retrievalOptions(c, body, body.top_k), tokenBudget: undefined, expandNeighbours: false, compress: false },
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
    const meta = {
      request_id: c.var.requestId,
      cache: "BYPASS",
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
    };
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
    c.header("x-cache", "BYPASS");
    c.header("server-timing", serverTiming(prepared.timings));

    if (!body.stream) {
      const generation = prepared.answer(c.req.raw.signal);
      let result = await generation.next();
      while (!result.done) result = await generation.next();
      const done = result.value;
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
          await stream.writeSSE({ event: "delta", data: JSON.stringify({ text: result.value }) });
          result = await generation.next();
        }
        await stream.writeSSE({ event: "done", data: JSON.stringify(doneBody(result.value)) });
      } catch (err) {
        if (aborted.signal.aborted) return;
        const apiError = toApiError(err);
        counters.inc("rag_errors_total", { kind: "stream" });
        console.warn(JSON.stringify({ level: "warn", event: "ask_stream_failed", request_id: c.var.requestId, error: String(err).slice(0, 300) }));
        await stream.writeSSE({ event: "error", data: JSON.stringify(problemBody(apiError, c.req.path)) });
      }
    });
  });
