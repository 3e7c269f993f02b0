// Runs in Node before the workerd tests: an in-memory PGlite + pgvector served over the
// Postgres wire protocol, migrated and seeded with the dev keys, a fake OpenAI server, a real
// Redis (redis-server) behind Upstash's REST protocol, a real vector index (PGlite + pgvector, in
// this process) behind Upstash Vector's, the proxies and second database that the
// fault tests break, and a real PostgreSQL server for what PGlite cannot do (fire a statement_timeout).
import type { TestProject } from "vitest/node";
import { prepareLocalDatabase } from "../scripts/lib/dev-keys.ts";
import { startEmbeddedPostgres } from "../scripts/lib/embedded-postgres.ts";
import { startFakeOpenAI } from "../scripts/lib/fake-openai.ts";
import { startUpstashBridge } from "../scripts/lib/upstash-bridge.ts";
import { startUpstashVectorServer } from "../scripts/lib/upstash-vector-server.ts";
import { loadBulkChunks } from "./helpers/bulk-chunks.ts";
import { startCutProxy } from "./helpers/cut-proxy.ts";
import { startRealPostgres } from "./helpers/real-postgres.ts";
import { startStoppableDatabase } from "./helpers/stoppable-database.ts";

export default async function setup({ provide }: TestProject) {
  // Clients made by tests that call the app directly live until their test file ends: room for them.
  const pg = await startEmbeddedPostgres({ maxConnections: 512 });
  await prepareLocalDatabase(pg.url, loadBulkChunks);
  const openai = await startFakeOpenAI();
  // In this process (it closes in the teardown, and dies with it): the semantic cache's vectors are 384-dimensional.
  const upstashVector = await startUpstashVectorServer({ dimension: 384 });
  const cutProxy = await startCutProxy(pg.url);
  // A second database, in its own process, that the fault tests kill mid-ingest and start again.
  const stoppable = await startStoppableDatabase();
  // Without redis-server (or a PostgreSQL server) the tests that need it say so and skip, except
  // in CI (.ci/run sets CI), where they must run.
  const optional = async <T>(start: () => Promise<T>, what: string): Promise<T | undefined> => {
    try {
      return await start();
    } catch (err) {
      if (process.env.CI) throw err;
      console.warn(`\n[setup] ${err instanceof Error ? err.message : String(err)}: ${what} are skipped.\n`);
      return undefined;
    }
  };
  const upstash = await optional(startUpstashBridge, "the Upstash cache tests");
  const realPostgres = await optional(startRealPostgres, "the tests on a real PostgreSQL server");
  provide("databaseUrl", pg.url);
  provide("fakeOpenAIUrl", openai.url);
  provide("upstashUrl", upstash?.url ?? "");
  provide("upstashVectorUrl", upstashVector.url);
  provide("cutProxyDatabaseUrl", cutProxy.databaseUrl);
  provide("cutProxyControlUrl", cutProxy.controlUrl);
  provide("stoppableDatabaseUrl", stoppable.databaseUrl);
  provide("stoppableControlUrl", stoppable.controlUrl);
  provide("realPostgresUrl", realPostgres?.url ?? "");
  return async () => {
    await realPostgres?.stop();
    await cutProxy.stop();
    await stoppable.stop();
    await upstash?.stop();
    await upstashVector.stop();
    await openai.close();
    await pg.stop();
  };
}

declare module "vitest" {
  export interface ProvidedContext {
    databaseUrl: string;
    fakeOpenAIUrl: string;
    upstashUrl: string;
    upstashVectorUrl: string;
    cutProxyDatabaseUrl: string;
    cutProxyControlUrl: string;
    stoppableDatabaseUrl: string;
    stoppableControlUrl: string;
    realPostgresUrl: string;
  }
}
