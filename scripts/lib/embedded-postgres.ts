// Starts PGlite with pgvector behind the Postgres wire protocol (pglite-socket) on 127.0.0.1.
// Used by `npm start`, the test global setup and the benchmarks.
import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";
import { vector } from "@electric-sql/pglite-pgvector";
import { mkdirSync } from "node:fs";

export interface EmbeddedPostgres {
  url: string;
  port: number;
  stop(): Promise<void>;
}

/** `dataDir` undefined keeps the database in memory; port 0 picks a free port. */
export async function startEmbeddedPostgres(options: { dataDir?: string; port?: number; maxConnections?: number } = {}): Promise<EmbeddedPostgres> {
  if (options.dataDir) mkdirSync(options.dataDir, { recursive: true });
  const db = await PGlite.create(options.dataDir ?? "memory://", { extensions: { vector } });
  const server = new PGLiteSocketServer({
    db,
    host: "127.0.0.1",
    port: options.port ?? 0,
    // Every Worker request opens its own connection (Hyperdrive pools them in production);
    // the server multiplexes them onto PGlite's single session, keeping transactions whole.
    maxConnections: options.maxConnections ?? 64,
  });
  let port = options.port ?? 0;
  server.addEventListener("listening", (e) => {
    const detail = (e as CustomEvent<{ port: number }>).detail;
    port = detail.port;
  });
  await server.start();
  let stopped = false;
  return {
    port,
    url: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
    async stop() {
      if (stopped) return;
      stopped = true;
      await server.stop();
      await db.close();
    },
  };
}
