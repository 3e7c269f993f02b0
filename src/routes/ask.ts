import type { Context } from "hono";
import type { AppEnv } from "../app-env.ts";
import { askSchema } from "../ask/ask-schema.ts";
import { answerAsk } from "../ask/ask-service.ts";
import { readJson } from "../http/read-json.ts";
import { replayAnswer, writeAnswer } from "../http/sse.ts";
import { noQuery, parseBody } from "../http/validate.ts";
import { checkQueryLength, retrievalOptions } from "../retrieve/scope.ts";

/**
 * POST /api/rag/ask: parse, answer (ask/ask-service.ts: cache, prepare, admit, generate), write
 * (http/sse.ts: SSE or JSON; a cached answer is replayed with the same events).
 */
export async function askHandler(c: Context<AppEnv>) {
  const startedAt = performance.now();
  const { config, services } = c.var;
  noQuery(c.req.query());
  const body = parseBody(askSchema(config), await readJson(c, 256 * 1024), "ask request");
  await checkQueryLength(config, body.query, "ask request");
  c.set("model", body.model);
  const outcome = await answerAsk(services, body, retrievalOptions(config, services.tenantId, body, body.top_k), startedAt);
  if (outcome.kind === "cached") return replayAnswer(c, outcome.entry, outcome.status, body.stream, startedAt);
  if (outcome.kind === "shared")
    return replayAnswer(c, outcome.entry, outcome.status, body.stream, startedAt, { "x-coalesced": "isolate" });
  return writeAnswer(c, outcome, body.stream);
}
