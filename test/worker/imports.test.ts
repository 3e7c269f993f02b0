import { createExecutionContext, env } from "cloudflare:test";
import { zipSync } from "fflate";
import { beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/app";
import { importWatchdog } from "../../src/scheduled";
import chatgpt from "../fixtures/imports/chatgpt/conversations.json?raw";
import commaCsv from "../fixtures/imports/csv/comma-crlf.csv?raw";
import customCsv from "../fixtures/imports/csv/custom-columns.csv?raw";
import unterminated from "../fixtures/imports/csv/unterminated-quote.csv?raw";
import discordGeneral from "../fixtures/imports/discord/general.json?raw";
import multiJsonl from "../fixtures/imports/jsonl/multi-conversation.jsonl?raw";
import supportJsonl from "../fixtures/imports/jsonl/support-chat.jsonl?raw";
import slackChannels from "../fixtures/imports/slack/channels.json?raw";
import slackEngineering from "../fixtures/imports/slack/engineering/2024-01-15.json?raw";
import slackGeneral15 from "../fixtures/imports/slack/general/2024-01-15.json?raw";
import slackGeneral16 from "../fixtures/imports/slack/general/2024-01-16.json?raw";
import slackUsers from "../fixtures/imports/slack/users.json?raw";
import interview from "../fixtures/imports/srt/interview.srt?raw";
import telegramAccount from "../fixtures/imports/telegram/account.json?raw";
import meeting from "../fixtures/imports/vtt/meeting-voices.vtt?raw";
import ambiguous from "../fixtures/imports/whatsapp/ambiguous-order.txt?raw";
import android from "../fixtures/imports/whatsapp/android-24h-dmy.txt?raw";
import { api, directSql, newTenantKey, problem } from "./support/api";
import { importAs, importFinished, uploadImport } from "./support/imports";
import { callWith } from "./support/sse";

const sql = directSql();
let tenant: { key: string; tenant: string };

beforeAll(async () => {
  tenant = await newTenantKey("imp");
});

const upload = (body: string | Uint8Array, query: string, key = tenant.key) => uploadImport(key, body, query);
const finished = (id: string, key = tenant.key) => importFinished(key, id);
const importFile = (body: string | Uint8Array, query: string) => importAs(tenant.key, body, query);

const messagesOf = async (conversationId: string) => {
  const res = await api("GET", `/api/conversations/${encodeURIComponent(conversationId)}/messages?limit=200`, { key: tenant.key });
  expect(res.status).toBe(200);
  return ((await res.json()) as { messages: { id: string; author_name: string; text: string; timestamp: string }[] }).messages;
};

describe("POST /api/imports: a chat export imported in the background", () => {
  it("imports a WhatsApp chat with its messages, skips what it should and says why", async () => {
    const status = await importFile(android, "?format=whatsapp&conversation_id=hiking&timezone=Europe/Lisbon");
    expect(status).toMatchObject({ status: "succeeded", format: "whatsapp", errors: [] });
    expect(status.progress.conversations).toEqual(["hiking"]);
    const messages = await messagesOf("hiking");
    expect(status.progress.messages_stored).toBe(messages.length);
    expect(messages.find((m) => m.text.startsWith("Yes. I checked the forecast"))).toMatchObject({
      author_name: "Tomás Reyes",
      text: "Yes. I checked the forecast:\nsunny until 3pm,\n\nthen light rain.",
      timestamp: "2024-01-15T10:01:00.000Z",
    });
    const reasons = new Set(status.skipped.map((s) => s.reason));
    expect(reasons.size).toBeGreaterThanOrEqual(3);
    expect(status.skipped_count).toBe(status.skipped.length);
    for (const s of status.skipped) expect(s.where).toMatch(/:\d+$/);
    expect(status.started_at).not.toBeNull();
    expect(status.finished_at).not.toBeNull();
  });

  it("re-importing the same file changes nothing; a longer export adds only its new messages", async () => {
    const first = await importFile(android, "?format=whatsapp&conversation_id=hiking2");
    const before = await messagesOf("hiking2");
    const [version] = await sql`SELECT version FROM conversations WHERE tenant_id = ${tenant.tenant} AND id = 'hiking2'`;
    const again = await importFile(android, "?format=whatsapp&conversation_id=hiking2");
    expect(again.status).toBe("succeeded");
    expect(again.progress.messages_stored).toBe(0);
    const [same] = await sql`SELECT version FROM conversations WHERE tenant_id = ${tenant.tenant} AND id = 'hiking2'`;
    expect(same!.version).toBe(version!.version);
    const longer = `${android.trimEnd()}\n17/01/2024, 08:00 - Ana Lima: New plan: we start at 7\n`;
    const grown = await importFile(longer, "?format=whatsapp&conversation_id=hiking2");
    expect(grown.progress.messages_stored).toBe(1);
    const after = await messagesOf("hiking2");
    expect(after.map((m) => m.id).slice(0, before.length)).toEqual(before.map((m) => m.id));
    expect(after.at(-1)!.text).toBe("New plan: we start at 7");
    expect(first.progress.messages_stored).toBe(before.length);
  });

  it("detects the format from the content when none is named", async () => {
    const whatsapp = await importFile(android, "?conversation_id=detected-chat");
    expect(whatsapp).toMatchObject({ status: "succeeded", format: "whatsapp" });
    const transcript = await importFile(meeting, "?conversation_id=detected-meeting&started_at=2025-03-03T10:00:00Z");
    expect(transcript).toMatchObject({ status: "succeeded", format: "vtt" });
    expect((await messagesOf("detected-meeting")).length).toBe(transcript.progress.messages_stored);
  });

  it("a WhatsApp zip (chat plus media) is detected and imported without its media", async () => {
    const zip = zipSync({
      "_chat.txt": new TextEncoder().encode(android),
      "00000012-PHOTO-2024-01-15-10-02-00.jpg": new Uint8Array(4096).fill(7),
    });
    const status = await importFile(zip, "?conversation_id=zipped");
    expect(status).toMatchObject({ status: "succeeded", format: "whatsapp" });
    expect((await messagesOf("zipped")).length).toBe(status.progress.messages_stored);
  });

  it("works in bounded steps: a chat of several batches spans steps and every message lands once", async () => {
    // In the tests a parse step writes 4 batches and a store step stores 2: 2,600 messages are 6
    // batches, so 2 parse steps (the second resumes after the 4 written) and 3 store steps.
    const lines = Array.from({ length: 2600 }, (_, i) => {
      const at = new Date(Date.UTC(2024, 0, 1, 0, i));
      const d = `${String(at.getUTCDate()).padStart(2, "0")}/01/2024, ${String(at.getUTCHours()).padStart(2, "0")}:${String(at.getUTCMinutes()).padStart(2, "0")}`;
      return `${d} - ${i % 2 ? "Ana" : "Tomás"}: message number ${i}`;
    });
    const status = await importFile(`${lines.join("\n")}\n`, "?format=whatsapp&conversation_id=long-chat&date_order=dmy");
    expect(status).toMatchObject({ status: "succeeded", errors: [] });
    expect(status.progress).toMatchObject({ messages_parsed: 2600, messages_stored: 2600 });
    const [row] = await sql`
      SELECT steps, batches_spooled, batches_total, batches_done FROM imports WHERE tenant_id = ${tenant.tenant} AND id = ${status.id}::uuid`;
    expect(row).toEqual({ steps: 5, batches_spooled: 6, batches_total: 6, batches_done: 6 });
    // The file and its parsed batches are gone from R2.
    expect((await env.IMPORTS_BUCKET.list({ prefix: `spool/${tenant.tenant}/${status.id}/` })).objects).toEqual([]);
    expect(await env.IMPORTS_BUCKET.head(`imports/${tenant.tenant}/${status.id}`)).toBeNull();
    const [count] = await sql`SELECT count(*)::int AS n FROM messages WHERE tenant_id = ${tenant.tenant} AND conversation_id = 'long-chat'`;
    expect(count!.n).toBe(2600);
  });
});

describe("every text format imports through the API", () => {
  it("SRT, JSONL (one and several conversations) and CSV (header names and named columns)", async () => {
    const srt = await importFile(interview, "?format=srt&conversation_id=interview&started_at=2025-03-03T10:00:00Z");
    expect(srt).toMatchObject({ status: "succeeded", format: "srt" });
    expect((await messagesOf("interview")).length).toBe(srt.progress.messages_stored);

    const support = await importFile(supportJsonl, "?conversation_id=support-chat");
    expect(support).toMatchObject({ status: "succeeded", format: "jsonl" });
    const supportMessages = await messagesOf("support-chat");
    // The source's own ids are kept.
    expect(supportMessages.map((m) => m.id)).toContain("m1");

    const multi = await importFile(multiJsonl, "?format=jsonl&conversation_id=team");
    expect(multi.status).toBe("succeeded");
    // Rows without a conversation field go to the prefix itself.
    expect(multi.progress.conversations.sort()).toEqual(["team", "team-general", "team-random"]);
    expect(multi.skipped_count).toBeGreaterThan(0);

    const csv = await importFile(commaCsv, "?format=csv&conversation_id=csv-chat");
    expect(csv).toMatchObject({ status: "succeeded", format: "csv" });
    const csvMessages = await messagesOf("csv-chat");
    expect(csvMessages.find((m) => m.text.includes("ship it"))!.text).toBe('She said "ship it" — so we did.');

    const named = await importFile(
      customCsv,
      "?format=csv&conversation_id=standup&author_column=Who&text_column=What&timestamp_column=When",
    );
    expect(named.status).toBe("succeeded");
    expect((await messagesOf("standup"))[0]).toMatchObject({ author_name: "Rui", text: "Standup in 5" });
  });

  it("an unterminated CSV quote fails the import at the line where it opened", async () => {
    const status = await importFile(unterminated, "?format=csv&conversation_id=broken-csv");
    expect(status.status).toBe("failed");
    expect(status.errors[0]!.where).toMatch(/messages\.csv:\d+/);
  });

  it("a file that breaks after several batches fails before anything is stored, and leaves nothing in R2", async () => {
    // 2,600 good rows, then a quote that never closes: the first parse step writes 4 batches to the
    // spool, the second a fifth before it meets the quote. The import fails with nothing stored.
    const rows = Array.from(
      { length: 2600 },
      (_, i) => `2024-02-01T10:${String(Math.floor(i / 60)).padStart(2, "0")}:${String(i % 60).padStart(2, "0")}Z,Ana,row ${i}`,
    );
    const csv = `timestamp,author,text\n${rows.join("\n")}\n2024-02-01T11:00:00Z,Ana,"this quote never closes\n`;
    const status = await importFile(csv, "?format=csv&conversation_id=late-break");
    expect(status.status).toBe("failed");
    expect(status.errors[0]!.where).toMatch(/:2602$/);
    expect(status.progress.messages_stored).toBe(0);
    const [row] = await sql`SELECT steps, batches_spooled FROM imports WHERE tenant_id = ${tenant.tenant} AND id = ${status.id}::uuid`;
    expect(row).toEqual({ steps: 2, batches_spooled: 4 });
    expect((await api("GET", "/api/conversations/late-break", { key: tenant.key })).status).toBe(404);
    expect((await env.IMPORTS_BUCKET.list({ prefix: `spool/${tenant.tenant}/${status.id}/` })).objects).toEqual([]);
    expect(await env.IMPORTS_BUCKET.head(`imports/${tenant.tenant}/${status.id}`)).toBeNull();
  });
});

describe("every export format imports through the API", () => {
  const slackZip = (extra: Record<string, Uint8Array> = {}) => {
    const bytes = (text: string) => new TextEncoder().encode(text);
    return zipSync({
      "users.json": bytes(slackUsers),
      "channels.json": bytes(slackChannels),
      "general/2024-01-15.json": bytes(slackGeneral15),
      "general/2024-01-16.json": bytes(slackGeneral16),
      "engineering/2024-01-15.json": bytes(slackEngineering),
      ...extra,
    });
  };

  it("a Slack workspace export: one conversation per channel, detected from the zip's entries, re-import changes nothing", async () => {
    const status = await importFile(slackZip(), "?conversation_id=acme");
    expect(status).toMatchObject({ status: "succeeded", format: "slack", errors: [] });
    expect(status.progress.conversations.sort()).toEqual(["acme-slack-engineering", "acme-slack-general"]);
    const general = await messagesOf("acme-slack-general");
    expect(general.length).toBeGreaterThan(0);
    // Mentions are names, not user ids.
    expect(general.some((m) => /<@U/.test(m.text))).toBe(false);
    expect(status.skipped.some((s) => /channel_join/.test(s.reason))).toBe(true);
    const again = await importFile(slackZip(), "?conversation_id=acme");
    expect(again.progress.messages_stored).toBe(0);
  });

  it("a zip with an entry that climbs out of the archive fails the import", async () => {
    const status = await importFile(slackZip({ "../evil.json": new TextEncoder().encode("[]") }), "?format=slack");
    expect(status.status).toBe("failed");
    expect(status.errors[0]!.detail).toMatch(/\.\.|outside|path/i);
  });

  it("a zip bomb (an entry inflating far past its compressed size) fails the import, naming the entry, and stores nothing", async () => {
    // 16 MiB of zeros deflate to about 16 KB: past 1 MiB inflated, a ratio over 200× is refused.
    const bomb = slackZip({ "random/2024-01-17.json": new Uint8Array(16 * 2 ** 20) });
    const status = await importFile(bomb, "?format=slack&conversation_id=bombed");
    expect(status.status).toBe("failed");
    expect(status.errors[0]!.where).toBe("random/2024-01-17.json");
    expect(status.errors[0]!.detail).toMatch(/zip bomb/);
    expect(status.progress.messages_stored).toBe(0);
    expect((await api("GET", "/api/conversations/bombed-slack-general", { key: tenant.key })).status).toBe(404);
  });

  it("Discord, Telegram and ChatGPT exports, detected from their content", async () => {
    const discord = await importFile(discordGeneral, "");
    expect(discord).toMatchObject({ status: "succeeded", format: "discord" });
    expect(discord.progress.conversations).toHaveLength(1);
    expect((await messagesOf(discord.progress.conversations[0]!)).length).toBe(discord.progress.messages_stored);

    const telegram = await importFile(telegramAccount, "");
    expect(telegram).toMatchObject({ status: "succeeded", format: "telegram" });
    expect(telegram.progress.conversations.length).toBeGreaterThan(1);

    const gpt = await importFile(chatgpt, "");
    expect(gpt).toMatchObject({ status: "succeeded", format: "chatgpt" });
    const first = await messagesOf(gpt.progress.conversations[0]!);
    expect(new Set(first.map((m) => m.author_name))).toEqual(new Set(["User", "ChatGPT"]));
  });

  it("truncated JSON fails the import with a place in the file", async () => {
    const status = await importFile(discordGeneral.slice(0, Math.floor(discordGeneral.length / 2)), "?format=discord");
    expect(status.status).toBe("failed");
    expect(status.errors[0]!.where).toMatch(/#/);
  });
});

describe("bad files and bad requests", () => {
  it("an ambiguous day/month order fails the import, naming date_order, and stores nothing", async () => {
    const status = await importFile(ambiguous, "?format=whatsapp&conversation_id=ambiguous");
    expect(status.status).toBe("failed");
    expect(status.errors[0]!.detail).toMatch(/date_order/);
    const [count] = await sql`SELECT count(*)::int AS n FROM conversations WHERE tenant_id = ${tenant.tenant} AND id = 'ambiguous'`;
    expect(count!.n).toBe(0);
    // With the order named, the same file imports.
    expect((await importFile(ambiguous, "?format=whatsapp&conversation_id=ambiguous&date_order=dmy")).status).toBe("succeeded");
  });

  it("a file that is not UTF-8 fails with the line it breaks on; a file of another format fails the import", async () => {
    const bytes = new Uint8Array([...new TextEncoder().encode("15/01/2024, 10:00 - Ana: ol"), 0xff, 0xfe, 0x0a]);
    const broken = await importFile(bytes, "?format=whatsapp&conversation_id=broken");
    expect(broken.status).toBe("failed");
    expect(broken.errors[0]!.where).toMatch(/:1\b/);
    const wrong = await importFile(meeting, "?format=whatsapp&conversation_id=wrong");
    expect(wrong.status).toBe("failed");
    expect(wrong.errors.length).toBe(1);
  });

  it("an undetectable format asks for ?format=", async () => {
    const status = await importFile("just some words\nand more words\n", "?conversation_id=unknown");
    expect(status.status).toBe("failed");
    expect(status.errors[0]!.detail).toMatch(/format=/);
  });

  it("refuses an empty body, a missing length, an unknown format, an unknown option and a bad time zone before storing anything", async () => {
    expect((await upload("", "?format=whatsapp")).status).toBe(400);
    // A streamed body without a Content-Length (the Worker's own fetch, where nothing adds one).
    const noLength = await createApp().fetch(
      new Request("http://api.test/api/imports?format=whatsapp", {
        method: "POST",
        headers: { authorization: `Bearer ${tenant.key}`, "content-type": "application/octet-stream" },
        body: new Blob([android]).stream(),
      }),
      env,
      createExecutionContext(),
    );
    expect(noLength.status).toBe(411);
    const badFormat = await upload(android, "?format=signal");
    expect(badFormat.status).toBe(400);
    expect((await problem(badFormat)).errors![0]!.pointer).toBe("#/format");
    expect((await problem(await upload(android, "?formt=whatsapp"))).errors![0]!.pointer).toBe("#/formt");
    expect((await problem(await upload(android, "?timezone=Mars/Olympus"))).errors![0]!.pointer).toBe("#/timezone");
    const listed = await env.IMPORTS_BUCKET.list({ prefix: `imports/${tenant.tenant}/` });
    const rows = await sql`SELECT id::text FROM imports WHERE tenant_id = ${tenant.tenant}`;
    // Every stored file belongs to an import row (finished imports delete theirs).
    for (const object of listed.objects) expect(rows.map((r) => `imports/${tenant.tenant}/${r.id}`)).toContain(object.key);
  });

  it("an import is visible to its tenant only", async () => {
    const status = await importFile(android, "?format=whatsapp&conversation_id=private-chat");
    const other = await newTenantKey("imp");
    const res = await api("GET", `/api/imports/${status.id}`, { key: other.key });
    expect(res.status).toBe(404);
    const list = await api("GET", "/api/conversations/private-chat", { key: other.key });
    expect(list.status).toBe(404);
  });

  it("a finished import's file is deleted from R2", async () => {
    const status = await importFile(android, "?format=whatsapp&conversation_id=cleaned");
    expect(await env.IMPORTS_BUCKET.head(`imports/${tenant.tenant}/${status.id}`)).toBeNull();
  });
});

describe("an import whose queue message was lost", () => {
  it("is queued again by the watchdog once silent for IMPORT_STALL_MINUTES, and finishes; a live one is left alone", async () => {
    // As a restart of npm start leaves it: the row and the file, and no message in the queue.
    const id = crypto.randomUUID();
    const objectKey = `imports/${tenant.tenant}/${id}`;
    await env.IMPORTS_BUCKET.put(objectKey, android);
    await sql`
      INSERT INTO imports (tenant_id, id, status, format, options, object_key, bytes, heartbeat_at)
      VALUES (${tenant.tenant}, ${id}::uuid, 'queued', 'whatsapp', ${sql.json({ conversation_id: "orphan" })}, ${objectKey},
        ${android.length}, now() - interval '11 minutes')`;
    const live = crypto.randomUUID();
    await sql`
      INSERT INTO imports (tenant_id, id, status, format, options, object_key, bytes)
      VALUES (${tenant.tenant}, ${live}::uuid, 'running', 'whatsapp', '{}', ${`imports/${tenant.tenant}/${live}`}, 1)`;

    expect(await importWatchdog(env)).toBe(1);
    const status = await finished(id);
    expect(status).toMatchObject({ status: "succeeded", errors: [] });
    expect((await messagesOf("orphan")).length).toBe(status.progress.messages_stored);
    // Its heartbeat was renewed when it was taken: a second run right after queues nothing more.
    expect(await importWatchdog(env)).toBe(0);
    const [row] = await sql`SELECT status FROM imports WHERE tenant_id = ${tenant.tenant} AND id = ${live}::uuid`;
    expect(row).toEqual({ status: "running" });
    await sql`DELETE FROM imports WHERE tenant_id = ${tenant.tenant} AND id = ${live}::uuid`;
  });
});

describe("the synchronous ingest has a work bound", () => {
  it("a conversation over INGEST_MAX_WORK gets a 413 that points to imports, and nothing is stored; at the bound it is taken", async () => {
    // Work = characters + 200 per message: 3 messages of 100 characters are 900.
    const conv = (id: string) => ({
      id,
      messages: Array.from({ length: 3 }, (_, i) => ({
        id: `m${i}`,
        author_name: "Ana",
        text: "x".repeat(100),
        timestamp: new Date(Date.UTC(2024, 0, 1, 0, i)).toISOString(),
      })),
    });
    const fits = await callWith({ INGEST_MAX_WORK: "900" }, "POST", "/api/conversations", conv("work-fits"), tenant.key);
    expect(fits.res.status).toBe(201);
    const tight = await callWith({ INGEST_MAX_WORK: "899" }, "POST", "/api/conversations", conv("work-tight"), tenant.key);
    expect(tight.res.status).toBe(413);
    const p = await problem(tight.res);
    expect(p.type).toBe("urn:convo-rag:problem:ingest-too-large");
    expect(p.detail).toMatch(/POST \/api\/imports/);
    const [count] = await sql`SELECT count(*)::int AS n FROM conversations WHERE tenant_id = ${tenant.tenant} AND id = 'work-tight'`;
    expect(count!.n).toBe(0);
  });
});
