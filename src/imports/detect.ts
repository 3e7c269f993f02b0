import { looksLike as chatgpt, chatgptImporter } from "./chatgpt.ts";
import { looksLike as csv } from "./csv.ts";
import { looksLike as discord } from "./discord.ts";
import type { ImportFormat } from "./format.ts";
import { looksLike as jsonl } from "./jsonl.ts";
import { isSlackZip } from "./slack.ts";
import { looksLike as srt } from "./srt.ts";
import { looksLike as telegram, telegramImporter } from "./telegram.ts";
import { looksLike as vtt } from "./vtt.ts";
import { looksLike as whatsapp, whatsappImporter } from "./whatsapp.ts";
import { isZip } from "./zip.ts";
import { zipEntryNames } from "./zip-names.ts";

/** Bytes read from the start of a file to recognise its format. */
const HEAD = 64 * 1024;

/** Single-file formats that come zipped with other files, found by the member they read. */
const ZIPPED = [whatsappImporter, telegramImporter, chatgptImporter];

/**
 * The format of an uploaded file from its content: a zip by its entry names (a Slack export has
 * users.json and channels.json, a WhatsApp export a .txt chat, Telegram's result.json, ChatGPT's
 * conversations.json), anything else by its first 64 KiB, the most specific formats first.
 * Undefined when nothing matches: the user names the format.
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
    return ZIPPED.find((importer) => names.some((name) => importer.zipMember?.accepts(name)))?.format;
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
