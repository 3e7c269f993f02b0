// A server a test run starts (redis-server, a PostgreSQL postmaster) must not outlive the run,
// also when the runner is killed before its teardown: a watchdog stops it and removes its files.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Waits until `condition` holds, polling; false if it never did within `limitMs` (generous: no timing is asserted). */
async function eventually(condition: () => boolean, limitMs = 60_000): Promise<boolean> {
  for (const started = Date.now(); Date.now() - started < limitMs; ) {
    if (condition()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return condition();
}

it("stops a server and removes its directory when the process that started it is killed", async () => {
  const dir = mkdtempSync(join(tmpdir(), "convo-rag-watchdog-"));
  const watchdog = join(import.meta.dirname, "../../scripts/lib/watchdog.ts");
  // The starter: starts a long-lived "server", ties it to itself, prints its pid, then waits to be killed.
  const starter = spawn(
    process.execPath,
    [
      "--input-type=module",
      "-e",
      `import { spawn } from "node:child_process";
       import { stopWithThisProcess } from ${JSON.stringify(watchdog)};
       const server = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore", detached: true });
       server.unref();
       stopWithThisProcess(server.pid, { dir: ${JSON.stringify(dir)} });
       console.log(server.pid);
       setInterval(() => {}, 1000);`,
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const server = await new Promise<number>((resolve) => starter.stdout!.once("data", (d: Buffer) => resolve(Number(String(d).trim()))));
  expect(alive(server)).toBe(true);
  starter.kill("SIGKILL");
  expect(await eventually(() => !alive(server))).toBe(true);
  expect(await eventually(() => !existsSync(dir))).toBe(true);
}, 120_000);

it("leaves a server alone while the process that started it lives, and ends when the server ends", async () => {
  const { stopWithThisProcess } = await import("../../scripts/lib/watchdog.ts");
  const server = spawn(process.execPath, ["-e", "setTimeout(() => {}, 1500)"], { stdio: "ignore" });
  const exited = new Promise((r) => server.once("exit", r));
  stopWithThisProcess(server.pid!);
  await exited;
  // The server ran its course (the starter, this process, lives): nothing stopped it early.
  expect(server.exitCode).toBe(0);
});
