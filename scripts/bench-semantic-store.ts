// npm run bench:semantic-store: the semantic cache's lookup latency on both stores, in one run,
// against the same data: the Postgres store (src/db/semantic-cache.ts) on the embedded database
// over the wire protocol, and the Upstash Vector store (src/answer-cache/upstash-vector-store.ts)
// through @upstash/vector against the local server that speaks Upstash Vector's REST protocol over
// PGlite + pgvector (scripts/lib/upstash-vector-server.ts). So the figures compare the protocols
// and queries, not Upstash's service. A hit is candidates + the accepted entry's answer; a miss
// is candidates that find nothing over the threshold. Each backend's floor is its cheapest round
// trip in the same run (Postgres: SELECT 1; Upstash Vector: fetch of an id that does not exist).
// BENCH_SCOPES (5), BENCH_PER_SCOPE (200, the per-scope cap), BENCH_LOOKUPS (300 per kind).
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Index } from "@upstash/vector";
import postgres from "postgres";
import { upstashVectorStore } from "../src/answer-cache/upstash-vector-store.ts";
import type { Db } from "../src/db/client.ts";
import type { SemanticStore } from "../src/db/ports.ts";
import { putSemanticEntry, semanticCandidates, semanticEntry } from "../src/db/semantic-cache.ts";
import { localEmbedder } from "../src/providers/local-embedder.ts";
import { startEmbeddedPostgres } from "./lib/embedded-postgres.ts";
import { migrate } from "./lib/migrations.ts";
import { startUpstashVectorServer } from "./lib/upstash-vector-server.ts";

const SCOPES = Number(process.env.BENCH_SCOPES ?? 5);
const PER_SCOPE = Number(process.env.BENCH_PER_SCOPE ?? 200);
const LOOKUPS = Number(process.env.BENCH_LOOKUPS ?? 300);
const THRESHOLD = 0.9;
const TENANT = "bench";
const MODEL = "local-hash-v1";

const TOPICS = ["the release checklist", "the database migration", "the support rota", "the staging deploy", "the launch date"];
const PEOPLE = ["Priya", "John", "Marco", "Ana", "Wei", "Olga", "Sam", "Lena"];
const VERBS = ["say about", "decide on", "ask about", "propose for", "write about"];
const question = (i: number) =>
  `What did ${PEOPLE[i % PEOPLE.length]} ${VERBS[Math.floor(i / PEOPLE.length) % VERBS.length]} ${TOPICS[Math.floor(i / 40) % TOPICS.length]} in week ${i}?`;
const answer = (i: number) => ({ meta: { n: i }, pieces: [`Answer ${i}: `, "x".repeat(1500)], done: { ok: true } });

const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
const round = (x: number) => Math.round(x * 100) / 100;

async function main() {
  const pg = await startEmbeddedPostgres();
  const vectorServer = await startUpstashVectorServer({ dimension: 384 });
  const sql = postgres(pg.url, { max: 1, onnotice: () => {} });
  try {
    await migrate(sql);
    await sql`INSERT INTO tenants (id) VALUES (${TENANT}) ON CONFLICT DO NOTHING`;
    const embedder = localEmbedder({ dimensions: 384 });
    const index = new Index({ url: vectorServer.url, token: vectorServer.token, retry: false, enableTelemetry: false });
    const db = sql as unknown as Db;
    const stores: Record<"postgres" | "upstash-vector", { store: SemanticStore; floor: () => Promise<unknown> }> = {
      postgres: {
        store: {
          candidates: (scope, model, vector, threshold, limit) => semanticCandidates(db, TENANT, scope, model, vector, threshold, limit),
          entry: (id) => semanticEntry(db, TENANT, id),
          put: (scope, model, q, vector, entry, ttl, max) => putSemanticEntry(db, TENANT, scope, model, q, vector, entry, ttl, max),
        },
        floor: () => sql`SELECT 1`,
      },
      "upstash-vector": {
        store: upstashVectorStore(index, TENANT),
        floor: () => index.namespace("floor").fetch(["none"]),
      },
    };

    // The same questions, vectors and answers in both stores.
    const total = SCOPES * PER_SCOPE;
    const texts = Array.from({ length: total }, (_, i) => question(i));
    const vectors = await embedder.embed(texts);
    for (const { store } of Object.values(stores))
      for (let i = 0; i < total; i++) await store.put(`scope-${i % SCOPES}`, MODEL, texts[i]!, vectors[i]!, answer(i), 3600, PER_SCOPE);
    const [missVector] = await embedder.embed(["Which kettle brand does the office prefer for green tea?"]);

    const timings: Record<string, Record<string, number[]>> = {};
    const time = async (backend: string, kind: string, work: () => Promise<unknown>) => {
      const started = performance.now();
      await work();
      ((timings[backend] ??= {})[kind] ??= []).push(performance.now() - started);
    };
    let hitsFound = 0;
    for (let round = -20; round < LOOKUPS; round++) {
      const i = (round * 7919 + 13) % total;
      const scope = `scope-${((i % SCOPES) + SCOPES) % SCOPES}`;
      const vector = vectors[(i + total) % total]!;
      // Interleaved, so both backends see the same machine load.
      for (const [backend, { store, floor }] of Object.entries(stores)) {
        const record = round >= 0;
        const run = async (kind: string, work: () => Promise<unknown>) => (record ? time(backend, kind, work) : work());
        await run("floor", floor);
        await run("hit", async () => {
          const [best] = await store.candidates(scope, MODEL, vector, THRESHOLD, 5);
          if (!best || (await store.entry(best.id)) === undefined) throw new Error(`${backend}: no hit for a cached question`);
          if (record) hitsFound++;
        });
        await run("miss", async () => {
          if ((await store.candidates(scope, MODEL, missVector!, THRESHOLD, 5)).length)
            throw new Error(`${backend}: a miss found a candidate`);
        });
      }
    }

    const summary = Object.fromEntries(
      Object.entries(timings).map(([backend, kinds]) => {
        const floorP50 = percentile(kinds.floor!, 50);
        return [
          backend,
          Object.fromEntries(
            Object.entries(kinds).map(([kind, xs]) => [
              kind,
              { p50_ms: round(percentile(xs, 50)), p95_ms: round(percentile(xs, 95)), p50_vs_floor: round(percentile(xs, 50) / floorP50) },
            ]),
          ),
        ];
      }),
    );
    const ratio = (kind: string) => round(percentile(timings["upstash-vector"]![kind]!, 50) / percentile(timings.postgres![kind]!, 50));
    const report = {
      date: new Date().toISOString(),
      setup: {
        scopes: SCOPES,
        per_scope: PER_SCOPE,
        lookups: LOOKUPS,
        threshold: THRESHOLD,
        dimension: 384,
        answer_bytes: JSON.stringify(answer(0)).length,
      },
      note: "Upstash Vector here is a local PGlite + pgvector server speaking its REST protocol: protocol and query cost, not Upstash's service.",
      summary,
      upstash_vs_postgres_p50: { floor: ratio("floor"), hit: ratio("hit"), miss: ratio("miss") },
      hits_checked: hitsFound,
    };
    mkdirSync("reports", { recursive: true });
    const file = join("reports", `bench-semantic-store-${report.date.replace(/[:.]/g, "-")}.json`);
    writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
    console.table(
      Object.entries(summary).flatMap(([backend, kinds]) => Object.entries(kinds).map(([kind, v]) => ({ backend, kind, ...v }))),
    );
    console.log("Upstash Vector / Postgres, p50:", report.upstash_vs_postgres_p50);
    console.log(`report: ${file}`);
  } finally {
    await sql.end();
    await vectorServer.stop();
    await pg.stop();
  }
}

await main();
