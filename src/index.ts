import { createApp } from "./app.ts";
import { giveUpImport, type ImportJob, runImportStep } from "./imports/run.ts";
import { errorText, logLine } from "./log.ts";
import { housekeeping, IMPORT_WATCHDOG_CRON, importWatchdog } from "./scheduled.ts";

export { AskCoalescer } from "./durable/ask-coalescer.ts";
export { EmbeddingBatcher } from "./durable/embedding-batcher.ts";
export { MetricsAggregator } from "./durable/metrics-aggregator.ts";
export { RateBudget } from "./durable/rate-budget.ts";
export { TenantQuota } from "./durable/tenant-quota.ts";

const app = createApp();

/** Attempts of an import step before the import is marked failed (wrangler.toml max_retries + 1). */
const IMPORT_ATTEMPTS = 5;

export default {
  fetch: app.fetch,
  scheduled(controller, env, ctx) {
    ctx.waitUntil(controller.cron === IMPORT_WATCHDOG_CRON ? importWatchdog(env) : housekeeping(env));
  },
  /** Import steps (src/imports/run.ts): one message per step; a step with more to do queues the next. */
  async queue(batch, env) {
    for (const message of batch.messages) {
      const job = message.body as ImportJob;
      try {
        if ((await runImportStep(env, job)) === "continue") await env.IMPORT_QUEUE.send(job);
        message.ack();
      } catch (err) {
        logLine("error", { event: "import_step_failed", import_id: job.id, attempt: message.attempts, error: errorText(err) });
        if (message.attempts >= IMPORT_ATTEMPTS) {
          await giveUpImport(env, job, err).catch(() => {});
          message.ack();
        } else message.retry({ delaySeconds: 2 ** message.attempts });
      }
    }
  },
} satisfies ExportedHandler<Env>;
