import type { Db } from "./client.ts";
import { json } from "./json.ts";

// The imports table (migrations/0007_imports.sql, 0008_import_spool.sql): every function is bound to one tenant.

export type ImportStatus = "queued" | "running" | "succeeded" | "failed";

export interface ImportRow {
  id: string;
  status: ImportStatus;
  format: string | null;
  options: Record<string, unknown>;
  objectKey: string;
  bytes: number;
  messagesParsed: number;
  messagesStored: number;
  conversations: string[];
  skipped: { where: string; reason: string }[];
  skippedCount: number;
  errors: { where: string; detail: string }[];
  batchesDone: number;
  batchesSpooled: number;
  /** Undefined until the file has been parsed to its end. */
  batchesTotal: number | undefined;
  steps: number;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
}

type Row = {
  id: string;
  status: ImportStatus;
  format: string | null;
  options: Record<string, unknown>;
  object_key: string;
  bytes: string | number;
  messages_parsed: number;
  messages_stored: number;
  conversations: string[];
  skipped: { where: string; reason: string }[];
  skipped_count: number;
  errors: { where: string; detail: string }[];
  batches_done: number;
  batches_spooled: number;
  batches_total: number | null;
  steps: number;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
};

const toImport = (r: Row): ImportRow => ({
  id: r.id,
  status: r.status,
  format: r.format,
  options: r.options,
  objectKey: r.object_key,
  bytes: Number(r.bytes),
  messagesParsed: r.messages_parsed,
  messagesStored: r.messages_stored,
  conversations: r.conversations,
  skipped: r.skipped,
  skippedCount: r.skipped_count,
  errors: r.errors,
  batchesDone: r.batches_done,
  batchesSpooled: r.batches_spooled,
  batchesTotal: r.batches_total ?? undefined,
  steps: r.steps,
  createdAt: new Date(r.created_at),
  startedAt: r.started_at && new Date(r.started_at),
  finishedAt: r.finished_at && new Date(r.finished_at),
});

export async function insertImport(
  db: Db,
  tenantId: string,
  row: { id: string; format: string | null; options: Record<string, unknown>; objectKey: string; bytes: number },
): Promise<void> {
  await db`
    INSERT INTO imports (tenant_id, id, status, format, options, object_key, bytes)
    VALUES (${tenantId}, ${row.id}, 'queued', ${row.format}, ${json(db, row.options)}::jsonb, ${row.objectKey}, ${row.bytes})`;
}

export async function getImport(db: Db, tenantId: string, id: string): Promise<ImportRow | undefined> {
  const [row] = await db<Row[]>`SELECT * FROM imports WHERE tenant_id = ${tenantId} AND id = ${id}::uuid`;
  return row && toImport(row);
}

/** Starts a step: running, one step more (a finished import is left as it is). */
export async function startImportStep(db: Db, tenantId: string, id: string, format: string): Promise<ImportRow | undefined> {
  const [row] = await db<Row[]>`
    UPDATE imports SET status = 'running', format = ${format}, steps = steps + 1, started_at = coalesce(started_at, now()),
      heartbeat_at = now()
    WHERE tenant_id = ${tenantId} AND id = ${id}::uuid AND status IN ('queued', 'running')
    RETURNING *`;
  return row && toImport(row);
}

/**
 * Records a parse step's progress: the batches written to the spool and the messages parsed; at
 * the end of the file also the batch total and what the parse skipped (the whole file's list).
 */
export async function recordImportSpool(
  db: Db,
  tenantId: string,
  id: string,
  progress: { spooled: number; parsed: number; end?: { skipped: { where: string; reason: string }[]; skippedCount: number } },
): Promise<void> {
  const { end } = progress;
  await db`
    UPDATE imports SET
      heartbeat_at = now(),
      batches_spooled = ${progress.spooled},
      messages_parsed = greatest(messages_parsed, ${progress.parsed}),
      batches_total = ${end ? db`${progress.spooled}` : db`batches_total`},
      skipped = ${end ? db`${json(db, end.skipped)}::jsonb` : db`skipped`},
      skipped_count = ${end ? db`${end.skippedCount}` : db`skipped_count`}
    WHERE tenant_id = ${tenantId} AND id = ${id}::uuid`;
}

/** Records one stored batch: its messages, its conversation, the skipped parts seen so far. */
export async function recordImportBatch(
  db: Db,
  tenantId: string,
  id: string,
  progress: {
    batchesDone: number;
    parsed: number;
    stored: number;
    conversation: string;
    skipped: { where: string; reason: string }[];
    skippedCount: number;
  },
): Promise<void> {
  await db`
    UPDATE imports SET
      heartbeat_at = now(),
      batches_done = ${progress.batchesDone},
      messages_parsed = greatest(messages_parsed, ${progress.parsed}),
      messages_stored = messages_stored + ${progress.stored},
      conversations = CASE WHEN conversations ? ${progress.conversation} THEN conversations
                           ELSE conversations || ${json(db, [progress.conversation])}::jsonb END,
      skipped = ${json(db, progress.skipped)}::jsonb,
      skipped_count = greatest(skipped_count, ${progress.skippedCount})
    WHERE tenant_id = ${tenantId} AND id = ${id}::uuid`;
}

/** Ends an import: succeeded, or failed with its errors. */
export async function finishImport(
  db: Db,
  tenantId: string,
  id: string,
  outcome: {
    status: "succeeded" | "failed";
    parsed: number;
    skipped: { where: string; reason: string }[];
    skippedCount: number;
    errors: { where: string; detail: string }[];
  },
): Promise<void> {
  await db`
    UPDATE imports SET status = ${outcome.status}, finished_at = now(),
      messages_parsed = greatest(messages_parsed, ${outcome.parsed}),
      skipped = ${json(db, outcome.skipped)}::jsonb, skipped_count = greatest(skipped_count, ${outcome.skippedCount}),
      errors = ${json(db, outcome.errors)}::jsonb
    WHERE tenant_id = ${tenantId} AND id = ${id}::uuid AND status IN ('queued', 'running')`;
}
