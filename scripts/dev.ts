// npm start: embedded Postgres (PGlite + pgvector over the wire protocol), migrations, dev keys,
// demo data on first run, then `wrangler dev` on 127.0.0.1:$PORT, and the database's upkeep
// (checkpoints, hourly housekeeping and VACUUM: lib/maintenance.ts). Ctrl-C stops everything.
// Arguments after `--` go to `wrangler dev` (e.g. `npm start -- --var CACHE_ENABLED:false`).
//
// This process supervises two children, each in a process group of its own: the database
// (lib/database-server.ts) and wrangler dev with its workerd and esbuild (under
// lib/process-guard.ts). A database that dies is started again on the same files and port after
// DATABASE_RESTART_SECONDS (meanwhile the API serves cached answers and 503 for the rest), at most
// DATABASE_RESTARTS times in 10 minutes; past that, or when wrangler dev ends, npm start stops the
// rest and exits. When this process dies, each child notices its IPC channel close and stops its group. A run killed before
// its children could stop leaves <data dir>/server.json behind: the next npm start stops the
// processes that carry that run's id (lib/run-record.ts) before it opens the database.

import { randomUUID } from "node:crypto";
import { resolve } from "node:path";
import postgres from "postgres";
import { backupFileName, listBackups, pruneBackups, writeBackup } from "./lib/backup.ts";
import { type DatabaseChild, startDatabaseChild } from "./lib/database-child.ts";
import { demoConversations, ingestAll } from "./lib/demo-data.ts";
import { ensureDevKeys } from "./lib/dev-keys.ts";
import { portIsFree } from "./lib/free-port.ts";
import { startMaintenance } from "./lib/maintenance.ts";
import { migrate } from "./lib/migrations.ts";
import { claimDataFolder, RUN_ENV, type Run } from "./lib/run-record.ts";
import { startWranglerDev, waitForHealthy } from "./lib/wrangler-dev.ts";

const started = performance.now();
const port = Number(process.env.PORT ?? 8787);
const dataDir = resolve(process.env.RAG_DATA_DIR ?? ".data");
const dbPort = Number(process.env.PGLITE_PORT ?? 0);
const keys = { userKey: process.env.DEV_API_KEY ?? "dev-local-key", adminKey: process.env.DEV_ADMIN_KEY ?? "dev-admin-key", tenant: "dev" };
const log = (line: string) => console.log(`[start] ${line}`);

function fail(err: unknown): never {
  console.error(`[start] ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}

// Every process this run starts carries its id: what a killed run left is found by it.
const runId = randomUUID();
process.env[RUN_ENV] = runId;
let run: Run;
let pg: DatabaseChild;
try {
  run = await claimDataFolder(dataDir, runId, log);
} catch (err) {
  // Another npm start runs on this folder: say which, change nothing.
  fail(err);
}
try {
  if (!(await portIsFree(port))) {
    throw new Error(`port ${port} on 127.0.0.1 is in use by another program: stop it, or choose another port (PORT=${port + 1} npm start)`);
  }
  pg = await startDatabaseChild({ dataDir: `${dataDir}/pglite`, port: dbPort });
} catch (err) {
  // In use by another process, or a directory PGlite cannot open: say so, change nothing.
  run.remove();
  fail(err);
}
run.update({ database: pg.url });
log(`embedded Postgres (PGlite + pgvector) on ${pg.url} with data in ${dataDir}/pglite (process ${pg.pid})`);

const sql = postgres(pg.url, { max: 1, onnotice: () => {} });
let conversations = 0;
try {
  const applied = await migrate(sql, log);
  if (applied.length === 0) log("migrations up to date");
  await ensureDevKeys(sql, keys);
  const [row] = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM conversations`;
  conversations = row!.n;
} catch (err) {
  await pg.stop();
  run.remove();
  fail(err);
} finally {
  await sql.end({ timeout: 5 });
}

// Locally the Cache API is a disk store that drops an expired entry only when the same key is read
// again: every one-off question would stay on disk for good. So npm start caches in KV alone,
// whose expired entries the hourly housekeeping sweeps (`-- --var CACHE_L1:cache-api` for both).
const wrangler = startWranglerDev({
  port,
  databaseUrl: pg.url,
  persistTo: `${dataDir}/wrangler`,
  vars: { CACHE_L1: "off" },
  extraArgs: process.argv.slice(2),
});
/** An interval from the environment, in ms: `unitMs` per unit of the variable. */
const every = (name: string, fallback: number, unitMs: number) => Number(process.env[name] ?? fallback) * unitMs;
const MINUTE = 60_000;
const maintenance = startMaintenance({
  databaseUrl: pg.url,
  apiUrl: wrangler.url,
  checkpointMs: every("CHECKPOINT_INTERVAL_MINUTES", 5, MINUTE),
  housekeepingMs: every("HOUSEKEEPING_INTERVAL_MINUTES", 60, MINUTE),
  importWatchdogMs: every("IMPORT_WATCHDOG_INTERVAL_MINUTES", 10, MINUTE),
  log,
});
run.update({ api: wrangler.url });

// Automatic backups: at start when the newest is older than the interval, then every interval;
// the newest BACKUP_KEEP are kept. They are what a database directory that no longer opens
// (a power cut with writes in flight) is restored from: npm run restore -- --latest.
const backupDir = `${dataDir}/backups`;
const backupEveryMs = every("BACKUP_INTERVAL_HOURS", 24, 60 * MINUTE);
const backupKeep = Math.max(1, Number(process.env.BACKUP_KEEP ?? 3));
let backingUp: Promise<void> = Promise.resolve();
const backup = () =>
  (backingUp = backingUp.then(async () => {
    try {
      const began = performance.now();
      const file = backupFileName(backupDir);
      const result = await writeBackup(pg.url, file);
      pruneBackups(backupDir, backupKeep);
      log(`backup ${file} (${(result.bytes / 1024 / 1024).toFixed(1)} MB) in ${((performance.now() - began) / 1000).toFixed(1)} s`);
    } catch (err) {
      log(`backup failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }));
const backupTimer = backupEveryMs > 0 ? setInterval(() => void backup(), backupEveryMs) : undefined;
backupTimer?.unref();

let stopping = false;
let restartTimer: ReturnType<typeof setTimeout> | undefined;
const shutdown = async (code: number) => {
  if (stopping) return;
  stopping = true;
  clearTimeout(restartTimer);
  // A database that no longer answers must not keep Ctrl-C from working: what was committed is
  // on disk already (PGlite writes before it acknowledges), so a forced exit loses nothing.
  setTimeout(() => {
    console.error("[start] the database did not stop within 20 s; exiting anyway (committed data is on disk)");
    process.exit(code || 1);
  }, 20_000).unref();
  clearInterval(backupTimer);
  await maintenance.stop();
  await wrangler.stop();
  await backingUp;
  await pg.stop();
  run.remove();
  process.exit(code);
};
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, () => void shutdown(0));
// A database that dies is started again, as a service manager would: the API keeps serving what
// needs no database. One that keeps dying, and a wrangler dev that ends, end the run: nothing of
// it is left running half-working, and the next npm start starts afresh.
const restartMs = Number(process.env.DATABASE_RESTART_SECONDS ?? 1) * 1000;
const maxRestarts = Number(process.env.DATABASE_RESTARTS ?? 3);
const restarts: number[] = [];
const superviseDatabase = (database: DatabaseChild) =>
  void database.exited.then(async (how) => {
    if (stopping) return;
    const now = Date.now();
    while (restarts.length > 0 && now - restarts[0]! > 10 * MINUTE) restarts.shift();
    if (restarts.length >= maxRestarts) {
      console.error(
        `[start] the database process ended (${how}), ${restarts.length + 1} times in 10 minutes; stopping npm start. Committed data is on disk: start it again.`,
      );
      return shutdown(1);
    }
    restarts.push(now);
    console.error(
      `[start] the database process ended (${how}); the API serves cached answers and 503 for the rest until it is back, in ${restartMs / 1000} s`,
    );
    await new Promise((r) => (restartTimer = setTimeout(r, restartMs)));
    if (stopping) return;
    try {
      pg = await startDatabaseChild({ dataDir: `${dataDir}/pglite`, port: Number(new URL(pg.url).port) });
    } catch (err) {
      console.error(`[start] the database did not start again (${err instanceof Error ? err.message : String(err)}); stopping npm start.`);
      return shutdown(1);
    }
    log(`the database is back (process ${pg.pid})`);
    superviseDatabase(pg);
  });
superviseDatabase(pg);
void wrangler.exited.then((code) => {
  if (stopping) return;
  console.error(`[start] wrangler dev ended (code ${code}); stopping npm start.`);
  void shutdown(1);
});

try {
  await waitForHealthy(wrangler.url, 90_000, wrangler.exited);
  // Imports a previous run left unfinished lost their queue messages with it (Miniflare's queue
  // lives in memory): the watchdog queues them again once they have been silent long enough.
  if (every("IMPORT_WATCHDOG_INTERVAL_MINUTES", 10, MINUTE) > 0) void maintenance.importWatchdog();
  if (conversations === 0 && process.env.SEED_DEMO !== "false" && keys.userKey) {
    const messages = await ingestAll(wrangler.url, keys.userKey, demoConversations());
    log(`loaded the demo data set (${messages} messages)`);
  }
  log(`ready in ${((performance.now() - started) / 1000).toFixed(1)} s: ${wrangler.url}`);
  const newest = listBackups(backupDir)[0];
  if (backupEveryMs > 0 && (!newest || Date.now() - newest.modified.getTime() > backupEveryMs)) void backup();
  log(`try: curl -H 'Authorization: Bearer ${keys.userKey || "<key>"}' ${wrangler.url}/api/conversations`);
} catch (err) {
  console.error(`[start] ${err instanceof Error ? err.message : String(err)}`);
  await shutdown(1);
}
