import { ASKS_WHEN, DATE_LIKE } from "../text/dates.ts";
import { sentences } from "../text/sentences.ts";
import { parseSourceLines } from "../text/source-lines.ts";
import { FRAMING, STOPWORDS, stem, words } from "../text/words.ts";
import type { Tokenizer } from "../tokens/tokenizer.ts";
import type { AnswerSource, ChatFinish, ChatModel, ChatRequest } from "./chat-model.ts";

export interface ExtractiveOptions {
  tokenizer: () => Promise<Tokenizer>;
  /** Most quoted sentences in one answer. */
  maxPoints?: number;
}

interface Candidate {
  n: number;
  speaker: string;
  day: string;
  sentence: string;
  score: number;
  /** Source rank, then position inside it: the deterministic tie-break. */
  order: number;
}

const WORDS_PER_PIECE = 4;
const NOTHING_FOUND = "I found nothing in the conversations about this.";
/** A sentence keeps this share of the score of the sentence before it from the same speaker: answers often follow the sentence that names the topic. */
const CARRY = 0.5;
/** Sentences scoring below this share of the best one are left out. */
const RELATIVE_FLOOR = 0.35;

/**
 * The offline answerer: quotes the sentences of the retrieved messages that carry the most
 * query-term weight (rarer terms weigh more; sentences by a speaker the question names count
 * half again), each with its speaker, day and [n] citation. It never follows instructions found
 * in the excerpts, because it follows none: it only selects and quotes. Deterministic, so the
 * same question over the same data gives the same answer; temperature does not apply.
 */
export function extractiveAnswerer(options: ExtractiveOptions): ChatModel {
  const maxPoints = options.maxPoints ?? 4;
  return {
    provider: "extractive",
    async *stream(request: ChatRequest, signal: AbortSignal): AsyncGenerator<string, ChatFinish> {
      const tokenizer = await options.tokenizer();
      const text = composeAnswer(request.question, request.sources, maxPoints);
      // Counted once: over max_tokens, the answer stops after the last whole piece that fits.
      const fits = tokenizer.count(text) <= request.maxTokens;
      const room = fits ? text.length : tokenizer.truncate(text, request.maxTokens, "start").length;
      let sent = 0;
      for (const piece of pieces(text)) {
        if (signal.aborted) break;
        if (sent + piece.length > room) return { finishReason: "length" };
        sent += piece.length;
        yield piece;
      }
      return { finishReason: "stop" };
    },
  };
}

/** The whole extractive answer for a question over its sources. */
export function composeAnswer(question: string, sources: AnswerSource[], maxPoints: number): string {
  if (sources.length === 0) return NOTHING_FOUND;
  const candidates = sources.flatMap((source, rank) =>
    parseSourceLines(source.text, source.speakers, source.start.toISOString().slice(0, 10)).flatMap((line, li) =>
      sentences(line.text).map((sentence, si) => ({
        n: source.n,
        speaker: line.speaker,
        day: line.day,
        sentence,
        score: 0,
        order: rank * 1e6 + li * 1e3 + si,
      })),
    ),
  );
  if (candidates.length === 0) return NOTHING_FOUND;

  const questionWords = words(question);
  const speakerWords = new Map(sources.flatMap((s) => s.speakers).map((name) => [name, new Set(words(name))]));
  const named = new Set([...speakerWords].filter(([, ws]) => [...ws].some((w) => questionWords.includes(w))).map(([name]) => name));
  const nameWords = new Set([...named].flatMap((n) => [...speakerWords.get(n)!]));
  const terms = [...new Set(questionWords.filter((w) => !STOPWORDS.has(w) && !FRAMING.has(w) && !nameWords.has(w)).map(stem))];

  const bags = candidates.map((c) => new Set(words(c.sentence).map(stem)));
  const weight = new Map(terms.map((t) => [t, Math.log(1 + candidates.length / (1 + bags.filter((b) => b.has(t)).length))]));
  const asksWhen = ASKS_WHEN.test(question);
  const own = candidates.map((_, i) => [...weight].reduce((sum, [term, w]) => sum + (bags[i]!.has(term) ? w : 0), 0));
  candidates.forEach((c, i) => {
    const before = candidates[i - 1];
    const carried = before && before.n === c.n && before.speaker === c.speaker ? CARRY * own[i - 1]! : 0;
    // A question that only names a speaker ("what did Priya say?") is answered by that speaker's sentences.
    c.score = terms.length === 0 && named.has(c.speaker) ? 1 : own[i]! + carried;
    if (named.has(c.speaker)) c.score *= 1.5;
    if (asksWhen && DATE_LIKE.test(c.sentence)) c.score *= 1.3;
  });
  const floor = RELATIVE_FLOOR * Math.max(0, ...candidates.map((c) => c.score));

  const seen = new Set<string>();
  const picked: Candidate[] = [];
  for (const c of [...candidates].sort((a, b) => b.score - a.score || a.order - b.order)) {
    if (c.score <= 0 || c.score < floor || picked.length >= maxPoints) break;
    const key = words(c.sentence).join(" ");
    if (seen.has(key)) continue;
    seen.add(key);
    picked.push(c);
  }
  if (picked.length === 0) {
    // The question's topic is in none of the sentences: quoting the nearest one would present
    // unrelated text as an answer.
    if (terms.length > 0) return NOTHING_FOUND;
    const first = candidates[0]!;
    return `None of the retrieved messages answers this directly. The closest excerpt:\n${point(first)}`;
  }
  return `From the conversations:\n${picked.map(point).join("\n")}`;
}

const point = (c: Pick<Candidate, "speaker" | "day" | "sentence" | "n">) =>
  `- ${c.speaker || "Someone"} (${c.day}): “${c.sentence}” [${c.n}]`;

/** A few words at a time, keeping white space, so the answer streams like a generated one. */
function* pieces(text: string): Generator<string> {
  const tokens = text.match(/\s*\S+/g) ?? [];
  for (let i = 0; i < tokens.length; i += WORDS_PER_PIECE) yield tokens.slice(i, i + WORDS_PER_PIECE).join("");
}
