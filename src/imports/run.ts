import { dataChanged } from "../cache/index.ts";
import { type Config, configFor } from "../config.ts";
import { createSql, type Sql } from "../db/client.ts";
import { finishImport, getImport, type ImportRow, recordImportBatch, recordImportSpool, startImportStep } from "../db/imports.ts";
import { pointerOf } from "../http/validate.ts";
import { ingestDeps } from "../ingest/ingest-deps.ts";
import { ingestSchema } from "../ingest/ingest-schema.ts";
import { ingestConversation } from "../ingest/ingest-service.ts";
import { errorText, logLine } from "../log.ts";
import { forgetSpeakers } from "../retrieve/speakers.ts";
import { createServices } from "../services.ts";
import { detectFormat } from "./detect.ts";
import { type ConversationBatch, ImportError, type ImportFormat, type ImportOptions, type ImportSink } from "./format.ts";
import { importers } from "./registry.ts";

// One step of an import, run by the queue consumer (src/index.ts). An import has two phases:
// - parse: the uploaded file is read from R2 as a stream and its batches written to R2 as they
//   come (the spool, spool/<tenant>/<import>/<n>), at most IMPORT_PARSE_STEP_BATCHES (200) per
//   step. A parse step that resumes parses from the start again and skips the batches already
//   written, which is cheap next to storing (the parse step of a 100,000-message Slack export
//   took 12.5 s here, one step of about 120 s in all); a malformed file fails here, before
//   anything is stored.
// - store: each step stores the next IMPORT_STEP_BATCHES batches of the spool, in order, as an
//   ingest would (storing one twice changes nothing: messages are matched by id).
// When the import ends, in success or failure, the file and its spool are deleted.

/** The queue message of an import step. */
export interface ImportJob {
  tenantId: string;
  id: string;
}

/** Skipped parts listed in the status (all are counted). */
const SKIPPED_LISTED = 100;

/** Batches a parse step writes between two records of its progress (the watchdog's heartbeat). */
const HEARTBEAT_BATCHES = 20;

class StepDone extends Error {}

/** Options as stored with the import (query parameters, validated by the route). */
export interface StoredImportOptions {
  conversation_id?: string;
  title?: string;
  timezone?: string;
  date_order?: "dmy" | "mdy" | "ymd";
  started_at?: string;
  columns?: ImportOptions["columns"];
}

const toImportOptions = (o: StoredImportOptions): ImportOptions => ({
  conversationId: o.conversation_id,
  title: o.title,
  timezone: o.timezone,
  dateOrder: o.date_order,
  startedAt: o.started_at === undefined ? undefined : new Date(o.started_at),
  columns: o.columns,
});

/** The R2 key of an import's n-th parsed batch. */
const spoolKey = (tenantId: string, id: string, n: number) => `spool/${tenantId}/${id}/${n}`;

/** Deletes an import's file and the first `spooled` batches of its spool (R2 deletes up to 1,000 keys a call). */
async function deleteImportObjects(bucket: R2Bucket, tenantId: string, row: ImportRow, spooled: number): Promise<void> {
  await bucket.delete(row.objectKey);
  for (let from = 0; from < spooled; from += 1000) {
    const keys = Array.from({ length: Math.min(1000, spooled - from) }, (_, i) => spoolKey(tenantId, row.id, from + i));
    await bucket.delete(keys);
  }
}

type Fail = (errors: { where: string; detail: string }[], spooled: number, parsed?: number, skipped?: Skipped) => Promise<"done">;

/** Runs one step; "continue" when the import has more to do in another step. */
export async function runImportStep(env: Env, job: ImportJob): Promise<"done" | "continue"> {
  const config = configFor(env);
  const sql = createSql(env.HYPERDRIVE);
  const pending: Promise<unknown>[] = [];
  try {
    const row = await getImport(sql, job.tenantId, job.id);
    if (!row || row.status === "succeeded" || row.status === "failed") return "done";
    const fail: Fail = async (errors, spooled, parsed = 0, skipped = emptySkipped()) => {
      await finishImport(sql, job.tenantId, job.id, {
        status: "failed",
        parsed,
        skipped: skipped.listed,
        skippedCount: skipped.count,
        errors,
      });
      await deleteImportObjects(env.IMPORTS_BUCKET, job.tenantId, row, spooled);
      return "done" as const;
    };

    if (row.batchesTotal === undefined) {
      const format = (row.format as ImportFormat | null) ?? (await detectFormat(env.IMPORTS_BUCKET, row.objectKey));
      if (!format) {
        return fail(
          [{ where: "file", detail: "the format could not be detected from the content; name it with ?format=" }],
          row.batchesSpooled,
        );
      }
      const object = await env.IMPORTS_BUCKET.get(row.objectKey);
      if (!object) return fail([{ where: "file", detail: "the uploaded file is no longer stored; upload it again" }], row.batchesSpooled);
      const started = await startImportStep(sql, job.tenantId, job.id, format);
      if (!started) return "done";
      return await parseStep(env, config, sql, job.tenantId, started, format, object.body, fail);
    }

    const started = await startImportStep(sql, job.tenantId, job.id, row.format!);
    if (!started) return "done";
    const services = createServices({
      env,
      config,
      tenantId: job.tenantId,
      requestId: `import-${job.id}`,
      sql: () => sql,
      defer: (work) => pending.push(work.catch(() => {})),
    });
    const store = batchStore(config, services, started);
    const total = row.batchesTotal;
    const skipped: Skipped = { listed: [...started.skipped], count: started.skippedCount };
    const end = Math.min(total, started.batchesDone + config.imports.stepBatches);
    for (let i = started.batchesDone; i < end; i++) {
      const object = await env.IMPORTS_BUCKET.get(spoolKey(job.tenantId, job.id, i));
      if (!object) {
        return fail([{ where: "server", detail: `batch ${i + 1} of the parsed file is no longer stored; import the file again` }], total);
      }
      const batch = await object.json<ConversationBatch>();
      let stored: number;
      try {
        stored = await store(batch, skipped);
      } catch (err) {
        if (err instanceof ImportError) return fail([{ where: err.where, detail: err.detail }], total, 0, skipped);
        throw err;
      }
      await recordImportBatch(sql, job.tenantId, job.id, {
        batchesDone: i + 1,
        parsed: 0,
        stored,
        conversation: batch.id,
        skipped: skipped.listed,
        skippedCount: skipped.count,
      });
    }
    if (end < total) return "continue";
    await finishImport(sql, job.tenantId, job.id, {
      status: "succeeded",
      parsed: 0,
      skipped: skipped.listed,
      skippedCount: skipped.count,
      errors: [],
    });
    await deleteImportObjects(env.IMPORTS_BUCKET, job.tenantId, row, total);
    return "done";
  } finally {
    await Promise.all(pending);
    await sql.end({ timeout: 5 });
  }
}

/** A parse step: writes the file's next batches to the spool; "continue" while there is more to parse or store. */
async function parseStep(
  env: Env,
  config: Config,
  sql: Sql,
  tenantId: string,
  row: ImportRow,
  format: ImportFormat,
  body: ReadableStream<Uint8Array>,
  fail: Fail,
): Promise<"done" | "continue"> {
  const limit = config.imports.parseStepBatches;
  const skipped = emptySkipped();
  let index = 0;
  let parsed = 0;
  let written = 0;
  const sink: ImportSink = {
    async batch(batch) {
      const i = index++;
      if (i >= row.batchesSpooled) {
        if (written >= limit) throw new StepDone();
        await env.IMPORTS_BUCKET.put(spoolKey(tenantId, row.id, i), JSON.stringify(batch));
        written++;
        // A sign of life now and then, so the watchdog never takes a long parse for a lost one.
        if (written % HEARTBEAT_BATCHES === 0) await recordImportSpool(sql, tenantId, row.id, { spooled: i + 1, parsed });
      }
      parsed += batch.messages.length;
      // Let other requests of the isolate in: a parse is CPU from one batch to the next, and the
      // spool's write alone did not yield (GET /health waited a whole 2.6 s parse step for it).
      await new Promise((r) => setTimeout(r, 0));
    },
    skipped(where, reason) {
      skipped.count++;
      if (skipped.listed.length < SKIPPED_LISTED) skipped.listed.push({ where, reason });
    },
  };
  try {
    await importers[format].parse(body, toImportOptions(row.options as StoredImportOptions), sink);
  } catch (err) {
    const spooled = row.batchesSpooled + written;
    if (err instanceof StepDone) {
      await recordImportSpool(sql, tenantId, row.id, { spooled, parsed });
      return "continue";
    }
    if (err instanceof ImportError) return fail([{ where: err.where, detail: err.detail }], spooled, parsed, skipped);
    throw err;
  }
  const spooled = row.batchesSpooled + written;
  await recordImportSpool(sql, tenantId, row.id, { spooled, parsed, end: { skipped: skipped.listed, skippedCount: skipped.count } });
  if (spooled > 0) return "continue";
  // A file without a single message (only system lines, say): nothing to store.
  await finishImport(sql, tenantId, row.id, {
    status: "succeeded",
    parsed,
    skipped: skipped.listed,
    skippedCount: skipped.count,
    errors: [],
  });
  await env.IMPORTS_BUCKET.delete(row.objectKey);
  return "done";
}

/** Marks an import failed after its step kept failing (the database or a provider was down), and deletes its files. */
export async function giveUpImport(env: Env, job: ImportJob, err: unknown): Promise<void> {
  const sql = createSql(env.HYPERDRIVE);
  try {
    const row = await getImport(sql, job.tenantId, job.id);
    const detail = `the import stopped after repeated failures (${errorText(err).slice(0, 200)}); what was stored stays, import the file again to finish`;
    await finishImport(sql, job.tenantId, job.id, {
      status: "failed",
      parsed: 0,
      skipped: row?.skipped ?? [],
      skippedCount: 0,
      errors: [{ where: "server", detail }],
    });
    if (row) await deleteImportObjects(env.IMPORTS_BUCKET, job.tenantId, row, row.batchesSpooled);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

interface Skipped {
  listed: { where: string; reason: string }[];
  count: number;
}
const emptySkipped = (): Skipped => ({ listed: [], count: 0 });

/**
 * Stores one batch as an ingest would (merge mode: messages matched by id), after checking each
 * message against the ingest rules: one that breaks them (an empty text, a name with control
 * characters) is skipped with the rule it breaks, not the batch. Returns the messages stored.
 */
function batchStore(config: Config, services: ReturnType<typeof createServices>, row: ImportRow) {
  const schema = ingestSchema(config);
  const messageSchema = schema.shape.messages.element;
  return async (batch: ConversationBatch, skipped: Skipped): Promise<number> => {
    const seen = new Set<string>();
    // The batch's messages that meet the ingest rules, as the parser gave them (the schema below parses them).
    const messages: ConversationBatch["messages"] = [];
    for (const message of batch.messages) {
      const where = `conversation '${batch.id}', message '${message.id}'`;
      const checked = messageSchema.safeParse(message);
      if (!checked.success) {
        const issue = checked.error.issues[0]!;
        skipped.count++;
        if (skipped.listed.length < SKIPPED_LISTED)
          skipped.listed.push({ where, reason: `${pointerOf(issue.path).slice(2) || "message"}: ${issue.message}` });
      } else if (seen.has(checked.data.id)) {
        skipped.count++;
        if (skipped.listed.length < SKIPPED_LISTED) skipped.listed.push({ where, reason: "a second message with this id in the export" });
      } else {
        seen.add(checked.data.id);
        messages.push(message);
      }
    }
    if (messages.length === 0) return 0;
    const body = schema.safeParse({ id: batch.id, title: batch.title, metadata: batch.metadata, mode: "merge", messages });
    if (!body.success) {
      const issue = body.error.issues[0]!;
      throw new ImportError(`conversation '${batch.id}'`, `${pointerOf(issue.path).slice(2)}: ${issue.message}`);
    }
    const result = await ingestConversation(await ingestDeps(services, config), body.data);
    if (result.changed) {
      forgetSpeakers(services.tenantId);
      await dataChanged(services.versions, services.tenantId, batch.id, `import-${row.id}`);
    }
    logLine("info", { event: "import_batch", import_id: row.id, conversation: batch.id, messages: messages.length });
    return result.messages.inserted + result.messages.updated;
  };
}
