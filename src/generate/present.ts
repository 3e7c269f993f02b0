import type { GenerationDone, PreparedAsk } from "./prepare.ts";

// The ask's response bodies, shared by the request that prepares an answer and the AskCoalescer
// that may generate it: `meta` (what was retrieved) and `done` (how the answer finished).

/** The `meta` event without the request's own id and cache status: identical for identical asks. */
/** The request fields the `meta` event repeats. */
export interface MetaRequest {
  model: string;
  strategy: string;
  /** The retrieval strategies that ran (the request's, or the configured ones). */
  strategies: string[];
  session_id?: string | undefined;
}

export const present = (prepared: PreparedAsk, body: MetaRequest) => ({
  model: body.model,
  provider: prepared.provider,
  strategy: body.strategy,
  strategies: body.strategies,
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

export const doneBody = (done: GenerationDone & { sessionSaved?: boolean | undefined }) => ({
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
