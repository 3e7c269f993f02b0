// A battery of question pairs for the semantic answer cache, written for this project (no data
// set's questions): minimal pairs that differ in one crucial word, which must never share an
// answer, and true paraphrases, which may. Used by npm run eval:semantic (through the API) and
// by test/unit/semantic-battery.test.ts (the guard alone).

export interface QuestionPair {
  a: string;
  b: string;
  /** What differs (minimal pairs) or how it is reworded (paraphrases). */
  kind: string;
}

const TOPICS = [
  "the revised project timeline for the mobile app launch",
  "the billing migration and the month of invoice mirroring",
  "the security review of the new login flow",
  "the hiring plan for the data engineering team",
  "the export job that times out for large workspaces",
  "the quarterly budget for the marketing campaign",
  "the onboarding checklist for new support agents",
  "the database upgrade and its maintenance window",
];

/** Two different people, written in many scripts, cases and forms. */
const NAME_PAIRS: [string, string][] = [
  ["John", "Priya"],
  ["john", "priya"],
  ["Émile", "Åsa"],
  ["émile", "åsa"],
  ["Ольга", "Дмитрий"],
  ["ольга", "дмитрий"],
  ["Γιάννης", "Μαρία"],
  ["王伟", "李娜"],
  ["محمد", "فاطمة"],
  ["דוד", "שרה"],
  ["राहुल", "प्रिया"],
  ["Søren", "Zoë"],
  ["Kenji", "Aiko"],
  ["O'Brien", "O'Neil"],
  ["Jean-Luc", "Jean-Paul"],
  ["Will", "Bill"],
];

const NAME_TEMPLATES = [
  (n: string, t: string) => `What did ${n} say about ${t}?`,
  (n: string, t: string) => `${n}, what was decided about ${t}?`,
  (n: string, t: string) => `Did ${n} approve ${t}?`,
];

const NUMBER_PAIRS: [string, string][] = [
  ["3", "4"],
  ["three", "twelve"],
  ["2", "20"],
  ["one", "two"],
  ["1,000", "10,000"],
  ["1.5", "2.5"],
  ["five", "5,000"],
];
const NUMBER_TEMPLATES = [
  (x: string) => `Which team has ${x} open tickets?`,
  (x: string) => `Who asked for ${x} more days on the launch?`,
  (x: string) => `Was the budget raised by ${x} percent?`,
];
const ORDINAL_PAIRS: [string, string][] = [
  ["first", "fourth"],
  ["1st", "2nd"],
  ["second", "third"],
  ["3rd", "fifth"],
];
const ORDINAL_TEMPLATES = [
  (x: string) => `What went wrong in the ${x} sprint?`,
  (x: string) => `Who presented at the ${x} review meeting?`,
];

const DATE_PAIRS: [string, string][] = [
  ["on Monday", "on Tuesday"],
  ["yesterday", "last week"],
  ["on March 3", "on March 4"],
  ["in May", "in June"],
  ["in Q1", "in Q2"],
  ["in 2024", "in 2025"],
  ["this morning", "this afternoon"],
  ["tomorrow", "today"],
  ["two weeks ago", "three weeks ago"],
];
const DATE_TEMPLATES = [
  (d: string) => `What did the team decide ${d} about the release?`,
  (d: string) => `Who was on call ${d}?`,
  (d: string) => `Which tickets were closed ${d}?`,
];

/** Pairs of questions whose one differing word reverses or changes the relation asked about. */
const RELATION_PAIRS: [string, string][] = [
  ["What happened before the outage on the payment service?", "What happened after the outage on the payment service?"],
  ["Who moved the meeting from Tuesday to Friday?", "Who moved the meeting to Tuesday from Friday?"],
  ["Which vendor offered more support hours?", "Which vendor offered less support hours?"],
  ["Who joined the project first?", "Who joined the project last?"],
  ["Did the board approve the budget?", "Did the board reject the budget?"],
  ["When did we start the load tests?", "When did we stop the load tests?"],
  ["Why did the error rate increase last night?", "Why did the error rate decrease last night?"],
  ["Who opened the incident ticket?", "Who closed the incident ticket?"],
  ["What was the earliest date proposed for the launch?", "What was the latest date proposed for the launch?"],
  ["Which servers were above the memory limit?", "Which servers were below the memory limit?"],
  ["What changed since the last release?", "What changed until the last release?"],
  ["Did the customer accept the offer?", "Did the customer decline the offer?"],
  ["Who won the design contest?", "Who lost the design contest?"],
  ["Did we buy the new licences?", "Did we sell the new licences?"],
  ["Which features were added to the beta?", "Which features were removed from the beta?"],
  ["Were all tests green before the merge?", "Were some tests green before the merge?"],
  ["Is the rollout still blocked?", "Is the rollout blocked?"],
  ["Which price is higher, monthly or yearly?", "Which price is lower, monthly or yearly?"],
  ["Who will review the contract?", "Who did review the contract?"],
  ["What must we fix before the audit?", "What could we fix before the audit?"],
];

const NEGATION_PAIRS: [string, string][] = [
  ["Is the launch on June 2?", "Is the launch not on June 2?"],
  ["Did Marco fix the memory leak?", "Didn't Marco fix the memory leak?"],
  ["Which customers renewed their contract?", "Which customers never renewed their contract?"],
  ["Who can access the staging database?", "Who cannot access the staging database?"],
  ["Was the invoice sent with the discount?", "Was the invoice sent without the discount?"],
  ["Did anyone object to the new schedule?", "Did nobody object to the new schedule?"],
];

const QUESTION_WORD_PAIRS: [string, string][] = [
  ["Who owns the timeline document?", "Where is the timeline document?"],
  ["When was the staging deploy rolled back?", "Why was the staging deploy rolled back?"],
  ["How did the team fix the export bug?", "What did the team fix in the export bug?"],
  ["Who approved the refund for the customer?", "Why was the refund approved for the customer?"],
];

/** Pairs that differ in one ordinary content word. */
const CONTENT_PAIRS: [string, string][] = [
  ["Why was the staging deploy rolled back?", "Why was the production deploy rolled back?"],
  ["Who is fixing the frontend build?", "Who is fixing the backend build?"],
  ["Where is the invoice for March?", "Where is the receipt for March?"],
  ["What is the plan for the Android release?", "What is the plan for the iOS release?"],
  ["Who asked for the budget increase?", "Who asked for the headcount increase?"],
  ["Which bug blocks the mobile release?", "Which bug blocks the desktop release?"],
  ["What did support promise the enterprise customer?", "What did sales promise the enterprise customer?"],
  ["Who signed the vendor contract?", "Who drafted the vendor contract?"],
];

export function minimalPairs(): QuestionPair[] {
  const pairs: QuestionPair[] = [];
  for (const [x, y] of NAME_PAIRS)
    for (const template of NAME_TEMPLATES)
      for (const t of TOPICS.slice(0, 4)) pairs.push({ a: template(x, t), b: template(y, t), kind: "names" });
  for (const [x, y] of NUMBER_PAIRS)
    for (const template of NUMBER_TEMPLATES) pairs.push({ a: template(x), b: template(y), kind: "numbers" });
  for (const [x, y] of ORDINAL_PAIRS)
    for (const template of ORDINAL_TEMPLATES) pairs.push({ a: template(x), b: template(y), kind: "ordinals" });
  for (const [x, y] of DATE_PAIRS) for (const template of DATE_TEMPLATES) pairs.push({ a: template(x), b: template(y), kind: "dates" });
  for (const [a, b] of RELATION_PAIRS) pairs.push({ a, b, kind: "relation" }, { a: b, b: a, kind: "relation" });
  for (const [a, b] of NEGATION_PAIRS) pairs.push({ a, b, kind: "negation" }, { a: b, b: a, kind: "negation" });
  for (const [a, b] of QUESTION_WORD_PAIRS) pairs.push({ a, b, kind: "question word" });
  for (const [a, b] of CONTENT_PAIRS) pairs.push({ a, b, kind: "content" });
  return pairs;
}

/** Rewordings that ask exactly the same thing. */
export function paraphrases(): QuestionPair[] {
  const out: QuestionPair[] = [];
  const people = ["John", "Priya", "Ольга", "王伟", "Émile"];
  for (const t of TOPICS) {
    for (const n of people) {
      const q = `What did ${n} say about ${t}?`;
      out.push({ a: q, b: `What did ${n} say about ${t}`, kind: "punctuation" });
      out.push({ a: q, b: `Hey, what did ${n} say about ${t}?`, kind: "filler" });
      out.push({ a: q, b: `What did ${n} mention about ${t}?`, kind: "same family (say/mention)" });
      out.push({ a: q, b: `Can you tell me what ${n} said about ${t}, please?`, kind: "framing" });
    }
  }
  const fixed: [string, string, string][] = [
    ["Why was the staging deploy rolled back?", "Why did the staging deploy get rolled back?", "voice"],
    ["What is the plan for the billing migration?", "What's the plan for the billing migration?", "contraction"],
    ["Did Marco not fix the memory leak?", "Didn't Marco fix the memory leak?", "contraction"],
    ["Who has 3 open tickets?", "Who has three open tickets?", "number written out"],
    ["What went wrong in the 3rd sprint?", "What went wrong in the third sprint?", "ordinal written out"],
    ["What did the team decide on Monday?", "On Monday, what did the team decide?", "word order"],
    ["WHO OWNS THE TIMELINE DOC?", "who owns the timeline doc?", "case"],
    ["When is the public beta?", "when is the public beta", "case and punctuation"],
    ["Who approved the refunds?", "Who approved the refund?", "inflection"],
    ["Which meetings were cancelled?", "Which meeting was cancelled?", "inflection"],
  ];
  for (const [a, b, kind] of fixed) out.push({ a, b, kind });
  return out;
}
