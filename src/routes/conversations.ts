import { Hono } from "hono";
import { z } from "zod";
import type { AppEnv } from "../app-env.ts";
import { dataChanged } from "../cache/index.ts";
import { type ConversationSummary, deleteConversation, getConversation, listConversations } from "../db/conversations.ts";
import { badRequest, notFound } from "../errors.ts";
import { isStorable, readJson } from "../http/read-json.ts";
import { noQuery, parseBody } from "../http/validate.ts";
import { ingestSchema } from "../ingest/ingest-schema.ts";
import { ingestConversation } from "../ingest/ingest-service.ts";
import { createEmbedder } from "../providers/index.ts";
import { forgetSpeakers } from "../retrieve/speakers.ts";
import { tiktoken } from "../tokens/tokenizer.ts";

const listQuery = z.strictObject({
  limit: z.coerce.number().int().min(1, "must be at least 1").max(100, "must be at most 100").default(20),
  cursor: z.string().max(400).optional(),
});

const present = (s: ConversationSummary) => ({
  id: s.id,
  title: s.title,
  metadata: s.metadata,
  message_count: s.messageCount,
  chunk_count: s.chunkCount,
  start: s.start?.toISOString() ?? null,
  end: s.end?.toISOString() ?? null,
  version: s.version,
  created_at: s.createdAt.toISOString(),
  updated_at: s.updatedAt.toISOString(),
});

const encodeCursor = (id: string) => btoa(String.fromCharCode(...new TextEncoder().encode(id)));
const decodeCursor = (cursor: string) => {
  try {
    const id = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(Uint8Array.from(atob(cursor), (ch) => ch.charCodeAt(0)));
    return isStorable(id) ? id : undefined;
  } catch {
    return undefined;
  }
};

/**
 * The conversation id in the path. One that no ingest could have stored (longer than ids may be,
 * or with a NUL or a lone surrogate, which Postgres would refuse with an error) is a 404 like any
 * unknown id, without a query.
 */
const pathId = (id: string) => (id.length <= 256 && isStorable(id) ? id : undefined);
const noSuchConversation = (id: string) =>
  notFound(`conversation '${id.slice(0, 256).toWellFormed().replaceAll("\u0000", "\ufffd")}' does not exist`);

/** /api/conversations: ingest (idempotent upsert), list, read, delete; all scoped to the key's tenant. */
export const conversationRoutes = new Hono<AppEnv>()
  .post("/", async (c) => {
    noQuery(c.req.query());
    const config = c.var.config;
    const body = parseBody(ingestSchema(config), await readJson(c, config.maxBodyBytes), "conversation");
    const result = await ingestConversation(
      {
        conversations: c.var.services.stores.conversations,
        embedder: createEmbedder(config),
        tokenizer: await tiktoken(),
        chunking: { maxTokens: config.chunkMaxTokens, sessionGapMs: config.chunkSessionGapMinutes * 60_000 },
        statementTimeoutMs: config.statementTimeoutMs,
      },
      body,
    );
    // Cached answers and retrievals over this conversation become unreachable at once.
    if (result.changed) {
      forgetSpeakers(c.var.auth.tenantId);
      await dataChanged(c.var.services.versions, c.var.auth.tenantId, body.id, c.var.requestId);
    }
    return c.json(result, result.created ? 201 : 200);
  })
  .get("/", async (c) => {
    const query = parseBody(listQuery, c.req.query(), "query string");
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
    if (query.cursor !== undefined && after === undefined) {
      const detail = "is not a cursor returned by this API";
      throw badRequest(`invalid query string: cursor: ${detail}`, [{ pointer: "#/cursor", detail }]);
    }
    const page = await listConversations(c.var.sql(), c.var.auth.tenantId, query.limit + 1, after);
    const hasMore = page.length > query.limit;
    const items = page.slice(0, query.limit);
    return c.json({
      conversations: items.map(present),
      next_cursor: hasMore ? encodeCursor(items[items.length - 1]!.id) : null,
    });
  })
  .get("/:id", async (c) => {
    noQuery(c.req.query());
    const id = pathId(c.req.param("id"));
    const conversation = id === undefined ? undefined : await getConversation(c.var.sql(), c.var.auth.tenantId, id);
    if (!conversation) throw noSuchConversation(c.req.param("id"));
    return c.json(present(conversation));
  })
  .delete("/:id", async (c) => {
    noQuery(c.req.query());
    const id = pathId(c.req.param("id"));
    if (id === undefined || !(await deleteConversation(c.var.sql(), c.var.auth.tenantId, id))) throw noSuchConversation(c.req.param("id"));
    forgetSpeakers(c.var.auth.tenantId);
    await dataChanged(c.var.services.versions, c.var.auth.tenantId, id, c.var.requestId);
    return c.body(null, 204);
  });
