import { compressHistory, type History } from "../context/history.ts";
import { type Selected, type SelectionStrategy, type SelectOptions, selectContext } from "../context/select.ts";
import { chunkEmbeddings } from "../db/chunks.ts";
import type { Sql } from "../db/client.ts";
import { appendTurn, loadSession, saveSummary } from "../db/sessions.ts";
import { counters } from "../observability/counters.ts";
import {
  type AnswerSource,
  ChatError,
  type ChatFinish,
  type ChatModel,
  type ChatModels,
  type ChatRequest,
} from "../providers/chat-model.ts";
import type { Embedder } from "../providers/embedder.ts";
import { type RetrievedChunk, type RetrieveOptions, retrieve } from "../retrieve/retrieve.ts";
import { queryTerms } from "../text/words.ts";
import { elapsedMs, FirstTokenTimeout, firstWithin, nextWithin, withDeadline } from "../timeouts.ts";
import type { Tokenizer } from "../tokens/tokenizer.ts";
import { citationFilter, citedNumbers } from "./citations.ts";
import { heuristicStandalone, needsContext, plausibleRewrite, rewritePrompt, summaryPrompt } from "./follow-up.ts";
import { buildPrompt } from "./prompt.ts";

export interface AskDeps {
  sql: Sql;
  embedder: Embedder;
  /** The tokenizer of the chat model: the context budget, history and usage are counted in it. */
  tokenizer: () => Promise<Tokenizer>;
  /** The tokenizer retrieval budgets are counted in (cl100k). */
  retrievalTokenizer: () => Promise<Tokenizer>;
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

export interface AskDone {
  answer: string;
  finishReason: ChatFinish["finishReason"];
  fallback: boolean;
  fallbackReason: string | undefined;
  usage: ContextUsage & { tokensSaved: number };
  timings: Record<string, number>;
  citations: number[];
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
}

export type GenerationDone = Omit<AskDone, "sessionSaved">;

export interface PreparedAsk {
  query: AskQuery;
  sources: (AnswerSource & { chunk: Selected<RetrievedChunk> })[];
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

const SESSION_TURNS_LOADED = 50;
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
    options.sessionId ? loadSession(deps.sql, options.tenantId, options.sessionId, SESSION_TURNS_LOADED) : undefined,
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
    { sql: deps.sql, embedder: deps.embedder, tokenizer: deps.retrievalTokenizer, now: deps.now },
    { ...options.retrieval, query: query.standalone },
  );
  timings.retrieve = elapsedMs(started);
  Object.assign(timings, Object.fromEntries(Object.entries(retrieved.timings).map(([k, v]) => [`retrieve_${k}`, v])));

  started = performance.now();
  const needsVectors = options.selection.strategy !== "relevance" && retrieved.chunks.length > 1;
  const vectors = needsVectors
    ? await chunkEmbeddings(
        deps.sql,
        options.tenantId,
        retrieved.chunks.map((c) => c.id),
      )
    : new Map<string, Float32Array>();
  const selection = selectContext(
    retrieved.chunks.map((c) => ({ ...c, embedding: vectors.get(c.id) })),
    {
      ...options.selection,
      budget: options.maxContextTokens - history.tokens,
      terms: new Set(queryTerms(query.standalone)),
      tokenizer,
    },
  );
  timings.select = elapsedMs(started);

  const sources = selection.chunks.map(({ embedding: _, ...chunk }, i) => ({
    n: i + 1,
    conversationId: chunk.conversationId,
    speakers: chunk.authors,
    start: chunk.start,
    end: chunk.end,
    text: chunk.text,
    chunk,
  }));
  // The LLM reads the history, so it gets the question as asked unless it rewrote it itself.
  const promptQuestion = query.rewrittenBy === "llm" ? query.standalone : options.question;
  const request: ChatRequest = {
    messages: buildPrompt(promptQuestion, sources, history),
    question: query.standalone,
    sources,
    model: options.model,
    temperature: options.temperature,
    maxTokens: options.maxTokens,
  };
  const promptTokens = request.messages.reduce((sum, m) => sum + tokenizer.count(m.content) + 4, 3);

  const plan: GenerationPlan = {
    request,
    usage: { contextTokens: selection.tokens, historyTokens: history.tokens, naiveContextTokens: selection.naiveTokens, promptTokens },
    timings,
    firstTokenTimeoutMs: options.firstTokenTimeoutMs,
    idleTimeoutMs: options.idleTimeoutMs,
    preparedAfterMs: elapsedMs(options.startedAt),
  };

  return {
    query,
    sources,
    history,
    failedStrategies: retrieved.failedStrategies,
    provider: primary.provider,
    timings,
    plan,
    async *answer(signal, forceFallback) {
      const done = yield* runGeneration(deps.chat, tokenizer, plan, signal, { startedAt: options.startedAt, forceFallback });
      let sessionSaved: boolean | undefined;
      if (options.sessionId && !signal.aborted) sessionSaved = await saveTurn(deps.sql, options, query, done.answer, sources, history);
      return { ...done, sessionSaved };
    },
  };
}

/**
 * Generates the answer of a plan: streams the checked text and returns the `done` summary.
 * `startedAt` is performance.now() at the request's arrival as seen where this runs.
 */
export async function* runGeneration(
  chat: AskDeps["chat"],
  tokenizer: Tokenizer,
  plan: GenerationPlan,
  signal: AbortSignal,
  at: { startedAt: number; forceFallback?: string | undefined },
): AsyncGenerator<string, GenerationDone> {
  const upstream = new AbortController();
  const onAbort = () => upstream.abort(signal.reason);
  signal.addEventListener("abort", onAbort);
  try {
    counters.inc("rag_llm_calls_total", { provider: at.forceFallback ? chat.fallback.provider : chat.primary.provider });
    const generated = yield* generate(chat, plan, upstream, at);
    const answer = generated.answer;
    const timings = { ...plan.timings, ...generated.timings, total: elapsedMs(at.startedAt) };
    const promptTokens = generated.usage?.promptTokens ?? plan.usage.promptTokens;
    const completionTokens = generated.usage?.completionTokens ?? tokenizer.count(answer);
    const model = generated.fallback ? chat.fallback.provider : plan.request.model;
    counters.inc("rag_tokens_used_total", { model, type: "input" }, promptTokens);
    counters.inc("rag_tokens_used_total", { model, type: "output" }, completionTokens);
    return {
      ...generated,
      usage: {
        ...plan.usage,
        tokensSaved: plan.usage.naiveContextTokens - plan.usage.contextTokens,
        promptTokens,
        completionTokens,
      },
      timings,
      citations: citedNumbers(answer),
    };
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}

/**
 * Streams from the configured model; if it fails or stays silent before its first piece, from
 * the extractive answerer instead (flagged and counted). After the first piece a failure is
 * final: the caller ends the stream with an error.
 */
async function* generate(
  chat: AskDeps["chat"],
  plan: GenerationPlan,
  upstream: AbortController,
  at: { startedAt: number; forceFallback?: string | undefined },
): AsyncGenerator<
  string,
  {
    answer: string;
    finishReason: ChatFinish["finishReason"];
    fallback: boolean;
    fallbackReason: string | undefined;
    usage: ChatFinish["usage"];
    timings: Record<string, number>;
  }
> {
  const { request } = plan;
  const filter = citationFilter(request.sources.length);
  let fallbackReason = at.forceFallback;
  // While the provider's breaker is open, the fallback answers without a call to it.
  if (!fallbackReason && chat.primary !== chat.fallback && chat.breaker?.allow() === "open") fallbackReason = "circuit_open";
  let model = fallbackReason ? chat.fallback : chat.primary;
  let stream = model.stream(request, upstream.signal);
  if (fallbackReason) fallbackSeen(fallbackReason, new Error("configured model skipped"));
  let first: IteratorResult<string, ChatFinish>;
  try {
    first = await firstWithin(stream, plan.firstTokenTimeoutMs, upstream);
  } catch (err) {
    // A client that went away needs no fallback; the extractive answerer has none.
    if ((upstream.signal.aborted && !(err instanceof FirstTokenTimeout)) || model === chat.fallback) throw err;
    chat.breaker?.failure(err instanceof ChatError ? err.retryAfterMs : undefined);
    fallbackReason =
      err instanceof FirstTokenTimeout
        ? "first_token_timeout"
        : err instanceof ChatError && err.status
          ? `provider_status_${err.status}`
          : "provider_error";
    fallbackSeen("chat", err, fallbackReason);
    model = chat.fallback;
    stream = model.stream(request, new AbortController().signal);
    first = await stream.next();
  }
  if (model === chat.primary) chat.breaker?.success();
  const ttft = elapsedMs(at.startedAt);
  let answer = "";
  let result = first;
  while (!result.done) {
    const text = filter.push(result.value);
    if (text) {
      answer += text;
      yield text;
    }
    result = model === chat.fallback ? await stream.next() : await nextWithin(stream, plan.idleTimeoutMs, upstream);
  }
  const rest = filter.flush();
  if (rest) {
    answer += rest;
    yield rest;
  }
  return {
    answer,
    finishReason: result.value.finishReason,
    fallback: fallbackReason !== undefined,
    fallbackReason,
    usage: model === chat.fallback && fallbackReason ? undefined : result.value.usage,
    timings: { ttft },
  };
}

function fallbackSeen(kind: string, err: unknown, reason?: string) {
  counters.inc("rag_fallbacks_total", { kind });
  console.warn(JSON.stringify({ level: "warn", event: "fallback", kind, reason, error: String(err).slice(0, 300) }));
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
  sql: Sql,
  options: AskOptions,
  query: AskQuery,
  answer: string,
  sources: AnswerSource[],
  history: History,
): Promise<boolean> {
  const sessionId = options.sessionId!;
  try {
    await appendTurn(sql, options.tenantId, sessionId, {
      question: query.text,
      standaloneQuestion: query.standalone,
      answer,
      sources: sources.map((s) => ({
        n: s.n,
        conversation_id: s.conversationId,
        message_ids: (s as { chunk?: RetrievedChunk }).chunk?.messageIds ?? [],
      })),
    });
    if (history.newSummary) await saveSummary(sql, options.tenantId, sessionId, history.newSummary.text, history.newSummary.through);
    return true;
  } catch (err) {
    console.error(JSON.stringify({ level: "error", event: "session_write_failed", error: String(err).slice(0, 300) }));
    counters.inc("rag_errors_total", { kind: "session_write" });
    return false;
  }
}
