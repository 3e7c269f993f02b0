import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../app-env.ts";
import { hashApiKey } from "../auth/api-key.ts";
import { keyCache } from "../auth/key-cache.ts";
import { findKeyOwner, type KeyOwner } from "../db/api-keys.ts";
import { counters } from "../observability/counters.ts";
import { ApiError } from "../errors.ts";

const unauthorized = (detail: string) =>
  new ApiError(401, "unauthorized", detail, [], { "www-authenticate": 'Bearer realm="convo-rag"' });

/** Resolves `Authorization: Bearer <key>` to its tenant and role; 401 when missing, unknown or revoked. */
export function apiKeyAuth(): MiddlewareHandler<AppEnv> {
  return async function apiKeyAuth(c, next) {
    const header = c.req.header("authorization");
    const match = header?.match(/^Bearer\s+(\S{1,512})\s*$/i);
    if (!match) throw unauthorized(header ? "Authorization header must be 'Bearer <api key>'" : "missing Authorization: Bearer <api key>");
    const keyHash = hashApiKey(match[1]!);
    let owner = keyCache.get(keyHash);
    if (!owner) {
      owner = await findKeyOwner(c.var.sql(), keyHash);
      if (!owner) throw unauthorized("unknown or revoked API key");
      keyCache.set(keyHash, owner, c.var.config.authCacheTtlMs);
    }
    if (c.var.config.keyRateLimit) await withinRateLimit(c.env, owner);
    c.set("auth", owner);
    await next();
  };
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
  throw new ApiError(429, "rate-limited", `too many requests for this API key; retry after ${retryAfter} s`, [], { "retry-after": retryAfter });
}

/** Lets only admin keys through (after apiKeyAuth). */
export function requireAdmin(): MiddlewareHandler<AppEnv> {
  return async function requireAdmin(c, next) {
    if (c.var.auth.role !== "admin") throw new ApiError(403, "forbidden", "this route needs an admin API key");
    await next();
  };
}
