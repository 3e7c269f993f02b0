import { DATE_LIKE } from "../text/dates.ts";
import { sentences } from "../text/sentences.ts";
import { stem, words } from "../text/words.ts";
import type { Tokenizer } from "../tokens/tokenizer.ts";

export interface CompressibleChunk {
  text: string;
  messageIds: string[];
  authors: string[];
  start: Date;
  tokens: number;
}

/** Words that mark a decision: such sentences are kept whatever the question. */
const DECISION =
  /\b(?:decid\w*|decision\w*|agree[ds]?|agreement|conclu\w*|approv\w*|confirm\w*|settled|resolved|committed|sign(?:ed)? off)\b/i;
const STAMPED = /^\[(?:(\d{4}-\d{2}-\d{2}) )?(\d{2}:\d{2})\] (.*)$/;
/** A capitalised word after the first of its sentence: a name (of a person, product, place). */
const NAME = /(?<=\S\s+)(?!I\b|I'm\b|I've\b|I'll\b|I'd\b|OK\b)[A-Z][\p{L}'-]+/u;

export interface KeySentenceOptions {
  /** Stemmed query terms. */
  terms: Set<string>;
  tokenizer: Tokenizer;
  /** Keep sentences naming a person or a date (default true). */
  namesAndDates?: boolean;
  /** Keep the first sentence of a reply to a message that carries a query term (default true). */
  replies?: boolean;
}

/**
 * Extractive key-sentence compression: keeps the sentences of a chunk that carry a query term, a
 * decision ("decided", "agreed", "concluded"…), a name or a date, and the first sentence of a
 * reply to a message with a query term, in their original order; a
 * message left with none is dropped with its id, a dropped run of sentences inside a message
 * becomes "…". The first kept line keeps its date so the excerpt can be cited. Returns undefined
 * when the chunk cannot be mapped line by line to its messages or nothing would be saved.
 */
export function keySentences<T extends CompressibleChunk>(chunk: T, options: KeySentenceOptions): (T & { compressed: true }) | undefined {
  const raw = chunk.text.split("\n");
  if (raw.length !== chunk.messageIds.length) return undefined;
  const names = [...chunk.authors].sort((a, b) => b.length - a.length);
  let day = chunk.start.toISOString().slice(0, 10);
  const lines: { day: string; time: string; speaker: string; kept: string }[] = [];
  const ids: string[] = [];
  let previousMatched = false;
  let previousSpeaker = "";
  for (const [i, line] of raw.entries()) {
    const m = STAMPED.exec(line);
    if (!m) return undefined;
    if (m[1]) day = m[1];
    const rest = m[3]!;
    const speaker = names.find((n) => rest.startsWith(`${n}: `)) ?? rest.slice(0, Math.max(0, rest.indexOf(": ")));
    const text = rest.slice(speaker ? speaker.length + 2 : 0);
    const parts = sentences(text);
    const keep = parts.map((s) => isKey(s, options));
    // A reply to a message that matched the query often holds the answer: keep its first sentence.
    if ((options.replies ?? true) && previousMatched && speaker !== previousSpeaker && parts.length > 0) keep[0] = true;
    previousMatched = parts.some((s) => hasTerm(s, options.terms));
    previousSpeaker = speaker;
    if (!keep.some(Boolean)) continue;
    const kept = parts
      .map((s, j) => (keep[j] ? s : j > 0 && keep[j - 1] ? "…" : j === 0 ? "…" : ""))
      .filter(Boolean)
      .join(" ");
    lines.push({ day, time: m[2]!, speaker, kept });
    ids.push(chunk.messageIds[i]!);
  }
  if (lines.length === 0) return undefined;
  let lastDay = "";
  const text = lines
    .map((l) => {
      const stamp = l.day === lastDay ? l.time : `${l.day} ${l.time}`;
      lastDay = l.day;
      return `[${stamp}] ${l.speaker ? `${l.speaker}: ` : ""}${l.kept}`;
    })
    .join("\n");
  const tokens = options.tokenizer.count(text);
  if (tokens >= chunk.tokens) return undefined;
  return { ...chunk, text, messageIds: ids, tokens, compressed: true };
}

const hasTerm = (sentence: string, terms: Set<string>) => words(sentence).some((w) => terms.has(stem(w)));

function isKey(sentence: string, options: KeySentenceOptions): boolean {
  if (hasTerm(sentence, options.terms)) return true;
  if (DECISION.test(sentence)) return true;
  return (options.namesAndDates ?? true) && (DATE_LIKE.test(sentence) || NAME.test(sentence));
}
