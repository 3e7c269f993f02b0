// Ids for imported messages and conversations. A message without an id of its own gets a hash of
// what it is (conversation, time, author, text) and how many identical messages came before it,
// never of where it sits in the file: re-importing a file, or a longer export of the same chat,
// gives the messages they share the same ids, so the import updates instead of duplicating.
import { sha256Hex } from "../hash.ts";
import { ImportError, type ImportOptions } from "./format.ts";

const DAY = 86_400_000;

/** First 32 hex digits (128 bits) of the SHA-256 of `parts`. */
export const shortHash = (...parts: string[]): string => sha256Hex(...parts).slice(0, 32);

/**
 * Counts identical messages so that each gets its own id. Identical means same conversation,
 * time, author and text; messages arrive in about time order, so counts older than a day before
 * the latest time seen are forgotten (memory stays flat over a long file).
 */
export class ContentIds {
  #counts = new Map<string, { count: number; time: number }>();
  #latest = Number.NEGATIVE_INFINITY;
  #pruneAt = 1024;

  /** What the counts are now, as JSON, for a parse that goes on in another step (ContentIds.from). */
  state(): ContentIdsState {
    return { counts: [...this.#counts].map(([key, { count, time }]) => [key, count, time]), latest: this.#latest, pruneAt: this.#pruneAt };
  }

  /** Counts as `state()` gave them (a fresh ContentIds for undefined). */
  static from(state: ContentIdsState | undefined): ContentIds {
    const ids = new ContentIds();
    if (!state) return ids;
    for (const [key, count, time] of state.counts) ids.#counts.set(key, { count, time });
    ids.#latest = state.latest ?? Number.NEGATIVE_INFINITY;
    ids.#pruneAt = state.pruneAt;
    return ids;
  }

  /**
   * @param time the message's instant in ms (transcripts: its offset from the start)
   * @example ids.next("whatsapp-bob", Date.parse(ts), ts, "Bob", "ok") // "3f9c…" (32 hex digits)
   */
  next(conversationId: string, time: number, timeText: string, author: string, text: string): string {
    const base = sha256Hex(conversationId, timeText, author, text);
    const seen = this.#counts.get(base);
    const count = seen ? seen.count + 1 : 0;
    this.#counts.set(base, { count, time });
    this.#latest = Math.max(this.#latest, time);
    if (this.#counts.size >= this.#pruneAt) this.#prune();
    return count === 0 ? base.slice(0, 32) : shortHash(base, String(count));
  }

  #prune(): void {
    for (const [key, { time }] of this.#counts) if (time < this.#latest - DAY) this.#counts.delete(key);
    this.#pruneAt = Math.max(1024, this.#counts.size * 2);
  }
}

export interface ContentIdsState {
  counts: [key: string, count: number, time: number][];
  /** JSON has no -Infinity: null before the first message. */
  latest: number | null;
  pruneAt: number;
}

/** Why `id` cannot be a message id (ingest rules: 1–256 characters, no control or format characters), or undefined. */
export function messageIdProblem(id: string): string | undefined {
  if (id.trim() !== id || id === "") return "must not be empty or start or end with spaces";
  if (id.length > 256) return "must be at most 256 characters";
  if (/[\p{Cc}\p{Cf}]/u.test(id) || !id.isWellFormed()) return "must not contain control or invisible formatting characters";
  return undefined;
}

/** Why `id` cannot be a conversation id (a message id that also travels as a URL path segment), or undefined. */
export function conversationIdProblem(id: string): string | undefined {
  const problem = messageIdProblem(id);
  if (problem) return problem;
  if (id.includes("/") || id.includes("\\")) return "must not contain '/' or '\\'";
  if (id === "." || id === "..") return "must not be '.' or '..'";
  return undefined;
}

/** options.conversationId, checked; an unusable one fails with ImportError("options"). */
export function conversationIdOption(options: ImportOptions): string | undefined {
  const id = options.conversationId;
  if (id === undefined) return undefined;
  const problem = conversationIdProblem(id);
  if (problem) throw new ImportError("options", `conversation_id ${problem}`);
  return id;
}

/**
 * Lower-case ASCII words joined by "-" (accents dropped), at most 64 characters; "" when nothing is left.
 *
 * @example slug("Família Souza 🎉") // "familia-souza"
 */
export function slug(text: string): string {
  return text
    .normalize("NFKD")
    .replace(/\p{M}/gu, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 64)
    .replace(/-+$/, "");
}
