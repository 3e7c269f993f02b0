// SubRip subtitles (.srt): numbered blocks "1\n00:00:01,000 --> 00:00:04,000\ntext\n\n". One
// cue, one message per speaker (docs/IMPORTS.md).
import { ImportError, type Importer } from "./format.ts";
import { leadingLines, readBlocks, readLines, streamChunks } from "./text-lines.ts";
import { type TranscriptState, TranscriptWriter } from "./transcript-cues.ts";

const FILE = "transcript.srt";
const TIME = String.raw`(\d{1,3}):([0-5]\d):([0-5]\d)[,.](\d{1,3})`;
const TIMING = new RegExp(String.raw`^\s*${TIME}\s*-->\s*${TIME}(?:\s.*)?$`);

interface Cue {
  where: string;
  startMs: number;
  lines: string[];
}

/** What a paused parse needs to go on (at the start of a subtitle). */
interface SrtState {
  line: number;
  blocks: number;
  writer: TranscriptState;
}

/**
 * Whether a file's first bytes start like SRT: a cue number, then a timing line.
 *
 * @example looksLike(new TextEncoder().encode("1\n00:00:01,000 --> 00:00:02,000\nHi")) // true
 */
export function looksLike(firstBytes: Uint8Array): boolean {
  const [first = "", second = ""] = leadingLines(firstBytes, 3).filter((l) => l.trim() !== "");
  return (/^\d+$/.test(first.trim()) && TIMING.test(second)) || TIMING.test(first);
}

/** An SRT timing line's start in milliseconds, or undefined when the line is none. */
export function srtStartMs(line: string): number | undefined {
  const m = TIMING.exec(line);
  if (!m) return undefined;
  const [, h, mi, s, ms] = m;
  return ((Number(h) * 60 + Number(mi)) * 60 + Number(s)) * 1000 + Number(ms!.padEnd(3, "0"));
}

/**
 * Reads an SRT file into one conversation; needs options.startedAt. Text after a blank line
 * inside a cue (a block with no number and timing) belongs to that cue, as players read it.
 */
export const srtImporter: Importer = {
  format: "srt",
  async parse(input, options, sink, resume) {
    const file = options.file ?? FILE;
    const state = resume?.state as SrtState | undefined;
    const out = new TranscriptWriter(options, sink, state?.writer);
    let pending: Cue | undefined;
    let blocks = state?.blocks ?? 0;
    const start = resume && state ? { offset: resume.at, line: state.line } : undefined;
    for await (const block of readBlocks(readLines(streamChunks(input), file, start), file)) {
      blocks += 1;
      const where = `${file}:${block.line}`;
      const [first = "", second = ""] = block.lines;
      const numbered = /^\d+$/.test(first.trim()) ? srtStartMs(second) : undefined;
      const startMs = numbered ?? srtStartMs(first);
      if (startMs === undefined) {
        if (!pending) {
          throw new ImportError(where, "not an SRT file: a subtitle starts with its number and a line like 00:00:01,000 --> 00:00:04,000");
        }
        pending.lines.push("", ...block.lines);
        continue;
      }
      if (pending) await out.cue(pending.where, pending.startMs, pending.lines, "srt");
      const before = blocks - 1;
      await sink.pausable?.(
        block.offset,
        async (): Promise<SrtState> => ({ line: block.line - 1, blocks: before, writer: await out.suspend() }),
      );
      pending = { where, startMs, lines: block.lines.slice(numbered === undefined ? 1 : 2) };
    }
    if (blocks === 0) throw new ImportError(file, "the file is empty");
    if (pending) await out.cue(pending.where, pending.startMs, pending.lines, "srt");
    await out.finish();
  },
};
