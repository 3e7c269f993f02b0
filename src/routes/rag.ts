import { Hono } from "hono";
import type { AppEnv } from "../app-env.ts";
import { ApiError, badRequest } from "../errors.ts";
import { readJson } from "../http/read-json.ts";
import { parseBody } from "../http/validate.ts";
import { createEmbedder } from "../providers/index.ts";
import { AllStrategiesFailed, retrieve, type RetrievedChunk } from "../rag/retrieve.ts";
import { retrieveSchema } from "../rag/retrieve-schema.ts";
import { tiktoken } from "../tokens/tokenizer.ts";

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

/** /api/rag: retrieval (and, later, answers). */
export const ragRoutes = new Hono<AppEnv>().post("/retrieve", async (c) => {
  const started = performance.now();
  const config = c.var.config;
  const body = parseBody(retrieveSchema(config), await readJson(c, 256 * 1024), "retrieve request");

  // A token is at least one UTF-8 byte, so only a long query needs the tokenizer to be loaded.
  const limit = config.retrieval.maxQueryTokens;
  if (new TextEncoder().encode(body.query).length > limit && (await tiktoken()).count(body.query) > limit) {
    throw badRequest(`invalid retrieve request: query: must be at most ${limit} tokens`, [{ pointer: "#/query", detail: `must be at most ${limit} tokens` }]);
  }

  const conversationIds = [...new Set([...(body.conversation_id ? [body.conversation_id] : []), ...(body.filters?.conversation_ids ?? [])])];
  try {
    const result = await retrieve(
      { sql: c.var.sql(), embedder: createEmbedder(config), tokenizer: tiktoken, now: new Date() },
      {
        query: body.query.trim(),
        scope: {
          tenantId: c.var.auth.tenantId,
          conversationIds: conversationIds.length ? conversationIds : undefined,
          authorNames: body.filters?.author_names,
          authorTypes: body.filters?.author_types,
          from: body.filters?.from,
          to: body.filters?.to,
        },
        topK: body.top_k,
        tokenBudget: body.token_budget,
        strategies: body.strategies ?? config.retrieval.defaultStrategies,
        rrfK: body.rrf_k ?? config.retrieval.rrfK,
        efSearch: body.ef_search ?? config.retrieval.efSearch,
        candidates: Math.max(config.retrieval.candidates, body.top_k),
        strategyTimeoutMs: config.retrieval.strategyTimeoutMs,
        expandNeighbours: body.expand_neighbors ?? false,
        weights: config.retrieval.weights,
        focusShare: body.focus === false ? 0 : config.retrieval.focusShare,
      },
    );
    const total = performance.now() - started;
    const serverTiming = [...Object.entries(result.timings).map(([k, v]) => `${k};dur=${v}`), `total;dur=${total.toFixed(2)}`].join(", ");
    return c.json(
      {
        chunks: result.chunks.map(present),
        usage: { context_tokens: result.contextTokens },
        failed_strategies: result.failedStrategies,
        query: {
          speakers: result.analysis.speakers,
          time: result.analysis.time ? { from: result.analysis.time.from.toISOString(), to: result.analysis.time.to.toISOString(), match: result.analysis.time.match } : null,
        },
        timings: { ...result.timings, total: Number(total.toFixed(2)) },
      },
      200,
      { "server-timing": serverTiming, "x-cache": "BYPASS" },
    );
  } catch (err) {
    if (err instanceof AllStrategiesFailed) {
      throw new ApiError(503, "retrieval-unavailable", err.message, [], { "retry-after": "5" });
    }
    throw err;
  }
});
