import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../app-env.ts";
import { badRequest, notFound } from "../errors.ts";
import { decodesToUtf8, queryEncodingProblems } from "../http/percent-encoding.ts";

/**
 * Refuses a URL whose percent-encoding is not UTF-8, which Hono's decoder would otherwise keep as
 * raw text (`?conversation_id=a%ED%A0%80b` read as those 11 characters). In the query string it is
 * a 400 naming each such parameter; in the path a 404, since no resource has such a name (and a
 * literal `a%ED%A0%80b` id is addressed as `a%25ED%25A0%2580b`). It runs before every route, so
 * such a request writes nothing.
 */
export function utf8Url(): MiddlewareHandler<AppEnv> {
  return async function utf8Url(c, next) {
    if (c.req.url.includes("%")) {
      const { pathname, search } = new URL(c.req.url);
      if (!decodesToUtf8(pathname)) {
        throw notFound(`'${pathname.slice(0, 200)}' does not exist: the path is not valid UTF-8 once percent-decoded`);
      }
      const problems = queryEncodingProblems(search);
      if (problems.length > 0) {
        const more = problems.length > 1 ? ` (and ${problems.length - 1} more)` : "";
        throw badRequest(`invalid query string: ${problems[0]!.pointer.slice(2)}: ${problems[0]!.detail}${more}`, problems);
      }
    }
    await next();
  };
}
