import type { NewChunk, StoredChunkRef, TailChunkRef } from "./chunks.ts";
import type { ConversationWrite } from "./conversations.ts";
import type { EmbeddingModel } from "./embedding-models.ts";
import type { AppendPoint, MessageDetails, StoredMessage } from "./messages.ts";
import type { ChunkHit, QueryVector, SearchScope } from "./search.ts";
import type { StoredSession, TurnSource } from "./sessions.ts";

// The pipeline's view of the database: a few small ports, each bound to one tenant when the
// request's services are built (src/services.ts), so no query of the pipeline can name another
// tenant. db/postgres.ts implements them on Postgres; tests pass in-memory ones.

/** The tenant's chunks, as retrieval and context selection read them. */
export interface ChunkSearch {
  /** Nearest chunks by cosine similarity (score), within `scope`'s filters. */
  semantic(scope: SearchScope, query: QueryVector, limit: number, efSearch: number, timeoutMs: number): Promise<ChunkHit[]>;
  /** Chunks ranked by BM25 (score) for the query's terms. */
  keyword(scope: SearchScope, query: string, limit: number, timeoutMs: number): Promise<ChunkHit[]>;
  /** Distinct speaker names within the scope. */
  speakers(scope: SearchScope, timeoutMs: number): Promise<string[]>;
  /** The chunks right before and after these (same conversation). */
  neighbours(hits: { conversationId: string; orderIndex: number }[]): Promise<ChunkHit[]>;
  /** Cosine similarity under `model` of every pair of these chunks, computed where the vectors are: "a b" (a < b) → similarity. */
  similarities(ids: string[], model: string): Promise<Map<string, number>>;
  /** Author and time of these messages, keyed by messageKey(conversation id, message id). */
  messages(refs: { conversationId: string; messageIds: string[] }[]): Promise<Map<string, MessageDetails>>;
}

/** The tenant's chat sessions. */
export interface SessionStore {
  /** The summary and the last `turns` turns; undefined when there is no such session. */
  load(sessionId: string, turns: number): Promise<StoredSession | undefined>;
  /** Appends a turn (creating the session on its first), all or nothing. */
  append(sessionId: string, turn: { question: string; standaloneQuestion: string; answer: string; sources: TurnSource[] }): Promise<number>;
  /** Keeps a newer summary of the turns up to `through`. */
  saveSummary(sessionId: string, summary: string, through: number): Promise<void>;
}

/** A cached question that may stand for a new one. */
export interface SemanticCandidate {
  id: string;
  question: string;
  similarity: number;
}

/** The tenant's semantic answer cache: questions with their vectors, by scope and embedding model. */
export interface SemanticStore {
  /** Up to `limit` cached questions of the scope at least `threshold` similar, best first (no answers: those are read for an accepted one). */
  candidates(scopeKey: string, model: string, vector: Float32Array, threshold: number, limit: number): Promise<SemanticCandidate[]>;
  /** The cached answer of a candidate; undefined if it expired meanwhile. */
  entry(id: string): Promise<unknown>;
  /**
   * Caches a question's answer; the scope keeps at most `maxPerScope` entries (the oldest go).
   * `dependsOn`: the version records the scope was keyed on (scopeRecords), for a store that
   * deletes entries when they go stale (Upstash Vector); Postgres keys on the versions alone.
   */
  put(
    scopeKey: string,
    model: string,
    question: string,
    vector: Float32Array,
    entry: unknown,
    ttlSeconds: number,
    maxPerScope: number,
    dependsOn?: readonly string[],
  ): Promise<void>;
}

/** The tenant's persistent embedding cache, by model and the text's SHA-256. */
export interface EmbeddingStore {
  get(model: string, hashes: string[]): Promise<Map<string, Float32Array>>;
  put(model: string, entries: { hash: string; embedding: Float32Array }[]): Promise<void>;
  /** Which of these hashes have a vector (touched, as get does), without reading the vectors. */
  touch(model: string, hashes: string[]): Promise<Set<string>>;
}

/** One conversation of the tenant, inside an ingest's transaction. */
export interface ConversationTx {
  /** Creates the conversation if it does not exist; its stored title and metadata (JSON text). */
  ensure(): Promise<{ created: boolean; title: string | null; metadata: string }>;
  messages(): Promise<StoredMessage[]>;
  /** The stored count and last time, and which of these message ids are stored (with their hashes). */
  appendPoint(ids: string[]): Promise<AppendPoint>;
  /** The messages from the one with this id onwards, in order. */
  messagesFrom(firstId: string): Promise<StoredMessage[]>;
  /** The last `limit` chunks (with their message ids), in order, and the number of chunks. */
  tailChunks(limit: number): Promise<{ total: number; chunks: TailChunkRef[] }>;
  deleteMessages(ids: string[]): Promise<void>;
  upsertMessages(messages: StoredMessage[]): Promise<void>;
  chunkRefs(): Promise<StoredChunkRef[]>;
  /** Deletes chunks, and the embedding-cache rows of their text unless a kept chunk has it. */
  deleteChunks(ids: string[], keepTextHashes: string[]): Promise<void>;
  reorderChunks(moves: { id: string; orderIndex: number }[]): Promise<void>;
  /** Inserts chunks with a vector under each of `models` (from the embedding cache). */
  insertChunks(models: string[], chunks: NewChunk[]): Promise<void>;
  /**
   * The embedding models the tenant's chunks must have vectors for (the one it searches with
   * first; during a change of model, also the other), read so that a switch of model waits for
   * this transaction. `configured` becomes the tenant's model if it has none yet.
   */
  liveModels(configured: EmbeddingModel): Promise<EmbeddingModel[]>;
  /** The tenant's embedding cache, in the same transaction. */
  embeddings: EmbeddingStore;
  /** Title, metadata, counts and (when changed) a new version; returns the version. */
  finish(write: ConversationWrite & { changed: boolean; created: boolean; messageCount: number; chunkCount: number }): Promise<number>;
}

/** The tenant's conversations, as ingestion writes them. */
export interface ConversationStore {
  /**
   * Runs `work` in one transaction that holds the conversation's lock (concurrent ingests of it
   * wait for each other) with `timeoutMs` as its statement timeout: all of it is stored, or none.
   */
  transaction<T>(conversationId: string, timeoutMs: number, work: (tx: ConversationTx) => Promise<T>): Promise<T>;
}

/** Pairs key for ChunkSearch.similarities. */
export const pairKey = (a: string, b: string) => (a < b ? `${a} ${b}` : `${b} ${a}`);
