import { z } from "zod";
import { count, isoTime } from "./rag-schemas.ts";

// Response bodies of /health, /api/me, /api/admin/keys and /api/admin/cache; the request schemas are the
// routes' own (src/routes/admin-keys.ts, admin-cache.ts).

const role = z.enum(["user", "admin", "operator"]);

export const healthResponse = z
  .object({
    status: z.enum(["ok", "not_ready"]),
    database: z.object({ reachable: z.boolean(), latency_ms: count.optional() }),
    migrations: z.object({ applied: z.array(z.string()), pending: z.array(z.string()) }).optional(),
    embedding: z
      .object({
        provider: z.enum(["local", "openai", "workers-ai"]),
        model: z.string(),
        dimensions: z.int().min(1).meta({ description: "EMBEDDING_DIMENSIONS" }),
      })
      .optional(),
  })
  .meta({ id: "Health", description: "`migrations` and `embedding` are absent when the database cannot be reached" });

export const keyOwner = z
  .object({
    key_id: z.uuid().meta({ description: "The key's id, as in the key list" }),
    tenant: z.string(),
    role,
  })
  .meta({ id: "KeyOwner" });

export const createdKey = z
  .object({
    id: z.uuid(),
    key: z.string().meta({ description: "The secret: shown only here (stored as a SHA-256 digest)" }),
    tenant: z.string(),
    role,
    created_at: isoTime,
  })
  .meta({ id: "CreatedKey" });

export const keyList = z
  .object({
    keys: z.array(
      z
        .object({
          id: z.uuid(),
          tenant: z.string(),
          role,
          prefix: z.string().meta({ description: "The start of the key, to recognise it" }),
          created_at: isoTime,
          revoked_at: isoTime.nullable(),
        })
        .meta({ id: "KeyRecord" }),
    ),
  })
  .meta({ id: "KeyList" });

export const invalidated = z
  .object({
    invalidated: z.union([z.object({ scope: z.literal("all") }), z.object({ tenant: z.string(), conversation_id: z.string().optional() })]),
  })
  .meta({ id: "Invalidated", description: "The scope whose cached answers and retrievals became unreachable" });

const store = z.object({ entries: count, bytes: count });
const level = z.object({ hits: count, misses: count, hit_rate: z.number().min(0).max(1).nullable(), errors: count });

export const cacheStats = z
  .union([
    z
      .object({
        counters_scope: z.string().meta({ description: "Whose requests the counters count", example: "this isolate" }),
        levels: z.object({ l1: level, l2: level, semantic: level }),
        semantic_guard_rejections: z.record(z.string(), count).meta({ description: "By reason" }),
        stores: z.object({ semantic_cache: store, embedding_cache: store }),
        last_housekeeping: z
          .object({
            at: isoTime,
            pruned: z.object({ embeddings: count, sessions: count, semantic: count, versions: count }),
            stores: z.object({ semantic_cache: store, embedding_cache: store }),
          })
          .nullable()
          .meta({ description: "What the last daily housekeeping pruned and measured; `null` before it first ran" }),
      })
      .meta({ id: "OperatorCacheStats", description: "For an operator key" }),
    z
      .object({
        counters_scope: z.string().meta({ example: "none: the counters count every tenant's requests (an operator key reads them)" }),
        tenant: z.string(),
        stores: z.object({ semantic_cache: z.object({ entries: count }), embedding_cache: z.object({ entries: count }) }),
      })
      .meta({ id: "TenantCacheStats", description: "For an admin key: its own tenant's entries only" }),
  ])
  .meta({ id: "CacheStats" });
