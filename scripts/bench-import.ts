// npm run bench:import: a Slack workspace export through POST /api/imports against the floor of
// ingesting the same kind of messages directly (POST /api/conversations of fresh 500-message
// conversations, the size of an import's batches), on npm start's stack (scripts/dev.ts on a temp
// folder, its database in that process, so this one only measures; backups, checkpoints and
// housekeeping off so that none lands in one phase and not another). In one run:
//   - GET /health latency, a request every 200 ms, idle and then during the timed import;
//   - the timed import of --messages messages: messages stored ÷ the time from the upload's start
//     to the import's finished_at;
//   - the Worker isolate's heap through its inspector, after a full collection (a heap snapshot)
//     at every tenth of two more imports, of --small and of --messages messages: whether the peak
//     grows with the export. Snapshots stall the isolate, so these imports are not the timed one.
// Each import has its own messages (nothing stored before makes it cheaper) and its own
// conversations. Prints the figures and the goals with PASS/FAIL; writes reports/bench-import-*.json.
//   options: --messages 100000 --small 10000 --channels 8 --floor 10000 --out reports
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseCli } from "./lib/cli.ts";
import { startDevStack } from "./lib/dev-stack.ts";
import { connectIsolateHeap, type IsolateHeap } from "./lib/isolate-heap.ts";
import { channelMessage, writeSlackExport } from "./lib/slack-export.ts";

process.env.WRANGLER_SEND_METRICS = "false";
const USAGE = `usage: npm run bench:import -- [--messages 100000] [--small 10000] [--channels 8] [--floor 10000] [--out reports]
  --messages  messages in the timed export and in the large one of the heap comparison
  --small     messages in the small export of the heap comparison
  --channels  channels of every export, the messages spread evenly (a channel is one conversation)
  --floor     messages ingested directly (POST /api/conversations, 500 a request) for the floor rate`;
const { values: args } = parseCli(
  {
    messages: { type: "string", default: "100000" },
    small: { type: "string", default: "10000" },
    channels: { type: "string", default: "8" },
    floor: { type: "string", default: "10000" },
    out: { type: "string", default: join(import.meta.dirname, "../reports") },
  },
  USAGE,
);
const N = Number(args.messages);
const SMALL = Number(args.small);
const CHANNELS = Number(args.channels);
const FLOOR = Number(args.floor);
const BATCH = 500;
const HEALTH_EVERY_MS = 200;
/** An import whose progress stands still this long is stuck (a step of 10,000 messages takes 10–30 s here). */
const STALLED_MS = 120_000;
/** Growth of the peak heap after a full collection, large export over small, still counted as flat. */
const FLAT_MB = 4;
const KEY = "dev-local-key";
const headers = { authorization: `Bearer ${KEY}` };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const quantile = (xs: number[], q: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))] ?? Number.NaN;
const round = (x: number, digits = 0) => Math.round(x * 10 ** digits) / 10 ** digits;

interface ImportStatus {
  status: "queued" | "running" | "succeeded" | "failed";
  progress: { messages_parsed: number; messages_stored: number; conversations: string[] };
  skipped_count: number;
  errors: { where: string; detail: string }[];
  finished_at: string | null;
}

/** Uploads an export and polls it (every 500 ms, as npm run import does) until it ends; `onProgress` sees each poll's messages stored. */
async function runImport(url: string, file: string, prefix: string, onProgress?: (stored: number) => Promise<void>) {
  const began = Date.now();
  const upload = await fetch(`${url}/api/imports?conversation_id=${prefix}`, { method: "POST", headers, body: readFileSync(file) });
  if (upload.status !== 202) throw new Error(`upload of ${file} refused: ${upload.status} ${await upload.text()}`);
  const uploadMs = Date.now() - began;
  const { id } = (await upload.json()) as { id: string };
  // An import whose step was lost (its queue message gone) stays "running": end the run instead.
  let seen = "";
  let unchangedSince = Date.now();
  for (;;) {
    const res = await fetch(`${url}/api/imports/${id}`, { headers });
    if (!res.ok) throw new Error(`GET /api/imports/${id}: ${res.status} ${await res.text()}`);
    const status = (await res.json()) as ImportStatus;
    if (status.status === "succeeded" || status.status === "failed") {
      const wallMs = Date.parse(status.finished_at!) - began;
      return { id, status, uploadMs, wallMs, rate: status.progress.messages_stored / (wallMs / 1000) };
    }
    const now = `${status.status} ${status.progress.messages_parsed} ${status.progress.messages_stored}`;
    if (now !== seen) [seen, unchangedSince] = [now, Date.now()];
    if (Date.now() - unchangedSince > STALLED_MS) throw new Error(`import ${id} made no progress for ${STALLED_MS / 1000} s: ${now}`);
    // Time spent in a heap snapshot (which stalls the isolate) is not the import's.
    const t = Date.now();
    await onProgress?.(status.progress.messages_stored);
    unchangedSince += Date.now() - t;
    await sleep(500);
  }
}

/** GET /health every `everyMs`, open loop (a slow answer does not delay the next request). */
function probeHealth(url: string, everyMs: number) {
  const latencies: number[] = [];
  let errors = 0;
  const inFlight = new Set<Promise<void>>();
  const timer = setInterval(() => {
    const t = performance.now();
    const probe: Promise<void> = fetch(`${url}/health`)
      .then(async (res) => {
        await res.arrayBuffer();
        latencies.push(performance.now() - t);
        if (!res.ok) errors++;
      })
      .catch(() => void errors++)
      .finally(() => inFlight.delete(probe));
    inFlight.add(probe);
  }, everyMs);
  return {
    async stop() {
      clearInterval(timer);
      await Promise.all(inFlight);
      return {
        n: latencies.length,
        errors,
        p50: round(quantile(latencies, 0.5), 1),
        p95: round(quantile(latencies, 0.95), 1),
        max: round(Math.max(...latencies), 1),
      };
    },
  };
}

/** The isolate's heap in use (garbage included) every second: its maximum. */
function heapInUse(heap: IsolateHeap) {
  let maxMb = 0;
  // A sample the inspector is too busy to answer is skipped, not fatal.
  const sampler = setInterval(
    () =>
      void heap.usage().then(
        (u) => void (maxMb = Math.max(maxMb, u.usedMb)),
        () => {},
      ),
    1000,
  );
  return {
    stop() {
      clearInterval(sampler);
      return maxMb;
    },
  };
}

/**
 * The isolate's heap after a full collection each time another tenth of the import's messages has
 * been stored: the same points of the import whatever its size (fewer when a batch spans tenths).
 */
function heapAtTenths(heap: IsolateHeap, messages: number) {
  const samples: number[] = [];
  let next = messages / 10;
  return {
    samples,
    async onProgress(stored: number) {
      if (stored < next) return;
      samples.push((await heap.afterFullGc()).usedMb);
      while (next <= stored) next += messages / 10;
    },
  };
}

/** Fresh ingest: conversations of BATCH messages, one request each, one at a time (as an import stores its batches). */
async function ingestFresh(url: string, prefix: string, messages: number) {
  let ms = 0;
  for (let first = 0, k = 0; first < messages; first += BATCH, k++) {
    const body = {
      id: `${prefix}-${k}`,
      title: `${prefix} ${k}`,
      messages: Array.from({ length: Math.min(BATCH, messages - first) }, (_, i) => {
        const m = channelMessage(prefix, `c${k}`, i);
        return { id: `m${i}`, author_name: m.author_name, text: m.text, timestamp: m.time.toISOString() };
      }),
    };
    const t = performance.now();
    const res = await fetch(`${url}/api/conversations`, {
      method: "POST",
      headers: { ...headers, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    await res.arrayBuffer();
    ms += performance.now() - t;
    if (res.status !== 201) throw new Error(`ingest of ${body.id} failed: ${res.status}`);
  }
  return { messages, seconds: round(ms / 1000, 1), rate: messages / (ms / 1000) };
}

const dir = mkdtempSync(join(tmpdir(), "bench-import-"));
const zips = {
  warmUp: join(dir, "warm-up.zip"),
  timed: join(dir, "timed.zip"),
  small: join(dir, "small.zip"),
  large: join(dir, "large.zip"),
};
let stack: Awaited<ReturnType<typeof startDevStack>> | undefined;
let heap: IsolateHeap | undefined;
try {
  await writeSlackExport(zips.warmUp, { messages: 2 * BATCH, seed: "warm-up", channels: CHANNELS });
  await writeSlackExport(zips.timed, { messages: N, seed: "timed", channels: CHANNELS });
  await writeSlackExport(zips.small, { messages: SMALL, seed: "heap-small", channels: CHANNELS });
  await writeSlackExport(zips.large, { messages: N, seed: "heap-large", channels: CHANNELS });
  const mib = (file: string) => round(statSync(file).size / 2 ** 20, 1);
  console.log(
    `exports: ${N} messages (${mib(zips.timed)} MiB zipped), ${SMALL} (${mib(zips.small)} MiB); ${CHANNELS} channels, 100 messages a day each`,
  );

  stack = await startDevStack({
    prefix: "convo-rag-bench-import-",
    vars: { KEY_RATE_LIMIT: "off", LOG_REQUESTS: "false" },
    env: { SEED_DEMO: "false", BACKUP_INTERVAL_HOURS: "0", CHECKPOINT_INTERVAL_MINUTES: "0", HOUSEKEEPING_INTERVAL_MINUTES: "0" },
  });
  const { url } = stack;
  heap = await connectIsolateHeap(stack.inspectorUrl);

  // Warm-up: the tokenizer and the import path load in the isolate before anything is timed.
  await ingestFresh(url, "warm-up", BATCH);
  const warmUp = await runImport(url, zips.warmUp, "warm-up");
  if (warmUp.status.status !== "succeeded")
    throw new Error(`warm-up import ${warmUp.status.status}: ${JSON.stringify(warmUp.status.errors)}`);

  const idleProbe = probeHealth(url, HEALTH_EVERY_MS);
  await sleep(10_000);
  const idle = await idleProbe.stop();
  console.log(`GET /health idle: p50 ${idle.p50} ms, p95 ${idle.p95} ms (${idle.n} requests)`);

  const floor = await ingestFresh(url, "floor", FLOOR);
  console.log(`fresh ingest: ${FLOOR} messages in ${floor.seconds} s, ${Math.round(floor.rate)} messages/s`);

  const busyProbe = probeHealth(url, HEALTH_EVERY_MS);
  const timedHeap = heapInUse(heap);
  const timed = await runImport(url, zips.timed, "timed");
  const busy = await busyProbe.stop();
  const timedHeapMb = timedHeap.stop();
  console.log(
    `timed import: ${timed.status.status}, ${timed.status.progress.messages_stored} stored in ${round(timed.wallMs / 1000, 1)} s`,
  );

  const heapRun = async (file: string, prefix: string, messages: number) => {
    const start = (await heap!.afterFullGc()).usedMb;
    const inUse = heapInUse(heap!);
    const tenths = heapAtTenths(heap!, messages);
    const run = await runImport(url, file, prefix, tenths.onProgress);
    const usedMb = inUse.stop();
    const end = (await heap!.afterFullGc()).usedMb;
    const peakMb = Math.max(start, ...tenths.samples);
    console.log(
      `heap run ${prefix}: ${run.status.status}, after full GC ${start} MB before, [${tenths.samples.join(", ")}] MB during, ${end} MB after`,
    );
    return { run, start, samples: tenths.samples, end, peakMb, usedMb, growthMb: round(peakMb - start, 1) };
  };
  const small = await heapRun(zips.small, "heap-small", SMALL);
  const large = await heapRun(zips.large, "heap-large", N);

  const runs = { timed, small: small.run, large: large.run };
  const expected = { timed: N, small: SMALL, large: N };
  const incomplete = Object.entries(runs)
    .filter(
      ([k, r]) =>
        r.status.status !== "succeeded" ||
        r.status.progress.messages_stored !== expected[k as keyof typeof expected] ||
        r.status.skipped_count > 0,
    )
    .map(
      ([k, r]) =>
        `${k}: ${r.status.status}, ${r.status.progress.messages_stored} stored, ${r.status.skipped_count} skipped ${JSON.stringify(r.status.errors).slice(0, 300)}`,
    );
  const ratio = timed.rate / floor.rate;
  const figures = {
    "fresh ingest (POST /api/conversations, 500 a request)": `${FLOOR} messages in ${floor.seconds} s: ${Math.round(floor.rate)} messages/s`,
    [`import of ${N} messages (timed)`]: `${timed.status.progress.messages_stored} stored in ${round(timed.wallMs / 1000, 1)} s (upload ${timed.uploadMs} ms): ${Math.round(timed.rate)} messages/s`,
    "import ÷ fresh ingest": `${round(ratio, 2)}×`,
    "GET /health idle: p50 / p95 / max (ms)": `${idle.p50} / ${idle.p95} / ${idle.max} (${idle.n} requests, ${idle.errors} errors)`,
    "GET /health during the import: p50 / p95 / max (ms)": `${busy.p50} / ${busy.p95} / ${busy.max} (${busy.n} requests, ${busy.errors} errors)`,
    "isolate heap in use during the timed import, max (MB, garbage included)": timedHeapMb,
    [`heap after full GC, ${SMALL} messages: before / peak / after (MB)`]: `${small.start} / ${small.peakMb} / ${small.end} (${small.samples.length} snapshots; max in use ${small.usedMb})`,
    [`heap after full GC, ${N} messages: before / peak / after (MB)`]: `${large.start} / ${large.peakMb} / ${large.end} (${large.samples.length} snapshots; max in use ${large.usedMb})`,
    "heap-run imports (stalled by the snapshots)": `${Math.round(small.run.rate)} and ${Math.round(large.run.rate)} messages/s`,
  };
  console.table(figures);
  const goals = [
    { goal: "every import succeeded and stored all its messages", ok: incomplete.length === 0, value: incomplete.join("; ") || "yes" },
    {
      goal: "import ≥ 0.8 × fresh ingest",
      ok: ratio >= 0.8,
      value: `${Math.round(timed.rate)} / ${Math.round(floor.rate)} messages/s = ${round(ratio, 2)}×`,
    },
    {
      goal: `isolate heap flat: peak after full GC grows ≤ ${FLAT_MB} MB from ${SMALL} to ${N} messages`,
      ok: large.growthMb <= small.growthMb + FLAT_MB,
      value: `+${small.growthMb} MB vs +${large.growthMb} MB over each run's start (peaks ${small.peakMb} / ${large.peakMb} MB)`,
    },
    {
      goal: "GET /health p95 during the import ≤ 2 × idle",
      ok: busy.errors === 0 && busy.p95 <= 2 * idle.p95,
      value: `${busy.p95} / ${idle.p95} ms = ${round(busy.p95 / idle.p95, 1)}×`,
    },
  ];
  for (const g of goals) console.log(`${g.ok ? "PASS" : "FAIL"}  ${g.goal}: ${g.value}`);
  mkdirSync(args.out!, { recursive: true });
  const date = new Date().toISOString();
  const file = join(args.out!, `bench-import-${date.replace(/[:.]/g, "-")}.json`);
  writeFileSync(
    file,
    `${JSON.stringify({ date, messages: N, floor, idle, busy, timed, timedHeapMb, heap: { small, large }, figures, goals }, null, 2)}\n`,
  );
  console.log(`report: ${file}`);
  process.exitCode = goals.every((g) => g.ok) ? 0 : 1;
} finally {
  heap?.close();
  await stack?.stop();
  rmSync(dir, { recursive: true, force: true });
}
