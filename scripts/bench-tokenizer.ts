// npm run bench:tokenizer: js-tiktoken against gpt-tokenizer, for cl100k_base and o200k_base.
// Node: each combination in a fresh process (load time, heap and RSS growth, encode ms per 1k
// tokens, token counts compared). workerd: each combination in a fresh `wrangler dev` of the
// probe Worker in scripts/tokenizer-probe (first-load latency over a /ping floor, measured by the
// client because Workers' clocks stand still during CPU work; RSS growth of the workerd process;
// encode ms per 1k tokens). BENCH_RUNS (default 3) repetitions, medians reported.
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./lib/free-port.ts";
import { localWranglerEnv } from "./lib/wrangler-dev.ts";

const ROOT = join(import.meta.dirname, "..");
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const COMBOS = [
  ["js-tiktoken", "cl100k_base"],
  ["gpt-tokenizer", "cl100k_base"],
  ["js-tiktoken", "o200k_base"],
  ["gpt-tokenizer", "o200k_base"],
] as const;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const round = (x: number, d = 1) => Number(x.toFixed(d));

function nodeProbe(lib: string, enc: string) {
  const out = execFileSync(process.execPath, ["--expose-gc", join(ROOT, "scripts/tokenizer-probe/node-probe.ts"), lib, enc], {
    encoding: "utf8",
  });
  return JSON.parse(out.trim().split("\n").at(-1)!) as { loadMs: number; heapMb: number; rssMb: number; tokens: number; msPer1k: number };
}

/** VmRSS (MB) of the workerd processes under a process. */
function workerdRssMb(rootPid: number): number {
  const all = execFileSync("ps", ["-eo", "pid=,ppid=,rss=,comm="], { encoding: "utf8" })
    .trim()
    .split("\n")
    .map((l) => l.trim().split(/\s+/))
    .map(([pid, ppid, rss, comm]) => ({ pid: Number(pid), ppid: Number(ppid), rss: Number(rss), comm: comm ?? "" }));
  const below = new Set([rootPid]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of all)
      if (below.has(p.ppid) && !below.has(p.pid)) {
        below.add(p.pid);
        grew = true;
      }
  }
  return all.filter((p) => below.has(p.pid) && p.comm.startsWith("workerd")).reduce((sum, p) => sum + p.rss, 0) / 1024;
}

async function timed(url: string): Promise<{ ms: number; body: string }> {
  const t = performance.now();
  const res = await fetch(url);
  const body = await res.text();
  if (!res.ok) throw new Error(`${url}: ${res.status} ${body.slice(0, 300)}`);
  return { ms: performance.now() - t, body };
}

async function workerdProbe(lib: string, enc: string) {
  const port = await freePort();
  const persist = mkdtempSync(join(tmpdir(), "tokenizer-probe-"));
  const child = spawn(
    process.execPath,
    [
      join(ROOT, "node_modules/wrangler/bin/wrangler.js"),
      "dev",
      "--config",
      join(ROOT, "scripts/tokenizer-probe/wrangler.toml"),
      "--ip",
      "127.0.0.1",
      "--port",
      String(port),
      "--persist-to",
      persist,
      "--show-interactive-dev-session=false",
    ],
    { cwd: ROOT, detached: true, stdio: "ignore", env: { ...process.env, ...localWranglerEnv() } },
  );
  const base = `http://127.0.0.1:${port}`;
  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        if ((await fetch(`${base}/ping`)).ok) break;
      } catch {}
      if (Date.now() > deadline) throw new Error("probe did not start");
      await new Promise((r) => setTimeout(r, 200));
    }
    const floors: number[] = [];
    for (let i = 0; i < 10; i++) floors.push((await timed(`${base}/ping`)).ms);
    const floor = median(floors);
    await new Promise((r) => setTimeout(r, 300));
    const rss0 = workerdRssMb(child.pid!);
    const first = await timed(`${base}/load?lib=${lib}&enc=${enc}`);
    const rss1 = workerdRssMb(child.pid!);
    const second = await timed(`${base}/load?lib=${lib}&enc=${enc}`);
    const repeat = 20;
    const encoded = await timed(`${base}/encode?lib=${lib}&enc=${enc}&repeat=${repeat}`);
    const tokens = (JSON.parse(encoded.body) as { tokens: number }).tokens;
    return {
      firstLoadMs: first.ms - floor,
      warmMs: second.ms - floor,
      rssMb: rss1 - rss0,
      msPer1k: ((encoded.ms - floor) / tokens) * 1000,
    };
  } finally {
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {}
    rmSync(persist, { recursive: true, force: true });
  }
}

const rows: Record<string, Record<string, number | string>> = {};
const counts: Record<string, number> = {};
for (const [lib, enc] of COMBOS) {
  const node = Array.from({ length: RUNS }, () => nodeProbe(lib, enc));
  const workerd = [];
  for (let i = 0; i < RUNS; i++) workerd.push(await workerdProbe(lib, enc));
  counts[`${lib}:${enc}`] = node[0]!.tokens;
  rows[`${lib} ${enc}`] = {
    "node load ms": round(median(node.map((r) => r.loadMs))),
    "node heap MB": round(median(node.map((r) => r.heapMb))),
    "node RSS MB": round(median(node.map((r) => r.rssMb))),
    "node ms/1k tok": round(median(node.map((r) => r.msPer1k)), 3),
    "workerd 1st load ms": round(median(workerd.map((r) => r.firstLoadMs))),
    "workerd warm ms": round(median(workerd.map((r) => r.warmMs))),
    "workerd RSS MB": round(median(workerd.map((r) => r.rssMb))),
    "workerd ms/1k tok": round(median(workerd.map((r) => r.msPer1k)), 3),
  };
  console.log(`${lib} ${enc}:`, rows[`${lib} ${enc}`]);
}
console.table(rows);
for (const enc of ["cl100k_base", "o200k_base"]) {
  const a = counts[`js-tiktoken:${enc}`];
  const b = counts[`gpt-tokenizer:${enc}`];
  console.log(`${enc}: token counts of the sample ${a === b ? `agree (${a})` : `DIFFER: js-tiktoken ${a}, gpt-tokenizer ${b}`}`);
}
mkdirSync(join(ROOT, "reports"), { recursive: true });
writeFileSync(
  join(ROOT, "reports/bench-tokenizer.json"),
  `${JSON.stringify({ date: new Date().toISOString(), runs: RUNS, rows, counts }, null, 2)}\n`,
);
