// What an imported message's fields must be to pass ingest (src/ingest/ingest-schema.ts), applied
// when parsing so that one bad message is skipped with a reason instead of failing a whole batch.

/** Bidi controls, invisible spacing and control characters: ingest refuses them in names. */
const UNFIT_IN_NAME = /[\p{Cc}\u061c\u200b\u200e\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff]/gu;

/**
 * A speaker's name as ingest takes it: the invisible marks exports wrap phone numbers in removed,
 * spaces collapsed, NFC; undefined when nothing is left or it is over 256 characters.
 *
 * @example authorName("\u202a+44 7700 900123\u202c") // "+44 7700 900123"
 */
export function authorName(raw: string): string | undefined {
  const name = raw.replace(UNFIT_IN_NAME, "").replace(/\s+/g, " ").trim().normalize("NFC");
  return name !== "" && name.length <= 256 && name.isWellFormed() ? name : undefined;
}

const ROLES: Record<string, string> = { user: "human", assistant: "ai", model: "ai", system: "system" };

/**
 * An author type from a role or type field: chat roles mapped (user → human, assistant → ai,
 * system → system), other lower-case words kept, missing → human; undefined when unusable.
 *
 * @example authorType("Assistant") // "ai"
 */
export function authorType(raw: string | undefined): string | undefined {
  const word = (raw ?? "").trim().toLowerCase();
  if (word === "") return "human";
  const mapped = ROLES[word] ?? word;
  return /^[a-z][a-z0-9_-]{0,31}$/.test(mapped) ? mapped : undefined;
}

/** Why `text` cannot be stored as a message's text, or undefined. */
export function textProblem(text: string): string | undefined {
  if (text.trim() === "") return "empty text";
  if (text.includes("\u0000") || !text.isWellFormed()) return "text holds a NUL character or a lone surrogate, which cannot be stored";
  return undefined;
}
