// Runs `npm start`'s script as a user would, then every curl example of the README against it,
// then Ctrl-C (SIGINT), and checks that everything it started has stopped.
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../scripts/lib/free-port.ts";

const run = promisify(execFile);

/** The curl commands of the README's sh blocks, continuation lines joined. */
function readmeCurlCommands(): string[] {
  const readme = readFileSync(join(import.meta.dirname, "../../README.md"), "utf8");
  const blocks = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
  const commands: string[] = [];
  for (const block of blocks) {
    const joined = block.replace(/\\\n\s*/g, " ").replace(/\n\s+(?=[{"\]])/g, " ");
    commands.push(...joined.split("\n").filter((line) => line.startsWith("curl ")));
  }
  return commands;
}

describe("npm start", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "convo-rag-e2e-"));
  let port = 0;
  let child: ReturnType<typeof spawn>;
  let output = "";
  let exited: Promise<number | null>;

  /** Starts `npm start`'s script on the data folder and waits until it is ready. */
  async function start() {
    output = "";
    child = spawn(process.execPath, ["scripts/dev.ts"], {
      env: { ...process.env, PORT: String(port), RAG_DATA_DIR: dataDir, WRANGLER_SEND_METRICS: "false" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    exited = new Promise((resolve) => child.once("exit", (code) => resolve(code)));
    child.stdout!.on("data", (d) => (output += d));
    child.stderr!.on("data", (d) => (output += d));
    const deadline = Date.now() + 120_000;
    while (!/\[start\] ready in/.test(output)) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`npm start did not become ready:\n${output}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  const ask = async (body: Record<string, unknown>) => {
    const res = await fetch(`http://127.0.0.1:${port}/api/rag/ask`, {
      method: "POST",
      headers: { authorization: "Bearer dev-local-key", "content-type": "application/json" },
      body: JSON.stringify({ stream: false, ...body }),
    });
    expect(res.status).toBe(200);
    return (await res.json()) as {
      answer: string;
      session_saved: boolean;
      history: { turns: number };
      query: { standalone: string; rewritten_by: string | null };
    };
  };

  beforeAll(async () => {
    port = await freePort();
    await start();
  }, 130_000);

  afterAll(() => {
    if (child.exitCode === null) child.kill("SIGKILL");
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("serves the demo data", async () => {
    expect(output).toMatch(/loaded the demo data set \(34 messages\)/);
    const res = await fetch(`http://127.0.0.1:${port}/api/conversations`, { headers: { authorization: "Bearer dev-local-key" } });
    const body = (await res.json()) as { conversations: { id: string }[] };
    expect(body.conversations.map((c) => c.id)).toEqual(["support-4711", "team-sync-42"]);
  });

  it("answers every curl example of the README with a 2xx", async () => {
    const commands = readmeCurlCommands();
    expect(commands.length).toBeGreaterThanOrEqual(7);
    for (const command of commands) {
      const local = command.replaceAll("127.0.0.1:8787", `127.0.0.1:${port}`);
      const { stdout } = await run("bash", ["-c", `${local} -sS -o /dev/null -w '%{http_code}'`]);
      expect(Number(stdout), command).toBeGreaterThanOrEqual(200);
      expect(Number(stdout), command).toBeLessThan(300);
    }
  }, 60_000);

  it("records a session turn before the restart", async () => {
    const first = await ask({ query: "Why did the CSV export fail?", session_id: "e2e-session" });
    expect(first.session_saved).toBe(true);
    expect(first.answer).toMatch(/export/i);
  });

  it("stops everything on Ctrl-C", async () => {
    child.kill("SIGINT");
    expect(await exited).toBe(0);
    await expect(fetch(`http://127.0.0.1:${port}/health`)).rejects.toThrow();
    // wrangler and its children carry the data folder in their command lines; none may be left.
    const pattern = `[${dataDir[0]}]${dataDir.slice(1)}`;
    const { stdout } = await run("bash", ["-c", `pgrep -f -- '${pattern}' || true`]);
    expect(stdout.trim()).toBe("");
  }, 30_000);

  it("keeps the session's history across a restart of wrangler dev", async () => {
    await start();
    const follow = await ask({ query: "Tell me more about that.", session_id: "e2e-session" });
    expect(follow.history.turns).toBe(1);
    expect(follow.query).toMatchObject({ rewritten_by: "heuristic" });
    expect(follow.query.standalone).toContain("Why did the CSV export fail?");
    child.kill("SIGINT");
    expect(await exited).toBe(0);
  }, 150_000);
});
