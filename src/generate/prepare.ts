import { compressHistory, type History } from "../context/history.ts";
import { termCoverage } from "../context/relevance.ts";
import { type Selected, type SelectionStrategy, type SelectOptions, selectContext } from "../context/select.ts";
import { type MessageDetails, messageKey } from "../db/messages.ts";
import { type ChunkSearch, pairKey, type SessionStore } from "../db/ports.ts";
import { errorText, logLine } from "../log.ts";
import { counters } from "../observability/counters.ts";
import type { AnswerSource, ChatFinish, ChatModel, ChatModels, ChatRequest, SourceMessage } from "../providers/chat-model.ts";
import type { Embedder } from "../providers/embedder.ts";
import { type RetrievedChunk, type RetrieveOptions, retrieve } from "../retrieve/retrieve.ts";
import { parseSourceLines } from "../text/source-lines.ts";
import { queryTerms } from "../text/words.ts";
import { elapsedMs, withDeadline } from "../timeouts.ts";
import type { Tokenizer } from "../tokens/tokenizer.ts";
import { heuristicStandalone, needsContext, plausibleRewrite, rewritePrompt, summaryPrompt } from "./follow-up.ts";
import { fallbackSeen, runGeneration } from "./generation.ts";
import { buildPrompt } from "./prompt.ts";

export interface AskDeps {
  chunks: ChunkSearch;
  sessions: SessionStore;
  embedder: Embedder;
  /** The tokenizer of the chat model: the context budget, history and usage are counted in it. */
  tokenizer: () => Promise<Tokenizer>;
  chat: ChatModels;
  now: Date;
}

export interface AskOptions {
  question: string;
  tenantId: string;
  sessionId: string | undefined;
  retrieval: Omit<RetrieveOptions, "query">;
  model: string;
  temperature: number;
  maxTokens: number;
  history: { maxTokens: number; verbatimTurns: number };
  /** Budget of the prompt's context: the sources and the session history together. */
  maxContextTokens: number;
  selection: Omit<SelectOptions, "budget" | "terms" | "tokenizer" | "strategy"> & { strategy: SelectionStrategy };
  /**
   * Below this term coverage (context/relevance.ts) for its best source, an ask answers that
   * nothing relevant was found, without calling the model; 0 turns the floor off.
   */
  relevanceFloor: number;
  firstTokenTimeoutMs: number;
  idleTimeoutMs: number;
  helperTimeoutMs: number;
  /** performance.now() when the request arrived: time to first token is measured from it. */
  startedAt: number;
}

export interface AskQuery {
  text: string;
  standalone: string;
  rewrittenBy: "llm" | "heuristic" | null;
}

export interface ContextUsage {
  contextTokens: number;
  historyTokens: number;
  /** What the same retrieved chunks would cost concatenated whole (naive top-k). */
  naiveContextTokens: number;
  promptTokens: number;
  completionTokens: number;
}

/** How relevant the best source was, against the floor; `best` is undefined when the question had no content terms. */
export interface Relevance {
  floor: number;
  best: number | undefined;
  /** The best source is below the floor: the answer says nothing relevant was found. */
  nothingRelevant: boolean;
}

/** One citation of an answer: the source number, the source, and the messages of it the answer draws on. */
export interface Citation {
  n: number;
  sourceId: string;
  messageIds: string[];
}

export interface AskDone {
  answer: string;
  finishReason: ChatFinish["finishReason"];
  fallback: boolean;
  fallbackReason: string | undefined;
  usage: ContextUsage & { tokensSaved: number };
  timings: Record<string, number>;
  citations: Citation[];
  /** Numbers of the sources the answer does not cite. */
  uncited: number[];
  nothingRelevant: boolean;
  sessionSaved: boolean | undefined;
}

/**
 * Everything the answer's generation needs, as plain data: it can run where the request was
 * prepared or in the AskCoalescer that shares it between identical asks.
 */
export interface GenerationPlan {
  request: ChatRequest;
  usage: Omit<ContextUsage, "completionTokens">;
  /** Timings of the preparation (history, retrieval, selection), in ms. */
  timings: Record<string, number>;
  firstTokenTimeoutMs: number;
  idleTimeoutMs: number;
  /** Time from the request's arrival to the end of preparation: time to first token counts from arrival. */
  preparedAfterMs: number;
  /** Nothing retrieved is relevant enough: the answer says so, and no model is called. */
  nothingRelevant: boolean;
  /** Numbers of every source listed in `meta` (the prompt's sources are empty when nothing is relevant). */
  sourceNumbers: number[];
}

export type GenerationDone = Omit<AskDone, "sessionSaved">;

export interface PreparedAsk {
  query: AskQuery;
  sources: (AnswerSource & { chunk: Selected<RetrievedChunk>; relevance: number | undefined; conversationTitle: string | null })[];
  relevance: Relevance;
  history: History;
  failedStrategies: string[];
  provider: ChatModel["provider"];
  timings: Record<string, number>;
  plan: GenerationPlan;
  /**
   * Streams the answer's text (citations checked) and returns the summary for the `done` event.
   * `forceFallback` skips the configured model (its rate budget is spent) and says why.
   */
  answer(signal: AbortSignal, forceFallback?: string): AsyncGenerator<string, AskDone>;
}

/** Turns read for a session's history (an ask reads the same to know whether its session is empty, once: db/postgres.ts readOnce). */
export const SESSION_TURNS_LOADED = 50;
/**
 * Everything before generation: the session's history (compressed), the follow-up made
 * standalone, retrieval, the sources and the prompt. Errors here happen before any byte of the
 * response, so they become problem+json. Generation then runs in `answer()`.
 */
export async function prepareAsk(deps: AskDeps, options: AskOptions): Promise<PreparedAsk> {
  const timings: Record<string, number> = {};
  const { primary } = deps.chat;
  // No helper calls to a provider whose breaker is open: the heuristics answer at once.
  const helper = deps.chat.breaker?.state === "open" ? undefined : primary.complete?.bind(primary);
  const helperCall = (messages: Parameters<NonNullable<ChatModel["complete"]>>[0], maxTokens: number) =>
    withDeadline(options.helperTimeoutMs, (signal) => helper!(messages, { model: options.model, maxTokens, signal }));

  let started = performance.now();
  const [session, tokenizer] = await Promise.all([
    options.sessionId ? deps.sessions.load(options.sessionId, SESSION_TURNS_LOADED) : undefined,
    deps.tokenizer(),
  ]);
  // History shares the context budget: at most half of it, the rest is for the sources.
  const history = await compressHistory(session, {
    maxTokens: Math.min(options.history.maxTokens, Math.floor(options.maxContextTokens / 2)),
    verbatimTurns: options.history.verbatimTurns,
    tokenizer,
    summarise:
      helper && (async (previous, turns, maxTokens) => helperCall(summaryPrompt(previous, turns, maxTokens), Math.max(32, maxTokens))),
    onSummaryFallback: (err) => fallbackSeen("summary", err),
  });
  timings.history = elapsedMs(started);

  started = performance.now();
  const query = await standaloneQuery(options.question, session?.turns ?? [], helper ? (messages) => helperCall(messages, 160) : undefined);
  if (query.rewrittenBy) timings.rewrite = elapsedMs(started);

  started = performance.now();
  const retrieved = await retrieve(
    { chunks: deps.chunks, embedder: deps.embedder, now: deps.now },
    { ...options.retrieval, query: query.standalone },
  );
  timings.retrieve = elapsedMs(started);
  Object.assign(timings, Object.fromEntries(Object.entries(retrieved.timings).map(([k, v]) => [`retrieve_${k}`, v])));

  started = performance.now();
  // MMR and the redundancy check compare candidates: their similarities come from the database.
  const needsSimilarities = options.selection.strategy !== "relevance" && retrieved.chunks.length > 1;
  const similarities = needsSimilarities
    ? await deps.chunks.similarities(
        retrieved.chunks.map((c) => c.id),
        deps.embedder.model,
      )
    : new Map<string, number>();
  const selection = selectContext(retrieved.chunks, {
    ...options.selection,
    budget: options.maxContextTokens - history.tokens,
    terms: new Set(queryTerms(query.standalone)),
    tokenizer,
    // Stored token counts are cl100k: only another encoding counts the chunks again.
    recount: tokenizer.encoding !== "cl100k_base",
    similarity: (a, b) => similarities.get(pairKey(a.id, b.id)),
  });
  timings.select = elapsedMs(started);

  // Relevance is measured on what the model would read, against the other candidates' texts.
  const coverage = termCoverage(
    query.standalone,
    selection.chunks.map((c) => c.text),
  );
  started = performance.now();
  const details = await deps.chunks.messages(selection.chunks.map((c) => ({ conversationId: c.conversationId, messageIds: c.messageIds })));
  timings.messages = elapsedMs(started);
  const sources = selection.chunks.map((chunk, i) => ({
    n: i + 1,
    id: chunk.id,
    conversationId: chunk.conversationId,
    speakers: chunk.authors,
    start: chunk.start,
    end: chunk.end,
    text: chunk.text,
    messages: sourceMessages(chunk, details),
    conversationTitle:
      chunk.messageIds.map((id) => details.get(messageKey(chunk.conversationId, id))).find(Boolean)?.conversationTitle ?? null,
    relevance: coverage?.[i],
    chunk,
  }));
  const best = coverage && coverage.length > 0 ? Math.max(...coverage) : undefined;
  const relevance: Relevance = {
    floor: options.relevanceFloor,
    best,
    nothingRelevant: sources.length > 0 && best !== undefined && best < options.relevanceFloor,
  };
  // Nothing relevant: the model reads no excerpts and is not called (generation says so itself).
  const promptSources = relevance.nothingRelevant ? [] : sources;
  // The LLM reads the history, so it gets the question as asked unless it rewrote it itself.
  const promptQuestion = query.rewrittenBy === "llm" ? query.standalone : options.question;
  const request: ChatRequest = {
    messages: buildPrompt(promptQuestion, promptSources, history),
    question: query.standalone,
    sources: promptSources,
    model: options.model,
    temperature: options.temperature,
    maxTokens: options.maxTokens,
  };
  const promptTokens = relevance.nothingRelevant ? 0 : request.messages.reduce((sum, m) => sum + tokenizer.count(m.content) + 4, 3);

  const plan: GenerationPlan = {
    request,
    usage: {
      contextTokens: relevance.nothingRelevant ? 0 : selection.tokens,
      historyTokens: relevance.nothingRelevant ? 0 : history.tokens,
      naiveContextTokens: selection.naiveTokens,
      promptTokens,
    },
    timings,
    firstTokenTimeoutMs: options.firstTokenTimeoutMs,
    idleTimeoutMs: options.idleTimeoutMs,
    preparedAfterMs: elapsedMs(options.startedAt),
    nothingRelevant: relevance.nothingRelevant,
    sourceNumbers: sources.map((s) => s.n),
  };

  return {
    query,
    sources,
    relevance,
    history,
    failedStrategies: retrieved.failedStrategies,
    provider: primary.provider,
    timings,
    plan,
    async *answer(signal, forceFallback) {
      const done = yield* runGeneration(deps.chat, tokenizer, plan, signal, { startedAt: options.startedAt, forceFallback });
      let sessionSaved: boolean | undefined;
      if (options.sessionId && !signal.aborted) sessionSaved = await saveTurn(deps.sessions, options, query, done.answer, sources, history);
      return { ...done, sessionSaved };
    },
  };
}

/**
 * A source's messages, one per line of its text (compression and truncation keep that mapping),
 * with each message's author and exact time from the database and the text exactly as the model
 * reads it.
 */
function sourceMessages(
  chunk: { conversationId: string; messageIds: string[]; text: string; authors: string[]; start: Date },
  details: Map<string, MessageDetails>,
): SourceMessage[] {
  const lines = parseSourceLines(chunk.text, chunk.authors, chunk.start.toISOString().slice(0, 10));
  return chunk.messageIds.flatMap((id, i) => {
    const found = details.get(messageKey(chunk.conversationId, id));
    const line = lines[i];
    if (!found || !line) return [];
    return [{ id, authorName: found.authorName, authorType: found.authorType, timestamp: found.timestamp.toISOString(), text: line.text }];
  });
}

async function standaloneQuery(
  question: string,
  turns: { question: string; standaloneQuestion: string; answer: string; id: number }[],
  rewrite: ((messages: ReturnType<typeof rewritePrompt>) => Promise<string>) | undefined,
): Promise<AskQuery> {
  const last = turns[turns.length - 1];
  if (!last || !needsContext(question)) return { text: question, standalone: question, rewrittenBy: null };
  if (rewrite) {
    try {
      const rewritten = plausibleRewrite(await rewrite(rewritePrompt(question, turns.slice(-3))), question);
      if (rewritten) return { text: question, standalone: rewritten, rewrittenBy: "llm" };
      fallbackSeen("rewrite", new Error("implausible rewrite"));
    } catch (err) {
      fallbackSeen("rewrite", err);
    }
  }
  return { text: question, standalone: heuristicStandalone(question, last), rewrittenBy: "heuristic" };
}

async function saveTurn(
  sessions: SessionStore,
  options: AskOptions,
  query: AskQuery,
  answer: string,
  sources: AnswerSource[],
  history: History,
): Promise<boolean> {
  const turn = {
    question: query.text,
    standaloneQuestion: query.standalone,
    answer,
    sources: sources.map((s) => ({
      n: s.n,
      conversation_id: s.conversationId,
      message_ids: (s as { chunk?: RetrievedChunk }).chunk?.messageIds ?? [],
    })),
  };
  return storeTurn(sessions, options.sessionId!, turn, history.newSummary);
}

/**
 * Stores an answered turn, and a newer summary of the history. A failure is logged and counted
 * and the answer stands (`session_saved: false`). Also used for a cached answer served as a
 * session's first turn (ask/ask-service.ts).
 */
export async function storeTurn(
  sessions: SessionStore,
  sessionId: string,
  turn: Parameters<SessionStore["append"]>[1],
  summary?: History["newSummary"],
): Promise<boolean> {
  try {
    await sessions.append(sessionId, turn);
    if (summary) await sessions.saveSummary(sessionId, summary.text, summary.through);
    return true;
  } catch (err) {
    logLine("error", { event: "session_write_failed", error: errorText(err) });
    counters.inc("rag_errors_total", { kind: "session_write" });
    return false;
  }
}
