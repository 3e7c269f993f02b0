import { z } from "zod";
import { IMPORT_FORMATS } from "../imports/format.ts";
import { count, isoTime } from "./rag-schemas.ts";

// Response bodies of /api/imports; the query schema is the route's own (src/routes/imports.ts).

export const importAccepted = z
  .object({ id: z.uuid(), status: z.literal("queued") })
  .meta({ id: "ImportAccepted", description: "Follow it at the `Location` (`GET /api/imports/{id}`)" });

export const importStatus = z
  .object({
    id: z.uuid(),
    status: z.enum(["queued", "running", "succeeded", "failed", "cancelled"]),
    format: z.enum(IMPORT_FORMATS).nullable().meta({ description: "`null` until detected" }),
    progress: z.object({
      messages_parsed: count,
      messages_stored: count.meta({ description: "Messages that were new or changed: 0 when the same file is imported again" }),
      conversations: z.array(z.string()).meta({ description: "Every conversation that received messages" }),
    }),
    skipped: z
      .array(z.object({ where: z.string().meta({ description: "File, line or JSON path" }), reason: z.string() }))
      .meta({ description: "The first 100 parts left out on purpose" }),
    skipped_count: count,
    errors: z.array(z.object({ where: z.string(), detail: z.string() })).meta({ description: "Why a failed import failed" }),
    created_at: isoTime,
    started_at: isoTime.nullable(),
    finished_at: isoTime.nullable(),
  })
  .meta({ id: "ImportStatus" });
