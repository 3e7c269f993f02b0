import type { Tokenizer } from "../tokens/tokenizer.ts";

export interface ChunkInputMessage {
  id: string;
  authorName: string;
  authorType: string;
  text: string;
  timestamp: Date;
}

export interface Chunk {
  orderIndex: number;
  text: string;
  messageIds: string[];
  authors: string[];
  authorTypes: string[];
  /** The one author type of the chunk, or "mixed". */
  authorType: string;
  start: Date;
  end: Date;
  tokenCount: number;
}

export interface ChunkOptions {
  maxTokens: number;
  /** A gap longer than this between two messages always starts a new chunk. */
  sessionGapMs: number;
}

const pad = (n: number) => String(n).padStart(2, "0");
const day = (d: Date) => `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
const clock = (d: Date) => `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;

/** "[2025-03-01 10:00] John: text" for the first line of a day in a chunk, "[10:02] John: text" after it. */
function formatLine(m: ChunkInputMessage, text: string, withDate: boolean): string {
  const when = withDate ? `${day(m.timestamp)} ${clock(m.timestamp)}` : clock(m.timestamp);
  return `[${when}] ${m.authorName}: ${text.replace(/\s+/g, " ").trim()}`;
}

/** Splits an over-long message into pieces of at most `budget` tokens, at sentence ends when it can. */
function splitText(text: string, budget: number, tokenizer: Tokenizer): string[] {
  const sentences = text.match(/[^.!?\n]+(?:[.!?]+["')\]]*|\n|$)\s*/g) ?? [text];
  const units: string[] = [];
  for (const s of sentences) {
    if (tokenizer.count(s) <= budget) units.push(s);
    else units.push(...s.split(/(?<=\s)/));
  }
  const pieces: string[] = [];
  let current = "";
  let tokens = 0;
  for (const unit of units) {
    const t = tokenizer.count(unit);
    if (current && tokens + t > budget) {
      pieces.push(current);
      current = "";
      tokens = 0;
    }
    current += unit;
    tokens += t;
  }
  if (current.trim()) pieces.push(current);
  return pieces;
}

interface Line {
  message: ChunkInputMessage;
  text: string;
}

/**
 * Groups consecutive messages into chunks of at most `maxTokens` tokens, never across a
 * session gap. Each chunk's text keeps speaker names and dates so answers can cite them; a
 * message longer than a chunk is split over several chunks that all carry its id.
 *
 * @example chunkMessages(messages, tokenizer, { maxTokens: 160, sessionGapMs: 3_600_000 })
 */
export function chunkMessages(messages: ChunkInputMessage[], tokenizer: Tokenizer, options: ChunkOptions): Chunk[] {
  const chunks: Chunk[] = [];
  let lines: Line[] = [];
  let tokens = 0;

  const flush = () => {
    if (lines.length === 0) return;
    const render = lines.map((l, i) => {
      const prev = lines[i - 1];
      const withDate = !prev || day(prev.message.timestamp) !== day(l.message.timestamp);
      return formatLine(l.message, l.text, withDate);
    });
    const text = render.join("\n");
    const ms = lines.map((l) => l.message);
    const authorTypes = unique(ms.map((m) => m.authorType));
    chunks.push({
      orderIndex: chunks.length,
      text,
      messageIds: unique(ms.map((m) => m.id)),
      authors: unique(ms.map((m) => m.authorName)),
      authorTypes,
      authorType: authorTypes.length === 1 ? authorTypes[0]! : "mixed",
      start: ms[0]!.timestamp,
      end: ms[ms.length - 1]!.timestamp,
      tokenCount: tokenizer.count(text),
    });
    lines = [];
    tokens = 0;
  };

  let previous: ChunkInputMessage | undefined;
  for (const m of messages) {
    if (previous && m.timestamp.getTime() - previous.timestamp.getTime() > options.sessionGapMs) flush();
    previous = m;
    const full = formatLine(m, m.text, true);
    const fullTokens = tokenizer.count(full);
    if (fullTokens > options.maxTokens) {
      flush();
      const prefixTokens = tokenizer.count(formatLine(m, "", true));
      for (const piece of splitText(m.text, Math.max(8, options.maxTokens - prefixTokens), tokenizer)) {
        lines.push({ message: m, text: piece });
        flush();
      }
      continue;
    }
    // +1 for the newline joining it to the chunk; the date prefix is counted as if present (an upper bound).
    if (lines.length > 0 && tokens + fullTokens + 1 > options.maxTokens) flush();
    lines.push({ message: m, text: m.text });
    tokens += fullTokens + (lines.length > 1 ? 1 : 0);
  }
  flush();
  return chunks;
}

function unique<T>(values: T[]): T[] {
  return [...new Set(values)];
}
