import { Hono } from "hono";
import { z } from "zod";
import type { AppEnv } from "../app-env.ts";
import { cacheTableSizes, tenantCacheEntries } from "../db/housekeeping.ts";
import { ApiError } from "../errors.ts";
import { readJson } from "../http/read-json.ts";
import { noQuery, parseBody } from "../http/validate.ts";
import { actingTenant } from "../middleware/auth.ts";
import { counters } from "../observability/counters.ts";
import { SNAPSHOT_KEY } from "../scheduled.ts";

const tenant = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, "must be a tenant id")
  .meta({ description: "Tenant id: 1–63 of `a-z 0-9 _ -`, starting with a letter or digit", example: "acme" });
/** Body of POST /api/admin/cache/invalidate (also the OpenAPI document's). */
export const invalidateBody = z.union([
  z.strictObject({ scope: z.literal("all").meta({ description: "Every tenant (operator keys only)" }) }),
  z.strictObject({ tenant }),
  z.strictObject({ tenant, conversation_id: z.string().trim().min(1).max(256) }),
]);

/**
 * /api/admin/cache: invalidate a conversation or a tenant (an admin key: its own tenant; an operator
 * key: any, or everything; with the semantic cache on Upstash Vector the bump also deletes the
 * entries it made stale, after the response: src/cache/index.ts); statistics: for an operator, hits, misses, hit rate and errors per
 * level, semantic guard rejections, entries and bytes of the Postgres-backed caches (L1 and L2
 * sizes are not knowable from a Worker); for an admin, its own tenant's entries only (the counters
 * count every tenant's requests).
 */
export const adminCacheRoutes = new Hono<AppEnv>()
  .post("/invalidate", async (c) => {
    noQuery(c.req.query());
    const body = parseBody(invalidateBody, await readJson(c, 16 * 1024), "invalidate request");
    const { versions } = c.var.services;
    if ("scope" in body && c.var.auth.role !== "operator")
      throw new ApiError(403, "forbidden", "invalidating every tenant's cache needs an operator API key");
    if ("tenant" in body) actingTenant(c.var.auth, body.tenant);
    if ("scope" in body) await versions.invalidateAll();
    else if ("conversation_id" in body) await versions.conversationChanged(body.tenant, body.conversation_id);
    else await versions.invalidateTenant(body.tenant);
    return c.json({ invalidated: body });
  })
  .get("/stats", async (c) => {
    noQuery(c.req.query());
    if (c.var.auth.role !== "operator") {
      return c.json({
        counters_scope: "none: the counters count every tenant's requests (an operator key reads them)",
        tenant: c.var.auth.tenantId,
        stores: await tenantCacheEntries(c.var.sql(), c.var.auth.tenantId),
      });
    }
    const snapshot = counters.snapshot();
    const count = (name: string, level: string) =>
      Object.entries(snapshot)
        .filter(([k]) => k.startsWith(`${name}{`) && k.includes(`cache_level="${level}"`))
        .reduce((sum, [, v]) => sum + v, 0);
    const levels = Object.fromEntries(
      ["l1", "l2", "semantic"].map((level) => {
        const hits = count("rag_cache_hits_total", level);
        const misses = count("rag_cache_misses_total", level);
        return [
          level,
          {
            hits,
            misses,
            hit_rate: hits + misses > 0 ? Number((hits / (hits + misses)).toFixed(4)) : null,
            errors: count("rag_cache_errors_total", level),
          },
        ];
      }),
    );
    const guards = Object.fromEntries(
      Object.entries(snapshot)
        .filter(([k]) => k.startsWith("rag_semantic_guard_rejections_total{"))
        .map(([k, v]) => [k.match(/reason="([^"]+)"/)?.[1] ?? "unknown", v]),
    );
    return c.json({
      // Counters are this isolate's until /metrics aggregates them across isolates.
      counters_scope: "this isolate",
      levels,
      semantic_guard_rejections: guards,
      stores: await cacheTableSizes(c.var.sql()),
      // What the last housekeeping run pruned and measured.
      last_housekeeping: JSON.parse((await c.env.CACHE_KV.get(SNAPSHOT_KEY)) ?? "null"),
    });
  });
