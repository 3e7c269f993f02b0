import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { freePort, reserve } from "../../scripts/lib/free-port";

const lockOf = (port: number) => join(tmpdir(), "convo-rag-ports", String(port));

describe("ports for the servers tests start", () => {
  it("never hands the same port out twice", async () => {
    const ports = await Promise.all(Array.from({ length: 40 }, () => freePort()));
    expect(new Set(ports).size).toBe(40);
    for (const p of ports) expect(p).toBeGreaterThanOrEqual(10_000);
  });

  it("does not hand out a port another live process reserved, and takes over one whose process is gone", async () => {
    const port = await freePort();
    // Reserved by this process already: not again.
    expect(reserve(port)).toBe(false);
    // Another run (pid 1 is always alive) holds it.
    const other = 31_999 - (port % 1000);
    writeFileSync(lockOf(other), "1");
    expect(reserve(other)).toBe(false);
    // A run that died left its lock behind: the port is free to reserve.
    writeFileSync(lockOf(other), "2147483646");
    expect(reserve(other)).toBe(true);
  });
});
