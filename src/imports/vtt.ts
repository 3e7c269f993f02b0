// WebVTT transcripts and captions (https://www.w3.org/TR/webvtt1/), as Zoom, Teams, Meet and
// YouTube write them: one cue, one message per voice (docs/IMPORTS.md).
import { ImportError, type Importer } from "./format.ts";
import { type Block, leadingLines, readBlocks, readLines, streamChunks } from "./text-lines.ts";
import { TranscriptWriter } from "./transcript-cues.ts";

const FILE = "transcript.vtt";
const SIGNATURE = /^WEBVTT(?:[ \t]|$)/;
const TIME = /^(?:(\d+):)?([0-5]\d):([0-5]\d)\.(\d{3})$/;

/**
 * Whether a file's first bytes start like WebVTT: "WEBVTT" alone or followed by a space or tab.
 *
 * @example looksLike(new TextEncoder().encode("WEBVTT\n\n00:01.000 --> 00:02.000\nHi")) // true
 */
export function looksLike(firstBytes: Uint8Array): boolean {
  return SIGNATURE.test(leadingLines(firstBytes, 1)[0] ?? "");
}

/** A WebVTT timestamp ("01:02:03.500" or "02:03.500") in milliseconds, or undefined. */
export function vttTimeMs(text: string): number | undefined {
  const m = TIME.exec(text);
  if (!m) return undefined;
  const [, h = "0", mi = "0", s = "0", ms = "0"] = m;
  return ((Number(h) * 60 + Number(mi)) * 60 + Number(s)) * 1000 + Number(ms);
}

/** Reads a WebVTT file into one conversation; needs options.startedAt. */
export const vttImporter: Importer = {
  format: "vtt",
  async parse(input, options, sink) {
    const out = new TranscriptWriter(options, sink);
    let header = true;
    for await (const block of readBlocks(readLines(streamChunks(input), FILE), FILE)) {
      const where = `${FILE}:${block.line}`;
      if (header) {
        header = false;
        const first = block.lines[0]!;
        if (block.line !== 1 || !SIGNATURE.test(first)) throw new ImportError(where, "not a WebVTT file: its first line must be WEBVTT");
        out.title =
          first
            .slice(6)
            .replace(/^[\s\-–—:]+/, "")
            .trim() || undefined;
        // A cue right under the header, without the blank line the spec asks for.
        const timing = block.lines.findIndex((l) => l.includes("-->"));
        if (timing !== -1) await cue(out, { lines: block.lines.slice(timing), line: block.line + timing }, sink.skipped.bind(sink));
        continue;
      }
      const first = block.lines[0]!;
      if (/^NOTE(?:[ \t]|$)/.test(first)) sink.skipped(where, "note");
      else if (/^STYLE[ \t]*$/.test(first)) sink.skipped(where, "style block");
      else if (/^REGION[ \t]*$/.test(first)) sink.skipped(where, "region block");
      else await cue(out, block, sink.skipped.bind(sink));
    }
    if (header) throw new ImportError(FILE, "the file is empty");
    await out.finish();
  },
};

async function cue(out: TranscriptWriter, block: Block, skipped: (where: string, reason: string) => void): Promise<void> {
  const where = `${FILE}:${block.line}`;
  const timing = block.lines[0]!.includes("-->") ? 0 : block.lines[1]?.includes("-->") ? 1 : -1;
  if (timing === -1) return skipped(where, "not a cue: no timing line");
  const m = /^(\S+)[ \t]+-->[ \t]+(\S+)/.exec(block.lines[timing]!);
  const start = m ? vttTimeMs(m[1]!) : undefined;
  if (start === undefined || vttTimeMs(m?.[2] ?? "") === undefined)
    return skipped(`${FILE}:${block.line + timing}`, "cue timing not understood");
  await out.cue(where, start, block.lines.slice(timing + 1), "vtt");
}
