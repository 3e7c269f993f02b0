// Runs `npm start`'s script as a user would, then every curl example of the README against it,
// then Ctrl-C (SIGINT), and checks that everything it started has stopped.
import { execFile, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../scripts/lib/free-port.ts";
import { DURATION_BUCKETS, METRICS } from "../../src/observability/catalog.ts";
import { readmeCurlCommands, readmeStreamingAsk } from "../helpers/readme-commands.ts";
import { parsePrometheus } from "../worker/support/prometheus.ts";

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, "../..");

/** `npm run import` as the README runs it: scripts/import.ts on the project's Node, from the repository. */
const importCli = (...args: string[]) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
    execFile(process.execPath, ["scripts/import.ts", ...args], { cwd: ROOT }, (err, stdout, stderr) =>
      resolve({ code: err ? Number(err.code) : 0, stdout, stderr }),
    ),
  );

/** An Android WhatsApp export (day first: the 18th tells), in summer time: Lisbon is UTC+1. */
const WHATSAPP_CHAT = `18/07/2024, 09:12 - Messages and calls are end-to-end encrypted. No one outside of this chat, not even WhatsApp, can read or listen to them.
18/07/2024, 09:12 - Inês: Are we still on for the bakery tour on Saturday?
18/07/2024, 09:15 - Tomás: Yes! Meet at the tram stop at 10.
It opens at 10:30, so we have time for coffee first.
18/07/2024, 21:40 - Inês: Perfect, I will bring the map.
19/07/2024, 08:05 - Tomás: Bring an umbrella too, rain is forecast.
`;

const promtool = !spawnSync("promtool", ["--version"]).error;
// CI installs it (.ci/run): there the check must run, not skip.
if (!promtool && process.env.CI) throw new Error("promtool is not installed (Debian: apt-get install prometheus); CI needs it");
if (!promtool) console.warn("\n[e2e] promtool is not installed (Debian: apt-get install prometheus): /metrics is not checked with it.\n");

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

  /** An ask as JSON: its x-cache and x-coalesced headers and its answer. */
  const askWithHeaders = async (body: Record<string, unknown>) => {
    const res = await fetch(`http://127.0.0.1:${port}/api/rag/ask`, {
      method: "POST",
      headers: { authorization: "Bearer dev-local-key", "content-type": "application/json" },
      body: JSON.stringify({ stream: false, ...body }),
    });
    expect(res.status).toBe(200);
    const { answer } = (await res.json()) as { answer: string };
    return { cache: res.headers.get("x-cache"), coalesced: res.headers.get("x-coalesced"), answer };
  };

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

  it("starts without fetching request.cf from the network (no warning offline)", () => {
    expect(output).not.toContain("Request.cf");
  });

  it("answers every curl example of the README with a 2xx", async () => {
    const commands = readmeCurlCommands();
    expect(commands.length).toBeGreaterThanOrEqual(7);
    for (const command of commands) {
      const local = command.replaceAll("127.0.0.1:8787", `127.0.0.1:${port}`);
      // A pipeline's request alone, for its status; then the whole pipeline must succeed and print.
      const [request] = local.split(" | ");
      const { stdout } = await run("bash", ["-c", `${request} -sS -o /dev/null -w '%{http_code}'`]);
      expect(Number(stdout), command).toBeGreaterThanOrEqual(200);
      expect(Number(stdout), command).toBeLessThan(300);
      if (request !== local) expect((await run("bash", ["-o", "pipefail", "-c", local])).stdout.trim(), command).not.toBe("");
    }
  }, 60_000);

  it("prints just the answer text with the README's streaming pipeline", async () => {
    const { curl, filter } = readmeStreamingAsk();
    // A question of its own, so that the answer is generated and streamed rather than replayed.
    const question = `What did John say about the project timeline (${crypto.randomUUID().slice(0, 8)})?`;
    const command = `${curl.replaceAll("127.0.0.1:8787", `127.0.0.1:${port}`).replace("What did John say about the project timeline?", question)} | ${filter}`;
    expect(command).toContain(question);
    const { stdout, stderr } = await run("bash", ["-o", "pipefail", "-c", command]);
    expect(stderr).toBe("");
    const { answer } = await askWithHeaders({ query: question });
    expect(answer).toMatch(/\[1\]/);
    expect(stdout).toBe(`${answer}\n`);
  });

  it("answers a repeated question from the cache (MISS, then HIT-L2), and never caches a session's asks", async () => {
    const query = `Who needs the timeline doc before the beta review (${crypto.randomUUID().slice(0, 8)})?`;
    const first = await askWithHeaders({ query });
    expect(first.cache).toBe("MISS");
    // Until its cache write lands, the isolate replays a finished answer to identical asks for a
    // few seconds (x-coalesced: isolate, docs/API.md); once it has, only the cache may answer.
    let again = await askWithHeaders({ query });
    for (let i = 0; i < 100 && again.cache === "MISS" && again.coalesced === "isolate"; i++) {
      expect(again.answer).toBe(first.answer);
      await new Promise((r) => setTimeout(r, 100));
      again = await askWithHeaders({ query });
    }
    expect(again).toEqual({ cache: "HIT-L2", coalesced: null, answer: first.answer });
    // README: a session's first question is answered from the cache too; its later ones afresh.
    const session = `e2e-cache-${crypto.randomUUID().slice(0, 8)}`;
    expect(await askWithHeaders({ query, session_id: session })).toEqual({ cache: "HIT-L2", coalesced: null, answer: first.answer });
    expect((await askWithHeaders({ query, session_id: session })).cache).toBe("BYPASS");
  });

  it("serves /metrics with every documented metric, each histogram label set with all its buckets", async () => {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { authorization: "Bearer dev-admin-key" } });
    expect(res.status).toBe(200);
    const families = parsePrometheus(await res.text());
    for (const [name, spec] of Object.entries(METRICS)) expect(families.find((f) => f.name === name)?.type, name).toBe(spec.type);
    const durations = families.find((f) => f.name === "rag_request_duration_seconds")!.samples;
    const labelSet = ({ le: _, ...rest }: Record<string, string>) => JSON.stringify(rest);
    const labelSets = new Set(durations.map((s) => labelSet(s.labels)));
    expect(labelSets.size).toBeGreaterThan(1);
    for (const set of labelSets) {
      const buckets = durations.filter((s) => s.name.endsWith("_bucket") && labelSet(s.labels) === set);
      expect(
        buckets.map((s) => s.labels.le),
        set,
      ).toEqual([...DURATION_BUCKETS.map(String), "+Inf"]);
    }
  });

  it.skipIf(!promtool)("serves /metrics that `promtool check metrics` accepts", async () => {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { authorization: "Bearer dev-admin-key" } });
    const check = spawnSync("promtool", ["check", "metrics"], { input: await res.text(), encoding: "utf8" });
    expect(check.stdout + check.stderr).toBe("");
    expect(check.status).toBe(0);
  });

  it("records a session turn before the restart", async () => {
    const first = await ask({ query: "Why did the CSV export fail?", session_id: "e2e-session" });
    expect(first.session_saved).toBe(true);
    expect(first.answer).toMatch(/export/i);
  });

  it("imports a WhatsApp chat with npm run import and prints what it imported", async () => {
    const dir = mkdtempSync(join(tmpdir(), "convo-rag-import-cli-"));
    try {
      const chat = join(dir, "WhatsApp Chat.txt");
      writeFileSync(chat, WHATSAPP_CHAT);
      const imported = await importCli(chat, "--url", `http://127.0.0.1:${port}`, "--timezone", "Europe/Lisbon");
      expect(imported.code, imported.stdout + imported.stderr).toBe(0);
      expect(imported.stdout).toMatch(/^import [0-9a-f-]{36}: succeeded \(whatsapp\)$/m);
      expect(imported.stdout).toMatch(/^ {2}messages: 4 parsed, 4 stored \(new or changed\)$/m);
      expect(imported.stdout).toMatch(/^ {2}skipped: 1$/m);
      const conversation = /^ {2}conversations: 1 \((whatsapp-[^)]+)\)$/m.exec(imported.stdout)?.[1];
      // The conversation the summary names holds the chat, its times read in Lisbon's summer time.
      const res = await fetch(`http://127.0.0.1:${port}/api/conversations/${conversation}/messages`, {
        headers: { authorization: "Bearer dev-local-key" },
      });
      expect(res.status).toBe(200);
      const { messages } = (await res.json()) as { messages: { author_name: string; text: string; timestamp: string }[] };
      expect(messages.map((m) => [m.timestamp, m.author_name, m.text])).toEqual([
        ["2024-07-18T08:12:00.000Z", "Inês", "Are we still on for the bakery tour on Saturday?"],
        ["2024-07-18T08:15:00.000Z", "Tomás", "Yes! Meet at the tram stop at 10.\nIt opens at 10:30, so we have time for coffee first."],
        ["2024-07-18T20:40:00.000Z", "Inês", "Perfect, I will bring the map."],
        ["2024-07-19T07:05:00.000Z", "Tomás", "Bring an umbrella too, rain is forecast."],
      ]);

      const prose = join(dir, "notes.txt");
      writeFileSync(prose, "Some thoughts on sourdough.\nThe starter wants feeding twice a day, and the dough rests overnight.\n");
      const unknown = await importCli(prose, "--url", `http://127.0.0.1:${port}`);
      expect(unknown.code, unknown.stdout + unknown.stderr).toBe(1);
      expect(unknown.stdout).toMatch(/^import [0-9a-f-]{36}: failed/m);
      expect(unknown.stdout).toMatch(/^ {2}error at file: the format could not be detected/m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it("npm run import stops waiting (exit 3) when an import stands still for --wait-minutes, and says where to follow it", async () => {
    // A server that takes the upload and then reports the same progress for ever: a lost step.
    const server = createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        res.setHeader("content-type", "application/json");
        if (req.method === "POST") {
          res.statusCode = 202;
          res.end(JSON.stringify({ id: "0b5e8f9e-0000-4000-8000-000000000001", status: "queued" }));
        } else {
          const progress = { messages_parsed: 10, messages_stored: 5, conversations: ["c"] };
          res.end(
            JSON.stringify({
              id: "0b5e8f9e-0000-4000-8000-000000000001",
              status: "running",
              format: "csv",
              progress,
              skipped: [],
              skipped_count: 0,
              errors: [],
            }),
          );
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const dir = mkdtempSync(join(tmpdir(), "import-stall-"));
    try {
      const file = join(dir, "chat.csv");
      writeFileSync(file, "timestamp,author,text\n2024-01-01T10:00:00Z,Ana,hi\n");
      const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
      const stalled = await importCli(file, "--url", url, "--wait-minutes", "0.02");
      expect(stalled.code, stalled.stdout + stalled.stderr).toBe(3);
      expect(stalled.stderr).toMatch(/has shown no progress for 0\.02 minutes; .* GET http:\/\/127\.0\.0\.1:\d+\/api\/imports\/0b5e8f9e-/);
      expect((await importCli(file, "--url", url, "--wait-minutes", "soon")).code).toBe(2);
    } finally {
      server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("prints npm run import's usage with --help", async () => {
    const help = await importCli("--help");
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^usage: npm run import -- <file>/);
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
