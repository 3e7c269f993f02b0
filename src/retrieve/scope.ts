import { type Config, strategiesFor } from "../config.ts";
import { ApiError, badRequest } from "../errors.ts";
import { tiktoken } from "../tokens/tokenizer.ts";
import type { AllStrategiesFailed, RetrieveOptions } from "./retrieve.ts";

// Request handling shared by the retrieve and ask handlers.

interface ScopeBody {
  query: string;
  conversation_id?: string | undefined;
  strategies?: RetrieveOptions["strategies"] | undefined;
  filters?: { conversation_ids?: string[]; author_names?: string[]; author_types?: string[]; from?: Date; to?: Date } | undefined;
}

/** Rejects a query over the configured token limit; only a long query needs the tokenizer loaded. */
export async function checkQueryLength(config: Config, query: string, what: string) {
  const limit = config.retrieval.maxQueryTokens;
  if (new TextEncoder().encode(query).length > limit && (await tiktoken()).count(query) > limit) {
    throw badRequest(`invalid ${what}: query: must be at most ${limit} tokens`, [
      { pointer: "#/query", detail: `must be at most ${limit} tokens` },
    ]);
  }
}

/** What a request's retrieval searches and how (everything but the query and the neighbour expansion). */
export type RetrievalScope = Omit<RetrieveOptions, "query" | "tokenBudget" | "expandNeighbours">;

/** What a request searches, from the request alone (always the caller's tenant): cache keys are built on it. */
export function requestScope(tenantId: string, body: ScopeBody): RetrievalScope["scope"] {
  const conversationIds = [
    ...new Set([...(body.conversation_id ? [body.conversation_id] : []), ...(body.filters?.conversation_ids ?? [])]),
  ];
  return {
    tenantId,
    conversationIds: conversationIds.length ? conversationIds : undefined,
    authorNames: body.filters?.author_names,
    authorTypes: body.filters?.author_types,
    from: body.filters?.from,
    to: body.filters?.to,
  };
}

/**
 * Retrieval options for a request: its scope and the configured defaults, of which the
 * strategies depend on the tenant's search model (keyword alone for the local embedder).
 */
export function retrievalOptions(
  config: Config,
  tenantId: string,
  body: ScopeBody,
  topK: number,
  searchModel: { provider: string },
): RetrievalScope {
  return {
    scope: requestScope(tenantId, body),
    topK,
    strategies: body.strategies ?? strategiesFor(config.retrieval, searchModel.provider),
    rrfK: config.retrieval.rrfK,
    efSearch: config.retrieval.efSearch,
    candidates: Math.max(config.retrieval.candidates, topK),
    strategyTimeoutMs: config.retrieval.strategyTimeoutMs,
    statementTimeoutMs: config.retrieval.statementTimeoutMs,
    weights: config.retrieval.weights,
  };
}

export const retrievalUnavailable = (err: AllStrategiesFailed) =>
  new ApiError(503, "retrieval-unavailable", err.message, [], { "retry-after": "5" });
