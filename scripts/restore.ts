// npm run restore -- FILE | --latest | --list: brings a backup (npm run backup, or one of the
// automatic ones npm start takes) back as the local database. npm start must be stopped. Nothing
// is deleted: the current database directory and wrangler's local state (caches, whose data
// versions must start afresh with the restored data) are moved aside with a time-stamped name.
import { existsSync, renameSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { listBackups, moveAside, readBackupHeader, restoreBackup } from "./lib/backup.ts";
import { parseCli } from "./lib/cli.ts";
import { dataDirOwner } from "./lib/embedded-postgres.ts";

const USAGE = `usage: npm run restore -- FILE      restore this backup
       npm run restore -- --latest    restore the newest backup in <data dir>/backups
       npm run restore -- --list      list the backups in <data dir>/backups
  The data dir is RAG_DATA_DIR (default .data). Stop npm start first. The current database is
  moved aside (<data dir>/pglite.before-restore-<time>), never deleted.`;

const { values, positionals } = parseCli({ latest: { type: "boolean" }, list: { type: "boolean" } }, USAGE, true);
const root = resolve(process.env.RAG_DATA_DIR ?? ".data");
const dataDir = join(root, "pglite");
const backups = listBackups(join(root, "backups"));

if (!values.list && !values.latest && positionals.length !== 1) {
  console.error(USAGE);
  process.exit(2);
}
if (values.list) {
  if (backups.length === 0) console.log(`no backups in ${join(root, "backups")}`);
  for (const b of backups) console.log(`${b.file}  ${(b.bytes / 1024 / 1024).toFixed(1)} MB  ${b.modified.toISOString()}`);
  process.exit(0);
}

const file = values.latest ? backups[0]?.file : resolve(positionals[0]!);
try {
  if (!file) throw new Error(`no backups in ${join(root, "backups")}`);
  if (!existsSync(file)) throw new Error(`${file} does not exist`);
  const owner = dataDirOwner(dataDir);
  if (owner !== undefined) throw new Error(`npm start (process ${owner}) is using ${dataDir}: stop it first`);
  const header = await readBackupHeader(file);
  console.log(`restoring ${file} (taken ${header.created_at}, ${header.tables.reduce((n, t) => n + t.rows, 0)} rows)`);
  const oldDb = moveAside(dataDir, "before-restore");
  const oldState = moveAside(join(root, "wrangler"), "before-restore");
  try {
    await restoreBackup(file, dataDir, (line) => console.log(`  ${line}`));
  } catch (err) {
    // Put everything back as it was.
    rmSync(dataDir, { recursive: true, force: true });
    if (oldDb) renameSync(oldDb, dataDir);
    if (oldState) renameSync(oldState, join(root, "wrangler"));
    throw err;
  }
  console.log(`restored into ${dataDir}.`);
  if (oldDb) console.log(`the previous database is in ${oldDb} (delete it once you are happy with the restore)`);
  if (oldState) console.log(`wrangler's previous local state (caches) is in ${oldState}`);
} catch (err) {
  console.error(`restore failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
}
