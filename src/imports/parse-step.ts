// The parse phase of an import (run.ts): the file is read from R2 as a stream and its batches are
// checked against ingest's rules and written to the spool as they come. A step stops at a point
// the parser offers once it has written IMPORT_PARSE_STEP_BATCHES batches or read
// IMPORT_PARSE_STEP_BYTES, and leaves a checkpoint (where in the file, and the parser's state);
// the next step reads the file from that byte on. A single-file format uploaded as a zip (a
// WhatsApp chat with its media) first has its member read out into R2, so that later steps can
// start anywhere in it. Every malformed file fails here, before anything is stored.
import type { Config } from "../config.ts";
import type { Sql } from "../db/client.ts";
import { type ImportRow, importHeartbeat, recordImportSpool } from "../db/imports.ts";
import { ingestSchema } from "../ingest/ingest-schema.ts";
import { checkBatch } from "./batch-check.ts";
import { ImportError, type Importer, type ImportOptions, type ImportSink, ParsePaused, type ZipLimits } from "./format.ts";
import { type Checkpoint, checkpointKey, putStream, readCheckpoint, spoolKey, stageKey, writeCheckpoint } from "./import-objects.ts";
import { emptySkipped, noteSkipped, type Skipped } from "./skipped.ts";
import { isZip, readZipMember, ZIP_LIMITS } from "./zip.ts";

/** Batches a parse step writes between two signs of life (for the watchdog, and to learn of a cancellation). */
const HEARTBEAT_BATCHES = 20;

/** Ends the import as failed with `errors` (and what the parse skipped), deleting its objects. */
export type Fail = (errors: { where: string; detail: string }[], parse?: { skipped: Skipped; parsed: number }) => Promise<"done">;

/** What a parse step is given. */
export interface ParseStep {
  env: Env;
  config: Config;
  sql: Sql;
  tenantId: string;
  row: ImportRow;
  importer: Importer;
  options: ImportOptions;
  fail: Fail;
  /** Ends the step of an import that was cancelled, deleting its objects. */
  cancelled: () => Promise<"done">;
}

class Cancelled extends Error {}

/** One parse step; "continue" while there is more to parse or store. */
export async function parseStep(step: ParseStep): Promise<"done" | "continue"> {
  const { env, config, sql, tenantId, row, importer, fail, cancelled } = step;
  const bucket = env.IMPORTS_BUCKET;
  const zipLimits: ZipLimits = {
    maxTotalBytes: config.imports.maxInflatedBytes,
    maxEntryBytes: config.imports.maxInflatedBytes,
    maxRatio: ZIP_LIMITS.maxRatio,
  };
  let checkpoint = row.resumeKey ? await readCheckpoint(bucket, row.resumeKey) : undefined;
  if (row.resumeKey && !checkpoint) {
    return fail([{ where: "server", detail: "where the parse stopped is no longer stored; import the file again" }]);
  }
  if (!checkpoint) {
    checkpoint = { source: row.objectKey, file: undefined, resume: undefined, parsed: 0, skipped: emptySkipped(), fitted: [] };
    if (importer.zipMember && (await startsLikeZip(bucket, row.objectKey))) {
      try {
        const file = await stageMember(step, checkpoint.skipped, zipLimits);
        const key = checkpointKey(tenantId, row.id, 0);
        await writeCheckpoint(bucket, key, { ...checkpoint, source: stageKey(tenantId, row.id), file });
        return (await recordImportSpool(sql, tenantId, row.id, { spooled: 0, parsed: 0, resumeKey: key })) ? "continue" : cancelled();
      } catch (err) {
        if (err instanceof ImportError) return fail([{ where: err.where, detail: err.detail }], { skipped: checkpoint.skipped, parsed: 0 });
        throw err;
      }
    }
  }
  const { source, file, resume, skipped } = checkpoint;
  const object = await bucket.get(source, resume ? { range: { offset: resume.at } } : undefined);
  if (!object) return fail([{ where: "file", detail: "the uploaded file is no longer stored; upload it again" }]);

  const schema = ingestSchema(config);
  const fitted = new Set(checkpoint.fitted);
  const startAt = resume?.at ?? 0;
  let parsed = checkpoint.parsed;
  let spooled = row.batchesSpooled;
  let written = 0;
  const skip = (where: string, reason: string) => noteSkipped(skipped, where, reason);
  const sink: ImportSink = {
    async batch(batch) {
      const fit = checkBatch(schema, batch, skip, fitted);
      if (!fit) return;
      parsed += fit.messages.length;
      if (parsed > config.imports.maxMessages) {
        throw new ImportError(
          file ?? "file",
          `the file holds more than ${config.imports.maxMessages} messages, the most one import takes (IMPORT_MAX_MESSAGES): import the export in parts`,
        );
      }
      await bucket.put(spoolKey(tenantId, row.id, spooled), JSON.stringify(fit));
      spooled++;
      written++;
      if (written % HEARTBEAT_BATCHES === 0 && !(await importHeartbeat(sql, tenantId, row.id, parsed))) throw new Cancelled();
      // Let other requests of the isolate in: a parse is CPU from one batch to the next.
      await new Promise((r) => setTimeout(r, 0));
    },
    skipped: skip,
    async pausable(at, suspend) {
      if (written < config.imports.parseStepBatches && at - startAt < config.imports.parseStepBytes) return;
      throw new ParsePaused({ at, state: await suspend() });
    },
  };
  try {
    await importer.parse(object.body, { ...step.options, file, zipLimits }, sink, resume);
  } catch (err) {
    if (err instanceof ParsePaused) {
      const key = checkpointKey(tenantId, row.id, spooled);
      await writeCheckpoint(bucket, key, { source, file, resume: err.resume, parsed, skipped, fitted: [...fitted] } satisfies Checkpoint);
      if (!(await recordImportSpool(sql, tenantId, row.id, { spooled, parsed, resumeKey: key }))) return cancelled();
      if (row.resumeKey && row.resumeKey !== key) await bucket.delete(row.resumeKey);
      return "continue";
    }
    if (err instanceof Cancelled) return cancelled();
    if (err instanceof ImportError) return fail([{ where: err.where, detail: err.detail }], { skipped, parsed });
    throw err;
  }
  if (!(await recordImportSpool(sql, tenantId, row.id, { spooled, parsed, skipped, end: true }))) return cancelled();
  await bucket.delete([...(row.resumeKey ? [row.resumeKey] : []), stageKey(tenantId, row.id)]);
  return "continue";
}

async function startsLikeZip(bucket: R2Bucket, key: string): Promise<boolean> {
  const head = await bucket.get(key, { range: { offset: 0, length: 4 } });
  return head !== null && isZip(new Uint8Array(await head.arrayBuffer()));
}

/** Reads the format's member out of the zip upload into R2 (stage/…), reporting the other entries; returns its path. */
async function stageMember({ env, tenantId, row, importer }: ParseStep, skipped: Skipped, limits: ZipLimits): Promise<string> {
  const member = importer.zipMember!;
  const object = await env.IMPORTS_BUCKET.get(row.objectKey);
  if (!object) throw new ImportError("file", "the uploaded file is no longer stored; upload it again");
  return readZipMember(
    object.body,
    member,
    async (body, path) => {
      await putStream(env.IMPORTS_BUCKET, stageKey(tenantId, row.id), body);
      return path;
    },
    (path) => noteSkipped(skipped, path, member.others),
    limits,
  );
}
