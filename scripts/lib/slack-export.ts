// A generated Slack workspace export for benchmarks: users.json and channels.json first, then per
// channel a folder of day files (one JSON array per channel per day, 100 messages a day from
// 09:00, five minutes apart), as Slack lays out its exports. Texts and authors come from
// synthetic-archive.ts, keyed by the seed: the same seed gives the same zip, another seed other
// chunks (nothing stored under one seed makes another's cheaper to import).
import { createWriteStream } from "node:fs";
import { strToU8, Zip, ZipDeflate } from "fflate";
import { PEOPLE, syntheticMessage } from "./synthetic-archive.ts";

const CHANNEL_NAMES = ["general", "engineering", "launch", "billing", "support", "design", "security", "random"];
const PER_DAY = 100;
const FIRST_DAY = Date.UTC(2025, 0, 6);

/**
 * Message `n` of a channel: its author and text from synthetic-archive.ts (the index first in the
 * key, where the hash mixes most: consecutive messages then differ), and its time, 100 a day.
 */
export function channelMessage(seed: string, channel: string, n: number) {
  const { author_name, text } = syntheticMessage(`${n}/${seed}/${channel}`, 0);
  const day = Math.floor(n / PER_DAY);
  return { author_name, text, time: new Date(FIRST_DAY + day * 86_400_000 + 9 * 3_600_000 + (n % PER_DAY) * 300_000) };
}

/**
 * Writes an export of `messages` messages spread evenly over `channels` channels (8 by default) to `file`.
 *
 * @example await writeSlackExport("/tmp/slack.zip", { messages: 10_000, seed: "small" });
 */
export async function writeSlackExport(file: string, options: { messages: number; seed: string; channels?: number }): Promise<void> {
  const channels = Array.from({ length: options.channels ?? CHANNEL_NAMES.length }, (_, i) => CHANNEL_NAMES[i] ?? `channel-${i}`);
  const out = createWriteStream(file);
  let failed: Error | undefined;
  const zip = new Zip((error, chunk, final) => {
    if (error) failed = error;
    else out.write(chunk);
    if (final) out.end();
  });
  const closed = new Promise<void>((resolve, reject) => out.once("close", resolve).once("error", reject));
  const add = (name: string, value: unknown) => {
    const entry = new ZipDeflate(name, { level: 6 });
    zip.add(entry);
    entry.push(strToU8(JSON.stringify(value, null, 4)), true);
  };
  const userId = (name: string) => `U${PEOPLE.indexOf(name) + 100}`;
  add(
    "users.json",
    PEOPLE.map((name) => ({ id: userId(name), name: name.toLowerCase(), real_name: name, profile: { display_name: name } })),
  );
  add(
    "channels.json",
    channels.map((name, i) => ({
      id: `C${i + 100}`,
      name,
      members: PEOPLE.map(userId),
      topic: { value: "" },
      purpose: { value: "" },
    })),
  );
  channels.forEach((channel, c) => {
    const count = Math.floor(options.messages / channels.length) + (c < options.messages % channels.length ? 1 : 0);
    for (let first = 0; first < count; first += PER_DAY) {
      const messages = Array.from({ length: Math.min(PER_DAY, count - first) }, (_, k) => channelMessage(options.seed, channel, first + k));
      const day = messages[0]!.time.toISOString().slice(0, 10);
      add(
        `${channel}/${day}.json`,
        messages.map((m) => ({ type: "message", user: userId(m.author_name), text: m.text, ts: `${m.time.getTime() / 1000}.000100` })),
      );
    }
  });
  zip.end();
  await closed;
  if (failed) throw failed;
}
