import { STOPWORDS, stem, words } from "../text/words.ts";
import type { Tokenizer } from "../tokens/tokenizer.ts";

export interface FocusableChunk {
  text: string;
  messageIds: string[];
  start: Date;
  tokens: number;
}

const DATED = /^\[(\d{4}-\d{2}-\d{2}) \d{2}:\d{2}\] /;
const TIMED = /^\[(\d{2}:\d{2})\] /;

/** Query terms, stemmed, without stopwords. */
export function queryTerms(query: string): string[] {
  return [...new Set(words(query).filter((w) => !STOPWORDS.has(w)).map(stem))];
}

/**
 * Term weights from how many lines of the candidate chunks contain each term: a term on every
 * line (a speaker's name, say) tells lines apart no better than nothing, a rare one does.
 */
export function termWeights(terms: string[], chunks: { text: string }[]): Map<string, number> {
  const lines = chunks.flatMap((c) => c.text.split("\n").map((l) => new Set(words(l).map(stem))));
  return new Map(terms.map((t) => [t, Math.log(1 + lines.length / (1 + lines.filter((l) => l.has(t)).length))]));
}

/**
 * The most relevant run of consecutive messages of a chunk that fits `allowance` tokens: the
 * shortest window whose lines carry the most query-term weight, grown by its neighbours while
 * they fit. The first line keeps its date so
 * the excerpt can still be cited. Returns undefined when the chunk's lines cannot be mapped to
 * its messages or nothing fits.
 */
export function focusChunk<T extends FocusableChunk>(chunk: T, weights: Map<string, number>, allowance: number, tokenizer: Tokenizer): T | undefined {
  const lines = chunk.text.split("\n");
  if (lines.length !== chunk.messageIds.length) return undefined;

  // Every line with its own date, so any window can start anywhere.
  let day = chunk.start.toISOString().slice(0, 10);
  const dated = lines.map((line) => {
    const d = DATED.exec(line);
    if (d) {
      day = d[1]!;
      return line;
    }
    return line.replace(TIMED, (_, time: string) => `[${day} ${time}] `);
  });
  const score = lines.map((line) => {
    const present = new Set(words(line).map(stem));
    let s = 0;
    for (const [term, w] of weights) if (present.has(term)) s += w;
    return s;
  });
  const cost = lines.map((l) => tokenizer.count(l) + 1);

  let best: { from: number; to: number; score: number; tokens: number } | undefined;
  for (let from = 0; from < lines.length; from++) {
    let tokens = tokenizer.count(dated[from]!) + 1 - cost[from]!;
    let total = 0;
    for (let to = from; to < lines.length; to++) {
      tokens += cost[to]!;
      if (tokens > allowance) break;
      total += score[to]!;
      const better = !best || total > best.score || (total === best.score && tokens < best.tokens);
      if (better && total > 0) best = { from, to, score: total, tokens };
    }
  }
  if (!best) return undefined;
  // Add one neighbour on each side when it fits: the line after (an answer follows its question),
  // then the line before (the question, or the shared photo the line talks about).
  const render = (from: number, to: number) => [dated[from]!, ...lines.slice(from + 1, to + 1)].join("\n");
  let { from, to } = best;
  if (to + 1 < lines.length && tokenizer.count(render(from, to + 1)) <= allowance) to += 1;
  if (from > 0 && tokenizer.count(render(from - 1, to)) <= allowance) from -= 1;
  const text = render(from, to);
  return { ...chunk, text, messageIds: chunk.messageIds.slice(from, to + 1), tokens: tokenizer.count(text) };
}
