// A throwaway local stack for scripts: embedded Postgres in a temp folder, migrated, with the dev
// keys, and `wrangler dev` on a free port. stop() removes everything.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { prepareLocalDatabase } from "./dev-keys.ts";
import { startEmbeddedPostgres } from "./embedded-postgres.ts";
import { freePort } from "./free-port.ts";
import { startWranglerDev, waitForHealthy } from "./wrangler-dev.ts";

export interface LocalStack {
  url: string;
  databaseUrl: string;
  /** Process group of `wrangler dev` and the workerd it runs (for memory sampling). */
  processGroup: number | undefined;
  /** DevTools inspector of the Worker (when asked for): see isolate-heap.ts. */
  inspectorUrl?: string;
  stop(): Promise<void>;
}

export async function startLocalStack(vars: Record<string, string> = {}, options: { inspector?: boolean } = {}): Promise<LocalStack> {
  const dataDir = mkdtempSync(join(tmpdir(), "convo-rag-stack-"));
  const pg = await startEmbeddedPostgres({ dataDir: join(dataDir, "pglite") });
  await prepareLocalDatabase(pg.url);
  // A private stack measures the API: one key sends everything, so the per-key limit is off, and
  // per-request log lines would only slow the terminal.
  const inspectorPort = options.inspector ? await freePort() : undefined;
  const wrangler = startWranglerDev({
    port: await freePort(),
    databaseUrl: pg.url,
    persistTo: join(dataDir, "wrangler"),
    vars: { KEY_RATE_LIMIT: "off", LOG_REQUESTS: "false", ...vars },
    quiet: true,
    inspectorPort,
  });
  const stop = async () => {
    await wrangler.stop();
    await pg.stop();
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    await waitForHealthy(wrangler.url, 90_000, wrangler.exited);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    url: wrangler.url,
    databaseUrl: pg.url,
    processGroup: await wrangler.group,
    inspectorUrl: inspectorPort ? `http://127.0.0.1:${inspectorPort}` : undefined,
    stop,
  };
}
