// npm run eval:retrieval: evidence recall of POST /api/rag/retrieve on ../shared/data/locomo-dev
// (read in place, never copied), as its README defines it: R@5/10/25/50 and R@256t/512t/1024t/2048t
// (cl100k tokens of the returned chunk texts), overall and per category, plus latency.
// RAG_URL=http://127.0.0.1:8787 uses a running instance (admin key DEV_ADMIN_KEY); otherwise a
// throwaway local stack is started. EVAL_STRATEGIES=semantic,keyword picks strategies;
// EVAL_EXPAND=1 evaluates each budget with token_budget and neighbour expansion.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadTokenizer } from "../src/tokens/tokenizer.ts";
import { startLocalStack } from "./lib/local-stack.ts";
import { CATEGORIES, evidenceRecall, ingestForEval, loadLocomo } from "./lib/locomo.ts";

const ROOT = join(import.meta.dirname, "..");
const KS = [5, 10, 25, 50];
const BUDGETS = [256, 512, 1024, 2048];

interface Chunk {
  message_ids: string[];
  text: string;
}

const conversations = loadLocomo();
const encoder = await loadTokenizer("cl100k_base");
const strategies = process.env.EVAL_STRATEGIES?.split(",");
const expand = process.env.EVAL_EXPAND === "1";
// "api" (default): each budget is its own request with token_budget, as a client would ask;
// "walk": the README's walk over one unbudgeted ranked list.
const budgetMode = process.env.EVAL_BUDGET_MODE === "walk" ? "walk" : "api";

const stack = process.env.RAG_URL
  ? undefined
  : await startLocalStack({ CACHE_ENABLED: "false", ...(process.env.EVAL_VARS ? JSON.parse(process.env.EVAL_VARS) : {}) });
const base = process.env.RAG_URL ?? stack!.url;
try {
  const headers = await ingestForEval(base, conversations);

  const failures: Record<string, number> = {};
  const retrieve = async (query: string, conversationId: string, extra: object = {}) => {
    const t = performance.now();
    const res = await fetch(`${base}/api/rag/retrieve`, {
      method: "POST",
      headers,
      body: JSON.stringify({ query, conversation_id: conversationId, top_k: 50, ...(strategies ? { strategies } : {}), ...extra }),
    });
    if (!res.ok) throw new Error(`retrieve failed: ${res.status} ${await res.text()}`);
    const body = (await res.json()) as { chunks: Chunk[]; timings: { total: number }; failed_strategies: string[] };
    for (const f of body.failed_strategies) failures[f] = (failures[f] ?? 0) + 1;
    return { chunks: body.chunks, ms: performance.now() - t, serverMs: body.timings.total };
  };

  const recall = evidenceRecall;
  const withinBudget = (chunks: Chunk[], budget: number) => {
    let used = 0;
    return chunks.filter((c) => {
      const t = encoder.count(c.text);
      if (used + t > budget) return false;
      used += t;
      return true;
    });
  };

  type Row = { category: number; scores: Record<string, number> };
  const rows: Row[] = [];
  const latencies: number[] = [];
  const serverLatencies: number[] = [];
  for (const c of conversations) {
    for (const qa of c.qa) {
      if (!qa.evidence?.length) continue;
      const { chunks, ms, serverMs } = await retrieve(qa.question, c.id);
      latencies.push(ms);
      serverLatencies.push(serverMs);
      const scores: Record<string, number> = {};
      for (const k of KS) scores[`R@${k}`] = recall(qa.evidence, chunks.slice(0, k));
      for (const b of BUDGETS) {
        const picked =
          budgetMode === "api"
            ? (await retrieve(qa.question, c.id, { token_budget: b, ...(expand ? { expand_neighbors: true } : {}) })).chunks
            : chunks;
        scores[`R@${b}t`] = recall(qa.evidence, withinBudget(picked, b));
      }
      rows.push({ category: qa.category, scores });
    }
  }

  const metrics = [...KS.map((k) => `R@${k}`), ...BUDGETS.map((b) => `R@${b}t`)];
  const mean = (rs: Row[], m: string) => Number((rs.reduce((s, r) => s + r.scores[m]!, 0) / rs.length).toFixed(3));
  const table: Record<string, Record<string, number>> = {};
  const groups: [string, Row[]][] = [
    ["all", rows],
    ...Object.entries(CATEGORIES).map(([n, name]) => [name, rows.filter((r) => r.category === Number(n))] as [string, Row[]]),
  ];
  for (const [name, rs] of groups)
    if (rs.length) table[`${name} (${rs.length})`] = Object.fromEntries(metrics.map((m) => [m, mean(rs, m)]));
  const pct = (xs: number[], p: number) =>
    Number([...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!.toFixed(1));
  const latency = {
    client_p50_ms: pct(latencies, 50),
    client_p95_ms: pct(latencies, 95),
    server_p50_ms: pct(serverLatencies, 50),
    server_p95_ms: pct(serverLatencies, 95),
  };

  console.log(`questions: ${rows.length}; strategies: ${strategies?.join(",") ?? "default"}; budgets: ${budgetMode}; expand: ${expand}`);
  console.table(table);
  console.log("retrieve latency", latency, "failed strategies", failures);
  mkdirSync(join(ROOT, "reports"), { recursive: true });
  writeFileSync(
    join(ROOT, "reports/eval-retrieval.json"),
    `${JSON.stringify({ date: new Date().toISOString(), strategies: strategies ?? "default", budget_mode: budgetMode, expand, recall: table, latency, failures }, null, 2)}\n`,
  );
} finally {
  await stack?.stop();
}
