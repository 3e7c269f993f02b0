import type { Context } from "hono";
import { streamSSE } from "hono/streaming";
import type { CachedAnswer } from "../answer-cache/answer-cache.ts";
import type { AppEnv } from "../app-env.ts";
import type { AskOutcome } from "../ask/ask-service.ts";
import { ApiError, problemBody } from "../errors.ts";
import { answerBody } from "../generate/present.ts";
import { type AskRecord, fromProblem, toProblem } from "../generate/records.ts";
import { counters } from "../observability/counters.ts";
import { elapsedMs } from "../timeouts.ts";

// Writing an answer: as Server-Sent Events (meta, delta…, done, or error after a failure
// mid-stream) or as one JSON body. A cached answer is replayed in one write.

/** `Server-Timing` from step timings (ms). */
export const serverTiming = (timings: Record<string, number>) =>
  Object.entries(timings)
    .map(([k, v]) => `${k};dur=${v}`)
    .join(", ");

// Every event has an id: 0 for meta, then one per delta, then done (or error). A replay of the same
// answer (the cache, an Idempotency-Key) numbers its events the same way, so a client resuming with
// Last-Event-ID gets what it missed.
const event = (name: string, data: unknown, id: number) => `event: ${name}\ndata: ${JSON.stringify(data)}\nid: ${id}\n\n`;

/** Longest silence on an answer's stream: then a comment line (": keep-alive") goes out. */
const SSE_KEEPALIVE_MS = 1_000;

/** The Last-Event-ID a reconnecting client sent: events up to it are not sent again. */
export function lastEventId(header: string | undefined): number | undefined {
  return header !== undefined && /^\d{1,9}$/.test(header.trim()) ? Number(header.trim()) : undefined;
}

/**
 * A stored answer with this request's id, cache status and timings, as SSE (one chunk) or JSON.
 * `after`: the Last-Event-ID of a resuming client (the events after it are sent).
 */
export function replayAnswer(
  c: Context<AppEnv>,
  cached: CachedAnswer,
  status: string,
  stream: boolean,
  startedAt: number,
  extraHeaders: Record<string, string> = {},
  after = -1,
): Response {
  const meta = { request_id: c.var.requestId, cache: status, ...cached.meta };
  const elapsed = elapsedMs(startedAt);
  const done = { ...cached.done, timings: { cache: elapsed, ttft: elapsed, total: elapsed } };
  const headers = { ...extraHeaders, "x-cache": status, "server-timing": `cache;dur=${elapsed}, total;dur=${elapsed}` };
  if (!stream) return c.json(answerBody(cached.pieces.join(""), meta, done), 200, headers);
  let body = after < 0 ? event("meta", meta, 0) : "";
  cached.pieces.forEach((text, i) => {
    if (i + 1 > after) body += event("delta", { text }, i + 1);
  });
  body += event("done", done, cached.pieces.length + 1);
  return c.body(body, 200, { ...headers, "content-type": "text/event-stream", "cache-control": "no-cache" });
}

/** Called once when an answer's response ends: with the whole answer when it completed, else without. */
export type OnAnswerEnd = (completed?: { status: string; entry: CachedAnswer }) => void;

/**
 * Sends an answer being generated. The one request the records name as writer caches a whole
 * answer once it is sent. An SSE stream tells the request's observer when it has ended.
 */
export async function writeAnswer(
  c: Context<AppEnv>,
  answer: Extract<AskOutcome, { kind: "answer" }>,
  stream: boolean,
  onEnd: OnAnswerEnd = () => {},
) {
  const { source, idleMs, early } = answer;
  const first = answer.meta;
  const meta = { request_id: c.var.requestId, cache: answer.status, ...first.meta };
  const pieces: string[] = [];
  const remember = (record: Extract<AskRecord, { type: "done" }>) => {
    const entry = { meta: first.meta, pieces, done: record.done };
    onEnd({ status: answer.status, entry });
    if (record.writer && record.cacheable) answer.remember?.(entry);
  };
  c.header("x-cache", answer.status);
  if (answer.role !== "local") c.header("x-coalesced", answer.role);
  // Server-Timing: cache (lookups), embed (the question's vectors), retrieve, select, and for a
  // JSON answer ttft and total; an SSE answer has them in its `done` event (headers go first).
  const timing = (t: Record<string, number>) =>
    serverTiming({ ...early, ...(t.retrieve_embed !== undefined && early.embed === undefined ? { embed: t.retrieve_embed } : {}), ...t });
  c.header("server-timing", timing(first.timings));

  if (!stream) {
    try {
      for (;;) {
        const record = await source.next(idleMs);
        if (record?.type === "delta") pieces.push(record.text);
        else if (record?.type === "done") {
          remember(record);
          const done = record.done as { timings: Record<string, number> };
          return c.json(answerBody(pieces.join(""), meta, record.done), 200, { "server-timing": timing(done.timings) });
        } else if (record?.type === "error") throw fromProblem(record.problem);
        else throw new ApiError(502, "generation-failed", "the answer ended before it was complete");
      }
    } finally {
      onEnd();
      answer.finished();
    }
  }

  const ended = c.var.claimEnd?.();
  return streamSSE(c, async (sse) => {
    let aborted = false;
    const abort = () => {
      if (aborted) return;
      aborted = true;
      void source.cancel(new Error("client disconnected"));
    };
    // A client that goes away is noticed when a write fails (Hono's onAbort), or at once through the
    // request's signal where the runtime sends it (Cloudflare, with enable_request_signal; not
    // wrangler dev). While the answer waits (a model pausing before its next token), a comment line
    // goes out after each second without a write, so the wait never hides a disconnect for long.
    sse.onAbort(abort);
    const signal = c.req.raw.signal;
    if (signal.aborted) abort();
    else signal.addEventListener("abort", abort, { once: true });
    let lastWrite = Date.now();
    const keepAlive = setInterval(() => {
      if (aborted || Date.now() - lastWrite < SSE_KEEPALIVE_MS) return;
      lastWrite = Date.now();
      sse.write(": keep-alive\n\n").catch(abort);
    }, SSE_KEEPALIVE_MS);
    try {
      let id = 0;
      await sse.writeSSE({ event: "meta", data: JSON.stringify(meta), id: String(id) });
      for (;;) {
        let record: AskRecord | undefined;
        try {
          record = await source.next(idleMs);
        } catch (err) {
          if (aborted) return;
          await source.cancel(err);
          counters.inc("rag_errors_total", { kind: "stream" });
          record = {
            type: "error",
            problem: toProblem(new ApiError(503, "answer-unavailable", "the answer stopped arriving; retry", [], { "retry-after": "1" })),
          };
        }
        if (aborted) return;
        if (record?.type === "delta") {
          pieces.push(record.text);
          await sse.writeSSE({ event: "delta", data: JSON.stringify({ text: record.text }), id: String(++id) });
          lastWrite = Date.now();
        } else if (record?.type === "done") {
          await sse.writeSSE({ event: "done", data: JSON.stringify(record.done), id: String(++id) });
          if (!aborted) remember(record);
          return;
        } else {
          const problem =
            record?.type === "error"
              ? record.problem
              : toProblem(new ApiError(502, "generation-failed", "the answer ended before it was complete"));
          await sse.writeSSE({ event: "error", data: JSON.stringify(problemBody(fromProblem(problem), c.req.path)), id: String(++id) });
          return;
        }
      }
    } finally {
      clearInterval(keepAlive);
      onEnd();
      answer.finished();
      ended?.();
    }
  });
}
