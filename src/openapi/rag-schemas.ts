import { z } from "zod";
import { SELECTION_STRATEGIES, STRATEGIES } from "../config.ts";
import { streamProblem } from "./problems.ts";

// Response bodies of /api/rag/retrieve and /api/rag/ask, as src/retrieve/retrieve-service.ts and
// src/generate/present.ts write them.

export const isoTime = z.string().meta({ format: "date-time", example: "2025-03-03T10:02:00.000Z" });
export const count = z.int().min(0);
const timings = z.record(z.string(), z.number()).meta({ description: "Step durations in ms", example: { retrieve: 8, total: 12 } });
const strategy = z.enum(STRATEGIES);

const retrievedChunk = z
  .object({
    id: z.string().meta({ description: "Chunk id" }),
    conversation_id: z.string(),
    message_ids: z
      .array(z.string())
      .meta({ description: "The messages in the chunk (those left out of a focused excerpt are not listed)" }),
    authors: z.array(z.string()),
    start: isoTime,
    end: isoTime,
    text: z.string().meta({ example: "[2025-03-03 10:02] John: On the project timeline: …" }),
    tokens: count.meta({ description: "cl100k tokens of `text`" }),
    score: z.number().meta({ description: "Fused RRF score, boosted for a named speaker (×1.15) or time (×1.25)" }),
    ranks: z.partialRecord(strategy, z.int().min(1)).meta({ description: "The chunk's rank in each strategy that found it" }),
    expanded_from: z.string().optional().meta({ description: "With `expand_neighbors`: the hit this neighbour was added for" }),
    excerpt: z.literal(true).optional().meta({ description: "The text was focused to the query's key sentences or truncated" }),
  })
  .meta({ id: "RetrievedChunk" });

export const retrieveResponse = z
  .object({
    chunks: z.array(retrievedChunk),
    usage: z.object({ context_tokens: count }),
    failed_strategies: z.array(strategy).meta({ description: "Strategies that failed or timed out and were left out" }),
    query: z.object({
      speakers: z.array(z.string()).meta({ description: "Speakers the query names" }),
      time: z
        .object({ from: isoTime, to: isoTime, match: z.string().meta({ example: "last week" }) })
        .nullable()
        .meta({ description: "The time range the query names, if any" }),
    }),
    timings,
  })
  .meta({ id: "RetrieveResponse" });

const sourceMessage = z
  .object({ id: z.string(), author_name: z.string(), author_type: z.string(), timestamp: isoTime, text: z.string() })
  .meta({ id: "SourceMessage" });

const source = {
  n: z.int().min(1).meta({ description: "The number the answer cites as `[n]`" }),
  id: z.string().meta({ description: "Source id (the chunk id), named by `citations[].source_id`" }),
  conversation_id: z.string(),
  conversation_title: z.string().nullable().meta({ description: "The conversation's title, `null` when it has none" }),
  message_ids: z.array(z.string()),
  speakers: z.array(z.string()),
  start: isoTime,
  end: isoTime,
  messages: z.array(sourceMessage).meta({ description: "The text the model read, one entry per message" }),
  tokens: count,
  score: z.number().meta({ description: "Retrieval score" }),
  relevance: z.number().min(0).max(1).nullable().meta({
    description:
      "Share of the question's terms the source contains, rarer terms weighing more; `null` when the question has no content terms",
  }),
  compressed: z.literal(true).optional().meta({ description: "Compressed to its key sentences to fit the budget" }),
  truncated: z.literal(true).optional().meta({ description: "Cut short to fit the budget" }),
};

const cacheStatus = z.enum(["HIT-L1", "HIT-L2", "HIT-SEMANTIC", "MISS", "BYPASS"]);

const meta = {
  request_id: z.string(),
  cache: cacheStatus.meta({ description: "As the `x-cache` header" }),
  model: z.string(),
  provider: z.enum(["extractive", "openai", "workers-ai"]),
  strategy: z.enum(SELECTION_STRATEGIES).meta({ description: "Context selection" }),
  strategies: z.array(strategy).meta({ description: "The retrieval strategies that ran" }),
  session_id: z.string().nullable(),
  query: z.object({
    text: z.string().meta({ description: "The question as asked" }),
    standalone: z.string().meta({ description: "The question made standalone from the session's history" }),
    rewritten_by: z.enum(["llm", "heuristic"]).nullable(),
  }),
  history: z.object({
    turns: count,
    summarised_by: z.enum(["stored", "llm", "extractive"]).nullable(),
    tokens: count,
  }),
  sources: z.array(z.object(source).meta({ id: "AskSource" })),
  failed_strategies: z.array(strategy),
  relevance: z.object({
    floor: z.number().min(0).max(1).meta({ description: "RELEVANCE_FLOOR: the relevance the best source needs for an answer" }),
    best: z.number().min(0).max(1).nullable().meta({ description: "The best source's relevance" }),
  }),
};

const citation = z
  .object({
    n: z.int().min(1).meta({ description: "The `[n]` in the answer" }),
    source_id: z.string().meta({ description: "The cited source's `id`" }),
    message_ids: z.array(z.string()).meta({ description: "The messages of the source that support the claim" }),
  })
  .meta({ id: "Citation" });

const done = {
  finish_reason: z.enum(["stop", "length"]),
  fallback: z.boolean().meta({ description: "The configured model failed and the extractive answer was given instead" }),
  fallback_reason: z.string().optional().meta({
    description: "`provider_status_<code>`, `provider_error`, `first_token_timeout`, `rate_budget` or `circuit_open`",
    example: "first_token_timeout",
  }),
  citations: z.array(citation),
  uncited_sources: z.array(z.int().min(1)).meta({ description: "The `n` of each source the answer does not cite" }),
  nothing_relevant: z
    .boolean()
    .meta({ description: "The best source's relevance is below the floor: the answer says nothing relevant was found, and cites nothing" }),
  usage: z.object({
    context_tokens: count,
    history_tokens: count,
    prompt_tokens: count,
    completion_tokens: count,
    naive_context_tokens: count.meta({ description: "The `top_k` retrieved chunks concatenated whole" }),
    tokens_saved: z.int(),
  }),
  timings,
  session_saved: z.boolean().optional().meta({ description: "With a `session_id`: whether the turn was stored" }),
};

export const askMeta = z.object(meta).meta({ id: "AskMeta", description: "What was retrieved and how the question was read" });
export const askDelta = z.object({ text: z.string() }).meta({ id: "AskDelta", description: "The next piece of the answer's text" });
export const askDone = z.object(done).meta({ id: "AskDone", description: "How the answer finished" });
const answerSource = z
  .object({ ...source, cited: z.boolean().meta({ description: "Whether the answer cites it" }) })
  .meta({ id: "AskAnswerSource" });
export const askAnswer = z
  .object({
    answer: z.string().meta({ description: "The whole answer, citing sources as `[n]`" }),
    ...meta,
    sources: z.array(answerSource),
    ...done,
  })
  .meta({ id: "AskAnswer", description: "`stream: false`: the events' content in one body" });

const sseEvent = (name: string, data: z.ZodType, description: string) =>
  z
    .object({
      event: z.literal(name),
      id: z.string().regex(/^\d+$/).meta({
        description:
          "The event's `id:` line: 0 for `meta`, one more for each event after it; a replay numbers them the same way, so a client that asks again with its `Idempotency-Key` and `Last-Event-ID` gets the events after that one",
      }),
      data,
    })
    .meta({ id: `Ask${name[0]!.toUpperCase()}${name.slice(1)}Event`, description });

/** One Server-Sent Event of a streamed answer: `meta`, `delta`…, then `done` or `error`. */
export const askEvent = z
  .discriminatedUnion("event", [
    sseEvent("meta", askMeta, "First, before any text"),
    sseEvent("delta", askDelta, "Zero or more, in order"),
    sseEvent("done", askDone, "Last, when the answer is complete"),
    sseEvent("error", streamProblem, "Last, instead of `done`, when the answer failed after the stream began; the turn is not stored"),
  ])
  .meta({
    id: "AskEvent",
    description:
      "One event of the `text/event-stream` body (`event:`, `id:` and `data:` lines, a blank line after each). The stream is `meta`, then `delta` events, then `done`, or `error` after a failure mid-stream.",
  });
