// What a Postgres server's background processes would do for the embedded database, which has
// none (PGlite runs one backend in single-user mode: no checkpointer, no autovacuum):
// - a CHECKPOINT every few minutes, so the write-ahead log stays short (without it, it grows for
//   as long as the database runs, and a restart after a hard stop replays all of it);
// - every hour, the Worker's daily housekeeping (expired cache rows, idle sessions: the retention
//   settings), then VACUUM and ANALYZE of the tables that need it, by autovacuum's own thresholds,
//   so deleted rows' space is reused and the planner's statistics stay current.
// Runs go through the wire protocol like any client, so they never land inside a request's
// transaction; one at a time; a failure is logged and retried at the next tick.
import postgres from "postgres";

export interface MaintenanceOptions {
  databaseUrl: string;
  /** The API, for its scheduled handler (`wrangler dev --test-scheduled`); undefined: no housekeeping. */
  apiUrl?: string;
  checkpointMs: number;
  housekeepingMs: number;
  /** How often the import watchdog runs (0: never); the caller runs it once when the API is up. */
  importWatchdogMs?: number;
  log(line: string): void;
}

export interface Maintenance {
  /** Checkpoint now (waits for a run in progress first). */
  checkpoint(): Promise<void>;
  /** Housekeeping, VACUUM (ANALYZE) and a checkpoint now. */
  housekeeping(): Promise<void>;
  /** The Worker's import watchdog now (failures are logged). */
  importWatchdog(): Promise<void>;
  stop(): Promise<void>;
}

export const HOUSEKEEPING_CRON = "17 3 * * *";
/** src/scheduled.ts's IMPORT_WATCHDOG_CRON: queues again the imports whose queue message was lost. */
export const IMPORT_WATCHDOG_CRON = "*/10 * * * *";

export function startMaintenance(options: MaintenanceOptions): Maintenance {
  let running: Promise<void> = Promise.resolve();
  let stopped = false;
  const withClient = async (work: (sql: postgres.Sql) => Promise<void>) => {
    const sql = postgres(options.databaseUrl, { max: 1, prepare: false, onnotice: () => {}, connect_timeout: 10 });
    try {
      await work(sql);
    } finally {
      await sql.end({ timeout: 5 });
    }
  };
  const serial = (name: string, job: () => Promise<void>) => {
    const next = running.then(async () => {
      if (stopped) return;
      try {
        await job();
      } catch (err) {
        options.log(`${name} failed (retried at the next run): ${err instanceof Error ? err.message : String(err)}`);
      }
    });
    running = next;
    return next;
  };
  const checkpoint = () => serial("checkpoint", () => withClient(async (sql) => void (await sql.unsafe("CHECKPOINT").simple())));
  const housekeeping = () =>
    serial("housekeeping", async () => {
      if (options.apiUrl) {
        const res = await fetch(`${options.apiUrl}/__scheduled?cron=${encodeURIComponent(HOUSEKEEPING_CRON)}`, {
          signal: AbortSignal.timeout(120_000),
        });
        await res.text();
        if (!res.ok) throw new Error(`the scheduled handler answered ${res.status}`);
      }
      await withClient(async (sql) => {
        const done = await vacuumWhereNeeded(sql);
        await sql.unsafe("CHECKPOINT").simple();
        if (done.length > 0) options.log(`vacuum: ${done.join(", ")}`);
      });
    });
  // The watchdog is a request to the Worker, not database work: it runs beside the serial jobs.
  const importWatchdog = async () => {
    if (!options.apiUrl || stopped) return;
    try {
      const res = await fetch(`${options.apiUrl}/__scheduled?cron=${encodeURIComponent(IMPORT_WATCHDOG_CRON)}`, {
        signal: AbortSignal.timeout(60_000),
      });
      await res.text();
    } catch (err) {
      options.log(`import watchdog failed (retried at the next run): ${err instanceof Error ? err.message : String(err)}`);
    }
  };
  const watchdogMs = options.importWatchdogMs ?? 0;
  const timers = [
    watchdogMs > 0 ? setInterval(() => void importWatchdog(), watchdogMs) : undefined,
    options.checkpointMs > 0 ? setInterval(() => void checkpoint(), options.checkpointMs) : undefined,
    options.housekeepingMs > 0 ? setInterval(() => void housekeeping(), options.housekeepingMs) : undefined,
  ];
  for (const t of timers) t?.unref();
  return {
    checkpoint,
    housekeeping,
    importWatchdog,
    async stop() {
      for (const t of timers) if (t) clearInterval(t);
      stopped = true;
      await running;
    },
  };
}

/**
 * What autovacuum would do, one table at a time: VACUUM a table once its dead rows pass 50 + 20 %
 * of its live rows, ANALYZE it once its changes since the last ANALYZE pass 50 + 10 % (Postgres'
 * defaults). PGlite runs one statement at a time, so each statement holds every request for its
 * length: one statement per table lets requests run between them, and a table without dead rows
 * costs nothing. The costly one is conversation_chunks: pgvector repairs the HNSW graph around
 * each removed row (about 15 ms each here, docs/LOCAL_DATABASE.md). Returns what it did, timed.
 */
export async function vacuumWhereNeeded(sql: postgres.Sql): Promise<string[]> {
  await sql.unsafe("SELECT pg_stat_force_next_flush()").simple(); // this backend's counts, current
  const tables = await sql<{ name: string; live: string; dead: string; changed: string }[]>`
    SELECT quote_ident(schemaname) || '.' || quote_ident(relname) AS name,
      n_live_tup AS live, n_dead_tup AS dead, n_mod_since_analyze AS changed
    FROM pg_stat_user_tables ORDER BY relname`;
  const done: string[] = [];
  for (const t of tables) {
    const live = Number(t.live);
    const vacuum = Number(t.dead) > 50 + 0.2 * live;
    const analyze = Number(t.changed) > 50 + 0.1 * live;
    if (!vacuum && !analyze) continue;
    const verb = vacuum && analyze ? "VACUUM (ANALYZE)" : vacuum ? "VACUUM" : "ANALYZE";
    const started = performance.now();
    await sql.unsafe(`${verb} ${t.name}`).simple();
    done.push(`${verb} ${t.name}: ${t.dead} dead rows, ${Math.round(performance.now() - started)} ms`);
  }
  return done;
}
