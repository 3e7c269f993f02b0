import { z } from "zod";
import { type Config, perConfig, SELECTION_STRATEGIES } from "../config.ts";
import { checkTimeRange, filtersSchema, querySchema, strategiesSchema } from "../retrieve/retrieve-schema.ts";

/** Body of POST /api/rag/ask, with the configured limits; built once per Config. */
export const askSchema = perConfig(buildAskSchema);

function buildAskSchema(config: Config) {
  const { chat, ask } = config;
  return z
    .strictObject({
      query: querySchema(config),
      conversation_id: z.string().trim().min(1).max(256).optional(),
      session_id: z
        .string()
        .regex(/^[A-Za-z0-9._:-]{1,128}$/, "must be 1 to 128 characters: letters, digits, '.', '_', ':' or '-'")
        .optional(),
      filters: filtersSchema.optional(),
      /** Which retrieval strategies find the candidates (default: the configured ones). */
      strategies: strategiesSchema.optional(),
      top_k: z.number().int("must be an integer").min(1, "must be between 1 and 50").max(50, "must be between 1 and 50").default(ask.topK),
      strategy: z.enum(SELECTION_STRATEGIES, { message: `must be one of ${SELECTION_STRATEGIES.join(", ")}` }).default(ask.strategy),
      max_context_tokens: z
        .number()
        .int("must be an integer")
        .min(1, "must be positive")
        .max(ask.maxContextTokens, `must be at most ${ask.maxContextTokens} (the configured context budget)`)
        .default(ask.maxContextTokens),
      cache: z.boolean().default(true),
      stream: z.boolean().default(true),
      model: z
        .string()
        .refine((m) => chat.allowedModels.includes(m), `must be one of: ${chat.allowedModels.join(", ")}`)
        .default(chat.model),
      temperature: z.number().min(0, "must be between 0 and 2").max(2, "must be between 0 and 2").default(chat.temperature),
      max_tokens: z
        .number()
        .int("must be an integer")
        .min(1, "must be positive")
        .max(chat.maxTokensCap, `must be at most ${chat.maxTokensCap} (the configured cap)`)
        .default(chat.defaultMaxTokens),
    })
    .superRefine(checkTimeRange);
}

export type AskBody = z.output<ReturnType<typeof buildAskSchema>>;
