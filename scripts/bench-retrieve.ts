// npm run bench:retrieve: retrieve latency through `wrangler dev` next to the raw time of the same
// SQL run directly against the embedded Postgres, in one run, with the demo data loaded.
// BENCH_STRATEGIES=semantic,keyword,multi_query picks strategies (default: the configured default).

import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import postgres from "postgres";
import { keywordSearch, semanticSearch, speakersInScope } from "../src/db/search.ts";
import { localEmbedder } from "../src/providers/local-embedder.ts";
import { demoConversations, ingestAll } from "./lib/demo-data.ts";
import { DEMO_QUESTIONS as QUERIES } from "./lib/demo-questions.ts";
import { startLocalStack } from "./lib/local-stack.ts";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15);
const strategies = process.env.BENCH_STRATEGIES?.split(",") ?? ["keyword"];

const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
const round = (x: number) => Number(x.toFixed(2));

// The cache is off: this compares retrieval itself with its SQL (a cached retrieve is measured by bench:ask's cached phase).
const stack = await startLocalStack({ CACHE_ENABLED: "false" });
const sql = postgres(stack.databaseUrl, { max: 1, fetch_types: false, onnotice: () => {} });
try {
  await ingestAll(stack.url, "dev-local-key", demoConversations());
  const embedder = localEmbedder({ dimensions: 384 });
  const tenant = "dev";
  const headers = { authorization: "Bearer dev-local-key", "content-type": "application/json" };

  // Warm both paths (isolate start, prepared statements) before measuring.
  for (const query of QUERIES) {
    await fetch(`${stack.url}/api/rag/retrieve`, { method: "POST", headers, body: JSON.stringify({ query, strategies }) }).then((r) =>
      r.arrayBuffer(),
    );
  }
  // The Worker's own search functions, with the default settings: the same statements, in the same transactions.
  const TIMEOUT_MS = 3000;
  const runStatements = async (db: postgres.Sql, query: string) => {
    // The Worker looks up the scope's speakers only for multi_query.
    if (strategies.includes("multi_query")) await speakersInScope(db, { tenantId: tenant }, TIMEOUT_MS);
    for (const s of strategies) {
      if (s === "keyword") await keywordSearch(db, { tenantId: tenant }, query, 60, TIMEOUT_MS);
      else {
        const [v] = await embedder.embed([query]);
        await semanticSearch(db, { tenantId: tenant }, { model: embedder.model, vector: v! }, 60, 100, TIMEOUT_MS);
      }
    }
  };
  const app: number[] = [];
  const raw: number[] = [];
  const rawFresh: number[] = [];
  const health: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    for (const query of QUERIES) {
      let t = performance.now();
      const res = await fetch(`${stack.url}/api/rag/retrieve`, { method: "POST", headers, body: JSON.stringify({ query, strategies }) });
      if (!res.ok) throw new Error(`retrieve failed: ${res.status} ${await res.text()}`);
      await res.arrayBuffer();
      app.push(performance.now() - t);

      // The same statements, run one after the other directly on a warm connection (statements already prepared)…
      t = performance.now();
      await runStatements(sql, query);
      raw.push(performance.now() - t);
      // …and on a new connection, as every request gets locally (Hyperdrive's pool is a production feature).
      t = performance.now();
      const fresh = postgres(stack.databaseUrl, { max: 1, fetch_types: false, onnotice: () => {} });
      await runStatements(fresh, query);
      rawFresh.push(performance.now() - t);
      await fresh.end();

      t = performance.now();
      await fetch(`${stack.url}/health`).then((r) => r.arrayBuffer());
      health.push(performance.now() - t);
    }
  }
  const report = {
    date: new Date().toISOString(),
    strategies,
    requests: app.length,
    retrieve_ms: { p50: round(percentile(app, 50)), p95: round(percentile(app, 95)) },
    raw_sql_ms: { p50: round(percentile(raw, 50)), p95: round(percentile(raw, 95)) },
    raw_sql_new_connection_ms: { p50: round(percentile(rawFresh, 50)), p95: round(percentile(rawFresh, 95)) },
    health_ms: { p50: round(percentile(health, 50)), p95: round(percentile(health, 95)) },
    goal_ms: round(1.5 * percentile(raw, 50) + 5),
    goal_new_connection_ms: round(1.5 * percentile(rawFresh, 50) + 5),
  };
  console.log(`strategies: ${strategies.join(",")}; ${report.requests} requests over ${QUERIES.length} queries`);
  console.table({
    "retrieve (HTTP, wrangler dev)": report.retrieve_ms,
    "raw SQL, warm connection": report.raw_sql_ms,
    "raw SQL, new connection": report.raw_sql_new_connection_ms,
    "GET /health": report.health_ms,
  });
  const verdict = (goal: number) => `${goal} ms → ${report.retrieve_ms.p50 <= goal ? "met" : "not met"}`;
  console.log(
    `retrieve p50 ${report.retrieve_ms.p50} ms; goal 1.5 × raw + 5 ms: warm ${verdict(report.goal_ms)}; new connection ${verdict(report.goal_new_connection_ms)}`,
  );
  mkdirSync(join(import.meta.dirname, "../reports"), { recursive: true });
  writeFileSync(join(import.meta.dirname, "../reports/bench-retrieve.json"), `${JSON.stringify(report, null, 2)}\n`);
} finally {
  await sql.end();
  await stack.stop();
}
