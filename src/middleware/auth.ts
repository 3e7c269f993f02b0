import type { Context, MiddlewareHandler } from "hono";
import type { AppEnv } from "../app-env.ts";
import { hashApiKey } from "../auth/api-key.ts";
import { keyCache } from "../auth/key-cache.ts";
import { keyFallback } from "../auth/key-fallback.ts";
import { sharedTier } from "../cache/index.ts";
import { findKeyOwner, type KeyOwner } from "../db/api-keys.ts";
import { ApiError } from "../errors.ts";
import { counters } from "../observability/counters.ts";
import { createServices } from "../services.ts";
import { toApiError } from "../to-api-error.ts";

const unauthorized = (detail: string) => new ApiError(401, "unauthorized", detail, [], { "www-authenticate": 'Bearer realm="convo-rag"' });

/** Resolves `Authorization: Bearer <key>` to its tenant and role; 401 when missing, unknown or revoked. */
export function apiKeyAuth(): MiddlewareHandler<AppEnv> {
  return async function apiKeyAuth(c, next) {
    const header = c.req.header("authorization");
    const match = header?.match(/^Bearer\s+(\S{1,512})\s*$/i);
    if (!match) throw unauthorized(header ? "Authorization header must be 'Bearer <api key>'" : "missing Authorization: Bearer <api key>");
    const keyHash = hashApiKey(match[1]!);
    const owner = keyCache.get(keyHash) ?? (await lookUp(c, keyHash));
    if (!owner) throw unauthorized("unknown or revoked API key");
    if (c.var.config.keyRateLimit) await withinRateLimit(c.env, owner);
    c.set("auth", owner);
    c.set(
      "services",
      createServices({
        env: c.env,
        config: c.var.config,
        tenantId: owner.tenantId,
        requestId: c.var.requestId,
        sql: c.var.sql,
        defer: (work) => c.executionCtx.waitUntil(work),
      }),
    );
    await next();
  };
}

/**
 * The key's owner from the database, remembered in the isolate and copied to the L2 cache. With
 * the database unreachable, the L2 copy stands in (counted), so cached answers survive an outage;
 * it is not remembered in the isolate, and without a copy the database's 503 stands.
 */
async function lookUp(c: Context<AppEnv>, keyHash: string): Promise<KeyOwner | undefined> {
  const config = c.var.config;
  const fallback = keyFallback(sharedTier(c.env, config), config.authFallbackTtlSeconds);
  let owner: KeyOwner | undefined;
  try {
    owner = await findKeyOwner(c.var.sql(), keyHash);
  } catch (err) {
    if (toApiError(err).code !== "database-unavailable") throw err;
    const copy = await fallback.recall(keyHash);
    if (copy === undefined) throw err;
    if (copy === "revoked") return undefined;
    counters.inc("rag_fallbacks_total", { kind: "auth_copy" });
    return copy;
  }
  if (owner) {
    keyCache.set(keyHash, owner, config.authCacheTtlMs);
    const copied = fallback.remember(keyHash, owner);
    if (copied) c.executionCtx.waitUntil(copied);
  }
  return owner;
}

/** The KEY_RATE_LIMITER binding's window (wrangler.toml `period`): Retry-After points at its end. */
const RATE_WINDOW_SECONDS = 60;

/**
 * Counts the request against its key's limit (Workers Rate Limiting, per location). Over it: 429
 * with Retry-After at the end of the current window. A limiter that fails lets the request through
 * (counted): an outage of the limiter must not take the API down.
 */
async function withinRateLimit(env: Env, owner: KeyOwner) {
  let success = true;
  try {
    ({ success } = await env.KEY_RATE_LIMITER.limit({ key: `${owner.tenantId}:${owner.keyId}` }));
  } catch {
    counters.inc("rag_fallbacks_total", { kind: "rate_limiter" });
  }
  if (success) return;
  counters.inc("rag_rate_limited_total");
  const retryAfter = String(RATE_WINDOW_SECONDS - (Math.floor(Date.now() / 1000) % RATE_WINDOW_SECONDS));
  throw new ApiError(429, "rate-limited", `too many requests for this API key; retry after ${retryAfter} s`, [], {
    "retry-after": retryAfter,
  });
}

/** Lets only admin and operator keys through (after apiKeyAuth); an admin acts on its own tenant (actingTenant). */
export function requireAdmin(): MiddlewareHandler<AppEnv> {
  return async function requireAdmin(c, next) {
    if (c.var.auth.role !== "admin" && c.var.auth.role !== "operator")
      throw new ApiError(403, "forbidden", "this route needs an admin API key");
    await next();
  };
}

/** Lets only operator keys through: routes that see across tenants (metrics, invalidating everything). */
export function requireOperator(): MiddlewareHandler<AppEnv> {
  return async function requireOperator(c, next) {
    if (c.var.auth.role !== "operator")
      throw new ApiError(403, "forbidden", "this route needs an operator API key (npm run create-key -- --role operator)");
    await next();
  };
}

/**
 * The tenant an admin request acts on: the one named (default: the key's own). An admin key may
 * name only its own tenant; an operator key any. The refusal is the same for every other tenant
 * id, existing or not.
 */
export function actingTenant(auth: { tenantId: string; role: string }, named: string | undefined): string {
  const tenant = named ?? auth.tenantId;
  if (tenant !== auth.tenantId && auth.role !== "operator") {
    throw new ApiError(
      403,
      "forbidden-tenant",
      `an admin key acts on its own tenant ('${auth.tenantId}'); another tenant needs an operator key`,
    );
  }
  return tenant;
}
