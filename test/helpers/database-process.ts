// A database in its own process, so that a test can stop it the way a database host dies (SIGKILL)
// and start it again on the same data directory. Usage: node database-process.ts <dataDir> <port>;
// prints "listening <port>" once it accepts connections.
import { startEmbeddedPostgres } from "../../scripts/lib/embedded-postgres.ts";

const [dataDir, port] = process.argv.slice(2);
if (!dataDir || !port) throw new Error("usage: database-process.ts <dataDir> <port>");
const pg = await startEmbeddedPostgres({ dataDir, port: Number(port) });
process.stdout.write(`listening ${pg.port}\n`);
for (const signal of ["SIGTERM", "SIGINT"] as const) process.on(signal, () => void pg.stop().then(() => process.exit(0)));
