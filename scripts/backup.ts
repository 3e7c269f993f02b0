// npm run backup: writes a backup of the local database (a gzip'd logical dump, scripts/lib/backup.ts).
// Works while `npm start` runs (through its database server, consistent in one transaction) and
// when it does not (it opens the data directory itself). DATABASE_URL backs up another Postgres.
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { backupFileName, writeBackup } from "./lib/backup.ts";
import { parseCli } from "./lib/cli.ts";
import { dataDirOwner, startEmbeddedPostgres } from "./lib/embedded-postgres.ts";
import { readRunRecord, runRecordFile } from "./lib/run-record.ts";

const USAGE = `usage: npm run backup [-- --out FILE]
  Backs up the local database (RAG_DATA_DIR, default .data) to FILE
  (default: <data dir>/backups/convo-rag-<time>.backup.gz), also while npm start runs.
  DATABASE_URL=postgres://… backs up that database instead. Restore with npm run restore.`;

const { values } = parseCli({ out: { type: "string" } }, USAGE);

const root = resolve(process.env.RAG_DATA_DIR ?? ".data");
const dataDir = join(root, "pglite");
const out = resolve(values.out ?? backupFileName(join(root, "backups")));
const started = performance.now();
try {
  let url = process.env.DATABASE_URL;
  let stop = async () => {};
  if (!url) {
    if (!existsSync(join(dataDir, "PG_VERSION"))) throw new Error(`no database in ${dataDir} (run npm start first, or set RAG_DATA_DIR)`);
    if (dataDirOwner(dataDir) !== undefined) {
      // npm start is running: back up through its server.
      url = readRunRecord(root)?.database;
      if (!url)
        throw new Error(
          `npm start holds ${dataDir} but has not recorded its database in ${runRecordFile(root)} yet: try again in a moment`,
        );
    } else {
      const pg = await startEmbeddedPostgres({ dataDir });
      url = pg.url;
      stop = () => pg.stop();
    }
  }
  try {
    const result = await writeBackup(url, out);
    const rows = result.tables.reduce((n, t) => n + t.rows, 0);
    console.log(
      `backup written: ${out} (${(result.bytes / 1024 / 1024).toFixed(1)} MB, ${rows} rows in ${result.tables.length} tables, ${((performance.now() - started) / 1000).toFixed(1)} s)`,
    );
    for (const t of result.tables) console.log(`  ${t.name}: ${t.rows}`);
  } finally {
    await stop();
  }
} catch (err) {
  console.error(`backup failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
}
