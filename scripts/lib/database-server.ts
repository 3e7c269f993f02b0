// The embedded database in a process of its own, as npm start runs it (database-child.ts starts
// it): a database that dies is not npm start dying with everything it started left behind.
// Usage (with an IPC channel): node database-server.ts <dataDir> <port>. Sends { url } once it
// accepts connections, or { error } when it cannot open the data directory (in use, unreadable).
// It stops, closing PGlite, on SIGTERM, SIGINT or SIGHUP, and when the channel closes: the parent
// is gone (also when it was killed with SIGKILL), so nothing is left holding the directory.
import { type EmbeddedPostgres, startEmbeddedPostgres } from "./embedded-postgres.ts";

const [dataDir, port] = process.argv.slice(2);
if (!dataDir || !port || !process.send) throw new Error("usage (with an IPC channel): node database-server.ts <dataDir> <port>");
// The parent died before this process ran: open nothing.
if (!process.connected) process.exit(1);

const started: Promise<EmbeddedPostgres | undefined> = startEmbeddedPostgres({ dataDir, port: Number(port) }).catch((err: unknown) => {
  const error = err instanceof Error ? err.message : String(err);
  process.send!({ error }, () => process.exit(1));
  return undefined;
});

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  // A database that does not stop in time is left: what was committed is on disk already (PGlite
  // writes before it acknowledges), so the exit loses nothing.
  setTimeout(() => process.exit(1), 15_000).unref();
  // One that is still opening the directory finishes first, then closes.
  void started.then((pg) => pg?.stop()).finally(() => process.exit(0));
};
process.on("disconnect", stop);
for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) process.on(signal, stop);

const pg = await started;
// A parent gone meanwhile is noticed through "disconnect"; the failed send itself is no error.
if (pg && !stopping) process.send({ url: pg.url }, () => {});
