// The disconnect load script as a user runs it, for a few seconds: clients that stay finish
// without errors, every client that hangs up mid-stream stops its upstream generation, and the
// Worker isolate's heap is measured after full collections.
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";

const run = promisify(execFile);

describe("npm run load:disconnect (smoke)", () => {
  const out = mkdtempSync(join(tmpdir(), "convo-rag-disconnect-"));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it("hangs up a quarter of the streams: the rest complete, the abandoned generations are aborted upstream", {
    // Generous: two heap snapshots of the isolate can take minutes on a busy machine (nothing here is timed).
    timeout: 600_000,
  }, async () => {
    await run(process.execPath, ["scripts/load-disconnect.ts", "--clients", "8", "--duration", "3", "--out", out], {
      env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
      timeout: 590_000,
    });
    const [file] = readdirSync(out);
    const report = JSON.parse(readFileSync(join(out, file!), "utf8")) as {
      completed: number;
      left_mid_stream: number;
      failed: number;
      upstream: { aborted: number; finished: number };
      workerd_rss_mb: { start: number; end: number };
      isolate_heap_mb: { after_gc: { start: number; half: number; end: number }; growth_second_half: number; asks_per_half: number[] };
    };
    expect(report.completed).toBeGreaterThan(0);
    expect(report.left_mid_stream).toBeGreaterThan(0);
    expect(report.failed).toBe(0);
    expect(report.upstream.aborted).toBeGreaterThanOrEqual(report.left_mid_stream);
    expect(report.workerd_rss_mb.start).toBeGreaterThan(0);
    // The isolate's heap was read through the inspector after full collections around both halves.
    expect(report.isolate_heap_mb.after_gc.start).toBeGreaterThan(1);
    expect(report.isolate_heap_mb.after_gc.end).toBeGreaterThan(1);
    expect(report.isolate_heap_mb.asks_per_half.every((n) => n > 0)).toBe(true);
  });
});
