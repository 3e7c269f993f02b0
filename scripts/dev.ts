// npm start: embedded Postgres (PGlite + pgvector over the wire protocol), migrations, dev keys,
// demo data on first run, then `wrangler dev` on 127.0.0.1:$PORT. Ctrl-C stops everything.
import postgres from "postgres";
import { resolve } from "node:path";
import { ensureDevKeys } from "./lib/dev-keys.ts";
import { demoConversations, ingestAll } from "./lib/demo-data.ts";
import { startEmbeddedPostgres } from "./lib/embedded-postgres.ts";
import { migrate } from "./lib/migrations.ts";
import { startWranglerDev, waitForHealthy } from "./lib/wrangler-dev.ts";

const started = performance.now();
const port = Number(process.env.PORT ?? 8787);
const dataDir = resolve(process.env.RAG_DATA_DIR ?? ".data");
const dbPort = Number(process.env.PGLITE_PORT ?? 0);
const keys = { userKey: process.env.DEV_API_KEY ?? "dev-local-key", adminKey: process.env.DEV_ADMIN_KEY ?? "dev-admin-key", tenant: "dev" };
const log = (line: string) => console.log(`[start] ${line}`);

const pg = await startEmbeddedPostgres({ dataDir: `${dataDir}/pglite`, port: dbPort });
log(`embedded Postgres (PGlite + pgvector) on ${pg.url} with data in ${dataDir}/pglite`);

const sql = postgres(pg.url, { max: 1, onnotice: () => {} });
let conversations = 0;
try {
  const applied = await migrate(sql, log);
  if (applied.length === 0) log("migrations up to date");
  await ensureDevKeys(sql, keys);
  const [row] = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM conversations`;
  conversations = row!.n;
} finally {
  await sql.end();
}

const wrangler = startWranglerDev({ port, databaseUrl: pg.url, persistTo: `${dataDir}/wrangler` });
let stopping = false;
const shutdown = async (code: number) => {
  if (stopping) return;
  stopping = true;
  await wrangler.stop();
  await pg.stop();
  process.exit(code);
};
process.on("SIGINT", () => void shutdown(0));
process.on("SIGTERM", () => void shutdown(0));
void wrangler.exited.then((code) => shutdown(code));

try {
  await waitForHealthy(wrangler.url, 90_000, wrangler.exited);
  if (conversations === 0 && process.env.SEED_DEMO !== "false" && keys.userKey) {
    const messages = await ingestAll(wrangler.url, keys.userKey, demoConversations());
    log(`loaded the demo data set (${messages} messages)`);
  }
  log(`ready in ${((performance.now() - started) / 1000).toFixed(1)} s: ${wrangler.url}`);
  log(`try: curl -H 'Authorization: Bearer ${keys.userKey || "<key>"}' ${wrangler.url}/api/conversations`);
} catch (err) {
  console.error(`[start] ${err instanceof Error ? err.message : String(err)}`);
  await shutdown(1);
}
