import type { StoredChunkRef } from "../db/chunks.ts";
import type { EmbeddingModel } from "../db/embedding-models.ts";
import type { StoredMessage } from "../db/messages.ts";
import type { ConversationStore, ConversationTx, EmbeddingStore } from "../db/ports.ts";
import { sha256Hex } from "../hash.ts";
import type { Embedder } from "../providers/embedder.ts";
import type { Tokenizer } from "../tokens/tokenizer.ts";
import { type Chunk, type ChunkOptions, chunkMessages } from "./chunker.ts";
import type { IngestMessage, IngestRequest } from "./ingest-schema.ts";

export interface IngestDeps {
  /** The tenant's conversations (the port is bound to the tenant). */
  conversations: ConversationStore;
  /** The configured model's embedder (EMBEDDING_*), and its provider's name. */
  embedder: Embedder;
  provider: string;
  /**
   * The embedder of another model the tenant's chunks need vectors for: the one it still searches
   * with, or the one being filled in, while its model changes (src/reembed). Without it, only the
   * configured model can be served.
   */
  embedderFor?: (model: EmbeddingModel) => Embedder;
  tokenizer: Tokenizer;
  chunking: ChunkOptions;
  statementTimeoutMs: number;
  /**
   * The tenant's embedding cache outside any transaction: with it, an append's new chunks are
   * embedded before its transaction (prepareAppend). Without it, inside.
   */
  embeddings?: EmbeddingStore;
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

/** What storing the messages did; the counts are the conversation's totals afterwards. */
interface Stored {
  messages: IngestResult["messages"];
  chunks: IngestResult["chunks"];
  embeddings: IngestResult["embeddings"];
}

/**
 * Ingests one conversation in a single transaction: messages, chunks and embeddings are all
 * stored, or nothing is. Concurrent ingests of the same conversation are serialised by an
 * advisory lock; unchanged chunks keep their rows and vectors.
 *
 * Messages that only add to the end of the conversation (the usual case: a chat goes on, an
 * import's next batch, a longer export of the same chat) take the append path, whose work
 * follows the batch, not the conversation's length. Anything else (an edit, a message placed
 * before stored ones, mode "replace") re-reads and re-chunks the whole conversation.
 */
export async function ingestConversation(deps: IngestDeps, body: IngestRequest): Promise<IngestResult> {
  const prepared = await prepareAppend(deps, body);
  return deps.conversations.transaction(body.id, deps.statementTimeoutMs, async (tx) => {
    const embedders = modelEmbedders(deps, await tx.liveModels(configuredModel(deps)));
    const conversation = await tx.ensure();
    const appendable = body.mode === "merge" || conversation.created;
    const plan = appendable ? await planAppend(tx, deps, embedders[0]!, body.messages, prepared.plan) : undefined;
    const stored = plan ? await applyAppend(tx, embedders, plan) : await mergeAll(tx, deps, embedders, body);
    // Vectors computed before the transaction were found in the cache inside it.
    const before = prepared.embeddings;
    stored.embeddings = {
      computed: before.computed + stored.embeddings.computed,
      cached: Math.max(0, stored.embeddings.cached - before.computed),
      provider_calls: before.provider_calls + stored.embeddings.provider_calls,
    };

    const metadataChanged = body.metadata !== undefined && stableJson(body.metadata) !== stableJson(JSON.parse(conversation.metadata));
    const titleChanged = body.title !== undefined && body.title !== conversation.title;
    const { messages, chunks } = stored;
    const changed =
      conversation.created ||
      messages.inserted + messages.updated + messages.deleted + chunks.inserted + chunks.deleted > 0 ||
      metadataChanged ||
      titleChanged;
    const version = await tx.finish({
      title: body.title,
      metadata: body.metadata,
      changed,
      created: conversation.created,
      messageCount: messages.total,
      chunkCount: chunks.total,
    });
    return { id: body.id, created: conversation.created, changed, version, ...stored };
  });
}

const configuredModel = (deps: IngestDeps): EmbeddingModel => ({
  provider: deps.provider,
  model: deps.embedder.model,
  dimensions: deps.embedder.dimensions,
});

/** The embedders of the tenant's live models, its search model's first. */
function modelEmbedders(deps: IngestDeps, live: EmbeddingModel[]): Embedder[] {
  return live.map((m) => {
    if (m.model === deps.embedder.model) return deps.embedder;
    if (!deps.embedderFor) throw new Error(`ingest: no embedder for the tenant's model ${m.model}`);
    return deps.embedderFor(m);
  });
}

/** The whole conversation merged with the request, re-chunked, and the difference written. */
async function mergeAll(tx: ConversationTx, deps: IngestDeps, embedders: Embedder[], body: IngestRequest): Promise<Stored> {
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

  const wanted = wantedChunks(deps, embedders[0]!, merged, 0);
  const sync = await syncChunks(tx, embedders, wanted, await tx.chunkRefs());
  return {
    messages: { total: merged.length, inserted, updated, deleted: deletedIds.length, unchanged: merged.length - inserted - updated },
    chunks: { total: wanted.length, inserted: sync.inserted, deleted: sync.deleted, unchanged: wanted.length - sync.inserted },
    embeddings: sync.embeddings,
  };
}

/** How many of the last chunks the append path reads to find where chunking may start again. */
const TAIL_CHUNKS = 16;

/** What the append path will write; `key` names the stored state it was computed from. */
interface AppendPlan {
  key: string;
  messageCount: number;
  fresh: number;
  tailTotal: number;
  restart: StoredChunkRef[];
  added: StoredMessage[];
  wanted: WantedChunk[];
}

/**
 * The append path's plan, or undefined when the request is not an append. It is one when every
 * message it names is either new and no earlier than the last stored one, or stored already
 * unchanged. Reads only. Given the plan made before the transaction (`earlier`) for the same
 * stored state, it is reused rather than chunked again.
 *
 * The chunker starts every chunk with nothing carried over from the one before (see
 * chunkMessages), so chunking again from the first message of the last chunk gives exactly the
 * chunks a full re-chunk would give from there; the chunks before it cannot change. The one
 * exception is a message split over several chunks: the walk back starts from its first piece.
 */
async function planAppend(
  tx: ConversationTx,
  deps: IngestDeps,
  primary: Embedder,
  incoming: IngestMessage[],
  earlier?: AppendPlan,
): Promise<AppendPlan | undefined> {
  const point = await tx.appendPoint(incoming.map((m) => m.id));
  const storedHash = new Map(point.known.map((k) => [k.id, k.contentHash]));
  const fresh: IngestMessage[] = [];
  for (const m of incoming) {
    const hash = storedHash.get(m.id);
    if (hash === undefined) fresh.push(m);
    else if (hash !== messageHash(asStored(m))) return undefined; // an edit
  }
  const last = point.lastTimestamp?.getTime() ?? Number.NEGATIVE_INFINITY;
  if (fresh.some((m) => m.timestamp.getTime() < last)) return undefined; // lands before stored messages

  const tail = await tx.tailChunks(TAIL_CHUNKS);
  if (tail.total === 0 && point.messageCount > 0) return undefined; // messages without chunks: repair by a full pass
  let start = tail.chunks.length - 1;
  while (start > 0 && tail.chunks[start]!.messageIds[0] === tail.chunks[start - 1]!.messageIds.at(-1)) start--;
  if (start === 0 && tail.chunks.length > 0 && tail.chunks[0]!.orderIndex > 0) return undefined; // a piece of a longer message

  const restart = tail.chunks.slice(Math.max(start, 0)); // empty for a conversation without chunks yet
  const key = [primary.model, point.messageCount, last, tail.total, fresh.length, ...restart.map((c) => `${c.id}:${c.contentHash}`)].join(
    "|",
  );
  if (earlier?.key === key) return earlier;
  const base = { key, messageCount: point.messageCount, fresh: fresh.length, tailTotal: tail.total, restart };
  if (fresh.length === 0) return { ...base, added: [], wanted: [] };

  // Array.prototype.sort is stable: equal timestamps keep request order, after the stored ones (as mergeMessages).
  const added = fresh
    .map((m) => ({ ...asStored(m), id: m.id }))
    .sort((a, b) => a.timestamp.getTime() - b.timestamp.getTime())
    .map((m, i): StoredMessage => ({ ...m, orderIndex: point.messageCount + i, contentHash: messageHash(m) }));
  const from = restart.length > 0 ? await tx.messagesFrom(restart[0]!.messageIds[0]!) : [];
  return { ...base, added, wanted: wantedChunks(deps, primary, [...from, ...added], restart[0]?.orderIndex ?? 0) };
}

/** Writes an append plan: the new messages, then the chunks from the restart point on. */
async function applyAppend(tx: ConversationTx, embedders: Embedder[], plan: AppendPlan): Promise<Stored> {
  const messageTotal = plan.messageCount + plan.fresh;
  if (plan.fresh === 0) {
    return {
      messages: { total: messageTotal, inserted: 0, updated: 0, deleted: 0, unchanged: plan.messageCount },
      chunks: { total: plan.tailTotal, inserted: 0, deleted: 0, unchanged: plan.tailTotal },
      embeddings: { computed: 0, cached: 0, provider_calls: 0 },
    };
  }
  await tx.upsertMessages(plan.added);
  const sync = await syncChunks(tx, embedders, plan.wanted, plan.restart);
  const chunkTotal = plan.tailTotal - plan.restart.length + plan.wanted.length;
  return {
    messages: { total: messageTotal, inserted: plan.fresh, updated: 0, deleted: 0, unchanged: messageTotal - plan.fresh },
    chunks: { total: chunkTotal, inserted: sync.inserted, deleted: sync.deleted, unchanged: chunkTotal - sync.inserted },
    embeddings: sync.embeddings,
  };
}

/**
 * Before the transaction: plans the append (a short read) and puts the vectors of its new chunks
 * in the tenant's embedding cache, so the transaction that stores them calls no embedding
 * provider: it holds the conversation's lock and a connection (locally: the embedded database's
 * one session, which every other request waits for) for its writes only. A vector cached for a
 * chunk that then is not stored is only a cache entry (the housekeeping drops unused ones).
 */
async function prepareAppend(
  deps: IngestDeps,
  body: IngestRequest,
): Promise<{ plan: AppendPlan | undefined; embeddings: IngestResult["embeddings"] }> {
  const embeddings = { computed: 0, cached: 0, provider_calls: 0 };
  if (body.mode !== "merge" || !deps.embeddings) return { plan: undefined, embeddings };
  const { plan, embedders } = await deps.conversations.transaction(body.id, deps.statementTimeoutMs, async (tx) => {
    const embedders = modelEmbedders(deps, await tx.liveModels(configuredModel(deps)));
    return { plan: await planAppend(tx, deps, embedders[0]!, body.messages), embedders };
  });
  if (!plan || plan.wanted.length === 0) return { plan, embeddings };
  const known = new Set(plan.restart.map((c) => c.contentHash));
  const created = plan.wanted.filter((c) => !known.has(c.contentHash));
  for (const embedder of embedders) {
    for (let i = 0; i < created.length; i += embedder.batchSize) {
      await embedInto(deps.embeddings, embedder, created.slice(i, i + embedder.batchSize), embeddings);
    }
  }
  return { plan, embeddings };
}

const asStored = (m: IngestMessage) => ({ authorName: m.author_name, authorType: m.author_type, text: m.text, timestamp: m.timestamp });

/** JSON with object keys sorted: jsonb reorders keys, so metadata is compared by value. */
function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

type WantedChunk = Chunk & { textHash: string; contentHash: string };

/**
 * The chunks of these messages (the first starting a chunk), numbered from `firstIndex`. Their
 * content hash names the tenant's search model: after a change of model a chunk counts as new.
 */
function wantedChunks(deps: IngestDeps, primary: Embedder, messages: StoredMessage[], firstIndex: number): WantedChunk[] {
  return chunkMessages(messages, deps.tokenizer, deps.chunking).map((c) => ({
    ...c,
    orderIndex: c.orderIndex + firstIndex,
    textHash: sha256Hex(c.text),
    contentHash: sha256Hex(primary.model, c.text, ...c.messageIds),
  }));
}

/** Makes the stored chunks `stored` into `wanted`: keeps matches, moves, deletes, and embeds the rest with every live model. */
async function syncChunks(tx: ConversationTx, embedders: Embedder[], wanted: WantedChunk[], stored: StoredChunkRef[]) {
  // Chunks are matched by content: an unchanged chunk keeps its row and vector, even if it moved.
  const available = new Map<string, { id: string; orderIndex: number }[]>();
  for (const s of stored) available.set(s.contentHash, [...(available.get(s.contentHash) ?? []), s]);
  const moves: { id: string; orderIndex: number }[] = [];
  const missing: WantedChunk[] = [];
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
  const size = Math.min(...embedders.map((e) => e.batchSize));
  for (let i = 0; i < missing.length; i += size) {
    const batch = missing.slice(i, i + size);
    for (const embedder of embedders) await embedInto(tx.embeddings, embedder, batch, embeddings);
    await tx.insertChunks(
      embedders.map((e) => e.model),
      batch,
    );
  }
  return { inserted: missing.length, deleted: obsolete.length, embeddings };
}

/**
 * Makes sure the tenant's embedding cache holds a vector for every text of the batch: the cached
 * ones are only checked (the chunks take their vectors in SQL), the rest cost one provider call.
 */
export async function embedInto(
  store: EmbeddingStore,
  embedder: Embedder,
  batch: { text: string; textHash: string }[],
  counts: IngestResult["embeddings"],
): Promise<void> {
  const present = await store.touch(embedder.model, [...new Set(batch.map((c) => c.textHash))]);
  const toEmbed = new Map<string, string>();
  for (const c of batch) if (!present.has(c.textHash)) toEmbed.set(c.textHash, c.text);
  if (toEmbed.size > 0) {
    const vectors = await embedder.embed([...toEmbed.values()]);
    counts.provider_calls++;
    await store.put(
      embedder.model,
      [...toEmbed.keys()].map((hash, i) => ({ hash, embedding: vectors[i]! })),
    );
  }
  counts.computed += toEmbed.size;
  counts.cached += batch.length - toEmbed.size;
}
