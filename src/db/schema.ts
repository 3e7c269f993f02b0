import type { Db } from "./client.ts";

/** Migrations this code needs, in order. A unit test keeps it equal to the files in migrations/. */
export const EXPECTED_MIGRATIONS = [
  "0001_init",
  "0002_sessions",
  "0003_semantic_cache",
  "0004_embedding_cache_per_tenant",
  "0005_operator_role",
  "0006_messages_time_order",
  "0007_imports",
  "0008_import_spool",
  "0009_embedding_models",
  "0010_import_resume_cancel",
] as const;

export interface SchemaStatus {
  applied: string[];
  pending: string[];
}

/**
 * The migrations applied and pending. One statement (GET /health asks this on every call; locally
 * every statement waits for the embedded database, which an import's transaction may hold); before
 * the first migration there is no table to read, and nothing is applied.
 */
export async function readSchemaStatus(db: Db): Promise<SchemaStatus> {
  let applied: string[] = [];
  try {
    const [row] = await db<{ applied: string[] | null }[]>`
      SELECT array_to_json(ARRAY(SELECT version FROM schema_migrations ORDER BY version)) AS applied`;
    applied = row?.applied ?? [];
  } catch (err) {
    if ((err as { code?: string }).code !== UNDEFINED_TABLE) throw err;
  }
  return { applied, pending: EXPECTED_MIGRATIONS.filter((v) => !applied.includes(v)) };
}

/** Postgres' SQLSTATE for a relation that does not exist. */
const UNDEFINED_TABLE = "42P01";
