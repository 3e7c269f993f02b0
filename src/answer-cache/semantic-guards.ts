import { stem } from "../text/words.ts";

// The semantic answer cache serves a cached answer for a question whose embedding is close to a
// cached one. Embeddings blur exactly the words that decide what is asked (a name, a number, a
// date, "before" for "after", "not"), so closeness is necessary but never sufficient: the two
// questions must also have the same *content*. A question's content is its words, folded to a
// canonical form (case, Unicode NFC, inflection, a few families of words that mean the same
// here, spelled-out numbers and ordinals as digits, every negation as "not"), less the words that
// carry no content of their own (articles, auxiliaries, pronouns, politeness, a few
// prepositions). Any content word that one question has and the other lacks refuses the hit.
// This is a whitelist of what may differ, not a list of what may not: a name in any script,
// case or position, a number however written, any relation word, any word the lists below do not
// know, all count as content.

const INTERROGATIVES = new Set(["who", "whom", "whose", "what", "when", "where", "why", "how", "which"]);
const NEGATIONS = new Set(["not", "no", "never", "none", "nobody", "nothing", "neither", "nor", "without", "cannot", "nowhere", "noone"]);

/** Words without content of their own: a question means the same with or without them. */
const FILLER = new Set(
  // articles, determiners that do not quantify
  (
    "a an the this that these those " +
    // auxiliaries and copulas, any tense
    // (will, shall, may, might, must, should change what is asked: they are content)
    "be is are was were been being am do does did done doing have has had having get gets got gotten getting " +
    "can could would " +
    // pronouns
    "i me my mine we us our ours you your yours he him his she her hers it its they them their theirs someone somebody anyone anybody " +
    // politeness and framing
    "please pls hey hi hello hiya thanks thank kindly quick question wondering wonder know knows like want wanted " +
    "remember recall recalls again actually exactly really just also ever " +
    // prepositions that only attach the topic
    "about of on in at for with regarding concerning re into onto upon " +
    // conjunctions and connectives that do not change what is asked
    "and but so then there here"
  ).split(" "),
);

/** Families of words that ask the same thing here, each folded to one form. */
const FAMILIES: [string, string[]][] = [
  [
    "say",
    [
      "say",
      "says",
      "said",
      "saying",
      "tell",
      "tells",
      "told",
      "telling",
      "mention",
      "mentions",
      "mentioned",
      "mentioning",
      "talk",
      "talks",
      "talked",
      "talking",
      "speak",
      "speaks",
      "spoke",
      "spoken",
      "discuss",
      "discusses",
      "discussed",
      "discussing",
      "state",
      "stated",
      "states",
      "comment",
      "commented",
      "comments",
    ],
  ],
];
const FAMILY = new Map(FAMILIES.flatMap(([root, forms]) => forms.map((f) => [f, root] as const)));

const NUMBER_WORDS = new Map<string, string>([
  ["zero", "0"],
  ["one", "1"],
  ["two", "2"],
  ["three", "3"],
  ["four", "4"],
  ["five", "5"],
  ["six", "6"],
  ["seven", "7"],
  ["eight", "8"],
  ["nine", "9"],
  ["ten", "10"],
  ["eleven", "11"],
  ["twelve", "12"],
  ["thirteen", "13"],
  ["fourteen", "14"],
  ["fifteen", "15"],
  ["sixteen", "16"],
  ["seventeen", "17"],
  ["eighteen", "18"],
  ["nineteen", "19"],
  ["twenty", "20"],
  ["thirty", "30"],
  ["forty", "40"],
  ["fifty", "50"],
  ["sixty", "60"],
  ["seventy", "70"],
  ["eighty", "80"],
  ["ninety", "90"],
  ["hundred", "100"],
  ["thousand", "1000"],
  ["million", "1000000"],
  ["billion", "1000000000"],
  ["dozen", "12"],
  ["half", "0.5"],
  ["once", "1x"],
  ["twice", "2x"],
  ["thrice", "3x"],
  ["single", "1"],
  ["double", "2x"],
  ["triple", "3x"],
  ["pair", "2"],
  ["couple", "2"],
]);
const ORDINAL_WORDS = new Map<string, string>([
  ["first", "1st"],
  ["second", "2nd"],
  ["third", "3rd"],
  ["fourth", "4th"],
  ["fifth", "5th"],
  ["sixth", "6th"],
  ["seventh", "7th"],
  ["eighth", "8th"],
  ["ninth", "9th"],
  ["tenth", "10th"],
  ["eleventh", "11th"],
  ["twelfth", "12th"],
  ["thirteenth", "13th"],
  ["twentieth", "20th"],
  ["thirtieth", "30th"],
  ["hundredth", "100th"],
  ["last", "last"],
  ["final", "last"],
  ["latest", "latest"],
]);
const DATE_WORDS = new Set(
  (
    "today tonight yesterday tomorrow week weekend month year quarter day days weeks months years morning afternoon evening night noon midnight " +
    "ago recent recently earlier later previous next prior upcoming current past future " +
    "january february march april may june july august september october november december jan feb mar apr jun jul aug sep sept oct nov dec " +
    "monday tuesday wednesday thursday friday saturday sunday mon tue tues wed thu thur thurs fri sat sun q1 q2 q3 q4 h1 h2 " +
    "spring summer autumn fall winter"
  ).split(" "),
);
const RELATION_WORDS = new Set(
  (
    "before after from to since until till by over under above below between more less fewer most least earliest latest first last " +
    "start started starts begin began end ended stop stopped approve approved reject rejected accept accepted decline declined increase increased " +
    "decrease decreased raise raised cut open opened close closed win won lose lost buy bought sell sold add added remove removed up down in out " +
    "higher lower bigger smaller better worse all every any some each only or"
  ).split(" "),
);

/** Relation words whose object matters: "from Tuesday to Friday" is not "to Tuesday from Friday". */
const DIRECTIONAL = new Set([
  "from",
  "to",
  "before",
  "after",
  "since",
  "until",
  "till",
  "by",
  "over",
  "under",
  "above",
  "below",
  "than",
  "between",
]);

export type GuardReason = "question" | "negation" | "numbers" | "dates" | "relation" | "names" | "content";

interface Token {
  key: string;
  reason: GuardReason;
}

/** A question's content: canonical content words, each with the reason a difference in it is reported under. */
export function questionContent(question: string): Map<string, GuardReason> {
  const out = new Map<string, GuardReason>();
  const text = question.normalize("NFC");
  // Words of any script (letters with their marks, digits), with an inner apostrophe or a decimal point.
  let first = true;
  let relation: string | undefined;
  for (const m of text.matchAll(/[\p{L}\p{M}\p{N}]+(?:['’.,][\p{L}\p{M}\p{N}]+)*/gu)) {
    const token = classify(m[0], first);
    first = false;
    if (!token) continue;
    out.set(token.key, token.reason);
    // The first content word after a directional relation word is its object: the pair is content too.
    if (relation !== undefined && !DIRECTIONAL.has(token.key)) {
      out.set(`${relation}→${token.key}`, "relation");
      relation = undefined;
    }
    if (DIRECTIONAL.has(token.key)) relation = token.key;
  }
  return out;
}

function classify(raw: string, first: boolean): Token | undefined {
  const lower = raw.toLowerCase().replace(/’/g, "'");
  // Capitalised after the first word ("what did Will say", "launch in May"): a name or a date, never filler.
  const capitalised = !first && /^\p{Lu}[\p{Ll}\p{M}]/u.test(raw);
  if (/n't$/.test(lower) || NEGATIONS.has(lower)) return { key: "not", reason: "negation" };
  if (INTERROGATIVES.has(lower)) return { key: lower, reason: "question" };
  // Digits, with thousands separators dropped and ordinals marked: "1,000" = "1000", "3rd" = "third".
  const digits = /^(\d+(?:[.,]\d+)*)(st|nd|rd|th|s)?$/.exec(lower);
  if (digits) {
    const n = digits[1]!.replace(/,(?=\d{3}\b)/g, "");
    return { key: digits[2] && digits[2] !== "s" ? `${Number(n)}${ordinalSuffix(Number(n))}` : n, reason: "numbers" };
  }
  if (NUMBER_WORDS.has(lower)) return { key: NUMBER_WORDS.get(lower)!, reason: "numbers" };
  if (ORDINAL_WORDS.has(lower))
    return { key: ORDINAL_WORDS.get(lower)!, reason: lower === "last" || lower === "final" || lower === "latest" ? "relation" : "numbers" };
  if (FILLER.has(lower) && !capitalised) return undefined;
  const family = FAMILY.get(lower);
  if (family) return { key: family, reason: "content" };
  if (DATE_WORDS.has(lower)) return { key: stem(lower), reason: "dates" };
  if (RELATION_WORDS.has(lower)) return { key: lower, reason: "relation" };
  // A word with a capital, or in a script without the Latin alphabet's lists: a name as far as reporting goes.
  const isName = /\p{Lu}/u.test(raw) || /[^\p{Script=Latin}\p{N}'’.,]/u.test(raw);
  return { key: /^[a-z']+$/.test(lower) ? stem(lower) : lower, reason: isName ? "names" : "content" };
}

function ordinalSuffix(n: number): string {
  const tens = n % 100;
  if (tens >= 11 && tens <= 13) return "th";
  return ["th", "st", "nd", "rd"][n % 10] ?? "th";
}

const PRIORITY: GuardReason[] = ["question", "negation", "numbers", "dates", "relation", "names", "content"];

/**
 * Why a cached question's answer must not serve a new one although the two are close in
 * embedding space: a content word that one has and the other lacks, reported by its kind (an
 * interrogative, a negation, a number, a date, a relation word, a name, any other word).
 * Undefined when both have the same content: then they differ only in word order, inflection,
 * filler words or words of one family ("say", "tell", "mention").
 *
 * @example semanticMismatch("What did John say about the launch?", "What did Priya say about the launch?") // "names"
 * @example semanticMismatch("what did john say about the launch?", "what did priya say about the launch?") // "content": refused all the same
 */
export function semanticMismatch(asked: string, cached: string): GuardReason | undefined {
  const a = questionContent(asked);
  const b = questionContent(cached);
  let reason: GuardReason | undefined;
  const consider = (r: GuardReason) => {
    if (reason === undefined || PRIORITY.indexOf(r) < PRIORITY.indexOf(reason)) reason = r;
  };
  for (const [key, r] of a) if (!b.has(key)) consider(r);
  for (const [key, r] of b) if (!a.has(key)) consider(r);
  return reason;
}
