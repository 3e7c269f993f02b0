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
