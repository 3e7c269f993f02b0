import { Hono } from "hono";
import type { AppEnv } from "../app-env.ts";
import { readJson } from "../http/read-json.ts";
import { serverTiming } from "../http/sse.ts";
import { noQuery, parseBody } from "../http/validate.ts";
import { retrieveSchema } from "../retrieve/retrieve-schema.ts";
import { retrieveForRequest } from "../retrieve/retrieve-service.ts";
import { checkQueryLength } from "../retrieve/scope.ts";
import { askHandler } from "./ask.ts";

/** /api/rag: retrieval and answers (the ask handler is in ask.ts). */
export const ragRoutes = new Hono<AppEnv>()
  .post("/retrieve", async (c) => {
    const startedAt = performance.now();
    const { config, services } = c.var;
    noQuery(c.req.query());
    const body = parseBody(retrieveSchema(config), await readJson(c, 256 * 1024), "retrieve request");
    await checkQueryLength(config, body.query, "retrieve request");
    const { payload, status, timings } = await retrieveForRequest(services, body, startedAt);
    return c.json({ ...payload, timings }, 200, { "server-timing": serverTiming(timings), "x-cache": status });
  })
  .post("/ask", askHandler);
