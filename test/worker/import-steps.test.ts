// Import steps driven one by one (no queue): each parse step goes on where the last one stopped,
// an import's work is bounded, and its owner can cancel it. The file and the import's row are put
// in place as POST /api/imports would, without its queue message, so no consumer runs meanwhile.
import { env } from "cloudflare:test";
import { zipSync } from "fflate";
import { beforeAll, describe, expect, it } from "vitest";
import { insertImport } from "../../src/db/imports";
import { runImportStep } from "../../src/imports/run";
import { api, directSql, newTenantKey, problem } from "./support/api";
import type { ImportStatus } from "./support/imports";

const sql = directSql();
let tenant: { key: string; tenant: string };

beforeAll(async () => {
  tenant = await newTenantKey("steps");
});

/** A WhatsApp chat of `n` messages, one a minute from 2024-01-01, two speakers. */
function chat(n: number): Uint8Array {
  const lines = Array.from({ length: n }, (_, i) => {
    const at = new Date(Date.UTC(2024, 0, 1, 0, i));
    const day = String(at.getUTCDate()).padStart(2, "0");
    const month = String(at.getUTCMonth() + 1).padStart(2, "0");
    const time = `${String(at.getUTCHours()).padStart(2, "0")}:${String(at.getUTCMinutes()).padStart(2, "0")}`;
    return `${day}/${month}/2024, ${time} - ${i % 2 ? "Ana" : "Tomás"}: message number ${i} with a few more words`;
  });
  return new TextEncoder().encode(`${lines.join("\n")}\n`);
}

/** An import in place as POST /api/imports leaves it, without its queue message. */
async function placed(bytes: Uint8Array, options: Record<string, unknown>, format = "whatsapp"): Promise<string> {
  const id = crypto.randomUUID();
  const objectKey = `imports/${tenant.tenant}/${id}`;
  await env.IMPORTS_BUCKET.put(objectKey, bytes);
  await insertImport(sql, tenant.tenant, { id, format, options, objectKey, bytes: bytes.length });
  return id;
}

interface Read {
  key: string;
  offset: number;
  /** Undefined: to the end. */
  length: number | undefined;
}

/** The Worker's env with its bucket's reads recorded (key and first byte), and variables changed. */
function watched(vars: Record<string, string> = {}): { env: Env; reads: Read[] } {
  const reads: Read[] = [];
  const bucket = new Proxy(env.IMPORTS_BUCKET, {
    get(target, prop) {
      if (prop === "get") {
        return (key: string, options?: R2GetOptions) => {
          const range = options?.range as { offset?: number; length?: number } | undefined;
          reads.push({ key, offset: range?.offset ?? 0, length: range?.length });
          return target.get(key, options);
        };
      }
      const value = Reflect.get(target, prop);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { env: { ...env, ...vars, IMPORTS_BUCKET: bucket } as Env, reads };
}

/** Runs the import's steps until it is done; returns how many ran. */
async function runSteps(id: string, stepEnv: Env): Promise<number> {
  for (let steps = 1; steps <= 200; steps++) {
    if ((await runImportStep(stepEnv, { tenantId: tenant.tenant, id })) === "done") return steps;
  }
  throw new Error("the import did not end in 200 steps");
}

const status = async (id: string) => (await (await api("GET", `/api/imports/${id}`, { key: tenant.key })).json()) as ImportStatus;
const stored = async (conversation: string) =>
  (await sql`SELECT count(*)::int AS n FROM messages WHERE tenant_id = ${tenant.tenant} AND conversation_id = ${conversation}`)[0]!.n;

describe("a parse that spans steps", () => {
  it("goes on from the byte where the last step stopped, never from the start", async () => {
    // The tests' parse step writes 4 batches of 500: 5,000 messages are 10 batches, 3 parse steps.
    const bytes = chat(5000);
    const id = await placed(bytes, { conversation_id: "resumed", date_order: "dmy" });
    const { env: stepEnv, reads } = watched();
    await runSteps(id, stepEnv);
    expect(await status(id)).toMatchObject({ status: "succeeded", progress: { messages_parsed: 5000, messages_stored: 5000 } });
    expect(await stored("resumed")).toBe(5000);
    // Reads of the file itself (a look at its first 4 bytes, whether it is a zip, aside).
    const fileReads = reads.filter((r) => r.key === `imports/${tenant.tenant}/${id}` && r.length === undefined).map((r) => r.offset);
    expect(fileReads).toHaveLength(3);
    expect(fileReads[0]).toBe(0);
    for (let i = 1; i < fileReads.length; i++) expect(fileReads[i]).toBeGreaterThan(fileReads[i - 1]!);
    expect(fileReads.at(-1)).toBeLessThan(bytes.length);
    // Everything it left in R2 is gone.
    expect((await env.IMPORTS_BUCKET.list({ prefix: `spool/${tenant.tenant}/${id}/` })).objects).toEqual([]);
    expect(await env.IMPORTS_BUCKET.head(`stage/${tenant.tenant}/${id}`)).toBeNull();
  });

  it("reads a zipped chat out of its archive once, then goes on in the chat from where it stopped", async () => {
    const bytes = zipSync({ "WhatsApp Chat with Ana.txt": chat(5000), "IMG-1.jpg": new Uint8Array(3000).fill(9) });
    const id = await placed(bytes, { date_order: "dmy" });
    const { env: stepEnv, reads } = watched();
    await runSteps(id, stepEnv);
    const done = await status(id);
    expect(done).toMatchObject({ status: "succeeded", progress: { messages_stored: 5000, conversations: ["whatsapp-ana"] } });
    expect(done.skipped).toContainEqual({ where: "IMG-1.jpg", reason: "attachment file" });
    expect(reads.filter((r) => r.key === `imports/${tenant.tenant}/${id}` && r.length === undefined)).toHaveLength(1);
    const staged = reads.filter((r) => r.key === `stage/${tenant.tenant}/${id}`).map((r) => r.offset);
    expect(staged).toHaveLength(3);
    expect(staged[0]).toBe(0);
    for (let i = 1; i < staged.length; i++) expect(staged[i]).toBeGreaterThan(staged[i - 1]!);
    expect(await env.IMPORTS_BUCKET.head(`stage/${tenant.tenant}/${id}`)).toBeNull();
  });
});

describe("an import's work is bounded", () => {
  it("fails a file with more messages than IMPORT_MAX_MESSAGES before storing any", async () => {
    const id = await placed(chat(2600), { conversation_id: "too-many", date_order: "dmy" });
    await runSteps(id, watched({ IMPORT_MAX_MESSAGES: "1200" }).env);
    const failed = await status(id);
    expect(failed.status).toBe("failed");
    expect(failed.errors[0]!.detail).toBe(
      "the file holds more than 1200 messages, the most one import takes (IMPORT_MAX_MESSAGES): import the export in parts",
    );
    expect(await stored("too-many")).toBe(0);
    expect((await env.IMPORTS_BUCKET.list({ prefix: `spool/${tenant.tenant}/${id}/` })).objects).toEqual([]);
  });

  it("ends an import that takes more than IMPORT_MAX_STEPS steps, saying what stays", async () => {
    const id = await placed(chat(2600), { conversation_id: "too-long", date_order: "dmy" });
    // 2 parse steps and 3 store steps of 2 batches would finish it; the fifth step finds 4 taken.
    const steps = await runSteps(id, watched({ IMPORT_MAX_STEPS: "4" }).env);
    expect(steps).toBe(5);
    const failed = await status(id);
    expect(failed.status).toBe("failed");
    expect(failed.errors).toEqual([
      {
        where: "import",
        detail: "the import did not finish within 4 steps (IMPORT_MAX_STEPS); what was stored stays, import the file again to finish",
      },
    ]);
    expect(await stored("too-long")).toBe(2000);
    expect((await status(id)).progress.messages_stored).toBe(2000);
    expect(await env.IMPORTS_BUCKET.head(`imports/${tenant.tenant}/${id}`)).toBeNull();
  });

  it("a parse step stops after IMPORT_PARSE_STEP_BYTES however few messages it found", async () => {
    const id = await placed(chat(300), { conversation_id: "by-bytes", date_order: "dmy" });
    const { env: stepEnv, reads } = watched({ IMPORT_PARSE_STEP_BYTES: "4096" });
    await runSteps(id, stepEnv);
    expect(await stored("by-bytes")).toBe(300);
    const fileReads = reads.filter((r) => r.key === `imports/${tenant.tenant}/${id}` && r.length === undefined);
    // About 60 bytes a line: some 18,000 bytes, read 4 KiB a step.
    expect(fileReads.length).toBeGreaterThanOrEqual(4);
  });
});

describe("POST /api/imports/:id/cancel", () => {
  it("stops an import between steps: nothing more is stored, its objects go, and it stays cancelled", async () => {
    const id = await placed(chat(5000), { conversation_id: "cancelled", date_order: "dmy" });
    const step = () => runImportStep(env, { tenantId: tenant.tenant, id });
    // Parsed (3 steps), then one store step of 2 batches.
    for (let i = 0; i < 4; i++) expect(await step()).toBe("continue");
    expect(await stored("cancelled")).toBe(1000);
    const res = await api("POST", `/api/imports/${id}/cancel`, { key: tenant.key });
    expect(res.status).toBe(200);
    const body = (await res.json()) as ImportStatus;
    expect(body).toMatchObject({ id, status: "cancelled" });
    expect(body.finished_at).not.toBeNull();
    expect(await step()).toBe("done");
    expect(await stored("cancelled")).toBe(1000);
    expect(await status(id)).toMatchObject({ status: "cancelled", progress: { messages_stored: 1000 } });
    expect((await env.IMPORTS_BUCKET.list({ prefix: `spool/${tenant.tenant}/${id}/` })).objects).toEqual([]);
    expect(await env.IMPORTS_BUCKET.head(`imports/${tenant.tenant}/${id}`)).toBeNull();
    const again = await api("POST", `/api/imports/${id}/cancel`, { key: tenant.key });
    expect(await problem(again)).toMatchObject({
      status: 409,
      type: "urn:convo-rag:problem:import-finished",
      detail: "the import has already been cancelled",
    });
  });

  it("a step running when the import is cancelled stores no batch after it, and the status counts what landed", async () => {
    const id = await placed(chat(5000), { conversation_id: "cancel-mid", date_order: "dmy" });
    for (let i = 0; i < 3; i++) expect(await runImportStep(env, { tenantId: tenant.tenant, id })).toBe("continue");
    // The cancel lands while the store step reads its second batch.
    const stepEnv = { ...env } as Env;
    stepEnv.IMPORTS_BUCKET = new Proxy(env.IMPORTS_BUCKET, {
      get(target, prop) {
        if (prop === "get") {
          return async (key: string, options?: R2GetOptions) => {
            if (key === `spool/${tenant.tenant}/${id}/1`)
              expect((await api("POST", `/api/imports/${id}/cancel`, { key: tenant.key })).status).toBe(200);
            return target.get(key, options);
          };
        }
        const value = Reflect.get(target, prop);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    expect(await runImportStep(stepEnv, { tenantId: tenant.tenant, id })).toBe("done");
    expect(await stored("cancel-mid")).toBe(500);
    expect(await status(id)).toMatchObject({ status: "cancelled", progress: { messages_stored: 500 } });
  });

  it("is 404 for another tenant's import or an unknown id, and 409 for one that has ended", async () => {
    const other = await newTenantKey("steps-other");
    const id = await placed(chat(10), { conversation_id: "mine", date_order: "dmy" });
    expect((await api("POST", `/api/imports/${id}/cancel`, { key: other.key })).status).toBe(404);
    expect((await api("POST", `/api/imports/${crypto.randomUUID()}/cancel`, { key: tenant.key })).status).toBe(404);
    expect((await api("POST", "/api/imports/not-a-uuid/cancel", { key: tenant.key })).status).toBe(404);
    await runSteps(id, env);
    const done = await api("POST", `/api/imports/${id}/cancel`, { key: tenant.key });
    expect(await problem(done)).toMatchObject({ status: 409, detail: "the import has already succeeded" });
  });
});

describe("a file is checked against ingest's rules while it is parsed", () => {
  it("cuts a title or metadata too long to store, says so, and stores everything else (ChatGPT, Slack)", async () => {
    const conversation = (id: string, title: string) => ({
      id,
      title,
      create_time: 1_709_200_000,
      current_node: "b",
      mapping: {
        a: {
          id: "a",
          parent: null,
          children: ["b"],
          message: { author: { role: "user" }, content: { parts: [`question in ${id}`] }, create_time: 1_709_200_001 },
        },
        b: {
          id: "b",
          parent: "a",
          children: [],
          message: { author: { role: "assistant" }, content: { parts: ["an answer"] }, create_time: 1_709_200_002 },
        },
      },
    });
    const long = `A title that goes on ${"and on ".repeat(300)}`;
    const bytes = new TextEncoder().encode(JSON.stringify([conversation("short-one", "Short"), conversation("long-one", long)]));
    const id = await placed(bytes, {}, "chatgpt");
    await runSteps(id, env);
    const done = await status(id);
    expect(done).toMatchObject({ status: "succeeded", progress: { messages_stored: 4 } });
    expect(done.skipped).toContainEqual({ where: "conversation 'chatgpt-long-one'", reason: "title cut to its first 1000 characters" });
    const [row] = await sql`SELECT title FROM conversations WHERE tenant_id = ${tenant.tenant} AND id = 'chatgpt-long-one'`;
    expect(row!.title).toBe(long.trim().slice(0, 1000));

    const slack = zipSync({
      "users.json": new TextEncoder().encode(JSON.stringify([{ id: "U1", real_name: "Ana" }])),
      "channels.json": new TextEncoder().encode(
        JSON.stringify([
          { id: "C1", name: "busy" },
          { id: "C2", name: "wordy", purpose: { value: "p".repeat(70_000) } },
        ]),
      ),
      "busy/2024-01-15.json": new TextEncoder().encode(
        JSON.stringify(
          Array.from({ length: 600 }, (_, i) => ({ type: "message", user: "U1", text: `busy ${i}`, ts: `${1_705_312_800 + i}.000100` })),
        ),
      ),
      "wordy/2024-01-15.json": new TextEncoder().encode(
        JSON.stringify([{ type: "message", user: "U1", text: "hello", ts: "1705312800.000100" }]),
      ),
    });
    const slackId = await placed(slack, { conversation_id: "ws" }, "slack");
    await runSteps(slackId, env);
    const slackDone = await status(slackId);
    expect(slackDone).toMatchObject({ status: "succeeded", progress: { messages_stored: 601 } });
    expect(slackDone.skipped).toContainEqual({
      where: "conversation 'ws-slack-wordy'",
      reason: "metadata purpose cut to its first 2000 characters",
    });
  });
});
