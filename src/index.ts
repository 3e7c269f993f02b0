import { createApp } from "./app.ts";
import { housekeeping } from "./scheduled.ts";

export { AskCoalescer } from "./durable/ask-coalescer.ts";
export { EmbeddingBatcher } from "./durable/embedding-batcher.ts";
export { MetricsAggregator } from "./durable/metrics-aggregator.ts";
export { RateBudget } from "./durable/rate-budget.ts";
export { TenantQuota } from "./durable/tenant-quota.ts";

const app = createApp();

export default {
  fetch: app.fetch,
  scheduled(_controller, env, ctx) {
    ctx.waitUntil(housekeeping(env));
  },
} satisfies ExportedHandler<Env>;
