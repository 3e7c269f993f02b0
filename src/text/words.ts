import { stem as porter2 } from "porter2";

// Word-level text helpers shared by the local embedder and query analysis.

export const STOPWORDS = new Set(
  (
    "a an and are as at be been but by did do does for from had has have he her hers him his how i if in into is it its " +
    "me my of on or our she so than that the their them then there these they this to too us was we were what when where " +
    "which who whom why will with you your yours just also very can could would should about up out not no yes oh"
  ).split(" "),
);

/** Words that frame a question about a conversation ("what did X say about…") rather than name its topic. */
export const FRAMING = new Set([
  "say",
  "said",
  "says",
  "tell",
  "told",
  "mention",
  "mentioned",
  "talk",
  "talked",
  "discuss",
  "discussed",
  "think",
  "thought",
  "conversation",
  "chat",
  "message",
  "messages",
]);

/** Lower-cases, strips accents and splits into word tokens (letters and digits, any script). */
export function words(text: string): string[] {
  return (
    text
      .normalize("NFKD")
      .replace(/\p{M}+/gu, "")
      .toLowerCase()
      .match(/[\p{L}\p{N}]+(?:'[\p{L}]+)?/gu) ?? []
  );
}

/**
 * Light suffix folding so "meetings", "meeting" and "meet" share a feature. Frozen: the local
 * embedder's vectors are built from these stems and stored, so changing it would change the model
 * under stored vectors. The relevance floor uses {@link termStem}.
 */
export function stem(word: string): string {
  let s = word.endsWith("'s") ? word.slice(0, -2) : word;
  if (s.length <= 3) return s;
  if (s.endsWith("ies") && s.length > 4) s = `${s.slice(0, -3)}y`;
  else if (s.endsWith("sses")) s = s.slice(0, -2);
  else if (s.endsWith("s") && !/(?:ss|us|is)$/.test(s)) s = s.slice(0, -1);
  if (s.length > 5 && s.endsWith("ing")) s = s.slice(0, -3);
  else if (s.length > 4 && s.endsWith("ed")) s = s.slice(0, -2);
  if (s.length > 4 && s.endsWith("e")) s = s.slice(0, -1);
  return s;
}

/**
 * The English Snowball (Porter2) stem of a word from {@link words}: the stem Postgres's `english`
 * configuration gives (it agreed on all 2,077 distinct words of the LoCoMo and demo conversations),
 * so the relevance floor matches "slipped" to "slip" as keyword search does. Words outside a–z
 * (other scripts, digits) are kept whole. Measured against {@link stem} in docs/RETRIEVAL.md.
 */
export function termStem(word: string): string {
  return /^[a-z]+(?:'[a-z]+)?$/.test(word) ? porter2(word) : word;
}

/** A query's terms: stemmed, without stopwords, each once. */
export function queryTerms(query: string): string[] {
  return [
    ...new Set(
      words(query)
        .filter((w) => !STOPWORDS.has(w))
        .map(stem),
    ),
  ];
}
