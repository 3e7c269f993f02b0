import type { StoredTurn } from "../db/sessions.ts";
import type { ChatMessage } from "../providers/chat-model.ts";
import { STOPWORDS, words } from "../text/words.ts";

/** Words that point at something said before. */
const POINTS_BACK = /\b(?:that|this|it|its|those|these|there|then|same|else|other|former|latter)\b/i;
/** Personal pronouns: they point back only when the question names no one they could stand for. */
const PRONOUN = /\b(?:he|him|his|she|her|hers|they|them|their)\b/i;
const NAMES_SOMEONE = /(?<=\S\s+)[A-Z][\p{L}'-]+/u;
const CONTINUES = /^\s*(?:and|but|so|also|what about|how about|tell me more|go on|and then|what else)\b/i;

/**
 * Whether a question probably leans on what was said before: it points back ("that", "it"),
 * uses a pronoun without naming anyone ("what did she decide?"), continues ("and…", "what
 * about…", "tell me more") or has at most one content word ("Why?", "And Marco?").
 */
export function needsContext(question: string): boolean {
  const content = words(question).filter((w) => !STOPWORDS.has(w));
  if (content.length < 2 || POINTS_BACK.test(question) || CONTINUES.test(question)) return true;
  return PRONOUN.test(question) && !NAMES_SOMEONE.test(question);
}

/** The heuristic rewrite: the follow-up read in the light of the previous standalone question. */
export function heuristicStandalone(question: string, previous: StoredTurn): string {
  return `${previous.standaloneQuestion} ${question}`.trim();
}

/** The messages that ask an LLM to make a follow-up standalone, given the recent turns. */
export function rewritePrompt(question: string, recent: StoredTurn[]): ChatMessage[] {
  const history = recent
    .map((t) => `User: ${t.question}\nAssistant: ${t.answer.length > 600 ? `${t.answer.slice(0, 600)}…` : t.answer}`)
    .join("\n\n");
  return [
    {
      role: "system",
      content:
        "Rewrite the user's follow-up question so that it can be understood without the conversation history: resolve pronouns and references, keep names, dates and specifics. Reply with the rewritten question only.",
    },
    { role: "user", content: `Conversation history:\n${history}\n\nFollow-up question: ${question}` },
  ];
}

/** Accepts an LLM rewrite only if it looks like one question, not an answer or an essay. */
export function plausibleRewrite(rewrite: string, question: string): string | undefined {
  const line = rewrite
    .replace(/^(?:rewritten question|question)\s*:\s*/i, "")
    .replace(/^["“]|["”]$/g, "")
    .trim();
  if (!line || line.includes("\n") || line.length > Math.max(400, question.length * 4)) return undefined;
  return line;
}

/** The messages that ask an LLM to summarise older turns into at most `maxTokens` tokens. */
export function summaryPrompt(previous: string | undefined, turns: StoredTurn[], maxTokens: number): ChatMessage[] {
  const transcript = turns.map((t) => `User: ${t.question}\nAssistant: ${t.answer}`).join("\n\n");
  return [
    {
      role: "system",
      content: `Summarise this conversation between a user and an assistant in at most ${Math.max(20, Math.floor(maxTokens * 0.7))} words. Keep what the user asked about, names, dates, decisions and facts the assistant gave. Reply with the summary only.`,
    },
    { role: "user", content: `${previous ? `Earlier summary:\n${previous}\n\n` : ""}${transcript}` },
  ];
}
