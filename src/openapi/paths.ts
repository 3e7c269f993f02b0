import { z } from "zod";
import type { ZodOpenApiPathsObject, ZodOpenApiResponseObject } from "zod-openapi";
import { askSchema } from "../ask/ask-schema.ts";
import type { Config } from "../config.ts";
import { ingestSchema } from "../ingest/ingest-schema.ts";
import { retrieveSchema } from "../retrieve/retrieve-schema.ts";
import { invalidateBody } from "../routes/admin-cache.ts";
import { embeddingsQuery, reembedBody } from "../routes/admin-embeddings.ts";
import { createKeyBody, listKeysQuery } from "../routes/admin-keys.ts";
import { listQuery } from "../routes/conversations.ts";
import { importQuery } from "../routes/imports.ts";
import { messagesQuerySchema } from "../routes/messages-schema.ts";
import { cacheStats, createdKey, healthResponse, invalidated, keyList, keyOwner } from "./admin-schemas.ts";
import { conversationList, conversationSummary, ingestResult, messagePage } from "./conversation-schemas.ts";
import { embeddingsView, reembedJob } from "./embedding-schemas.ts";
import { commonHeaders, header, idempotencyKeyParameter, lastEventIdParameter } from "./headers.ts";
import { importAccepted, importStatus } from "./import-schemas.ts";
import { operation } from "./operation.ts";
import { askAnswer, askEvent, retrieveResponse } from "./rag-schemas.ts";

const ok = (description: string, schema?: z.ZodType, headers: Record<string, z.ZodType> = {}): ZodOpenApiResponseObject => ({
  description,
  headers: z.object({ ...commonHeaders, ...headers }),
  ...(schema ? { content: { "application/json": { schema } } } : {}),
});

const conversationId = z.object({
  id: z.string().meta({ description: "The conversation id given at ingest (percent-encoded)", example: "team-sync-42" }),
});

/** Every route of src/app.ts, with the request schemas built for `config`. */
export function paths(config: Config): ZodOpenApiPathsObject {
  return {
    "/health": {
      get: operation({
        id: "getHealth",
        tag: "Operations",
        summary: "Liveness and readiness",
        description:
          "`200` when the database answers and every migration is applied; `503` otherwise, with the reason. `embedding` is the configured model (each tenant searches with its own: `GET /api/admin/embeddings`).",
        access: "public",
        responses: {
          200: ok("Ready", healthResponse),
          503: ok(
            "Not ready: the database is unreachable (with `Retry-After`), a migration is pending or the embedding size does not fit",
            healthResponse,
            header.optionalRetryAfter,
          ),
        },
      }),
    },
    "/metrics": {
      get: operation({
        id: "getMetrics",
        tag: "Operations",
        summary: "Prometheus metrics of every isolate",
        description:
          "Prometheus text exposition format 0.0.4; labels are fixed sets, never tenants' text, ids or keys (docs/API.md lists the metrics).",
        access: "operator",
        responses: {
          200: {
            description: "The metrics",
            headers: z.object(commonHeaders),
            content: { "text/plain; version=0.0.4": { schema: z.string().meta({ example: "rag_active_requests 1\n" }) } },
          },
        },
      }),
    },
    "/openapi.json": {
      get: operation({
        id: "getOpenApi",
        tag: "Operations",
        summary: "This OpenAPI document",
        description: "Generated from the schemas the routes validate with, and the running configuration's limits.",
        access: "public",
        responses: {
          200: ok(
            "OpenAPI 3.1 document",
            z.looseObject({ openapi: z.string(), info: z.object({ title: z.string(), version: z.string() }) }),
          ),
        },
      }),
    },
    "/api/conversations": {
      post: operation({
        id: "ingestConversation",
        tag: "Conversations",
        summary: "Ingest or update a conversation",
        description:
          "One transaction: messages, chunks and embeddings are all stored, or nothing is. Messages are matched by id (`mode: merge` keeps the others, `replace` deletes them); unchanged chunks keep their vectors, so sending the same conversation again changes nothing.",
        access: "key",
        body: { schema: ingestSchema(config), maxBytes: config.maxBodyBytes },
        responses: { 200: ok("Updated (or unchanged)", ingestResult), 201: ok("Created", ingestResult) },
      }),
      get: operation({
        id: "listConversations",
        tag: "Conversations",
        summary: "List conversations",
        description:
          "Pages in id order; pass `next_cursor` back as `cursor` until it is `null`. `q` keeps conversations whose title or id contains it (ignoring case).",
        access: "key",
        query: listQuery,
        errors: [400],
        responses: { 200: ok("A page of conversations", conversationList) },
      }),
    },
    "/api/me": {
      get: operation({
        id: "getMe",
        tag: "Operations",
        summary: "The calling key's tenant and role",
        description:
          "What the key may do, without trying: a `user` reads, writes and asks; an `admin` also manages its tenant's keys and caches; an `operator` acts on every tenant.",
        access: "key",
        errors: [400],
        responses: { 200: ok("The key's owner", keyOwner) },
      }),
    },
    "/api/conversations/{id}": {
      get: operation({
        id: "getConversation",
        tag: "Conversations",
        summary: "Read a conversation's summary",
        access: "key",
        path: conversationId,
        errors: [400, 404],
        responses: { 200: ok("The conversation", conversationSummary) },
      }),
      delete: operation({
        id: "deleteConversation",
        tag: "Conversations",
        summary: "Delete a conversation",
        description: "With its messages, chunks and the embedding-cache rows of its chunks; cached answers over it become unreachable.",
        access: "key",
        path: conversationId,
        errors: [400, 404],
        responses: { 204: ok("Deleted") },
      }),
    },
    "/api/conversations/{id}/messages": {
      get: operation({
        id: "listMessages",
        tag: "Conversations",
        summary: "Read a conversation's messages",
        description: "Pages in conversation order, optionally within a time range, by one speaker, or around, before or after a message.",
        access: "key",
        path: conversationId,
        query: messagesQuerySchema,
        errors: [400, 404],
        responses: { 200: ok("A page of messages", messagePage) },
      }),
    },
    "/api/imports": {
      post: {
        ...operation({
          id: "createImport",
          tag: "Imports",
          summary: "Upload a chat export to import in the background",
          description:
            "The raw file (zip, text or JSON) as the body, with a `Content-Length`; the format is detected when `format` is absent. The file goes to R2 as it arrives and a queue imports it in bounded steps (docs/IMPORTS.md).",
          access: "key",
          query: importQuery,
          errors: [400, 411, 413],
          responses: {
            202: {
              description: "Queued",
              headers: z.object({ ...commonHeaders, Location: z.string().meta({ description: "`/api/imports/{id}`" }) }),
              content: { "application/json": { schema: importAccepted } },
            },
          },
        }),
        requestBody: {
          required: true,
          description: "The export file as it is, up to `IMPORT_MAX_BYTES`.",
          content: { "application/octet-stream": { schema: z.string().meta({ format: "binary" }) } },
        },
      },
    },
    "/api/imports/{id}": {
      get: operation({
        id: "getImport",
        tag: "Imports",
        summary: "An import's progress and outcome",
        access: "key",
        path: z.object({ id: z.uuid().meta({ description: "The id `POST /api/imports` returned" }) }),
        errors: [400, 404],
        responses: { 200: ok("The import", importStatus) },
      }),
    },
    "/api/imports/{id}/cancel": {
      post: operation({
        id: "cancelImport",
        tag: "Imports",
        summary: "Cancel a queued or running import",
        description:
          "It stops at its next batch and stores nothing more; what it stored before stays. Its uploaded file and parsed batches are deleted. `409 import-finished` when it had already ended.",
        access: "key",
        path: z.object({ id: z.uuid().meta({ description: "The id `POST /api/imports` returned" }) }),
        errors: [400, 404, 409],
        responses: { 200: ok("The import, now `cancelled`", importStatus) },
      }),
    },
    "/api/rag/retrieve": {
      post: operation({
        id: "retrieve",
        tag: "Retrieval and answers",
        summary: "Ranked context for a query, without generation",
        description:
          "Hybrid retrieval (semantic, keyword, multi-query, fused by RRF) within the caller's tenant and the given scope; with `token_budget`, fitted to it. A strategy that fails is named in `failed_strategies`; if all fail, `503 retrieval-unavailable`.",
        access: "key",
        body: { schema: retrieveSchema(config), maxBytes: 256 * 1024 },
        responses: { 200: ok("The ranked chunks", retrieveResponse, header.cache) },
      }),
    },
    "/api/rag/ask": {
      post: operation({
        id: "ask",
        tag: "Retrieval and answers",
        summary: "Answer a question from the conversations, with citations",
        description:
          "Streams Server-Sent Events by default (`meta`, `delta`…, `done`, or `error` after a failure mid-stream; each `data:` is JSON, each event has an `id:`); `stream: false` returns one JSON body with the same content. Errors before the stream starts are ordinary problem+json responses. Every `[n]` in the answer names a source in `meta.sources`. With an `Idempotency-Key`, asking again replays the same answer.",
        access: "key",
        body: { schema: askSchema(config), maxBytes: 256 * 1024 },
        headers: [idempotencyKeyParameter, lastEventIdParameter],
        errors: [409, 422, 502],
        responses: {
          200: {
            description: "The answer: an event stream (`stream: true`, the default) or one JSON body (`stream: false`)",
            headers: z.object({ ...commonHeaders, ...header.cache, ...header.coalesced, ...header.replayed }),
            content: {
              "text/event-stream": { schema: askEvent },
              "application/json": { schema: askAnswer },
            },
          },
        },
      }),
    },
    "/api/admin/keys": {
      post: operation({
        id: "createKey",
        tag: "Admin",
        summary: "Create an API key",
        description: "The secret is in this response only. An admin key creates keys for its own tenant.",
        access: "admin",
        body: { schema: createKeyBody, maxBytes: 16 * 1024 },
        responses: { 201: ok("Created", createdKey) },
      }),
      get: operation({
        id: "listKeys",
        tag: "Admin",
        summary: "List a tenant's keys, without secrets",
        description: "An admin key lists its own tenant's user and admin keys; an operator key also sees operator keys.",
        access: "admin",
        query: listKeysQuery,
        errors: [400],
        responses: { 200: ok("The keys", keyList) },
      }),
    },
    "/api/admin/keys/{id}": {
      delete: operation({
        id: "revokeKey",
        tag: "Admin",
        summary: "Revoke an API key",
        description:
          "An admin key revokes its own tenant's user and admin keys only; another tenant's key, or an operator key, is a `404`, as for an unknown id.",
        access: "admin",
        path: z.object({ id: z.string().meta({ description: "The key's id (a UUID)", example: "8a6e0804-2bd0-4672-b79d-d97027f9071a" }) }),
        errors: [400, 404],
        responses: { 204: ok("Revoked") },
      }),
    },
    "/api/admin/cache/invalidate": {
      post: operation({
        id: "invalidateCache",
        tag: "Admin",
        summary: "Invalidate cached answers and retrievals",
        description:
          'Of one conversation, one tenant, or (`{"scope":"all"}`, operator keys only) everything: the scope\'s data version is bumped, so its entries become unreachable at once.',
        access: "admin",
        body: { schema: invalidateBody, maxBytes: 16 * 1024 },
        responses: { 200: ok("Invalidated", invalidated) },
      }),
    },
    "/api/admin/cache/stats": {
      get: operation({
        id: "getCacheStats",
        tag: "Admin",
        summary: "Cache statistics",
        description:
          "For an operator: hits, misses, hit rate and errors per level, semantic guard rejections and the Postgres-backed caches' sizes. For an admin: its own tenant's entries only.",
        access: "admin",
        errors: [400],
        responses: { 200: ok("The statistics", cacheStats) },
      }),
    },
    "/api/admin/embeddings": {
      get: operation({
        id: "getEmbeddings",
        tag: "Admin",
        summary: "The tenant's embedding model, the configured one, and re-embedding jobs",
        access: "admin",
        query: embeddingsQuery,
        errors: [400],
        responses: { 200: ok("The models and the latest jobs", embeddingsView) },
      }),
    },
    "/api/admin/embeddings/reembed": {
      post: {
        ...operation({
          id: "startReembed",
          tag: "Admin",
          summary: "Move the tenant to the configured embedding model",
          description:
            "Queues a job that fills vectors of the configured model beside the old ones in bounded steps, switches the tenant's searches to them at once when every chunk has one, then drops the old vectors (docs/EMBEDDING_MODELS.md). Searches keep the old model until the switch. `409` when a job is unfinished, the tenant already uses the model, or has no chunks yet.",
          access: "admin",
          query: embeddingsQuery,
          errors: [400, 409, 415],
          responses: {
            202: {
              description: "Queued",
              headers: z.object({
                ...commonHeaders,
                Location: z.string().meta({ description: "`/api/admin/embeddings/jobs/{id}`" }),
              }),
              content: { "application/json": { schema: reembedJob } },
            },
          },
        }),
        requestBody: {
          required: false,
          description: "None, or an empty JSON object: the target is always the configured model.",
          content: { "application/json": { schema: reembedBody } },
        },
      },
    },
    "/api/admin/embeddings/jobs/{id}": {
      get: operation({
        id: "getReembedJob",
        tag: "Admin",
        summary: "A re-embedding job's progress",
        access: "admin",
        query: embeddingsQuery,
        path: z.object({ id: z.string().meta({ description: "The job's id (a UUID)" }) }),
        errors: [400, 404],
        responses: { 200: ok("The job", reembedJob) },
      }),
    },
  };
}
