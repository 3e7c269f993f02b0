import type { StrategyName } from "../config.ts";
import type { ChunkSearch } from "../db/ports.ts";
import type { ChunkHit, SearchScope } from "../db/search.ts";
import { errorText, logLine } from "../log.ts";
import type { Embedder } from "../providers/embedder.ts";
import { elapsedMs, race } from "../timeouts.ts";
import { analyseQuery, type QueryAnalysis } from "./query-analysis.ts";
import { rrf } from "./rrf.ts";
import { scopeSpeakers } from "./speakers.ts";

export interface RetrieveOptions {
  query: string;
  scope: SearchScope;
  topK: number;
  /** With neighbour expansion: the tokens the hits and their neighbours may take together. */
  tokenBudget: number | undefined;
  strategies: StrategyName[];
  rrfK: number;
  efSearch: number;
  candidates: number;
  strategyTimeoutMs: number;
  /** Postgres cancels a search statement after this long (statement_timeout, per transaction). */
  statementTimeoutMs: number;
  expandNeighbours: boolean;
  weights: Record<StrategyName, number>;
}

export interface RetrieveDeps {
  chunks: ChunkSearch;
  embedder: Embedder;
  now: Date;
}

export interface RetrievedChunk extends ChunkHit {
  /** 1-based rank in each strategy that returned the chunk. */
  ranks: Partial<Record<StrategyName, number>>;
  /** Set on a chunk added as the neighbour of a hit, with that hit's id. */
  expandedFrom?: string;
  /** Set when the chunk was cut to its most relevant messages to fit the budget. */
  excerpt?: boolean;
}

export interface RetrieveResult {
  /** The top_k fused hits, best first (neighbours after their hit). */
  chunks: RetrievedChunk[];
  failedStrategies: StrategyName[];
  analysis: Pick<QueryAnalysis, "speakers" | "time" | "variants">;
  timings: Record<string, number>;
}

/** Fused-score multipliers for the conversation signals; small, so they reorder near-ties only. */
const SPEAKER_BOOST = 1.15;
const TIME_BOOST = 1.25;

class StrategyTimeout extends Error {}

/**
 * The texts retrieval will embed for a query: the query, and multi_query's variants. A caller
 * that embeds them up front, in one call, saves retrieval its own calls (and lets the embedding
 * batcher send them with other requests' texts).
 */
export async function queryTexts(
  deps: Pick<RetrieveDeps, "chunks" | "now">,
  options: Pick<RetrieveOptions, "query" | "scope" | "strategies" | "statementTimeoutMs">,
): Promise<string[]> {
  if (!options.strategies.some((s) => s !== "keyword")) return [];
  if (!options.strategies.includes("multi_query")) return [options.query];
  const speakers = await scopeSpeakers(deps.chunks, options.scope, options.statementTimeoutMs).catch(() => []);
  return [options.query, ...analyseQuery(options.query, speakers, deps.now).variants.map((v) => v.text)];
}

/**
 * Hybrid retrieval for conversations: the chosen strategies run concurrently, each returning
 * ranked candidates; Reciprocal Rank Fusion merges them; chunks by a speaker named in the query,
 * or inside a time range it names, are favoured; the result is cut to top_k. Fitting it to a
 * token budget is context selection's job (context/budget.ts, context/select.ts), after this.
 * A strategy that fails or times out is reported in failedStrategies; if all fail, this throws.
 */
export async function retrieve(deps: RetrieveDeps, options: RetrieveOptions): Promise<RetrieveResult> {
  const timings: Record<string, number> = {};
  const time = async <T>(name: string, work: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    try {
      return await work();
    } finally {
      timings[name] = elapsedMs(started);
    }
  };
  const { chunks: search, embedder } = deps;
  const wantsVectors = options.strategies.some((s) => s !== "keyword");

  // The query's vector is part of the vector strategies: if the embedder fails, keyword search still answers.
  const queryVector = wantsVectors ? time("embed", () => embedder.embed([options.query])).then((v) => v[0]!) : undefined;
  queryVector?.catch(() => {});
  // Speakers named in the query drive multi_query's variants and the final boost. Only multi_query
  // needs them before searching; otherwise the authors of the hits are the speakers that matter.
  const scopeAnalysis = options.strategies.includes("multi_query")
    ? time("speakers", () => scopeSpeakers(search, options.scope, options.statementTimeoutMs))
        .catch(() => []) // a failed lookup only loses the speaker signals, not the answer
        .then((speakers) => analyseQuery(options.query, speakers, deps.now))
    : undefined;

  const strategies: Record<StrategyName, () => Promise<ChunkHit[]>> = {
    semantic: async () =>
      search.semantic(
        options.scope,
        { model: embedder.model, vector: await queryVector! },
        options.candidates,
        options.efSearch,
        options.statementTimeoutMs,
      ),
    keyword: () => search.keyword(options.scope, options.query, options.candidates, options.statementTimeoutMs),
    multi_query: async () => {
      const analysis = (await scopeAnalysis)!;
      const variants = analysis.variants;
      if (variants.length === 0)
        return search.semantic(
          options.scope,
          { model: embedder.model, vector: await queryVector! },
          options.candidates,
          options.efSearch,
          options.statementTimeoutMs,
        );
      const vectors = await embedder.embed(variants.map((v) => v.text));
      const lists = await Promise.all(
        variants.map((v, i) => {
          const scope = v.kind === "without_speaker" ? { ...options.scope, authorNames: analysis.speakers } : options.scope;
          return search.semantic(
            scope,
            { model: embedder.model, vector: vectors[i]! },
            options.candidates,
            options.efSearch,
            options.statementTimeoutMs,
          );
        }),
      );
      return rrf(lists, (h) => h.id, options.rrfK)
        .map((f) => f.item)
        .slice(0, options.candidates);
    },
  };

  const settled = await Promise.allSettled(
    options.strategies.map((name) =>
      time(name, () =>
        race(strategies[name](), options.strategyTimeoutMs, () => new StrategyTimeout(`timed out after ${options.strategyTimeoutMs} ms`)),
      ),
    ),
  );
  const succeeded: { name: StrategyName; hits: ChunkHit[] }[] = [];
  const failedStrategies: StrategyName[] = [];
  settled.forEach((result, i) => {
    const name = options.strategies[i]!;
    if (result.status === "fulfilled") succeeded.push({ name, hits: result.value });
    else {
      failedStrategies.push(name);
      logLine("warn", { event: "strategy_failed", strategy: name, error: errorText(result.reason) });
    }
  });
  if (succeeded.length === 0) throw new AllStrategiesFailed(failedStrategies);
  const analysis =
    (await scopeAnalysis) ??
    analyseQuery(options.query, [...new Set(succeeded.flatMap((s) => s.hits.flatMap((h) => h.authors)))], deps.now);

  const speakerSet = new Set(analysis.speakers);
  const fused = rrf(
    succeeded.map((s) => ({ items: s.hits, weight: options.weights[s.name] })),
    (h) => h.id,
    options.rrfK,
  )
    .map(({ item, score, ranks }) => {
      let boosted = score;
      if (speakerSet.size > 0 && item.authors.some((a) => speakerSet.has(a))) boosted *= SPEAKER_BOOST;
      if (analysis.time && item.end >= analysis.time.from && item.start < analysis.time.to) boosted *= TIME_BOOST;
      const byStrategy: RetrievedChunk["ranks"] = {};
      for (const [i, s] of succeeded.entries()) if (ranks[i]! > 0) byStrategy[s.name] = ranks[i]!;
      return { ...item, score: boosted, ranks: byStrategy } satisfies RetrievedChunk;
    })
    .sort((a, b) => b.score - a.score);

  let chunks: RetrievedChunk[] = fused.slice(0, options.topK);
  if (options.expandNeighbours) chunks = await time("expand", () => expandWithNeighbours(search, options, chunks));
  return {
    chunks,
    failedStrategies,
    analysis: { speakers: analysis.speakers, time: analysis.time, variants: analysis.variants },
    timings,
  };
}

/**
 * Spends budget left after the ranked hits on the chunks around the best ones (a question's
 * answer often sits in the message just before or after the matching one). Neighbours follow
 * their hit; nothing is added without a token budget to fill.
 */
async function expandWithNeighbours(search: ChunkSearch, options: RetrieveOptions, hits: RetrievedChunk[]): Promise<RetrievedChunk[]> {
  if (options.tokenBudget === undefined) return hits;
  const used = hits.reduce((s, h) => s + h.tokens, 0);
  if (used >= options.tokenBudget) return hits;
  const neighbours = await search.neighbours(hits);
  const seen = new Set(hits.map((h) => h.id));
  const key = (conversationId: string, orderIndex: number) => `${conversationId}#${orderIndex}`;
  const byPosition = new Map(neighbours.map((n) => [key(n.conversationId, n.orderIndex), n]));
  let room = options.tokenBudget - used;
  const out: RetrievedChunk[] = [];
  for (const hit of hits) {
    out.push(hit);
    for (const offset of [1, -1]) {
      const n = byPosition.get(key(hit.conversationId, hit.orderIndex + offset));
      if (!n || seen.has(n.id) || n.tokens > room) continue;
      seen.add(n.id);
      room -= n.tokens;
      out.push({ ...n, score: 0, ranks: {}, expandedFrom: hit.id });
    }
  }
  return out;
}

export class AllStrategiesFailed extends Error {
  override name = "AllStrategiesFailed";
  constructor(readonly strategies: StrategyName[]) {
    super(`every retrieval strategy failed: ${strategies.join(", ")}`);
  }
}
