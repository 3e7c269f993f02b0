import type { StoredSession, StoredTurn } from "../db/sessions.ts";
import { sentences } from "../text/sentences.ts";
import type { Tokenizer } from "../tokens/tokenizer.ts";

export interface History {
  /** Summary of the turns older than the verbatim ones, when the history outgrew its budget. */
  summary: string | undefined;
  /** The turns kept word for word, oldest first. */
  recent: StoredTurn[];
  tokens: number;
  /** How the summary was made: reused from storage, by the LLM, or extractively. */
  summarisedBy?: "stored" | "llm" | "extractive";
  /** A new summary to store, covering turns up to `through`. */
  newSummary?: { text: string; through: number };
}

export interface HistoryOptions {
  maxTokens: number;
  verbatimTurns: number;
  tokenizer: Tokenizer;
  /** Summarises turns with the LLM (given the previous summary); absent or failing: extractive. */
  summarise?: (previous: string | undefined, turns: StoredTurn[], maxTokens: number) => Promise<string>;
  onSummaryFallback?: (err: unknown) => void;
}

export const EMPTY_HISTORY: History = { summary: undefined, recent: [], tokens: 0 };

const turnTokens = (t: StoredTurn, tokenizer: Tokenizer) => tokenizer.count(t.question) + tokenizer.count(t.answer) + 8;

/**
 * The history that goes into the prompt. Within budget, every stored turn verbatim; over it, the
 * last `verbatimTurns` verbatim and the older ones as a summary (the stored one while it still
 * covers them, else a new one: by the LLM when one is configured, extractively otherwise).
 */
export async function compressHistory(session: StoredSession | undefined, options: HistoryOptions): Promise<History> {
  return fitBudget(await compress(session, options), options);
}

/**
 * Keeps the history within its budget even when the verbatim turns alone exceed it: their
 * answers are cut (keeping their start) to equal shares, then the summary if it is still over.
 */
function fitBudget(history: History, options: HistoryOptions): History {
  const { tokenizer, maxTokens } = options;
  if (history.tokens <= maxTokens) return history;
  const summaryTokens = history.summary ? tokenizer.count(history.summary) : 0;
  const share = Math.floor(
    Math.max(0, maxTokens - Math.min(summaryTokens, Math.floor(maxTokens / 4))) / Math.max(1, history.recent.length),
  );
  const recent = history.recent.map((t) => {
    const room = share - tokenizer.count(t.question) - 8;
    return turnTokens(t, tokenizer) <= share ? t : { ...t, answer: room > 0 ? `${tokenizer.truncate(t.answer, room - 1, "start")}…` : "" };
  });
  // Questions are not cut: if they alone are too long, the oldest turns go.
  let recentTokens = recent.reduce((sum, t) => sum + turnTokens(t, tokenizer), 0);
  while (recentTokens > maxTokens && recent.length > 0) recentTokens -= turnTokens(recent.shift()!, tokenizer);
  const summary = history.summary && truncateToTokens(history.summary, Math.max(0, maxTokens - recentTokens), tokenizer);
  const tokens = recentTokens + (summary ? tokenizer.count(summary) : 0);
  return { ...history, summary: summary || undefined, recent, tokens };
}

async function compress(session: StoredSession | undefined, options: HistoryOptions): Promise<History> {
  if (!session || (session.turns.length === 0 && !session.summary)) return EMPTY_HISTORY;
  const { tokenizer } = options;
  // Turns the stored summary covers appear only through it.
  const open = session.turns.filter((t) => t.id > session.summaryThrough);
  const costs = open.map((t) => turnTokens(t, tokenizer));
  const stored = session.summary;
  const total = costs.reduce((a, b) => a + b, 0) + (stored ? tokenizer.count(stored) : 0);
  if (total <= options.maxTokens)
    return { summary: stored, recent: open, tokens: total, ...(stored ? { summarisedBy: "stored" as const } : {}) };

  const split = Math.max(0, open.length - options.verbatimTurns);
  const recent = open.slice(split);
  const older = open.slice(0, split);
  const recentTokens = costs.slice(split).reduce((a, b) => a + b, 0);
  const room = Math.max(64, options.maxTokens - recentTokens);

  if (older.length === 0) {
    const summary = stored && truncateToTokens(stored, room, tokenizer);
    return {
      summary: summary || undefined,
      recent,
      tokens: recentTokens + (summary ? tokenizer.count(summary) : 0),
      ...(summary ? { summarisedBy: "stored" as const } : {}),
    };
  }
  const through = older[older.length - 1]!.id;
  let text: string | undefined;
  let by: History["summarisedBy"] = "extractive";
  if (options.summarise) {
    try {
      text = truncateToTokens(await options.summarise(stored, older, room), room, tokenizer);
      by = "llm";
    } catch (err) {
      options.onSummaryFallback?.(err);
    }
  }
  text ||= extractiveSummary(stored, older, room, tokenizer);
  return { summary: text, recent, tokens: recentTokens + tokenizer.count(text), summarisedBy: by, newSummary: { text, through } };
}

/** "- Asked: …; answered: …" per turn, newest kept first when the budget is short, shown oldest first. */
export function extractiveSummary(previous: string | undefined, turns: StoredTurn[], maxTokens: number, tokenizer: Tokenizer): string {
  const lines = turns.map((t) => `- Asked: ${t.standaloneQuestion}; answered: ${firstSentence(t.answer)}`);
  const kept: string[] = [];
  let used = 0;
  for (let i = lines.length - 1; i >= 0; i--) {
    const cost = tokenizer.count(lines[i]!) + 1;
    if (used + cost > maxTokens) break;
    kept.unshift(lines[i]!);
    used += cost;
  }
  if (previous && used < maxTokens) {
    const head = truncateToTokens(previous, maxTokens - used, tokenizer);
    if (head) kept.unshift(head);
  }
  return kept.join("\n");
}

/** The answer's first sentence that says something, without citations or list markers. */
function firstSentence(answer: string): string {
  const plain = answer.replace(/\[\d+(?:\s*,\s*\d+)*\]/g, "").replace(/^[-*]\s+/gm, "");
  const found = sentences(plain).find((s) => !/:$/.test(s)) ?? plain.trim();
  return found.length > 300 ? `${found.slice(0, 297)}…` : found;
}

/** The longest prefix of whole words within `maxTokens`. */
function truncateToTokens(text: string, maxTokens: number, tokenizer: Tokenizer): string {
  if (tokenizer.count(text) <= maxTokens) return text;
  const parts = text.match(/\s*\S+/g) ?? [];
  let lo = 0;
  let hi = parts.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (tokenizer.count(parts.slice(0, mid).join("")) <= maxTokens - 1) lo = mid;
    else hi = mid - 1;
  }
  return lo > 0 ? `${parts.slice(0, lo).join("")}…` : "";
}
