import { describe, expect, it } from "vitest";
import { looksLike as looksLikeSrt, srtImporter } from "../../src/imports/srt";
import { cueSegments } from "../../src/imports/transcript-cues";
import { looksLike as looksLikeVtt, vttImporter } from "../../src/imports/vtt";
import { fixture, importError, runImport, utf8, withoutIds } from "../helpers/import-run";

const startedAt = new Date("2024-01-15T10:00:00Z");
const text = (path: string) => new TextDecoder().decode(fixture(path));
const human = (author_name: string, text: string, timestamp: string) => ({ author_name, author_type: "human", text, timestamp });

describe("WebVTT import", () => {
  it("reads voices, strips markup, decodes references and names every skipped block", async () => {
    const run = await runImport(vttImporter, fixture("vtt/meeting-voices.vtt"), { startedAt });
    expect(run.batches.map((b) => b.title)).toEqual(["Weekly sync"]);
    expect(run.batches[0]!.id).toMatch(/^transcript-[0-9a-f]{16}$/);
    expect(withoutIds(run.messages)).toEqual([
      human("Ana Lima", "Good morning, everyone.", "2024-01-15T10:00:01.500Z"),
      human("Tomás Reyes", "Morning! Q&A is at 10 <sharp>.", "2024-01-15T10:00:04.250Z"),
      human("Ana Lima", "Great, let's start with the roadmap.", "2024-01-15T10:00:07.500Z"),
      human("Ana Lima", "Are we done?", "2024-01-15T10:00:09.000Z"),
      human("Tomás Reyes", "Almost.", "2024-01-15T10:00:09.000Z"),
      human("Noor", "One word at a time", "2024-01-15T10:00:13.000Z"),
      human("Ana Lima", "See you next week.", "2024-01-15T11:02:03.456Z"),
    ]);
    expect(run.skipped).toEqual([
      { where: "transcript.vtt:5", reason: "style block" },
      { where: "transcript.vtt:8", reason: "region block" },
      { where: "transcript.vtt:12", reason: "note" },
      { where: "transcript.vtt:30", reason: "sound description" },
      { where: "transcript.vtt:36", reason: "cue timing not understood" },
      { where: "transcript.vtt:39", reason: "not a cue: no timing line" },
    ]);
  });

  it("takes speakers from 'Name: text' prefixes (Zoom) and calls the rest 'Speaker'", async () => {
    const run = await runImport(vttImporter, fixture("vtt/speaker-prefix.vtt"), { startedAt, conversationId: "standup", title: "Standup" });
    expect(run.batches.map((b) => [b.id, b.title])).toEqual([["standup", "Standup"]]);
    expect(withoutIds(run.messages)).toEqual([
      human("Ana Lima", "Can everyone hear me?", "2024-01-15T10:00:00.000Z"),
      human("Tomás Reyes", "Yes, loud and clear.\nThe slides are up too.", "2024-01-15T10:00:03.400Z"),
      human("Speaker", "Thanks for joining.", "2024-01-15T10:00:08.500Z"),
    ]);
    expect(run.skipped).toEqual([{ where: "transcript.vtt:12", reason: "sound description" }]);
  });

  it("gives the same ids whatever the chunking or line endings, and whatever started_at", async () => {
    const first = await runImport(vttImporter, fixture("vtt/meeting-voices.vtt"), { startedAt });
    const crlf = utf8(`\ufeff${text("vtt/meeting-voices.vtt").replaceAll("\n", "\r\n")}`);
    for (const chunk of [1, 7]) {
      expect(await runImport(vttImporter, fixture("vtt/meeting-voices.vtt"), { startedAt }, chunk)).toEqual(first);
      expect(await runImport(vttImporter, crlf, { startedAt }, chunk)).toEqual(first);
    }
    const later = await runImport(vttImporter, fixture("vtt/meeting-voices.vtt"), { startedAt: new Date("2024-01-16T08:00:00Z") });
    expect(later.batches[0]!.id).toBe(first.batches[0]!.id);
    expect(later.messages.map((m) => m.id)).toEqual(first.messages.map((m) => m.id));
    expect(later.messages[0]!.timestamp).toBe("2024-01-16T08:00:01.500Z");
  });

  it("reads a cue written right under the header without a blank line", async () => {
    const run = await runImport(vttImporter, utf8("WEBVTT\n00:01.000 --> 00:02.000\n<v Ana>Hi"), { startedAt });
    expect(withoutIds(run.messages)).toEqual([human("Ana", "Hi", "2024-01-15T10:00:01.000Z")]);
  });

  it("requires started_at, the WEBVTT line and some content", async () => {
    const noStart = await importError(vttImporter, fixture("vtt/speaker-prefix.vtt"));
    expect([noStart.where, noStart.detail]).toEqual([
      "options",
      "started_at is required for transcripts: when the recording's 00:00:00 was, such as 2024-01-15T10:00:00Z",
    ]);
    const notVtt = await importError(vttImporter, utf8("\nWEBVTT\n"), { startedAt });
    expect([notVtt.where, notVtt.detail]).toEqual(["transcript.vtt:2", "not a WebVTT file: its first line must be WEBVTT"]);
    expect((await importError(vttImporter, utf8(""), { startedAt })).detail).toBe("the file is empty");
  });

  it("names the line and byte of bytes that are not UTF-8", async () => {
    const head = utf8("WEBVTT\n\n00:01.000 --> 00:02.000\n");
    const error = await importError(vttImporter, Uint8Array.of(...head, 0x41, 0xc3, 0x28, 0x0a), { startedAt }, 1);
    expect([error.where, error.detail]).toEqual([
      "transcript.vtt:4",
      `not UTF-8: byte 0xC3 at byte ${head.length + 1} (save or export the file as UTF-8)`,
    ]);
  });
});

describe("SRT import", () => {
  const options = { startedAt: new Date("2024-03-01T09:00:00Z") };

  it("reads numbered cues: speaker conventions, tags stripped, a blank line inside a cue kept in it", async () => {
    const run = await runImport(srtImporter, fixture("srt/interview.srt"), options);
    expect(run.batches.map((b) => b.title)).toEqual(["Transcript, 2024-03-01 09:00 UTC"]);
    expect(withoutIds(run.messages)).toEqual([
      human("HOST", "Welcome to the show.", "2024-03-01T09:00:04.500Z"),
      human("DR. MEI CHEN", "Thanks for having me.", "2024-03-01T09:00:07.500Z"),
      human("Speaker", "It's a pleasure.", "2024-03-01T09:00:10.500Z"),
      human("Host", "So, how did it start?", "2024-03-01T09:00:12.500Z"),
      human("Dr. Mei Chen", "It began with a question\nabout tides.", "2024-03-01T09:00:15.500Z"),
      human("Speaker", "Plain line, nobody named.", "2024-03-01T09:00:19.500Z"),
    ]);
    expect(run.skipped).toEqual([{ where: "transcript.srt:1", reason: "sound description" }]);
  });

  it("reads cues without numbers", async () => {
    const run = await runImport(srtImporter, fixture("srt/unnumbered.srt"), options);
    expect(withoutIds(run.messages)).toEqual([
      human("Ana", "First line without a cue number.", "2024-03-01T09:00:00.500Z"),
      human("Ana", "Second.", "2024-03-01T09:00:02.500Z"),
    ]);
  });

  it("gives the same ids whatever the chunking or line endings, and a conversation id from the content", async () => {
    const first = await runImport(srtImporter, fixture("srt/interview.srt"), options);
    const crlf = utf8(text("srt/interview.srt").replaceAll("\n", "\r\n"));
    for (const chunk of [1, 7]) expect(await runImport(srtImporter, crlf, options, chunk)).toEqual(first);
    const other = await runImport(srtImporter, fixture("srt/unnumbered.srt"), options);
    expect(other.batches[0]!.id).not.toBe(first.batches[0]!.id);
  });

  it("fails on a file that is not SRT, an empty one, and one without started_at", async () => {
    const notSrt = await importError(srtImporter, utf8("hello\nworld\n"), options);
    expect(notSrt.where).toBe("transcript.srt:1");
    expect(notSrt.detail).toMatch(/^not an SRT file/);
    expect((await importError(srtImporter, utf8("\n\n"), options)).detail).toBe("the file is empty");
    expect((await importError(srtImporter, fixture("srt/interview.srt"))).where).toBe("options");
  });
});

describe("cue text", () => {
  it.each([
    [
      ["<v Ana>Hi</v> <v Ben>Yo"],
      [
        { speaker: "Ana", text: "Hi" },
        { speaker: "Ben", text: "Yo" },
      ],
    ],
    [["Note: the 10:30 train"], [{ speaker: "Note", text: "the 10:30 train" }]],
    [["See https://example.com: now"], [{ speaker: undefined, text: "See https://example.com: now" }]],
    [["10:30: we start"], [{ speaker: undefined, text: "10:30: we start" }]],
    [["A very long sentence that goes on: and on"], [{ speaker: undefined, text: "A very long sentence that goes on: and on" }]],
    [["&#x1F600; &#65; &bogus; &#0;"], [{ speaker: undefined, text: "😀 A &bogus; &#0;" }]],
  ])("%j → %j", (lines, segments) => {
    expect(cueSegments(lines, "vtt")).toEqual(segments);
  });
});

describe("transcript looksLike", () => {
  it("tells WebVTT and SRT apart", () => {
    expect(looksLikeVtt(fixture("vtt/meeting-voices.vtt"))).toBe(true);
    expect(looksLikeVtt(utf8("\ufeffWEBVTT\n"))).toBe(true);
    expect(looksLikeVtt(utf8("WEBVTTX\n"))).toBe(false);
    expect(looksLikeVtt(fixture("srt/interview.srt"))).toBe(false);
    expect(looksLikeSrt(fixture("srt/interview.srt"))).toBe(true);
    expect(looksLikeSrt(fixture("srt/unnumbered.srt"))).toBe(true);
    expect(looksLikeSrt(fixture("vtt/meeting-voices.vtt"))).toBe(false);
  });
});
