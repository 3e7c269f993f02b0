// Peak memory of importing a large Slack export: writes a generated export of MESSAGES messages
// (10 channels, 100 messages a day; users.json first, or last with --users-last, which makes the
// first 50,000 messages wait for it) to a temporary zip, then parses it in a fresh process from
// disk in 64 KiB reads, the sink dropping each batch, and prints RSS and heap before and at peak.
//   node --experimental-transform-types --expose-gc scripts/import-memory.ts [--messages 100000] [--users-last]
// (transform-types: src/imports/format.ts declares parameter properties, which strip-only mode refuses.)
import { execFileSync } from "node:child_process";
import { createReadStream, createWriteStream, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { parseArgs } from "node:util";
import { strToU8, Zip, ZipDeflate } from "fflate";

const { values } = parseArgs({
  options: {
    messages: { type: "string", default: "100000" },
    "users-last": { type: "boolean", default: false },
    measure: { type: "string" },
  },
});

if (values.measure) await measure(values.measure);
else await main();

async function main() {
  const dir = mkdtempSync(join(tmpdir(), "import-memory-"));
  try {
    const file = join(dir, "slack.zip");
    await generate(file, Number(values.messages), values["users-last"]);
    const out = execFileSync(process.execPath, [...process.execArgv, import.meta.filename, "--measure", file], { encoding: "utf8" });
    console.log(
      `${values.messages} messages, users.json ${values["users-last"] ? "last" : "first"}, zip ${(statSync(file).size / 2 ** 20).toFixed(1)} MiB`,
    );
    console.log(out.trim());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function generate(file: string, count: number, usersLast: boolean) {
  const out = createWriteStream(file);
  const zip = new Zip((error, chunk) => {
    if (error) throw error;
    out.write(chunk);
  });
  const add = (name: string, text: string) => {
    const entry = new ZipDeflate(name, { level: 6 });
    zip.add(entry);
    entry.push(strToU8(text), true);
  };
  const users = JSON.stringify(
    Array.from({ length: 200 }, (_, i) => ({
      id: `U${1000 + i}`,
      name: `user${i}`,
      real_name: `User Number ${i}`,
      profile: { display_name: `u${i}` },
    })),
    null,
    4,
  );
  const channels = Array.from({ length: 10 }, (_, i) => ({
    id: `C${100 + i}`,
    name: `channel-${i}`,
    topic: { value: "" },
    purpose: { value: "" },
  }));
  if (!usersLast) add("users.json", users);
  add("channels.json", JSON.stringify(channels, null, 4));
  const perDay = 100;
  const days = Math.ceil(count / perDay / channels.length);
  let made = 0;
  for (const [c, channel] of channels.entries()) {
    for (let d = 0; d < days && made < count; d++) {
      const start = 1704067200 + d * 86_400;
      const messages = Array.from({ length: Math.min(perDay, count - made) }, (_, i) => ({
        type: "message",
        user: `U${1000 + ((c * 31 + d * 7 + i) % 200)}`,
        text: `Update ${d}-${i} on <#C${100 + c}|${channel.name}>: <@U${1000 + (i % 200)}> the rollout of build ${d * perDay + i} looks fine, details in <https://ci.example.com/${d}/${i}|the CI run> &amp; the dashboard`,
        ts: `${start + i * 300}.${String(i).padStart(6, "0")}`,
        ...(i % 10 === 0 && { thread_ts: `${start}.000000`, parent_user_id: "U1000" }),
      }));
      made += messages.length;
      add(`${channel.name}/${new Date(start * 1000).toISOString().slice(0, 10)}.json`, JSON.stringify(messages, null, 4));
    }
  }
  if (usersLast) add("users.json", users);
  zip.end();
  await new Promise((resolve) => out.end(resolve));
}

async function measure(file: string) {
  const { slackImporter } = await import("../src/imports/slack.ts");
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
  const before = process.memoryUsage();
  let peakRss = before.rss;
  let peakHeap = before.heapUsed;
  const sample = () => {
    const now = process.memoryUsage();
    peakRss = Math.max(peakRss, now.rss);
    peakHeap = Math.max(peakHeap, now.heapUsed);
  };
  const timer = setInterval(sample, 5);
  let messages = 0;
  let batches = 0;
  // Heap still in use after a full collection, every 20 batches: what the import holds, not garbage.
  let retained = 0;
  const started = performance.now();
  const input = Readable.toWeb(createReadStream(file, { highWaterMark: 65536 })) as unknown as ReadableStream<Uint8Array>;
  await slackImporter.parse(
    input,
    {},
    {
      batch: async (batch) => {
        messages += batch.messages.length;
        batches += 1;
        sample();
        if (gc && batches % 20 === 0) {
          gc();
          retained = Math.max(retained, process.memoryUsage().heapUsed - before.heapUsed);
        }
      },
      skipped: () => {},
    },
  );
  clearInterval(timer);
  sample();
  const seconds = (performance.now() - started) / 1000;
  console.log(`${messages} messages in ${batches} batches, ${seconds.toFixed(1)} s (${Math.round(messages / seconds)} messages/s)`);
  console.log(`rss: ${mib(before.rss)} before, ${mib(peakRss)} at peak (+${mib(peakRss - before.rss)})`);
  console.log(
    `heap used: ${mib(before.heapUsed)} before, ${mib(peakHeap)} at peak (+${mib(peakHeap - before.heapUsed)}); after a full GC at most +${mib(retained)}`,
  );
}
