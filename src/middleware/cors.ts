import type { MiddlewareHandler } from "hono";
import { cors as honoCors } from "hono/cors";
import type { AppEnv } from "../app-env.ts";
import { perConfig } from "../config.ts";

/** Hono's CORS middleware for the configured origins, built once per Config. */
const corsFor = perConfig((config) =>
  honoCors({
    origin: (origin) => (config.corsOrigins.includes(origin) ? origin : null),
    allowMethods: ["GET", "POST", "DELETE", "OPTIONS"],
    allowHeaders: ["authorization", "content-type", "x-request-id"],
    exposeHeaders: ["x-request-id", "x-cache", "x-coalesced", "server-timing", "retry-after"],
    maxAge: 600,
  }),
);

/**
 * CORS, closed by default: with no CORS_ORIGINS a browser on another origin can call nothing (no
 * Access-Control-* headers are ever sent). Listed origins (exact matches) may call the API with
 * their API key; others get no CORS headers.
 */
export function cors(): MiddlewareHandler<AppEnv> {
  return async function cors(c, next) {
    const config = c.var.config;
    if (config.corsOrigins.length === 0) return next();
    return corsFor(config)(c, next);
  };
}
