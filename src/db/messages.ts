import type { Db } from "./client.ts";
import { json } from "./json.ts";

export interface StoredMessage {
  id: string;
  authorName: string;
  authorType: string;
  text: string;
  timestamp: Date;
  orderIndex: number;
  contentHash: string;
}

export async function listMessages(db: Db, tenantId: string, conversationId: string): Promise<StoredMessage[]> {
  const rows = await db<(MessageRow & { content_hash: string })[]>`
    SELECT id, author_name, author_type, text, "timestamp" AS ts, order_index, content_hash
    FROM messages WHERE tenant_id = ${tenantId} AND conversation_id = ${conversationId}
    ORDER BY order_index`;
  return rows.map(toStoredMessage);
}

/** A messages row as the queries here and in message-pages.ts select it ("timestamp" AS ts). */
export interface MessageRow {
  id: string;
  author_name: string;
  author_type: string;
  text: string;
  ts: Date;
  order_index: number;
}

function toStoredMessage(r: MessageRow & { content_hash: string }): StoredMessage {
  return {
    id: r.id,
    authorName: r.author_name,
    authorType: r.author_type,
    text: r.text,
    timestamp: new Date(r.ts),
    orderIndex: r.order_index,
    contentHash: r.content_hash,
  };
}

/** Where an append would land: the stored count and last time, and which of `ids` are stored already. */
export interface AppendPoint {
  messageCount: number;
  lastTimestamp: Date | null;
  known: { id: string; contentHash: string }[];
}

export async function appendPoint(db: Db, tenantId: string, conversationId: string, ids: string[]): Promise<AppendPoint> {
  const [row] = await db<{ n: string; last_ts: Date | null; known: { id: string; content_hash: string }[] | null }[]>`
    SELECT
      (SELECT count(*) FROM messages WHERE tenant_id = ${tenantId} AND conversation_id = ${conversationId}) AS n,
      (SELECT max("timestamp") FROM messages WHERE tenant_id = ${tenantId} AND conversation_id = ${conversationId}) AS last_ts,
      (SELECT jsonb_agg(jsonb_build_object('id', id, 'content_hash', content_hash)) FROM messages
        WHERE tenant_id = ${tenantId} AND conversation_id = ${conversationId}
          AND id IN (SELECT jsonb_array_elements_text(${json(db, ids)}::jsonb))) AS known`;
  return {
    messageCount: Number(row!.n),
    lastTimestamp: row!.last_ts === null ? null : new Date(row!.last_ts),
    known: (row!.known ?? []).map((k) => ({ id: k.id, contentHash: k.content_hash })),
  };
}

/** The conversation's messages from the one with this id onwards, in order. */
export async function messagesFrom(db: Db, tenantId: string, conversationId: string, firstId: string): Promise<StoredMessage[]> {
  const rows = await db<(MessageRow & { content_hash: string })[]>`
    SELECT id, author_name, author_type, text, "timestamp" AS ts, order_index, content_hash
    FROM messages WHERE tenant_id = ${tenantId} AND conversation_id = ${conversationId}
      AND order_index >= (SELECT order_index FROM messages WHERE tenant_id = ${tenantId} AND conversation_id = ${conversationId} AND id = ${firstId})
    ORDER BY order_index`;
  return rows.map(toStoredMessage);
}

/** Inserts or updates messages in one statement (the batch travels as one JSON parameter). */
export async function upsertMessages(db: Db, tenantId: string, conversationId: string, messages: StoredMessage[]): Promise<void> {
  if (messages.length === 0) return;
  const rows = messages.map((m) => ({
    id: m.id,
    author_name: m.authorName,
    author_type: m.authorType,
    text: m.text,
    ts: m.timestamp.toISOString(),
    order_index: m.orderIndex,
    content_hash: m.contentHash,
  }));
  await db`
    INSERT INTO messages (tenant_id, conversation_id, id, author_name, author_type, text, "timestamp", order_index, content_hash)
    SELECT ${tenantId}, ${conversationId}, r.id, r.author_name, r.author_type, r.text, r.ts, r.order_index, r.content_hash
    FROM jsonb_to_recordset(${json(db, rows)}::jsonb)
      AS r(id text, author_name text, author_type text, text text, ts timestamptz, order_index int, content_hash text)
    ON CONFLICT (tenant_id, conversation_id, id) DO UPDATE SET
      author_name = excluded.author_name, author_type = excluded.author_type, text = excluded.text,
      "timestamp" = excluded."timestamp", order_index = excluded.order_index, content_hash = excluded.content_hash`;
}

export async function deleteMessages(db: Db, tenantId: string, conversationId: string, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  await db`DELETE FROM messages WHERE tenant_id = ${tenantId} AND conversation_id = ${conversationId} AND id IN (SELECT jsonb_array_elements_text(${json(db, ids)}::jsonb))`;
}

/** Who sent a message and when: what a cited source shows beside the text it sent to the model. */
export interface MessageDetails {
  authorName: string;
  authorType: string;
  timestamp: Date;
  /** The title of the message's conversation, when it has one. */
  conversationTitle: string | null;
}

/** `conversation id NUL message id`: the key of messageDetails' map. */
export const messageKey = (conversationId: string, id: string) => `${conversationId}\u0000${id}`;

/** The author and exact time of the given messages, and their conversation's title, in one query; a message that is gone is absent. */
export async function messageDetails(
  db: Db,
  tenantId: string,
  refs: { conversationId: string; messageIds: string[] }[],
): Promise<Map<string, MessageDetails>> {
  const out = new Map<string, MessageDetails>();
  const wanted = refs.flatMap((r) => r.messageIds.map((id) => ({ c: r.conversationId, m: id })));
  if (wanted.length === 0) return out;
  const rows = await db<
    { conversation_id: string; id: string; author_name: string; author_type: string; ts: Date; title: string | null }[]
  >`
    SELECT m.conversation_id, m.id, m.author_name, m.author_type, m."timestamp" AS ts, c.title
    FROM messages m JOIN jsonb_to_recordset(${json(db, wanted)}::jsonb) AS w(c text, m text)
      ON m.conversation_id = w.c AND m.id = w.m
    JOIN conversations c ON c.tenant_id = m.tenant_id AND c.id = m.conversation_id
    WHERE m.tenant_id = ${tenantId}`;
  for (const r of rows) {
    out.set(messageKey(r.conversation_id, r.id), {
      authorName: r.author_name,
      authorType: r.author_type,
      timestamp: new Date(r.ts),
      conversationTitle: r.title,
    });
  }
  return out;
}
