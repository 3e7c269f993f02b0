import { strToU8, Zip, ZipDeflate, ZipPassThrough, zipSync } from "fflate";
import { describe, expect, it } from "vitest";
import { sha256Hex } from "../../src/hash";
import { looksLike, whatsappImporter } from "../../src/imports/whatsapp";
import { parseHeader } from "../../src/imports/whatsapp-lines";
import { fixture, importError, runImport, utf8, withoutIds } from "../helpers/import-run";

const text = (path: string) => new TextDecoder().decode(fixture(path));
const human = (author_name: string, text: string, timestamp: string) => ({ author_name, author_type: "human", text, timestamp });

describe("WhatsApp import: Android", () => {
  it("reads a 24-hour day/month/year export: multi-line messages, names from phone numbers, every skipped line named", async () => {
    const run = await runImport(whatsappImporter, fixture("whatsapp/android-24h-dmy.txt"));
    expect(run.batches.map((b) => [b.id, b.title])).toEqual([["whatsapp-hiking-club", "WhatsApp chat with Hiking club"]]);
    expect(withoutIds(run.messages)).toEqual([
      human("Ana Lima", "Morning! Are we still on for Saturday?", "2024-01-15T10:00:00.000Z"),
      human("Tomás Reyes", "Yes. I checked the forecast:\nsunny until 3pm,\n\nthen light rain.", "2024-01-15T10:01:00.000Z"),
      human("+44 7700 900123", "Count me in", "2024-01-15T10:02:00.000Z"),
      human("Tomás Reyes", "Meet at the north gate at 8", "2024-01-15T10:05:00.000Z"),
      human("Ana Lima", "ok", "2024-01-15T10:05:00.000Z"),
      human("Ana Lima", "ok", "2024-01-15T10:05:00.000Z"),
    ]);
    expect(run.skipped).toEqual([
      { where: "chat.txt:1", reason: "system message" },
      { where: "chat.txt:2", reason: "system message" },
      { where: "chat.txt:3", reason: "system message" },
      { where: "chat.txt:10", reason: "attachment" },
      { where: "chat.txt:11", reason: "deleted message" },
      { where: "chat.txt:12", reason: "system message" },
      { where: "chat.txt:16", reason: "system message" },
    ]);
  });

  it("reads a 12-hour month/day/year export with 2-digit years and U+202F before PM; a caption outlives its attachment", async () => {
    const run = await runImport(whatsappImporter, fixture("whatsapp/android-12h-mdy.txt"));
    expect(run.batches.map((b) => b.title)).toEqual(["WhatsApp chat: Priya N, Sam Ortiz"]);
    expect(withoutIds(run.messages)).toEqual([
      human("Sam Ortiz", "Did you send the invoice?", "2024-01-15T21:05:00.000Z"),
      human("Priya N", "Not yet, tonight", "2024-01-15T21:07:00.000Z"),
      human("Priya N", "Sent!", "2024-01-15T23:59:00.000Z"),
      human("Sam Ortiz", "Thanks 🙏", "2024-01-16T00:00:00.000Z"),
      human("Sam Ortiz", "Receipt for the taxi", "2024-01-16T12:30:00.000Z"),
    ]);
    expect(run.skipped).toEqual([
      { where: "chat.txt:1", reason: "system message" },
      { where: "chat.txt:6", reason: "attachment" },
      { where: "chat.txt:8", reason: "attachment" },
    ]);
  });
});

describe("WhatsApp import: iOS", () => {
  it("reads a 24-hour export: U+200E marks dropped, the chat named by its encryption notice, attachments and deletions skipped", async () => {
    const run = await runImport(whatsappImporter, fixture("whatsapp/ios-24h-dmy.txt"));
    expect(run.batches.map((b) => [b.id, b.title])).toEqual([["whatsapp-book-club", "WhatsApp chat with Book club"]]);
    expect(withoutIds(run.messages)).toEqual([
      human("Noor", "Chapter 3 for next week?", "2024-01-15T10:01:12.000Z"),
      human("Jonas Berg", "Sure.\nAlso: bring snacks 🍪", "2024-01-15T10:02:40.000Z"),
      human("Mei", "Thanks for adding me!", "2024-01-20T21:15:00.000Z"),
    ]);
    expect(run.skipped).toEqual([
      { where: "chat.txt:1", reason: "system message" },
      { where: "chat.txt:2", reason: "system message" },
      { where: "chat.txt:6", reason: "attachment" },
      { where: "chat.txt:7", reason: "attachment" },
      { where: "chat.txt:8", reason: "deleted message" },
      { where: "chat.txt:9", reason: "system message" },
    ]);
  });

  it("reads a 12-hour export: 12 AM is midnight, 12 PM is noon", async () => {
    const run = await runImport(whatsappImporter, fixture("whatsapp/ios-12h-mdy.txt"));
    expect(run.batches.map((b) => [b.id, b.title])).toEqual([["whatsapp-leo", "WhatsApp chat with Leo"]]);
    expect(withoutIds(run.messages)).toEqual([
      human("Leo", "Landed 🛬", "2024-01-15T21:05:12.000Z"),
      human("Kim", "Welcome back! Dinner at 8?", "2024-01-15T21:06:01.000Z"),
      human("Leo", "Midnight snack?", "2024-01-16T00:00:00.000Z"),
      human("Kim", "Noon. Lunch instead.", "2024-01-16T12:00:00.000Z"),
    ]);
    expect(run.skipped.map((s) => s.reason)).toEqual(["system message", "attachment", "attachment"]);
  });
});

describe("WhatsApp import: ids", () => {
  it("gives the same ids on every import, whatever the chunking, line endings or BOM", async () => {
    const bytes = fixture("whatsapp/android-24h-dmy.txt");
    const first = await runImport(whatsappImporter, bytes);
    const crlf = utf8(`\ufeff${text("whatsapp/android-24h-dmy.txt").replaceAll("\n", "\r\n")}`);
    for (const [input, chunk] of [
      [bytes, undefined],
      [bytes, 1],
      [bytes, 7],
      [crlf, 1],
      [crlf, 7],
    ] as const) {
      expect(await runImport(whatsappImporter, input, {}, chunk)).toEqual(first);
    }
    expect(new Set(first.messages.map((m) => m.id)).size).toBe(first.messages.length);
    expect(first.messages[0]!.id).toBe(
      sha256Hex("whatsapp-hiking-club", "2024-01-15T10:00:00.000Z", "Ana Lima", "Morning! Are we still on for Saturday?").slice(0, 32),
    );
  });

  it("gives a longer export of the same chat the same ids for the messages both hold", async () => {
    const base = text("whatsapp/android-12h-mdy.txt");
    const longer =
      "1/14/24, 8:00\u202fAM - Priya N: Quick question before Monday\n" +
      base +
      "1/17/24, 7:00\u202fAM - Sam Ortiz: Invoice paid, thanks\n";
    const shortRun = await runImport(whatsappImporter, utf8(base));
    const longRun = await runImport(whatsappImporter, utf8(longer));
    expect(longRun.batches[0]!.id).toBe(shortRun.batches[0]!.id);
    expect(longRun.messages).toHaveLength(shortRun.messages.length + 2);
    expect(longRun.messages).toEqual(expect.arrayContaining(shortRun.messages));
  });

  it("writes batches of at most 500 messages, all with the conversation's id and title", async () => {
    const lines = Array.from(
      { length: 1234 },
      (_, i) =>
        `20/02/2024, ${String(Math.floor(i / 60) % 24).padStart(2, "0")}:${String(i % 60).padStart(2, "0")} - ${i % 2 ? "Ana" : "Ben"}: note ${i}`,
    );
    const run = await runImport(whatsappImporter, utf8(lines.join("\n")), { conversationId: "notes", title: "Notes" });
    expect(run.batches.map((b) => [b.id, b.title, b.messages.length])).toEqual([
      ["notes", "Notes", 500],
      ["notes", "Notes", 500],
      ["notes", "Notes", 234],
    ]);
    expect(new Set(run.messages.map((m) => m.id)).size).toBe(1234);
  });
});

describe("WhatsApp import: day/month order and time zones", () => {
  it("refuses to guess when no date tells the order, and follows date_order when given", async () => {
    const bytes = fixture("whatsapp/ambiguous-order.txt");
    const error = await importError(whatsappImporter, bytes);
    expect(error.where).toBe("options");
    expect(error.detail).toMatch(/pass date_order dmy .* or mdy/);
    expect((await runImport(whatsappImporter, bytes, { dateOrder: "dmy" })).messages[0]!.timestamp).toBe("2024-02-01T10:00:00.000Z");
    expect((await runImport(whatsappImporter, bytes, { dateOrder: "mdy" })).messages[0]!.timestamp).toBe("2024-01-02T10:00:00.000Z");
  });

  it("gives up holding messages for the order after 50,000 and asks for date_order", async () => {
    const error = await importError(whatsappImporter, utf8("01/02/2024, 10:00 - Ana: same day\n".repeat(50_001)));
    expect(error.where).toBe("options");
    expect(error.detail).toMatch(/no day over 12 in 50001 messages/);
  });

  it("holds messages until a later date tells the order, then dates them all by it", async () => {
    const chat = "05/03/2024, 10:00 - Ana: first\n06/03/2024, 10:00 - Ben: second\n13/03/2024, 10:00 - Ana: third\n";
    const run = await runImport(whatsappImporter, utf8(chat));
    expect(run.messages.map((m) => m.timestamp)).toEqual([
      "2024-03-05T10:00:00.000Z",
      "2024-03-06T10:00:00.000Z",
      "2024-03-13T10:00:00.000Z",
    ]);
  });

  it("fails at the line whose date contradicts the order", async () => {
    const given = await importError(whatsappImporter, fixture("whatsapp/android-24h-dmy.txt"), { dateOrder: "mdy" });
    expect([given.where, given.detail]).toEqual([
      "chat.txt:1",
      "'15/01/2024' is no valid date and time in month/day/year order (date_order mdy)",
    ]);
    const mixed = await importError(whatsappImporter, utf8("15/01/2024, 10:00 - Ana: a\n01/15/2024, 10:00 - Ana: b\n"));
    expect(mixed.where).toBe("chat.txt:2");
    const neither = await importError(whatsappImporter, utf8("31/13/2024, 10:00 - Ana: a\n"));
    expect([neither.where, neither.detail]).toEqual(["chat.txt:1", "'31/13/2024' is no date: both its first numbers are over 12"]);
  });

  it("converts wall-clock times in the given zone to UTC across both DST changes", async () => {
    const run = await runImport(whatsappImporter, fixture("whatsapp/berlin-dst.txt"), { timezone: "Europe/Berlin" });
    expect(run.messages.map((m) => m.timestamp)).toEqual([
      "2024-03-31T00:59:00.000Z",
      "2024-03-31T01:00:00.000Z",
      "2024-07-15T10:00:00.000Z",
      "2024-10-27T00:30:00.000Z",
      "2024-10-27T02:00:00.000Z",
    ]);
    const newYork = await runImport(whatsappImporter, fixture("whatsapp/android-12h-mdy.txt"), { timezone: "America/New_York" });
    expect(newYork.messages[0]!.timestamp).toBe("2024-01-16T02:05:00.000Z");
  });

  it("rejects an unknown time zone and an unusable conversation_id as bad options", async () => {
    const zone = await importError(whatsappImporter, fixture("whatsapp/berlin-dst.txt"), { timezone: "Mars/Olympus_Mons" });
    expect(zone.where).toBe("options");
    const id = await importError(whatsappImporter, fixture("whatsapp/berlin-dst.txt"), { conversationId: "a/b" });
    expect([id.where, id.detail]).toEqual(["options", "conversation_id must not contain '/' or '\\'"]);
  });
});

describe("WhatsApp import: zip archives", () => {
  it("reads _chat.txt from a zip made by Info-ZIP and names every other entry as skipped, unread", async () => {
    const zipped = await runImport(whatsappImporter, fixture("whatsapp/ios-with-media.zip"), {}, 7);
    const plain = await runImport(whatsappImporter, fixture("whatsapp/ios-24h-dmy.txt"));
    expect(zipped.batches).toEqual(plain.batches);
    expect(zipped.skipped).toEqual([
      ...plain.skipped.map((s) => ({ ...s, where: s.where.replace("chat.txt", "_chat.txt") })),
      { where: "00000012-PHOTO-2024-01-15-10-03-00.jpg", reason: "attachment file" },
      { where: "00000013-AUDIO-2024-01-15-10-04-00.opus", reason: "attachment file" },
    ]);
    for (const chunk of [undefined, 1])
      expect(await runImport(whatsappImporter, fixture("whatsapp/ios-with-media.zip"), {}, chunk)).toEqual(zipped);
  });

  it("reads a streamed zip (data descriptors) holding 'WhatsApp Chat with X.txt' after the media, fed byte by byte", async () => {
    const parts: Uint8Array[] = [];
    const zip = new Zip((err, data) => {
      if (err) throw err;
      parts.push(data);
    });
    const media = new ZipPassThrough("IMG-20240116-WA0003.jpg");
    zip.add(media);
    media.push(new Uint8Array(5000).fill(7), true);
    const chat = new ZipDeflate("WhatsApp Chat with Sam Ortiz.txt", { level: 6 });
    zip.add(chat);
    chat.push(fixture("whatsapp/android-12h-mdy.txt"), true);
    zip.end();
    const bytes = new Uint8Array(Buffer.concat(parts));
    const run = await runImport(whatsappImporter, bytes, {}, 1);
    expect(run.batches.map((b) => [b.id, b.title])).toEqual([["whatsapp-sam-ortiz", "WhatsApp chat with Sam Ortiz"]]);
    expect(run.messages).toHaveLength(5);
    expect(run.skipped[0]).toEqual({ where: "WhatsApp Chat with Sam Ortiz.txt:1", reason: "system message" });
    expect(run.skipped.at(-1)).toEqual({ where: "IMG-20240116-WA0003.jpg", reason: "attachment file" });
  });

  it("fails on a zip without a chat, and on one cut short", async () => {
    const noChat = await importError(whatsappImporter, zipSync({ "photo.jpg": new Uint8Array(10) }));
    expect([noChat.where, noChat.detail]).toEqual(["archive", "no _chat.txt (or 'WhatsApp Chat with ….txt') in the zip archive"]);
    const whole = zipSync({ "_chat.txt": strToU8(text("whatsapp/ios-24h-dmy.txt")) });
    const cut = await importError(whatsappImporter, whole.subarray(0, 200));
    expect(cut.where).toBe("_chat.txt");
  });
});

describe("WhatsApp import: hostile zip archives", () => {
  it("refuses a chat entry whose path climbs out of the archive", async () => {
    for (const name of ["../../_chat.txt", "/_chat.txt", "WhatsApp Chat - Ana/../../WhatsApp Chat with Ana.txt"]) {
      const error = await importError(whatsappImporter, zipSync({ [name]: strToU8(text("whatsapp/ios-24h-dmy.txt")) }));
      expect(error.detail).toBe("an entry path that leaves the archive (absolute or with '..'): refusing the archive");
    }
  });

  it("stops a chat that inflates past the ratio, the entry and the total caps, whichever comes first", async () => {
    const line = "15/01/2024, 10:00 - Ana: the same line again and again\n";
    const chat = strToU8(line.repeat(60_000));
    const bomb = zipSync({ "_chat.txt": chat }, { level: 9 });
    expect(chat.length / bomb.length).toBeGreaterThan(200);
    const ratio = await importError(whatsappImporter, bomb);
    expect([ratio.where, ratio.detail]).toEqual([
      "_chat.txt",
      "the entry inflates to more than 200× its compressed size: refusing a likely zip bomb",
    ]);
    const generous = { maxRatio: 10_000, maxEntryBytes: 2 ** 30, maxTotalBytes: 2 ** 30 };
    const entry = await importError(whatsappImporter, bomb, { zipLimits: { ...generous, maxEntryBytes: 1_000_000 } });
    expect(entry.detail).toBe("the entry inflates to more than 1000000 bytes");
    const total = await importError(whatsappImporter, bomb, { zipLimits: { ...generous, maxTotalBytes: 500_000 } });
    expect(total.detail).toBe("the archive inflates to more than 500000 bytes");
  });
});

describe("WhatsApp import: bad files", () => {
  it("names the line and byte of bytes that are not UTF-8", async () => {
    const line1 = utf8("15/01/2024, 10:00 - Ana: fine\n");
    const bytes = Uint8Array.of(...line1, ...utf8("15/01/2024, 10:01 - Ana: bad "), 0xff, ...utf8(" here\n"));
    const error = await importError(whatsappImporter, bytes, {}, 1);
    expect([error.where, error.detail]).toEqual([
      "chat.txt:2",
      `not UTF-8: byte 0xFF at byte ${line1.length + 29} (save or export the file as UTF-8)`,
    ]);
  });

  it.each([
    ["", "chat.txt", "the file is empty"],
    ["\ufeff\n \n", "chat.txt", "the file is empty"],
  ])("calls %j empty", async (input, where, detail) => {
    const error = await importError(whatsappImporter, utf8(input));
    expect([error.where, error.detail]).toEqual([where, detail]);
  });

  it("says a file is not a chat export, and that UTF-16 is not UTF-8", async () => {
    expect((await importError(whatsappImporter, utf8("Subject: hello\n"))).detail).toMatch(/^not a WhatsApp chat export/);
    const utf16 = new Uint8Array([
      0xff,
      0xfe,
      ...new Uint8Array(new Uint16Array([..."1/2/24, 9:00 - A: b"].map((c) => c.charCodeAt(0))).buffer),
    ]);
    expect((await importError(whatsappImporter, utf16)).detail).toBe("the file is UTF-16, not UTF-8: save or export it as UTF-8");
  });
});

describe("WhatsApp line headers", () => {
  it.each([
    ["1/15/24, 9:05 pm - Ana: x", ["1", "15", "24"], 9, "pm"],
    ["15/01/2024, 9:05 p. m. - Ana: x", ["15", "01", "2024"], 9, "pm"],
    ["15/01/2024, 9:05\u202fa.m. - Ana: x", ["15", "01", "2024"], 9, "am"],
    ["15.01.24, 21:05 - Ana: x", ["15", "01", "24"], 21, undefined],
    ["2024-01-15, 21:05 - Ana: x", ["2024", "01", "15"], 21, undefined],
    ["\u200e[15/01/2024 21:05:09] Ana: x", ["15", "01", "2024"], 21, undefined],
  ])("reads %j", (line, fields, hour, meridiem) => {
    expect(parseHeader(line)).toMatchObject({ fields, hour, meridiem, rest: "Ana: x" });
  });

  it.each(["Ana: x", "15/01/2024 - Ana: x", "[15/01/2024, 21:05]Ana: x", "see you 15/01/2024, 21:05 - ok"])("does not read %j", (line) => {
    expect(parseHeader(line)).toBeUndefined();
  });
});

describe("WhatsApp looksLike", () => {
  it.each([
    ["whatsapp/android-24h-dmy.txt", true],
    ["whatsapp/android-12h-mdy.txt", true],
    ["whatsapp/ios-24h-dmy.txt", true],
    ["whatsapp/ios-with-media.zip", false],
  ])("%s → %s", (path, expected) => {
    expect(looksLike(fixture(path).subarray(0, 64))).toBe(expected);
  });

  it("is false for other text", () => {
    expect(looksLike(utf8("WEBVTT\n\n00:01.000 --> 00:02.000\nhi\n"))).toBe(false);
    expect(looksLike(utf8('{"text":"hi"}\n'))).toBe(false);
  });
});
