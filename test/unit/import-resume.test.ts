// A parse that pauses and goes on in another step, given only the file from the pause's byte on
// and the state it handed over (through JSON, as a step stores it), must read the file exactly as
// one uninterrupted parse does: the same messages per conversation, the same titles and metadata,
// the same skipped parts in the same order.
import { describe, expect, it } from "vitest";
import { chatgptImporter } from "../../src/imports/chatgpt";
import { csvImporter } from "../../src/imports/csv";
import { discordImporter } from "../../src/imports/discord";
import { type ConversationBatch, type Importer, type ImportOptions, ParsePaused, type Resume } from "../../src/imports/format";
import { jsonlImporter } from "../../src/imports/jsonl";
import { slackImporter } from "../../src/imports/slack";
import { srtImporter } from "../../src/imports/srt";
import { telegramImporter } from "../../src/imports/telegram";
import { vttImporter } from "../../src/imports/vtt";
import { whatsappImporter } from "../../src/imports/whatsapp";
import { readZipMember } from "../../src/imports/zip";
import { fixture, streamOf } from "../helpers/import-run";
import { fixtureFiles, zipOf } from "../helpers/importer-harness";

interface Outcome {
  batches: ConversationBatch[];
  skipped: [string, string][];
}

/** Parses `bytes` once, from its start to its end. */
async function straight(importer: Importer, bytes: Uint8Array, options: ImportOptions): Promise<Outcome> {
  const out: Outcome = { batches: [], skipped: [] };
  await importer.parse(streamOf(bytes, 5), options, {
    batch: async (b) => void out.batches.push(structuredClone(b)),
    skipped: (where, reason) => void out.skipped.push([where, reason]),
  });
  return out;
}

/**
 * Parses `bytes` in steps that each stop at the first point offered past where they began; each
 * step is given the file from its resume point on and the state through JSON. Returns the
 * outcome and the number of steps.
 */
async function inSteps(importer: Importer, bytes: Uint8Array, options: ImportOptions): Promise<Outcome & { steps: number }> {
  const out: Outcome = { batches: [], skipped: [] };
  let resume: Resume | undefined;
  for (let steps = 1; ; steps++) {
    const from = resume?.at ?? 0;
    try {
      await importer.parse(
        streamOf(bytes.subarray(from), 5),
        options,
        {
          batch: async (b) => void out.batches.push(structuredClone(b)),
          skipped: (where, reason) => void out.skipped.push([where, reason]),
          async pausable(at, suspend) {
            if (at <= from) return;
            const state: unknown = JSON.parse(JSON.stringify(await suspend()));
            throw new ParsePaused({ at, state });
          },
        },
        resume,
      );
      return { ...out, steps };
    } catch (error) {
      if (!(error instanceof ParsePaused)) throw error;
      expect(error.resume.at).toBeGreaterThan(from);
      resume = error.resume;
    }
  }
}

const byConversation = (batches: ConversationBatch[]) => {
  const conversations = new Map<string, { title: string | null; metadata: unknown; messages: unknown[] }>();
  for (const b of batches) {
    const c = conversations.get(b.id) ?? { title: b.title, metadata: b.metadata, messages: [] };
    expect([b.title, b.metadata]).toEqual([c.title, c.metadata]);
    c.messages.push(...b.messages);
    conversations.set(b.id, c);
  }
  return Object.fromEntries([...conversations].sort(([a], [b]) => a.localeCompare(b)));
};

/** The chat entry of a WhatsApp zip, as an import step stages it before parsing. */
async function staged(zip: Uint8Array, importer: Importer): Promise<{ bytes: Uint8Array; file: string }> {
  return readZipMember(
    streamOf(zip, 4096),
    importer.zipMember!,
    async (body, file) => ({ bytes: new Uint8Array(await new Response(body).arrayBuffer()), file }),
    () => {},
  );
}

const startedAt = new Date("2024-01-15T10:00:00Z");
/** Metadata first, as Slack writes its exports, then each folder's day files. */
const slackZip = () =>
  zipOf(Object.entries(fixtureFiles("slack")).sort(([a], [b]) => Number(a.includes("/")) - Number(b.includes("/")) || a.localeCompare(b)));

const CASES: [string, Importer, () => Uint8Array | Promise<{ bytes: Uint8Array; file: string }>, ImportOptions][] = [
  ["whatsapp .txt (Android)", whatsappImporter, () => fixture("whatsapp/android-24h-dmy.txt"), {}],
  ["whatsapp .txt (iOS, 12 h)", whatsappImporter, () => fixture("whatsapp/ios-12h-mdy.txt"), {}],
  ["whatsapp .txt, order known late", whatsappImporter, () => fixture("whatsapp/ambiguous-order.txt"), { dateOrder: "dmy" }],
  ["whatsapp .zip (staged)", whatsappImporter, () => staged(fixture("whatsapp/ios-with-media.zip"), whatsappImporter), {}],
  ["telegram chat", telegramImporter, () => fixture("telegram/single-chat.json"), {}],
  ["telegram account", telegramImporter, () => fixture("telegram/account.json"), {}],
  ["discord channel", discordImporter, () => fixture("discord/general.json"), {}],
  ["discord dm", discordImporter, () => fixture("discord/dm.json"), {}],
  ["chatgpt", chatgptImporter, () => fixture("chatgpt/conversations.json"), {}],
  ["slack", slackImporter, slackZip, {}],
  ["jsonl", jsonlImporter, () => fixture("jsonl/multi-conversation.jsonl"), {}],
  ["csv", csvImporter, () => fixture("csv/comma-crlf.csv"), {}],
  ["csv, semicolons", csvImporter, () => fixture("csv/semicolon-zones.csv"), { timezone: "Europe/Berlin" }],
  ["vtt", vttImporter, () => fixture("vtt/meeting-voices.vtt"), { startedAt }],
  ["srt", srtImporter, () => fixture("srt/interview.srt"), { startedAt }],
  ["srt, unnumbered", srtImporter, () => fixture("srt/unnumbered.srt"), { startedAt }],
];

describe("a parse that pauses goes on exactly where it stopped", () => {
  it.each(CASES)("%s", async (_, importer, input, options) => {
    const given = await input();
    const { bytes, file } = given instanceof Uint8Array ? { bytes: given, file: undefined } : given;
    const opts = { ...options, file };
    const whole = await straight(importer, bytes, opts);
    const steps = await inSteps(importer, bytes, opts);
    expect(whole.batches.length).toBeGreaterThan(0);
    expect(steps.steps).toBeGreaterThan(1);
    expect(byConversation(steps.batches)).toEqual(byConversation(whole.batches));
    expect(steps.skipped).toEqual(whole.skipped);
  });

  it("reads a file with a byte order mark and multi-byte text the same in steps", async () => {
    const lines = ["\ufeff15/01/2024, 10:00 - Ana: olá 👋", "15/01/2024, 10:01 - Bö: ça va?", "second line", "16/01/2024, 09:00 - Ana: ✓"];
    const bytes = new TextEncoder().encode(`${lines.join("\n")}\n`);
    const whole = await straight(whatsappImporter, bytes, {});
    const steps = await inSteps(whatsappImporter, bytes, {});
    expect(steps.steps).toBe(3);
    expect(byConversation(steps.batches)).toEqual(byConversation(whole.batches));
    const json = new TextEncoder().encode(`\ufeff${new TextDecoder().decode(fixture("discord/general.json"))}`);
    expect(byConversation((await inSteps(discordImporter, json, {})).batches)).toEqual(
      byConversation((await straight(discordImporter, json, {})).batches),
    );
  });
});
