import { admit, settle } from "../admission/admission.ts";
import { budgetedChat } from "../admission/budgeted-chat.ts";
import { type CachedAnswer, type Lookup, lookupAnswer, rememberAnswer } from "../answer-cache/answer-cache.ts";
import type { SemanticDeps } from "../answer-cache/semantic.ts";
import { semanticStore } from "../answer-cache/semantic-store.ts";
import { InIsolate } from "../coalesce/in-isolate.ts";
import { type Ready, shareAnswer } from "../coalesce/share-answer.ts";
import { semanticThreshold } from "../config.ts";
import { ApiError } from "../errors.ts";
import { answerRecords } from "../generate/generation.ts";
import { type PreparedAsk, prepareAsk, SESSION_TURNS_LOADED, storeTurn } from "../generate/prepare.ts";
import { present } from "../generate/present.ts";
import type { AskRecord, RecordSource } from "../generate/records.ts";
import { fromProblem, generatorRecords } from "../generate/records.ts";
import { counters } from "../observability/counters.ts";
import { createChatModels } from "../providers/index.ts";
import { AllStrategiesFailed, queryTexts } from "../retrieve/retrieve.ts";
import { type RetrievalScope, requestScope, retrievalOptions, retrievalUnavailable } from "../retrieve/scope.ts";
import type { Services } from "../services.ts";
import { elapsedMs, race } from "../timeouts.ts";
import { tokenizerForModel } from "../tokens/tokenizer.ts";
import type { AskBody } from "./ask-schema.ts";

// One ask, from a validated request to its answer: the answer cache (exact, then by meaning),
// then preparation (history, retrieval, context selection, prompt), admission (quota, rate
// budget) and generation, shared between identical asks in flight when that saves a model call.

export type AskOutcome =
  | { kind: "cached"; status: "HIT-L1" | "HIT-L2" | "HIT-SEMANTIC"; entry: CachedAnswer }
  /** The whole answer of an identical ask that was in flight in this isolate. */
  | { kind: "shared"; status: "MISS"; entry: CachedAnswer }
  | {
      kind: "answer";
      status: "MISS" | "BYPASS";
      /** local: generated in this request; leader/follower: shared through the AskCoalescer. */
      role: "local" | "leader" | "follower";
      /** The answer's first record (meta); the rest come from `source`. */
      meta: Extract<AskRecord, { type: "meta" }>;
      source: RecordSource;
      /** Longest wait for the next record. */
      idleMs: number;
      /** Timings before the answer's own (cache lookups, the question's embedding). */
      early: Record<string, number>;
      /** Caches a whole answer (set when the ask is cacheable and missed). */
      remember: ((entry: CachedAnswer) => void) | undefined;
      /** Called once the response has ended, however it ended. */
      finished(): void;
    };

/**
 * Identical extractive asks in flight in this isolate share one answer (the AskCoalescer would
 * cost more than the answer). Kept for a few seconds after it ends, until the cache serves it.
 */
const inIsolate = new InIsolate<CachedAnswer>(5_000, 60_000);

export async function answerAsk(services: Services, body: AskBody, startedAt: number): Promise<AskOutcome> {
  const { config, tenantId } = services;
  // The default strategies follow the tenant's search model, a database read an exact hit does without.
  let scoped: Promise<RetrievalScope> | undefined;
  const retrievalScope = () =>
    (scoped ??= services.searchModel().then((model) => retrievalOptions(config, tenantId, body, body.top_k, model)));
  const cacheableAsk = config.cache.enabled && body.cache && body.temperature <= config.cache.maxTemperature;
  // A session's answers depend on its history, so they are not cached, except its first question:
  // with no history it is answered exactly as if asked alone, and a cached answer gets its turn.
  const sessionId = body.session_id;
  const firstTurn = cacheableAsk && sessionId !== undefined && (await sessionIsEmpty(services, sessionId));
  const cacheable = cacheableAsk && (sessionId === undefined || firstTurn);
  const early: Record<string, number> = {};
  let lookup: Lookup = { status: "BYPASS" };
  if (cacheable) {
    const filters = requestScope(tenantId, body);
    lookup = await lookupAnswer(answerCacheDeps(services, retrievalScope, body.query.trim()), {
      question: body.query,
      conversationIds: filters.conversationIds,
      parts: {
        filters: { ...filters, tenantId: undefined },
        top_k: body.top_k,
        // The request's own (none: the defaults, which the key's config and the tenant's version cover).
        strategies: body.strategies,
        strategy: body.strategy,
        max_context_tokens: body.max_context_tokens,
        model: body.model,
        temperature: body.temperature.toFixed(2),
        max_tokens: body.max_tokens,
      },
    });
    if (lookup.status !== "MISS" && lookup.status !== "BYPASS") {
      const entry = sessionId === undefined ? lookup.entry : await withTurn(services, sessionId, body.query.trim(), lookup.entry);
      return { kind: "cached", status: lookup.status, entry };
    }
    if (lookup.status === "MISS" && lookup.embedMs !== undefined) early.embed = lookup.embedMs;
    early.cache = elapsedMs(startedAt);
  }
  const miss = lookup.status === "MISS" ? lookup : undefined;
  const { chat, durable } = config;
  // Safety nets around the answer's own deadlines (first token, idle), so no client waits forever.
  const idleMs = Math.max(chat.firstTokenTimeoutMs, chat.idleTimeoutMs) + 5_000;
  let lead: ((entry: CachedAnswer | undefined) => void) | undefined;
  // A session's turn is stored by the generation that answers it: its ask shares no answer in flight.
  if (miss && sessionId === undefined && durable.coalesceAsks && chat.provider === "extractive") {
    const joined = inIsolate.join(miss.key);
    if (joined.role === "leader") lead = joined.finish;
    else {
      // A lead that never finishes (its request was cancelled) only delays this one: it answers alone.
      const entry = await race(joined.value, idleMs, () => new Error("timed out")).catch(() => undefined);
      if (entry) {
        counters.inc("rag_coalesced_requests_total");
        return { kind: "shared", status: "MISS", entry };
      }
    }
  }
  try {
    return await openAnswer(services, body, await retrievalScope(), startedAt, lookup.status, miss, early, idleMs, lead);
  } catch (err) {
    lead?.(undefined);
    throw err;
  }
}

async function openAnswer(
  services: Services,
  body: AskBody,
  scope: RetrievalScope,
  startedAt: number,
  status: Lookup["status"],
  miss: Extract<Lookup, { status: "MISS" }> | undefined,
  early: Record<string, number>,
  idleMs: number,
  lead: ((entry: CachedAnswer | undefined) => void) | undefined,
): Promise<AskOutcome> {
  const { durable } = services.config;
  const finish = (role: "local" | "leader" | "follower", source: RecordSource, first: AskRecord | undefined) =>
    finishOpening(status, role, source, first, idleMs, early, miss && remember(services, miss, body, lead), () => lead?.(undefined));
  const prepare = () => prepareReady(services, body, scope, startedAt);
  const local = async (ready?: Ready) => localRecords(services, ready ?? (await prepare()));
  const opened = await shareAnswer(services, body.session_id === undefined ? miss?.key : undefined, prepare, local);
  let first: AskRecord | undefined;
  try {
    first = await opened.source.next(opened.role === "follower" ? durable.coalescePrepareTimeoutMs + 5_000 : idleMs);
  } catch (err) {
    await opened.source.cancel(err);
    if (opened.role !== "follower") throw err;
    // The shared answer broke before it began: answer this request on its own.
    opened.fallback(err);
    const source = await local();
    return finish("local", source, await source.next(idleMs));
  }
  return finish(opened.role, opened.source, first);
}

function finishOpening(
  status: Lookup["status"],
  role: "local" | "leader" | "follower",
  source: RecordSource,
  first: AskRecord | undefined,
  idleMs: number,
  early: Record<string, number>,
  rememberEntry: ((entry: CachedAnswer) => void) | undefined,
  finished: () => void,
): AskOutcome {
  if (first?.type === "error") throw fromProblem(first.problem);
  if (first?.type !== "meta") throw new ApiError(502, "generation-failed", "the answer ended before it began");
  return {
    kind: "answer",
    status: status as "MISS" | "BYPASS",
    role,
    meta: first,
    source,
    idleMs,
    early,
    remember: rememberEntry,
    finished,
  };
}

/**
 * Caches a whole answer and hands it to identical asks waiting in this isolate. A session's first
 * answer is kept as the question's answer alone: without the session (withTurn puts it back).
 */
const remember =
  (services: Services, miss: Extract<Lookup, { status: "MISS" }>, body: AskBody, lead: ((entry: CachedAnswer) => void) | undefined) =>
  (entry: CachedAnswer) => {
    const { session_saved: _, ...done } = entry.done;
    const alone = { ...entry, meta: { ...entry.meta, session_id: null }, done };
    rememberAnswer({ ...answerCacheDeps(services), config: services.config }, miss, body.query, alone);
    lead?.(alone);
  };

/**
 * Whether a session has no turn yet (a failed read: not known to be empty, so answered afresh).
 * It reads what preparation reads for the history, so a session's ask reads its session once.
 */
async function sessionIsEmpty(services: Services, sessionId: string): Promise<boolean> {
  try {
    const session = await services.stores.sessions.load(sessionId, SESSION_TURNS_LOADED);
    return session === undefined || (session.turns.length === 0 && session.summary === undefined);
  } catch {
    return false;
  }
}

/**
 * A cached answer served as a session's first turn: the turn is stored as a generated answer's
 * would be (the question, the answer's text and its sources), and the replay names the session.
 */
async function withTurn(services: Services, sessionId: string, question: string, entry: CachedAnswer): Promise<CachedAnswer> {
  const sources = (entry.meta.sources as { n: number; conversation_id: string; message_ids: string[] }[] | undefined) ?? [];
  const saved = await storeTurn(services.stores.sessions, sessionId, {
    question,
    standaloneQuestion: question,
    answer: entry.pieces.join(""),
    sources: sources.map((s) => ({ n: s.n, conversation_id: s.conversation_id, message_ids: s.message_ids })),
  });
  return { ...entry, meta: { ...entry.meta, session_id: sessionId }, done: { ...entry.done, session_saved: saved } };
}

function answerCacheDeps(services: Services, scope?: () => Promise<RetrievalScope>, question?: string) {
  const { config } = services;
  // Built on an exact miss only: an exact hit reads no database (not even the search model).
  const semantic = async (): Promise<SemanticDeps> => {
    const model = await services.searchModel();
    return {
      store: semanticStore(config, services.tenantId, () => services.stores.semantic),
      embedder: services.embedder,
      threshold: semanticThreshold(config.cache.semantic, model.model),
      // For a remote provider, the texts retrieval will embed go in the same call as the question.
      alsoEmbed: async () =>
        model.provider === "local" || !scope || question === undefined
          ? []
          : queryTexts({ chunks: services.stores.chunks, now: new Date() }, { ...(await scope()), query: question }),
    };
  };
  return { config, tenantId: services.tenantId, cache: services.cache, versions: services.versions, semantic, defer: services.defer };
}

/** Retrieval, context and prompt (problem+json if they fail), then admission. */
async function prepareReady(services: Services, body: AskBody, scope: RetrievalScope, startedAt: number): Promise<Ready> {
  const { config } = services;
  const tokenizer = () => tokenizerForModel(body.model);
  let prepared: PreparedAsk;
  try {
    prepared = await prepareAsk(
      {
        chunks: services.stores.chunks,
        sessions: services.stores.sessions,
        embedder: services.embedder,
        tokenizer,
        chat: budgetedChat(createChatModels(config, tokenizer, services.env), services.budget, services.quota),
        now: new Date(),
      },
      {
        question: body.query.trim(),
        tenantId: services.tenantId,
        sessionId: body.session_id,
        // The top_k best chunks are the candidates; context selection fits them to the budget.
        retrieval: { ...scope, tokenBudget: undefined, expandNeighbours: false },
        maxContextTokens: body.max_context_tokens,
        selection: {
          strategy: body.strategy,
          lambda: config.ask.mmrLambda,
          hybridLambda: config.ask.hybridLambda,
          redundancy: config.ask.redundancy,
          truncateMin: config.ask.truncateMin,
        },
        relevanceFloor: config.ask.relevanceFloor,
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
  // Nothing relevant: no model is called, so nothing is reserved.
  const reservation = await admit(
    services,
    prepared.plan.nothingRelevant ? "extractive" : prepared.provider,
    prepared.plan.usage.promptTokens + body.max_tokens,
  );
  return { prepared, meta: present(prepared, { ...body, strategies: scope.strategies }), reservation };
}

/** The answer generated in this request, as records: meta, then the generation's. */
function localRecords(services: Services, ready: Ready): RecordSource {
  const aborted = new AbortController();
  const { prepared, reservation } = ready;
  async function* records(): AsyncGenerator<AskRecord, void> {
    yield { type: "meta", meta: ready.meta, timings: prepared.timings };
    const generation = prepared.answer(aborted.signal, reservation.forceFallback);
    const spent = (tokens: number) => services.defer(settle(services, reservation, tokens));
    yield* answerRecords(generation, prepared.plan, aborted.signal, spent, { request_id: services.requestId });
  }
  return generatorRecords(records(), () => aborted.abort(new Error("client disconnected")));
}
