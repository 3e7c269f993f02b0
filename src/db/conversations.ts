import type { Db } from "./client.ts";
import { json } from "./json.ts";

export interface ConversationSummary {
  id: string;
  title: string | null;
  metadata: Record<string, unknown>;
  version: number;
  messageCount: number;
  chunkCount: number;
  start: Date | null;
  end: Date | null;
  createdAt: Date;
  updatedAt: Date;
  /** Every distinct author of its messages, sorted. */
  participants: string[];
}

type Row = {
  id: string;
  title: string | null;
  metadata: unknown;
  version: string | number;
  message_count: number;
  chunk_count: number;
  start_ts: Date | null;
  end_ts: Date | null;
  created_at: Date;
  updated_at: Date;
  participants: string[];
};

const toSummary = (r: Row): ConversationSummary => ({
  id: r.id,
  title: r.title,
  metadata: (typeof r.metadata === "string" ? JSON.parse(r.metadata) : r.metadata) as Record<string, unknown>,
  version: Number(r.version),
  messageCount: r.message_count,
  chunkCount: r.chunk_count,
  start: r.start_ts && new Date(r.start_ts),
  end: r.end_ts && new Date(r.end_ts),
  createdAt: new Date(r.created_at),
  updatedAt: new Date(r.updated_at),
  participants: r.participants,
});

/**
 * The columns of a summary. Participants come from the chunks' author lists (a chunk holds about
 * seven messages, so this reads a seventh of the rows the messages would), as JSON: the client
 * runs without fetch_types, which would return text[] as text.
 */
const summaryColumns = (db: Db) => db`
  c.id, c.title, c.metadata, c.version, c.message_count, c.chunk_count, c.start_ts, c.end_ts, c.created_at, c.updated_at,
  array_to_json(ARRAY(
    SELECT DISTINCT author FROM conversation_chunks ch CROSS JOIN LATERAL unnest(ch.authors) AS author
    WHERE ch.tenant_id = c.tenant_id AND ch.conversation_id = c.id ORDER BY author)) AS participants`;

/** `%`, `_` and a backslash match themselves in a LIKE pattern built from `text`. */
const likeEscaped = (text: string) => text.replace(/[\\%_]/g, (ch) => `\\${ch}`);

export async function getConversation(db: Db, tenantId: string, id: string): Promise<ConversationSummary | undefined> {
  const [row] = await db<Row[]>`
    SELECT ${summaryColumns(db)} FROM conversations c WHERE c.tenant_id = ${tenantId} AND c.id = ${id}`;
  return row && toSummary(row);
}

/**
 * One page in id order; `after` is the last id of the previous page. `search` keeps conversations
 * whose title or id contains it, ignoring case.
 */
export async function listConversations(
  db: Db,
  tenantId: string,
  limit: number,
  after: string | undefined,
  search?: string,
): Promise<ConversationSummary[]> {
  const pattern = search === undefined ? undefined : `%${likeEscaped(search)}%`;
  const rows = await db<Row[]>`
    SELECT ${summaryColumns(db)} FROM conversations c
    WHERE c.tenant_id = ${tenantId} ${after === undefined ? db`` : db`AND c.id > ${after}`}
      ${pattern === undefined ? db`` : db`AND (c.title ILIKE ${pattern} OR c.id ILIKE ${pattern})`}
    ORDER BY c.id LIMIT ${limit}`;
  return rows.map(toSummary);
}

export interface ConversationWrite {
  title: string | null | undefined;
  metadata: Record<string, unknown> | undefined;
}

/** Creates the conversation row if missing; returns whether it was created and its title/metadata before. */
export async function ensureConversation(
  db: Db,
  tenantId: string,
  id: string,
): Promise<{ created: boolean; title: string | null; metadata: string }> {
  const [row] = await db<{ created: boolean; title: string | null; metadata: string }[]>`
    WITH ins AS (
      INSERT INTO conversations (tenant_id, id) VALUES (${tenantId}, ${id})
      ON CONFLICT (tenant_id, id) DO NOTHING RETURNING true AS created, title, metadata::text AS metadata)
    SELECT created, title, metadata FROM ins
    UNION ALL
    SELECT false, title, metadata::text FROM conversations WHERE tenant_id = ${tenantId} AND id = ${id}
    LIMIT 1`;
  return row!;
}

/**
 * Writes title/metadata, the counts the ingest arrived at (it holds the conversation's lock, so they
 * are exact; counting here would cost a scan of a long conversation per batch) and the time range;
 * bumps the data version when anything changed.
 */
export async function finishConversation(
  db: Db,
  tenantId: string,
  id: string,
  write: ConversationWrite & { changed: boolean; created: boolean; messageCount: number; chunkCount: number },
): Promise<number> {
  const [row] = await db<{ version: string }[]>`
    UPDATE conversations c SET
      title = ${write.title === undefined ? db`c.title` : db`${write.title}`},
      metadata = ${write.metadata === undefined ? db`c.metadata` : db`${json(db, write.metadata)}::jsonb`},
      version = c.version + ${write.changed && !write.created ? 1 : 0},
      updated_at = ${write.changed ? db`now()` : db`c.updated_at`},
      message_count = ${write.messageCount},
      chunk_count = ${write.chunkCount},
      start_ts = (SELECT min("timestamp") FROM messages m WHERE m.tenant_id = c.tenant_id AND m.conversation_id = c.id),
      end_ts = (SELECT max("timestamp") FROM messages m WHERE m.tenant_id = c.tenant_id AND m.conversation_id = c.id)
    WHERE c.tenant_id = ${tenantId} AND c.id = ${id}
    RETURNING version`;
  return Number(row!.version);
}

/**
 * Deletes a conversation with its messages and chunks (cascade) and the tenant's embedding-cache
 * rows of its chunks' text that none of the tenant's other conversations uses. Returns false when
 * the tenant has no such conversation.
 */
export async function deleteConversation(db: Db, tenantId: string, id: string): Promise<boolean> {
  const rows = await db`
    WITH texts AS (
      SELECT DISTINCT v.model, encode(sha256(convert_to(c.text, 'UTF8')), 'hex') AS text_hash
      FROM conversation_chunks c JOIN chunk_vectors v ON v.tenant_id = ${tenantId} AND v.chunk_id = c.id
      WHERE c.tenant_id = ${tenantId} AND c.conversation_id = ${id}),
    cache AS (
      DELETE FROM embedding_cache e USING texts t
      WHERE e.tenant_id = ${tenantId} AND e.model = t.model AND e.content_hash = t.text_hash
        AND NOT EXISTS (SELECT 1 FROM conversation_chunks o WHERE o.tenant_id = ${tenantId} AND o.conversation_id <> ${id}
          AND encode(sha256(convert_to(o.text, 'UTF8')), 'hex') = t.text_hash))
    DELETE FROM conversations WHERE tenant_id = ${tenantId} AND id = ${id} RETURNING id`;
  return rows.length > 0;
}

/** Which of these conversation ids the tenant has. */
export async function existingConversationIds(db: Db, tenantId: string, ids: string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await db<{ id: string }[]>`
    SELECT id FROM conversations WHERE tenant_id = ${tenantId} AND id IN (SELECT jsonb_array_elements_text(${json(db, ids)}::jsonb))`;
  return new Set(rows.map((r) => r.id));
}
