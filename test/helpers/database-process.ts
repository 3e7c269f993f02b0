// A database in its own process, so that a test can stop it the way a database host dies (SIGKILL)
// and start it again on the same data directory. Usage: node database-process.ts <dataDir> <port>;
// prints "listening <port>" once it accepts connections. It ends with the process that started it
// (a test run that ends, or dies, must not leave it behind holding its stdout open).
import { type EmbeddedPostgres, startEmbeddedPostgres } from "../../scripts/lib/embedded-postgres.ts";

const [dataDir, port] = process.argv.slice(2);
if (!dataDir || !port) throw new Error("usage: database-process.ts <dataDir> <port>");
const parent = process.ppid;
let pg: EmbeddedPostgres | undefined;
const stop = () => void (pg ? pg.stop() : Promise.resolve()).finally(() => process.exit(0));
for (const signal of ["SIGTERM", "SIGINT"] as const) process.on(signal, stop);
// Orphaned (the parent is gone: this process was handed to init or a subreaper), also while starting.
setInterval(() => process.ppid !== parent && stop(), 250).unref();
// stdout closed by the parent: nobody reads it any more.
process.stdout.on("error", stop);
pg = await startEmbeddedPostgres({ dataDir, port: Number(port) });
process.stdout.write(`listening ${pg.port}\n`);
