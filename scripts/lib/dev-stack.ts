// A throwaway `npm start` stack for benchmarks and soaks: scripts/dev.ts on a temp data folder and
// free ports, the Worker's DevTools inspector on, its output in a log file beside the folder.
import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { lockFileOf } from "./embedded-postgres.ts";
import { freePort } from "./free-port.ts";

export interface DevStack {
  url: string;
  inspectorUrl: string;
  dataDir: string;
  logFile: string;
  /** dev.ts, npm start's own process. */
  process: ChildProcess;
  /** The process of the embedded database (npm start runs it as a child of its own). */
  databasePid: number;
  /** Ctrl-C to the whole process group (SIGKILL after 30 s), then the data folder is removed. */
  stop(): Promise<void>;
}

/** Starts the stack; `vars` go to wrangler dev (--var NAME:value), `env` to dev.ts. */
export async function startDevStack(
  options: { vars?: Record<string, string>; env?: Record<string, string>; prefix?: string } = {},
): Promise<DevStack> {
  const root = join(import.meta.dirname, "../..");
  const dataDir = mkdtempSync(join(tmpdir(), options.prefix ?? "convo-rag-stack-"));
  const logFile = `${dataDir}.log`;
  const [port, dbPort, inspectorPort] = [await freePort(), await freePort(), await freePort()];
  const log = createWriteStream(logFile);
  const vars = Object.entries(options.vars ?? {}).flatMap(([k, v]) => ["--var", `${k}:${v}`]);
  const child = spawn(process.execPath, ["scripts/dev.ts", "--inspector-port", String(inspectorPort), ...vars], {
    cwd: root,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...process.env,
      PORT: String(port),
      PGLITE_PORT: String(dbPort),
      RAG_DATA_DIR: dataDir,
      WRANGLER_SEND_METRICS: "false",
      ...options.env,
    },
  });
  let output = "";
  child.stdout!.on("data", (d) => {
    log.write(d);
    if (output.length < 100_000) output += d;
  });
  child.stderr!.on("data", (d) => log.write(d));
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (child.exitCode === null && child.pid) {
      const exited = new Promise((r) => child.once("exit", r));
      process.kill(-child.pid, "SIGINT");
      const timer = setTimeout(() => process.kill(-child.pid!, "SIGKILL"), 30_000);
      await exited;
      clearTimeout(timer);
    }
    log.end();
    rmSync(dataDir, { recursive: true, force: true });
  };
  process.once("SIGINT", () => void stop().then(() => process.exit(130)));
  const deadline = Date.now() + 180_000;
  while (!/\[start\] ready in/.test(output)) {
    if (Date.now() > deadline || child.exitCode !== null) {
      await stop();
      throw new Error(`npm start did not become ready (log: ${logFile})`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  // The database's data directory lock names its process.
  const databasePid = Number(readFileSync(lockFileOf(join(dataDir, "pglite")), "utf8"));
  return {
    url: `http://127.0.0.1:${port}`,
    inspectorUrl: `http://127.0.0.1:${inspectorPort}`,
    dataDir,
    logFile,
    process: child,
    databasePid,
    stop,
  };
}
