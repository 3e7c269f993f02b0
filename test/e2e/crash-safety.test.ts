// A crash never costs committed data: the embedded database runs in its own process (as under
// npm start) while writers commit conversations (messages and chunks with vectors in the HNSW
// index) as fast as they can; the test kills the process with SIGKILL at several points (in the
// middle of the load, during a CHECKPOINT, during a VACUUM, right after a large transaction),
// starts it again on the same directory and checks that every acknowledged commit is there whole
// and nothing else is there in part. Then backups: a backup restores every row, also from a
// directory that was killed, and a broken backup file changes nothing.
import { spawn } from "node:child_process";
import { createWriteStream, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createGzip, gunzipSync } from "node:zlib";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readBackupHeader, restoreBackup, writeBackup } from "../../scripts/lib/backup.ts";
import { prepareLocalDatabase } from "../../scripts/lib/dev-keys.ts";
import { DatabaseInUseError, DatabaseOpenError, lockFileOf, startEmbeddedPostgres } from "../../scripts/lib/embedded-postgres.ts";
import { freePort } from "../../scripts/lib/free-port.ts";
import { type DatabaseProcess, spawnDatabase } from "../helpers/stoppable-database.ts";

const root = mkdtempSync(join(tmpdir(), "convo-rag-crash-"));
const dataDir = join(root, "pglite");
let port = 0;
let url = "";

let db: DatabaseProcess | undefined;
async function startDatabase(): Promise<void> {
  db = spawnDatabase(dataDir, port);
  await db.ready;
}

async function killDatabase(): Promise<void> {
  await db?.kill();
  db = undefined;
}

beforeAll(async () => {
  port = await freePort();
  url = `postgres://postgres:postgres@127.0.0.1:${port}/postgres`;
  await startDatabase();
  await prepareLocalDatabase(url);
}, 180_000);

afterAll(async () => {
  await killDatabase();
  rmSync(root, { recursive: true, force: true });
});

const vector = (seed: number) =>
  `[${Array.from({ length: 384 }, (_, i) => (((seed * 7919 + i * 104729) % 1000) / 1000).toFixed(3)).join(",")}]`;
let nextId = 0;

/** Commits one conversation of `n` messages and 2 chunks in one transaction, as an ingest does. */
async function commitConversation(sql: postgres.Sql, n: number): Promise<string> {
  const id = `crash-${++nextId}`;
  await sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(hashtextextended(${id}, 0))`;
    await tx`INSERT INTO conversations (tenant_id, id, title, message_count, chunk_count) VALUES ('dev', ${id}, ${`Crash ${id}`}, ${n}, 2)`;
    await tx`
      INSERT INTO messages (tenant_id, conversation_id, id, author_name, author_type, text, "timestamp", order_index, content_hash)
      SELECT 'dev', ${id}, 'm' || i, 'Ann', 'human', repeat('word ', 40) || i, now(), i, md5(${id} || i) FROM generate_series(1, ${n}) AS i`;
    for (const k of [0, 1]) {
      await tx`
        WITH chunk AS (
          INSERT INTO conversation_chunks (tenant_id, conversation_id, order_index, text, message_ids, authors, author_types, author_type,
            start_ts, end_ts, token_count, content_hash)
          VALUES ('dev', ${id}, ${k}, ${`chunk ${k} of ${id}`}, ${["m1"]}, ${["Ann"]}, ${["human"]}, 'human', now(), now(), 10, ${`${id}/${k}`})
          RETURNING id)
        INSERT INTO chunk_vectors (chunk_id, tenant_id, model, embedding)
        SELECT id, 'dev', 'local-hash-v1', ${vector(nextId * 2 + k)}::vector FROM chunk`;
    }
  });
  return id;
}

/** Writers commit until `until` resolves; returns the ids whose COMMIT was acknowledged. */
async function load(until: Promise<unknown>, writers = 3, messages = () => 20): Promise<Set<string>> {
  const acked = new Set<string>();
  let stop = false;
  void until.then(() => (stop = true));
  await Promise.all(
    Array.from({ length: writers }, async () => {
      const sql = postgres(url, { max: 1, onnotice: () => {}, connect_timeout: 5 });
      try {
        while (!stop) acked.add(await commitConversation(sql, messages()));
      } catch {
        // The database went away mid-transaction: that commit was never acknowledged.
      } finally {
        await sql.end({ timeout: 1 }).catch(() => {});
      }
    }),
  );
  return acked;
}

/** After a restart: every acknowledged conversation is whole; no conversation is partial. */
async function checkIntact(acked: Set<string>): Promise<{ acked: number; found: number }> {
  const sql = postgres(url, { max: 1, prepare: false, onnotice: () => {} });
  try {
    const rows = await sql<{ id: string; message_count: number; messages: number; chunks: number; found: number }[]>`
      SELECT c.id, c.message_count,
        (SELECT count(*)::int FROM messages m WHERE m.tenant_id = c.tenant_id AND m.conversation_id = c.id) AS messages,
        (SELECT count(*)::int FROM conversation_chunks k WHERE k.tenant_id = c.tenant_id AND k.conversation_id = c.id) AS chunks,
        0 AS found
      FROM conversations c WHERE c.tenant_id = 'dev' AND c.id LIKE 'crash-%'`;
    const stored = new Map(rows.map((r) => [r.id, r]));
    for (const id of acked) expect(stored.has(id), `acknowledged ${id} is missing`).toBe(true);
    for (const r of rows) {
      expect(r.messages, `${r.id} is partial`).toBe(r.message_count);
      expect(r.chunks, `${r.id} is partial`).toBe(2);
    }
    // The vector index answers and finds a restored row by its own vector.
    const [nearest] = await sql<{ id: string }[]>`
      SELECT c.conversation_id AS id FROM chunk_vectors v JOIN conversation_chunks c ON c.id = v.chunk_id
      WHERE vector_dims(v.embedding) = 384
      ORDER BY v.embedding::vector(384) <=> (SELECT v.embedding::vector(384) FROM chunk_vectors v JOIN conversation_chunks c ON c.id = v.chunk_id
        WHERE c.conversation_id LIKE 'crash-%' ORDER BY c.conversation_id LIMIT 1) LIMIT 1`;
    expect(nearest).toBeDefined();
    return { acked: acked.size, found: rows.length };
  } finally {
    await sql.end();
  }
}

describe("the embedded database after a hard stop", () => {
  it("keeps every acknowledged commit whole when killed mid-load, during a checkpoint, during a vacuum and after a large transaction", async () => {
    const all = new Set<string>();
    // Each point: an operation sent while the writers commit, then SIGKILL a few commits later.
    const points: { name: string; during: (sql: postgres.Sql) => Promise<string | undefined> }[] = [
      { name: "mid-load", during: async () => undefined },
      {
        name: "checkpoint",
        during: (sql) =>
          sql
            .unsafe("CHECKPOINT")
            .simple()
            .then(() => undefined),
      },
      {
        name: "vacuum",
        during: (sql) =>
          sql
            .unsafe("VACUUM (ANALYZE)")
            .simple()
            .then(() => undefined),
      },
      { name: "large transaction", during: (sql) => commitConversation(sql, 3000) },
    ];
    for (const point of points) {
      let killNow!: () => void;
      const running = load(new Promise<void>((r) => (killNow = r)));
      const side = postgres(url, { max: 1, prepare: false, onnotice: () => {} });
      const committed = async () => Number((await side`SELECT count(*)::int AS n FROM conversations WHERE id LIKE 'crash-%'`)[0]!.n);
      const base = await committed();
      while ((await committed()) < base + 10) await new Promise((r) => setTimeout(r, 10));
      const op = point.during(postgres(url, { max: 1, prepare: false, onnotice: () => {} })).catch(() => undefined);
      while ((await committed().catch(() => Infinity)) < base + 25) await new Promise((r) => setTimeout(r, 5));
      await killDatabase();
      killNow();
      for (const id of await running) all.add(id);
      const extra = await op;
      if (extra) all.add(extra);
      await side.end({ timeout: 1 }).catch(() => {});
      await startDatabase();
      const { found } = await checkIntact(all);
      expect(found, point.name).toBeGreaterThanOrEqual(all.size);
    }
    expect(all.size).toBeGreaterThan(50);
    // Generous: no assertion is on time, and a busy 2-core machine may take minutes for the four restarts.
  }, 600_000);
});

describe("backups", () => {
  it("restore every row of a database that was killed, identity columns continue after them, and a broken file changes nothing", async () => {
    // Some sessions and turns (identity ids) beside the conversations above.
    const sql = postgres(url, { max: 1, prepare: false, onnotice: () => {} });
    await sql`INSERT INTO chat_sessions (tenant_id, id) VALUES ('dev', 'crash-session')`;
    for (let i = 0; i < 3; i++) {
      await sql`INSERT INTO chat_turns (tenant_id, session_id, question, standalone_question, answer, sources) VALUES ('dev', 'crash-session', ${`q${i}`}, ${`q${i}`}, ${`a\n"${i}"\t`}, ${sql.json([{ n: i }])})`;
    }
    const tables = ["tenants", "api_keys", "conversations", "messages", "conversation_chunks", "chat_sessions", "chat_turns"];
    const fingerprint = async (db: postgres.Sql) =>
      Object.fromEntries(
        await Promise.all(
          tables.map(async (t) => [
            t,
            (await db.unsafe(`SELECT md5(string_agg(r::text, '|' ORDER BY r::text)) AS h, count(*)::int AS n FROM ${t} r`))[0],
          ]),
        ),
      );
    const before = await fingerprint(sql);
    await sql.end();

    // Killed, then backed up from the directory as it was left (npm run backup opens it itself).
    await killDatabase();
    const file = join(root, "backups", "one.backup.gz");
    const offline = await startEmbeddedPostgres({ dataDir });
    try {
      await writeBackup(offline.url, file);
    } finally {
      await offline.stop();
    }
    expect((await readBackupHeader(file)).tables.find((t) => t.name === "messages")!.rows).toBe(before.messages.n);

    const restoredDir = join(root, "restored");
    await restoreBackup(file, restoredDir);
    const restored = await startEmbeddedPostgres({ dataDir: restoredDir });
    const db = postgres(restored.url, { max: 1, prepare: false, onnotice: () => {} });
    try {
      expect(await fingerprint(db)).toEqual(before);
      const [{ max }] = (await db<{ max: number }[]>`SELECT max(id)::int AS max FROM chat_turns`) as unknown as [{ max: number }];
      const [{ id }] = (await db<
        { id: number }[]
      >`INSERT INTO chat_turns (tenant_id, session_id, question, standalone_question, answer) VALUES ('dev', 'crash-session', 'q', 'q', 'a') RETURNING id::int`) as unknown as [
        { id: number },
      ];
      expect(id).toBeGreaterThan(max);
      // The full-text column is computed again, and keyword search finds the restored text.
      const [hit] = await db`SELECT id FROM conversation_chunks WHERE tsv @@ plainto_tsquery('english', 'chunk') LIMIT 1`;
      expect(hit).toBeDefined();
    } finally {
      await db.end();
      await restored.stop();
    }

    // A backup cut short: the restore fails, says why, and leaves no directory behind.
    const gz = readFileSync(file);
    const truncated = join(root, "backups", "truncated.backup.gz");
    await new Promise<void>((resolve, reject) => {
      const text = gunzipSync(gz).toString();
      const out = createGzip();
      out.pipe(createWriteStream(truncated)).on("finish", resolve).on("error", reject);
      out.end(text.slice(0, Math.floor(text.length * 0.6)));
    });
    const target = join(root, "restored-2");
    await expect(restoreBackup(truncated, target)).rejects.toThrow(/incomplete|expected the rows/);
    expect(existsSync(target)).toBe(false);
    writeFileSync(join(root, "backups", "not-a-backup.backup.gz"), "hello");
    await expect(readBackupHeader(join(root, "backups", "not-a-backup.backup.gz"))).rejects.toThrow();
  }, 600_000);

  it("one process at a time opens a data directory; a lock left by a killed process does not keep it closed", async () => {
    if (!db) await startDatabase();
    // The database process holds dataDir: a second opener is refused, and changes nothing.
    await expect(startEmbeddedPostgres({ dataDir })).rejects.toThrow(DatabaseInUseError);
    const owner = Number(readFileSync(lockFileOf(dataDir), "utf8"));
    expect(owner).toBe(db!.proc.pid);
    await killDatabase();
    // The lock file still names the dead process: it is taken over.
    expect(existsSync(lockFileOf(dataDir))).toBe(true);
    await startDatabase();
    expect(Number(readFileSync(lockFileOf(dataDir), "utf8"))).toBe(db!.proc.pid);
    // Within one process too: a directory open here is not opened a second time.
    const here = join(root, "here");
    const first = await startEmbeddedPostgres({ dataDir: here });
    try {
      await expect(startEmbeddedPostgres({ dataDir: here })).rejects.toThrow(DatabaseInUseError);
    } finally {
      await first.stop();
    }
    await (await startEmbeddedPostgres({ dataDir: here })).stop();
  }, 120_000);

  it("a directory PGlite cannot open gets a plain error with the way back, and is left as it was", async () => {
    const broken = join(root, "broken");
    await (await startEmbeddedPostgres({ dataDir: broken })).stop();
    const control = join(broken, "global", "pg_control");
    const bytes = readFileSync(control);
    bytes.fill(0x55, 0, 512);
    writeFileSync(control, bytes);
    const error = await startEmbeddedPostgres({ dataDir: broken }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DatabaseOpenError);
    expect(String(error)).toMatch(/could not open the database in .*left as it was.*npm run restore/s);
    expect(readFileSync(control).equals(bytes)).toBe(true);
    // The failed open leaves no lock behind.
    expect(existsSync(lockFileOf(broken))).toBe(false);
  }, 120_000);

  it("the test database process ends by itself when the process that started it dies (no orphan holds a test run's output open)", async () => {
    const orphanDir = join(root, "orphan");
    const orphanPort = await freePort();
    // An intermediate parent, killed with SIGKILL as a crashed or killed test runner would be.
    const parent = spawn(
      process.execPath,
      [
        "-e",
        `require("child_process").spawn(process.execPath, [${JSON.stringify(join(import.meta.dirname, "../helpers/database-process.ts"))}, ${JSON.stringify(orphanDir)}, "${orphanPort}"], { stdio: "inherit" }); setInterval(() => {}, 1000);`,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    const listening = new Promise<void>((resolve) =>
      parent.stdout!.on("data", (d: Buffer) => String(d).includes("listening") && resolve()),
    );
    await listening;
    const child = Number(readFileSync(lockFileOf(orphanDir), "utf8"));
    expect(child).toBeGreaterThan(0);
    parent.kill("SIGKILL");
    const gone = async () => {
      for (let i = 0; i < 200; i++) {
        try {
          process.kill(child, 0);
        } catch {
          return true;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      return false;
    };
    expect(await gone()).toBe(true);
  }, 120_000);
});
