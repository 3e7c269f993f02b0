import type { Db } from "./client.ts";
import { json } from "./json.ts";

// The imports table (migrations/0007_imports.sql, 0008_import_spool.sql, 0010_import_resume_cancel.sql):
// every function is bound to one tenant. What a step records lands only while the import is
// running: once it is cancelled (or has ended), the step learns so from the write.

export type ImportStatus = "queued" | "running" | "succeeded" | "failed" | "cancelled";

/** Statuses an import never leaves. */
export const FINISHED: ReadonlySet<ImportStatus> = new Set(["succeeded", "failed", "cancelled"]);

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
  /** The R2 key of the checkpoint the parse goes on from; undefined: from the file's first byte. */
  resumeKey: string | undefined;
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
  resume_key: string | null;
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
  resumeKey: r.resume_key ?? undefined,
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
 * Records where a parse stands: the batches written to the spool, the messages parsed, and the
 * checkpoint the next step goes on from (`resumeKey`, consistent with `spooled`); at the end of the
 * file also the batch total and what the parse skipped. False when the import is no longer running.
 */
export async function recordImportSpool(
  db: Db,
  tenantId: string,
  id: string,
  progress: {
    spooled: number;
    parsed: number;
    resumeKey?: string | undefined;
    skipped?: { listed: { where: string; reason: string }[]; count: number };
    end?: boolean;
  },
): Promise<boolean> {
  const { end, skipped } = progress;
  const rows = await db`
    UPDATE imports SET
      heartbeat_at = now(),
      batches_spooled = ${progress.spooled},
      resume_key = ${progress.resumeKey ?? null},
      messages_parsed = greatest(messages_parsed, ${progress.parsed}),
      batches_total = ${end ? db`${progress.spooled}` : db`batches_total`},
      skipped = ${skipped ? db`${json(db, skipped.listed)}::jsonb` : db`skipped`},
      skipped_count = ${skipped ? db`${skipped.count}` : db`skipped_count`}
    WHERE tenant_id = ${tenantId} AND id = ${id}::uuid AND status = 'running'
    RETURNING 1`;
  return rows.length > 0;
}

/** A sign of life from a step (with the messages parsed so far); false when the import is no longer running. */
export async function importHeartbeat(db: Db, tenantId: string, id: string, parsed = 0): Promise<boolean> {
  const rows = await db`
    UPDATE imports SET heartbeat_at = now(), messages_parsed = greatest(messages_parsed, ${parsed})
    WHERE tenant_id = ${tenantId} AND id = ${id}::uuid AND status = 'running'
    RETURNING 1`;
  return rows.length > 0;
}

/** Cancels an import that is queued or running; undefined when there is none (or it has ended). */
export async function cancelImport(db: Db, tenantId: string, id: string): Promise<ImportRow | undefined> {
  const [row] = await db<Row[]>`
    UPDATE imports SET status = 'cancelled', finished_at = now()
    WHERE tenant_id = ${tenantId} AND id = ${id}::uuid AND status IN ('queued', 'running')
    RETURNING *`;
  return row && toImport(row);
}

/** Records one stored batch: its messages and its conversation (also once the import is cancelled: they landed). */
export async function recordImportBatch(
  db: Db,
  tenantId: string,
  id: string,
  progress: {
    batchesDone: number;
    stored: number;
    conversation: string;
  },
): Promise<void> {
  await db`
    UPDATE imports SET
      heartbeat_at = now(),
      batches_done = ${progress.batchesDone},
      messages_stored = messages_stored + ${progress.stored},
      conversations = CASE WHEN conversations ? ${progress.conversation} THEN conversations
                           ELSE conversations || ${json(db, [progress.conversation])}::jsonb END
    WHERE tenant_id = ${tenantId} AND id = ${id}::uuid`;
}

/** Ends an import that is still queued or running: succeeded, or failed with its errors (and, from a parse, what it skipped). */
export async function finishImport(
  db: Db,
  tenantId: string,
  id: string,
  outcome: {
    status: "succeeded" | "failed";
    errors: { where: string; detail: string }[];
    parsed?: number;
    skipped?: { listed: { where: string; reason: string }[]; count: number };
  },
): Promise<void> {
  const { skipped } = outcome;
  await db`
    UPDATE imports SET status = ${outcome.status}, finished_at = now(),
      messages_parsed = greatest(messages_parsed, ${outcome.parsed ?? 0}),
      skipped = ${skipped ? db`${json(db, skipped.listed)}::jsonb` : db`skipped`},
      skipped_count = ${skipped ? db`${skipped.count}` : db`skipped_count`},
      errors = ${json(db, outcome.errors)}::jsonb
    WHERE tenant_id = ${tenantId} AND id = ${id}::uuid AND status IN ('queued', 'running')`;
}
