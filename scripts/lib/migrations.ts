// Forward-only SQL migrations: migrations/NNNN_name.sql applied in order, each in its own
// transaction, recorded in schema_migrations with a checksum so an edited file is caught.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type postgres from "postgres";

export const MIGRATIONS_DIR = join(import.meta.dirname, "../../migrations");

export interface Migration {
  version: string;
  sql: string;
  checksum: string;
}

export function readMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir)
    .filter((f) => /^\d{4}_[\w-]+\.sql$/.test(f))
    .sort()
    .map((file) => {
      const sql = readFileSync(join(dir, file), "utf8");
      return { version: file.replace(/\.sql$/, ""), sql, checksum: createHash("sha256").update(sql).digest("hex") };
    });
}

/**
 * Applies pending migrations (up to and including `until` when given); returns the versions
 * applied now. Throws if an applied file changed.
 */
export async function migrate(sql: postgres.Sql, log: (line: string) => void = () => {}, until?: string): Promise<string[]> {
  await sql`CREATE TABLE IF NOT EXISTS schema_migrations (
    version text PRIMARY KEY, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`;
  const applied = new Map(
    (await sql<{ version: string; checksum: string }[]>`SELECT version, checksum FROM schema_migrations`).map((r) => [
      r.version,
      r.checksum,
    ]),
  );
  const done: string[] = [];
  for (const m of readMigrations()) {
    if (until !== undefined && m.version > until) break;
    const previous = applied.get(m.version);
    if (previous !== undefined) {
      if (previous !== m.checksum) throw new Error(`migration ${m.version} was edited after it was applied; add a new migration instead`);
      continue;
    }
    const started = Date.now();
    await sql.begin(async (tx) => {
      await tx.unsafe(m.sql);
      await tx`INSERT INTO schema_migrations (version, checksum) VALUES (${m.version}, ${m.checksum})`;
    });
    log(`applied ${m.version} in ${Date.now() - started} ms`);
    done.push(m.version);
  }
  return done;
}
