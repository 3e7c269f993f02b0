// npm run import -- <file> [--format F] [--url URL] [--key KEY] [options]: uploads a chat export to
// POST /api/imports, shows its progress until it ends, and prints a summary. Against `npm start`
// with the dev key by default. Exit 0 when the import succeeded, 1 when it failed or was cancelled, 2 for bad usage,
// 3 when it stood still for --wait-minutes (it goes on in the background).
import { createReadStream, statSync } from "node:fs";
import { Readable } from "node:stream";
import { parseCli } from "./lib/cli.ts";

const USAGE = `usage: npm run import -- <file> [--format slack|whatsapp|discord|telegram|chatgpt|vtt|srt|jsonl|csv]
    [--url http://127.0.0.1:8787] [--key dev-local-key] [--conversation-id ID] [--title T]
    [--timezone Europe/Berlin] [--date-order dmy|mdy|ymd] [--started-at 2025-03-01T10:00:00Z]
    [--author-column C] [--text-column C] [--timestamp-column C] [--id-column C] [--author-type-column C]
    [--wait-minutes 30]
  The format is detected from the content when not given. docs/IMPORTS.md lists formats and options.
  --wait-minutes: give up waiting (exit 3) when the import shows no progress for this long; it goes
  on in the background (a lost step is queued again by the import watchdog).`;

const { values, positionals } = parseCli(
  {
    format: { type: "string" },
    url: { type: "string", default: process.env.RAG_URL ?? "http://127.0.0.1:8787" },
    key: { type: "string", default: process.env.RAG_API_KEY ?? "dev-local-key" },
    "conversation-id": { type: "string" },
    title: { type: "string" },
    timezone: { type: "string" },
    "date-order": { type: "string" },
    "started-at": { type: "string" },
    "author-column": { type: "string" },
    "text-column": { type: "string" },
    "timestamp-column": { type: "string" },
    "id-column": { type: "string" },
    "author-type-column": { type: "string" },
    "wait-minutes": { type: "string", default: "30" },
  },
  USAGE,
  true,
);
const file = positionals[0];
if (!file || positionals.length > 1) {
  console.error(USAGE);
  process.exit(2);
}
let size: number;
try {
  size = statSync(file).size;
} catch {
  console.error(`cannot read ${file}`);
  process.exit(2);
}

const query = new URLSearchParams();
for (const [flag, param] of [
  ["format", "format"],
  ["conversation-id", "conversation_id"],
  ["title", "title"],
  ["timezone", "timezone"],
  ["date-order", "date_order"],
  ["started-at", "started_at"],
  ["author-column", "author_column"],
  ["text-column", "text_column"],
  ["timestamp-column", "timestamp_column"],
  ["id-column", "id_column"],
  ["author-type-column", "author_type_column"],
] as const) {
  const value = values[flag];
  if (typeof value === "string") query.set(param, value);
}
const base = values.url!.replace(/\/$/, "");
const headers = { authorization: `Bearer ${values.key}` };

interface Status {
  id: string;
  status: "queued" | "running" | "succeeded" | "failed" | "cancelled";
  format: string | null;
  progress: { messages_parsed: number; messages_stored: number; conversations: string[] };
  skipped: { where: string; reason: string }[];
  skipped_count: number;
  errors: { where: string; detail: string }[];
}

const problemText = async (res: Response) => {
  const body = await res.text();
  try {
    const p = JSON.parse(body) as { detail?: string; errors?: { pointer: string; detail: string }[] };
    return [p.detail, ...(p.errors ?? []).map((e) => `  ${e.pointer}: ${e.detail}`)].filter(Boolean).join("\n");
  } catch {
    return body.slice(0, 500);
  }
};

const upload = await fetch(`${base}/api/imports?${query}`, {
  method: "POST",
  headers: { ...headers, "content-type": "application/octet-stream", "content-length": String(size) },
  body: Readable.toWeb(createReadStream(file)) as unknown as BodyInit,
  duplex: "half",
} as RequestInit);
if (upload.status !== 202) {
  console.error(`upload refused (${upload.status}): ${await problemText(upload)}`);
  process.exit(1);
}
const { id } = (await upload.json()) as { id: string };
const tty = process.stderr.isTTY;
process.stderr.write(`uploaded ${(size / 1e6).toFixed(1)} MB as import ${id}\n`);

const waitMs = Number(values["wait-minutes"]) * 60_000;
if (!(waitMs > 0)) {
  console.error(`--wait-minutes must be a positive number\n${USAGE}`);
  process.exit(2);
}
let status: Status;
let lastProgress = "";
let progressAt = Date.now();
for (;;) {
  const res = await fetch(`${base}/api/imports/${id}`, { headers });
  if (!res.ok) {
    console.error(`reading the import's status failed (${res.status}): ${await problemText(res)}`);
    process.exit(1);
  }
  status = (await res.json()) as Status;
  const line = `${status.status.padEnd(9)} ${status.format ?? "?"}: ${status.progress.messages_parsed} messages parsed, ${status.progress.messages_stored} stored, ${status.progress.conversations.length} conversations`;
  if (tty) process.stderr.write(`\r${line}\u001b[K`);
  if (status.status === "succeeded" || status.status === "failed" || status.status === "cancelled") break;
  const progress = `${status.status} ${status.progress.messages_parsed} ${status.progress.messages_stored}`;
  if (progress !== lastProgress) [lastProgress, progressAt] = [progress, Date.now()];
  else if (Date.now() - progressAt > waitMs) {
    if (tty) process.stderr.write("\n");
    console.error(
      `import ${id} has shown no progress for ${values["wait-minutes"]} minutes; it goes on in the background, and a lost step is queued again by the import watchdog. Follow it with GET ${base}/api/imports/${id}`,
    );
    process.exit(3);
  }
  await new Promise((r) => setTimeout(r, 500));
}
if (tty) process.stderr.write("\n");

console.log(`import ${id}: ${status.status} (${status.format})`);
console.log(
  `  conversations: ${status.progress.conversations.length} (${status.progress.conversations.slice(0, 10).join(", ")}${status.progress.conversations.length > 10 ? ", …" : ""})`,
);
console.log(`  messages: ${status.progress.messages_parsed} parsed, ${status.progress.messages_stored} stored (new or changed)`);
if (status.skipped_count > 0) {
  console.log(`  skipped: ${status.skipped_count}`);
  const reasons = new Map<string, number>();
  for (const s of status.skipped) reasons.set(s.reason, (reasons.get(s.reason) ?? 0) + 1);
  for (const [reason, n] of reasons)
    console.log(`    ${n} × ${reason}${status.skipped.length < status.skipped_count ? " (among the first listed)" : ""}`);
}
for (const e of status.errors) console.log(`  error at ${e.where}: ${e.detail}`);
process.exit(status.status === "succeeded" ? 0 : 1);
