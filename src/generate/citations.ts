import type { AnswerSource, SourceMessage } from "../providers/chat-model.ts";
import { STOPWORDS, stem, words } from "../text/words.ts";
import type { Citation } from "./prepare.ts";

const MAX_MARKER = 16;
const MARKER = /^\[(\d+(?:\s*,\s*\d+)*)\]$/;

/**
 * Keeps a streamed answer's citations honest: every "[n]" or "[n, m]" must name a source that was
 * returned (1…sourceCount). Unknown numbers are removed from a marker, a marker left empty is
 * dropped. Text inside quotation marks (“…” or "…") is a quote of message text, which is data:
 * it passes unchanged, brackets and all. Works on pieces as they stream: text that may still
 * become a marker is held back until it is complete (at most a few characters).
 *
 * @example const f = citationFilter(2); f.push("see [1] and [7"); f.push("]."); f.flush() // "see [1] and ."
 * @example citationFilter(2).push("“clause [42] applies” [1]") // unchanged
 */
export function citationFilter(sourceCount: number) {
  let held = "";
  const quotes = quoteTracker();
  const resolve = (marker: string): string => {
    const m = MARKER.exec(marker);
    if (!m) return marker;
    const valid = m[1]!
      .split(",")
      .map((x) => Number(x.trim()))
      .filter((n) => n >= 1 && n <= sourceCount);
    return valid.length > 0 ? `[${[...new Set(valid)].join(", ")}]` : "";
  };
  return {
    /** Returns the text that can be sent now. */
    push(piece: string): string {
      let out = "";
      for (const ch of piece) {
        if (held) {
          if (ch === "]") {
            out += resolve(`${held}]`);
            held = "";
            continue;
          }
          if (ch === "[") {
            out += held;
            held = "[";
            continue;
          }
          if (/[\d,\s]/.test(ch) && held.length < MAX_MARKER) {
            held += ch;
            continue;
          }
          // Not a marker after all: send what was held, then read this character afresh.
          out += held;
          held = "";
        }
        if (quotes.step(ch)) out += ch;
        else if (ch === "[") held = "[";
        else out += ch;
      }
      return out;
    },
    /** The text still held back at the end of the stream. */
    flush(): string {
      const rest = held;
      held = "";
      return rest;
    },
  };
}

/**
 * Follows quotation marks through a text one character at a time: step() says whether the
 * character is part of a quote (the marks included). Typographic quotes nest nothing: inside
 * “…” only ” ends the quote; outside them a straight " opens or closes one.
 */
function quoteTracker() {
  let open: "“" | '"' | undefined;
  return {
    step(ch: string): boolean {
      if (open === "“") {
        if (ch === "”") open = undefined;
        return true;
      }
      if (open === '"') {
        if (ch === '"') open = undefined;
        return true;
      }
      if (ch === "“" || ch === '"') {
        open = ch;
        return true;
      }
      return false;
    },
  };
}

/** The distinct citation numbers an answer uses, in order of first use; a bracketed number inside a quote is not one. */
export function citedNumbers(answer: string): number[] {
  const quotes = quoteTracker();
  const outside = [...answer].map((ch) => (quotes.step(ch) ? " " : ch)).join("");
  const out = new Set<number>();
  for (const m of outside.matchAll(/\[(\d+(?:\s*,\s*\d+)*)\]/g)) for (const x of m[1]!.split(",")) out.add(Number(x.trim()));
  return [...out];
}

const MARKERS = /\[(\d+(?:\s*,\s*\d+)*)\]/g;
const QUOTED = /“([^”]*)”|"([^"]*)"/g;
const squash = (s: string) => s.replace(/\s+/g, " ").trim();

/**
 * What each citation of an answer points to: for every source number the answer cites (outside
 * quotes, in order of first use), the messages of that source the cited statement draws on. A
 * statement is the text between the previous marker (or line start) and its marker. It draws on
 * the messages that contain what it quotes (“…”, ellipses allowed); failing a quote, on the
 * messages sharing the most of its words; failing any shared word, on the whole source.
 */
export function resolveCitations(answer: string, sources: Pick<AnswerSource, "n" | "id" | "messages">[]): Citation[] {
  const byNumber = new Map(sources.map((s) => [s.n, s]));
  const quotes = quoteTracker();
  // Brackets inside quotes are data, not markers: blank them out before looking for markers.
  // (Same length in UTF-16 units, so indices into it are indices into the answer.)
  const outside = [...answer].map((ch) => (quotes.step(ch) && !'“”"'.includes(ch) ? "\u0000".repeat(ch.length) : ch)).join("");
  const found = new Map<number, Set<string>>();
  let statementStart = 0;
  for (const m of outside.matchAll(MARKERS)) {
    const lineStart = answer.lastIndexOf("\n", m.index - 1) + 1;
    const statement = answer.slice(Math.max(statementStart, lineStart), m.index);
    statementStart = m.index + m[0].length;
    for (const n of m[1]!.split(",").map((x) => Number(x.trim()))) {
      const source = byNumber.get(n);
      if (!source) continue;
      const ids = found.get(n) ?? new Set<string>();
      for (const id of drawnOn(statement, source.messages)) ids.add(id);
      found.set(n, ids);
    }
  }
  return [...found].map(([n, ids]) => {
    const source = byNumber.get(n)!;
    return { n, sourceId: source.id, messageIds: source.messages.filter((msg) => ids.has(msg.id)).map((msg) => msg.id) };
  });
}

function drawnOn(statement: string, messages: SourceMessage[]): string[] {
  const quoted = [...statement.matchAll(QUOTED)].map((q) => q[1] ?? q[2] ?? "").filter((q) => q.trim().length > 0);
  if (quoted.length > 0) {
    const hits = messages.filter((msg) => {
      const text = squash(msg.text);
      return quoted.some((q) => {
        const parts = q
          .split("…")
          .map(squash)
          .filter((p) => p.length > 0);
        return parts.length > 0 && parts.every((p) => text.includes(p));
      });
    });
    if (hits.length > 0) return hits.map((msg) => msg.id);
  }
  const said = new Set(
    words(statement)
      .filter((w) => !STOPWORDS.has(w))
      .map(stem),
  );
  const scores = messages.map(
    (msg) =>
      new Set(
        words(`${msg.authorName} ${msg.text}`)
          .map(stem)
          .filter((w) => said.has(w)),
      ).size,
  );
  const top = Math.max(0, ...scores);
  if (top === 0) return messages.map((msg) => msg.id);
  return messages.filter((_, i) => scores[i] === top).map((msg) => msg.id);
}
