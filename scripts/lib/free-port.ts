// Ports for the servers that tests and scripts start (wrangler dev, the embedded database, fakes).
// A port that was free a moment ago can be taken by another run before our server binds it: two
// `npm test` runs side by side did exactly that ("Address already in use" from wrangler dev). So
// every port handed out is also reserved with a lock file naming this process (created with O_EXCL,
// so two processes never both get it); reservations end with the process, and a lock whose process
// is gone is taken over. Candidates come from 10000–31999, below Linux's ephemeral range, so the
// ports the kernel hands out for outgoing connections and `listen(0)` never collide with them.
import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

const LOCKS = join(tmpdir(), "convo-rag-ports");
const FIRST = 10_000;
const COUNT = 22_000;
const held = new Set<string>();
let cleanup = false;

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
};

/** Reserves `port` for this process; false if another live process holds it. */
export function reserve(port: number): boolean {
  mkdirSync(LOCKS, { recursive: true });
  const file = join(LOCKS, String(port));
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, String(process.pid), { flag: "wx" });
      held.add(file);
      if (!cleanup) {
        cleanup = true;
        process.once("exit", () => {
          for (const f of held) {
            try {
              unlinkSync(f);
            } catch {}
          }
        });
      }
      return true;
    } catch {
      const owner = Number(readFileSync(file, "utf8") || 0);
      if (owner === process.pid || (owner > 0 && alive(owner))) return false;
      // Left by a process that is gone: take it over.
      try {
        unlinkSync(file);
      } catch {}
    }
  }
  return false;
}

/** Whether a server can listen on `port` on 127.0.0.1 now. */
export const portIsFree = (port: number) =>
  new Promise<boolean>((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });

/** A TCP port on 127.0.0.1 that is free and that no other run of this project is handed. */
export async function freePort(): Promise<number> {
  for (let tries = 0; tries < 200; tries++) {
    const port = FIRST + Math.floor(Math.random() * COUNT);
    if (!reserve(port)) continue;
    if (await portIsFree(port)) return port;
  }
  throw new Error("no free port found in 200 tries");
}
