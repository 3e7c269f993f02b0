// What npm start runs on a data folder, in <data dir>/server.json: its own pid (and, on Linux, the
// process's start time, so that a reused pid is not taken for it), the id of the run, which every
// process it starts carries in its environment (RUN_ENV), and, once they answer, the database's
// and the API's URLs (npm run backup reaches the running database through them). A clean stop
// removes the file. One left by a killed npm start tells the next one what to look for: processes
// that carry that run's id are provably its own, and are stopped before the new run starts.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { processRunning, processStarted, waitUntil } from "./processes.ts";

export const RUN_ENV = "CONVO_RAG_RUN";

export interface RunRecord {
  pid: number;
  started?: string;
  run: string;
  database?: string;
  api?: string;
}

export const runRecordFile = (dataDir: string) => join(dataDir, "server.json");

export function readRunRecord(dataDir: string): RunRecord | undefined {
  try {
    const record = JSON.parse(readFileSync(runRecordFile(dataDir), "utf8")) as Partial<RunRecord>;
    return typeof record.pid === "number" ? { run: "", ...record, pid: record.pid } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The pid of the npm start a record names, while that very process runs. A record without a run
 * id (written by an older npm start) names no process reliably; the data directory's lock still
 * keeps a second one off the database.
 */
export function runningSupervisor(record: RunRecord): number | undefined {
  if (!record.run || record.pid === process.pid || !processRunning(record.pid)) return undefined;
  if (record.started !== undefined && processStarted(record.pid) !== record.started) return undefined;
  return record.pid;
}

/** Processes that carry `run` in their environment (Linux; none found elsewhere), this one aside. */
export function processesOfRun(run: string): number[] {
  if (!run) return [];
  const marker = `${RUN_ENV}=${run}`;
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return [];
  }
  return entries
    .filter((p) => /^\d+$/.test(p) && Number(p) !== process.pid)
    .filter((p) => carries(Number(p), marker))
    .map(Number);
}

function carries(pid: number, marker: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/environ`, "latin1").split("\0").includes(marker);
  } catch {
    // Gone, or another user's.
    return false;
  }
}

/** Stops what is left of `run` (SIGTERM, SIGKILL after 10 s); resolves with the pids it found. */
export async function stopRun(run: string): Promise<number[]> {
  const found = processesOfRun(run);
  const signal = (name: NodeJS.Signals) => {
    for (const pid of processesOfRun(run)) {
      try {
        process.kill(pid, name);
      } catch {
        // Gone meanwhile.
      }
    }
  };
  if (found.length === 0) return found;
  signal("SIGTERM");
  if (!(await waitUntil(() => processesOfRun(run).length === 0, 10_000, 100))) {
    signal("SIGKILL");
    await waitUntil(() => processesOfRun(run).length === 0, 5000, 100);
  }
  return found;
}

/** This npm start's record: written now, completed as its servers answer, removed on a clean stop. */
export interface Run {
  update(fields: Pick<RunRecord, "database" | "api">): void;
  remove(): void;
}

/**
 * Takes the data folder for this npm start (`run` is its id, in RUN_ENV). Throws when another npm
 * start runs on it; stops what a killed one left running; `log` says what it stopped.
 */
export async function claimDataFolder(dataDir: string, run: string, log: (line: string) => void): Promise<Run> {
  mkdirSync(dataDir, { recursive: true });
  const file = runRecordFile(dataDir);
  const previous = readRunRecord(dataDir);
  const owner = previous && runningSupervisor(previous);
  if (owner !== undefined) {
    throw new Error(
      `npm start (process ${owner}) is running on ${dataDir}: stop it first (Ctrl-C in its terminal, or kill ${owner}). If no npm start runs, delete ${file}.`,
    );
  }
  if (previous) {
    const stopped = await stopRun(previous.run);
    if (stopped.length > 0) log(`stopped ${stopped.length} processes a killed npm start left running (${stopped.join(", ")})`);
  }
  let record: RunRecord = { pid: process.pid, started: processStarted(process.pid), run };
  const write = () => writeFileSync(file, `${JSON.stringify(record)}\n`);
  write();
  return {
    update(fields) {
      record = { ...record, ...fields };
      write();
    },
    remove() {
      if (readRunRecord(dataDir)?.run === run) rmSync(file, { force: true });
    },
  };
}
