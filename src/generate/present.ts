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
    id: s.id,
    conversation_id: s.conversationId,
    conversation_title: s.conversationTitle,
    message_ids: s.chunk.messageIds,
    speakers: s.speakers,
    start: s.start.toISOString(),
    end: s.end.toISOString(),
    // The text the model read, one entry per message (the chunk's lines without their prefixes).
    messages: s.messages.map((m) => ({
      id: m.id,
      author_name: m.authorName,
      author_type: m.authorType,
      timestamp: m.timestamp,
      text: m.text,
    })),
    tokens: s.chunk.tokens,
    score: Number(s.chunk.score.toFixed(6)),
    relevance: s.relevance === undefined ? null : Number(s.relevance.toFixed(4)),
    ...(s.chunk.compressed ? { compressed: true } : {}),
    ...(s.chunk.truncated ? { truncated: true } : {}),
  })),
  failed_strategies: prepared.failedStrategies,
  relevance: {
    floor: prepared.relevance.floor,
    best: prepared.relevance.best === undefined ? null : Number(prepared.relevance.best.toFixed(4)),
  },
});

/**
 * The JSON body of an answer: meta and done in one object, each source marked `cited` (an SSE
 * client reads the same from done's citations and uncited_sources).
 */
export function answerBody(answer: string, meta: Record<string, unknown>, done: Record<string, unknown>) {
  const uncited = new Set((done.uncited_sources as number[] | undefined) ?? []);
  const sources = (meta.sources as { n: number }[] | undefined)?.map((s) => ({ ...s, cited: !uncited.has(s.n) }));
  return { answer, ...meta, ...(sources ? { sources } : {}), ...done };
}

export const doneBody = (done: GenerationDone & { sessionSaved?: boolean | undefined }) => ({
  finish_reason: done.finishReason,
  fallback: done.fallback,
  ...(done.fallbackReason ? { fallback_reason: done.fallbackReason } : {}),
  citations: done.citations.map((c) => ({ n: c.n, source_id: c.sourceId, message_ids: c.messageIds })),
  uncited_sources: done.uncited,
  nothing_relevant: done.nothingRelevant,
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
