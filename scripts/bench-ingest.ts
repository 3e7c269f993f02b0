// npm run bench:ingest: ingest throughput through the HTTP API of `wrangler dev` on the embedded
// database. Uses ../shared/data/locomo-dev when present (read in place, never copied), else the
// demo conversations. Prints a table and writes reports/bench-ingest.json.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startLocalStack } from "./lib/local-stack.ts";

const ROOT = join(import.meta.dirname, "..");
const LOCOMO = join(ROOT, "../shared/data/locomo-dev");
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

interface Conversation {
  id: string;
  title?: string;
  messages: unknown[];
}

function loadConversations(): { source: string; conversations: Conversation[] } {
  const dir = existsSync(LOCOMO) ? LOCOMO : join(ROOT, "demo");
  const conversations = readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => {
      const c = JSON.parse(readFileSync(join(dir, f), "utf8")) as Conversation;
      return { id: c.id, title: c.title, messages: c.messages };
    });
  return { source: dir === LOCOMO ? "../shared/data/locomo-dev" : "demo/", conversations };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function timed(fn: () => Promise<Response>): Promise<{ ms: number; res: Response }> {
  const t = performance.now();
  const res = await fn();
  await res.clone().arrayBuffer();
  return { ms: performance.now() - t, res };
}

const started = performance.now();
const stack = await startLocalStack();
const wrangler = { url: stack.url };
try {
  const startupMs = performance.now() - started;
  const { source, conversations } = loadConversations();
  const headers = { authorization: "Bearer dev-local-key", "content-type": "application/json" };
  const post = (body: Conversation) => fetch(`${wrangler.url}/api/conversations`, { method: "POST", headers, body: JSON.stringify(body) });

  // Floor: the cheapest round trip through the same stack (no auth, two small queries).
  const health: number[] = [];
  for (let i = 0; i < 30; i++) health.push((await timed(() => fetch(`${wrangler.url}/health`))).ms);

  // Warm-up: the first ingest in an isolate loads the tokenizer; keep that out of the figures.
  const warmUp = () => post({ ...conversations[0]!, id: `warm-up-${performance.now()}`, messages: conversations[0]!.messages.slice(0, 5) });
  const coldIngest = await timed(warmUp);
  if (!coldIngest.res.ok) throw new Error(`warm-up ingest failed: ${coldIngest.res.status} ${await coldIngest.res.text()}`);
  const warmIngest = await timed(warmUp);

  const rows: Record<string, string | number>[] = [];
  for (const c of conversations) {
    const fresh: number[] = [];
    const cached: number[] = [];
    const noop: number[] = [];
    let chunks = 0;
    for (let round = 0; round < ROUNDS; round++) {
      // Fresh: every message text is new to the embedding cache, so every chunk is embedded.
      const marked = {
        ...c,
        id: `${c.id}-fresh${round}`,
        messages: c.messages.map((m) => ({ ...(m as object), text: `${(m as { text: string }).text} #${round}` })),
      };
      const first = await timed(() => post(marked));
      if (first.res.status !== 201) throw new Error(`ingest of ${marked.id} failed: ${first.res.status} ${await first.res.text()}`);
      chunks = ((await first.res.json()) as { chunks: { total: number } }).chunks.total;
      fresh.push(first.ms);
      // Embedding-cached: the same texts under a new conversation id find every vector in the cache.
      cached.push((await timed(() => post({ ...marked, id: `${c.id}-cached${round}` }))).ms);
      // No-op: re-sending an unchanged conversation.
      noop.push((await timed(() => post(marked))).ms);
    }
    const n = c.messages.length;
    const rate = (ms: number[]) => Math.round((n / median(ms)) * 1000);
    rows.push({
      conversation: c.id,
      messages: n,
      chunks,
      "fresh ms": Math.round(median(fresh)),
      "fresh msg/s": rate(fresh),
      "emb-cached ms": Math.round(median(cached)),
      "emb-cached msg/s": rate(cached),
      "re-send (no-op) ms": Math.round(median(noop)),
      "ingest ÷ health": Math.round(median(fresh) / median(health)),
    });
  }
  const report = {
    date: new Date().toISOString(),
    source,
    rounds: ROUNDS,
    startup_to_healthy_ms: Math.round(startupMs),
    // The same 5-message ingest, first in the isolate (loads the tokenizer) and then warm.
    five_message_ingest_ms: { first: Math.round(coldIngest.ms), warm: Math.round(warmIngest.ms) },
    health_median_ms: Number(median(health).toFixed(2)),
    conversations: rows,
  };
  console.log(`source: ${source}; start-up (embedded Postgres + migrations + wrangler dev healthy): ${report.startup_to_healthy_ms} ms`);
  console.log(
    `5-message ingest: first in the isolate ${report.five_message_ingest_ms.first} ms (loads the tokenizer), then ${report.five_message_ingest_ms.warm} ms`,
  );
  console.log(`floor: GET /health median ${report.health_median_ms} ms over ${health.length} requests`);
  console.table(rows);
  mkdirSync(join(ROOT, "reports"), { recursive: true });
  writeFileSync(join(ROOT, "reports/bench-ingest.json"), `${JSON.stringify(report, null, 2)}\n`);
} finally {
  await stack.stop();
}
