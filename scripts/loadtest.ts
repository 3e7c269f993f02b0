// npm run loadtest: the design's three workloads against a running instance, at once, with
// autocannon. Simple questions, complex analytical questions and conversational follow-ups in a
// session share the connections 3 : 1 : 2. A share of the simple and complex asks (--cached)
// repeats a small set of questions (cache hits once warm); the rest are new questions (misses).
// Follow-ups are never cached (a session's answer depends on its history); a session's opening
// question, which has none, can be.
//
//   npm run loadtest                                  own throwaway stack with the demo data
//   npm run loadtest -- --url http://127.0.0.1:8787   a running instance (npm start), dev key
//   options: --connections 50 --duration 30 --cached 0.5 --key dev-local-key --out reports
//
// Per scenario: mean, median, p95, p99, min, max latency (to the end of the response, SSE
// included), requests/s, errors and cache hit rate; written to <out>/loadtest-<time>.{json,md,svg}.

import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import autocannon from "autocannon";
import { demoConversations, ingestAll } from "./lib/demo-data.ts";
import { DEMO_QUESTIONS } from "./lib/demo-questions.ts";
import { latencyChartSvg, markdownReport, type ScenarioReport } from "./lib/loadtest-report.ts";
import { type LocalStack, startLocalStack } from "./lib/local-stack.ts";

process.env.WRANGLER_SEND_METRICS = "false";
const { values: args } = parseArgs({
  options: {
    url: { type: "string" },
    key: { type: "string", default: "dev-local-key" },
    connections: { type: "string", default: "50" },
    duration: { type: "string", default: "30" },
    cached: { type: "string", default: "0.5" },
    out: { type: "string", default: join(import.meta.dirname, "../reports") },
  },
});
const CONNECTIONS = Number(args.connections);
const DURATION = Number(args.duration);
const CACHED = Number(args.cached);
if (!(CONNECTIONS >= 3) || !(DURATION > 0) || !(CACHED >= 0 && CACHED <= 1)) {
  console.error("--connections must be ≥ 3, --duration > 0 and --cached between 0 and 1");
  process.exit(2);
}

const COMPLEX = [
  "Compare what was decided about the beta date and the export fix, and who decided it.",
  "Summarise every decision about the timeline across the conversations, with dates.",
  "Which problems did customers report, what caused them and how were they resolved?",
  "What risks to the launch were raised, by whom, and what was done about each?",
];
const FOLLOW_UPS = ["Tell me more about that.", "Who else was involved?", "And when was that decided?"];

let unique = 0;
/** A question: one of the repeated set with probability CACHED, else a new one (a miss). */
const pick = (pool: string[]) => {
  const q = pool[Math.floor(Math.random() * pool.length)]!;
  return Math.random() < CACHED ? q : `${q.replace(/\?$/, "")} (request ${++unique})?`;
};

interface Scenario {
  name: "simple" | "complex" | "follow-up";
  weight: number;
  requests: autocannon.Request[];
}

function scenarios(key: string): Scenario[] {
  const headers = { authorization: `Bearer ${key}`, "content-type": "application/json" };
  const ask = (body: () => object): autocannon.Request => ({
    method: "POST",
    path: "/api/rag/ask",
    headers,
    setupRequest: (req) => ({ ...req, body: JSON.stringify(body()) }),
  });
  return [
    { name: "simple", weight: 3, requests: [ask(() => ({ query: pick(DEMO_QUESTIONS) }))] },
    { name: "complex", weight: 1, requests: [ask(() => ({ query: pick(COMPLEX), top_k: 24, strategy: "diversity" }))] },
    {
      name: "follow-up",
      weight: 2,
      // A session per round: a question, then follow-ups leaning on it.
      requests: [
        {
          method: "POST",
          path: "/api/rag/ask",
          headers,
          setupRequest: (req, context) => {
            const session = ((context as { session?: string }).session = `load-${crypto.randomUUID()}`);
            return {
              ...req,
              body: JSON.stringify({ query: DEMO_QUESTIONS[Math.floor(Math.random() * DEMO_QUESTIONS.length)], session_id: session }),
            };
          },
        },
        ...FOLLOW_UPS.map(
          (query): autocannon.Request => ({
            method: "POST",
            path: "/api/rag/ask",
            headers,
            setupRequest: (req, context) => ({
              ...req,
              body: JSON.stringify({ query, session_id: (context as { session?: string }).session }),
            }),
          }),
        ),
      ],
    },
  ];
}

const percentile = (sorted: number[], p: number) =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]! : NaN;

async function run(url: string, scenario: Scenario, connections: number): Promise<ScenarioReport> {
  const latencies: number[] = [];
  const byCache = { hit: [] as number[], miss: [] as number[] };
  // autocannon calls onResponse and then emits "response" for the same reply, synchronously.
  let last: "hit" | "miss" | undefined;
  let hits = 0;
  let cacheable = 0;
  let non2xx = 0;
  const requests = scenario.requests.map((r) => ({
    ...r,
    onResponse: (status: number, _body: string, _context: object, headers: Record<string, string | string[] | undefined> | undefined) => {
      if (status < 200 || status >= 300) non2xx++;
      const cache = headers?.["x-cache"];
      last = undefined;
      if (typeof cache === "string" && cache !== "BYPASS") {
        cacheable++;
        last = cache.startsWith("HIT") ? "hit" : "miss";
        if (last === "hit") hits++;
      }
    },
  }));
  // Without a callback autocannon returns the running instance, which is also a promise of the result.
  const instance = autocannon({ url, connections, duration: DURATION, requests, timeout: 60 }) as unknown as autocannon.Instance &
    Promise<autocannon.Result>;
  instance.on("response", (_client: unknown, _status: number, _bytes: number, responseTime: number) => {
    latencies.push(responseTime);
    if (last) byCache[last].push(responseTime);
    last = undefined;
  });
  const result = await instance;
  latencies.sort((a, b) => a - b);
  const r1 = (v: number) => Math.round(v * 10) / 10;
  const split = (xs: number[]) => {
    xs.sort((a, b) => a - b);
    return xs.length
      ? { requests: xs.length, median: r1(percentile(xs, 50)), p95: r1(percentile(xs, 95)), p99: r1(percentile(xs, 99)) }
      : null;
  };
  const mean = latencies.reduce((a, b) => a + b, 0) / (latencies.length || 1);
  return {
    name: scenario.name,
    connections,
    requests: latencies.length,
    requests_per_second: Number((latencies.length / DURATION).toFixed(2)),
    latency_ms: {
      mean: Number(mean.toFixed(1)),
      median: r1(percentile(latencies, 50)),
      p95: r1(percentile(latencies, 95)),
      p99: r1(percentile(latencies, 99)),
      min: r1(latencies[0] ?? NaN),
      max: r1(latencies.at(-1) ?? NaN),
    },
    /** The same latencies split by cache outcome (cacheable asks only). */
    cached_ms: split(byCache.hit),
    uncached_ms: split(byCache.miss),
    errors: result.errors + result.timeouts + non2xx,
    cache_hit_rate: cacheable ? Number((hits / cacheable).toFixed(3)) : null,
  };
}

let stack: LocalStack | undefined;
let url = args.url;
try {
  if (!url) {
    console.log("starting a throwaway stack with the demo data …");
    stack = await startLocalStack({ LOG_REQUESTS: "false" });
    url = stack.url;
    await ingestAll(url, args.key!, demoConversations());
  }
  // Warm-up: the repeated questions once each (the cached share then hits), and the isolate.
  for (const q of [...DEMO_QUESTIONS, ...COMPLEX]) {
    const res = await fetch(`${url}/api/rag/ask`, {
      method: "POST",
      headers: { authorization: `Bearer ${args.key}`, "content-type": "application/json" },
      body: JSON.stringify({ query: q, ...(COMPLEX.includes(q) ? { top_k: 24, strategy: "diversity" } : {}) }),
    });
    if (!res.ok) throw new Error(`warm-up ask failed: ${res.status} ${await res.text()}`);
    await res.arrayBuffer();
  }
  const list = scenarios(args.key!);
  const total = list.reduce((n, s) => n + s.weight, 0);
  // Connections by weight (3 : 1 : 2), at least one each.
  const shares = list.map((s) => Math.max(1, Math.round((CONNECTIONS * s.weight) / total)));
  console.log(
    `${CONNECTIONS} connections (${list.map((s, i) => `${s.name} ${shares[i]}`).join(", ")}) for ${DURATION} s, cached share ${CACHED} …`,
  );
  const started = new Date();
  const reports = await Promise.all(list.map((s, i) => run(url!, s, shares[i]!)));
  const report = {
    date: started.toISOString(),
    url,
    connections: CONNECTIONS,
    duration_s: DURATION,
    cached_share: CACHED,
    scenarios: reports,
  };
  console.table(
    Object.fromEntries(
      reports.map((r) => [
        r.name,
        {
          conns: r.connections,
          requests: r.requests,
          "req/s": r.requests_per_second,
          mean: r.latency_ms.mean,
          median: r.latency_ms.median,
          p95: r.latency_ms.p95,
          p99: r.latency_ms.p99,
          min: r.latency_ms.min,
          max: r.latency_ms.max,
          errors: r.errors,
          "hit rate": r.cache_hit_rate ?? "—",
          "hits p50/p95/p99": r.cached_ms ? `${r.cached_ms.median} / ${r.cached_ms.p95} / ${r.cached_ms.p99}` : "—",
          "misses p50/p95/p99": r.uncached_ms ? `${r.uncached_ms.median} / ${r.uncached_ms.p95} / ${r.uncached_ms.p99}` : "—",
        },
      ]),
    ),
  );
  mkdirSync(args.out!, { recursive: true });
  const base = join(args.out!, `loadtest-${started.toISOString().replace(/[:.]/g, "-")}`);
  writeFileSync(`${base}.json`, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(`${base}.md`, markdownReport(report, `${base.split("/").at(-1)}.svg`));
  writeFileSync(`${base}.svg`, latencyChartSvg(reports));
  console.log(`report: ${base}.{json,md,svg}`);
  if (reports.some((r) => r.errors > 0)) process.exitCode = 1;
} finally {
  await stack?.stop();
}
