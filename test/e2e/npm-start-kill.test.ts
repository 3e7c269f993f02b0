// Whatever process of `npm start` dies, by kill -9 too (wrangler dev, the workerd that serves the
// API, npm start's own process, a database that keeps dying), nothing of that npm start keeps
// running: no orphan holds the port and answers 500. A database that dies once is started again,
// and while it is down the API answers what needs no database. Then npm start starts again on the same data folder and
// port, with every acknowledged write there. A restart right after a kill that did leave processes
// running stops them, and only them. Every process is found through an environment variable the
// test gives each run (test/helpers/npm-start-run.ts), so the checks do not depend on how npm
// start arranges its processes, and a failed test kills every process it started.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { freePort } from "../../scripts/lib/free-port.ts";
import { type NpmStartRun, portFree, role, signal, startNpmStart, until } from "../helpers/npm-start-run.ts";

const dataDir = mkdtempSync(join(tmpdir(), "convo-rag-kill-"));
let port = 0;
const runs: NpmStartRun[] = [];
let current: NpmStartRun | undefined;
let decoy: ChildProcess | undefined;
let written = 0;

/** npm start on the test's data folder and port, once ready. */
async function start(env: Record<string, string> = {}): Promise<NpmStartRun> {
  const run = startNpmStart(dataDir, port, env);
  runs.push(run);
  await run.ready;
  current = run;
  return run;
}

/** The npm start the test before left running, or a new one. */
const running = async () => (current && current.child.exitCode === null && current.child.signalCode === null ? current : start());

const api = (path: string, init: RequestInit = {}) =>
  fetch(`http://127.0.0.1:${port}${path}`, {
    ...init,
    headers: { authorization: "Bearer dev-local-key", "content-type": "application/json" },
    signal: AbortSignal.timeout(30_000),
  });

/** The run's database process (pglite.lock holds its pid); 0 while there is none. */
function databasePid(): number {
  try {
    return Number(readFileSync(join(dataDir, "pglite.lock"), "utf8"));
  } catch {
    return 0;
  }
}

/** Ingests a conversation of its own; resolves once the API acknowledged it. */
async function write(): Promise<void> {
  const n = ++written;
  const message = { id: "m1", author_name: "Ann", text: `Written before kill number ${n}.`, timestamp: "2025-01-01T10:00:00Z" };
  const res = await api("/api/conversations", { method: "POST", body: JSON.stringify({ id: `kill-${n}`, messages: [message] }) });
  expect(res.status).toBe(201);
}

/** The restarted API is healthy and has the demo data and every conversation acknowledged before. */
async function expectIntact(): Promise<void> {
  expect((await api("/health")).status).toBe(200);
  const { conversations } = (await (await api("/api/conversations?limit=100")).json()) as { conversations: { id: string }[] };
  const expected = ["support-4711", "team-sync-42", ...Array.from({ length: written }, (_, i) => `kill-${i + 1}`)];
  expect(conversations.map((c) => c.id)).toEqual(expect.arrayContaining(expected));
}

/** Within a bounded wait, no process of `run` runs and its port is free; names what is left if not. */
async function expectGone(run: NpmStartRun, itsPort: number | undefined = port): Promise<void> {
  const portReleased = async () => itsPort === undefined || (await portFree(itsPort));
  await until(async () => run.processes().length === 0 && (await portReleased()), 60_000);
  expect(run.processes().map((p) => p.argv.join(" ").slice(0, 200))).toEqual([]);
  expect(await portReleased()).toBe(true);
}

const killAll = async () => {
  for (const run of runs) await run.kill();
  current = undefined;
};

beforeAll(async () => {
  port = await freePort();
});
// A failed test leaves nothing behind for the next one.
beforeEach(({ onTestFailed }) => onTestFailed(killAll));
afterAll(async () => {
  await killAll();
  decoy?.kill("SIGKILL");
  rmSync(dataDir, { recursive: true, force: true });
});

describe("npm start when one of its processes dies", () => {
  it("refuses a second npm start on the same data folder, naming the running one, which keeps serving", async () => {
    const run = await running();
    const secondPort = await freePort();
    const second = startNpmStart(dataDir, secondPort);
    runs.push(second);
    expect(await second.exited).toBe(1);
    expect(second.output()).toContain(`process ${run.child.pid}`);
    await expectGone(second, secondPort);
    expect((await api("/health")).status).toBe(200);
  }, 200_000);

  it("while its database is down, answers cached questions and a verified key, and 503 with Retry-After to the rest", async () => {
    // The database stays down for the checks: it would start again only after an hour.
    await killAll();
    const run = await start({ DATABASE_RESTART_SECONDS: "3600" });
    const question = JSON.stringify({ query: "What did John say about the project timeline?", stream: false });
    expect((await api("/api/rag/ask", { method: "POST", body: question })).status).toBe(200);
    expect((await api("/api/me")).status).toBe(200);
    const database = databasePid();
    signal(database, "SIGKILL");
    expect(await until(() => run.output().includes("the database process ended"), 30_000)).toBe(true);
    expect(run.output()).toContain("the database process ended (SIGKILL); the API serves cached answers and 503 for the rest");

    expect((await api("/api/me")).status).toBe(200);
    const cached = await api("/api/rag/ask", { method: "POST", body: question });
    expect(cached.status).toBe(200);
    expect(cached.headers.get("x-cache")).toMatch(/^HIT/);
    const message = { id: "m1", author_name: "Ann", text: "Never stored.", timestamp: "2025-01-01T10:00:00Z" };
    for (const [path, init] of [
      ["/api/conversations", {}],
      ["/api/conversations/team-sync-42/messages", {}],
      ["/api/conversations", { method: "POST", body: JSON.stringify({ id: "during-outage", messages: [message] }) }],
      ["/api/rag/ask", { method: "POST", body: JSON.stringify({ query: "Who is on call this weekend?", stream: false }) }],
    ] as [string, RequestInit][]) {
      const res = await api(path, init);
      expect([path, res.status]).toEqual([path, 503]);
      expect(res.headers.get("retry-after")).toBeTruthy();
      expect(res.headers.get("content-type")).toBe("application/problem+json");
    }
    await killAll();
  }, 330_000);

  it("starts its database again when it is killed (-9), with every acknowledged write", async () => {
    const run = await running();
    await write();
    const database = databasePid();
    expect(run.processes().map((p) => p.pid)).toContain(database);
    signal(database, "SIGKILL");
    await until(
      async () =>
        databasePid() !== database &&
        (await api("/health").then(
          (r) => r.status === 200,
          () => false,
        )),
      60_000,
    );
    expect(run.output()).toContain("the database is back");
    await expectIntact();
    await write();
  }, 330_000);

  it("ends entirely when its database keeps dying (DATABASE_RESTARTS=0), and starts again with every acknowledged write", async () => {
    await killAll();
    const run = await start({ DATABASE_RESTARTS: "0" });
    await write();
    const database = databasePid();
    expect(run.processes().map((p) => p.pid)).toContain(database);
    signal(database, "SIGKILL");
    await expectGone(run);
    await start();
    await expectIntact();
  }, 330_000);

  it("leaves nothing running when npm start's own process is killed (-9), and starts again", async () => {
    const run = await running();
    await write();
    signal(run.child.pid!, "SIGKILL");
    await expectGone(run);
    await start();
    await expectIntact();
  }, 330_000);

  it("ends entirely when wrangler dev is killed (-9), and starts again", async () => {
    const run = await running();
    await write();
    const wrangler = run.processes().find((p) => role(p) === "wrangler" && p.argv[1]?.endsWith("wrangler/bin/wrangler.js"));
    expect(wrangler).toBeDefined();
    signal(wrangler!.pid, "SIGKILL");
    await expectGone(run);
    await start();
    await expectIntact();
  }, 330_000);

  it("ends entirely when the workerd serving the API is killed (-9), and starts again", async () => {
    const run = await running();
    await write();
    const workerd = run.processes().find((p) => role(p) === "workerd" && p.argv.some((a) => a.endsWith(`=127.0.0.1:${port}`)));
    expect(workerd).toBeDefined();
    signal(workerd!.pid, "SIGKILL");
    await expectGone(run);
    await start();
    await expectIntact();
  }, 330_000);

  it("a restart right after a kill that left wrangler dev running stops what the killed run left, and nothing else", async () => {
    const run = await running();
    await write();
    // Another program's process that names the data folder and wrangler on its command line.
    decoy = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)", dataDir, "wrangler.js"], { stdio: "ignore" });
    // npm start's own processes all die at once (stopped first, so that none can react), as when
    // the machine runs out of memory: wrangler dev and what it started are left orphaned.
    const own = run.processes().filter((p) => role(p) === "other");
    for (const p of own) signal(p.pid, "SIGSTOP");
    for (const p of own) signal(p.pid, "SIGKILL");
    expect(await until(() => run.processes().every((p) => role(p) !== "other"), 30_000)).toBe(true);
    expect(run.processes().map(role)).toContain("workerd");

    const restarted = await start();
    await expectIntact();
    expect(restarted.output()).toMatch(/stopped \d+ processes a killed npm start left running/);
    expect(run.processes()).toEqual([]);
    expect(decoy.exitCode).toBeNull();
    expect(decoy.signalCode).toBeNull();
  }, 330_000);

  it("still stops every process on Ctrl-C (SIGINT) and exits 0", async () => {
    const run = await running();
    run.child.kill("SIGINT");
    expect(await run.exited).toBe(0);
    await expectGone(run);
  }, 200_000);

  it("says which port is in use by another program, exits 1 and leaves nothing running", async () => {
    const busy = await freePort();
    const server = createServer().listen(busy, "127.0.0.1");
    await new Promise((r) => server.once("listening", r));
    const otherDir = mkdtempSync(join(tmpdir(), "convo-rag-kill-port-"));
    try {
      const run = startNpmStart(otherDir, busy);
      runs.push(run);
      expect(await run.exited).toBe(1);
      // The port is the other program's: only the run's processes are checked.
      await expectGone(run, undefined);
      expect(run.output()).toMatch(new RegExp(`port ${busy} on 127\\.0\\.0\\.1 is in use`));
    } finally {
      server.close();
      rmSync(otherDir, { recursive: true, force: true });
    }
  }, 200_000);
});
