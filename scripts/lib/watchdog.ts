// Ties a server a test run started (redis-server, a PostgreSQL postmaster) to the process that
// started it: a small detached watchdog polls both, and when the starter is gone (a test runner
// killed, or one that crashed before its teardown) it stops the server and removes its directory.
// When the server ends first, the watchdog ends too. A normal teardown stops the server itself.
import { spawn } from "node:child_process";

const WATCHDOG = `
const [owner, child, signal, dir] = [Number(process.argv[1]), Number(process.argv[2]), process.argv[3], process.argv[4]];
const alive = (pid) => { try { process.kill(pid, 0); return true; } catch (e) { return e.code === "EPERM"; } };
const watch = setInterval(() => {
  if (alive(owner)) {
    if (!alive(child)) process.exit(0);
    return;
  }
  clearInterval(watch);
  try { process.kill(child, signal); } catch {}
  const finish = () => { if (dir) require("node:fs").rmSync(dir, { recursive: true, force: true }); process.exit(0); };
  const deadline = Date.now() + 10_000;
  const wait = setInterval(() => {
    if (alive(child) && Date.now() < deadline) return;
    clearInterval(wait);
    try { process.kill(child, "SIGKILL"); } catch {}
    finish();
  }, 100);
}, 500);
`;

/** Stops `pid` with `signal` (and removes `dir`) if this process dies without stopping it. */
export function stopWithThisProcess(pid: number, options: { signal?: NodeJS.Signals; dir?: string } = {}): void {
  const watchdog = spawn(
    process.execPath,
    ["-e", WATCHDOG, String(process.pid), String(pid), options.signal ?? "SIGTERM", options.dir ?? ""],
    {
      detached: true,
      stdio: "ignore",
    },
  );
  watchdog.unref();
}
