// npm run bench:prepare: what postgres.js's prepared statements (prepare: true, as the Worker's
// client uses them) buy over unnamed statements, for the API's keyword search, on the embedded
// database and, when Debian's postgresql is installed, on a real PostgreSQL server (which is what
// Hyperdrive fronts in production). One warm connection per mode, the same statement with varying
// queries; prints p50 per statement and the ratio. docs/LOCAL_DATABASE.md has the reading.
//   options: --runs 400 (the search runs over the bulk tenant's 15,000 chunks, test/helpers/bulk-chunks.ts)
import { parseArgs } from "node:util";
import postgres from "postgres";
import { keywordQuery } from "../src/db/search.ts";
import { BULK, loadBulkChunks } from "../test/helpers/bulk-chunks.ts";
import { startRealPostgres } from "../test/helpers/real-postgres.ts";
import { startEmbeddedPostgres } from "./lib/embedded-postgres.ts";
import { migrate, readMigrations } from "./lib/migrations.ts";

const { values: args } = parseArgs({ options: { runs: { type: "string", default: "400" } } });
const RUNS = Number(args.runs);
const WORDS = ["timeline", "billing", "export", "freeze", "hiring", "budget", "release", "review", "support", "launch"];

async function measure(url: string, prepare: boolean): Promise<number> {
  const sql = postgres(url, { max: 1, prepare, fetch_types: false, onnotice: () => {} });
  try {
    const times: number[] = [];
    for (let i = 0; i < RUNS + 50; i++) {
      const started = performance.now();
      await keywordQuery(
        sql,
        { tenantId: BULK.tenant },
        `what about the ${WORDS[i % WORDS.length]} and ${WORDS[(i * 3) % WORDS.length]}`,
        20,
      );
      if (i >= 50) times.push(performance.now() - started);
    }
    times.sort((a, b) => a - b);
    return times[Math.floor(times.length / 2)]!;
  } finally {
    await sql.end();
  }
}

/**
 * Debian's PostgreSQL has no pgvector: the first migration with the vectors as real[] and no HNSW
 * index, and the same bulk chunks with empty vectors (the keyword search never reads them).
 */
async function schemaWithoutPgvector(sql: postgres.Sql) {
  const init = readMigrations()[0]!
    .sql.replace(/CREATE EXTENSION[^;]*;/, "")
    .replaceAll("vector(384)", "real[]")
    .replace(/CREATE INDEX chunks_embedding_hnsw_idx[^;]*;/, "");
  await sql.unsafe(init);
  await sql`INSERT INTO tenants (id) VALUES (${BULK.tenant})`;
  await sql`INSERT INTO conversations (tenant_id, id) VALUES (${BULK.tenant}, 'bulk')`;
  await sql`
    INSERT INTO conversation_chunks (tenant_id, conversation_id, order_index, text, message_ids, authors, author_types,
      author_type, start_ts, end_ts, token_count, content_hash, embedding_model, embedding)
    SELECT ${BULK.tenant}, 'bulk', g, 'note ' || g || ' about ' || (ARRAY['budget','roadmap','hiring','billing','outage','design'])[1 + g % 6],
      ARRAY['m' || g], ARRAY['Common'], ARRAY['human'], 'human', now(), now(), 8, md5(g::text), 'bulk', '{}'::real[]
    FROM generate_series(1, ${BULK.textRows}) AS g`;
  await sql`ANALYZE`;
}

async function run(name: string, url: string, pgvector: boolean) {
  const setup = postgres(url, { max: 1, onnotice: () => {} });
  if (pgvector) {
    await migrate(setup);
    await loadBulkChunks(setup);
  } else await schemaWithoutPgvector(setup);
  await setup.end();
  // Interleaved, twice each, so a drift of the machine hits both modes alike.
  const results = { prepared: [] as number[], unnamed: [] as number[] };
  for (let round = 0; round < 2; round++) {
    results.prepared.push(await measure(url, true));
    results.unnamed.push(await measure(url, false));
  }
  const p = Math.min(...results.prepared);
  const u = Math.min(...results.unnamed);
  console.log(`| ${name} | ${p.toFixed(2)} | ${u.toFixed(2)} | ${(u / p).toFixed(2)}× |`);
}

console.log(`keyword search over ${BULK.textRows} chunks, p50 ms per statement (${RUNS} runs, best of 2 interleaved rounds)`);
console.log("| database | prepare: true | prepare: false | unnamed / prepared |");
console.log("|---|---:|---:|---:|");
const embedded = await startEmbeddedPostgres();
try {
  await run("embedded (PGlite over the wire)", embedded.url, true);
} finally {
  await embedded.stop();
}
try {
  const real = await startRealPostgres();
  try {
    await run("PostgreSQL (Debian, local socket over TCP)", real.url, false);
  } finally {
    await real.stop();
  }
} catch (err) {
  console.log(`| PostgreSQL | not measured: ${err instanceof Error ? err.message : String(err)} | | |`);
}
