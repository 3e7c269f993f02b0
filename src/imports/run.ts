import { dataChanged } from "../cache/index.ts";
import { type Config, configFor } from "../config.ts";
import { createSql } from "../db/client.ts";
import { FINISHED, finishImport, getImport, type ImportRow, importHeartbeat, recordImportBatch, startImportStep } from "../db/imports.ts";
import { ingestDeps } from "../ingest/ingest-deps.ts";
import { ingestSchema } from "../ingest/ingest-schema.ts";
import { ingestConversation } from "../ingest/ingest-service.ts";
import { errorText, logLine } from "../log.ts";
import { forgetSpeakers } from "../retrieve/speakers.ts";
import { createServices } from "../services.ts";
import { detectFormat } from "./detect.ts";
import { type ConversationBatch, ImportError, type ImportFormat, type ImportOptions } from "./format.ts";
import { deleteImportObjects, spoolKey } from "./import-objects.ts";
import { type Fail, parseStep } from "./parse-step.ts";
import { importers } from "./registry.ts";

// One step of an import, run by the queue consumer (src/index.ts). An import has two phases:
// - parse (parse-step.ts): the uploaded file is read from R2 and its batches, checked against
//   ingest's rules, written to R2 as they come (the spool, spool/<tenant>/<import>/<n>); a step
//   stops after IMPORT_PARSE_STEP_BATCHES batches (or IMPORT_PARSE_STEP_BYTES of the file) and
//   the next goes on from where it stopped. A malformed file fails here, before anything is stored.
// - store: each step stores the next IMPORT_STEP_BATCHES batches of the spool, in order, as an
//   ingest would (storing one twice changes nothing: messages are matched by id).
// An import takes at most IMPORT_MAX_STEPS steps and holds at most IMPORT_MAX_MESSAGES messages;
// its owner may cancel it. When it ends, in success, failure or cancellation, its objects go.

/** The queue message of an import step. */
export interface ImportJob {
  tenantId: string;
  id: string;
}

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

/** Runs one step; "continue" when the import has more to do in another step. */
export async function runImportStep(env: Env, job: ImportJob): Promise<"done" | "continue"> {
  const config = configFor(env);
  const sql = createSql(env.HYPERDRIVE);
  const pending: Promise<unknown>[] = [];
  try {
    const row = await getImport(sql, job.tenantId, job.id);
    if (!row || FINISHED.has(row.status)) return "done";
    const cleanUp = () => deleteImportObjects(env.IMPORTS_BUCKET, job.tenantId, row.id, row.objectKey);
    const fail: Fail = async (errors, parse) => {
      await finishImport(sql, job.tenantId, job.id, { status: "failed", errors, ...parse });
      await cleanUp();
      return "done";
    };
    const cancelled = async () => {
      await cleanUp();
      return "done" as const;
    };
    if (row.steps >= config.imports.maxSteps) {
      return fail([
        {
          where: "import",
          detail: `the import did not finish within ${config.imports.maxSteps} steps (IMPORT_MAX_STEPS); what was stored stays, import the file again to finish`,
        },
      ]);
    }

    if (row.batchesTotal === undefined) {
      const format = (row.format as ImportFormat | null) ?? (await detectFormat(env.IMPORTS_BUCKET, row.objectKey));
      if (!format) {
        return fail([{ where: "file", detail: "the format could not be detected from the content; name it with ?format=" }]);
      }
      const started = await startImportStep(sql, job.tenantId, job.id, format);
      if (!started) return "done";
      const options = toImportOptions(started.options as StoredImportOptions);
      return await parseStep({
        env,
        config,
        sql,
        tenantId: job.tenantId,
        row: started,
        importer: importers[format],
        options,
        fail,
        cancelled,
      });
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
    const end = Math.min(total, started.batchesDone + config.imports.stepBatches);
    for (let i = started.batchesDone; i < end; i++) {
      const object = await env.IMPORTS_BUCKET.get(spoolKey(job.tenantId, job.id, i));
      if (!object) {
        return fail([{ where: "server", detail: `batch ${i + 1} of the parsed file is no longer stored; import the file again` }]);
      }
      const batch = await object.json<ConversationBatch>();
      // A cancelled import stores nothing more; a batch stored is always counted.
      if (!(await importHeartbeat(sql, job.tenantId, job.id))) return cancelled();
      let stored: number;
      try {
        stored = await store(batch);
      } catch (err) {
        if (err instanceof ImportError) return fail([{ where: err.where, detail: err.detail }]);
        throw err;
      }
      await recordImportBatch(sql, job.tenantId, job.id, { batchesDone: i + 1, stored, conversation: batch.id });
    }
    if (end < total) return "continue";
    await finishImport(sql, job.tenantId, job.id, { status: "succeeded", errors: [] });
    await cleanUp();
    return "done";
  } finally {
    await Promise.all(pending);
    await sql.end({ timeout: 5 });
  }
}

/** Marks an import failed after its step kept failing (the database or a provider was down), and deletes its files. */
export async function giveUpImport(env: Env, job: ImportJob, err: unknown): Promise<void> {
  const sql = createSql(env.HYPERDRIVE);
  try {
    const row = await getImport(sql, job.tenantId, job.id);
    const stored = row?.messagesStored
      ? `${row.messagesStored} messages of it were stored (in ${row.conversations.join(", ")}) and stay`
      : "nothing of it was stored";
    const detail = `the import stopped after repeated failures (${errorText(err).slice(0, 200)}); ${stored}: import the file again to finish`;
    await finishImport(sql, job.tenantId, job.id, { status: "failed", errors: [{ where: "server", detail }] });
    if (row) await deleteImportObjects(env.IMPORTS_BUCKET, job.tenantId, row.id, row.objectKey);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/**
 * Stores one batch of the spool as an ingest would (merge mode: messages matched by id); the parse
 * checked it against ingest's rules. Returns the messages stored (new or changed).
 */
function batchStore(config: Config, services: ReturnType<typeof createServices>, row: ImportRow) {
  const schema = ingestSchema(config);
  return async (batch: ConversationBatch): Promise<number> => {
    const body = schema.safeParse({ ...batch, mode: "merge" });
    if (!body.success) {
      const issue = body.error.issues[0]!;
      throw new ImportError(`conversation '${batch.id}'`, `${issue.path.map(String).join("/")}: ${issue.message}`);
    }
    const result = await ingestConversation(await ingestDeps(services, config), body.data);
    if (result.changed) {
      forgetSpeakers(services.tenantId);
      await dataChanged(services.versions, services.tenantId, batch.id, `import-${row.id}`);
    }
    logLine("info", { event: "import_batch", import_id: row.id, conversation: batch.id, messages: batch.messages.length });
    return result.messages.inserted + result.messages.updated;
  };
}
