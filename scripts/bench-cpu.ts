// npm run bench:cpu: the Worker isolate's CPU per request under `npm start`'s stack (dev.ts,
// wrangler dev, the embedded database), read from V8's sampling profiler through the isolate's
// inspector. For each kind of request: a warm-up, then --requests requests, --concurrency at a
// time, profiled; CPU ms per request, and that over GET /health measured in the same run (the
// floor: routing, auth-free middleware, miniflare's own work). Also the Durable Object requests
// and embedding/model calls per 1,000 asks (from /metrics), and the top functions of the uncached
// ask. Under wrangler dev the Durable Objects run in the Worker's isolate, so their CPU counts too.
//   options: --requests 200 --concurrency 6 --conversations 30 --messages 60 --var NAME:value…

import { join } from "node:path";
import { parseArgs } from "node:util";
import { startDevStack } from "./lib/dev-stack.ts";
import { connectInspector } from "./lib/inspector.ts";
import { type CpuReport, devBundleMap, profileIsolate } from "./lib/isolate-profile.ts";
import { PEOPLE, SUBJECTS, syntheticMessage } from "./lib/synthetic-archive.ts";

process.env.WRANGLER_SEND_METRICS = "false";
const { values: args } = parseArgs({
  options: {
    requests: { type: "string", default: "200" },
    concurrency: { type: "string", default: "6" },
    conversations: { type: "string", default: "30" },
    messages: { type: "string", default: "60" },
    var: { type: "string", multiple: true, default: [] },
  },
});
const N = Number(args.requests);
const CONCURRENCY = Number(args.concurrency);
const KEY = "dev-local-key";
const ADMIN = "dev-admin-key";

/** Questions nobody asked before in this run: each a different person, subject and verb. */
const VERBS = ["say", "mention", "decide", "report", "propose", "promise", "worry", "announce", "ask", "note", "suggest", "confirm"];
const fresh = (() => {
  let i = 0;
  return () => {
    const n = i++;
    const person = PEOPLE[n % PEOPLE.length]!;
    const subject = SUBJECTS[Math.floor(n / PEOPLE.length) % SUBJECTS.length]!;
    const verb = VERBS[Math.floor(n / (PEOPLE.length * SUBJECTS.length)) % VERBS.length]!;
    const round = Math.floor(n / (PEOPLE.length * SUBJECTS.length * VERBS.length));
    return `What did ${person} ${verb} about ${subject}${round ? ` in sprint ${round}` : ""}?`;
  };
})();

interface Kind {
  name: string;
  request: () => { method: string; path: string; body?: unknown };
  sse?: boolean;
}

const ask = (query: string, stream: boolean) => ({ method: "POST", path: "/api/rag/ask", body: { query, stream } });
const KINDS: Kind[] = [
  { name: "GET /health", request: () => ({ method: "GET", path: "/health" }) },
  { name: "cached ask, JSON", request: () => ask("What did Priya say about the billing migration?", false) },
  { name: "cached ask, SSE", request: () => ask("What did Priya say about the billing migration?", true), sse: true },
  { name: "uncached ask, JSON", request: () => ask(fresh(), false) },
  { name: "uncached ask, SSE", request: () => ask(fresh(), true), sse: true },
  { name: "retrieve", request: () => ({ method: "POST", path: "/api/rag/retrieve", body: { query: fresh() } }) },
];

async function send(url: string, kind: Kind, tally: Map<string, number>): Promise<void> {
  const { method, path, body } = kind.request();
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${KEY}`, ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${kind.name}: ${res.status} ${text.slice(0, 300)}`);
  if (kind.sse && !text.includes("event: done")) throw new Error(`${kind.name}: the stream did not end with done`);
  const cache = res.headers.get("x-cache") ?? "-";
  tally.set(cache, (tally.get(cache) ?? 0) + 1);
}

async function run(url: string, kind: Kind, count: number, tally = new Map<string, number>()): Promise<Map<string, number>> {
  let issued = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (issued < count) {
        issued++;
        await send(url, kind, tally);
      }
    }),
  );
  return tally;
}

/** Sums a counter of the Prometheus text exposition over its label sets (optionally filtered). */
function counter(metrics: string, name: string, labels: RegExp = /.*/): number {
  let total = 0;
  for (const line of metrics.split("\n")) {
    const m = /^([a-z_]+)(\{[^}]*\})? ([0-9.e+]+)$/.exec(line);
    if (m && m[1] === name && labels.test(m[2] ?? "")) total += Number(m[3]);
  }
  return total;
}
const metrics = async (url: string) =>
  (await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } })).text().catch(() => "");

async function main() {
  const vars = Object.fromEntries(
    (args.var as string[]).map((v) => [v.slice(0, v.indexOf(":")), v.slice(v.indexOf(":") + 1)] as [string, string]),
  );
  const stack = await startDevStack({ prefix: "convo-rag-cpu-", vars: { KEY_RATE_LIMIT: "off", ...vars } });
  const inspector = await connectInspector(stack.inspectorUrl);
  try {
    const { url } = stack;
    // The archive: conversations of team-chat messages, ingested before anything is measured.
    for (let c = 0; c < Number(args.conversations); c++) {
      const id = `cpu-${c}`;
      const messages = Array.from({ length: Number(args.messages) }, (_, i) => syntheticMessage(id, i + 1));
      const res = await fetch(`${url}/api/conversations`, {
        method: "POST",
        headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
        body: JSON.stringify({ id, title: `Team chat ${c}`, messages }),
      });
      if (!res.ok) throw new Error(`ingest ${id}: ${res.status} ${await res.text()}`);
    }
    console.log(
      `bench:cpu: ${N} requests per kind, ${CONCURRENCY} at a time; ${args.conversations} conversations × ${args.messages} messages; stack log ${stack.logFile}`,
    );
    const rows: { kind: Kind; report: CpuReport; tally: Map<string, number>; perRequest: number }[] = [];
    let askCounts = { asks: 0, durable: 0, embeddings: 0, llm: 0 };
    for (const kind of KINDS) {
      await run(url, kind, Math.max(10, Math.round(N / 10))); // warm-up (and the cached question's first answer)
      const before = await metrics(url);
      let tally = new Map<string, number>();
      const report = await profileIsolate(
        inspector,
        async () => {
          tally = await run(url, kind, N);
        },
        { map: devBundleMap(join(import.meta.dirname, "..")) },
      );
      const after = await metrics(url);
      if (kind.name.startsWith("uncached ask")) {
        const delta = (name: string) => counter(after, name) - counter(before, name);
        askCounts = {
          asks: askCounts.asks + N,
          durable: askCounts.durable + delta("rag_durable_object_requests_total"),
          embeddings: askCounts.embeddings + delta("rag_embedding_calls_total"),
          llm: askCounts.llm + delta("rag_llm_calls_total"),
        };
      }
      rows.push({ kind, report, tally, perRequest: report.cpuMs / N });
    }
    const floor = rows[0]!.perRequest;
    console.log("\n| request | isolate CPU ms/request | over /health | requests/s | x-cache |");
    console.log("|---|---:|---:|---:|---|");
    for (const { kind, report, tally, perRequest } of rows) {
      const over = kind === rows[0]!.kind ? "" : `+${(perRequest - floor).toFixed(2)}`;
      const cache = [...tally].map(([k, v]) => `${k} ${v}`).join(", ");
      console.log(`| ${kind.name} | ${perRequest.toFixed(2)} | ${over} | ${((N / report.wallMs) * 1000).toFixed(1)} | ${cache} |`);
    }
    const per1000 = (n: number) => ((n / askCounts.asks) * 1000).toFixed(0);
    console.log(
      `\nPer 1,000 uncached asks: ${per1000(askCounts.durable)} Durable Object requests, ${per1000(askCounts.embeddings)} embedding calls, ${per1000(askCounts.llm)} answer generations (rag_llm_calls_total).`,
    );
    const uncached = rows.find((r) => r.kind.name === "uncached ask, JSON")!;
    console.log(`\nTop functions (self time) of "${uncached.kind.name}", ms per request:`);
    for (const { name, ms } of uncached.report.top) console.log(`  ${(ms / N).toFixed(3)}  ${name}`);
    for (const row of rows.filter((r) => r.kind.name.startsWith("uncached") || r.kind === rows[0]!.kind)) {
      console.log(`\nBy source file or package (self time) of "${row.kind.name}", ms per request:`);
      for (const { file, ms } of row.report.byFile) console.log(`  ${(ms / N).toFixed(3)}  ${file}`);
    }
  } finally {
    inspector.close();
    await stack.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
