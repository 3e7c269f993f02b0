// A real PostgreSQL server (Debian's `postgresql` package), started on a throwaway data directory
// for what PGlite cannot show: PGlite runs single-threaded without timer signals, so a
// statement_timeout is stored there but never fires. initdb refuses to run as root, so under root
// the server runs as the package's `postgres` user.
import { execFileSync } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { type AddressInfo, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stopWithThisProcess } from "../../scripts/lib/watchdog.ts";

export interface RealPostgres {
  url: string;
  stop(): Promise<void>;
}

/** The newest installed server's bin directory (PG_BIN overrides), or undefined. */
function serverBin(): string | undefined {
  if (process.env.PG_BIN) return process.env.PG_BIN;
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, "bin", "initdb")))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] && join(root, versions[0], "bin");
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export async function startRealPostgres(): Promise<RealPostgres> {
  const bin = serverBin();
  if (!bin) throw new Error("no PostgreSQL server found under /usr/lib/postgresql (apt-get install postgresql, or set PG_BIN)");
  const dir = mkdtempSync(join(tmpdir(), "real-postgres-"));
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
    chownSync(dir, uid, gid);
  }
  const run = (tool: string, args: string[]) =>
    execFileSync(asRoot ? "runuser" : join(bin, tool), asRoot ? ["-u", "postgres", "--", join(bin, tool), ...args] : args, {
      stdio: "pipe",
      timeout: 60_000,
    });
  const port = await freePort();
  run("initdb", ["-D", dir, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"]);
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`;
  run("pg_ctl", ["-D", dir, "-o", options, "-l", join(dir, "server.log"), "-w", "start"]);
  // SIGQUIT: the postmaster's immediate shutdown, as pg_ctl -m immediate sends it.
  const postmaster = Number(readFileSync(join(dir, "postmaster.pid"), "utf8").split("\n")[0]);
  stopWithThisProcess(postmaster, { signal: "SIGQUIT", dir });
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    async stop() {
      try {
        run("pg_ctl", ["-D", dir, "-m", "immediate", "-w", "stop"]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
