// npm run bench:hot: the functions on every request's path, measured alone with tinybench (in
// Node; workerd runs the same V8, `docs/PERFORMANCE.md` says how to profile a request there).
// Inputs are built from the demo conversations, scaled up: 500 messages to chunk, a 1,000-token
// text to count, 64 texts to embed, three 60-long ranked lists to fuse, 60 candidates for MMR.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Bench } from "tinybench";
import { cosine, mmrOrder } from "../src/context/mmr.ts";
import { type ChunkInputMessage, chunkMessages } from "../src/ingest/chunker.ts";
import { localEmbedder } from "../src/providers/local-embedder.ts";
import { rrf } from "../src/retrieve/rrf.ts";
import { loadTokenizer } from "../src/tokens/tokenizer.ts";

const DEMO = join(import.meta.dirname, "../demo");
const demoMessages = readdirSync(DEMO)
  .filter((f) => f.endsWith(".json"))
  .flatMap(
    (f) =>
      (
        JSON.parse(readFileSync(join(DEMO, f), "utf8")) as {
          messages: { id: string; author_name: string; author_type?: string; text: string; timestamp: string }[];
        }
      ).messages,
  );

const messages: ChunkInputMessage[] = Array.from({ length: 500 }, (_, i) => {
  const m = demoMessages[i % demoMessages.length]!;
  return {
    id: `m${i}`,
    authorName: m.author_name,
    authorType: m.author_type ?? "human",
    text: m.text,
    timestamp: new Date(Date.UTC(2025, 2, 1) + i * 60_000),
  };
});
const cl100k = await loadTokenizer("cl100k_base");
const o200k = await loadTokenizer("o200k_base");
let long = "";
for (const m of messages) {
  if (cl100k.count(long) >= 1000) break;
  long += `${m.authorName}: ${m.text}\n`;
}
const texts = messages.slice(0, 64).map((m) => m.text);
const embedder = localEmbedder({ dimensions: 384 });
const [vectors] = [await embedder.embed(messages.slice(0, 60).map((m) => m.text))];
const lists = [0, 1, 2].map((s) => Array.from({ length: 60 }, (_, i) => ({ id: `c${(i * (s + 3) + s * 7) % 90}` })));
const candidates = vectors!.map((v, i) => ({ id: i, score: 1 / (i + 1), v }));

const bench = new Bench({ time: 1_000, warmup: true });
bench
  .add("chunk 500 messages (256-token chunks)", () => void chunkMessages(messages, cl100k, { maxTokens: 256, sessionGapMs: 3_600_000 }))
  .add("count 1,000 tokens (cl100k, gpt-tokenizer)", () => void cl100k.count(long))
  .add("count 1,000 tokens (o200k, gpt-tokenizer)", () => void o200k.count(long))
  .add("local embedder: 1 text", async () => void (await embedder.embed([texts[0]!])))
  .add("local embedder: 64 texts", async () => void (await embedder.embed(texts)))
  .add("RRF: 3 lists × 60", () => void rrf(lists, (x) => x.id, 60))
  .add(
    "MMR: order 60 candidates (384-d)",
    () =>
      void mmrOrder(
        candidates,
        (c) => c.score,
        (a, b) => cosine(a.v, b.v),
        0.7,
      ),
  );

await bench.run();
console.log(`${process.version}, ${new Date().toISOString()}`);
console.table(
  bench.tasks.map((t) => {
    const r = t.result as unknown as { latency?: { mean: number; p50?: number; p99?: number }; throughput?: { mean: number } };
    return {
      function: t.name,
      "mean µs": r.latency ? Number((r.latency.mean * 1000).toFixed(1)) : NaN,
      "p99 µs": r.latency?.p99 !== undefined ? Number((r.latency.p99 * 1000).toFixed(1)) : NaN,
      "ops/s": r.throughput ? Math.round(r.throughput.mean) : NaN,
    };
  }),
);
