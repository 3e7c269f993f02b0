import { z } from "zod";
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
  const errors = result.error.issues.flatMap((issue) => problemsOf(schema, issue)).slice(0, 20);
  throw badRequest(describe(what, errors), errors);
}

/**
 * One field problem per zod issue; an unknown field (bodies are strict) points at the field
 * itself and names the closest known one, so `conversationId` says "did you mean conversation_id".
 */
function problemsOf(schema: z.ZodType, issue: z.core.$ZodIssue): FieldProblem[] {
  if (issue.code !== "unrecognized_keys") return [{ pointer: pointerOf(issue.path), detail: issue.message }];
  const known = keysAt(schema, issue.path);
  return issue.keys.map((key) => {
    const near = closest(key, known);
    return {
      pointer: pointerOf([...issue.path, key]),
      detail: `is not a field of this request${near ? ` (did you mean '${near}'?)` : ""}`,
    };
  });
}

interface SchemaDef {
  type?: string;
  shape?: Record<string, { _zod: { def: SchemaDef } }>;
  innerType?: { _zod: { def: SchemaDef } };
  in?: { _zod: { def: SchemaDef } };
  element?: { _zod: { def: SchemaDef } };
  options?: { _zod: { def: SchemaDef } }[];
}

/** The field names the object schemas at `path` accept (through optional, default, pipe, array and union). */
function keysAt(schema: z.ZodType, path: PropertyKey[]): string[] {
  const keys = new Set<string>();
  const visit = (def: SchemaDef, at: number) => {
    if (def.innerType) return visit(def.innerType._zod.def, at);
    if (def.type === "pipe" && def.in) return visit(def.in._zod.def, at);
    if (def.options) {
      for (const option of def.options) visit(option._zod.def, at);
      return;
    }
    if (at === path.length) {
      for (const key of Object.keys(def.shape ?? {})) keys.add(key);
      return;
    }
    const step = path[at];
    if (def.element && typeof step === "number") visit(def.element._zod.def, at + 1);
    else if (def.shape && typeof step === "string" && def.shape[step]) visit(def.shape[step]._zod.def, at + 1);
  };
  visit((schema as unknown as { _zod: { def: SchemaDef } })._zod.def, 0);
  return [...keys];
}

/** The known key a typo most likely meant: same letters ignoring case and separators, or within two edits. */
function closest(key: string, known: string[]): string | undefined {
  const fold = (s: string) => s.toLowerCase().replace(/[-_\s]/g, "");
  const same = known.find((k) => fold(k) === fold(key));
  if (same) return same;
  let best: { key: string; distance: number } | undefined;
  for (const k of known) {
    const distance = editDistance(fold(key), fold(k));
    if (distance <= 2 && (!best || distance < best.distance)) best = { key: k, distance };
  }
  return best?.key;
}

function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2 || a.length > 64 || b.length > 64) return 3;
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(previous[j]! + 1, row[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = row;
  }
  return previous[b.length]!;
}

function describe(what: string, errors: FieldProblem[]): string {
  const first = errors[0]!;
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : "";
  return `invalid ${what}: ${first.pointer.slice(2) || "body"}: ${first.detail}${more}`;
}

const NO_PARAMETERS = z.strictObject({});

/** Rejects any query parameter on a route that takes none (a typo would otherwise be ignored). */
export function noQuery(query: Record<string, string>): void {
  parseBody(NO_PARAMETERS, query, "query string");
}
