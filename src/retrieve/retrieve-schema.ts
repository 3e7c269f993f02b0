import { z } from "zod";
import { type Config, perConfig, STRATEGIES } from "../config.ts";
import { timestamp } from "../text/timestamp.ts";

const names = (max: number) => z.array(z.string().trim().min(1, "must not be empty").max(256)).min(1, "must not be empty").max(max);

/** The scope filters shared by retrieve and ask. */
export const filtersSchema = z.strictObject({
  conversation_ids: names(100).optional(),
  author_names: names(100).optional(),
  author_types: names(20).optional(),
  from: timestamp.optional(),
  to: timestamp.optional(),
});

/** Which retrieval strategies run (default: the configured ones), shared by retrieve and ask. */
export const strategiesSchema = z
  .array(z.enum(STRATEGIES, { message: `must be one of ${STRATEGIES.join(", ")}` }))
  .min(1, "must name at least one strategy")
  .refine((s) => new Set(s).size === s.length, "must not repeat a strategy");

/** The query field, limited by the configured query length. */
export const querySchema = (config: Config) =>
  z
    .string()
    .refine((s) => s.trim().length > 0, "must not be empty")
    .pipe(z.string().max(config.retrieval.maxQueryTokens * 16));

/** Rejects a time range whose start is after its end. */
export function checkTimeRange(body: { filters?: { from?: Date; to?: Date } | undefined }, ctx: z.RefinementCtx) {
  const { from, to } = body.filters ?? {};
  if (from && to && from > to) ctx.addIssue({ code: "custom", path: ["filters", "from"], message: "must not be after filters.to" });
}

/** Body of POST /api/rag/retrieve, with the configured limits; built once per Config. */
export const retrieveSchema = perConfig(buildRetrieveSchema);

function buildRetrieveSchema(config: Config) {
  return z
    .strictObject({
      query: querySchema(config),
      conversation_id: z.string().trim().min(1).max(256).optional(),
      filters: filtersSchema.optional(),
      top_k: z.number().int("must be an integer").min(1, "must be between 1 and 100").max(100, "must be between 1 and 100").default(10),
      token_budget: z.number().int("must be an integer").min(1).max(200_000).optional(),
      strategies: strategiesSchema.optional(),
      rrf_k: z.number().int().min(1).max(10_000).optional(),
      ef_search: z.number().int().min(1).max(1000).optional(),
      expand_neighbors: z.boolean().optional(),
      focus: z.boolean().optional(),
    })
    .superRefine(checkTimeRange);
}

export type RetrieveBody = z.output<ReturnType<typeof buildRetrieveSchema>>;
