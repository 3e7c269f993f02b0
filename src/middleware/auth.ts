import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../app-env.ts";
import { hashApiKey } from "../auth/api-key.ts";
import { keyCache } from "../auth/key-cache.ts";
import { findKeyOwner } from "../db/api-keys.ts";
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
    c.set("auth", owner);
    await next();
  };
}

/** Lets only admin keys through (after apiKeyAuth). */
export function requireAdmin(): MiddlewareHandler<AppEnv> {
  return async function requireAdmin(c, next) {
    if (c.var.auth.role !== "admin") throw new ApiError(403, "forbidden", "this route needs an admin API key");
    await next();
  };
}
