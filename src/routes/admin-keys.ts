import { Hono } from "hono";
import { z } from "zod";
import type { AppEnv } from "../app-env.ts";
import { generateApiKey, hashApiKey, keyPrefix } from "../auth/api-key.ts";
import { keyCache } from "../auth/key-cache.ts";
import { keyFallback } from "../auth/key-fallback.ts";
import { sharedTier } from "../cache/index.ts";
import { insertApiKey, listApiKeys, revokeApiKey } from "../db/api-keys.ts";
import { notFound } from "../errors.ts";
import { readJson } from "../http/read-json.ts";
import { noQuery, parseBody } from "../http/validate.ts";
import { actingTenant } from "../middleware/auth.ts";

const tenantId = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, "must be 1-63 characters of a-z, 0-9, '_' and '-', starting with a letter or digit")
  .meta({ description: "Tenant id: 1–63 of `a-z 0-9 _ -`, starting with a letter or digit", example: "acme" });

// Operator keys are never created over HTTP (npm run create-key -- --role operator).
/** Body of POST /api/admin/keys (also the OpenAPI document's). */
export const createKeyBody = z.strictObject({
  tenant: tenantId.optional().meta({ description: "Default: the key's own tenant; created on first use" }),
  role: z.enum(["user", "admin"]).default("user").meta({ description: "Operator keys are never created over HTTP" }),
});
/** Query of GET /api/admin/keys. */
export const listKeysQuery = z.strictObject({ tenant: tenantId.optional().meta({ description: "Default: the key's own tenant" }) });
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * /api/admin/keys (admin or operator): create a key (the secret is shown once), list, revoke. An
 * admin key acts on its own tenant's user and admin keys and never sees an operator key; an
 * operator key on every key of any tenant (`tenant`, default the key's own).
 */
export const adminKeyRoutes = new Hono<AppEnv>()
  .post("/", async (c) => {
    noQuery(c.req.query());
    const body = parseBody(createKeyBody, await readJson(c, 16 * 1024), "key request");
    const tenant = actingTenant(c.var.auth, body.tenant);
    const key = generateApiKey();
    const record = await insertApiKey(c.var.sql(), tenant, body.role, hashApiKey(key), keyPrefix(key));
    return c.json({ id: record.id, key, tenant: record.tenant, role: record.role, created_at: record.created_at }, 201);
  })
  .get("/", async (c) => {
    const query = parseBody(listKeysQuery, c.req.query(), "query string");
    const operator = c.var.auth.role === "operator";
    return c.json({ keys: await listApiKeys(c.var.sql(), actingTenant(c.var.auth, query.tenant), operator) });
  })
  .delete("/:id", async (c) => {
    noQuery(c.req.query());
    const id = c.req.param("id");
    // An admin can revoke only its own tenant's user and admin keys; another tenant's key, or an
    // operator key, is "does not exist", as for any unknown id.
    const keyHash = UUID.test(id)
      ? await revokeApiKey(c.var.sql(), id, c.var.auth.role === "operator" ? undefined : c.var.auth.tenantId)
      : undefined;
    if (!keyHash) throw notFound(`API key '${id.slice(0, 64)}' does not exist or is already revoked`);
    keyCache.forgetKey(id);
    // The copy kept for database outages must not let it in either.
    await keyFallback(sharedTier(c.env, c.var.config), c.var.config.authFallbackTtlSeconds).revoked(keyHash);
    return c.body(null, 204);
  });
