import { STOPWORDS, words } from "../text/words.ts";
import { parseTimeExpression, type TimeRange } from "./time-expressions.ts";

export interface QueryAnalysis {
  query: string;
  /** Speakers of the scope named in the query ("John", or "John Smith" by a first name). */
  speakers: string[];
  time: TimeRange | undefined;
  /** Reformulations searched by the multi_query strategy, the original excluded. */
  variants: { kind: "statement" | "content_words" | "without_speaker"; text: string }[];
}

const QUESTION =
  /^\s*(?:what|when|where|who|whom|whose|which|why|how(?:\s+(?:many|much|long|often|old|far))?)\s+(?:(?:did|does|do|is|are|was|were|has|have|had|will|would|can|could|should|might)\s+)?/i;

/** "When did Caroline go to the support group?" → "Caroline go to the support group". */
export function toStatement(query: string): string {
  return query
    .replace(QUESTION, "")
    .replace(/[?!.\s]+$/u, "")
    .trim();
}

/** Speakers whose full name, or first name, appears as words of the query. */
export function findSpeakers(query: string, speakers: string[]): string[] {
  const queryWords = new Set(words(query));
  return speakers.filter((name) => {
    const parts = words(name);
    if (parts.length === 0) return false;
    return parts.every((p) => queryWords.has(p)) || (parts[0]!.length > 2 && !STOPWORDS.has(parts[0]!) && queryWords.has(parts[0]!));
  });
}

/** Reads what a conversation retriever can use from a query: speakers, a time range, reformulations. */
export function analyseQuery(query: string, speakers: string[], now: Date): QueryAnalysis {
  const found = findSpeakers(query, speakers);
  const variants: QueryAnalysis["variants"] = [];
  const add = (kind: QueryAnalysis["variants"][number]["kind"], text: string) => {
    if (text && text !== query && !variants.some((v) => v.text === text)) variants.push({ kind, text });
  };
  add("statement", toStatement(query));
  add(
    "content_words",
    words(query)
      .filter((w) => !STOPWORDS.has(w))
      .join(" "),
  );
  if (found.length > 0) {
    const nameWords = new Set(found.flatMap((n) => words(n)));
    add(
      "without_speaker",
      words(query)
        .filter((w) => !STOPWORDS.has(w) && !nameWords.has(w))
        .join(" "),
    );
  }
  return { query, speakers: found, time: parseTimeExpression(query, now), variants };
}
