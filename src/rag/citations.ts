const MAX_MARKER = 16;
const MARKER = /^\[(\d+(?:\s*,\s*\d+)*)\]$/;

/**
 * Keeps a streamed answer's citations honest: every "[n]" or "[n, m]" must name a source that was
 * returned (1…sourceCount). Unknown numbers are removed from a marker, a marker left empty is
 * dropped. Works on pieces as they stream: text that may still become a marker is held back
 * until it is complete (at most a few characters).
 *
 * @example const f = citationFilter(2); f.push("see [1] and [7"); f.push("]."); f.flush() // "see [1] and ."
 */
export function citationFilter(sourceCount: number) {
  let held = "";
  const resolve = (marker: string): string => {
    const m = MARKER.exec(marker);
    if (!m) return marker;
    const valid = m[1]!.split(",").map((x) => Number(x.trim())).filter((n) => n >= 1 && n <= sourceCount);
    return valid.length > 0 ? `[${[...new Set(valid)].join(", ")}]` : "";
  };
  return {
    /** Returns the text that can be sent now. */
    push(piece: string): string {
      let out = "";
      for (const ch of piece) {
        if (held) {
          held += ch;
          if (ch === "]") {
            out += resolve(held);
            held = "";
          } else if (ch === "[") {
            out += held.slice(0, -1);
            held = "[";
          } else if (!/[\d,\s]/.test(ch) || held.length > MAX_MARKER) {
            out += held;
            held = "";
          }
        } else if (ch === "[") held = "[";
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

/** The distinct citation numbers an answer uses, in order of first use. */
export function citedNumbers(answer: string): number[] {
  const out = new Set<number>();
  for (const m of answer.matchAll(/\[(\d+(?:\s*,\s*\d+)*)\]/g)) for (const x of m[1]!.split(",")) out.add(Number(x.trim()));
  return [...out];
}
