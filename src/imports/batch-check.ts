// A parsed batch checked against ingest's rules while the file is parsed, so that a file whose later
// part cannot be stored fails before anything of it is: a message that breaks the rules is
// skipped with the rule it breaks, a title or metadata text too long to store is cut (and that is
// reported), and a conversation that still cannot be stored fails the import where it is.
import type { ingestSchema } from "../ingest/ingest-schema.ts";
import { type ConversationBatch, ImportError } from "./format.ts";

type IngestSchema = ReturnType<typeof ingestSchema>;

const TITLE_CHARS = 1000;
const METADATA_BYTES = 65_536;
/** A metadata text longer than this is cut when the metadata is over METADATA_BYTES. */
const METADATA_TEXT_CHARS = 2000;

/** "#/messages/3/text" style place of a schema issue, without the "#/". */
const placeOf = (path: PropertyKey[]) => path.map(String).join("/");

/** `text` cut to at most `max` characters, never between the halves of a surrogate pair. */
function cut(text: string, max: number): string {
  const part = text.slice(0, max);
  return /[\ud800-\udbff]$/.test(part) ? part.slice(0, -1) : part;
}

/**
 * The batch as ingest will take it (its messages, title and metadata as ingest's rules allow), or
 * undefined when none of its messages can be stored.
 * `skip` is told of every message left out and every field cut; `fitted` holds the conversations
 * already reported as cut (each is reported once). Fails with ImportError when the conversation
 * cannot be stored at all.
 */
export function checkBatch(
  schema: IngestSchema,
  batch: ConversationBatch,
  skip: (where: string, reason: string) => void,
  fitted: Set<string>,
): ConversationBatch | undefined {
  const where = `conversation '${batch.id}'`;
  const seen = new Set<string>();
  const messages: ConversationBatch["messages"] = [];
  for (const message of batch.messages) {
    const at = `${where}, message '${message.id}'`;
    const checked = schema.shape.messages.element.safeParse(message);
    if (!checked.success) {
      const issue = checked.error.issues[0]!;
      skip(at, `${placeOf(issue.path) || "message"}: ${issue.message}`);
    } else if (seen.has(message.id)) skip(at, "a second message with this id in the export");
    else {
      seen.add(message.id);
      messages.push(message);
    }
  }
  if (messages.length === 0) return undefined;

  const cuts: string[] = [];
  let title = batch.title;
  if (title !== null && title.trim().length > TITLE_CHARS) {
    title = cut(title.trim(), TITLE_CHARS);
    cuts.push(`title cut to its first ${TITLE_CHARS} characters`);
  }
  let metadata = batch.metadata;
  if (metadata && JSON.stringify(metadata).length > METADATA_BYTES) {
    metadata = { ...metadata };
    for (const [key, value] of Object.entries(metadata)) {
      if (typeof value !== "string" || value.length <= METADATA_TEXT_CHARS) continue;
      metadata[key] = cut(value, METADATA_TEXT_CHARS);
      cuts.push(`metadata ${key} cut to its first ${METADATA_TEXT_CHARS} characters`);
    }
  }
  if (cuts.length > 0 && !fitted.has(batch.id)) {
    fitted.add(batch.id);
    for (const reason of cuts) skip(where, reason);
  }

  const fit: ConversationBatch = { id: batch.id, title, metadata, messages };
  const body = schema.safeParse({ ...fit, mode: "merge" });
  if (!body.success) {
    const issue = body.error.issues[0]!;
    throw new ImportError(where, `${placeOf(issue.path)}: ${issue.message}`);
  }
  return fit;
}
