// An embedded Postgres in a child process on a data directory, behind the cut proxy: tripping the
// proxy (POST /arm?on=…) kills the database process with SIGKILL, as when its host dies in the
// middle of a transaction, and refuses new connections; POST /kill does it at once; POST /start
// starts it again on the same files.
// Tests check what survived.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { prepareLocalDatabase } from "../../scripts/lib/dev-keys.ts";
import { freePort } from "../../scripts/lib/free-port.ts";
import { type CutProxy, startCutProxy } from "./cut-proxy.ts";

const ENTRY = new URL("./database-process.ts", import.meta.url).pathname;

export interface DatabaseProcess {
  proc: ChildProcess;
  /** Resolves once it accepts connections; rejects if it exits before. */
  ready: Promise<void>;
  /** SIGKILL, as when its host dies; resolves once it is gone. */
  kill(): Promise<void>;
}

/** Starts database-process.ts on a data directory and port. */
export function spawnDatabase(dataDir: string, port: number): DatabaseProcess {
  const proc = spawn(process.execPath, [ENTRY, dataDir, String(port)], { stdio: ["ignore", "pipe", "inherit"] });
  const ready = new Promise<void>((resolve, reject) => {
    proc.stdout!.on("data", (d: Buffer) => String(d).includes("listening") && resolve());
    proc.once("exit", (code) => reject(new Error(`the database process exited (${code}) before listening`)));
  });
  return {
    proc,
    ready,
    async kill() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise((r) => proc.once("exit", r));
      proc.kill("SIGKILL");
      await exited;
    },
  };
}

export async function startStoppableDatabase(): Promise<{ databaseUrl: string; controlUrl: string; stop(): Promise<void> }> {
  const dataDir = mkdtempSync(join(tmpdir(), "convo-rag-stoppable-"));
  const port = await freePort();
  const url = `postgres://postgres:postgres@127.0.0.1:${port}/postgres`;
  let child: ChildProcess | undefined;

  let db: DatabaseProcess | undefined;
  const start = async () => {
    db = spawnDatabase(dataDir, port);
    child = db.proc;
    await db.ready;
  };
  const kill = async () => {
    child = undefined;
    await db?.kill();
  };

  await start();
  await prepareLocalDatabase(url);

  // Down means down: while the process is dead, new connections are refused too.
  const proxy: CutProxy = await startCutProxy(url, {
    onTrip: async () => {
      await proxy.refuse();
      await kill();
    },
    routes: {
      "/kill": async () => {
        await proxy.refuse();
        await kill();
        return { running: false };
      },
      "/start": async () => {
        const began = Date.now();
        if (!child) await start();
        await proxy.accept();
        return { running: true, startMs: Date.now() - began };
      },
    },
  });
  return {
    ...proxy,
    stop: async () => {
      await proxy.stop();
      await kill();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
