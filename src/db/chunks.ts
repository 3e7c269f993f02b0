import type { Chunk } from "../ingest/chunker.ts";
import type { Db } from "./client.ts";
import { json } from "./json.ts";
import { pairKey } from "./ports.ts";

export interface StoredChunkRef {
  id: string;
  orderIndex: number;
  contentHash: string;
}

export async function listChunkRefs(db: Db, tenantId: string, conversationId: string): Promise<StoredChunkRef[]> {
  const rows = await db<{ id: string; order_index: number; content_hash: string }[]>`
    SELECT id, order_index, content_hash FROM conversation_chunks
    WHERE tenant_id = ${tenantId} AND conversation_id = ${conversationId} ORDER BY order_index`;
  return rows.map((r) => ({ id: r.id, orderIndex: r.order_index, contentHash: r.content_hash }));
}

/** A stored chunk near the end of the conversation, with the ids of its messages. */
export interface TailChunkRef extends StoredChunkRef {
  messageIds: string[];
}

/** The conversation's last `limit` chunks, in order, and how many it has in all. */
export async function tailChunkRefs(
  db: Db,
  tenantId: string,
  conversationId: string,
  limit: number,
): Promise<{ total: number; chunks: TailChunkRef[] }> {
  const rows = await db<{ id: string; order_index: number; content_hash: string; message_ids: string[]; total: string }[]>`
    SELECT id, order_index, content_hash, array_to_json(message_ids) AS message_ids, -- arrays: JSON (the client runs without fetch_types)
      (SELECT count(*) FROM conversation_chunks WHERE tenant_id = ${tenantId} AND conversation_id = ${conversationId}) AS total
    FROM conversation_chunks
    WHERE tenant_id = ${tenantId} AND conversation_id = ${conversationId} ORDER BY order_index DESC LIMIT ${limit}`;
  return {
    total: rows.length === 0 ? 0 : Number(rows[0]!.total),
    chunks: rows.map((r) => ({ id: r.id, orderIndex: r.order_index, contentHash: r.content_hash, messageIds: r.message_ids })).reverse(),
  };
}

export interface NewChunk extends Chunk {
  contentHash: string;
  /** SHA-256 of the text: the embedding cache's key, where the chunk's vector is taken from. */
  textHash: string;
}

/**
 * Inserts chunks with their vectors taken from the tenant's embedding cache (the ingest put them
 * there first): vectors never travel twice, nor get printed as text again. A chunk whose vector is
 * not cached would be left out, so the count is checked and a shortfall fails the transaction.
 */
export async function insertChunks(db: Db, tenantId: string, conversationId: string, model: string, chunks: NewChunk[]): Promise<void> {
  if (chunks.length === 0) return;
  const rows = chunks.map((c) => ({
    order_index: c.orderIndex,
    text: c.text,
    message_ids: c.messageIds,
    authors: c.authors,
    author_types: c.authorTypes,
    author_type: c.authorType,
    start_ts: c.start.toISOString(),
    end_ts: c.end.toISOString(),
    token_count: c.tokenCount,
    content_hash: c.contentHash,
    text_hash: c.textHash,
  }));
  const inserted = await db`
    INSERT INTO conversation_chunks (tenant_id, conversation_id, order_index, text, message_ids, authors, author_types,
      author_type, start_ts, end_ts, token_count, content_hash, embedding_model, embedding)
    SELECT ${tenantId}, ${conversationId}, r.order_index, r.text, r.message_ids, r.authors, r.author_types,
      r.author_type, r.start_ts, r.end_ts, r.token_count, r.content_hash, ${model}, e.embedding
    FROM jsonb_to_recordset(${json(db, rows)}::jsonb) AS r(order_index int, text text, message_ids text[],
      authors text[], author_types text[], author_type text, start_ts timestamptz, end_ts timestamptz,
      token_count int, content_hash text, text_hash text)
    JOIN embedding_cache e ON e.tenant_id = ${tenantId} AND e.model = ${model} AND e.content_hash = r.text_hash`;
  if (inserted.count !== chunks.length) {
    throw new Error(`insertChunks: ${chunks.length - inserted.count} of ${chunks.length} chunks had no cached vector`);
  }
}

/** Moves kept chunks to their new positions after messages were inserted before them. */
export async function reorderChunks(db: Db, tenantId: string, moves: { id: string; orderIndex: number }[]): Promise<void> {
  if (moves.length === 0) return;
  await db`
    UPDATE conversation_chunks c SET order_index = r.order_index
    FROM jsonb_to_recordset(${json(
      db,
      moves.map((m) => ({ id: m.id, order_index: m.orderIndex })),
    )}::jsonb)
      AS r(id uuid, order_index int)
    WHERE c.tenant_id = ${tenantId} AND c.id = r.id`;
}

/**
 * Deletes chunks and, with them, the embedding-cache rows of their text, unless a chunk that
 * stays (`keepTextHashes`) has the same text.
 */
export async function deleteChunks(
  db: Db,
  tenantId: string,
  conversationId: string,
  ids: string[],
  keepTextHashes: string[] = [],
): Promise<void> {
  if (ids.length === 0) return;
  await db`
    WITH gone AS (
      DELETE FROM conversation_chunks
      WHERE tenant_id = ${tenantId} AND conversation_id = ${conversationId} AND id IN (SELECT jsonb_array_elements_text(${json(db, ids)}::jsonb)::uuid)
      RETURNING embedding_model, encode(sha256(convert_to(text, 'UTF8')), 'hex') AS text_hash)
    DELETE FROM embedding_cache e USING gone
    WHERE e.tenant_id = ${tenantId} AND e.model = gone.embedding_model AND e.content_hash = gone.text_hash
      AND gone.text_hash NOT IN (SELECT jsonb_array_elements_text(${json(db, keepTextHashes)}::jsonb))`;
}

/**
 * Cosine similarity of every pair of the tenant's chunks with these ids, computed by Postgres: a
 * dozen candidates give 66 numbers instead of a dozen vectors sent as text and parsed.
 */
export async function chunkSimilarities(db: Db, tenantId: string, ids: string[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  if (ids.length < 2) return out;
  const rows = await db<{ a: string; b: string; s: number }[]>`
    WITH c AS (
      SELECT id, embedding FROM conversation_chunks
      WHERE tenant_id = ${tenantId} AND id IN (SELECT jsonb_array_elements_text(${json(db, ids)})::uuid))
    SELECT x.id::text AS a, y.id::text AS b, 1 - (x.embedding <=> y.embedding) AS s FROM c x JOIN c y ON x.id < y.id`;
  for (const r of rows) out.set(pairKey(r.a, r.b), Number(r.s));
  return out;
}
