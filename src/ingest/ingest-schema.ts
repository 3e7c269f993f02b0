import { z } from "zod";
import { type Config, perConfig } from "../config.ts";
import { timestamp } from "../text/timestamp.ts";

const trimmed = (max: number) =>
  z
    .string()
    .trim()
    .min(1, "must not be empty")
    .max(max, `must be at most ${max} characters`)
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the rule this line enforces is "no control characters".
    .refine((s) => !/[\u0001-\u001f\u007f]/.test(s), "must not contain control characters");

/**
 * Ids are opaque keys a client sends back in URLs and compares byte for byte: no control
 * characters (C0, DEL, C1) and no format characters (bidi overrides and isolates, zero-width
 * characters, soft hyphen, BOM: \p{Cf}), which make two different ids look alike.
 */
const id = (max: number) =>
  trimmed(max).refine(
    (s) => !/[\p{Cc}\p{Cf}]/u.test(s),
    "must not contain control or invisible formatting characters (such as U+202E or U+200B)",
  );

/**
 * A speaker's name: Unicode NFC (so "é" typed two ways is one speaker), no control characters,
 * no bidi overrides or isolates (they make a name display as another), no invisible spacing
 * (U+200B, U+2060, U+FEFF). Zero-width (non-)joiners stay: Persian, Indic scripts and emoji need them.
 */
const authorName = trimmed(256)
  .refine(
    (s) => !/[\p{Cc}\u061c\u200b\u200e\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff]/u.test(s),
    "must not contain control characters, bidi controls or invisible spacing (such as U+202E or U+200B)",
  )
  .transform((s) => s.normalize("NFC"));

/** A JSON object, kept exactly as sent: own keys such as "__proto__" included (a record schema would drop it). */
const metadataObject = z.custom<Record<string, unknown>>(
  (v) => typeof v === "object" && v !== null && !Array.isArray(v),
  "must be a JSON object",
);

/** The ingest body schema with the configured limits, built once per Config. */
export const ingestSchema = perConfig(buildIngestSchema);

function buildIngestSchema(config: Config) {
  const message = z.strictObject({
    id: id(256),
    author_name: authorName,
    author_type: z
      .string()
      .regex(/^[a-z][a-z0-9_-]{0,31}$/, "must be a lower-case word such as human, ai, system or bot")
      .default("human"),
    text: z
      .string()
      .max(config.maxMessageChars, `must be at most ${config.maxMessageChars} characters`)
      .refine((s) => s.trim().length > 0, "must not be empty"),
    timestamp,
  });

  return z
    .strictObject({
      // It travels as a URL path segment: '/' would split it, '.' and '..' are removed by URL
      // normalisation (also when percent-encoded), so none of them could be read back.
      id: id(256)
        .refine((s) => !s.includes("/") && !s.includes("\\"), "must not contain '/' or '\\'")
        .refine((s) => s !== "." && s !== "..", "must not be '.' or '..'"),
      title: z.string().trim().max(1000, "must be at most 1000 characters").nullable().optional(),
      metadata: metadataObject.refine((m) => JSON.stringify(m).length <= 65_536, "must serialise to at most 64 KiB of JSON").optional(),
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
          ctx.addIssue({
            code: "custom",
            path: ["messages", i, "id"],
            message: `duplicate message id '${m.id}' (first at index ${first})`,
          });
        } else seen.set(m.id, i);
      });
    });
}

export type IngestRequest = z.output<ReturnType<typeof buildIngestSchema>>;
export type IngestMessage = IngestRequest["messages"][number];
