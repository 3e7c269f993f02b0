import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../app-env.ts";
import { configFor } from "../config.ts";
import { createSql, type Sql } from "../db/client.ts";
import { counters } from "../observability/counters.ts";

/**
 * Puts the isolate's Config and a lazily created per-request Postgres client on the context.
 *
 * The client is not closed with sql.end(): postgres.js's Workers socket polyfill turns the read
 * that an explicit close aborts into an unhandled rejection. workerd closes a request's sockets
 * when the request (with its waitUntil work) ends, which releases the connection cleanly; a
 * test issues more requests than the database accepts connections to prove nothing leaks.
 */
export function requestContext(): MiddlewareHandler<AppEnv> {
  return async function requestContext(c, next) {
    c.set("config", configFor(c.env));
    let sql: Sql | undefined;
    c.set("sql", () => {
      if (!sql) {
        sql = createSql(c.env.HYPERDRIVE);
        counters.inc("rag_db_clients_total");
      }
      return sql;
    });
    await next();
  };
}
