// Runs `wrangler dev` as a child process with the Hyperdrive binding pointed at a local Postgres.
// It runs under process-guard.ts, in a process group of its own with the workerd and esbuild it
// starts: the group ends when wrangler ends, when stop() is called, and when this process dies.
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { stopGroup } from "./processes.ts";

const ROOT = join(import.meta.dirname, "../..");
const WRANGLER = join(ROOT, "node_modules/wrangler/bin/wrangler.js");
const GUARD = join(import.meta.dirname, "process-guard.ts");

/**
 * The environment every local `wrangler dev` of the project runs with. Miniflare fetches a real
 * `request.cf` from workers.cloudflare.com at start (twice, and warns with a stack trace when
 * offline); locally it gets Miniflare's fixed placeholder instead (colo DFW, country US), which is
 * what an offline start fell back to anyway. `CLOUDFLARE_CF_FETCH_ENABLED=true` fetches the real one.
 */
export const localWranglerEnv = (): Record<string, string> => ({
  WRANGLER_SEND_METRICS: "false",
  CLOUDFLARE_CF_FETCH_ENABLED: process.env.CLOUDFLARE_CF_FETCH_ENABLED ?? "false",
});

export interface WranglerDev {
  /** The guard: its exit is wrangler's (with wrangler's exit code). */
  child: ChildProcess;
  /** The process group of wrangler, workerd and esbuild, once wrangler runs. */
  group: Promise<number>;
  url: string;
  /** Stops the whole group; resolves once none of it runs. */
  stop(): Promise<void>;
  exited: Promise<number>;
}

export function startWranglerDev(options: {
  port: number;
  databaseUrl: string;
  persistTo: string;
  vars?: Record<string, string>;
  quiet?: boolean;
  inspectorPort?: number;
  extraArgs?: string[];
}): WranglerDev {
  const args = [
    GUARD,
    process.execPath,
    WRANGLER,
    "dev",
    "--ip",
    "127.0.0.1",
    "--port",
    String(options.port),
    "--persist-to",
    options.persistTo,
    "--show-interactive-dev-session=false",
    "--test-scheduled",
  ];
  if (options.inspectorPort) args.push("--inspector-port", String(options.inspectorPort));
  for (const [k, v] of Object.entries(options.vars ?? {})) args.push("--var", `${k}:${v}`);
  args.push(...(options.extraArgs ?? []));
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    // Out of the terminal's process group: Ctrl-C reaches only the caller, which stops wrangler
    // after the work that still needs it.
    detached: true,
    // Its output passes through this process, which watches it for RUNTIME_CRASHED.
    stdio: ["ignore", options.quiet ? "ignore" : "pipe", "pipe", "ipc"],
    env: {
      ...process.env,
      // Colours as if wrangler wrote to the terminal itself.
      ...(process.stdout.isTTY && process.env.FORCE_COLOR === undefined ? { FORCE_COLOR: "1" } : {}),
      ...localWranglerEnv(),
      // wrangler dev's local trace store (for its local explorer) keeps every request's logs and
      // spans on disk with no limit (≈ 5 MB per 1,000 requests) and costs CPU per request: off,
      // unless asked for with X_LOCAL_OBSERVABILITY=true. [observability] in production is unaffected.
      X_LOCAL_OBSERVABILITY: process.env.X_LOCAL_OBSERVABILITY ?? "false",
      CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_HYPERDRIVE: options.databaseUrl,
      // wrangler's dev registry (~/.config/.wrangler/registry by default) links every `wrangler dev`
      // on the machine: another one starting or stopping with a queue consumer (npm test's stacks
      // beside npm start) reloads this one, and a reload empties Miniflare's in-memory queue, so the
      // import step in flight and its next step were lost and the import stayed "running". The
      // project binds no other local Worker, so each stack keeps a registry of its own.
      WRANGLER_REGISTRY_PATH: process.env.WRANGLER_REGISTRY_PATH ?? join(options.persistTo, "dev-registry"),
    },
  });
  const exited = new Promise<number>((resolve) => child.once("exit", (code, signal) => resolve(code ?? (signal ? 1 : 0))));
  const group = new Promise<number>((resolve) => child.once("message", (m: { group?: number }) => m.group && resolve(m.group)));
  let known: number | undefined;
  void group.then((g) => (known = g));
  const stop = async () => {
    // The guard stops the group (SIGTERM, SIGKILL after 5 s) and exits; one that is gone already
    // (killed) left the group to this process.
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      await exited;
    }
    if (known !== undefined) await stopGroup(known);
  };
  let crashed = false;
  const onCrash = () => {
    if (crashed) return;
    crashed = true;
    console.error("[wrangler-dev] workerd ended unexpectedly, and wrangler dev does not recover from that (requests hang): stopping it");
    void stop();
  };
  if (child.stdout) forward(child.stdout, process.stdout, onCrash);
  forward(child.stderr!, process.stderr, onCrash);
  return { child, group, url: `http://127.0.0.1:${options.port}`, exited, stop };
}

/**
 * What Miniflare logs when workerd died and it starts a new one. wrangler dev 4.156 does not
 * recover from that: the new workerd listens, but every request hangs (cloudflare/workers-sdk
 * #14926 describes the same restart going wrong), so a crashed runtime ends wrangler dev instead.
 */
const RUNTIME_CRASHED = "The Workers runtime crashed unexpectedly";

/** Copies `from` to `to`, calling `onCrash` when RUNTIME_CRASHED passes (also split across chunks). */
function forward(from: Readable, to: NodeJS.WritableStream, onCrash: () => void): void {
  let tail = "";
  from.on("data", (chunk: Buffer) => {
    to.write(chunk);
    const text = tail + chunk.toString("latin1");
    if (text.includes(RUNTIME_CRASHED)) onCrash();
    tail = text.slice(-RUNTIME_CRASHED.length);
  });
}

/** Polls GET /health until it answers 200, or throws after `timeoutMs`. */
export async function waitForHealthy(url: string, timeoutMs: number, exited?: Promise<number>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let gone = false;
  void exited?.then(() => (gone = true));
  let last = "no answer";
  while (Date.now() < deadline && !gone) {
    try {
      const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2000) });
      if (res.ok) return;
      last = `${res.status} ${await res.text()}`;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(gone ? "wrangler dev exited before it became healthy" : `API not healthy after ${timeoutMs} ms: ${last}`);
}
