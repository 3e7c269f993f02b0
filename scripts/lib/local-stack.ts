// A throwaway local stack for scripts: embedded Postgres in a temp folder, migrated, with the dev
// keys, and `wrangler dev` on a free port. stop() removes everything.
import postgres from "postgres";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureDevKeys } from "./dev-keys.ts";
import { startEmbeddedPostgres } from "./embedded-postgres.ts";
import { freePort } from "./free-port.ts";
import { migrate } from "./migrations.ts";
import { startWranglerDev, waitForHealthy } from "./wrangler-dev.ts";

export interface LocalStack {
  url: string;
  databaseUrl: string;
  stop(): Promise<void>;
}

export async function startLocalStack(vars: Record<string, string> = {}): Promise<LocalStack> {
  const dataDir = mkdtempSync(join(tmpdir(), "convo-rag-stack-"));
  const pg = await startEmbeddedPostgres({ dataDir: join(dataDir, "pglite") });
  const sql = postgres(pg.url, { max: 1, onnotice: () => {} });
  try {
    await migrate(sql);
    await ensureDevKeys(sql);
  } finally {
    await sql.end();
  }
  const wrangler = startWranglerDev({ port: await freePort(), databaseUrl: pg.url, persistTo: join(dataDir, "wrangler"), vars, quiet: true });
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
  return { url: wrangler.url, databaseUrl: pg.url, stop };
}
