import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../app-env.ts";

/**
 * `X-Content-Type-Options: nosniff` on every response of the Worker (errors and event streams
 * included): a browser takes a JSON body, a problem or a stream as its declared type, and never
 * runs one as a script or a page. The page's own files get it from public/_headers.
 *
 * @example app.use(noSniff())
 */
export function noSniff(): MiddlewareHandler<AppEnv> {
  return async function noSniff(c, next) {
    await next();
    c.res.headers.set("x-content-type-options", "nosniff");
  };
}
