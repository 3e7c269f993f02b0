import { createApp } from "./app.ts";
import { giveUpImport, type ImportJob, runImportStep } from "./imports/run.ts";
import { errorText, logLine } from "./log.ts";
import { giveUpReembed, type ReembedQueueJob, runReembedStep } from "./reembed/job.ts";
import { housekeeping, IMPORT_WATCHDOG_CRON, importWatchdog } from "./scheduled.ts";

export { AskCoalescer } from "./durable/ask-coalescer.ts";
export { EmbeddingBatcher } from "./durable/embedding-batcher.ts";
export { MetricsAggregator } from "./durable/metrics-aggregator.ts";
export { RateBudget } from "./durable/rate-budget.ts";
export { TenantQuota } from "./durable/tenant-quota.ts";

const app = createApp();

/** Attempts of a step before its import or job is marked failed (wrangler.toml max_retries + 1). */
const IMPORT_ATTEMPTS = 5;

/** A message of the import queue: an import's step, or a re-embedding job's (src/reembed). */
type QueueJob = ImportJob | ReembedQueueJob;
const isReembed = (job: QueueJob): job is ReembedQueueJob => (job as ReembedQueueJob).kind === "reembed";

export default {
  fetch: app.fetch,
  scheduled(controller, env, ctx) {
    ctx.waitUntil(controller.cron === IMPORT_WATCHDOG_CRON ? importWatchdog(env) : housekeeping(env));
  },
  /**
   * Steps of imports (src/imports/run.ts) and of re-embedding jobs (src/reembed/job.ts): one
   * message per step; a step with more to do queues the next.
   */
  async queue(batch, env) {
    for (const message of batch.messages) {
      const job = message.body as QueueJob;
      try {
        const next = isReembed(job) ? await runReembedStep(env, job) : await runImportStep(env, job);
        if (next === "continue") await env.IMPORT_QUEUE.send(job);
        else if (next !== "done") await env.IMPORT_QUEUE.send(job, next);
        message.ack();
      } catch (err) {
        const event = isReembed(job) ? "reembed_step_failed" : "import_step_failed";
        logLine("error", { event, id: job.id, attempt: message.attempts, error: errorText(err) });
        if (message.attempts >= IMPORT_ATTEMPTS) {
          await (isReembed(job) ? giveUpReembed(env, job, err) : giveUpImport(env, job, err)).catch(() => {});
          message.ack();
        } else message.retry({ delaySeconds: 2 ** message.attempts });
      }
    }
  },
} satisfies ExportedHandler<Env>;
