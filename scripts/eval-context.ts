// npm run eval:context: what the context selection of POST /api/rag/ask sends to the model, on
// ../shared/data/locomo-dev. For every question: naive top-k (the k retrieved chunks concatenated
// whole) and each selection strategy at budgets of 256/512/1024/2048 tokens over the same k
// chunks; evidence recall of the context actually sent (the sources' message ids after
// compression), context and prompt tokens. Offline (extractive answerer). EVAL_TOP_K (default 12,
// the ask default), EVAL_VARS='{"CONTEXT_HYBRID_LAMBDA":"0.8"}' for the stack it starts,
// RAG_URL=… to evaluate a running instance (its MAX_CONTEXT_TOKENS must allow the budgets).
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startLocalStack } from "./lib/local-stack.ts";
import { CATEGORIES, evidenceRecall, ingestForEval, loadLocomo } from "./lib/locomo.ts";

process.env.WRANGLER_SEND_METRICS = "false";
const ROOT = join(import.meta.dirname, "..");
const BUDGETS = (process.env.EVAL_BUDGETS ?? "256,512,1024,2048").split(",").map(Number);
const STRATEGIES = (process.env.EVAL_CONTEXT_STRATEGIES ?? "relevance,diversity,hybrid").split(",");
const TOP_K = Number(process.env.EVAL_TOP_K ?? 12);
const NAIVE_KS = (process.env.EVAL_NAIVE_KS ?? "5,8,10,12").split(",").map(Number);
const DEFAULT = { strategy: process.env.EVAL_DEFAULT_STRATEGY ?? "hybrid", budget: Number(process.env.EVAL_DEFAULT_BUDGET ?? 1024) };

interface AskBody {
  sources: { message_ids: string[] }[];
  usage: { context_tokens: number; prompt_tokens: number; naive_context_tokens: number; tokens_saved: number };
}

const conversations = loadLocomo();
const vars = {
  MAX_CONTEXT_TOKENS: "100000",
  ...(process.env.EVAL_VARS ? (JSON.parse(process.env.EVAL_VARS) as Record<string, string>) : {}),
};
const stack = process.env.RAG_URL ? undefined : await startLocalStack(vars);
const base = process.env.RAG_URL ?? stack!.url;
try {
  const headers = await ingestForEval(base, conversations);
  const ask = async (query: string, conversationId: string, strategy: string, budget: number, topK = TOP_K): Promise<AskBody> => {
    const res = await fetch(`${base}/api/rag/ask`, {
      method: "POST",
      headers,
      body: JSON.stringify({
        query,
        conversation_id: conversationId,
        top_k: topK,
        strategy,
        max_context_tokens: budget,
        stream: false,
        cache: false,
      }),
    });
    if (!res.ok) throw new Error(`ask failed: ${res.status} ${await res.text()}`);
    return (await res.json()) as AskBody;
  };

  type Cell = { recall: number; context: number; prompt: number };
  const rows: { category: number; cells: Record<string, Cell> }[] = [];
  const configs = [
    ...NAIVE_KS.map((k) => [`naive top-${k}`, "relevance", 100_000, k] as const),
    ...STRATEGIES.flatMap((s) => BUDGETS.map((b) => [`${s} @${b}`, s, b, TOP_K] as const)),
    [`default (${DEFAULT.strategy} @${DEFAULT.budget}, top ${TOP_K})`, DEFAULT.strategy, DEFAULT.budget, TOP_K],
  ] as const;
  for (const c of conversations) {
    for (const qa of c.qa) {
      if (!qa.evidence?.length) continue;
      const cells: Record<string, Cell> = {};
      for (const [name, strategy, budget, k] of configs) {
        const body = await ask(qa.question, c.id, strategy, budget, k);
        cells[name] = {
          recall: evidenceRecall(qa.evidence, body.sources),
          context: body.usage.context_tokens,
          prompt: body.usage.prompt_tokens,
        };
      }
      rows.push({ category: qa.category, cells });
    }
  }

  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const summary = Object.fromEntries(
    configs.map(([name]) => {
      const cells = rows.map((r) => r.cells[name]!);
      return [
        name,
        {
          recall: Number(mean(cells.map((x) => x.recall)).toFixed(3)),
          context_tokens: Math.round(mean(cells.map((x) => x.context))),
          prompt_tokens: Math.round(mean(cells.map((x) => x.prompt))),
        },
      ];
    }),
  );
  const perCategory = Object.fromEntries(
    Object.entries(CATEGORIES).map(([n, label]) => {
      const rs = rows.filter((r) => r.category === Number(n));
      return [
        `${label} (${rs.length})`,
        Object.fromEntries(configs.map(([name]) => [name, Number(mean(rs.map((r) => r.cells[name]!.recall)).toFixed(3))])),
      ];
    }),
  );
  const def = summary[configs.at(-1)![0]]!;
  console.log(`questions: ${rows.length}; candidates per question for the strategies (top_k): ${TOP_K}`);
  console.table(summary);
  // The goal compares the default with naive top-k at equal or better recall: every naive k whose
  // recall the default reaches, and the prompt tokens the default saves against it.
  for (const k of NAIVE_KS) {
    const naive = summary[`naive top-${k}`]!;
    const saving = 1 - def.prompt_tokens / naive.prompt_tokens;
    console.log(
      `default vs naive top-${k}: prompt tokens ${def.prompt_tokens} vs ${naive.prompt_tokens} (${saving >= 0 ? "−" : "+"}${Math.abs(saving * 100).toFixed(1)} %), ` +
        `recall ${def.recall} vs ${naive.recall}${def.recall >= naive.recall ? (saving >= 0.3 ? " → goal met" : " → equal or better recall, saving < 30 %") : " → lower recall"}`,
    );
  }
  // Naive top-k at exactly the default's recall, interpolating prompt tokens between the two
  // naive k whose recall brackets it: the "equal recall" comparison without rounding k.
  const naiveRows = NAIVE_KS.map((k) => summary[`naive top-${k}`]!).sort((a, b) => a.recall - b.recall);
  const above = naiveRows.findIndex((r) => r.recall >= def.recall);
  if (above > 0) {
    const [lo, hi] = [naiveRows[above - 1]!, naiveRows[above]!];
    const tokens = lo.prompt_tokens + ((def.recall - lo.recall) / (hi.recall - lo.recall)) * (hi.prompt_tokens - lo.prompt_tokens);
    console.log(
      `naive top-k at recall ${def.recall} (interpolated): ${Math.round(tokens)} prompt tokens → the default sends ${((1 - def.prompt_tokens / tokens) * 100).toFixed(1)} % fewer`,
    );
  }
  mkdirSync(join(ROOT, "reports"), { recursive: true });
  writeFileSync(
    join(ROOT, "reports/eval-context.json"),
    `${JSON.stringify({ date: new Date().toISOString(), top_k: TOP_K, vars, summary, per_category: perCategory }, null, 2)}\n`,
  );
} finally {
  await stack?.stop();
}
