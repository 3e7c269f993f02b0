// Run by bench-tokenizer in a fresh Node process (--expose-gc): load cost, heap, and encode speed of one tokenizer.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { type Enc, type Lib, loadTokenizer } from "./load.ts";

const [lib, enc] = process.argv.slice(2) as [Lib, Enc];
const gc = (globalThis as { gc?: () => void }).gc!;
const demo = join(import.meta.dirname, "../../demo");
const text = readdirSync(demo)
  .filter((f) => f.endsWith(".json"))
  .flatMap((f) => (JSON.parse(readFileSync(join(demo, f), "utf8")) as { messages: { text: string }[] }).messages.map((m) => m.text))
  .join("\n");
const sample = Array.from({ length: 40 }, () => text).join("\n");

gc();
const heap0 = process.memoryUsage().heapUsed;
const rss0 = process.memoryUsage().rss;
const t0 = performance.now();
const tokenizer = await loadTokenizer(lib, enc);
tokenizer.encode("warm up");
const loadMs = performance.now() - t0;
gc();
const heapMb = (process.memoryUsage().heapUsed - heap0) / 2 ** 20;
const rssMb = (process.memoryUsage().rss - rss0) / 2 ** 20;
const tokens = tokenizer.encode(sample).length;
const runs: number[] = [];
for (let i = 0; i < 5; i++) {
  const t = performance.now();
  tokenizer.encode(sample);
  runs.push(performance.now() - t);
}
runs.sort((a, b) => a - b);
console.log(JSON.stringify({ loadMs, heapMb, rssMb, tokens, msPer1k: (runs[2]! / tokens) * 1000 }));
