import { z } from "zod";
import { timestamp } from "../text/timestamp.ts";
import { decodeMessageCursor } from "./message-cursor.ts";

/** A whole number in a query string, digits only ("", "1.5", "1e2" and " 5" are errors). */
const wholeNumber = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d{1,6}$/, `must be an integer from ${min} to ${max}`)
    .transform(Number)
    .pipe(z.number().min(min, `must be an integer from ${min} to ${max}`).max(max, `must be an integer from ${min} to ${max}`));

/**
 * An ISO 8601 timestamp in a query string. An unencoded '+' before an offset arrives as a space
 * (form encoding); it is read back as '+', since a space cannot start an offset.
 */
const queryTimestamp = z
  .string()
  .transform((s) => s.replace(/([T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}:?\d{2})$/i, "$1+$2"))
  .pipe(timestamp);

const NOT_A_CURSOR = "is not a cursor returned by this API";

/**
 * Query string of GET /api/conversations/:id/messages (strict: an unknown parameter is a 400).
 * Either a page (`limit`, `cursor`) or a window around a message (`around`, `before`, `after`);
 * `author_name`, `from` and `to` filter both.
 */
export const messagesQuerySchema = z
  .strictObject({
    limit: wholeNumber(1, 200).optional().describe("messages per page, 1–200, default 50 (not with around)"),
    cursor: z
      .string()
      .max(2048, NOT_A_CURSOR)
      .transform((value, ctx) => {
        const cursor = decodeMessageCursor(value);
        if (!cursor) ctx.addIssue({ code: "custom", message: NOT_A_CURSOR });
        return cursor ?? z.NEVER;
      })
      .optional()
      .describe("next_cursor or prev_cursor of an earlier page (not with around)"),
    from: queryTimestamp.optional().describe("ISO 8601; only messages at or after it"),
    to: queryTimestamp.optional().describe("ISO 8601; only messages at or before it"),
    author_name: z
      .string()
      .min(1, "must not be empty")
      .max(256, "must be at most 256 characters")
      .transform((s) => s.normalize("NFC"))
      .optional()
      .describe("only this speaker's messages (exact, after Unicode NFC normalisation)"),
    around: z.string().min(1, "must not be empty").optional().describe("a message id: the message with its neighbours"),
    before: wholeNumber(0, 100).optional().describe("with around: messages before it, 0–100, default 5"),
    after: wholeNumber(0, 100).optional().describe("with around: messages after it, 0–100, default 5"),
  })
  .superRefine((q, ctx) => {
    const issue = (path: string, message: string) => ctx.addIssue({ code: "custom", path: [path], message });
    if (q.from && q.to && q.from > q.to) issue("from", "must not be after to");
    if (q.around === undefined) {
      if (q.before !== undefined) issue("before", "applies only with around");
      if (q.after !== undefined) issue("after", "applies only with around");
    } else {
      if (q.cursor !== undefined) issue("cursor", "cannot be combined with around");
      if (q.limit !== undefined) issue("limit", "does not apply with around (use before and after)");
    }
  })
  .transform((q) => ({
    filter: { authorName: q.author_name, from: q.from, to: q.to },
    limit: q.limit ?? 50,
    cursor: q.cursor,
    around: q.around === undefined ? undefined : { messageId: q.around, before: q.before ?? 5, after: q.after ?? 5 },
  }));

export type MessagesQuery = z.output<typeof messagesQuerySchema>;

/** One message as GET /api/conversations/:id/messages returns it. */
export const messageSchema = z.object({
  id: z.string(),
  author_name: z.string(),
  author_type: z.string(),
  text: z.string(),
  timestamp: z.iso.datetime().describe("ISO 8601, UTC, milliseconds"),
});

/** Response of GET /api/conversations/:id/messages: messages in conversation order and cursors both ways. */
export const messagePageSchema = z.object({
  conversation_id: z.string(),
  around: z.string().optional().describe("the requested message id, with around only"),
  messages: z.array(messageSchema),
  next_cursor: z.string().nullable().describe("pass as cursor for the messages after the last one; null: none (now)"),
  prev_cursor: z.string().nullable().describe("pass as cursor for the messages before the first one; null: none"),
});

export type MessageBody = z.infer<typeof messageSchema>;
export type MessagePageBody = z.infer<typeof messagePageSchema>;
