import { Hono } from "hono";
import { z } from "zod";
import type { AppEnv } from "../app-env.ts";
import { requestCache } from "../cache/index.ts";
import { readJson } from "../http/read-json.ts";
import { parseBody } from "../http/validate.ts";
import { counters } from "../observability/counters.ts";

const tenant = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, "must be a tenant id");
const invalidateBody = z.union([
  z.object({ scope: z.literal("all") }).strict(),
  z.object({ tenant }).strict(),
  z.object({ tenant, conversation_id: z.string().trim().min(1).max(256) }).strict(),
]);

/** /api/admin/cache (admin only): invalidate a conversation, a tenant or everything; this isolate's cache counters. */
export const adminCacheRoutes = new Hono<AppEnv>()
  .post("/invalidate", async (c) => {
    const body = parseBody(invalidateBody, await readJson(c, 16 * 1024), "invalidate request");
    const { versions } = requestCache(c);
    if ("scope" in body) await versions.invalidateAll();
    else if ("conversation_id" in body) await versions.conversationChanged(body.tenant, body.conversation_id);
    else await versions.invalidateTenant(body.tenant);
    return c.json({ invalidated: body });
  })
  .get("/stats", (c) =>
    c.json({
      scope: "this isolate",
      counters: Object.fromEntries(Object.entries(counters.snapshot()).filter(([k]) => k.startsWith("rag_cache_"))),
    }),
  );
