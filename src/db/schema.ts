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
] as const;

export interface SchemaStatus {
  applied: string[];
  pending: string[];
  /** The dimension of conversation_chunks.embedding, or undefined before the first migration. */
  embeddingDimensions: number | undefined;
}

export async function readSchemaStatus(db: Db): Promise<SchemaStatus> {
  // One round trip once the schema exists (GET /health asks this on every call; locally every
  // statement waits for the embedded database, which an import's transaction may hold). The
  // subquery on schema_migrations cannot even be planned before the first migration: then the
  // three statements below find out step by step.
  try {
    const [row] = await db<{ applied: string[] | null; type: string | null }[]>`
      SELECT array_to_json(ARRAY(SELECT version FROM schema_migrations ORDER BY version)) AS applied,
        (SELECT format_type(atttypid, atttypmod) FROM pg_attribute
          WHERE attrelid = to_regclass('conversation_chunks') AND attname = 'embedding') AS type`;
    return schemaStatus(row?.applied ?? [], row?.type ?? undefined);
  } catch (err) {
    if ((err as { code?: string }).code !== UNDEFINED_TABLE) throw err;
  }
  const [tables] = await db<{ migrations: string | null; chunks: string | null }[]>`
    SELECT to_regclass('schema_migrations')::text AS migrations, to_regclass('conversation_chunks')::text AS chunks`;
  const applied = tables?.migrations
    ? (await db<{ version: string }[]>`SELECT version FROM schema_migrations ORDER BY version`).map((r) => r.version)
    : [];
  let type: string | undefined;
  if (tables?.chunks) {
    const [col] = await db<{ type: string }[]>`
      SELECT format_type(atttypid, atttypmod) AS type FROM pg_attribute
      WHERE attrelid = 'conversation_chunks'::regclass AND attname = 'embedding'`;
    type = col?.type;
  }
  return schemaStatus(applied, type);
}

/** Postgres' SQLSTATE for a relation that does not exist. */
const UNDEFINED_TABLE = "42P01";

function schemaStatus(applied: string[], embeddingType: string | undefined): SchemaStatus {
  const m = embeddingType?.match(/^vector\((\d+)\)$/);
  return { applied, pending: EXPECTED_MIGRATIONS.filter((v) => !applied.includes(v)), embeddingDimensions: m ? Number(m[1]) : undefined };
}

/** A clear message when the configured embedding size does not fit the schema, else undefined. */
export function dimensionMismatch(status: SchemaStatus, configured: number): string | undefined {
  if (status.embeddingDimensions === undefined || status.embeddingDimensions === configured) return undefined;
  return (
    `EMBEDDING_DIMENSIONS is ${configured} but conversation_chunks.embedding is vector(${status.embeddingDimensions}); ` +
    `configure ${status.embeddingDimensions} dimensions or add a migration that changes the column`
  );
}
