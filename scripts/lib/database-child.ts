// npm start's handle on its database process (database-server.ts): started in a process group of
// its own, out of the terminal's, so Ctrl-C reaches npm start alone, which stops the database
// last, after the work that still needs it.
import { spawn } from "node:child_process";
import { join } from "node:path";

const ENTRY = join(import.meta.dirname, "database-server.ts");

export interface DatabaseChild {
  url: string;
  pid: number;
  /** Resolves when the process has ended, with how ("code 1", "SIGKILL"). */
  exited: Promise<string>;
  /** Stops the database (it closes PGlite); resolves once the process has ended. */
  stop(): Promise<void>;
}

/** Starts the database on `dataDir`; rejects with its reason when it cannot open it. */
export function startDatabaseChild(options: { dataDir: string; port: number }): Promise<DatabaseChild> {
  const child = spawn(process.execPath, [ENTRY, options.dataDir, String(options.port)], {
    detached: true,
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const exited = new Promise<string>((resolve) => child.once("exit", (code, signal) => resolve(signal ?? `code ${code}`)));
  return new Promise((resolve, reject) => {
    child.once("message", (message: { url?: string; error?: string }) => {
      if (message.error !== undefined || message.url === undefined) return reject(new Error(message.error ?? "the database did not start"));
      resolve({
        url: message.url,
        pid: child.pid!,
        exited,
        async stop() {
          if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
          await exited;
        },
      });
    });
    void exited.then((how) => reject(new Error(`the database process ended (${how}) before it accepted connections`)));
  });
}
