import { z } from "zod";
import { perConfig, type Config } from "../config.ts";
import { timestamp } from "../http/timestamp.ts";

const trimmed = (max: number) =>
  z
    .string()
    .trim()
    .min(1, "must not be empty")
    .max(max, `must be at most ${max} characters`)
    .refine((s) => !/[\u0001-\u001f\u007f]/.test(s), "must not contain control characters");

/** The ingest body schema with the configured limits, built once per Config. */
export const ingestSchema = perConfig(buildIngestSchema);

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
    timestamp,
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
