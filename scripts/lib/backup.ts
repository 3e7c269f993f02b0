// Backups of the local database: a logical dump (every table's rows in COPY text format, gzip),
// taken over the wire from a running database in one repeatable-read transaction, so it is
// consistent and works while `npm start` serves requests. Independent of PGlite's files: a data
// directory that no longer opens is restored from it.
//
// Format (after gunzip), line by line:
//   {"format":"convo-rag-backup/1","created_at":…,"migrations":["0001_init",…],"tables":[{"name","columns","rows"}…]}
//   then per table: {"table":name} followed by its rows in COPY text format and a line "\."
// semantic_cache is left out: it is derived, and keyed by cache data versions that a restore
// starts afresh (kept, an old entry could answer for different data).
import { createReadStream, createWriteStream, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { PassThrough } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip, createGzip } from "node:zlib";
import postgres from "postgres";
import { startEmbeddedPostgres } from "./embedded-postgres.ts";
import { migrate } from "./migrations.ts";

export const BACKUP_FORMAT = "convo-rag-backup/1";
export const LEFT_OUT = new Set(["semantic_cache"]);
const END = "\\.";

export interface BackupHeader {
  format: string;
  created_at: string;
  migrations: string[];
  tables: { name: string; columns: string[]; rows: number }[];
}

const ident = (name: string) => `"${name.replaceAll('"', '""')}"`;

/** Writes a backup of the database at `databaseUrl` to `file` (written aside, then renamed: never half a file). */
export async function writeBackup(databaseUrl: string, file: string): Promise<BackupHeader & { bytes: number }> {
  mkdirSync(dirname(file), { recursive: true });
  const partial = `${file}.partial`;
  const { sql, resumeAfterCopy } = copyOutClient(databaseUrl);
  try {
    const out = new PassThrough();
    const written = pipeline(out, createGzip(), createWriteStream(partial));
    let header!: BackupHeader;
    await sql.begin("ISOLATION LEVEL REPEATABLE READ READ ONLY", async (tx) => {
      // Stored generated columns (the full-text vector) are computed again on restore.
      const columns = await tx<{ table: string; column: string }[]>`
        SELECT c.relname AS table, a.attname AS column FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
        WHERE c.relkind = 'r' ORDER BY c.relname, a.attnum`;
      const byTable = new Map<string, string[]>();
      for (const { table, column } of columns) if (!LEFT_OUT.has(table)) byTable.set(table, [...(byTable.get(table) ?? []), column]);
      const migrations = byTable.has("schema_migrations")
        ? (await tx<{ version: string }[]>`SELECT version FROM schema_migrations ORDER BY version`).map((r) => r.version)
        : [];
      const tables: BackupHeader["tables"] = [];
      for (const [name, cols] of byTable) {
        const [{ n }] = (await tx.unsafe(`SELECT count(*)::int AS n FROM ${ident(name)}`)) as unknown as [{ n: number }];
        tables.push({ name, columns: cols, rows: n });
      }
      header = { format: BACKUP_FORMAT, created_at: new Date().toISOString(), migrations, tables };
      out.write(`${JSON.stringify(header)}\n`);
      for (const t of tables) {
        out.write(`${JSON.stringify({ table: t.name })}\n`);
        const rows = await tx.unsafe(`COPY ${ident(t.name)} (${t.columns.map(ident).join(", ")}) TO STDOUT`).readable();
        for await (const chunk of rows) if (!out.write(chunk)) await new Promise((r) => out.once("drain", r));
        resumeAfterCopy();
        out.write(`${END}\n`);
      }
    });
    out.end();
    await written;
    renameSync(partial, file);
    return { ...header, bytes: statSync(file).size };
  } catch (err) {
    rmSync(partial, { force: true });
    throw err;
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/**
 * A one-connection client for COPY … TO STDOUT that works around porsager/postgres#499 (fix
 * proposed in #1016, not in 3.4.9): when the last CopyData of a COPY fills the result stream's
 * buffer in the same read as its CopyDone, postgres.js pauses the socket and, the stream having
 * ended, never resumes it, so the next query on the connection (the next table, the COMMIT) waits
 * for ever with its answer unread. A backup then hangs holding a transaction open in the embedded
 * database's one session, which stalls every other client of `npm start`. The client opens its
 * socket itself (postgres.js's `socket` option) so that it can resume it after each COPY.
 */
function copyOutClient(databaseUrl: string): { sql: postgres.Sql; resumeAfterCopy(): void } {
  const url = new URL(databaseUrl);
  let socket: Socket | undefined;
  // postgres.js reads `socket` (a connected socket's factory) but its typings do not list it.
  const options: postgres.Options<Record<string, never>> & { socket(): Promise<Socket> } = {
    max: 1,
    prepare: false,
    onnotice: () => {},
    socket: () =>
      new Promise<Socket>((resolve, reject) => {
        const s = connect({ host: url.hostname.replace(/^\[|\]$/g, ""), port: Number(url.port || 5432) });
        s.once("connect", () => {
          s.off("error", reject);
          socket = s;
          resolve(s);
        });
        s.once("error", reject);
      }),
  };
  const sql = postgres(databaseUrl, options);
  return { sql, resumeAfterCopy: () => socket?.resume() };
}

/** Reads a backup's header (and checks it is one). */
export async function readBackupHeader(file: string): Promise<BackupHeader> {
  const lines = createInterface({ input: createReadStream(file).pipe(createGunzip()), crlfDelay: Infinity });
  try {
    for await (const line of lines) return parseHeader(line, file);
    throw new Error(`${file} is empty`);
  } finally {
    lines.close();
  }
}

function parseHeader(line: string, file: string): BackupHeader {
  let header: BackupHeader;
  try {
    header = JSON.parse(line) as BackupHeader;
  } catch {
    throw new Error(`${file} is not a convo-rag backup`);
  }
  if (header.format !== BACKUP_FORMAT) throw new Error(`${file} is not a ${BACKUP_FORMAT} backup (format: ${String(header.format)})`);
  return header;
}

/** Rows per COPY FROM when restoring (bounds the memory a large table needs). */
const ROWS_PER_COPY = 5_000;

/**
 * Restores `file` into a new database in `dataDir`, which must not exist yet: migrates to the
 * backup's schema, loads every table, checks each table's row count, resets identity sequences,
 * then applies the migrations that are newer than the backup. On any failure the new directory is
 * removed and the error thrown.
 */
export async function restoreBackup(file: string, dataDir: string, log: (line: string) => void = () => {}): Promise<BackupHeader> {
  if (existsSync(dataDir) && readdirSync(dataDir).length > 0) throw new Error(`${dataDir} is not empty`);
  const pg = await startEmbeddedPostgres({ dataDir });
  const sql = postgres(pg.url, { max: 1, prepare: false, onnotice: () => {} });
  let ok = false;
  try {
    const lines = createInterface({ input: createReadStream(file).pipe(createGunzip()), crlfDelay: Infinity })[Symbol.asyncIterator]();
    const first = await lines.next();
    if (first.done) throw new Error(`${file} is empty`);
    const header = parseHeader(first.value, file);
    await migrate(sql, log, header.migrations.at(-1) ?? "");
    // The backup holds schema_migrations' rows itself.
    await sql`DELETE FROM schema_migrations`;
    const db = pg.db;
    await db.exec("SET session_replication_role = replica"); // foreign keys: tables load in any order
    for (const table of header.tables) {
      const next = await lines.next();
      if (next.done || (JSON.parse(next.value) as { table?: string }).table !== table.name)
        throw new Error(`${file}: expected the rows of ${table.name}`);
      const copy = `COPY ${ident(table.name)} (${table.columns.map(ident).join(", ")}) FROM '/dev/blob'`;
      let batch: string[] = [];
      let loaded = 0;
      const flush = async () => {
        if (batch.length === 0) return;
        await db.query(copy, [], { blob: new Blob([batch.join("\n"), "\n"]) });
        loaded += batch.length;
        batch = [];
      };
      for (;;) {
        const row = await lines.next();
        if (row.done) throw new Error(`${file} ends inside the rows of ${table.name}: the backup is incomplete`);
        if (row.value === END) break;
        batch.push(row.value);
        if (batch.length >= ROWS_PER_COPY) await flush();
      }
      await flush();
      const [{ n }] = (await sql.unsafe(`SELECT count(*)::int AS n FROM ${ident(table.name)}`)) as unknown as [{ n: number }];
      if (n !== table.rows || loaded !== table.rows)
        throw new Error(`${table.name}: the backup lists ${table.rows} rows, ${n} were restored`);
      log(`restored ${table.name}: ${n} rows`);
    }
    await db.exec("SET session_replication_role = DEFAULT");
    // Identity columns continue after the restored rows.
    await db.exec(`
      DO $$ DECLARE r record; BEGIN
        FOR r IN SELECT c.relname AS t, a.attname AS col FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
                 JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public' WHERE a.attidentity <> '' LOOP
          EXECUTE format('SELECT setval(pg_get_serial_sequence(%L, %L), coalesce((SELECT max(%I) FROM %I), 0) + 1, false)', r.t, r.col, r.col, r.t);
        END LOOP;
      END $$`);
    const newer = await migrate(sql, log);
    if (newer.length) log(`applied ${newer.length} newer migration(s)`);
    await sql.unsafe("CHECKPOINT").simple();
    ok = true;
    return header;
  } finally {
    await sql.end({ timeout: 5 });
    await pg.stop();
    if (!ok) rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Backups in `dir`, newest first. */
export function listBackups(dir: string): { file: string; bytes: number; modified: Date }[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith(".backup.gz"))
    .map((f) => {
      const st = statSync(join(dir, f));
      return { file: join(dir, f), bytes: st.size, modified: st.mtime };
    })
    .sort((a, b) => b.file.localeCompare(a.file));
}

/** A new backup file name in `dir` (sortable by time). */
export const backupFileName = (dir: string, at = new Date()) => join(dir, `convo-rag-${at.toISOString().replace(/[:.]/g, "-")}.backup.gz`);

/** Keeps the newest `keep` backups in `dir`, deletes the rest. */
export function pruneBackups(dir: string, keep: number): number {
  const old = listBackups(dir).slice(keep);
  for (const b of old) rmSync(b.file, { force: true });
  return old.length;
}

/** Moves `path` aside (never deletes data): returns where it went, or undefined if it did not exist. */
export function moveAside(path: string, reason: string): string | undefined {
  if (!existsSync(path)) return undefined;
  const target = `${path}.${reason}-${new Date().toISOString().replace(/[:.]/g, "-")}`;
  renameSync(path, target);
  return target;
}
