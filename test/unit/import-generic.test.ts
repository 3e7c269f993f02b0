import { describe, expect, it } from "vitest";
import { csvImporter, looksLike as looksLikeCsv } from "../../src/imports/csv";
import { CsvRecords } from "../../src/imports/csv-records";
import { rowTimestamp } from "../../src/imports/generic-rows";
import { jsonlImporter, looksLike as looksLikeJsonl } from "../../src/imports/jsonl";
import { zonedToUtc } from "../../src/imports/zone";
import { fixture, importError, runImport, utf8 } from "../helpers/import-run";

const message = (id: string, author_name: string, author_type: string, text: string, timestamp: string) => ({
  id,
  author_name,
  author_type,
  text,
  timestamp,
});

describe("JSONL import", () => {
  it("reads the usual field names, roles, ISO and epoch times; skips rows that cannot be messages, naming the field", async () => {
    const run = await runImport(jsonlImporter, fixture("jsonl/support-chat.jsonl"));
    expect(run.batches.map((b) => b.title)).toEqual([null]);
    expect(run.batches[0]!.id).toMatch(/^jsonl-[0-9a-f]{16}$/);
    const last = run.messages.at(-1)!;
    expect(run.messages).toEqual([
      message("m1", "Ana Lima", "human", "Hi, my export keeps timing out.", "2024-01-15T10:00:00.000Z"),
      message("m2", "Support Bot", "bot", "Sorry to hear that! Which plan are you on?", "2024-01-15T09:00:05.000Z"),
      message("3", "Ana Lima", "human", "Team plan, about 2 GB of data.", "2024-01-15T10:05:00.000Z"),
      message("m4", "Kai (support)", "ai", "Thanks. Try the CSV export instead:\nit streams.", "2024-01-15T10:10:00.123Z"),
      message("m5", "Helpdesk", "system", "Ticket 4711 closed.", "2024-01-15T10:15:00.000Z"),
      message(last.id, "Ana Lima", "human", "Thanks, that worked.", "2024-01-15T10:30:00.000Z"),
    ]);
    expect(last.id).toMatch(/^[0-9a-f]{32}$/);
    expect(run.skipped).toEqual([
      { where: "messages.jsonl:8", reason: "no text (looked for text, message, content, body)" },
      { where: "messages.jsonl:9", reason: "no timestamp (looked for timestamp, time, date, ts, created_at)" },
      { where: "messages.jsonl:10", reason: "timestamp '15/01/2024 10:17' is neither ISO 8601 nor epoch seconds or milliseconds" },
      { where: "messages.jsonl:11", reason: "author field 'author' is not text" },
      { where: "messages.jsonl:12", reason: "text holds a NUL character or a lone surrogate, which cannot be stored" },
      { where: "messages.jsonl:13", reason: "id must not contain control or invisible formatting characters" },
      { where: "messages.jsonl:14", reason: "author type 'Chat Bot!' is not a lower-case word such as human, ai or system" },
    ]);
  });

  it("reads times without an offset as wall-clock times in the given zone", async () => {
    const run = await runImport(jsonlImporter, fixture("jsonl/support-chat.jsonl"), { timezone: "America/New_York" });
    expect(run.messages.map((m) => m.timestamp)).toEqual([
      "2024-01-15T10:00:00.000Z",
      "2024-01-15T09:00:05.000Z",
      "2024-01-15T10:05:00.000Z",
      "2024-01-15T10:10:00.123Z",
      "2024-01-15T15:15:00.000Z",
      "2024-01-15T15:30:00.000Z",
    ]);
  });

  it("splits rows into conversations by their conversation field, prefixed by conversation_id", async () => {
    const run = await runImport(jsonlImporter, fixture("jsonl/multi-conversation.jsonl"), { conversationId: "team", title: "Team" });
    expect(run.batches.map((b) => [b.id, b.title, b.messages.map((m) => m.text)])).toEqual([
      ["team-general", "general", ["Lunch at 12?", "Yes!", "Yes!"]],
      ["team-random", "random", ["Look at this cat"]],
      ["team", "Team", ["No conversation on this row"]],
    ]);
    const [, yes1, yes2] = run.batches[0]!.messages;
    expect(yes1!.id).not.toBe(yes2!.id);
    expect(run.skipped).toEqual([{ where: "messages.jsonl:6", reason: "conversation id 'team-a/b' must not contain '/' or '\\'" }]);
  });

  it("follows options.columns, dotted paths included", async () => {
    const columns = { author: "sender.name", text: "msg", timestamp: "sent", id: "uid", authorType: "kind" };
    const run = await runImport(jsonlImporter, fixture("jsonl/custom-fields.jsonl"), { columns, timezone: "Europe/Berlin" });
    expect(run.messages).toEqual([
      message("a-1", "Mei", "human", "Deploy done ✅", "2024-03-31T00:30:00.000Z"),
      message("a-2", "CI", "bot", "Build #812 green", "2024-03-31T01:30:00.000Z"),
    ]);
  });

  it("gives the same ids on every import and to the rows a longer file shares", async () => {
    const bytes = fixture("jsonl/multi-conversation.jsonl");
    const first = await runImport(jsonlImporter, bytes);
    for (const chunk of [1, 7]) expect(await runImport(jsonlImporter, bytes, {}, chunk)).toEqual(first);
    const longer = utf8(
      `${new TextDecoder().decode(bytes)}{"conversation_id": "general", "author": "Noor", "text": "Later", "timestamp": "2024-02-02T09:00:00Z"}\n`,
    );
    const longRun = await runImport(jsonlImporter, longer);
    expect(longRun.messages).toEqual(expect.arrayContaining(first.messages));
    expect(longRun.messages).toHaveLength(first.messages.length + 1);
  });

  it("fails at a line that is not a JSON object, and on an empty file", async () => {
    const notJson = await importError(jsonlImporter, utf8('{"author": "Ana", "text": "ok", "ts": 1}\n{"author": "Ana", "text": \n'));
    expect(notJson.where).toBe("messages.jsonl:2");
    expect(notJson.detail).toMatch(/^not JSON: /);
    const array = await importError(jsonlImporter, utf8('["Ana", "hi"]\n'));
    expect([array.where, array.detail]).toEqual(["messages.jsonl:1", "expected a JSON object"]);
    expect((await importError(jsonlImporter, utf8("\n\n"))).detail).toBe("the file is empty");
  });

  it("refuses a line over 8 MiB instead of holding it", async () => {
    const error = await importError(
      jsonlImporter,
      utf8(`{"author": "Ana", "ts": 1}\n{"text": "${"x".repeat(9 * 1024 * 1024)}`),
      {},
      1024 * 1024,
    );
    expect([error.where, error.detail]).toEqual(["messages.jsonl:2", "line longer than 8 MiB: not a text file of this format"]);
  });

  it("names the line and byte of bytes that are not UTF-8", async () => {
    const head = utf8('{"author": "Ana", "text": "ok", "ts": 1}\n{"author": "');
    const error = await importError(jsonlImporter, Uint8Array.of(...head, 0xe2, 0x82, 0x41, ...utf8('"}\n')), {}, 7);
    expect([error.where, error.detail]).toEqual([
      "messages.jsonl:2",
      `not UTF-8: byte 0xE2 at byte ${head.length} (save or export the file as UTF-8)`,
    ]);
  });
});

describe("CSV import", () => {
  it("reads RFC 4180 quoting: commas, doubled quotes and line breaks inside quotes, CRLF and a BOM", async () => {
    const run = await runImport(csvImporter, fixture("csv/comma-crlf.csv"));
    expect(run.batches[0]!.id).toMatch(/^csv-[0-9a-f]{16}$/);
    expect(run.messages).toEqual([
      message("1", "Ana Lima", "human", "Hello, team", "2024-01-15T10:00:00.000Z"),
      message("2", "Bot", "ai", 'She said "ship it" — so we did.', "2024-01-15T10:01:00.000Z"),
      message("3", "Reyes, Tomás", "human", "Line one\nline two, with a comma\n\nline four", "2024-01-15T10:02:00.000Z"),
      message("6", "Ana Lima", "human", "Epoch seconds 👍", "2024-01-15T10:05:00.000Z"),
    ]);
    expect(run.skipped).toEqual([
      { where: "messages.csv:9", reason: "no text (looked for text, message, content, body)" },
      { where: "messages.csv:10", reason: "the row has 7 fields, the header 5: a delimiter in an unquoted field?" },
    ]);
  });

  it("gives the same result fed byte by byte or 7 bytes at a time (inside characters, CRLFs and quoted line breaks)", async () => {
    const bytes = fixture("csv/comma-crlf.csv");
    const first = await runImport(csvImporter, bytes);
    for (const chunk of [1, 7]) expect(await runImport(csvImporter, bytes, {}, chunk)).toEqual(first);
  });

  it("detects semicolons, splits by the conversation column and converts wall-clock times across DST", async () => {
    const run = await runImport(csvImporter, fixture("csv/semicolon-zones.csv"), { timezone: "Europe/Berlin" });
    expect(run.batches.map((b) => [b.id, b.messages.map((m) => [m.author_name, m.text, m.timestamp])])).toEqual([
      [
        "ops",
        [
          ["Ola", "Before the change", "2024-03-31T00:59:00.000Z"],
          ["Ola", "After the change", "2024-03-31T01:00:00.000Z"],
        ],
      ],
      [
        "dev",
        [
          ["Pia", "Semicolon; inside quotes", "2024-10-27T00:30:00.000Z"],
          ["Pia", "With its own offset", "2024-10-27T02:00:00.000Z"],
        ],
      ],
    ]);
  });

  it("detects tabs and reads epoch milliseconds", async () => {
    const run = await runImport(csvImporter, fixture("csv/tab-separated.csv"));
    expect(run.messages.map((m) => [m.author_name, m.text, m.timestamp])).toEqual([
      ["Leo", "Tab separated, commas, and; semicolons", "2024-01-15T10:00:00.000Z"],
      ["Kim", "Quoted\ttab", "2024-01-15T10:01:00.000Z"],
    ]);
  });

  it("follows options.columns and Excel's sep= line", async () => {
    const columns = { timestamp: "When", author: "Who", text: "What", authorType: "Kind" };
    const run = await runImport(csvImporter, fixture("csv/custom-columns.csv"), { columns });
    expect(run.messages.map((m) => [m.author_name, m.text])).toEqual([
      ["Rui", "Standup in 5"],
      ["Zoe", "On my way"],
    ]);
    const hinted = await runImport(csvImporter, utf8("sep=;\nauthor;text;time\nAna;a, b;2024-01-01T00:00:00Z\n"));
    expect(hinted.messages.map((m) => m.text)).toEqual(["a, b"]);
    const missing = await importError(csvImporter, fixture("csv/custom-columns.csv"), { columns: { ...columns, text: "Body" } });
    expect([missing.where, missing.detail]).toEqual([
      "options",
      "columns.text is 'Body', which the header does not have (it has When, Who, What, Kind)",
    ]);
  });

  it("fails at the line where a quote is never closed, whatever the chunking", async () => {
    for (const chunk of [undefined, 1, 7]) {
      const error = await importError(csvImporter, fixture("csv/unterminated-quote.csv"), {}, chunk);
      expect([error.where, error.detail]).toEqual(["messages.csv:3", 'a quoted field is never closed: its closing quote (") is missing']);
    }
  });

  it("fails on a header without the needed columns, a one-column header, an empty file and bytes that are not UTF-8", async () => {
    const noAuthor = await importError(csvImporter, utf8("text,timestamp\nhi,2024-01-01\n"));
    expect([noAuthor.where, noAuthor.detail]).toEqual([
      "messages.csv:1",
      "no author column: name one with columns.author (looked for author, author_name, user, speaker, from, name)",
    ]);
    expect((await importError(csvImporter, utf8("text\nhi\n"))).detail).toMatch(/^the header has one column/);
    expect((await importError(csvImporter, utf8(""))).detail).toBe("the file is empty");
    const latin1 = Uint8Array.of(...utf8("author,text,ts\nJos"), 0xe9, ...utf8(",hi,1\n"));
    const error = await importError(csvImporter, latin1, {}, 1);
    expect([error.where, error.detail]).toEqual(["messages.csv:2", "not UTF-8: byte 0xE9 at byte 18 (save or export the file as UTF-8)"]);
  });
});

describe("CSV records", () => {
  it("joins lines inside quotes and keeps text after a closing quote", () => {
    const records = new CsvRecords(",", "x.csv");
    expect(records.line('a,"b', 1)).toBeUndefined();
    expect(records.line("", 2)).toBeUndefined();
    expect(records.line('c""d"e,f', 3)).toEqual({ fields: ["a", 'b\n\nc"de', "f"], line: 1 });
    expect(records.line('x"y,', 4)).toEqual({ fields: ['x"y', ""], line: 4 });
  });
});

describe("row timestamps", () => {
  const utc = zonedToUtc(undefined);
  it.each([
    [1705312800, "2024-01-15T10:00:00.000Z"],
    [1705312800.5, "2024-01-15T10:00:00.500Z"],
    [1705312800000, "2024-01-15T10:00:00.000Z"],
    ["1705312800", "2024-01-15T10:00:00.000Z"],
    ["2024-01-15", "2024-01-15T00:00:00.000Z"],
    ["2024-01-15T12:00:00+02:00", "2024-01-15T10:00:00.000Z"],
  ])("%j → %s", (value, iso) => {
    expect(rowTimestamp(value, utc)?.toISOString()).toBe(iso);
  });

  it.each([["yesterday"], ["2024-02-30"], [Number.NaN], [1e20], [true]])("rejects %j", (value) => {
    expect(rowTimestamp(value, utc)).toBeUndefined();
  });
});

describe("generic looksLike", () => {
  it("tells JSONL and CSV from each other and from JSON", () => {
    expect(looksLikeJsonl(fixture("jsonl/support-chat.jsonl"))).toBe(true);
    expect(looksLikeJsonl(utf8('{"author": "Ana", "text": "a very long line cut by the prefix'))).toBe(true);
    expect(looksLikeJsonl(utf8('{\n  "name": "export",\n  "messages": []\n}\n'))).toBe(false);
    expect(looksLikeJsonl(utf8("[{}]\n"))).toBe(false);
    expect(looksLikeJsonl(fixture("csv/comma-crlf.csv"))).toBe(false);
    expect(looksLikeCsv(fixture("csv/comma-crlf.csv"))).toBe(true);
    expect(looksLikeCsv(fixture("csv/semicolon-zones.csv"))).toBe(true);
    expect(looksLikeCsv(fixture("csv/tab-separated.csv"))).toBe(true);
    expect(looksLikeCsv(fixture("jsonl/support-chat.jsonl"))).toBe(false);
    expect(looksLikeCsv(utf8("a,b,c\n1,2,3\n"))).toBe(false);
  });
});
