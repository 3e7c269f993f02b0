import { chatgptImporter } from "./chatgpt.ts";
import { csvImporter } from "./csv.ts";
import { discordImporter } from "./discord.ts";
import type { Importer, ImportFormat } from "./format.ts";
import { jsonlImporter } from "./jsonl.ts";
import { slackImporter } from "./slack.ts";
import { srtImporter } from "./srt.ts";
import { telegramImporter } from "./telegram.ts";
import { vttImporter } from "./vtt.ts";
import { whatsappImporter } from "./whatsapp.ts";

/** Every importer, by the format name `?format=` takes. */
export const importers: Record<ImportFormat, Importer> = {
  slack: slackImporter,
  whatsapp: whatsappImporter,
  discord: discordImporter,
  telegram: telegramImporter,
  chatgpt: chatgptImporter,
  vtt: vttImporter,
  srt: srtImporter,
  jsonl: jsonlImporter,
  csv: csvImporter,
};
