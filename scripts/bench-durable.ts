// npm run bench:durable: what the Durable Objects save when many people ask at once. 50 clients
// (BENCH_CLIENTS) send their asks at the same moment, in BENCH_WAVES waves (default 6); each wave
// draws its 50 questions from the 16 demo questions with a Zipf-like skew (so some are asked
// several times at once, as after an announcement), worded freshly per wave so no cache helps.
// A local OpenAI-compatible server plays a remote provider with realistic latency: embeddings
// after BENCH_EMBED_MS (100), first chat token after BENCH_FIRST_TOKEN_MS (400), then a piece every
// 15 ms. The same run measures two instances: batching and coalescing on (the defaults), and off.
// Reported: provider calls per request, and client latency (first token, whole answer) p50/p95.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { demoConversations, ingestAll } from "./lib/demo-data.ts";
import { DEMO_QUESTIONS } from "./lib/demo-questions.ts";
import { type RecordedCall, startFakeOpenAI } from "./lib/fake-openai.ts";
import { startLocalStack } from "./lib/local-stack.ts";
import { timedAsk } from "./lib/timed-ask.ts";

process.env.WRANGLER_SEND_METRICS = "false";
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 50);
const WAVES = Number(process.env.BENCH_WAVES ?? 6);
const EMBED_MS = Number(process.env.BENCH_EMBED_MS ?? 100);
const FIRST_TOKEN_MS = Number(process.env.BENCH_FIRST_TOKEN_MS ?? 400);
const ANSWER =
  "The beta moved to April 14 because the search service failed load tests [1]; John proposed general availability on May 5 [1]. The feature freeze is March 28 [2].";
const WORDINGS = ["", "Quick question: ", "Can you tell me: ", "I was wondering, ", "Remind me: ", "Team asks: "];

const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
const stats = (xs: number[]) => ({ p50: Math.round(percentile(xs, 50)), p95: Math.round(percentile(xs, 95)), n: xs.length });

/** Deterministic pseudo-random numbers, so both modes get exactly the same questions. */
function rng(seed: number) {
  return () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
}

/** One wave's questions: Zipf-like (weight 1/rank) over the demo questions, in a wording of its own. */
function waveQuestions(wave: number, random: () => number): string[] {
  const weights = DEMO_QUESTIONS.map((_, i) => 1 / (i + 1));
  const total = weights.reduce((a, b) => a + b, 0);
  const prefix = WORDINGS[wave % WORDINGS.length]!;
  const suffix = wave >= WORDINGS.length ? ` (round ${Math.floor(wave / WORDINGS.length) + 1})` : "";
  return Array.from({ length: CLIENTS }, () => {
    let r = random() * total;
    const i = weights.findIndex((w) => (r -= w) < 0);
    const q = DEMO_QUESTIONS[i === -1 ? 0 : i]!;
    return `${prefix}${prefix ? q[0]!.toLowerCase() + q.slice(1) : q}${suffix}`;
  });
}

interface AskResult {
  ttft: number;
  total: number;
  ok: boolean;
  coalesced: string | null;
  /** Retrieval strategies that failed or timed out for this answer (the local database is the bottleneck). */
  degraded: boolean;
}

async function ask(url: string, query: string): Promise<AskResult> {
  const started = performance.now();
  try {
    const { res, text, ttft, total } = await timedAsk(url, { query });
    const ok = res.status === 200 && text.includes("event: done") && !text.includes('"fallback":true');
    const degraded = !text.includes('"failed_strategies":[]');
    return { ttft: ttft ?? total, total, ok, coalesced: res.headers.get("x-coalesced"), degraded };
  } catch {
    return { ttft: NaN, total: performance.now() - started, ok: false, coalesced: null, degraded: true };
  }
}

async function measure(mode: "on" | "off", fakeUrl: string) {
  const scenario = `durable-${mode}-${Date.now()}`;
  const base = `${fakeUrl}/${scenario}`;
  await fetch(`${base}/_control`, {
    method: "POST",
    body: JSON.stringify({
      embeddingDelayMs: EMBED_MS,
      chat: { text: ANSWER, firstTokenDelayMs: FIRST_TOKEN_MS, tokenDelayMs: 15, wordsPerPiece: 2 },
    }),
  });
  const calls = async () => (await (await fetch(`${base}/_calls`)).json()) as RecordedCall[];
  const flag = mode === "on" ? "true" : "false";
  const stack = await startLocalStack({
    EMBEDDING_PROVIDER: "openai",
    EMBEDDING_MODEL: "bench-embedding",
    CHAT_PROVIDER: "openai",
    CHAT_MODEL: "bench-model",
    OPENAI_BASE_URL: `${base}/v1`,
    OPENAI_API_KEY: "sk-bench",
    EMBEDDING_BATCHING: flag,
    ASK_COALESCE: flag,
    // The provider's limits are not what this measures.
    CHAT_RATE_LIMIT_RPM: "0",
    CHAT_RATE_LIMIT_TPM: "0",
  });
  try {
    await ingestAll(stack.url, "dev-local-key", demoConversations());
    await ask(stack.url, "What is this conversation about?"); // isolate start, tokenizer load
    const before = await calls();
    const random = rng(42);
    const results: AskResult[] = [];
    const started = performance.now();
    for (let w = 0; w < WAVES; w++) {
      results.push(...(await Promise.all(waveQuestions(w, random).map((q) => ask(stack.url, q)))));
    }
    const seconds = (performance.now() - started) / 1000;
    const during = (await calls()).slice(before.length);
    // One client alone (nothing to batch or share): what the objects cost a request, TTFT − first-token delay.
    const solo: number[] = [];
    for (const [i, q] of DEMO_QUESTIONS.entries()) solo.push((await ask(stack.url, `On its own ${i}: ${q}`)).ttft - FIRST_TOKEN_MS);
    const embeddings = during.filter((c) => c.path === "/v1/embeddings");
    const chats = during.filter((c) => c.path === "/v1/chat/completions");
    const ok = results.filter((r) => r.ok);
    return {
      requests: results.length,
      errors: results.length - ok.length,
      embedding_calls: embeddings.length,
      embedding_texts: embeddings.reduce((n, c) => n + (Array.isArray(c.body.input) ? c.body.input.length : 1), 0),
      chat_calls: chats.length,
      embedding_calls_per_request: Number((embeddings.length / results.length).toFixed(3)),
      chat_calls_per_request: Number((chats.length / results.length).toFixed(3)),
      followers: results.filter((r) => r.coalesced === "follower").length,
      degraded: results.filter((r) => r.degraded).length,
      ttft: stats(ok.map((r) => r.ttft)),
      total: stats(ok.map((r) => r.total)),
      requests_per_second: Number((results.length / seconds).toFixed(1)),
      solo_added_to_first_token: stats(solo),
    };
  } finally {
    await stack.stop();
  }
}

const fake = await startFakeOpenAI();
try {
  const on = await measure("on", fake.url);
  const off = await measure("off", fake.url);
  console.log(
    `${CLIENTS} concurrent clients × ${WAVES} waves; provider latency: embeddings ${EMBED_MS} ms, first token ${FIRST_TOKEN_MS} ms`,
  );
  const row = (r: typeof on) => ({
    requests: r.requests,
    errors: r.errors,
    "embedding calls": r.embedding_calls,
    "embedding calls/request": r.embedding_calls_per_request,
    "chat calls": r.chat_calls,
    "chat calls/request": r.chat_calls_per_request,
    "coalesced followers": r.followers,
    "answers with a timed-out strategy": r.degraded,
    "TTFT p50/p95 ms": `${r.ttft.p50} / ${r.ttft.p95}`,
    "answer p50/p95 ms": `${r.total.p50} / ${r.total.p95}`,
    "req/s": r.requests_per_second,
    "alone: TTFT − delay p50/p95 ms": `${r.solo_added_to_first_token.p50} / ${r.solo_added_to_first_token.p95}`,
  });
  console.table({ "batching + coalescing on": row(on), "off (every request alone)": row(off) });
  console.log(
    `provider calls per request: ${(on.embedding_calls_per_request + on.chat_calls_per_request).toFixed(3)} on vs ${(off.embedding_calls_per_request + off.chat_calls_per_request).toFixed(3)} off; ` +
      `answer p50 ${on.total.p50} vs ${off.total.p50} ms (${(on.total.p50 / off.total.p50).toFixed(2)}×), p95 ${on.total.p95} vs ${off.total.p95} ms`,
  );
  const report = {
    date: new Date().toISOString(),
    clients: CLIENTS,
    waves: WAVES,
    embed_ms: EMBED_MS,
    first_token_ms: FIRST_TOKEN_MS,
    on,
    off,
  };
  mkdirSync(join(import.meta.dirname, "../reports"), { recursive: true });
  writeFileSync(join(import.meta.dirname, "../reports/bench-durable.json"), `${JSON.stringify(report, null, 2)}\n`);
} finally {
  await fake.close();
}
