import type { NewChunk } from "../db/chunks.ts";
import type { StoredMessage } from "../db/messages.ts";
import type { ConversationStore, ConversationTx } from "../db/ports.ts";
import { sha256Hex } from "../hash.ts";
import type { Embedder } from "../providers/embedder.ts";
import type { Tokenizer } from "../tokens/tokenizer.ts";
import { type Chunk, type ChunkOptions, chunkMessages } from "./chunker.ts";
import type { IngestMessage, IngestRequest } from "./ingest-schema.ts";

export interface IngestDeps {
  /** The tenant's conversations (the port is bound to the tenant). */
  conversations: ConversationStore;
  embedder: Embedder;
  tokenizer: Tokenizer;
  chunking: ChunkOptions;
  statementTimeoutMs: number;
}

export interface IngestResult {
  id: string;
  created: boolean;
  changed: boolean;
  version: number;
  messages: { total: number; inserted: number; updated: number; deleted: number; unchanged: number };
  chunks: { total: number; inserted: number; deleted: number; unchanged: number };
  embeddings: { computed: number; cached: number; provider_calls: number };
}

const messageHash = (m: Pick<StoredMessage, "authorName" | "authorType" | "text" | "timestamp">) =>
  sha256Hex(m.authorName, m.authorType, m.text, m.timestamp.toISOString());

/**
 * Merges the request into the stored conversation: existing messages are kept, the request's
 * are inserted or replaced by id (with mode "replace", messages it omits are deleted), then the
 * order is fixed by timestamp. Stable: re-sending the same messages yields the same list.
 */
export function mergeMessages(existing: StoredMessage[], incoming: IngestMessage[], mode: "merge" | "replace"): StoredMessage[] {
  const byId = new Map(incoming.map((m) => [m.id, m]));
  const toStored = (m: IngestMessage): StoredMessage => {
    const base = { authorName: m.author_name, authorType: m.author_type, text: m.text, timestamp: m.timestamp };
    return { id: m.id, ...base, orderIndex: -1, contentHash: messageHash(base) };
  };
  const merged: StoredMessage[] = [];
  for (const old of existing) {
    const update = byId.get(old.id);
    if (update) {
      merged.push(toStored(update));
      byId.delete(old.id);
    } else if (mode === "merge") merged.push(old);
  }
  for (const m of byId.values()) merged.push(toStored(m));
  // Array.prototype.sort is stable, so equal timestamps keep stored order, then request order.
  merged.sort((a, b) => a.timestamp.getTime() - b.timestamp.getTime());
  return merged.map((m, i) => ({ ...m, orderIndex: i }));
}

/**
 * Ingests one conversation in a single transaction: messages, chunks and embeddings are all
 * stored, or nothing is. Concurrent ingests of the same conversation are serialised by an
 * advisory lock; unchanged chunks keep their rows and vectors.
 */
export async function ingestConversation(deps: IngestDeps, body: IngestRequest): Promise<IngestResult> {
  return deps.conversations.transaction(body.id, deps.statementTimeoutMs, async (tx) => {
    const conversation = await tx.ensure();
    const existing = await tx.messages();
    const merged = mergeMessages(existing, body.messages, body.mode);

    const before = new Map(existing.map((m) => [m.id, m]));
    const keptIds = new Set(merged.map((m) => m.id));
    const writes = merged.filter((m) => {
      const old = before.get(m.id);
      return !old || old.contentHash !== m.contentHash || old.orderIndex !== m.orderIndex;
    });
    const inserted = merged.filter((m) => !before.has(m.id)).length;
    const updated = merged.filter((m) => before.has(m.id) && before.get(m.id)!.contentHash !== m.contentHash).length;
    const deletedIds = existing.filter((m) => !keptIds.has(m.id)).map((m) => m.id);

    await tx.deleteMessages(deletedIds);
    await tx.upsertMessages(writes);

    const chunks = await syncChunks(tx, deps, merged);

    const metadataChanged = body.metadata !== undefined && stableJson(body.metadata) !== stableJson(JSON.parse(conversation.metadata));
    const titleChanged = body.title !== undefined && body.title !== conversation.title;
    const changed =
      conversation.created ||
      inserted + updated + deletedIds.length + chunks.inserted + chunks.deleted > 0 ||
      metadataChanged ||
      titleChanged;
    const version = await tx.finish({ title: body.title, metadata: body.metadata, changed, created: conversation.created });

    return {
      id: body.id,
      created: conversation.created,
      changed,
      version,
      messages: { total: merged.length, inserted, updated, deleted: deletedIds.length, unchanged: merged.length - inserted - updated },
      chunks: { total: chunks.total, inserted: chunks.inserted, deleted: chunks.deleted, unchanged: chunks.total - chunks.inserted },
      embeddings: chunks.embeddings,
    };
  });
}

/** JSON with object keys sorted: jsonb reorders keys, so metadata is compared by value. */
function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

async function syncChunks(tx: ConversationTx, deps: IngestDeps, messages: StoredMessage[]) {
  const { embedder } = deps;
  const wanted = chunkMessages(messages, deps.tokenizer, deps.chunking).map((c) => ({
    ...c,
    textHash: sha256Hex(c.text),
    contentHash: sha256Hex(embedder.model, c.text, ...c.messageIds),
  }));
  const stored = await tx.chunkRefs();

  // Chunks are matched by content: an unchanged chunk keeps its row and vector, even if it moved.
  const available = new Map<string, { id: string; orderIndex: number }[]>();
  for (const s of stored) available.set(s.contentHash, [...(available.get(s.contentHash) ?? []), s]);
  const moves: { id: string; orderIndex: number }[] = [];
  const missing: typeof wanted = [];
  for (const c of wanted) {
    const match = available.get(c.contentHash)?.shift();
    if (match === undefined) missing.push(c);
    else if (match.orderIndex !== c.orderIndex) moves.push({ id: match.id, orderIndex: c.orderIndex });
  }
  const obsolete = [...available.values()].flat().map((s) => s.id);
  await tx.deleteChunks(
    obsolete,
    wanted.map((c) => c.textHash),
  );
  await tx.reorderChunks(moves);

  const embeddings = { computed: 0, cached: 0, provider_calls: 0 };
  for (let i = 0; i < missing.length; i += embedder.batchSize) {
    const batch = missing.slice(i, i + embedder.batchSize);
    const vectors = await embedBatch(tx, embedder, batch, embeddings);
    await tx.insertChunks(
      embedder.model,
      batch.map((c, j): NewChunk => ({ ...c, embedding: vectors[j]! })),
    );
  }
  return { total: wanted.length, inserted: missing.length, deleted: obsolete.length, embeddings };
}

/** Vectors for a batch of chunks: from the embedding cache where present, else one provider call. */
async function embedBatch(
  tx: ConversationTx,
  embedder: Embedder,
  batch: (Chunk & { textHash: string })[],
  counts: IngestResult["embeddings"],
): Promise<Float32Array[]> {
  const cached = await tx.embeddings.get(embedder.model, [...new Set(batch.map((c) => c.textHash))]);
  const toEmbed = new Map<string, string>();
  for (const c of batch) if (!cached.has(c.textHash)) toEmbed.set(c.textHash, c.text);
  if (toEmbed.size > 0) {
    const vectors = await embedder.embed([...toEmbed.values()]);
    counts.provider_calls++;
    const fresh = [...toEmbed.keys()].map((hash, i) => ({ hash, embedding: vectors[i]! }));
    for (const f of fresh) cached.set(f.hash, f.embedding);
    await tx.embeddings.put(embedder.model, fresh);
  }
  counts.computed += toEmbed.size;
  counts.cached += batch.length - toEmbed.size;
  return batch.map((c) => cached.get(c.textHash)!);
}
