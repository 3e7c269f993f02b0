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
  const [tables] = await db<{ migrations: string | null; chunks: string | null }[]>`
    SELECT to_regclass('schema_migrations')::text AS migrations, to_regclass('conversation_chunks')::text AS chunks`;
  const applied = tables?.migrations
    ? (await db<{ version: string }[]>`SELECT version FROM schema_migrations ORDER BY version`).map((r) => r.version)
    : [];
  let embeddingDimensions: number | undefined;
  if (tables?.chunks) {
    const [col] = await db<{ type: string }[]>`
      SELECT format_type(atttypid, atttypmod) AS type FROM pg_attribute
      WHERE attrelid = 'conversation_chunks'::regclass AND attname = 'embedding'`;
    const m = col?.type.match(/^vector\((\d+)\)$/);
    embeddingDimensions = m ? Number(m[1]) : undefined;
  }
  return { applied, pending: EXPECTED_MIGRATIONS.filter((m) => !applied.includes(m)), embeddingDimensions };
}

/** A clear message when the configured embedding size does not fit the schema, else undefined. */
export function dimensionMismatch(status: SchemaStatus, configured: number): string | undefined {
  if (status.embeddingDimensions === undefined || status.embeddingDimensions === configured) return undefined;
  return (
    `EMBEDDING_DIMENSIONS is ${configured} but conversation_chunks.embedding is vector(${status.embeddingDimensions}); ` +
    `configure ${status.embeddingDimensions} dimensions or add a migration that changes the column`
  );
}
