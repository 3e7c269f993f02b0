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
 * Inserts chunks, and each chunk's vector under every one of `models` taken from the tenant's
 * embedding cache (the ingest put them there first): vectors never travel twice, nor get printed
 * as text again. A vector that is not cached would be left out, so the count is checked and a
 * shortfall fails the transaction.
 */
export async function insertChunks(db: Db, tenantId: string, conversationId: string, models: string[], chunks: NewChunk[]): Promise<void> {
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
  const [counts] = await db<{ chunks: number; vectors: number }[]>`
    WITH r AS (
      SELECT * FROM jsonb_to_recordset(${json(db, rows)}::jsonb) AS r(order_index int, text text, message_ids text[],
        authors text[], author_types text[], author_type text, start_ts timestamptz, end_ts timestamptz,
        token_count int, content_hash text, text_hash text)),
    added AS (
      INSERT INTO conversation_chunks (tenant_id, conversation_id, order_index, text, message_ids, authors, author_types,
        author_type, start_ts, end_ts, token_count, content_hash)
      SELECT ${tenantId}, ${conversationId}, order_index, text, message_ids, authors, author_types,
        author_type, start_ts, end_ts, token_count, content_hash FROM r
      RETURNING id, order_index),
    vectors AS (
      INSERT INTO chunk_vectors (chunk_id, tenant_id, model, embedding)
      SELECT a.id, ${tenantId}, e.model, e.embedding
      FROM added a JOIN r ON r.order_index = a.order_index
      JOIN embedding_cache e ON e.tenant_id = ${tenantId} AND e.content_hash = r.text_hash
        AND e.model IN (SELECT jsonb_array_elements_text(${json(db, models)}::jsonb))
      RETURNING 1)
    SELECT (SELECT count(*) FROM added)::int AS chunks, (SELECT count(*) FROM vectors)::int AS vectors`;
  const wanted = chunks.length * models.length;
  if (counts!.chunks !== chunks.length || counts!.vectors !== wanted) {
    throw new Error(`insertChunks: ${wanted - counts!.vectors} of ${wanted} vectors were not cached`);
  }
}

/** Adds vectors under `model` to the tenant's chunks, from its embedding cache; the number added. */
export async function insertChunkVectors(
  db: Db,
  tenantId: string,
  model: string,
  chunks: { id: string; textHash: string }[],
): Promise<number> {
  if (chunks.length === 0) return 0;
  const rows = chunks.map((c) => ({ id: c.id, text_hash: c.textHash }));
  const added = await db`
    INSERT INTO chunk_vectors (chunk_id, tenant_id, model, embedding)
    SELECT c.id, ${tenantId}, ${model}, e.embedding
    FROM jsonb_to_recordset(${json(db, rows)}::jsonb) AS r(id uuid, text_hash text)
    JOIN conversation_chunks c ON c.tenant_id = ${tenantId} AND c.id = r.id
    JOIN embedding_cache e ON e.tenant_id = ${tenantId} AND e.model = ${model} AND e.content_hash = r.text_hash
    ON CONFLICT (chunk_id, model) DO NOTHING`;
  return added.count;
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
 * Deletes chunks (their vectors go with them) and the embedding-cache rows of their text under
 * every model they had a vector for, unless a chunk that stays (`keepTextHashes`) has the same text.
 */
export async function deleteChunks(
  db: Db,
  tenantId: string,
  conversationId: string,
  ids: string[],
  keepTextHashes: string[] = [],
): Promise<void> {
  if (ids.length === 0) return;
  // The vectors CTE reads the snapshot from before the statement: the cascade has not run yet.
  await db`
    WITH gone AS (
      DELETE FROM conversation_chunks
      WHERE tenant_id = ${tenantId} AND conversation_id = ${conversationId} AND id IN (SELECT jsonb_array_elements_text(${json(db, ids)}::jsonb)::uuid)
      RETURNING id, encode(sha256(convert_to(text, 'UTF8')), 'hex') AS text_hash),
    cached AS (
      SELECT DISTINCT v.model, gone.text_hash FROM gone JOIN chunk_vectors v ON v.tenant_id = ${tenantId} AND v.chunk_id = gone.id)
    DELETE FROM embedding_cache e USING cached
    WHERE e.tenant_id = ${tenantId} AND e.model = cached.model AND e.content_hash = cached.text_hash
      AND cached.text_hash NOT IN (SELECT jsonb_array_elements_text(${json(db, keepTextHashes)}::jsonb))`;
}

/**
 * Cosine similarity, under `model`, of every pair of the tenant's chunks with these ids, computed
 * by Postgres: a dozen candidates give 66 numbers instead of a dozen vectors sent as text and parsed.
 */
export async function chunkSimilarities(db: Db, tenantId: string, model: string, ids: string[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  if (ids.length < 2) return out;
  const rows = await db<{ a: string; b: string; s: number }[]>`
    WITH c AS (
      SELECT chunk_id AS id, embedding FROM chunk_vectors
      WHERE tenant_id = ${tenantId} AND model = ${model} AND chunk_id IN (SELECT jsonb_array_elements_text(${json(db, ids)})::uuid))
    SELECT x.id::text AS a, y.id::text AS b, 1 - (x.embedding <=> y.embedding) AS s FROM c x JOIN c y ON x.id < y.id`;
  for (const r of rows) out.set(pairKey(r.a, r.b), Number(r.s));
  return out;
}
