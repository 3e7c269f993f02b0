import { Hono } from "hono";
import { z } from "zod";
import type { AppEnv } from "../app-env.ts";
import { dataChanged } from "../cache/index.ts";
import { type ConversationSummary, deleteConversation, getConversation, listConversations } from "../db/conversations.ts";
import { type Anchor, type PageMessage, readMessageWindow } from "../db/message-pages.ts";
import { ApiError, badRequest, notFound } from "../errors.ts";
import { isStorable, readJson } from "../http/read-json.ts";
import { noQuery, parseBody } from "../http/validate.ts";
import { ingestDeps } from "../ingest/ingest-deps.ts";
import { ingestSchema } from "../ingest/ingest-schema.ts";
import { ingestConversation } from "../ingest/ingest-service.ts";
import { forgetSpeakers } from "../retrieve/speakers.ts";
import { encodeMessageCursor } from "./message-cursor.ts";
import { type MessageBody, type MessagePageBody, type MessagesQuery, messagesQuerySchema } from "./messages-schema.ts";

/** Query of GET /api/conversations (also the OpenAPI document's). */
export const listQuery = z.strictObject({
  limit: z.coerce.number().int().min(1, "must be at least 1").max(100, "must be at most 100").default(20),
  cursor: z.string().max(400).optional(),
  q: z.string().trim().min(1, "must not be empty").max(200, "must be at most 200 characters").optional(),
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
  participants: s.participants,
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
 * A conversation or message id from the URL (path or query string). One that no ingest could have
 * stored (longer than ids may be, or with a NUL or a lone surrogate, which Postgres would refuse
 * with an error) is a 404 like any unknown id, without a query.
 */
const pathId = (id: string) => (id.length <= 256 && isStorable(id) ? id : undefined);
const shown = (id: string) => id.slice(0, 256).toWellFormed().replaceAll("\u0000", "\ufffd");
const noSuchConversation = (id: string) => notFound(`conversation '${shown(id)}' does not exist`);

const presentMessage = (m: PageMessage): MessageBody => ({
  id: m.id,
  author_name: m.authorName,
  author_type: m.authorType,
  text: m.text,
  timestamp: m.timestamp.toISOString(),
});

/** How many messages to read on each side of where the request starts. */
function windowOf(query: MessagesQuery): { anchor: Anchor; before: number; after: number } {
  if (query.around) return { anchor: { kind: "around", messageId: query.around.messageId }, ...query.around };
  const cursor = query.cursor;
  if (!cursor) return { anchor: { kind: "start" }, before: 0, after: query.limit };
  const anchor = { kind: cursor.direction, messageId: cursor.messageId, timestamp: cursor.timestamp } as const;
  return cursor.direction === "after" ? { anchor, before: 0, after: query.limit } : { anchor, before: query.limit, after: 0 };
}

/** /api/conversations: ingest (idempotent upsert), list, read, delete; all scoped to the key's tenant. */
export const conversationRoutes = new Hono<AppEnv>()
  .post("/", async (c) => {
    noQuery(c.req.query());
    const config = c.var.config;
    const body = parseBody(ingestSchema(config), await readJson(c, config.maxBodyBytes), "conversation");
    // One request must not stall the instance: large archives go through the background imports.
    const work = body.messages.reduce((sum, m) => sum + m.text.length + 200, 0);
    if (work > config.ingestMaxWork) {
      throw new ApiError(
        413,
        "ingest-too-large",
        `this conversation is too large for one request (work ${work} > INGEST_MAX_WORK ${config.ingestMaxWork}: characters plus 200 per message); send it in parts, or upload the whole export to POST /api/imports, which imports it in the background`,
      );
    }
    const result = await ingestConversation(await ingestDeps(c.var.services, config), body);
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
    const page = await listConversations(c.var.sql(), c.var.auth.tenantId, query.limit + 1, after, query.q);
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
  .get("/:id/messages", async (c) => {
    const raw = c.req.query();
    // The around id is checked like path ids (an unstorable one is a 404, not a 400): the query is validated with a printable copy.
    const printable = raw.around === undefined ? raw : { ...raw, around: shown(raw.around) };
    const query = parseBody(messagesQuerySchema, printable, "query string");
    const id = pathId(c.req.param("id"));
    if (id === undefined) throw noSuchConversation(c.req.param("id"));
    const aroundId = raw.around === undefined ? undefined : pathId(raw.around);
    const noSuchMessage = (why: string) => notFound(`message '${shown(raw.around ?? "")}' ${why}`);
    if (query.around && aroundId === undefined) throw noSuchMessage(`does not exist in conversation '${shown(id)}'`);

    const window = await readMessageWindow(c.var.sql(), c.var.auth.tenantId, id, {
      ...windowOf(query),
      filter: query.filter,
    });
    if (!window) throw noSuchConversation(id);
    if (window.target === "missing") throw noSuchMessage(`does not exist in conversation '${shown(id)}'`);
    if (window.target === "filtered") {
      const given = (["author_name", "from", "to"] as const).filter((name) => raw[name] !== undefined);
      throw noSuchMessage(`in conversation '${shown(id)}' does not match ${given.join(", ")}`);
    }
    const first = window.messages[0];
    const last = window.messages.at(-1);
    return c.json({
      conversation_id: id,
      ...(aroundId === undefined ? {} : { around: aroundId }),
      messages: window.messages.map(presentMessage),
      next_cursor:
        window.more.after && last ? encodeMessageCursor({ direction: "after", timestamp: last.timestamp, messageId: last.id }) : null,
      prev_cursor:
        window.more.before && first ? encodeMessageCursor({ direction: "before", timestamp: first.timestamp, messageId: first.id }) : null,
    } satisfies MessagePageBody);
  })
  .delete("/:id", async (c) => {
    noQuery(c.req.query());
    const id = pathId(c.req.param("id"));
    if (id === undefined || !(await deleteConversation(c.var.sql(), c.var.auth.tenantId, id))) throw noSuchConversation(c.req.param("id"));
    forgetSpeakers(c.var.auth.tenantId);
    await dataChanged(c.var.services.versions, c.var.auth.tenantId, id, c.var.requestId);
    return c.body(null, 204);
  });
