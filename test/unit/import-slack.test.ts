import { describe, expect, it } from "vitest";
import { ImportError } from "../../src/imports/format";
import { createSlackImporter, isSlackZip, SLACK_LIMITS, slackImporter, slackTime } from "../../src/imports/slack";
import { slackText } from "../../src/imports/slack-text";
import { chunked, fixtureFiles, rejection, runImport, zipOf } from "../helpers/importer-harness";

const files = fixtureFiles("slack");
const PUBLIC = [
  "users.json",
  "channels.json",
  "integration_logs.json",
  "general/2024-01-15.json",
  "general/2024-01-16.json",
  "engineering/2024-01-15.json",
];
const PRIVATE = [
  "groups.json",
  "dms.json",
  "mpims.json",
  "secret-project/2024-01-15.json",
  "D01ANABEN/2024-01-15.json",
  "mpdm-ana--ben--cho-1/2024-01-15.json",
];
const pick = (names: string[]): [string, Uint8Array][] => names.map((n) => [n, files[n]!]);
const exportOf = (names: string[]) => chunked(zipOf(pick(names)));
/** 16 MiB of zeros deflate to 16 KB: past 1 MiB inflated, 1000× trips the ratio cap as 100 MiB would, in a tenth of the time. */
const ZEROS = new Uint8Array(16 * 2 ** 20);

const at = (iso: string) => `2024-01-${iso}Z`;
const GENERAL = [
  [
    "general:1705312800.000200",
    "Ana Lima",
    "human",
    "Morning @Ben! The plan is in the launch doc (https://docs.example.com/launch) & questions go to #engineering",
    at("15T10:00:00.000"),
  ],
  ["general:1705313100.000300", "Ben", "human", "Thanks @Ana Lima, reading it now", at("15T10:05:00.000")],
  ["general:1705313400.000400", "Deploy Bot", "bot", "Deployed *v2.3.0* to production", at("15T10:10:00.000")],
  [
    "general:1705313700.001000",
    "Cho Min-jun",
    "human",
    "Mockups for review\n[file: mockups-v2.fig]\n[file: notes.pdf]",
    at("15T10:15:00.001"),
  ],
  ["general:1705314600.000500", "Ana Lima", "human", "@here standup moved to 11:00 <- please note", at("15T10:30:00.000")],
  ["general:1705315200.001100", "Eve Adams", "human", "Hi all, I'm @U99GHOST's replacement; ping @benny for access", at("15T10:40:00.001")],
  ["general:1705315800.001300", "Cho Min-jun", "human", "Summary: launch is go for Thursday", at("15T10:50:00.001")],
  ["general:1705316100.001400", "deploybot", "bot", "Build #412 passed", at("15T10:55:00.001")],
  ["general:1705316400.001500", "Status Page", "bot", "Incident resolved\nAPI latency is back to normal", at("15T11:00:00.001")],
  ["general:1705399200.000100", "Ben", "human", "Contact ana@example.com or see https://status.example.com", at("16T10:00:00.000")],
  ["general:1705399500.000200", "Ana Lima", "human", "is out for lunch", at("16T10:05:00.000")],
].map(([id, author_name, author_type, text, timestamp]) => ({ id, author_name, author_type, text, timestamp }));

describe("Slack export", () => {
  it("reads each channel folder as a conversation: names resolved, markup cleaned, day files in time order", async () => {
    const run = await runImport(slackImporter, exportOf(PUBLIC));
    expect(run.conversations()).toEqual(["slack-general", "slack-engineering"]);
    expect(run.messages("slack-general")).toEqual(GENERAL);
    expect(run.messages("slack-engineering")).toEqual([
      {
        id: "engineering:1705315000.000100",
        author_name: "Ben",
        author_type: "human",
        text: "@channel deploy freeze starts at 17:00; @oncall is on point",
        timestamp: at("15T10:36:40.000"),
      },
      {
        id: "engineering:1705315060.000200",
        author_name: "Cho Min-jun",
        author_type: "human",
        text: "ack",
        timestamp: at("15T10:37:40.000"),
      },
    ]);
    const general = run.batches.find((b) => b.id === "slack-general")!;
    expect(general.title).toBe("#general");
    expect(general.metadata).toEqual({
      source: "slack",
      folder: "general",
      channel_id: "C01GENERAL",
      topic: "Company-wide announcements",
      purpose: "Everyone, everything",
    });
    expect(run.batches.find((b) => b.id === "slack-engineering")!.metadata).toEqual({
      source: "slack",
      folder: "engineering",
      channel_id: "C02ENG",
      purpose: "Builds, deploys, incidents",
    });
  });

  it("skips joins, topics, edits, deletions, tombstones and empty messages with the reason, pointing at the message", async () => {
    const run = await runImport(slackImporter, exportOf(PUBLIC));
    expect(run.skipped).toEqual([
      ["integration_logs.json", "not a Slack conversation file"],
      ["general/2024-01-15.json#/0", "channel_join"],
      ["general/2024-01-15.json#/6", "message_changed"],
      ["general/2024-01-15.json#/7", "empty"],
      ["general/2024-01-15.json#/8", "channel_topic"],
      ["general/2024-01-15.json#/10", "tombstone"],
      ["general/2024-01-16.json#/2", "message_deleted"],
      ["general/2024-01-16.json#/3", "channel_purpose"],
      ["engineering/2024-01-15.json#/2", "bot_add"],
    ]);
  });

  it("reads a private export's channels, DMs and group DMs, titled by their members", async () => {
    const run = await runImport(slackImporter, exportOf([...PUBLIC, ...PRIVATE]));
    const titles = Object.fromEntries(run.batches.map((b) => [b.id, b.title]));
    expect(titles).toEqual({
      "slack-general": "#general",
      "slack-engineering": "#engineering",
      "slack-secret-project": "#secret-project",
      "slack-D01ANABEN": "DM: Ana Lima, Ben",
      "slack-mpdm-ana--ben--cho-1": "Group DM: Ana Lima, Ben, Cho Min-jun",
    });
    expect(run.messages("slack-D01ANABEN").map((m) => `${m.author_name}: ${m.text}`)).toEqual(["Ana Lima: Lunch?", "Ben: Sure, 12:30"]);
    expect(run.batches.find((b) => b.id === "slack-secret-project")!.metadata).toEqual({
      source: "slack",
      folder: "secret-project",
      channel_id: "G01SECRET",
      purpose: "Codename Heron",
    });
  });

  it("names everyone the same when users.json and channels.json come after the day files", async () => {
    const reversed = [...PUBLIC].reverse();
    expect(reversed.at(-1)).toBe("users.json");
    const run = await runImport(slackImporter, exportOf(reversed));
    // In archive order (the later day first); ingest sorts a conversation by time.
    expect(run.messages("slack-general")).toEqual([...GENERAL.slice(-2), ...GENERAL.slice(0, -2)]);
    expect(run.skipped.filter(([where]) => !where.includes("#"))).toEqual([["integration_logs.json", "not a Slack conversation file"]]);
  });

  it("without users.json, names authors from each message's profile or user id, and says so", async () => {
    const run = await runImport(slackImporter, exportOf(PUBLIC.filter((n) => n !== "users.json")));
    expect(run.messages("slack-general").map((m) => m.author_name)).toEqual([
      "Ana Lima",
      "U02BEN",
      "Deploy Bot",
      "U03CHO",
      "U01ANA",
      "Eve Adams",
      "U03CHO",
      "deploybot",
      "Status Page",
      "U02BEN",
      "U01ANA",
    ]);
    expect(run.messages("slack-general")[0]!.text).toBe(
      "Morning @U02BEN! The plan is in the launch doc (https://docs.example.com/launch) & questions go to #engineering",
    );
    expect(run.skipped).toContainEqual([
      "users.json",
      "not found before 21 messages: they are named from their own profile fields, mentions by id",
    ]);
  });

  it("stops waiting for users.json after deferredMessages, naming the rest as they come", async () => {
    const importer = createSlackImporter({ ...SLACK_LIMITS, deferredMessages: 3 });
    const run = await runImport(
      importer,
      exportOf(["engineering/2024-01-15.json", "general/2024-01-15.json", "channels.json", "users.json"]),
    );
    expect(run.messages("slack-engineering").map((m) => m.author_name)).toEqual(["U02BEN", "U03CHO"]);
    expect(run.messages("slack-general")[0]!.author_name).toBe("Ana Lima");
    expect(run.messages("slack-general")[1]!.author_name).toBe("U02BEN");
    expect(run.skipped.slice(0, 2)).toEqual([
      ["users.json", "not found before 17 messages: they are named from their own profile fields, mentions by id"],
      ["channels.json", "not found before 17 messages: they are named from their own profile fields, mentions by id"],
    ]);
  });

  it("prefixes conversation ids with options.conversationId and refuses an unusable one", async () => {
    const run = await runImport(slackImporter, exportOf(PUBLIC), { conversationId: "acme" });
    expect(run.conversations()).toEqual(["acme-slack-general", "acme-slack-engineering"]);
    const error = await rejection(runImport(slackImporter, exportOf(PUBLIC), { conversationId: "a/b" }));
    expect(error).toBeInstanceOf(ImportError);
    expect(error.where).toBe("options");
  });

  it("gives the same ids on every import, and a longer export only adds messages", async () => {
    const first = await runImport(slackImporter, exportOf(PUBLIC));
    const again = await runImport(slackImporter, exportOf(PUBLIC));
    expect(again.batches).toEqual(first.batches);
    const nextDay = JSON.stringify([
      { type: "message", text: "Launch day!", user: "U01ANA", ts: "1705485600.000100" },
      { type: "message", text: "Thread reply", user: "U02BEN", ts: "1705485660.000200", thread_ts: "1705312800.000200" },
    ]);
    const longer = await runImport(slackImporter, chunked(zipOf([...pick(PUBLIC), ["general/2024-01-17.json", nextDay]])));
    const before = first.messages("slack-general");
    const after = longer.messages("slack-general");
    expect(after.slice(0, before.length)).toEqual(before);
    expect(after.slice(before.length).map((m) => m.id)).toEqual(["general:1705485600.000100", "general:1705485660.000200"]);
  });

  it("hands a 1,200-message channel to the sink in batches of at most 500", async () => {
    const days: [string, string][] = [];
    for (let d = 0; d < 12; d++) {
      const day = 1704067200 + d * 86_400;
      const messages = Array.from({ length: 100 }, (_, i) => ({
        type: "message",
        user: "U01ANA",
        text: `message ${d}-${i}`,
        ts: `${day + i * 60}.000100`,
      }));
      days.push([`random/${new Date(day * 1000).toISOString().slice(0, 10)}.json`, JSON.stringify(messages)]);
    }
    const run = await runImport(
      slackImporter,
      chunked(zipOf([["users.json", files["users.json"]!], ["channels.json", "[]"], ...days]), 4096),
    );
    expect(run.batches.map((b) => [b.id, b.messages.length])).toEqual([
      ["slack-random", 500],
      ["slack-random", 500],
      ["slack-random", 200],
    ]);
    expect(new Set(run.batches.flatMap((b) => b.messages.map((m) => m.id))).size).toBe(1200);
  });

  describe("refuses a file it cannot read, saying where", () => {
    it("an entry path that leaves the archive", async () => {
      const error = await rejection(runImport(slackImporter, chunked(zipOf([...pick(PUBLIC), ["../evil", "x"]]))));
      expect(error).toBeInstanceOf(ImportError);
      expect(error.where).toBe("../evil");
    });

    it("a zip bomb: an entry inflating far past its size, or an archive past the total cap", async () => {
      const bomb = zipOf([...pick(["users.json", "channels.json"]), ["general/2024-01-15.json", ZEROS]]);
      expect(bomb.length).toBeLessThan(20_000);
      const error = await rejection(runImport(slackImporter, chunked(bomb, 65536)));
      expect([error.where, error.detail]).toEqual([
        "general/2024-01-15.json",
        "the entry inflates to more than 200× its compressed size: refusing a likely zip bomb",
      ]);

      const small = createSlackImporter({ ...SLACK_LIMITS, zip: { ...SLACK_LIMITS.zip, maxTotalBytes: 4000 } });
      const total = await rejection(runImport(small, exportOf(PUBLIC)));
      expect(total.detail).toBe("the archive inflates to more than 4000 bytes");
    });

    it("passes over entries it does not need without inflating them", async () => {
      const run = await runImport(slackImporter, chunked(zipOf([...pick(PUBLIC), ["attachments/huge.bin", ZEROS]]), 4096));
      expect(run.skipped).toContainEqual(["attachments/huge.bin", "not a Slack conversation file"]);
      expect(run.messages("slack-general")).toEqual(GENERAL);
    });

    it("an encrypted entry", async () => {
      const zip = zipOf(pick(["users.json"]));
      zip[6]! |= 1;
      const error = await rejection(runImport(slackImporter, chunked(zip)));
      expect([error.where, error.detail]).toEqual(["users.json", "the entry is encrypted: export the archive without a password"]);
    });

    it("truncated JSON in a day file", async () => {
      const day = new TextDecoder().decode(files["general/2024-01-15.json"]!).slice(0, 900);
      const error = await rejection(
        runImport(slackImporter, chunked(zipOf([...pick(["users.json", "channels.json"]), ["general/2024-01-15.json", day]]))),
      );
      expect(error).toBeInstanceOf(ImportError);
      expect(error.where).toBe("general/2024-01-15.json#/2/text");
      expect(error.detail).toBe("not valid JSON: the file ends before the JSON does (truncated?)");
    });

    it("a day file that is not UTF-8", async () => {
      const latin1 = new Uint8Array([
        ...new TextEncoder().encode('[{"type":"message","user":"U01ANA","ts":"1.0","text":"caf'),
        0xe9,
        ...new TextEncoder().encode('"}]'),
      ]);
      const error = await rejection(runImport(slackImporter, chunked(zipOf([["general/2024-01-15.json", latin1]]))));
      expect(error.where).toBe("general/2024-01-15.json");
      expect(error.detail).toMatch(/^not UTF-8 text/);
    });

    it("an archive cut short", async () => {
      const zip = zipOf(pick(PUBLIC));
      const error = await rejection(runImport(slackImporter, chunked(zip.subarray(0, 2000))));
      expect(error).toBeInstanceOf(ImportError);
      expect(error.detail).toMatch(/truncated/);
    });

    it.each([
      ["an empty file", new Uint8Array(0), "archive", "the file is empty"],
      ["a JSON file", new TextEncoder().encode("[]"), "archive", "not a zip archive"],
      [
        "a zip of something else",
        zipOf([["notes.txt", "hello"]]),
        "archive",
        "no users.json, channels.json or day files (channel/YYYY-MM-DD.json): not a Slack export",
      ],
    ])("%s", async (_, bytes, where, detail) => {
      const error = await rejection(runImport(slackImporter, chunked(bytes)));
      expect(error).toBeInstanceOf(ImportError);
      expect([error.where, error.detail]).toEqual([where, detail]);
    });
  });

  it("isSlackZip: users.json or channels.json beside channel folders of day files", () => {
    expect(isSlackZip(PUBLIC)).toBe(true);
    expect(isSlackZip(PUBLIC.map((n) => `Acme Slack export/${n}`))).toBe(true);
    expect(isSlackZip(["users.json", "notes/readme.txt"])).toBe(false);
    expect(isSlackZip(["general/2024-01-15.json"])).toBe(false);
  });

  it("slackTime keeps milliseconds of a ts", () => {
    expect(slackTime("1705312800.000200")?.toISOString()).toBe("2024-01-15T10:00:00.000Z");
    expect(slackTime("1705312800.123456")?.toISOString()).toBe("2024-01-15T10:00:00.123Z");
    expect(slackTime("1705312800")?.toISOString()).toBe("2024-01-15T10:00:00.000Z");
    expect(slackTime("soon")).toBeUndefined();
  });

  it("slackText turns markup into what people read", () => {
    const names = { user: (id: string) => ({ U1: "Ana" })[id], channel: (id: string) => ({ C1: "general" })[id] };
    expect(slackText("<@U1> <@U2> <@U1|ana> <#C1> <#C9|ops> <#C1|>", names)).toBe("@Ana @U2 @ana #general #ops #general");
    expect(slackText("<!here> <!channel> <!everyone> <!here|here> <!subteam^S1|@devs> <!subteam^S2>", names)).toBe(
      "@here @channel @everyone @here @devs @S2",
    );
    expect(slackText("<https://x.y|docs> <https://x.y> <https://x.y|https://x.y> <mailto:a@b.c|a@b.c>", names)).toBe(
      "docs (https://x.y) https://x.y https://x.y a@b.c",
    );
    expect(slackText("<!date^1392734382^{date}|Feb 18, 2014> 1 &lt; 2 &amp;&amp; 3 &gt; 2 &amp;lt;", names)).toBe(
      "Feb 18, 2014 1 < 2 && 3 > 2 &lt;",
    );
  });
});
