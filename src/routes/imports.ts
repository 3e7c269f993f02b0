import { Hono } from "hono";
import { z } from "zod";
import type { AppEnv } from "../app-env.ts";
import { cancelImport, getImport, type ImportRow, insertImport } from "../db/imports.ts";
import { ApiError, badRequest, notFound } from "../errors.ts";
import { noQuery, parseBody } from "../http/validate.ts";
import { IMPORT_FORMATS } from "../imports/format.ts";
import { deleteImportObjects } from "../imports/import-objects.ts";
import type { ImportJob } from "../imports/run.ts";
import { timestamp } from "../text/timestamp.ts";

const zoneName = z.string().refine((zone) => {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}, "must be an IANA time zone such as Europe/Berlin");

/** Query of POST /api/imports: the format (detected when absent) and the importer's options. */
export const importQuery = z
  .strictObject({
    format: z.enum(IMPORT_FORMATS, { message: `must be one of ${IMPORT_FORMATS.join(", ")}` }).optional(),
    conversation_id: z
      .string()
      .trim()
      .min(1)
      .max(200)
      .regex(/^[^/\\\p{Cc}\p{Cf}]+$/u, "must not contain '/', '\\' or control characters")
      .optional()
      .meta({ description: "The conversation's id (single-conversation formats), or the prefix of the ids of many" }),
    title: z.string().trim().min(1).max(1000).optional(),
    timezone: zoneName
      .optional()
      .meta({ description: "Time zone of timestamps the file gives without one (WhatsApp, CSV, JSONL, Telegram); default UTC" }),
    date_order: z
      .enum(["dmy", "mdy", "ymd"])
      .optional()
      .meta({ description: "Day/month order of a WhatsApp export when the file cannot tell" }),
    started_at: timestamp.optional().meta({ description: "When a transcript's 00:00:00 was (VTT, SRT: required)" }),
    author_column: z.string().min(1).max(100).optional(),
    text_column: z.string().min(1).max(100).optional(),
    timestamp_column: z.string().min(1).max(100).optional(),
    id_column: z.string().min(1).max(100).optional(),
    author_type_column: z
      .string()
      .min(1)
      .max(100)
      .optional()
      .meta({ description: "Column or field holding human, ai, bot or system (CSV, JSONL)" }),
  })
  .meta({ id: "ImportQuery" });

const present = (row: ImportRow) => ({
  id: row.id,
  status: row.status,
  format: row.format,
  progress: { messages_parsed: row.messagesParsed, messages_stored: row.messagesStored, conversations: row.conversations },
  skipped: row.skipped,
  skipped_count: row.skippedCount,
  errors: row.errors,
  created_at: row.createdAt.toISOString(),
  started_at: row.startedAt?.toISOString() ?? null,
  finished_at: row.finishedAt?.toISOString() ?? null,
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * /api/imports: upload an export (the raw file as the body) to be imported in the background, and
 * follow its progress. The file goes to R2 as it arrives (never held in memory); a queue message
 * starts the import (src/imports/run.ts).
 */
export const importRoutes = new Hono<AppEnv>()
  .post("/", async (c) => {
    const { config } = c.var;
    const query = parseBody(importQuery, c.req.query(), "query string");
    const length = Number(c.req.header("content-length") ?? Number.NaN);
    if (!Number.isSafeInteger(length)) {
      throw new ApiError(411, "length-required", "send the file with a Content-Length (curl --data-binary @file does)");
    }
    if (length === 0 || !c.req.raw.body) throw badRequest("the file is empty");
    if (length > config.imports.maxBytes) {
      throw new ApiError(
        413,
        "body-too-large",
        `the file is larger than the import limit of ${config.imports.maxBytes} bytes (IMPORT_MAX_BYTES)`,
      );
    }
    const id = crypto.randomUUID();
    const tenantId = c.var.auth.tenantId;
    const objectKey = `imports/${tenantId}/${id}`;
    // A FixedLengthStream lets R2 take the body as it streams in, and fails a body that is not
    // as long as it said.
    const { readable, writable } = new FixedLengthStream(length);
    const piped = c.req.raw.body.pipeTo(writable);
    const [stored, sent] = await Promise.allSettled([c.env.IMPORTS_BUCKET.put(objectKey, readable), piped]);
    if (stored.status === "rejected" || sent.status === "rejected") {
      await c.env.IMPORTS_BUCKET.delete(objectKey).catch(() => {});
      // A body shorter than its Content-Length fails the piping: the client's doing. R2 failing alone is ours.
      if (sent.status === "fulfilled") throw (stored as PromiseRejectedResult).reason;
      throw new ApiError(
        400,
        "body-incomplete",
        `the upload broke off before its Content-Length of ${length} bytes (${String(sent.reason).slice(0, 100)}); send the file again`,
      );
    }
    const { format, author_column, text_column, timestamp_column, id_column, author_type_column, started_at, ...options } = query;
    const columns = {
      author: author_column,
      text: text_column,
      timestamp: timestamp_column,
      id: id_column,
      authorType: author_type_column,
    };
    await insertImport(c.var.sql(), tenantId, {
      id,
      format: format ?? null,
      options: {
        ...options,
        ...(started_at ? { started_at: started_at.toISOString() } : {}),
        ...(Object.values(columns).some((v) => v !== undefined) ? { columns } : {}),
      },
      objectKey,
      bytes: length,
    });
    await c.env.IMPORT_QUEUE.send({ tenantId, id } satisfies ImportJob);
    return c.json({ id, status: "queued" }, 202, { location: `/api/imports/${id}` });
  })
  .get("/:id", async (c) => {
    noQuery(c.req.query());
    const id = c.req.param("id");
    const row = UUID.test(id) ? await getImport(c.var.sql(), c.var.auth.tenantId, id) : undefined;
    if (!row) throw notFound(`import '${id.slice(0, 100)}' does not exist`);
    return c.json(present(row));
  })
  // Its running step learns of it at its next batch (every write of a step is conditional on
  // 'running') and stops; the objects are deleted here and again by that step.
  .post("/:id/cancel", async (c) => {
    noQuery(c.req.query());
    const id = c.req.param("id");
    const tenantId = c.var.auth.tenantId;
    const sql = c.var.sql();
    const row = UUID.test(id) ? await cancelImport(sql, tenantId, id) : undefined;
    if (!row) {
      const ended = UUID.test(id) ? await getImport(sql, tenantId, id) : undefined;
      if (!ended) throw notFound(`import '${id.slice(0, 100)}' does not exist`);
      throw new ApiError(
        409,
        "import-finished",
        `the import has already ${ended.status === "cancelled" ? "been cancelled" : ended.status}`,
      );
    }
    c.executionCtx.waitUntil(deleteImportObjects(c.env.IMPORTS_BUCKET, tenantId, row.id, row.objectKey).catch(() => {}));
    return c.json(present(row));
  });
