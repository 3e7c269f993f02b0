import { z } from "zod";
import { timestamp } from "../text/timestamp.ts";
import { count, isoTime } from "./rag-schemas.ts";

// Query strings and response bodies of /api/conversations. The two query schemas mirror the
// ones src/routes/conversations.ts validates with (not exported there yet).

/** GET /api/conversations: as `listQuery` in src/routes/conversations.ts. */
export const listQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(20).meta({ description: "Conversations per page" }),
  cursor: z.string().max(400).optional().meta({ description: "`next_cursor` of the previous page" }),
});

/** GET /api/conversations/{id}/messages. */
export const messagesQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(200).default(50).meta({ description: "Messages per page" }),
  cursor: z.string().max(400).optional().meta({ description: "`next_cursor` or `prev_cursor` of another page" }),
  from: timestamp.optional().meta({ description: "Only messages at or after this time (ISO 8601)" }),
  to: timestamp.optional().meta({ description: "Only messages at or before this time (ISO 8601)" }),
  author_name: z.string().min(1).max(256).optional().meta({ description: "Only this speaker's messages" }),
  around: z.string().min(1).max(256).optional().meta({ description: "A page centred on this message id" }),
  before: z.string().min(1).max(256).optional().meta({ description: "The page ending just before this message id" }),
  after: z.string().min(1).max(256).optional().meta({ description: "The page starting just after this message id" }),
});

export const ingestResult = z
  .object({
    id: z.string(),
    created: z.boolean().meta({ description: "The conversation is new (status 201)" }),
    changed: z.boolean().meta({ description: "Anything was stored; `false` when the same conversation was sent again" }),
    version: z.int().min(1).meta({ description: "Increases whenever anything changed" }),
    messages: z.object({ total: count, inserted: count, updated: count, deleted: count, unchanged: count }),
    chunks: z.object({ total: count, inserted: count, deleted: count, unchanged: count }),
    embeddings: z.object({
      computed: count,
      cached: count.meta({ description: "Found in the embedding cache" }),
      provider_calls: count,
    }),
  })
  .meta({ id: "IngestResult" });

export const conversationSummary = z
  .object({
    id: z.string(),
    title: z.string().nullable(),
    metadata: z.record(z.string(), z.unknown()).meta({ description: "As sent at ingest" }),
    message_count: count,
    chunk_count: count,
    start: isoTime.nullable().meta({ description: "Time of the first message" }),
    end: isoTime.nullable().meta({ description: "Time of the last message" }),
    version: z.int().min(1),
    created_at: isoTime,
    updated_at: isoTime,
  })
  .meta({ id: "ConversationSummary" });

export const conversationList = z
  .object({
    conversations: z.array(conversationSummary).meta({ description: "In id order" }),
    next_cursor: z.string().nullable().meta({ description: "Pass as `cursor` for the next page; `null` on the last" }),
  })
  .meta({ id: "ConversationList" });

export const messagePage = z
  .object({
    conversation_id: z.string(),
    messages: z
      .array(z.object({ id: z.string(), author_name: z.string(), author_type: z.string(), text: z.string(), timestamp: isoTime }))
      .meta({ description: "In conversation order" }),
    next_cursor: z.string().nullable().meta({ description: "The following page; `null` at the end" }),
    prev_cursor: z.string().nullable().meta({ description: "The preceding page; `null` at the start" }),
  })
  .meta({ id: "MessagePage" });
