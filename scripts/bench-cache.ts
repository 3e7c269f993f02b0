// npm run bench:cache: replays the LoCoMo dev questions (../shared/data/locomo-dev, read in place)
// as a Zipf-distributed stream of repeats and paraphrases against a fresh local stack, and reports
// the hit rate per level, the semantic false-hit rate (a cached answer served for a question whose
// gold answer differs), cached-ask latency against GET /health, and, at BENCH_CONNECTIONS (50)
// concurrent connections, cached-ask throughput against GET /health throughput.
// BENCH_REQUESTS (600), BENCH_SECONDS (5 per throughput phase), BENCH_SEED.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startLocalStack } from "./lib/local-stack.ts";
import { ingestForEval, loadLocomo } from "./lib/locomo.ts";

process.env.WRANGLER_SEND_METRICS = "false";
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 600);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
let seed = Number(process.env.BENCH_SEED ?? 42);
const random = () => (seed = (seed * 1664525 + 1013904223) % 2 ** 32) / 2 ** 32;

/** Rewordings a user might type for the same question; none changes what is asked. */
const PARAPHRASES = [
  (q: string) => q.replace(/\?\s*$/, ""),
  (q: string) => `Hey, ${q[0]!.toLowerCase()}${q.slice(1)}`,
  (q: string) => `${q.replace(/\?\s*$/, "")}, please?`,
];

interface Item {
  question: string;
  answer: string;
  conversationId: string;
}

const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
const conversations = loadLocomo();
const items: Item[] = conversations.flatMap((c) =>
  c.qa.map((qa) => ({ question: qa.question, answer: String((qa as { answer?: unknown }).answer ?? ""), conversationId: c.id })),
);
// Zipf over a shuffled order of the questions: a few are asked often, most rarely.
const order = [...items.keys()].sort(() => random() - 0.5);
const weights = order.map((_, rank) => 1 / (rank + 1) ** 1.1);
const totalWeight = weights.reduce((a, b) => a + b, 0);
const draw = () => {
  let r = random() * totalWeight;
  for (let i = 0; i < weights.length; i++) if ((r -= weights[i]!) <= 0) return items[order[i]!]!;
  return items[order.at(-1)!]!;
};

const stack = await startLocalStack();
try {
  const headers = await ingestForEval(stack.url, conversations);
  const ask = async (item: Item, question: string) => {
    const t = performance.now();
    const res = await fetch(`${stack.url}/api/rag/ask`, {
      method: "POST",
      headers,
      body: JSON.stringify({ query: question, conversation_id: item.conversationId, stream: false }),
    });
    if (!res.ok) throw new Error(`ask failed: ${res.status} ${await res.text()}`);
    const body = (await res.json()) as { query: { text: string } };
    return { ms: performance.now() - t, cache: res.headers.get("x-cache") ?? "", servedFor: body.query.text };
  };
  const health = async () => {
    const t = performance.now();
    await fetch(`${stack.url}/health`).then((r) => r.arrayBuffer());
    return performance.now() - t;
  };

  const seen = new Set<string>();
  const byQuestion = new Map(items.map((i) => [i.question, i]));
  // Every text sent, to the question it stands for: a semantic hit names the text it was cached under.
  const asked = new Map<string, Item>();
  const counts: Record<string, number> = {};
  let repeats = 0;
  let falseHits = 0;
  let semanticHits = 0;
  const cachedMs: number[] = [];
  const healthMs: number[] = [];
  for (let n = 0; n < REQUESTS; n++) {
    const item = draw();
    const repeat = seen.has(item.question);
    seen.add(item.question);
    if (repeat) repeats++;
    const question = repeat && random() < 0.4 ? PARAPHRASES[Math.floor(random() * PARAPHRASES.length)]!(item.question) : item.question;
    asked.set(question, item);
    const r = await ask(item, question);
    counts[r.cache] = (counts[r.cache] ?? 0) + 1;
    if (r.cache.startsWith("HIT")) cachedMs.push(r.ms);
    if (r.cache === "HIT-SEMANTIC") {
      semanticHits++;
      const served = asked.get(r.servedFor);
      if (!served || served.answer.trim().toLowerCase() !== item.answer.trim().toLowerCase()) falseHits++;
    }
    healthMs.push(await health());
  }
  const hits = (counts["HIT-L1"] ?? 0) + (counts["HIT-L2"] ?? 0) + (counts["HIT-SEMANTIC"] ?? 0);
  const hitRate = hits / REQUESTS;
  const repeatShare = repeats / REQUESTS;

  // Throughput at CONNECTIONS concurrent connections: cached asks (questions answered above) and /health.
  const cachedItems = [...seen].slice(0, 20).map((q) => byQuestion.get(q)!);
  const throughput = async (work: () => Promise<unknown>) => {
    const until = performance.now() + SECONDS * 1000;
    let done = 0;
    await Promise.all(
      Array.from({ length: CONNECTIONS }, async () => {
        while (performance.now() < until) {
          await work();
          done++;
        }
      }),
    );
    return done / SECONDS;
  };
  let i = 0;
  const cachedRps = await throughput(async () => {
    const item = cachedItems[i++ % cachedItems.length]!;
    await fetch(`${stack.url}/api/rag/ask`, {
      method: "POST",
      headers,
      body: JSON.stringify({ query: item.question, conversation_id: item.conversationId, stream: false }),
    }).then((r) => r.arrayBuffer());
  });
  const healthRps = await throughput(() => fetch(`${stack.url}/health`).then((r) => r.arrayBuffer()));

  const report = {
    date: new Date().toISOString(),
    requests: REQUESTS,
    repeat_or_paraphrase_share: Number(repeatShare.toFixed(3)),
    statuses: counts,
    hit_rate: Number(hitRate.toFixed(3)),
    hit_rate_goal: Number((0.9 * repeatShare).toFixed(3)),
    semantic_hits: semanticHits,
    semantic_false_hits: falseHits,
    false_hit_rate: Number((falseHits / Math.max(1, hits)).toFixed(4)),
    cached_ask_ms: { p50: Number(percentile(cachedMs, 50).toFixed(1)), p95: Number(percentile(cachedMs, 95).toFixed(1)) },
    health_ms: { p50: Number(percentile(healthMs, 50).toFixed(1)), p95: Number(percentile(healthMs, 95).toFixed(1)) },
    throughput_rps: {
      connections: CONNECTIONS,
      cached_ask: Math.round(cachedRps),
      health: Math.round(healthRps),
      ratio: Number((cachedRps / healthRps).toFixed(2)),
    },
  };
  console.log(JSON.stringify(report, null, 2));
  console.log(
    `hit rate ${report.hit_rate} (goal ≥ ${report.hit_rate_goal}: ${report.hit_rate >= report.hit_rate_goal ? "met" : "not met"}); ` +
      `false hits ${falseHits}/${hits} (goal ≤ 1 %: ${report.false_hit_rate <= 0.01 ? "met" : "not met"}); ` +
      `cached p50 ${report.cached_ask_ms.p50} ms vs /health ${report.health_ms.p50} ms (goal ≤ 2×: ${report.cached_ask_ms.p50 <= 2 * report.health_ms.p50 ? "met" : "not met"}); ` +
      `throughput ratio ${report.throughput_rps.ratio} (goal ≥ 0.7: ${report.throughput_rps.ratio >= 0.7 ? "met" : "not met"})`,
  );
  mkdirSync(join(import.meta.dirname, "../reports"), { recursive: true });
  writeFileSync(join(import.meta.dirname, "../reports/bench-cache.json"), `${JSON.stringify(report, null, 2)}\n`);
} finally {
  await stack.stop();
}
