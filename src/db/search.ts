import { type Db, type Sql, withLocalSettings } from "./client.ts";
import { json } from "./json.ts";
import { toVectorLiteral } from "./vector.ts";

/** Which chunks a search may return; always within one tenant. */
export interface SearchScope {
  tenantId: string;
  conversationIds?: string[];
  authorNames?: string[];
  authorTypes?: string[];
  from?: Date;
  to?: Date;
}

export interface ChunkHit {
  id: string;
  conversationId: string;
  orderIndex: number;
  text: string;
  messageIds: string[];
  authors: string[];
  start: Date;
  end: Date;
  tokens: number;
  /** Strategy-specific: cosine similarity, or BM25 score. */
  score: number;
}

type HitRow = {
  id: string;
  conversation_id: string;
  order_index: number;
  text: string;
  message_ids: string[];
  authors: string[];
  start_ts: Date;
  end_ts: Date;
  token_count: number;
  score: number;
};

const toHit = (r: HitRow): ChunkHit => ({
  id: r.id,
  conversationId: r.conversation_id,
  orderIndex: r.order_index,
  text: r.text,
  messageIds: r.message_ids,
  authors: r.authors,
  start: new Date(r.start_ts),
  end: new Date(r.end_ts),
  tokens: r.token_count,
  score: Number(r.score),
});

// Arrays are returned as JSON: without fetch_types postgres.js leaves text[] as "{a,b}".
const HIT_COLUMNS = (db: Db) => db`c.id, c.conversation_id, c.order_index, c.text, array_to_json(c.message_ids) AS message_ids,
  array_to_json(c.authors) AS authors, c.start_ts, c.end_ts, c.token_count`;

/** The WHERE clause of a scope: tenant first, then each filter that is set. */
export function scopeSql(db: Db, scope: SearchScope) {
  const list = (values: string[]) => db`ARRAY(SELECT jsonb_array_elements_text(${json(db, values)}::jsonb))`;
  return db`c.tenant_id = ${scope.tenantId}
    ${scope.conversationIds ? db`AND c.conversation_id IN (SELECT jsonb_array_elements_text(${json(db, scope.conversationIds)}::jsonb))` : db``}
    ${scope.authorNames ? db`AND c.authors && ${list(scope.authorNames)}` : db``}
    ${scope.authorTypes ? db`AND c.author_types && ${list(scope.authorTypes)}` : db``}
    ${scope.from ? db`AND c.end_ts >= ${scope.from}` : db``}
    ${scope.to ? db`AND c.start_ts <= ${scope.to}` : db``}`;
}

/** A question's vector and the embedding model that made it: only that model's vectors are compared with it. */
export interface QueryVector {
  model: string;
  vector: Float32Array;
}

/**
 * Nearest chunks by cosine distance through the HNSW index of the vector's dimension (a partial
 * index per dimension, migrations/0009; the model is a filter within it). Iterative index scans
 * (pgvector ≥ 0.8) keep scanning when filters reject rows, so a selective filter still yields
 * `limit` rows; the relaxed order they return in is fixed by the outer ORDER BY. Postgres cancels
 * the search after `timeoutMs` (statement_timeout, for this transaction only).
 */
export async function semanticSearch(
  sql: Sql,
  scope: SearchScope,
  query: QueryVector,
  limit: number,
  efSearch: number,
  timeoutMs: number,
): Promise<ChunkHit[]> {
  const settings = { "hnsw.ef_search": efSearch, "hnsw.iterative_scan": "relaxed_order", statement_timeout: timeoutMs };
  return (await withLocalSettings(sql, settings, (tx) => semanticQuery(tx, scope, query, limit))).map(toHit);
}

/** The statement semanticSearch runs (exported so tests can EXPLAIN it). */
export function semanticQuery(db: Db, scope: SearchScope, query: QueryVector, limit: number) {
  const literal = toVectorLiteral(query.vector);
  // The size is written into the statement: a partial index is chosen only when the query's
  // predicate matches its own, and a parameter could be planned generically.
  const dims = query.vector.length;
  if (!Number.isSafeInteger(dims) || dims < 1) throw new Error("semanticQuery: an empty vector");
  const size = db.unsafe(String(dims));
  return db<HitRow[]>`
    WITH nearest AS MATERIALIZED (
      SELECT ${HIT_COLUMNS(db)}, v.embedding::vector(${size}) <=> ${literal}::vector(${size}) AS distance
      FROM chunk_vectors v JOIN conversation_chunks c ON c.id = v.chunk_id
      WHERE v.tenant_id = ${scope.tenantId} AND v.model = ${query.model} AND vector_dims(v.embedding) = ${size} AND ${scopeSql(db, scope)}
      ORDER BY v.embedding::vector(${size}) <=> ${literal}::vector(${size})
      LIMIT ${limit})
    SELECT *, 1 - distance AS score FROM nearest ORDER BY distance`;
}

/**
 * Full-text search ranked by Okapi BM25 (k1 = 1.2, b = 0.75). The GIN index finds every chunk that
 * contains any query term (the query's lexemes OR-ed, English stemming and stopwords); term and
 * document frequencies come from the tsvectors of that candidate set, which holds every chunk a
 * term occurs in, so IDF is exact for the scope. ts_rank_cd has no IDF: a speaker's name would
 * weigh as much as the rare word that answers the question. Postgres cancels the search after
 * `timeoutMs`: its cost grows with the archive and the number of query terms.
 */
export async function keywordSearch(sql: Sql, scope: SearchScope, query: string, limit: number, timeoutMs: number): Promise<ChunkHit[]> {
  return (await withLocalSettings(sql, { statement_timeout: timeoutMs }, (tx) => keywordQuery(tx, scope, query, limit))).map(toHit);
}

/** The statement keywordSearch runs (exported so tests can EXPLAIN it). */
export function keywordQuery(db: Db, scope: SearchScope, query: string, limit: number) {
  return db<HitRow[]>`
    WITH q AS (
      SELECT replace(plainto_tsquery('english', ${query})::text, ' & ', ' | ') AS text),
    terms AS (
      SELECT DISTINCT lexeme FROM q, unnest(tsvector_to_array(to_tsvector('english', ${query}))) AS lexeme),
    matches AS (
      SELECT c.id, c.tsv FROM conversation_chunks c, q
      WHERE q.text <> '' AND c.tsv @@ q.text::tsquery AND ${scopeSql(db, scope)}),
    scope_stats AS (
      SELECT count(*)::float8 AS n, greatest(avg(length(c.tsv)), 1)::float8 AS avgdl
      FROM conversation_chunks c WHERE ${scopeSql(db, scope)}),
    tf AS (
      SELECT m.id, u.lexeme, array_length(u.positions, 1)::float8 AS tf, length(m.tsv)::float8 AS dl
      FROM matches m, unnest(m.tsv) AS u WHERE u.lexeme IN (SELECT lexeme FROM terms)),
    df AS (SELECT lexeme, count(*)::float8 AS df FROM tf GROUP BY lexeme),
    ranked AS (
      SELECT tf.id, sum(ln(1 + (s.n - df.df + 0.5) / (df.df + 0.5)) * tf.tf * 2.2 / (tf.tf + 1.2 * (0.25 + 0.75 * tf.dl / s.avgdl))) AS score
      FROM tf JOIN df USING (lexeme), scope_stats s
      GROUP BY tf.id ORDER BY score DESC LIMIT ${limit})
    SELECT ${HIT_COLUMNS(db)}, r.score FROM ranked r JOIN conversation_chunks c ON c.id = r.id AND c.tenant_id = ${scope.tenantId}
    ORDER BY r.score DESC, c.order_index`;
}

/**
 * Distinct speaker names in a scope, for recognising them in a query. The scan covers the whole
 * scope, so Postgres cancels it after `timeoutMs`.
 */
export async function speakersInScope(sql: Sql, scope: SearchScope, timeoutMs: number): Promise<string[]> {
  const rows = await withLocalSettings(
    sql,
    { statement_timeout: timeoutMs },
    (tx) =>
      tx<{ name: string }[]>`SELECT DISTINCT unnest(c.authors) AS name FROM conversation_chunks c WHERE ${scopeSql(tx, scope)} LIMIT 500`,
  );
  return rows.map((r) => r.name);
}

/** The chunks right before and after the given ones (same conversation), for neighbour expansion. */
export async function neighbourChunks(
  db: Db,
  tenantId: string,
  hits: { conversationId: string; orderIndex: number }[],
): Promise<ChunkHit[]> {
  if (hits.length === 0) return [];
  const wanted = hits.flatMap((h) => [
    { conversation_id: h.conversationId, order_index: h.orderIndex - 1 },
    { conversation_id: h.conversationId, order_index: h.orderIndex + 1 },
  ]);
  const rows = await db<HitRow[]>`
    SELECT ${HIT_COLUMNS(db)}, 0 AS score FROM conversation_chunks c
    JOIN jsonb_to_recordset(${json(db, wanted)}::jsonb) AS w(conversation_id text, order_index int)
      ON c.conversation_id = w.conversation_id AND c.order_index = w.order_index
    WHERE c.tenant_id = ${tenantId}`;
  return rows.map(toHit);
}
