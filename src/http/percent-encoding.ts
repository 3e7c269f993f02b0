import type { FieldProblem } from "../errors.ts";
import { pointerOf } from "./validate.ts";

const ENCODED_RUN = /(?:%[0-9A-Fa-f]{2})+/g;

/**
 * Whether `text` is UTF-8 once percent-decoded. A '%' without two hex digits stays a literal '%',
 * as in URL parsing; every run of `%XX` bytes must be whole UTF-8 (no lone surrogate, overlong
 * form, truncated sequence or code point past U+10FFFF). Those runs are exactly where
 * `decodeURIComponent` throws and Hono's lenient decoder keeps the raw text instead.
 *
 * @example decodesToUtf8("caf%C3%A9") // true
 * @example decodesToUtf8("a%ED%A0%80b") // false: an encoded lone surrogate
 */
export function decodesToUtf8(text: string): boolean {
  for (const [run] of text.matchAll(ENCODED_RUN)) {
    try {
      decodeURIComponent(run);
    } catch {
      return false;
    }
  }
  return true;
}

const NOT_UTF8 = "is not valid UTF-8 percent-encoding";

/**
 * One problem per parameter of a raw query string (`?a=1&b=2`, still percent-encoded) whose name
 * or value is not UTF-8 once decoded: the value's problem points at the decoded name, a name's at
 * the name as sent (it has no decoded form).
 */
export function queryEncodingProblems(search: string): FieldProblem[] {
  const problems: FieldProblem[] = [];
  for (const pair of search.replace(/^\?/, "").split("&")) {
    const at = pair.indexOf("=");
    const name = at === -1 ? pair : pair.slice(0, at);
    const value = at === -1 ? "" : pair.slice(at + 1);
    if (!decodesToUtf8(name)) problems.push({ pointer: pointerOf([name.slice(0, 100)]), detail: NOT_UTF8 });
    else if (!decodesToUtf8(value)) problems.push({ pointer: pointerOf([decodeName(name)]), detail: NOT_UTF8 });
  }
  return problems.slice(0, 20);
}

/** A name known to decode, decoded as Hono's query parser does ('+' is a space). */
function decodeName(name: string): string {
  const spaced = name.replaceAll("+", " ");
  try {
    return decodeURIComponent(spaced).slice(0, 100);
  } catch {
    // A '%' without two hex digits: decodeURIComponent refuses what URL parsing keeps literally.
    return spaced.replace(ENCODED_RUN, (run) => decodeURIComponent(run)).slice(0, 100);
  }
}
