// Runs `wrangler dev` as a child process with the Hyperdrive binding pointed at a local Postgres.
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";

const ROOT = join(import.meta.dirname, "../..");
const WRANGLER = join(ROOT, "node_modules/wrangler/bin/wrangler.js");

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
  child: ChildProcess;
  url: string;
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
    // Own process group, so stop() can end wrangler and the workerd it starts together.
    detached: true,
    stdio: options.quiet ? ["ignore", "ignore", "inherit"] : ["ignore", "inherit", "inherit"],
    env: {
      ...process.env,
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
  return {
    child,
    url: `http://127.0.0.1:${options.port}`,
    exited,
    async stop() {
      if (child.exitCode !== null || child.pid === undefined) return;
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {
        return;
      }
      const timer = setTimeout(() => {
        try {
          process.kill(-child.pid!, "SIGKILL");
        } catch {}
      }, 5000);
      await exited;
      clearTimeout(timer);
    },
  };
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
