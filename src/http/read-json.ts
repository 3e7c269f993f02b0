import type { Context } from "hono";
import { ApiError, badRequest, type FieldProblem } from "../errors.ts";

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

/**
 * Reads a JSON request body under a byte limit: 415 for another content type, 413 past the
 * limit (checked while streaming, not only from Content-Length), 400 for invalid UTF-8 or JSON.
 */
export async function readJson(c: Context, maxBytes: number): Promise<unknown> {
  const type = c.req.header("content-type") ?? "";
  if (!JSON_TYPE.test(type)) {
    throw new ApiError(
      415,
      "unsupported-media-type",
      `expected Content-Type: application/json, got ${type ? `'${type.slice(0, 100)}'` : "none"}`,
    );
  }
  const declared = Number(c.req.header("content-length") ?? NaN);
  if (declared > maxBytes) throw tooLarge(maxBytes);

  const body = c.req.raw.body;
  if (!body) throw badRequest("request body is empty; expected a JSON object");
  const parts: Uint8Array[] = [];
  let size = 0;
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read().catch((err: unknown) => {
      // The client stopped sending (a body shorter than its Content-Length, a dropped connection):
      // the request's fault, whatever words the runtime has for it.
      throw bodyBroken(err);
    });
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      throw tooLarge(maxBytes);
    }
    parts.push(value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const p of parts) {
    bytes.set(p, offset);
    offset += p.byteLength;
  }

  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw badRequest("request body is not valid UTF-8");
  }
  if (text.trim() === "") throw badRequest("request body is empty; expected a JSON object");
  try {
    return JSON.parse(text);
  } catch (err) {
    throw badRequest(`malformed JSON: ${err instanceof Error ? err.message.slice(0, 200) : "parse error"}`);
  }
}

/** 400 for a request body that broke off before its end. */
export function bodyBroken(err: unknown): ApiError {
  const why = err instanceof Error ? err.message : String(err);
  return new ApiError(400, "body-incomplete", `the request body broke off before its end (${why.slice(0, 100)}); send it again whole`);
}

function tooLarge(maxBytes: number) {
  return new ApiError(413, "body-too-large", `request body exceeds the limit of ${maxBytes} bytes`);
}

/**
 * Finds strings Postgres cannot store faithfully: NUL characters and lone UTF-16 surrogates
 * (which would otherwise be silently replaced). Returns one problem per offending value.
 */
export function findUnstorableStrings(value: unknown, maxDepth = 32): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const visit = (v: unknown, pointer: string, depth: number) => {
    if (problems.length >= 20) return;
    if (depth > maxDepth) {
      problems.push({ pointer: `#${pointer}`, detail: `nesting deeper than ${maxDepth} levels` });
      return;
    }
    if (typeof v === "string") {
      const detail = stringProblem(v);
      if (detail) problems.push({ pointer: `#${pointer}`, detail });
    } else if (Array.isArray(v)) {
      for (const [i, item] of v.entries()) visit(item, `${pointer}/${i}`, depth + 1);
    } else if (v !== null && typeof v === "object") {
      for (const [key, item] of Object.entries(v)) {
        const escaped = key.replace(/~/g, "~0").replace(/\//g, "~1");
        const keyProblem = stringProblem(key);
        if (keyProblem) problems.push({ pointer: `#${pointer}/${escaped}`, detail: `key ${keyProblem}` });
        visit(item, `${pointer}/${escaped}`, depth + 1);
      }
    }
  };
  visit(value, "", 0);
  return problems;
}

/** True when Postgres can store `s` as it is (no NUL, no lone surrogate): e.g. an id from a URL. */
export const isStorable = (s: string): boolean => stringProblem(s) === undefined;

function stringProblem(s: string): string | undefined {
  if (s.includes("\u0000")) return "contains a NUL character (\\u0000), which cannot be stored";
  if (!s.isWellFormed()) return "contains invalid Unicode (a lone surrogate)";
  return undefined;
}
