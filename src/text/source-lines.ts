/** One message line of a chunk: "[2025-03-01 10:00] John: text" or, later the same day, "[10:02] John: text". */
export interface SourceLine {
  /** Calendar day (YYYY-MM-DD) the line was said, carried over from the last dated line. */
  day: string;
  /** HH:MM, or "" for text before the first stamped line. */
  time: string;
  speaker: string;
  text: string;
}

const STAMP = /^\[(?:(\d{4}-\d{2}-\d{2}) )?(\d{2}:\d{2})\] /;

/**
 * Parses the lines of a chunk's text. Speakers are matched against the chunk's authors (longest
 * name first), so a name containing ": " still parses; a line that does not match is kept as a
 * continuation of the line before (an over-long message split across lines).
 */
export function parseSourceLines(text: string, speakers: string[], firstDay: string): SourceLine[] {
  const names = [...speakers].sort((a, b) => b.length - a.length);
  const out: SourceLine[] = [];
  let day = firstDay;
  for (const raw of text.split("\n")) {
    const stamp = STAMP.exec(raw);
    if (!stamp) {
      if (out.length > 0) out[out.length - 1]!.text += ` ${raw.trim()}`;
      else if (raw.trim()) out.push({ day, time: "", speaker: "", text: raw.trim() });
      continue;
    }
    if (stamp[1]) day = stamp[1];
    const rest = raw.slice(stamp[0].length);
    const name = names.find((n) => rest.startsWith(`${n}: `)) ?? rest.slice(0, Math.max(0, rest.indexOf(": ")));
    out.push({ day, time: stamp[2]!, speaker: name, text: rest.slice(name ? name.length + 2 : 0).trim() });
  }
  return out;
}
