// `npm run create-key -- --help` as the README's deploy steps use it: usage, not a stack trace,
// and no database needed to read it.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "../..");

/** Runs `npm run create-key -- …args` without a DATABASE_URL; resolves with its exit code and output. */
function createKey(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const { DATABASE_URL: _, ...env } = process.env;
  return new Promise((resolve) => {
    execFile("npm", ["run", "--silent", "create-key", "--", ...args], { cwd: ROOT, env }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === "number" ? err.code : null) : 0, stdout, stderr }),
    );
  });
}

const USAGE = /^usage: DATABASE_URL=postgres:\/\/… npm run create-key -- --tenant <a-z0-9_-> \[--role user\|admin\|operator\]\n/;

describe("npm run create-key", () => {
  it("prints its usage and exits 0 on --help (and -h)", async () => {
    for (const flag of ["--help", "-h"]) {
      const { code, stdout, stderr } = await createKey(flag);
      expect(code, flag).toBe(0);
      expect(stdout).toMatch(USAGE);
      expect(stdout).toContain("operator: every tenant and /metrics");
      expect(stderr).toBe("");
    }
  });

  it("exits 2 with the usage, and no stack trace, on an unknown argument or a missing tenant", async () => {
    const unknown = await createKey("--tenant", "ops", "--bogus");
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^Unknown option '--bogus'/);
    expect(unknown.stderr).toContain("usage: DATABASE_URL=");
    const missing = await createKey("--role", "operator");
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(USAGE);
    for (const { stderr } of [unknown, missing]) expect(stderr).not.toMatch(/^\s+at /m);
  });
});
