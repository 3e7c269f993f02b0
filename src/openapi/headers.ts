import { z } from "zod";

// Headers the API sends and accepts, each registered once as a component and referenced by the
// operations that use it.

/** `x-request-id`, accepted on every request: a sane one is kept, anything else replaced. */
export const requestIdParameter = z
  .string()
  .regex(/^[\w\-=]{1,255}$/)
  .optional()
  .meta({
    description:
      "Your id for this request, echoed in the response's `x-request-id` and in the request log line. Up to 255 characters of `A-Z a-z 0-9 _ - =`; anything else is replaced by a generated id.",
    example: "trace-abc-123",
    param: { id: "RequestId", in: "header", name: "x-request-id" },
  });

/** `Idempotency-Key` of an ask: the same key again replays the answer the first ask received. */
export const idempotencyKeyParameter = z
  .string()
  .regex(/^[\x21-\x7e]{1,255}$/)
  .optional()
  .meta({
    description:
      "Makes the ask safe to repeat: an ask with a key this API key used before gets the answer the first one received, replayed (`idempotent-replayed: true`), not a second answer or a second session turn; for 24 hours. 1–255 visible ASCII characters. The same key with another body is a `422`; while the first ask is still being answered, a `409`.",
    example: "3f9a1c2e-retry-1",
    param: { id: "IdempotencyKey", in: "header", name: "Idempotency-Key" },
  });

/** `Last-Event-ID` of a resumed stream. */
export const lastEventIdParameter = z
  .string()
  .regex(/^\d{1,9}$/)
  .optional()
  .meta({
    description: "With an `Idempotency-Key` whose answer is complete: replay only the events after this `id:`.",
    example: "12",
    param: { id: "LastEventId", in: "header", name: "Last-Event-ID" },
  });

const requestId = z.string().meta({
  description: "The request's id: the incoming `x-request-id` when it was sane, else a generated UUID. Quote it when reporting a problem.",
  example: "1f0c7d9e-6b1a-4c52-9f4e-2d8a1b3c4d5e",
  header: { id: "XRequestId" },
});

const serverTiming = z.string().meta({
  description:
    "Step timings in ms (`name;dur=ms`, comma separated). Every response has at least `total`; retrieve and ask name their steps (`cache`, `embed`, `retrieve` and its strategies, `select`, and for a JSON answer `ttft`).",
  example: "cache;dur=1, embed;dur=3, keyword;dur=6, semantic;dur=7, select;dur=1, total;dur=12",
  header: { id: "ServerTiming" },
});

const cacheStatus = z.enum(["HIT-L1", "HIT-L2", "HIT-SEMANTIC", "MISS", "BYPASS"]).meta({
  description:
    "Where the response came from: `HIT-L1` (this location's cache), `HIT-L2` (the shared cache), `HIT-SEMANTIC` (a cached answer to a close paraphrase; asks only), `MISS` (computed and cached), `BYPASS` (not cached: caching off, `cache: false`, a session's later question, or the cache unreachable).",
  header: { id: "XCache" },
});

const coalesced = z.enum(["leader", "follower", "isolate"]).meta({
  description:
    "Present when identical asks in flight shared one answer: `leader` generated it, `follower` received it, `isolate` replayed the answer of an identical ask in the same isolate.",
  header: { id: "XCoalesced" },
});

const retryAfter = z
  .int()
  .min(0)
  .meta({ description: "Seconds to wait before trying again.", example: 5, header: { id: "RetryAfter" } });

const wwwAuthenticate = z.string().meta({
  description: "The scheme to authenticate with.",
  example: 'Bearer realm="convo-rag"',
  header: { id: "WWWAuthenticate" },
});

const replayed = z.literal("true").meta({ description: "The answer is the replay of an earlier ask with the same `Idempotency-Key`." });

/** Headers of every response. */
export const commonHeaders = { "x-request-id": requestId, "Server-Timing": serverTiming };

/** Response headers by name, to spread into a response's `headers` object. */
export const header = {
  cache: { "x-cache": cacheStatus },
  coalesced: { "x-coalesced": coalesced.optional() },
  replayed: { "idempotent-replayed": replayed.optional() },
  retryAfter: { "Retry-After": retryAfter },
  optionalRetryAfter: { "Retry-After": retryAfter.optional() },
  wwwAuthenticate: { "WWW-Authenticate": wwwAuthenticate },
};
