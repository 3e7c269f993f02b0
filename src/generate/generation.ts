import { errorText, logLine } from "../log.ts";
import { counters } from "../observability/counters.ts";
import { ChatError, type ChatFinish, type ChatModels } from "../providers/chat-model.ts";
import { elapsedMs, FirstTokenTimeout, firstWithin, nextWithin } from "../timeouts.ts";
import { toApiError } from "../to-api-error.ts";
import type { Tokenizer } from "../tokens/tokenizer.ts";
import { citationFilter, resolveCitations } from "./citations.ts";
import type { AskDone, GenerationDone, GenerationPlan } from "./prepare.ts";
import { doneBody } from "./present.ts";
import type { AskRecord } from "./records.ts";
import { toProblem } from "./records.ts";

// Generation: the one loop that turns a prepared plan into the answer's records, used by the
// request that prepared it and by the AskCoalescer that shares it between identical asks.

/**
 * Generates the answer of a plan: streams the checked text and returns the `done` summary.
 * `startedAt` is performance.now() at the request's arrival as seen where this runs.
 */
export async function* runGeneration(
  chat: ChatModels,
  tokenizer: Tokenizer,
  plan: GenerationPlan,
  signal: AbortSignal,
  at: { startedAt: number; forceFallback?: string | undefined },
): AsyncGenerator<string, GenerationDone> {
  if (plan.nothingRelevant) return yield* nothingRelevant(plan, at.startedAt);
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
      ...citationsOf(answer, plan),
      nothingRelevant: false,
    };
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}

/** The answer when no source reaches the relevance floor: said at once, no model called, nothing quoted. */
export const NOTHING_RELEVANT = "I found nothing relevant to this in the conversations.";

async function* nothingRelevant(plan: GenerationPlan, startedAt: number): AsyncGenerator<string, GenerationDone> {
  const ttft = elapsedMs(startedAt);
  yield NOTHING_RELEVANT;
  return {
    answer: NOTHING_RELEVANT,
    finishReason: "stop",
    fallback: false,
    fallbackReason: undefined,
    usage: { ...plan.usage, tokensSaved: plan.usage.naiveContextTokens, completionTokens: 0 },
    timings: { ...plan.timings, ttft, total: elapsedMs(startedAt) },
    citations: [],
    uncited: plan.sourceNumbers,
    nothingRelevant: true,
  };
}

/** The answer's citations resolved to messages, and the sources it does not cite. */
function citationsOf(answer: string, plan: GenerationPlan) {
  const citations = resolveCitations(answer, plan.request.sources);
  const cited = new Set(citations.map((c) => c.n));
  return { citations, uncited: plan.sourceNumbers.filter((n) => !cited.has(n)) };
}

/**
 * Streams from the configured model; if it fails or stays silent before its first piece, from
 * the extractive answerer instead (flagged and counted). After the first piece a failure is
 * final: the caller ends the stream with an error.
 */
async function* generate(
  chat: ChatModels,
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

export function fallbackSeen(kind: string, err: unknown, reason?: string) {
  counters.inc("rag_fallbacks_total", { kind });
  logLine("warn", { event: "fallback", kind, reason, error: errorText(err) });
}

/**
 * The records of one answer after its `meta`: delta…, then done (or error after a failure).
 * `settle` is called once with the tokens the answer spent, before the last record (a reader may
 * stop reading once it has it), and also when the answer stops early. When `signal` aborts (every
 * reader went away) the records end without a last one.
 */
export async function* answerRecords(
  generation: AsyncGenerator<string, AskDone | GenerationDone>,
  plan: GenerationPlan,
  signal: AbortSignal,
  settle: (spent: number) => void,
  log: Record<string, unknown> = {},
): AsyncGenerator<AskRecord, void> {
  let streamed = 0;
  let settled = false;
  const settleOnce = (done?: GenerationDone) => {
    if (settled) return;
    settled = true;
    settle(tokensSpent(plan, streamed, done));
  };
  try {
    let step = await generation.next();
    while (!step.done) {
      if (signal.aborted) return;
      streamed += step.value.length;
      yield { type: "delta", text: step.value };
      step = await generation.next();
    }
    const done = step.value;
    settleOnce(done);
    yield { type: "done", done: doneBody(done), cacheable: !done.fallback, writer: true };
  } catch (err) {
    if (signal.aborted) return;
    counters.inc("rag_errors_total", { kind: "stream" });
    logLine("warn", { event: "ask_stream_failed", ...log, error: errorText(err) });
    yield { type: "error", problem: toProblem(toApiError(err)) };
  } finally {
    if (signal.aborted) await generation.return(undefined as never).catch(() => {});
    settleOnce();
  }
}

/**
 * Tokens an answer spent, to settle its reservation: the usage the provider reported, none for a
 * fallback answer, or for an answer cut short its prompt and the text sent so far (about 4
 * characters a token).
 */
export const tokensSpent = (plan: GenerationPlan, streamedChars: number, done?: GenerationDone): number =>
  done
    ? done.fallback
      ? 0
      : done.usage.promptTokens + done.usage.completionTokens
    : plan.usage.promptTokens + Math.ceil(streamedChars / 4);
