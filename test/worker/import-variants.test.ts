// Every fixture variant goes through the whole import in workerd (upload to R2, queue steps,
// parse, spool, store) and lands exactly as the same importer, run here in workerd too, parses it:
// the parser's own details are asserted by test/unit/import-*.test.ts; this checks that each
// variant survives the runtime and the pipeline, message for message.
import { zipSync } from "fflate";
import { beforeAll, describe, expect, it } from "vitest";
import type { ImportedMessage, ImportFormat, ImportOptions } from "../../src/imports/format";
import { importers } from "../../src/imports/registry";
import chatgpt from "../fixtures/imports/chatgpt/conversations.json?raw";
import commaCsv from "../fixtures/imports/csv/comma-crlf.csv?raw";
import customCsv from "../fixtures/imports/csv/custom-columns.csv?raw";
import semicolonCsv from "../fixtures/imports/csv/semicolon-zones.csv?raw";
import tabCsv from "../fixtures/imports/csv/tab-separated.csv?raw";
import discordDm from "../fixtures/imports/discord/dm.json?raw";
import discordGeneral from "../fixtures/imports/discord/general.json?raw";
import customJsonl from "../fixtures/imports/jsonl/custom-fields.jsonl?raw";
import multiJsonl from "../fixtures/imports/jsonl/multi-conversation.jsonl?raw";
import supportJsonl from "../fixtures/imports/jsonl/support-chat.jsonl?raw";
import slackChannels from "../fixtures/imports/slack/channels.json?raw";
import slackDm from "../fixtures/imports/slack/D01ANABEN/2024-01-15.json?raw";
import slackDms from "../fixtures/imports/slack/dms.json?raw";
import slackEngineering from "../fixtures/imports/slack/engineering/2024-01-15.json?raw";
import slackGeneral15 from "../fixtures/imports/slack/general/2024-01-15.json?raw";
import slackGeneral16 from "../fixtures/imports/slack/general/2024-01-16.json?raw";
import slackGroups from "../fixtures/imports/slack/groups.json?raw";
import slackIntegrations from "../fixtures/imports/slack/integration_logs.json?raw";
import slackMpdm from "../fixtures/imports/slack/mpdm-ana--ben--cho-1/2024-01-15.json?raw";
import slackMpims from "../fixtures/imports/slack/mpims.json?raw";
import slackSecret from "../fixtures/imports/slack/secret-project/2024-01-15.json?raw";
import slackUsers from "../fixtures/imports/slack/users.json?raw";
import interview from "../fixtures/imports/srt/interview.srt?raw";
import unnumbered from "../fixtures/imports/srt/unnumbered.srt?raw";
import telegramAccount from "../fixtures/imports/telegram/account.json?raw";
import telegramOld from "../fixtures/imports/telegram/old-dates.json?raw";
import telegramSingle from "../fixtures/imports/telegram/single-chat.json?raw";
import meeting from "../fixtures/imports/vtt/meeting-voices.vtt?raw";
import speakerPrefix from "../fixtures/imports/vtt/speaker-prefix.vtt?raw";
import android12 from "../fixtures/imports/whatsapp/android-12h-mdy.txt?raw";
import android24 from "../fixtures/imports/whatsapp/android-24h-dmy.txt?raw";
import berlin from "../fixtures/imports/whatsapp/berlin-dst.txt?raw";
import ios12 from "../fixtures/imports/whatsapp/ios-12h-mdy.txt?raw";
import ios24 from "../fixtures/imports/whatsapp/ios-24h-dmy.txt?raw";
import { directSql, newTenantKey } from "./support/api";
import { importAs } from "./support/imports";

const sql = directSql();
let tenant: { key: string; tenant: string };
beforeAll(async () => {
  tenant = await newTenantKey("variants");
});

const utf8 = (text: string) => new TextEncoder().encode(text);
const slackExport = zipSync({
  "users.json": utf8(slackUsers),
  "channels.json": utf8(slackChannels),
  "groups.json": utf8(slackGroups),
  "dms.json": utf8(slackDms),
  "mpims.json": utf8(slackMpims),
  "integration_logs.json": utf8(slackIntegrations),
  "general/2024-01-15.json": utf8(slackGeneral15),
  "general/2024-01-16.json": utf8(slackGeneral16),
  "engineering/2024-01-15.json": utf8(slackEngineering),
  "secret-project/2024-01-15.json": utf8(slackSecret),
  "D01ANABEN/2024-01-15.json": utf8(slackDm),
  "mpdm-ana--ben--cho-1/2024-01-15.json": utf8(slackMpdm),
});

interface Variant {
  name: string;
  format: ImportFormat;
  file: string | Uint8Array;
  /** Query options (the API's names) and the same as the importer's options. */
  query?: Record<string, string>;
  options?: ImportOptions;
}

const startedAt = "2024-01-15T10:00:00.000Z";
const variants: Variant[] = [
  { name: "WhatsApp, Android, 24-hour, day first", format: "whatsapp", file: android24 },
  {
    name: "WhatsApp, Android, 12-hour, month first, in New York",
    format: "whatsapp",
    file: android12,
    query: { timezone: "America/New_York" },
    options: { timezone: "America/New_York" },
  },
  { name: "WhatsApp, iOS, 24-hour, day first", format: "whatsapp", file: ios24 },
  { name: "WhatsApp, iOS, 12-hour, month first", format: "whatsapp", file: ios12 },
  {
    name: "WhatsApp across a daylight-saving change in Berlin",
    format: "whatsapp",
    file: berlin,
    query: { timezone: "Europe/Berlin" },
    options: { timezone: "Europe/Berlin" },
  },
  { name: "Slack workspace: channels, a private channel, a DM and a group DM", format: "slack", file: slackExport },
  { name: "Discord channel (DiscordChatExporter)", format: "discord", file: discordGeneral },
  { name: "Discord DM", format: "discord", file: discordDm },
  { name: "Telegram Desktop, one chat", format: "telegram", file: telegramSingle },
  { name: "Telegram Desktop, whole account", format: "telegram", file: telegramAccount },
  {
    name: "Telegram Desktop, old wall-clock dates",
    format: "telegram",
    file: telegramOld,
    query: { timezone: "Europe/Berlin" },
    options: { timezone: "Europe/Berlin" },
  },
  { name: "ChatGPT conversations.json", format: "chatgpt", file: chatgpt },
  {
    name: "WebVTT with voice tags",
    format: "vtt",
    file: meeting,
    query: { started_at: startedAt },
    options: { startedAt: new Date(startedAt) },
  },
  {
    name: "WebVTT with 'Speaker:' cues",
    format: "vtt",
    file: speakerPrefix,
    query: { started_at: startedAt },
    options: { startedAt: new Date(startedAt) },
  },
  { name: "SRT", format: "srt", file: interview, query: { started_at: startedAt }, options: { startedAt: new Date(startedAt) } },
  {
    name: "SRT without cue numbers",
    format: "srt",
    file: unnumbered,
    query: { started_at: startedAt },
    options: { startedAt: new Date(startedAt) },
  },
  { name: "JSONL, one conversation", format: "jsonl", file: supportJsonl },
  { name: "JSONL, several conversations", format: "jsonl", file: multiJsonl },
  {
    name: "JSONL with named fields, dotted paths and an author-type field",
    format: "jsonl",
    file: customJsonl,
    query: {
      author_column: "sender.name",
      text_column: "msg",
      timestamp_column: "sent",
      id_column: "uid",
      author_type_column: "kind",
      timezone: "Europe/Berlin",
    },
    options: {
      columns: { author: "sender.name", text: "msg", timestamp: "sent", id: "uid", authorType: "kind" },
      timezone: "Europe/Berlin",
    },
  },
  { name: "CSV, comma and CRLF", format: "csv", file: commaCsv },
  {
    name: "CSV, semicolons and zoned times",
    format: "csv",
    file: semicolonCsv,
    query: { timezone: "Europe/Berlin" },
    options: { timezone: "Europe/Berlin" },
  },
  { name: "CSV, tab-separated", format: "csv", file: tabCsv },
  {
    name: "CSV with named columns",
    format: "csv",
    file: customCsv,
    query: { timestamp_column: "When", author_column: "Who", text_column: "What", author_type_column: "Kind" },
    options: { columns: { timestamp: "When", author: "Who", text: "What", authorType: "Kind" } },
  },
];

/** What the importer itself makes of the file, here in workerd: messages by conversation, and the skipped count. */
async function parsed(v: Variant, prefix: string) {
  const bytes = typeof v.file === "string" ? utf8(v.file) : v.file;
  const byConversation = new Map<string, ImportedMessage[]>();
  let skipped = 0;
  await importers[v.format].parse(
    new Blob([bytes]).stream(),
    { ...v.options, conversationId: prefix },
    {
      async batch(b) {
        byConversation.set(b.id, [...(byConversation.get(b.id) ?? []), ...b.messages]);
      },
      skipped() {
        skipped++;
      },
    },
  );
  return { byConversation, skipped };
}

const sortById = <T extends { id: string }>(xs: T[]) => [...xs].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));

describe("every fixture variant imports through the API in workerd", () => {
  for (const [i, v] of variants.entries()) {
    it(v.name, async () => {
      const prefix = `v${i}`;
      const query = new URLSearchParams({ format: v.format, conversation_id: prefix, ...v.query });
      const status = await importAs(tenant.key, v.file, `?${query}`);
      expect(status).toMatchObject({ status: "succeeded", errors: [] });

      const expected = await parsed(v, prefix);
      const total = [...expected.byConversation.values()].reduce((n, ms) => n + ms.length, 0);
      expect(total).toBeGreaterThan(0);
      expect(status.progress).toMatchObject({ messages_parsed: total, messages_stored: total });
      expect(status.skipped_count).toBe(expected.skipped);
      expect([...status.progress.conversations].sort()).toEqual([...expected.byConversation.keys()].sort());
      for (const [conversation, messages] of expected.byConversation) {
        const rows = await sql<{ id: string; author_name: string; author_type: string; text: string; timestamp: Date }[]>`
          SELECT id, author_name, author_type, text, "timestamp" FROM messages
          WHERE tenant_id = ${tenant.tenant} AND conversation_id = ${conversation}`;
        const stored = rows.map((r) => ({ ...r, timestamp: new Date(r.timestamp).toISOString() }));
        const want = messages.map((m) => ({
          id: m.id,
          author_name: m.author_name,
          author_type: m.author_type ?? "human",
          text: m.text,
          timestamp: new Date(m.timestamp).toISOString(),
        }));
        expect(sortById(stored)).toEqual(sortById(want));
      }
    });
  }
});
