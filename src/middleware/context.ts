import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../app-env";
import { configFor } from "../config";
import { createSql, type Sql } from "../db/client";

/**
 * Puts the isolate's Config and a lazily created per-request Postgres client on the context;
 * the client is closed in waitUntil so the response is not held up by it.
 */
export function requestContext(): MiddlewareHandler<AppEnv> {
  return async function requestContext(c, next) {
    c.set("config", configFor(c.env));
    let sql: Sql | undefined;
    c.set("sql", () => (sql ??= createSql(c.env.HYPERDRIVE)));
    try {
      await next();
    } finally {
      if (sql) c.executionCtx.waitUntil(sql.end({ timeout: 5 }));
    }
  };
}
