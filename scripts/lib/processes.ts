// The processes npm start runs: whether one still runs (and is the one we mean), and process
// groups, in which each child runs with what it starts (wrangler's workerd and esbuild), so that
// they are stopped together.
import { readdirSync, readFileSync } from "node:fs";

/** Fields 3… of /proc/<pid>/stat (Linux): [0] the state, [2] the process group, [19] the start time; undefined elsewhere or when gone. */
function stat(pid: number): string[] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    return text.slice(text.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined;
  }
}

const hasProc = (() => {
  try {
    readFileSync("/proc/self/stat");
    return true;
  } catch {
    return false;
  }
})();

/** When a process started (Linux: clock ticks since boot), to tell it from a later one with its pid. */
export const processStarted = (pid: number): string | undefined => stat(pid)?.[19];

/**
 * Whether process `pid` runs: it exists and has not exited (a killed process stays in the table,
 * a zombie, until its parent collects it; Linux tells it apart, elsewhere it counts as running).
 */
export function processRunning(pid: number): boolean {
  if (hasProc) {
    const state = stat(pid)?.[0];
    return state !== undefined && state !== "Z" && state !== "X";
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Whether any process of the group `pgid` still runs (a zombie does not: Linux tells it apart). */
export function groupAlive(pgid: number): boolean {
  if (hasProc) {
    return readdirSync("/proc").some((p) => {
      if (!/^\d+$/.test(p)) return false;
      const fields = stat(Number(p));
      return fields !== undefined && Number(fields[2]) === pgid && fields[0] !== "Z" && fields[0] !== "X";
    });
  }
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Resolves true once `done()` holds, false after `timeoutMs`. */
export async function waitUntil(done: () => boolean, timeoutMs: number, pollMs = 50): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, pollMs));
  }
  return true;
}

/**
 * Stops every process of the group: SIGTERM, then SIGKILL for what is left after `graceMs`;
 * resolves once the group is empty (or, with a member nobody collects, 5 s after the SIGKILL).
 */
export async function stopGroup(pgid: number, graceMs = 5000): Promise<void> {
  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(-pgid, name);
    } catch {
      // Gone already.
    }
  };
  signal("SIGTERM");
  if (await waitUntil(() => !groupAlive(pgid), graceMs)) return;
  signal("SIGKILL");
  await waitUntil(() => !groupAlive(pgid), 5000);
}
