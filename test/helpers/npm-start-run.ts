// One `npm start` (scripts/dev.ts) for the tests that kill its processes. Every process of the run
// is found without knowing how npm start is built: the test gives the run a variable of its own
// in the environment, which every process started from it inherits (node, wrangler, workerd,
// esbuild), and /proc shows each process's environment. So "nothing of the run is left" is a
// question /proc answers, and no process of any other program is ever taken for one of the run's.
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";

const ROOT = join(import.meta.dirname, "../..");
const MARK = "E2E_NPM_START_RUN";

export interface RunProcess {
  pid: number;
  argv: string[];
}

export interface NpmStartRun {
  /** npm start's own process. */
  child: ChildProcess;
  output(): string;
  /** Resolves with the exit code (null: killed by a signal). */
  exited: Promise<number | null>;
  /** Resolves once it logged "ready"; rejects if it exits first or is not ready within 150 s. */
  ready: Promise<void>;
  /** Its processes that still run (a killed process nobody has collected yet does not). */
  processes(): RunProcess[];
  /** SIGKILL to every process of the run; resolves once none is left. */
  kill(): Promise<void>;
}

/** npm start on `dataDir` and `port`, with `env` added to its environment. */
export function startNpmStart(dataDir: string, port: number, env: Record<string, string> = {}): NpmStartRun {
  const id = randomUUID();
  const child = spawn(process.execPath, ["scripts/dev.ts"], {
    cwd: ROOT,
    // Out of the test runner's process group: nothing sent to the run reaches the runner.
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, PORT: String(port), RAG_DATA_DIR: dataDir, WRANGLER_SEND_METRICS: "false", ...env, [MARK]: id },
  });
  let output = "";
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const processes = () => processesCarrying(`${MARK}=${id}`);
  const ready = (async () => {
    const deadline = Date.now() + 150_000;
    while (!/\[start\] ready in/.test(output)) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`npm start exited before it was ready:\n${output}`);
      if (Date.now() > deadline) throw new Error(`npm start was not ready within 150 s:\n${output}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  ready.catch(() => {});
  return {
    child,
    output: () => output,
    exited,
    ready,
    processes,
    async kill() {
      for (let round = 0; round < 100 && processes().length > 0; round++) {
        for (const p of processes()) signal(p.pid, "SIGKILL");
        await new Promise((r) => setTimeout(r, 100));
      }
    },
  };
}

/** Live processes whose environment holds `entry` (NAME=value). */
export function processesCarrying(entry: string): RunProcess[] {
  const found: RunProcess[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      // A zombie (exited, not yet collected) shows an empty environment: it is not running.
      if (!readFileSync(`/proc/${name}/environ`, "latin1").split("\0").includes(entry)) continue;
      found.push({ pid: Number(name), argv: readFileSync(`/proc/${name}/cmdline`, "latin1").split("\0").slice(0, -1) });
    } catch {
      // Gone meanwhile, or another user's.
    }
  }
  return found;
}

export function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // Gone already.
  }
}

/** Resolves true once `condition()` holds, false when `timeoutMs` passed first. */
export async function until(condition: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
  return true;
}

/** Which part of npm start a process is, by its command line. */
export function role(p: RunProcess): "wrangler" | "workerd" | "esbuild" | "other" {
  const [program = ""] = p.argv;
  if (/\/workerd$/.test(program)) return "workerd";
  if (/\/esbuild$/.test(program)) return "esbuild";
  // node wrangler.js …, and the node --no-warnings cli.js … it starts.
  if (p.argv.slice(1, 3).some((a) => /wrangler\/(bin\/wrangler\.js|wrangler-dist\/cli\.js)$/.test(a))) return "wrangler";
  return "other";
}

/** Whether a server could listen on `port` on 127.0.0.1 now. */
export const portFree = (port: number) =>
  new Promise<boolean>((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
