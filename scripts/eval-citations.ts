// npm run eval:citations: what the answers of POST /api/rag/ask cite, and where the relevance floor
// (RELEVANCE_FLOOR) should sit. One run with the floor off records, for every question, the best
// source's relevance and what the answer cites; the table then replays every floor: an answer is
// withheld ("nothing relevant") exactly when its best relevance is below the floor.
//
// Questions:
// - answerable: ../shared/data/locomo-dev's questions, each scoped to its conversation (when the
//   folder is present), and the demo questions over demo/ (their answers are there; no evidence ids);
// - unanswerable: the off-topic questions below, asked of every conversation; and each LoCoMo
//   conversation's questions asked of the other one.
// An answerable answer is "with evidence" when a cited message is an evidence message, "wrongly
// quoted" when it cites only other messages. An unanswerable answer is wrongly quoted when it
// cites anything. RAG_URL=… evaluates a running instance (its floor must be 0).
import { existsSync } from "node:fs";
import { parseCli } from "./lib/cli.ts";
import { demoConversations } from "./lib/demo-data.ts";
import { DEMO_QUESTIONS } from "./lib/demo-questions.ts";
import { startLocalStack } from "./lib/local-stack.ts";
import { ingestForEval, LOCOMO_DIR, type LocomoConversation, loadLocomo } from "./lib/locomo.ts";

process.env.WRANGLER_SEND_METRICS = "false";

const { values: args } = parseCli(
  { floors: { type: "string", default: "0,0.1,0.15,0.2,0.25,0.3,0.35,0.4,0.5" } },
  "usage: npm run eval:citations [-- --floors 0,0.2,0.3]   (RAG_URL=… to evaluate a running instance with RELEVANCE_FLOOR=0)",
);
const FLOORS = String(args.floors).split(",").map(Number);

/** Questions none of the conversations answer: other teams' business, other trades. */
const OFF_TOPIC = [
  "What is the contingency plan if the audit uncovers issues?",
  "Who approved the Kubernetes cluster upgrade?",
  "What was decided about the office lease renewal?",
  "How much did the marketing campaign in Brazil cost?",
  "When is the quarterly tax filing due?",
  "What did the auditor say about the inventory counts?",
  "Which vendor won the catering contract?",
  "What is the SLA for the payments API?",
  "Why was the Tokyo warehouse closed?",
  "Who is responsible for the GDPR impact assessment?",
  "What are the terms of the patent licensing deal?",
  "How many servers failed during the datacenter move?",
  "What was the outcome of the union negotiation?",
  "When will the delivery vans be replaced?",
  "What interest rate did the bank offer for the loan?",
  "Which firmware version fixed the router crash?",
  "What did the board decide about the merger with Acme?",
  "How is the solar panel installation on the roof going?",
  "What is the budget for the sales kickoff in Lisbon?",
  "Who will lead the SOC 2 compliance work?",
  "What caused the outage of the DNS resolver?",
  "What did legal say about the trademark dispute?",
  "When will the new ERP system go live?",
  "What was the result of the penetration test on the VPN?",
  "Which shipping carrier lost the pallets?",
  "What recipe did the chef choose for the gala dinner?",
  "What did the pilot report about the engine vibration?",
  "How far along is the bridge inspection?",
  "Which insurance broker renewed the fleet policy?",
  "What did the landlord say about the heating repairs?",
];

interface Answer {
  answer: string;
  /** Absent before the relevance floor existed. */
  relevance?: { best: number | null };
  sources: { n: number; message_ids: string[] }[];
  /** Before citations named messages they were source numbers: the cited messages are then the sources' (chunk level). */
  citations: ({ n: number; message_ids: string[] } | number)[];
}
interface Row {
  set: "locomo" | "demo" | "off-topic" | "cross";
  best: number | null;
  /** Message ids the answer cites, and the message ids of the sources it cites (chunk level). */
  cited: string[];
  citedChunks: string[];
  evidence: string[] | undefined;
}

const locomo: LocomoConversation[] = existsSync(LOCOMO_DIR) ? loadLocomo() : [];
if (locomo.length === 0) console.error(`no LoCoMo data at ${LOCOMO_DIR}: own conversations only`);
const demo = demoConversations().map((c) => ({ ...(JSON.parse(c.body) as LocomoConversation), qa: [] }));

const stack = process.env.RAG_URL ? undefined : await startLocalStack({ RELEVANCE_FLOOR: "0" });
const base = process.env.RAG_URL ?? stack!.url;
try {
  const headers = await ingestForEval(base, [...locomo, ...demo]);
  const ask = async (query: string, conversationIds: string[]): Promise<Answer> => {
    const res = await fetch(`${base}/api/rag/ask`, {
      method: "POST",
      headers,
      body: JSON.stringify({ query, filters: { conversation_ids: conversationIds }, stream: false, cache: false }),
    });
    if (!res.ok) throw new Error(`ask failed: ${res.status} ${await res.text()}`);
    return (await res.json()) as Answer;
  };
  const rows: Row[] = [];
  const record = async (set: Row["set"], query: string, scope: string[], evidence?: string[]) => {
    const a = await ask(query, scope);
    const citedNumbers = new Set(a.citations.map((c) => (typeof c === "number" ? c : c.n)));
    const citedChunks = a.sources.filter((s) => citedNumbers.has(s.n)).flatMap((s) => s.message_ids);
    rows.push({
      set,
      best: a.relevance?.best ?? null,
      cited: a.citations.flatMap((c) => (typeof c === "number" ? [] : c.message_ids)),
      citedChunks,
      evidence,
    });
  };
  for (const c of locomo) for (const qa of c.qa) await record("locomo", qa.question, [c.id], qa.evidence);
  for (const c of locomo) {
    const other = locomo.find((o) => o.id !== c.id);
    if (other) for (const qa of c.qa) await record("cross", qa.question, [other.id]);
  }
  const demoIds = demo.map((d) => d.id);
  for (const q of DEMO_QUESTIONS) await record("demo", q, demoIds);
  for (const q of OFF_TOPIC) {
    for (const c of locomo) await record("off-topic", q, [c.id]);
    await record("off-topic", q, demoIds);
  }

  const count = (set: Row["set"]) => rows.filter((r) => r.set === set).length;
  console.log(
    `questions: ${count("locomo")} LoCoMo (answerable, with evidence), ${count("demo")} demo (answerable), ` +
      `${count("off-topic")} off-topic and ${count("cross")} cross-conversation (unanswerable)\n`,
  );
  console.log(
    "| floor | LoCoMo: cites evidence (message / chunk) | LoCoMo: wrongly quoted | LoCoMo: withheld | demo: answered | unanswerable: wrongly quoted (off-topic / cross) |",
  );
  console.log("|---:|---:|---:|---:|---:|---:|");
  const pct = (n: number, of: number) => `${n} (${((100 * n) / Math.max(1, of)).toFixed(1)} %)`;
  for (const floor of FLOORS) {
    const answered = (r: Row) => r.best === null || r.best >= floor;
    const quotes = (r: Row) => answered(r) && r.citedChunks.length > 0;
    const lo = rows.filter((r) => r.set === "locomo");
    const hits = (ids: string[], r: Row) => ids.some((id) => r.evidence!.includes(id));
    const withEvidence = lo.filter((r) => quotes(r) && hits(r.cited, r)).length;
    const withEvidenceChunk = lo.filter((r) => quotes(r) && hits(r.citedChunks, r)).length;
    const wrong = lo.filter((r) => quotes(r) && !hits(r.cited, r)).length;
    const withheld = lo.filter((r) => !answered(r)).length;
    const demoAnswered = rows.filter((r) => r.set === "demo" && quotes(r)).length;
    const offWrong = rows.filter((r) => r.set === "off-topic" && quotes(r)).length;
    const crossWrong = rows.filter((r) => r.set === "cross" && quotes(r)).length;
    console.log(
      `| ${floor} | ${pct(withEvidence, lo.length)} / ${pct(withEvidenceChunk, lo.length)} | ${pct(wrong, lo.length)} | ${pct(withheld, lo.length)} | ${pct(demoAnswered, count("demo"))} | ${pct(offWrong, count("off-topic"))} / ${pct(crossWrong, count("cross"))} |`,
    );
  }
} finally {
  await stack?.stop();
}
