import { DATE_LIKE } from "../text/dates.ts";
import { words } from "../text/words.ts";

const INTERROGATIVES = new Set(["who", "whom", "whose", "what", "when", "where", "why", "how", "which"]);
const NEGATION = new Set(["not", "no", "never", "none", "nobody", "nothing", "neither", "nor", "without", "cannot"]);
const CAPITALISED = /(?<=\S\s+)[A-Z][\p{L}'-]*/gu;
const NUMBER = /\d+(?:[.,]\d+)?/g;
const DATES = new RegExp(DATE_LIKE.source, "gi");

/** The features two questions must share for one's answer to serve the other. */
function features(question: string) {
  const ws = words(question);
  return {
    asks: new Set(ws.filter((w) => INTERROGATIVES.has(w))),
    negated: ws.some((w) => NEGATION.has(w) || w.endsWith("n't")),
    names: new Set([...question.matchAll(CAPITALISED)].map((m) => m[0].toLowerCase())),
    numbers: new Set(question.match(NUMBER) ?? []),
    dates: new Set((question.match(DATES) ?? []).map((d) => d.toLowerCase())),
  };
}

const same = (a: Set<string>, b: Set<string>) => a.size === b.size && [...a].every((x) => b.has(x));

/**
 * Why a cached question's answer must not serve a new one even though they are close in
 * embedding space: they ask different things (who / when / why…), one is negated and the other not, or they name different people or things,
 * numbers or dates. Undefined when none of these differ.
 *
 * @example semanticMismatch("When does John start?", "When does Priya start?") // "names"
 */
export function semanticMismatch(asked: string, cached: string): "question" | "negation" | "names" | "numbers" | "dates" | undefined {
  const a = features(asked);
  const b = features(cached);
  // Embedders that drop function words find "who is…" and "where is…" identical.
  if (!same(a.asks, b.asks)) return "question";
  if (a.negated !== b.negated) return "negation";
  if (!same(a.names, b.names)) return "names";
  if (!same(a.numbers, b.numbers)) return "numbers";
  if (!same(a.dates, b.dates)) return "dates";
  return undefined;
}
