import { dataChanged } from "../cache/index.ts";
import { type Config, configFor } from "../config.ts";
import { createSql } from "../db/client.ts";
import { finishImport, getImport, type ImportRow, recordImportBatch, startImportStep } from "../db/imports.ts";
import { pointerOf } from "../http/validate.ts";
import { ingestSchema } from "../ingest/ingest-schema.ts";
import { ingestConversation } from "../ingest/ingest-service.ts";
import { errorText, logLine } from "../log.ts";
import { createEmbedder } from "../providers/index.ts";
import { forgetSpeakers } from "../retrieve/speakers.ts";
import { createServices } from "../services.ts";
import { tiktoken } from "../tokens/tokenizer.ts";
import { detectFormat } from "./detect.ts";
import { type ConversationBatch, ImportError, type ImportFormat, type ImportOptions, type ImportSink } from "./format.ts";
import { importers } from "./registry.ts";

// One step of an import, run by the queue consumer (src/index.ts): parse the uploaded file from R2
// as a stream and store its batches, at most IMPORT_STEP_BATCHES per step, then hand the rest to the next
// step (a new queue message). A step that resumes parses from the start again and skips the
// batches stored before (parsing is cheap next to storing; storing a batch twice would change
// nothing anyway, since messages are matched by id).

/** The queue message of an import step. */
export interface ImportJob {
  tenantId: string;
  id: string;
}

/** Skipped parts listed in the status (all are counted). */
const SKIPPED_LISTED = 100;

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

/** Runs one step; "continue" when the import has more batches for another step. */
export async function runImportStep(env: Env, job: ImportJob): Promise<"done" | "continue"> {
  const config = configFor(env);
  const sql = createSql(env.HYPERDRIVE);
  const pending: Promise<unknown>[] = [];
  try {
    const row = await getImport(sql, job.tenantId, job.id);
    if (!row || row.status === "succeeded" || row.status === "failed") return "done";
    const fail = async (errors: { where: string; detail: string }[], parsed = 0, skipped: Skipped = emptySkipped()) => {
      await finishImport(sql, job.tenantId, job.id, {
        status: "failed",
        parsed,
        skipped: skipped.listed,
        skippedCount: skipped.count,
        errors,
      });
      await env.IMPORTS_BUCKET.delete(row.objectKey);
      return "done" as const;
    };
    const format = (row.format as ImportFormat | null) ?? (await detectFormat(env.IMPORTS_BUCKET, row.objectKey));
    if (!format) {
      return fail([{ where: "file", detail: "the format could not be detected from the content; name it with ?format=" }]);
    }
    const object = await env.IMPORTS_BUCKET.get(row.objectKey);
    if (!object) return fail([{ where: "file", detail: "the uploaded file is no longer stored; upload it again" }]);
    const started = await startImportStep(sql, job.tenantId, job.id, format);
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
    const skipped = emptySkipped();
    let index = 0;
    let parsed = 0;
    let storedThisStep = 0;
    const sink: ImportSink = {
      async batch(batch) {
        const i = index++;
        parsed += batch.messages.length;
        if (i < started.batchesDone) return;
        if (storedThisStep >= config.imports.stepBatches) throw new StepDone();
        const stored = await store(batch, skipped);
        storedThisStep++;
        await recordImportBatch(sql, job.tenantId, job.id, {
          batchesDone: i + 1,
          parsed,
          stored,
          conversation: batch.id,
          skipped: skipped.listed,
          skippedCount: skipped.count,
        });
      },
      skipped(where, reason) {
        skipped.count++;
        if (skipped.listed.length < SKIPPED_LISTED) skipped.listed.push({ where, reason });
      },
    };
    try {
      await importers[format].parse(object.body, toImportOptions(row.options as StoredImportOptions), sink);
    } catch (err) {
      if (err instanceof StepDone) return "continue";
      if (err instanceof ImportError) return fail([{ where: err.where, detail: err.detail }], parsed, skipped);
      throw err;
    }
    await finishImport(sql, job.tenantId, job.id, {
      status: "succeeded",
      parsed,
      skipped: skipped.listed,
      skippedCount: skipped.count,
      errors: [],
    });
    await env.IMPORTS_BUCKET.delete(row.objectKey);
    return "done";
  } finally {
    await Promise.all(pending);
    await sql.end({ timeout: 5 });
  }
}

/** Marks an import failed after its step kept failing (the database or a provider was down). */
export async function giveUpImport(env: Env, job: ImportJob, err: unknown): Promise<void> {
  const sql = createSql(env.HYPERDRIVE);
  try {
    const detail = `the import stopped after repeated failures (${errorText(err).slice(0, 200)}); what was stored stays, import the file again to finish`;
    await finishImport(sql, job.tenantId, job.id, {
      status: "failed",
      parsed: 0,
      skipped: [],
      skippedCount: 0,
      errors: [{ where: "server", detail }],
    });
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
    const result = await ingestConversation(
      {
        conversations: services.stores.conversations,
        embedder: createEmbedder(config),
        tokenizer: await tiktoken(),
        chunking: { maxTokens: config.chunkMaxTokens, sessionGapMs: config.chunkSessionGapMinutes * 60_000 },
        statementTimeoutMs: config.statementTimeoutMs,
      },
      body.data,
    );
    if (result.changed) {
      forgetSpeakers(services.tenantId);
      await dataChanged(services.versions, services.tenantId, batch.id, `import-${row.id}`);
    }
    logLine("info", { event: "import_batch", import_id: row.id, conversation: batch.id, messages: messages.length });
    return result.messages.inserted + result.messages.updated;
  };
}
