import type { Context } from "hono";
import type { AppEnv } from "../app-env.ts";
import { askSchema } from "../ask/ask-schema.ts";
import { answerAsk } from "../ask/ask-service.ts";
import { begin, idempotentAsk, replayable } from "../ask/idempotency.ts";
import { readJson } from "../http/read-json.ts";
import { lastEventId, replayAnswer, writeAnswer } from "../http/sse.ts";
import { noQuery, parseBody } from "../http/validate.ts";
import { checkQueryLength } from "../retrieve/scope.ts";

/**
 * POST /api/rag/ask: parse, answer (ask/ask-service.ts: cache, prepare, admit, generate), write
 * (http/sse.ts: SSE or JSON; a cached answer is replayed with the same events). With an
 * Idempotency-Key, a repeated ask replays the answer the first one received (ask/idempotency.ts).
 */
export async function askHandler(c: Context<AppEnv>) {
  const startedAt = performance.now();
  const { config, services } = c.var;
  noQuery(c.req.query());
  const body = parseBody(askSchema(config), await readJson(c, 256 * 1024), "ask request");
  const idempotent = idempotentAsk(c.req.header("idempotency-key"), c.var.auth, body);
  if (idempotent) {
    const stored = await replayable(services.cache, idempotent);
    if (stored) {
      const after = lastEventId(c.req.header("last-event-id"));
      return replayAnswer(c, stored.entry, stored.status, body.stream, startedAt, { "idempotent-replayed": "true" }, after);
    }
  }
  await checkQueryLength(config, body.query, "ask request");
  c.set("model", body.model);
  const end = idempotent ? begin(services.cache, idempotent) : () => {};
  let outcome: Awaited<ReturnType<typeof answerAsk>>;
  try {
    outcome = await answerAsk(services, body, startedAt);
  } catch (err) {
    end();
    throw err;
  }
  if (outcome.kind === "answer") return writeAnswer(c, outcome, body.stream, end);
  end({ status: outcome.status, entry: outcome.entry });
  const shared: Record<string, string> = outcome.kind === "shared" ? { "x-coalesced": "isolate" } : {};
  return replayAnswer(c, outcome.entry, outcome.status, body.stream, startedAt, shared);
}
