// A synthetic team-chat archive for benchmarks and soaks: eight people, ten subjects, short
// status messages; deterministic per (conversation, index), so re-sending a message changes nothing.

export const PEOPLE = ["John", "Priya", "Marco", "Aiko", "Fatima", "Lars", "Chen", "Olu"];
export const SUBJECTS = [
  "the launch timeline",
  "the billing migration",
  "the feature freeze",
  "the export job",
  "the onboarding copy",
  "the data engineer hire",
  "the security review",
  "the quarterly budget",
  "the mobile release",
  "the support rota",
];
export const VERBS = [
  "moved",
  "needs another week",
  "was approved",
  "is blocked on legal",
  "passed its tests",
  "slipped to Friday",
  "is done",
  "needs a second reviewer",
];
export const REASONS = [
  "because the load tests failed",
  "after the customer call",
  "since finance asked for mirroring",
  "as agreed in the standup",
  "because two people are on leave",
  "to fit the beta review",
];

/** Message `i` of conversation `conv`. */
export function syntheticMessage(conv: string, i: number) {
  // Deterministic per (conversation, index): re-sending the same message changes nothing.
  const h = [...`${conv}/${i}`].reduce((a, c) => (a * 31 + c.charCodeAt(0)) >>> 0, 7);
  const at = (k: number, list: readonly string[]) => list[(h >>> k) % list.length]!;
  return {
    id: `m${i}`,
    author_name: at(0, PEOPLE),
    text: `${at(3, SUBJECTS)} ${at(7, VERBS)} ${at(11, REASONS)}. Ticket ${h % 9973}.`,
    timestamp: new Date(Date.UTC(2025, 0, 6, 9) + i * 90_000).toISOString(),
  };
}
