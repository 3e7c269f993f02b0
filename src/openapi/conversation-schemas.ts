import { z } from "zod";
import { messagePageSchema } from "../routes/messages-schema.ts";
import { count, isoTime } from "./rag-schemas.ts";

// Response bodies of /api/conversations; the query schemas are the routes' own.

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
    participants: z.array(z.string()).meta({ description: "Every distinct author of its messages, sorted" }),
  })
  .meta({ id: "ConversationSummary" });

export const conversationList = z
  .object({
    conversations: z.array(conversationSummary).meta({ description: "In id order" }),
    next_cursor: z.string().nullable().meta({ description: "Pass as `cursor` for the next page; `null` on the last" }),
  })
  .meta({ id: "ConversationList" });

export const messagePage = messagePageSchema.meta({ id: "MessagePage" });
