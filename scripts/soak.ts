import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { startDevStack } from "./lib/dev-stack.ts";
import { connectIsolateHeap, type IsolateHeap } from "./lib/isolate-heap.ts";
import { syntheticMessage as message, PEOPLE, SUBJECTS } from "./lib/synthetic-archive.ts";

process.env.WRANGLER_SEND_METRICS = "false";
const { values: args } = parseArgs({
  options: {
    requests: { type: "string", default: "100000" },
    every: { type: "string", default: "10000" },
    concurrency: { type: "string", default: "8" },
    ttl: { type: "string", default: "120" },
    seed: { type: "string", default: "1" },
    out: { type: "string", default: join(import.meta.dirname, "../reports") },
  },
});
const TOTAL = Number(args.requests);
const EVERY = Number(args.every);
const CONCURRENCY = Number(args.concurrency);
const TTL = Math.max(60, Number(args.ttl));
const KEY = "dev-local-key";

// ---------------------------------------------------------------- the workload
let seed = Number(args.seed) >>> 0 || 1;
/** xorshift32: the same run for the same seed. */
const random = () => {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) / 2 ** 32;
};
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;

const CONVERSATIONS = 40;
/** Messages each pool conversation has so far (grows like a longer export of the same chat). */
const lengths = new Map<string, number>();

/** An incremental sync: the next 10–30 messages of a pool conversation (only the new ones are sent). */
function ingestBody(): { id: string; body: unknown } {
  const id = `soak-${Math.floor(random() * CONVERSATIONS)}`;
  const have = lengths.get(id) ?? 0;
  const n = 10 + Math.floor(random() * 20);
  lengths.set(id, have + n);
  return { id, body: { id, title: `Soak ${id}`, messages: Array.from({ length: n }, (_, i) => message(id, have + i + 1)) } };
}

const question = () => `What did ${pick(PEOPLE)} say about ${pick(SUBJECTS)}?`;
/** A small fixed set: asked again and again, so they are answered from the cache. */
const REPEATED = Array.from({ length: 30 }, () => question());
const SESSIONS = 300;

interface Call {
  kind: string;
  method: string;
  path: string;
  body?: unknown;
  sse?: boolean;
}

let unique = 0;
function nextCall(): Call {
  const r = random();
  const conv = lengths.size > 0 && random() < 0.5 ? pick([...lengths.keys()]) : undefined;
  if (r < 0.04) {
    const { body } = ingestBody();
    return { kind: "ingest", method: "POST", path: "/api/conversations", body };
  }
  // Deletes keep the archive bounded: a conversation that reached 200 messages is dropped (and
  // later synced again from its start).
  const full = [...lengths].find(([, n]) => n >= 200);
  if ((r < 0.045 && lengths.size > 0) || full) {
    const id = full ? full[0] : pick([...lengths.keys()]);
    lengths.delete(id);
    return { kind: "delete", method: "DELETE", path: `/api/conversations/${id}` };
  }
  if (r < 0.25)
    return {
      kind: "retrieve",
      method: "POST",
      path: "/api/rag/retrieve",
      body: { query: question(), ...(conv ? { conversation_id: conv } : {}) },
    };
  const sse = random() < 0.5;
  if (r < 0.64) return { kind: "cached ask", method: "POST", path: "/api/rag/ask", body: { query: pick(REPEATED), stream: sse }, sse };
  if (r < 0.84) {
    // Unique wording: a miss that writes new cache entries (what fills a cache's storage).
    return {
      kind: "uncached ask",
      method: "POST",
      path: "/api/rag/ask",
      body: { query: `${question()} (${++unique})`, stream: sse, ...(conv ? { conversation_id: conv } : {}) },
      sse,
    };
  }
  const session = `soak-session-${Math.floor(random() * SESSIONS)}`;
  const follow = random() < 0.6;
  return {
    kind: "session ask",
    method: "POST",
    path: "/api/rag/ask",
    body: { query: follow ? "Tell me more about that." : question(), session_id: session, stream: sse },
    sse,
  };
}

/** Sends one call; returns its latency, or throws with what went wrong. */
async function send(url: string, call: Call): Promise<number> {
  const started = performance.now();
  const res = await fetch(`${url}${call.path}`, {
    method: call.method,
    headers: { authorization: `Bearer ${KEY}`, ...(call.body ? { "content-type": "application/json" } : {}) },
    body: call.body ? JSON.stringify(call.body) : undefined,
    signal: AbortSignal.timeout(60_000),
  });
  const text = await res.text();
  if (res.status >= 400 && !(call.kind === "delete" && res.status === 404))
    throw new Error(`${call.kind}: ${res.status} ${text.slice(0, 200)}`);
  if (call.sse && (!text.includes("event: done") || text.includes("event: error")))
    throw new Error(`${call.kind}: stream did not end with done: ${text.slice(-200)}`);
  return performance.now() - started;
}

// ---------------------------------------------------------------- the stack and its measures
const mb = (bytes: number) => Math.round(bytes / 1024 / 1024);
function rssMb(pid: number): number {
  const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
  return Math.round(kb / 1024);
}
/** Bytes on disk (allocated blocks) under a folder. */
function diskBytes(path: string): number {
  let total = 0;
  let entries: string[];
  try {
    entries = readdirSync(path);
  } catch {
    return 0;
  }
  for (const name of entries) {
    const full = join(path, name);
    try {
      const st = statSync(full);
      total += st.isDirectory() ? diskBytes(full) : st.blocks * 512;
    } catch {
      // Removed while we looked.
    }
  }
  return total;
}
const quantile = (sorted: number[], q: number) =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! : NaN;

async function main() {
  const stack = await startDevStack({
    prefix: "convo-rag-soak-",
    vars: {
      KEY_RATE_LIMIT: "off",
      LOG_REQUESTS: "false",
      CACHE_L1_TTL_SECONDS: String(TTL),
      CACHE_L2_TTL_SECONDS: String(TTL),
      CACHE_RETRIEVAL_TTL_SECONDS: String(TTL),
    },
    env: { HOUSEKEEPING_INTERVAL_MINUTES: String(TTL / 60) },
  });
  const { url, dataDir, logFile, stop } = stack;

  let heap: IsolateHeap | undefined;
  try {
    heap = await connectIsolateHeap(stack.inspectorUrl);
    const isolate = heap;
    console.log(`soak: ${TOTAL} requests, ${CONCURRENCY} at a time, cache TTL and housekeeping every ${TTL} s; stack log ${logFile}`);
    console.log("| requests | db RSS MB | isolate heap MB (after GC) | disk MB (db + wrangler) | errors | p50 ms | p95 ms | req/s |");
    console.log("|---:|---:|---:|---:|---:|---:|---:|---:|");

    const rows: {
      requests: number;
      dbRssMb: number;
      heapMb: number;
      diskMb: number;
      dbDiskMb: number;
      wranglerDiskMb: number;
      wranglerParts: Record<string, number>;
      errors: number;
      p50: number;
      p95: number;
      rps: number;
    }[] = [];
    const errorSamples: string[] = [];
    const byKind = new Map<string, number>();
    // Windows of EVERY requests, CONCURRENCY at a time; between windows the stack is idle while
    // it is measured (the heap snapshot pauses the isolate: under load it would time requests out).
    for (let done = 0; done < TOTAL; ) {
      const size = Math.min(EVERY, TOTAL - done);
      const latencies: number[] = [];
      let errors = 0;
      let issued = 0;
      const started = performance.now();
      const worker = async () => {
        while (issued < size) {
          issued++;
          const call = nextCall();
          byKind.set(call.kind, (byKind.get(call.kind) ?? 0) + 1);
          try {
            latencies.push(await send(url, call));
          } catch (err) {
            errors++;
            if (errorSamples.length < 20) errorSamples.push(err instanceof Error ? err.message : String(err));
          }
        }
      };
      await Promise.all(Array.from({ length: CONCURRENCY }, worker));
      const seconds = (performance.now() - started) / 1000;
      done += size;
      latencies.sort((a, b) => a - b);
      const heapMb = (await isolate.afterFullGc()).usedMb;
      const dbDisk = diskBytes(join(dataDir, "pglite"));
      const wranglerParts: Record<string, number> = {};
      const v3 = join(dataDir, "wrangler", "v3");
      for (const part of (() => {
        try {
          return readdirSync(v3);
        } catch {
          return [];
        }
      })())
        wranglerParts[part] = mb(diskBytes(join(v3, part)));
      const wranglerDisk = diskBytes(join(dataDir, "wrangler"));
      const row = {
        requests: done,
        dbRssMb: rssMb(stack.databasePid),
        heapMb,
        diskMb: mb(dbDisk + wranglerDisk),
        dbDiskMb: mb(dbDisk),
        wranglerDiskMb: mb(wranglerDisk),
        wranglerParts,
        errors,
        p50: Math.round(quantile(latencies, 0.5)),
        p95: Math.round(quantile(latencies, 0.95)),
        rps: Math.round(size / seconds),
      };
      rows.push(row);
      console.log(
        `| ${row.requests} | ${row.dbRssMb} | ${row.heapMb} | ${row.diskMb} (${row.dbDiskMb} + ${row.wranglerDiskMb}) | ${row.errors} | ${row.p50} | ${row.p95} | ${row.rps} |`,
      );
    }

    // ------------------------------------------------------------ goals
    const errors = rows.reduce((n, r) => n + r.errors, 0);
    const warm = rows[Math.max(0, Math.floor(rows.length / 5) - 1)]!;
    const last = rows.at(-1)!;
    const second = rows[1] ?? rows[0]!;
    const growth = {
      dbRssMb: Math.max(...rows.slice(rows.indexOf(warm)).map((r) => r.dbRssMb)) - warm.dbRssMb,
      heapMb: Math.max(...rows.slice(rows.indexOf(warm)).map((r) => r.heapMb)) - warm.heapMb,
    };
    const goals = [
      { goal: "0 errors", ok: errors === 0, value: `${errors}` },
      {
        goal: "database RSS growth after warm-up ≤ 50 MB",
        ok: growth.dbRssMb <= 50,
        value: `${growth.dbRssMb} MB (from ${warm.requests} requests on)`,
      },
      { goal: "isolate heap growth after warm-up ≤ 50 MB", ok: growth.heapMb <= 50, value: `${growth.heapMb} MB` },
      {
        goal: "p95 of the last window ≤ 1.2 × the second's",
        ok: last.p95 <= 1.2 * second.p95,
        value: `${last.p95} / ${second.p95} ms = ${(last.p95 / second.p95).toFixed(2)}×`,
      },
    ];
    console.log(`\nrequests by kind: ${[...byKind].map(([k, n]) => `${k} ${n}`).join(", ")}`);
    if (errorSamples.length) console.log(`first errors:\n  ${errorSamples.join("\n  ")}`);
    for (const g of goals) console.log(`${g.ok ? "PASS" : "FAIL"}  ${g.goal}: ${g.value}`);
    console.log(
      `disk: ${rows[0]!.diskMb} MB after the first window, ${last.diskMb} MB at the end (largest ${Math.max(...rows.map((r) => r.diskMb))} MB)`,
    );
    mkdirSync(args.out!, { recursive: true });
    const file = join(args.out!, `soak-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
    writeFileSync(
      file,
      JSON.stringify(
        { requests: TOTAL, concurrency: CONCURRENCY, ttlSeconds: TTL, rows, goals, byKind: Object.fromEntries(byKind), errorSamples },
        null,
        2,
      ),
    );
    console.log(`report: ${file}`);
    process.exitCode = goals.every((g) => g.ok) ? 0 : 1;
  } finally {
    heap?.close();
    await stop();
  }
}

await main();
