import type { z } from "zod";
import { badRequest, type FieldProblem } from "../errors.ts";
import { findUnstorableStrings } from "./read-json.ts";

/** JSON Pointer (RFC 6901) for a zod issue path, "#/messages/3/text". */
export function pointerOf(path: PropertyKey[]): string {
  return `#${path.map((p) => `/${String(p).replace(/~/g, "~0").replace(/\//g, "~1")}`).join("")}`;
}

/**
 * Parses an untrusted body with a zod schema; every problem becomes a field entry of one 400
 * problem+json, so a client sees all its mistakes at once.
 */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown, what: string): z.output<S> {
  const unstorable = findUnstorableStrings(body);
  if (unstorable.length > 0) throw badRequest(describe(what, unstorable), unstorable);
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const errors: FieldProblem[] = result.error.issues.slice(0, 20).map((issue) => ({
    pointer: pointerOf(issue.path),
    detail: issue.message,
  }));
  throw badRequest(describe(what, errors), errors);
}

function describe(what: string, errors: FieldProblem[]): string {
  const first = errors[0]!;
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : "";
  return `invalid ${what}: ${first.pointer.slice(2) || "body"}: ${first.detail}${more}`;
}
