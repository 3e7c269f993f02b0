// Runs a command in a process group of its own and ties that group's life to the process that
// started the guard (through an IPC channel): npm start runs `wrangler dev` under it, which starts
// workerd and esbuild. Usage (with an IPC channel): node process-guard.ts <command> [args…]
//
// The whole group is stopped (SIGTERM, SIGKILL after a grace period) when
// - the parent is gone: the channel closes, also when the parent was killed with SIGKILL;
// - the guard gets SIGTERM, SIGINT or SIGHUP (how the parent stops it);
// - the command ends by itself: what it started (esbuild after a failed start, workerd after a
//   killed wrangler) must not outlive it.
// The guard sends { group } once the command runs and exits with the command's exit code.
import { spawn } from "node:child_process";
import { stopGroup } from "./processes.ts";

const [command, ...args] = process.argv.slice(2);
if (!command || !process.send) throw new Error("usage (with an IPC channel): node process-guard.ts <command> [args…]");
// The parent died before this process ran: start nothing.
if (!process.connected) process.exit(1);

const child = spawn(command, args, { stdio: "inherit", detached: true });
child.once("error", (err) => {
  console.error(`process-guard: ${command} did not start: ${err.message}`);
  process.exit(1);
});
if (child.pid !== undefined) guard(child.pid);

function guard(group: number) {
  let code = 1;
  const ended = new Promise<void>((resolve) =>
    child.once("exit", (exitCode) => {
      code = exitCode ?? 1;
      resolve();
    }),
  );
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await stopGroup(group);
    await ended;
    process.exit(code);
  };
  process.on("disconnect", () => void stop());
  for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) process.on(signal, () => void stop());
  void ended.then(stop);
  // A parent gone meanwhile is noticed through "disconnect"; the failed send itself is no error.
  process.send!({ group }, () => {});
}
