import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../app-env.ts";
import { readSchemaStatus } from "../db/schema.ts";
import { ApiError } from "../errors.ts";
import { toApiError } from "../to-api-error.ts";

const verified = new WeakMap<object, true>();

/**
 * Checks once per isolate that migrations are applied, so a database behind the code is a clear
 * 503 on the first request, not a cryptic failure later.
 * If the database cannot be reached the request goes on unchecked (and the check is tried again
 * on the next one): a cached answer needs no database, and anything that does gets its own 503.
 */
export function schemaReady(): MiddlewareHandler<AppEnv> {
  return async function schemaReady(c, next) {
    if (!verified.has(c.env)) {
      let status: Awaited<ReturnType<typeof readSchemaStatus>>;
      try {
        status = await readSchemaStatus(c.var.sql());
      } catch (err) {
        if (toApiError(err).code !== "database-unavailable") throw err;
        return next();
      }
      if (status.pending.length > 0) {
        throw new ApiError(
          503,
          "migrations-pending",
          `database migrations are not applied: ${status.pending.join(", ")}; run npm run migrate`,
        );
      }
      verified.set(c.env, true);
    }
    await next();
  };
}
