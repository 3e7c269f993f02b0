// The load test as a user runs it, for a few seconds: its own stack with the demo data, the three
// scenarios at once, and the JSON, Markdown and SVG reports.
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";

const run = promisify(execFile);

describe("npm run loadtest (smoke)", () => {
  const out = mkdtempSync(join(tmpdir(), "convo-rag-loadtest-"));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it("runs the three scenarios 3 : 1 : 2 and writes its reports", { timeout: 180_000 }, async () => {
    await run(process.execPath, ["scripts/loadtest.ts", "--duration", "3", "--connections", "6", "--cached", "0.5", "--out", out], {
      env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
      timeout: 170_000,
    });
    const files = readdirSync(out);
    const base = files.find((f) => f.endsWith(".json"))!.replace(/\.json$/, "");
    expect(files.sort()).toEqual([`${base}.json`, `${base}.md`, `${base}.svg`]);
    const report = JSON.parse(readFileSync(join(out, `${base}.json`), "utf8")) as {
      scenarios: {
        name: string;
        connections: number;
        requests: number;
        errors: number;
        cache_hit_rate: number | null;
        latency_ms: { min: number; median: number; p95: number; p99: number; max: number };
      }[];
    };
    expect(report.scenarios.map((s) => [s.name, s.connections])).toEqual([
      ["simple", 3],
      ["complex", 1],
      ["follow-up", 2],
    ]);
    for (const s of report.scenarios) {
      expect(s.requests).toBeGreaterThan(0);
      expect(s.errors).toBe(0);
      const l = s.latency_ms;
      expect(l.min).toBeLessThanOrEqual(l.median);
      expect(l.median).toBeLessThanOrEqual(l.p95);
      expect(l.p95).toBeLessThanOrEqual(l.p99);
      expect(l.p99).toBeLessThanOrEqual(l.max);
    }
    // Half the simple asks repeat warm questions: some hit. In the follow-up scenario only each
    // session's opening question is looked up in the cache (follow-ups bypass it), so its rate
    // counts those: there is one, hit or not.
    expect(report.scenarios[0]!.cache_hit_rate).toBeGreaterThan(0);
    expect(report.scenarios[2]!.cache_hit_rate).not.toBeNull();
    const md = readFileSync(join(out, `${base}.md`), "utf8");
    expect(md).toContain("| scenario | connections | requests | req/s | mean | median | p95 | p99 | min | max | errors | cache hit rate |");
    expect(md).toContain(`(./${base}.svg)`);
    const svg = readFileSync(join(out, `${base}.svg`), "utf8");
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg.match(/<rect /g)).toHaveLength(3 * 3 + 3);
  });
});
