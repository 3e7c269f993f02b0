// npm run load:disconnect: 50 clients hold streamed asks for 60 s; every fourth client hangs up
// after its second piece of text. Checks that the others finish without errors, that the upstream
// generation of every client that left is aborted (the local OpenAI-compatible server records it),
// and how memory behaves: the Worker isolate's heap through the DevTools inspector (after a full
// collection before, between and after two halves of the load; in use every 2 s) and workerd's
// resident set from /proc. The provider's rate budget and the tenant's daily token budget are off:
// one tenant sends everything here.
//   options: --clients 50 --duration 60 (seconds) --out reports
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { demoConversations, ingestAll } from "./lib/demo-data.ts";
import { DEMO_QUESTIONS } from "./lib/demo-questions.ts";
import { type RecordedCall, startFakeOpenAI } from "./lib/fake-openai.ts";
import { connectIsolateHeap } from "./lib/isolate-heap.ts";
import { startLocalStack } from "./lib/local-stack.ts";

process.env.WRANGLER_SEND_METRICS = "false";
const { values: args } = parseArgs({
  options: {
    clients: { type: "string", default: "50" },
    duration: { type: "string", default: "60" },
    out: { type: "string", default: join(import.meta.dirname, "../reports") },
  },
});
const CLIENTS = Number(args.clients);
const DURATION_MS = Number(args.duration) * 1000;
/** Growth of the collected heap over the second half that counts as a leak (≈ 2 KB per ask at 2,000 asks). */
const LEAK_MB = 4;
const ANSWER = `${Array.from({ length: 40 }, (_, i) => `word${i}`).join(" ")} [1].`;

/** Resident memory (MB) of the workerd processes in the stack's process group, from /proc. */
function workerdRssMb(group: number): number {
  let kb = 0;
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[2]) !== group || !stat.includes("(workerd)")) continue;
      kb += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
    } catch {
      // The process ended between listing and reading.
    }
  }
  return Math.round(kb / 1024);
}

interface Outcome {
  kind: "completed" | "left" | "failed";
  detail?: string;
}

/** One streamed ask; `leave` hangs up after the second piece of text. */
async function streamedAsk(url: string, query: string, leave: boolean): Promise<Outcome> {
  const controller = new AbortController();
  try {
    const res = await fetch(`${url}/api/rag/ask`, {
      method: "POST",
      headers: { authorization: "Bearer dev-local-key", "content-type": "application/json" },
      body: JSON.stringify({ query, cache: false }),
      signal: controller.signal,
    });
    if (res.status !== 200)
      return { kind: "failed", detail: `status ${res.status} ${((await res.json().catch(() => ({}))) as { type?: string }).type ?? ""}` };
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += value;
      if (leave && (text.match(/event: delta/g) ?? []).length >= 2) {
        controller.abort();
        return { kind: "left" };
      }
    }
    if (text.includes("event: error")) return { kind: "failed", detail: "error event" };
    if (!text.includes("event: done")) return { kind: "failed", detail: "no done event" };
    if (text.includes('"fallback":true')) return { kind: "failed", detail: "fallback answer" };
    return { kind: "completed" };
  } catch (err) {
    return leave && controller.signal.aborted ? { kind: "left" } : { kind: "failed", detail: String(err).slice(0, 120) };
  }
}

const fake = await startFakeOpenAI();
const scenario = `disconnect-${Date.now()}`;
await fetch(`${fake.url}/${scenario}/_control`, {
  method: "POST",
  body: JSON.stringify({ chat: { text: ANSWER, firstTokenDelayMs: 150, tokenDelayMs: 25, wordsPerPiece: 1 } }),
});
const stack = await startLocalStack(
  {
    CHAT_PROVIDER: "openai",
    CHAT_MODEL: "load-model",
    OPENAI_BASE_URL: `${fake.url}/${scenario}/v1`,
    OPENAI_API_KEY: "sk-load",
    CHAT_RATE_LIMIT_RPM: "0",
    CHAT_RATE_LIMIT_TPM: "0",
    TENANT_DAILY_TOKENS: "0",
  },
  { inspector: true },
);
const heap = await connectIsolateHeap(stack.inspectorUrl!).catch(async (err: unknown) => {
  await stack.stop();
  await fake.close();
  throw err;
});
try {
  await ingestAll(stack.url, "dev-local-key", demoConversations());
  for (const q of DEMO_QUESTIONS.slice(0, 4)) await streamedAsk(stack.url, q, false); // warm-up
  const group = stack.processGroup!;
  const memory: { s: number; rss_mb: number; heap_used_mb: number }[] = [];
  let started = Date.now();
  const sample = async () =>
    memory.push({ s: Math.round((Date.now() - started) / 1000), rss_mb: workerdRssMb(group), heap_used_mb: (await heap.usage()).usedMb });
  /** Let the Worker notice the last hang-ups and close their upstream requests, then collect. */
  const settled = async () => {
    await new Promise((r) => setTimeout(r, 1500));
    return (await heap.afterFullGc()).usedMb;
  };
  // The load runs in two halves with a full collection before, between and after: a leak grows the
  // collected heap in both halves alike; caches that fill up and stay bounded grow it in the first.
  const afterGc = [await settled()];
  started = Date.now();
  await sample();
  // A sample the inspector is too busy to answer is skipped, not fatal.
  const sampler = setInterval(() => void sample().catch(() => {}), 2000);
  const outcomes: Outcome[] = [];
  let n = 0;
  const asks: number[] = [];
  for (let half = 0; half < 2; half++) {
    const until = Date.now() + DURATION_MS / 2;
    await Promise.all(
      Array.from({ length: CLIENTS }, async (_, client) => {
        const leaves = client % 4 === 0;
        while (Date.now() < until) {
          const q = DEMO_QUESTIONS[n++ % DEMO_QUESTIONS.length]!;
          outcomes.push(await streamedAsk(stack.url, q, leaves));
        }
      }),
    );
    asks.push(outcomes.length - asks.reduce((a, b) => a + b, 0));
    afterGc.push(await settled());
  }
  clearInterval(sampler);
  await sample();
  await new Promise((r) => setTimeout(r, 8500));
  await sample();
  const calls = ((await (await fetch(`${fake.url}/${scenario}/_calls`)).json()) as RecordedCall[]).filter((c) => c.body.stream);
  const count = (kind: Outcome["kind"]) => outcomes.filter((o) => o.kind === kind).length;
  const growth = (i: number) => Math.round((afterGc[i + 1]! - afterGc[i]!) * 10) / 10;
  const report = {
    date: new Date().toISOString(),
    clients: CLIENTS,
    leaving_clients: Math.ceil(CLIENTS / 4),
    duration_s: DURATION_MS / 1000,
    asks: outcomes.length,
    completed: count("completed"),
    left_mid_stream: count("left"),
    failed: count("failed"),
    failures: [...new Set(outcomes.filter((o) => o.kind === "failed").map((o) => o.detail))].slice(0, 5),
    upstream: {
      generations: calls.length,
      aborted: calls.filter((c) => c.aborted).length,
      finished: calls.filter((c) => c.finished).length,
    },
    /** The Worker isolate's heap (the memory Workers limit to 128 MB) after a full collection: before the load, after each half. */
    isolate_heap_mb: {
      after_gc: { start: afterGc[0]!, half: afterGc[1]!, end: afterGc[2]! },
      growth_first_half: growth(0),
      growth_second_half: growth(1),
      asks_per_half: asks,
      max_used: Math.max(...memory.map((m) => m.heap_used_mb)),
    },
    /** workerd's resident set, all of its processes: the local runtime's, not a Workers limit. */
    workerd_rss_mb: {
      start: memory[0]!.rss_mb,
      max: Math.max(...memory.map((m) => m.rss_mb)),
      end: memory.at(-2)!.rss_mb,
      after: memory.at(-1)!.rss_mb,
    },
    samples: memory,
  };
  const h = report.isolate_heap_mb;
  console.log(
    `${report.asks} streamed asks by ${CLIENTS} clients over ${report.duration_s} s; ${report.leaving_clients} clients hang up after two pieces each time`,
  );
  console.table({
    "completed (staying clients)": report.completed,
    "left mid-stream": report.left_mid_stream,
    "failed (staying clients)": report.failed,
    "upstream generations": report.upstream.generations,
    "upstream aborted": report.upstream.aborted,
    "upstream finished": report.upstream.finished,
    "isolate heap after GC: start / half / end (MB)": `${h.after_gc.start} / ${h.after_gc.half} / ${h.after_gc.end}`,
    "isolate heap growth: first / second half (MB)": `${h.growth_first_half} / ${h.growth_second_half} (${asks.join(" / ")} asks)`,
    "isolate heap max in use, garbage included (MB)": h.max_used,
    "workerd RSS start / max / end / 10 s after (MB)": `${report.workerd_rss_mb.start} / ${report.workerd_rss_mb.max} / ${report.workerd_rss_mb.end} / ${report.workerd_rss_mb.after}`,
  });
  if (report.failures.length) console.log("failures:", report.failures);
  mkdirSync(args.out!, { recursive: true });
  const file = join(args.out!, `load-disconnect-${report.date.replace(/[:.]/g, "-")}.json`);
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`report: ${file}`);
  // Every hang-up must have stopped its generation, and nobody who stayed may have seen an error.
  // ... and the collected heap may not keep growing once the first half has filled the caches.
  if (report.failed > 0 || report.upstream.aborted < report.left_mid_stream || h.growth_second_half > LEAK_MB) process.exitCode = 1;
} finally {
  heap.close();
  await stack.stop();
  await fake.close();
}
