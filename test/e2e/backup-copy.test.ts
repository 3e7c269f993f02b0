// A backup reads every table with COPY … TO STDOUT over one connection. postgres.js 3.4.9 leaves
// that connection's socket paused when a COPY's last rows fill its stream's buffer in the same read
// as the end of the COPY (porsager/postgres#499), and the next query then waits for ever: a backup
// hung, holding a transaction open in the embedded database's one session, where it stalls every
// other client of npm start. Tables of many sizes make that end of a COPY happen on every run
// (against an in-process server the whole of a small COPY arrives in one read).
import { createReadStream, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { createGunzip } from "node:zlib";
import postgres from "postgres";
import { afterAll, beforeAll, expect, it } from "vitest";
import { writeBackup } from "../../scripts/lib/backup.ts";
import { type EmbeddedPostgres, startEmbeddedPostgres } from "../../scripts/lib/embedded-postgres.ts";

const dir = mkdtempSync(join(tmpdir(), "convo-rag-backup-copy-"));
let pg: EmbeddedPostgres;
const TABLES = 30;
const rowsOf = (t: number) => 100 + t * 61;

beforeAll(async () => {
  pg = await startEmbeddedPostgres();
  const sql = postgres(pg.url, { max: 1, onnotice: () => {} });
  try {
    for (let t = 0; t < TABLES; t++) {
      await sql.unsafe(`CREATE TABLE t${t} (id int, body text)`);
      await sql.unsafe(`INSERT INTO t${t} SELECT i, repeat('x', ${50 + t * 37}) || i FROM generate_series(1, ${rowsOf(t)}) AS i`);
    }
  } finally {
    await sql.end();
  }
}, 180_000);

afterAll(async () => {
  await pg?.stop();
  rmSync(dir, { recursive: true, force: true });
});

it("a backup of tables of many sizes completes with every row, and leaves no transaction open", async () => {
  const file = join(dir, "many.backup.gz");
  const header = await writeBackup(pg.url, file);
  expect(header.tables).toHaveLength(TABLES);
  for (const t of header.tables) expect(t.rows, t.name).toBe(rowsOf(Number(t.name.slice(1))));

  // The file holds each table's rows, as many as its header says.
  const counted = new Map<string, number>();
  let table = "";
  let first = true;
  for await (const line of createInterface({ input: createReadStream(file).pipe(createGunzip()), crlfDelay: Infinity })) {
    if (first) {
      first = false;
      continue;
    }
    if (line.startsWith('{"table":')) table = (JSON.parse(line) as { table: string }).table;
    else if (line !== "\\.") counted.set(table, (counted.get(table) ?? 0) + 1);
  }
  for (let t = 0; t < TABLES; t++) expect(counted.get(`t${t}`), `t${t}`).toBe(rowsOf(t));

  // The backup's transaction ended: the one session is free for everyone else.
  expect(pg.db.isInTransaction()).toBe(false);
  const other = postgres(pg.url, { max: 1, onnotice: () => {} });
  try {
    expect((await other`SELECT count(*)::int AS n FROM t0`)[0]!.n).toBe(rowsOf(0));
  } finally {
    await other.end();
  }
});
