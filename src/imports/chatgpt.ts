// ChatGPT's data export: conversations.json (as is, or the export's zip), an array of
// conversations, each a tree of message nodes ("mapping") in which every edit or regeneration
// starts a branch. One conversation per element, read one element at a time; its messages are the
// branch shown last: from current_node up through the parents, reversed.
import { BatchEmitter, type Conversation, conversationId, type ParsedMessage } from "./emitter.ts";
import type { Importer, ImportOptions, ImportSink } from "./format.ts";
import { list, record, str } from "./json-fields.ts";
import { type JsonPath, type JsonResume, jsonValues, pointer } from "./json-stream.ts";
import { namedMember, parseMember } from "./zip.ts";

const AUTHORS: Record<string, Pick<ParsedMessage, "author" | "authorType">> = {
  user: { author: "User", authorType: "human" },
  assistant: { author: "ChatGPT", authorType: "ai" },
};
/** Content that is the model's or the app's own bookkeeping, not the conversation. */
const UNSAID: Record<string, string> = {
  thoughts: "reasoning",
  reasoning_recap: "reasoning",
  user_editable_context: "custom instructions",
  model_editable_context: "memory",
};

/** Whether the first bytes look like conversations.json: an array whose first object has "mapping". */
export function looksLike(firstBytes: Uint8Array): boolean {
  const head = new TextDecoder().decode(firstBytes.subarray(0, 8192)).replace(/^\ufeff?\s*/, "");
  return /^\[\s*\{/.test(head) && /"mapping"\s*:\s*\{/.test(head);
}

const MEMBER = namedMember(["conversations.json"], "not the conversations (chat.html, images and other files of the export)");

export const chatgptImporter: Importer = {
  format: "chatgpt",
  zipMember: MEMBER,
  parse: (input, options, sink, resume) =>
    parseMember(input, options, sink, resume, MEMBER, "conversations.json", (body, file) =>
      parse(body, file, options, sink, resume?.state as JsonResume | undefined),
    ),
};

async function parse(
  input: ReadableStream<Uint8Array>,
  file: string,
  options: ImportOptions,
  sink: ImportSink,
  resume: JsonResume | undefined,
): Promise<void> {
  const emitter = new BatchEmitter(sink);
  for await (const match of jsonValues(input, [["*"]], file, resume)) {
    await conversation(match.path, record(match.value), file, options, emitter, sink);
    // Each conversation is handed over whole before the next is read: the document can go on after any of them.
    const point = match.resume?.();
    if (point) await sink.pausable?.(point.at, async () => point);
  }
}

async function conversation(
  path: JsonPath,
  c: Record<string, unknown>,
  file: string,
  options: ImportOptions,
  emitter: BatchEmitter,
  sink: ImportSink,
): Promise<void> {
  const where = `${file}${pointer(path)}`;
  const id = str(c.id) ?? str(c.conversation_id);
  if (!id) return sink.skipped(where, "a conversation without an id");
  const conversation: Conversation = {
    id: conversationId(options, `chatgpt-${id}`, where),
    title: str(c.title) ?? null,
    metadata: { source: "chatgpt", created: isoTime(c.create_time), updated: isoTime(c.update_time), model: str(c.default_model_slug) },
  };
  const mapping = record(c.mapping);
  const started = typeof c.create_time === "number" ? fromSeconds(c.create_time) : undefined;
  for (const nodeId of branch(mapping, str(c.current_node))) {
    const message = said(record(record(mapping[nodeId]).message), started);
    const at = `${file}${pointer([...path, "mapping", nodeId])}`;
    if (typeof message === "string") sink.skipped(at, message);
    else if (message) await emitter.add(conversation, { id: nodeId, ...message }, at);
  }
  await emitter.flush(conversation.id);
}

/** Node ids from the root to `current` (or, without it, to the leaf reached through each node's last child). */
export function branch(mapping: Record<string, unknown>, current: string | undefined): string[] {
  let node = current !== undefined && current in mapping ? current : lastLeaf(mapping);
  const path: string[] = [];
  const seen = new Set<string>();
  while (node !== undefined && node in mapping && !seen.has(node)) {
    seen.add(node);
    path.push(node);
    node = str(record(mapping[node]).parent);
  }
  return path.reverse();
}

function lastLeaf(mapping: Record<string, unknown>): string | undefined {
  let node = Object.keys(mapping).find((id) => {
    const parent = str(record(mapping[id]).parent);
    return parent === undefined || !(parent in mapping);
  });
  const seen = new Set<string>();
  while (node !== undefined && !seen.has(node)) {
    seen.add(node);
    const next = list(record(mapping[node]).children)
      .filter((c): c is string => typeof c === "string" && c in mapping)
      .at(-1);
    if (next === undefined) break;
    node = next;
  }
  return node;
}

/** A node's message as said in the conversation, a reason to skip it, or undefined for a node without one (the root). */
function said(m: Record<string, unknown>, started: Date | undefined): Omit<ParsedMessage, "id"> | string | undefined {
  if (Object.keys(m).length === 0) return undefined;
  const role = str(record(m.author).role) ?? "unknown";
  if (role === "system" || role === "tool") return `${role} message`;
  const author = AUTHORS[role];
  if (!author) return `${role} message`;
  if (record(m.metadata).is_visually_hidden_from_conversation === true) return "hidden message";
  const content = record(m.content);
  const type = str(content.content_type) ?? "text";
  if (UNSAID[type]) return UNSAID[type];
  const text =
    type === "code" || type === "execution_output"
      ? (str(content.text) ?? "")
      : list(content.parts)
          .map((part) => (typeof part === "string" ? part : partNote(record(part))))
          .filter((s) => s.trim() !== "")
          .join("\n");
  const time = typeof m.create_time === "number" ? fromSeconds(m.create_time) : started;
  if (!time) return "no create_time";
  return { ...author, fallbackAuthor: author.author!, text, time };
}

function partNote(part: Record<string, unknown>): string {
  const type = str(part.content_type);
  if (type === "image_asset_pointer") return "[image]";
  if (type === "audio_transcription") return str(part.text) ?? "";
  if (type?.startsWith("audio")) return "";
  return type ? `[${type.replaceAll("_", " ")}]` : "";
}

function isoTime(seconds: unknown): string | undefined {
  return typeof seconds === "number" && Number.isFinite(seconds) ? fromSeconds(seconds).toISOString() : undefined;
}

/** Float seconds (1709200010.123456) to the millisecond, microseconds dropped as for a Slack ts. */
function fromSeconds(seconds: number): Date {
  return new Date(Math.floor(seconds * 1000));
}
