/**
 * Splits text into sentences at ., ! or ? followed by white space (or at line breaks), keeping
 * each sentence's own punctuation. Good enough for chat messages, which rarely carry abbreviations.
 *
 * @example sentences("We ship Friday. Any objections?") // ["We ship Friday.", "Any objections?"]
 */
export function sentences(text: string): string[] {
  return text
    .split(/(?<=[.!?]["')\]]?)\s+(?=\S)|\n+/u)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}
