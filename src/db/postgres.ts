import { chunkSimilarities, deleteChunks, insertChunks, listChunkRefs, reorderChunks, tailChunkRefs } from "./chunks.ts";
import { type Db, type Sql, setLocal, type Tx } from "./client.ts";
import { ensureConversation, finishConversation } from "./conversations.ts";
import { getCachedEmbeddings, putCachedEmbeddings, touchCachedEmbeddings } from "./embedding-cache.ts";
import { liveEmbeddingModels } from "./embedding-models.ts";
import { appendPoint, deleteMessages, listMessages, messageDetails, messagesFrom, upsertMessages } from "./messages.ts";
import type { ChunkSearch, ConversationStore, ConversationTx, EmbeddingStore, SemanticStore, SessionStore } from "./ports.ts";
import { keywordSearch, neighbourChunks, semanticSearch, speakersInScope } from "./search.ts";
import { putSemanticEntry, semanticCandidates, semanticEntry } from "./semantic-cache.ts";
import { appendTurn, loadSession, type StoredSession, saveSummary } from "./sessions.ts";

/** The pipeline's ports on Postgres, bound to `tenantId`: a scope that names another tenant is overridden. */
export interface Stores {
  conversations: ConversationStore;
  chunks: ChunkSearch;
  sessions: SessionStore;
  semantic: SemanticStore;
  embeddings: EmbeddingStore;
}

/** `sql` is called on a port's first use: a request served from the cache opens no client. */
export function postgresStores(sql: () => Sql, tenantId: string): Stores {
  return {
    conversations: {
      transaction: (conversationId, timeoutMs, work) =>
        sql().begin(async (tx) => {
          await tx.unsafe(setLocal({ statement_timeout: timeoutMs }));
          await tx`SELECT pg_advisory_xact_lock(hashtextextended(${`${tenantId}/${conversationId}`}, 0))`;
          return work(conversationTx(tx, tenantId, conversationId));
        }) as Promise<Awaited<ReturnType<typeof work>>>,
    },
    embeddings: postgresEmbeddingStore(sql, tenantId),
    chunks: {
      semantic: (scope, query, limit, efSearch, timeoutMs) =>
        semanticSearch(sql(), { ...scope, tenantId }, query, limit, efSearch, timeoutMs),
      keyword: (scope, query, limit, timeoutMs) => keywordSearch(sql(), { ...scope, tenantId }, query, limit, timeoutMs),
      speakers: (scope, timeoutMs) => speakersInScope(sql(), { ...scope, tenantId }, timeoutMs),
      neighbours: (hits) => neighbourChunks(sql(), tenantId, hits),
      similarities: (ids, model) => chunkSimilarities(sql(), tenantId, model, ids),
      messages: (refs) => messageDetails(sql(), tenantId, refs),
    },
    sessions: readOnce({
      load: (sessionId, turns) => loadSession(sql(), tenantId, sessionId, turns),
      append: (sessionId, turn) => appendTurn(sql(), tenantId, sessionId, turn),
      saveSummary: (sessionId, summary, through) => saveSummary(sql(), tenantId, sessionId, summary, through),
    }),
    semantic: {
      candidates: (scopeKey, model, vector, threshold, limit) =>
        semanticCandidates(sql(), tenantId, scopeKey, model, vector, threshold, limit),
      entry: (id) => semanticEntry(sql(), tenantId, id),
      put: (scopeKey, model, question, vector, entry, ttlSeconds, maxPerScope) =>
        putSemanticEntry(sql(), tenantId, scopeKey, model, question, vector, entry, ttlSeconds, maxPerScope),
    },
  };
}

/** The tenant's embedding cache on Postgres. */
export const postgresEmbeddingStore = (sql: () => Db, tenantId: string): EmbeddingStore => ({
  get: (model, hashes) => getCachedEmbeddings(sql(), tenantId, model, hashes),
  put: (model, entries) => putCachedEmbeddings(sql(), tenantId, model, entries),
  touch: (model, hashes) => touchCachedEmbeddings(sql(), tenantId, model, hashes),
});

function conversationTx(tx: Tx, tenantId: string, id: string): ConversationTx {
  return {
    ensure: () => ensureConversation(tx, tenantId, id),
    messages: () => listMessages(tx, tenantId, id),
    appendPoint: (ids) => appendPoint(tx, tenantId, id, ids),
    messagesFrom: (firstId) => messagesFrom(tx, tenantId, id, firstId),
    tailChunks: (limit) => tailChunkRefs(tx, tenantId, id, limit),
    deleteMessages: (ids) => deleteMessages(tx, tenantId, id, ids),
    upsertMessages: (messages) => upsertMessages(tx, tenantId, id, messages),
    chunkRefs: () => listChunkRefs(tx, tenantId, id),
    deleteChunks: (ids, keepTextHashes) => deleteChunks(tx, tenantId, id, ids, keepTextHashes),
    reorderChunks: (moves) => reorderChunks(tx, tenantId, moves),
    insertChunks: (models, chunks) => insertChunks(tx, tenantId, id, models, chunks),
    liveModels: (configured) => liveEmbeddingModels(tx, tenantId, configured),
    embeddings: postgresEmbeddingStore(() => tx, tenantId),
    finish: (write) => finishConversation(tx, tenantId, id, write),
  };
}

/**
 * A request's session store that reads a session once until it writes it: an ask reads the
 * session to know whether it has turns (its first question is cacheable), then again for its
 * history, and both are the same query. A failed read is not kept.
 */
export function readOnce(store: SessionStore): SessionStore {
  const loaded = new Map<string, Promise<StoredSession | undefined>>();
  return {
    load(sessionId, turns) {
      const key = `${sessionId}\u0000${turns}`;
      let session = loaded.get(key);
      if (!session) {
        session = store.load(sessionId, turns);
        loaded.set(key, session);
        session.catch(() => loaded.delete(key));
      }
      return session;
    },
    append(sessionId, turn) {
      loaded.clear();
      return store.append(sessionId, turn);
    },
    saveSummary(sessionId, summary, through) {
      loaded.clear();
      return store.saveSummary(sessionId, summary, through);
    },
  };
}
