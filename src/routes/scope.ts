import type { Context } from "hono";
import type { AppEnv } from "../app-env.ts";
import type { Config } from "../config.ts";
import { ApiError, badRequest } from "../errors.ts";
import type { AllStrategiesFailed, RetrieveOptions } from "../retrieve/retrieve.ts";
import { tiktoken } from "../tokens/tokenizer.ts";

// Request handling shared by the retrieve and ask handlers.

interface ScopeBody {
  query: string;
  conversation_id?: string | undefined;
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

/** Retrieval options for a request: its scope (always the caller's tenant) and the configured defaults. */
export function retrievalOptions(
  c: Context<AppEnv>,
  body: ScopeBody,
  topK: number,
): Omit<RetrieveOptions, "query" | "tokenBudget" | "expandNeighbours" | "compress"> {
  const config = c.var.config;
  const conversationIds = [
    ...new Set([...(body.conversation_id ? [body.conversation_id] : []), ...(body.filters?.conversation_ids ?? [])]),
  ];
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
    statementTimeoutMs: config.retrieval.statementTimeoutMs,
    weights: config.retrieval.weights,
  };
}

export const retrievalUnavailable = (err: AllStrategiesFailed) =>
  new ApiError(503, "retrieval-unavailable", err.message, [], { "retry-after": "5" });
export const serverTiming = (timings: Record<string, number>) =>
  Object.entries(timings)
    .map(([k, v]) => `${k};dur=${v}`)
    .join(", ");
