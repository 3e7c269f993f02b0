import { looksLike as chatgpt } from "./chatgpt.ts";
import { looksLike as csv } from "./csv.ts";
import { looksLike as discord } from "./discord.ts";
import type { ImportFormat } from "./format.ts";
import { looksLike as jsonl } from "./jsonl.ts";
import { isSlackZip } from "./slack.ts";
import { looksLike as srt } from "./srt.ts";
import { looksLike as telegram } from "./telegram.ts";
import { looksLike as vtt } from "./vtt.ts";
import { looksLike as whatsapp } from "./whatsapp.ts";
import { isZip, zipEntryNames } from "./zip-names.ts";

/** Bytes read from the start of a file to recognise its format. */
const HEAD = 64 * 1024;

/**
 * The format of an uploaded file from its content: a zip by its entry names (a Slack export has
 * users.json and channels.json, a WhatsApp export a .txt chat), anything else by its first 64 KiB,
 * the most specific formats first. Undefined when nothing matches: the user names the format.
 */
export async function detectFormat(bucket: R2Bucket, key: string): Promise<ImportFormat | undefined> {
  const head = await bucket.get(key, { range: { offset: 0, length: HEAD } });
  if (!head) return undefined;
  const bytes = new Uint8Array(await head.arrayBuffer());
  if (isZip(bytes)) {
    const object = await bucket.head(key);
    const names = object && (await zipEntryNames(bucket, key, object.size));
    if (!names) return undefined;
    if (isSlackZip(names)) return "slack";
    if (names.some((n) => /(^|\/)_?chat\.txt$/i.test(n) || /whatsapp.*\.txt$/i.test(n))) return "whatsapp";
    return undefined;
  }
  const checks: [ImportFormat, (b: Uint8Array) => boolean][] = [
    ["vtt", vtt],
    ["srt", srt],
    ["chatgpt", chatgpt],
    ["discord", discord],
    ["telegram", telegram],
    ["jsonl", jsonl],
    ["whatsapp", whatsapp],
    ["csv", csv],
  ];
  return checks.find(([, check]) => check(bytes))?.[0];
}
