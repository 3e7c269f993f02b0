import { z } from "zod";
import type { Config } from "../config.ts";

const ISO_8601 = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/i;

const isLeap = (y: number) => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;

/** Parses an ISO 8601 date or date-time; one without an offset is taken as UTC. */
export function parseTimestamp(value: string): Date | undefined {
  const m = ISO_8601.exec(value.trim());
  if (!m) return undefined;
  const [, y, mo, d, h = "00", mi = "00", s = "00", frac = "", zone = "Z"] = m;
  const daysInMonth = new Date(Date.UTC(2000, Number(mo), 0)).getUTCDate() - (Number(mo) === 2 && !isLeap(Number(y)) ? 1 : 0);
  if (Number(mo) < 1 || Number(mo) > 12 || Number(d) < 1 || Number(d) > daysInMonth) return undefined;
  if (Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) return undefined;
  const ms = frac ? frac.slice(0, 4).padEnd(4, "0") : "";
  const offset = zone.toUpperCase() === "Z" ? "Z" : zone.length === 5 ? `${zone.slice(0, 3)}:${zone.slice(3)}` : zone;
  const date = new Date(`${y}-${mo}-${d}T${h}:${mi}:${s}${ms}${offset}`);
  if (Number.isNaN(date.getTime())) return undefined;
  const year = date.getUTCFullYear();
  return year >= 1 && year <= 9999 ? date : undefined;
}

const trimmed = (max: number) =>
  z
    .string()
    .trim()
    .min(1, "must not be empty")
    .max(max, `must be at most ${max} characters`)
    .refine((s) => !/[\u0001-\u001f\u007f]/.test(s), "must not contain control characters");

const built = new WeakMap<Config, ReturnType<typeof buildIngestSchema>>();

/** The ingest body schema with the configured limits, built once per Config. */
export function ingestSchema(config: Config) {
  let schema = built.get(config);
  if (!schema) built.set(config, (schema = buildIngestSchema(config)));
  return schema;
}

function buildIngestSchema(config: Config) {
  const message = z.object({
    id: trimmed(256),
    author_name: trimmed(256),
    author_type: z
      .string()
      .regex(/^[a-z][a-z0-9_-]{0,31}$/, "must be a lower-case word such as human, ai, system or bot")
      .default("human"),
    text: z
      .string()
      .max(config.maxMessageChars, `must be at most ${config.maxMessageChars} characters`)
      .refine((s) => s.trim().length > 0, "must not be empty"),
    timestamp: z.string().transform((value, ctx) => {
      const date = parseTimestamp(value);
      if (!date) {
        ctx.addIssue({ code: "custom", message: `'${value.slice(0, 40)}' is not an ISO 8601 timestamp such as 2025-03-01T10:00:00Z` });
        return z.NEVER;
      }
      return date;
    }),
  });

  return z
    .object({
      id: trimmed(256).refine((s) => !s.includes("/"), "must not contain '/'"),
      title: z.string().trim().max(1000, "must be at most 1000 characters").nullable().optional(),
      metadata: z
        .record(z.string(), z.unknown())
        .refine((m) => JSON.stringify(m).length <= 65_536, "must serialise to at most 64 KiB of JSON")
        .optional(),
      mode: z.enum(["merge", "replace"]).default("merge"),
      messages: z
        .array(message)
        .min(1, "must contain at least one message")
        .max(config.maxMessagesPerRequest, `must contain at most ${config.maxMessagesPerRequest} messages`),
    })
    .superRefine((body, ctx) => {
      const seen = new Map<string, number>();
      body.messages.forEach((m, i) => {
        const first = seen.get(m.id);
        if (first !== undefined) {
          ctx.addIssue({ code: "custom", path: ["messages", i, "id"], message: `duplicate message id '${m.id}' (first at index ${first})` });
        } else seen.set(m.id, i);
      });
    });
}

export type IngestRequest = z.output<ReturnType<typeof buildIngestSchema>>;
export type IngestMessage = IngestRequest["messages"][number];
