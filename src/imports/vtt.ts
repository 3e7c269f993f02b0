// WebVTT transcripts and captions (https://www.w3.org/TR/webvtt1/), as Zoom, Teams, Meet and
// YouTube write them: one cue, one message per voice (docs/IMPORTS.md).
import { ImportError, type Importer } from "./format.ts";
import { leadingLines, readBlocks, readLines, streamChunks } from "./text-lines.ts";
import { type TranscriptState, TranscriptWriter } from "./transcript-cues.ts";

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

/** What a paused parse needs to go on (after the header). */
interface VttState {
  line: number;
  writer: TranscriptState;
}

/** Reads a WebVTT file into one conversation; needs options.startedAt. */
export const vttImporter: Importer = {
  format: "vtt",
  async parse(input, options, sink, resume) {
    const file = options.file ?? FILE;
    const state = resume?.state as VttState | undefined;
    const out = new TranscriptWriter(options, sink, state?.writer);
    let header = !state;
    const start = resume && state ? { offset: resume.at, line: state.line } : undefined;
    const skipped = sink.skipped.bind(sink);
    for await (const block of readBlocks(readLines(streamChunks(input), file, start), file)) {
      const where = `${file}:${block.line}`;
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
        if (timing !== -1) await cue(out, block.lines.slice(timing), block.line + timing, file, skipped);
        continue;
      }
      await sink.pausable?.(block.offset, async (): Promise<VttState> => ({ line: block.line - 1, writer: await out.suspend() }));
      const first = block.lines[0]!;
      if (/^NOTE(?:[ \t]|$)/.test(first)) sink.skipped(where, "note");
      else if (/^STYLE[ \t]*$/.test(first)) sink.skipped(where, "style block");
      else if (/^REGION[ \t]*$/.test(first)) sink.skipped(where, "region block");
      else await cue(out, block.lines, block.line, file, skipped);
    }
    if (header) throw new ImportError(file, "the file is empty");
    await out.finish();
  },
};

/** A cue block's `lines`, the first on line `line` of `file`. */
async function cue(
  out: TranscriptWriter,
  lines: string[],
  line: number,
  file: string,
  skipped: (where: string, reason: string) => void,
): Promise<void> {
  const where = `${file}:${line}`;
  const timing = lines[0]!.includes("-->") ? 0 : lines[1]?.includes("-->") ? 1 : -1;
  if (timing === -1) return skipped(where, "not a cue: no timing line");
  const m = /^(\S+)[ \t]+-->[ \t]+(\S+)/.exec(lines[timing]!);
  const start = m ? vttTimeMs(m[1]!) : undefined;
  if (start === undefined || vttTimeMs(m?.[2] ?? "") === undefined) return skipped(`${file}:${line + timing}`, "cue timing not understood");
  await out.cue(where, start, lines.slice(timing + 1), "vtt");
}
