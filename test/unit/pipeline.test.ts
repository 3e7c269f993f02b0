// The ask pipeline's stages against in-memory ports (db/ports.ts): retrieval, the answer cache and
// preparation run in Node in milliseconds, with every database answer chosen by the test.
import { describe, expect, it } from "vitest";
import { type CachedAnswer, lookupAnswer, rememberAnswer } from "../../src/answer-cache/answer-cache";
import type { MultiLevelCache } from "../../src/cache/multilevel";
import type { Versions } from "../../src/cache/versions";
import { parseConfig } from "../../src/config";
import { type MessageDetails, messageKey } from "../../src/db/messages";
import { type ChunkSearch, pairKey, type SemanticCandidate, type SemanticStore, type SessionStore } from "../../src/db/ports";
import type { ChunkHit } from "../../src/db/search";
import { prepareAsk } from "../../src/generate/prepare";
import type { Embedder } from "../../src/providers/embedder";
import { createChatModels } from "../../src/providers/index";
import { retrieve } from "../../src/retrieve/retrieve";
import { retrievalOptions } from "../../src/retrieve/scope";
import { tiktoken } from "../../src/tokens/tokenizer";

const config = parseConfig({});
const at = (minute: number) => new Date(Date.UTC(2025, 2, 3, 9, minute));
const hit = (id: string, author: string, text: string, score = 1, orderIndex = Number(id.replace(/\D/g, "")) || 0): ChunkHit => ({
  id,
  conversationId: "c1",
  orderIndex,
  text: `[2025-03-03 09:00] ${author}: ${text}`,
  messageIds: [`m-${id}`],
  authors: [author],
  start: at(orderIndex),
  end: at(orderIndex),
  tokens: 12,
  score,
});

const CHUNKS = [
  hit("k1", "John", "The launch moves to June 2 because the load tests failed."),
  hit("k2", "Priya", "Billing migration needs another week."),
  hit("k3", "John", "The security review is done."),
  hit("k4", "Aiko", "The launch copy is approved."),
];

/** A ChunkSearch over a fixed list: keyword ranks by shared words, semantic returns `semanticOrder`. */
function memoryChunks(options: { semanticOrder?: string[]; failSemantic?: boolean } = {}) {
  const calls = { semantic: 0, keyword: 0, similarities: [] as string[][] };
  const search: ChunkSearch = {
    async semantic() {
      calls.semantic++;
      if (options.failSemantic) throw new Error("vector index down");
      return (options.semanticOrder ?? []).map((id, i) => ({ ...CHUNKS.find((c) => c.id === id)!, score: 1 - i / 10 }));
    },
    async keyword(_scope, query) {
      calls.keyword++;
      const terms = query.toLowerCase().match(/[a-z]+/g) ?? [];
      return CHUNKS.map((c) => ({ ...c, score: terms.filter((t) => t.length > 3 && c.text.toLowerCase().includes(t)).length }))
        .filter((c) => c.score > 0)
        .sort((a, b) => b.score - a.score);
    },
    speakers: async () => ["John", "Priya", "Aiko"],
    neighbours: async (hits) => CHUNKS.filter((c) => hits.some((h) => Math.abs(h.orderIndex - c.orderIndex) === 1)),
    async similarities(ids) {
      calls.similarities.push(ids);
      const out = new Map<string, number>();
      for (const a of ids) for (const b of ids) if (a < b) out.set(pairKey(a, b), 0.1);
      return out;
    },
    async messages(refs) {
      const out = new Map<string, MessageDetails>();
      for (const ref of refs)
        for (const id of ref.messageIds) {
          const chunk = CHUNKS.find((c) => c.messageIds.includes(id))!;
          out.set(messageKey(ref.conversationId, id), {
            authorName: chunk.authors[0]!,
            authorType: "human",
            timestamp: chunk.start,
            conversationTitle: `Title of ${ref.conversationId}`,
          });
        }
      return out;
    },
  };
  return { search, calls };
}

const embedder: Embedder = {
  model: "test",
  dimensions: 3,
  batchSize: 8,
  embed: async (texts) => texts.map(() => Float32Array.of(1, 0, 0)),
};
const scope = (strategies: ("semantic" | "keyword")[]) => ({
  ...retrievalOptions(config, "t1", { query: "x" }, 3, { provider: "local" }),
  strategies,
  tokenBudget: undefined,
  expandNeighbours: false,
});

describe("retrieval against an in-memory ChunkSearch", () => {
  it("fuses the strategies' lists with RRF, favours the speaker the question names and cuts to top_k", async () => {
    const { search } = memoryChunks({ semanticOrder: ["k4", "k1", "k2"] });
    const result = await retrieve(
      { chunks: search, embedder, now: new Date() },
      { ...scope(["semantic", "keyword"]), query: "What did John say about the launch?" },
    );
    expect(result.failedStrategies).toEqual([]);
    expect(result.chunks).toHaveLength(3);
    // k1 is in both lists and by John: first; each chunk says where each strategy ranked it.
    expect(result.chunks[0]!.id).toBe("k1");
    expect(result.chunks[0]!.ranks).toEqual({ semantic: 2, keyword: 1 });
    expect(result.analysis.speakers).toEqual(["John"]);
  });

  it("answers with the strategies left when one fails, and names it", async () => {
    const { search } = memoryChunks({ failSemantic: true });
    const result = await retrieve(
      { chunks: search, embedder, now: new Date() },
      { ...scope(["semantic", "keyword"]), query: "billing migration week" },
    );
    expect(result.failedStrategies).toEqual(["semantic"]);
    expect(result.chunks[0]!.id).toBe("k2");
  });

  it("spends a token budget on the neighbours of the hits", async () => {
    const { search } = memoryChunks();
    const result = await retrieve(
      { chunks: search, embedder, now: new Date() },
      { ...scope(["keyword"]), topK: 1, query: "billing migration", expandNeighbours: true, tokenBudget: 100 },
    );
    expect(result.chunks.map((c) => [c.id, c.expandedFrom])).toEqual([
      ["k2", undefined],
      ["k3", "k2"],
      ["k1", "k2"],
    ]);
  });
});

/** An in-memory response cache, data versions and semantic store, recording what is read. */
function memoryCache(version: string | Error = "v1") {
  const exact = new Map<string, string>();
  const semanticRows: (SemanticCandidate & { entry: unknown; scopeKey: string })[] = [];
  const entriesRead: string[] = [];
  const cache: MultiLevelCache = {
    get: async (key) => (exact.has(key) ? { value: exact.get(key)!, status: "HIT-L1" } : undefined),
    put: (key, value) => void exact.set(key, value),
  };
  const versions: Versions = {
    scope: async () => {
      if (version instanceof Error) throw version;
      return version;
    },
    conversationChanged: async () => {},
    invalidateTenant: async () => {},
    invalidateAll: async () => {},
    compact: async () => 0,
  };
  const store: SemanticStore = {
    candidates: async (scopeKey, _model, _vector, threshold, limit) =>
      semanticRows.filter((r) => r.scopeKey === scopeKey && r.similarity >= threshold).slice(0, limit),
    entry: async (id) => {
      entriesRead.push(id);
      return semanticRows.find((r) => r.id === id)?.entry;
    },
    put: async (scopeKey, _model, question, _vector, entry) => {
      semanticRows.push({ id: String(semanticRows.length + 1), question, similarity: 0.95, entry, scopeKey });
    },
  };
  const deferred: Promise<unknown>[] = [];
  const built = { semantic: 0 };
  const deps = {
    config,
    tenantId: "t1",
    cache,
    versions,
    semantic: async () => {
      built.semantic++;
      return { store, embedder, threshold: 0.9, alsoEmbed: async () => [] };
    },
    defer: (work: Promise<unknown>) => void deferred.push(work),
  };
  return { deps, entriesRead, built, settle: () => Promise.all(deferred) };
}

const answer = (text: string): CachedAnswer => ({ meta: { query: { text: "q" } }, pieces: [text], done: { finish_reason: "stop" } });
const shape = (question: string) => ({ question, conversationIds: undefined, parts: { top_k: 12 } });

describe("the answer cache against in-memory tiers and a semantic store", () => {
  it("misses, remembers, then hits exactly and by meaning, and serves the asker's own question", async () => {
    const { deps, built, settle } = memoryCache();
    const miss = await lookupAnswer(deps, shape("What did John say about the launch?"));
    expect(miss.status).toBe("MISS");
    if (miss.status !== "MISS") throw new Error("status");
    rememberAnswer(deps, miss, "What did John say about the launch?", answer("June 2 [1]"));
    await settle();
    const beforeHit = built.semantic;
    expect((await lookupAnswer(deps, shape("  what did JOHN say about the launch? "))).status).toBe("HIT-L1");
    // An exact hit needs no semantic parts (in the Worker: no read of the tenant's search model).
    expect(built.semantic).toBe(beforeHit);
    const byMeaning = await lookupAnswer(deps, shape("What did John say regarding the launch?"));
    expect(byMeaning.status).toBe("HIT-SEMANTIC");
    if (byMeaning.status !== "HIT-SEMANTIC") throw new Error("status");
    expect(byMeaning.entry.pieces).toEqual(["June 2 [1]"]);
    expect(byMeaning.entry.meta.query).toMatchObject({
      text: "What did John say regarding the launch?",
      matched_question: "What did John say about the launch?",
    });
  });

  it("never reads the answer of a candidate the guard refuses (another person)", async () => {
    const { deps, entriesRead, settle } = memoryCache();
    const miss = await lookupAnswer(deps, shape("What did John say about the launch?"));
    if (miss.status !== "MISS") throw new Error("status");
    rememberAnswer(deps, miss, "What did John say about the launch?", answer("June 2 [1]"));
    await settle();
    expect((await lookupAnswer(deps, shape("What did Priya say about the launch?"))).status).toBe("MISS");
    expect(entriesRead).toEqual([]);
  });

  it("answers uncached (BYPASS) when the scope's data version cannot be read", async () => {
    const { deps } = memoryCache(new Error("KV down"));
    expect((await lookupAnswer(deps, shape("What did John say about the launch?"))).status).toBe("BYPASS");
  });
});

describe("preparing an ask against in-memory ports", () => {
  const sessions = () => {
    const turns: { sessionId: string; question: string; answer: string }[] = [];
    const store: SessionStore = {
      load: async () => undefined,
      append: async (sessionId, turn) => {
        turns.push({ sessionId, question: turn.question, answer: turn.answer });
        return turns.length;
      },
      saveSummary: async () => {},
    };
    return { store, turns };
  };
  const options = (strategy: "relevance" | "hybrid", sessionId?: string) => ({
    question: "What did John say about the launch?",
    tenantId: "t1",
    sessionId,
    retrieval: { ...scope(["keyword"]), topK: 4 },
    maxContextTokens: 1024,
    selection: { strategy, lambda: 0.7, hybridLambda: 0.95, redundancy: 0.9, truncateMin: 100 },
    relevanceFloor: 0.3,
    model: "extractive-v1",
    temperature: 0,
    maxTokens: 256,
    history: { maxTokens: 512, verbatimTurns: 3 },
    firstTokenTimeoutMs: 5_000,
    idleTimeoutMs: 5_000,
    helperTimeoutMs: 1_000,
    startedAt: performance.now(),
  });

  it("numbers the sources, builds the prompt, answers with citations and stores the session's turn", async () => {
    const { search, calls } = memoryChunks();
    const { store, turns } = sessions();
    const prepared = await prepareAsk(
      { chunks: search, sessions: store, embedder, tokenizer: tiktoken, chat: createChatModels(config, tiktoken, {}), now: new Date() },
      options("hybrid", "s1"),
    );
    expect(prepared.sources.map((s) => s.n)).toEqual(prepared.sources.map((_, i) => i + 1));
    expect(prepared.sources[0]!.chunk.id).toBe("k1");
    expect(prepared.sources[0]!.conversationTitle).toBe(`Title of ${prepared.sources[0]!.conversationId}`);
    expect(calls.similarities).toHaveLength(1);
    expect(prepared.plan.usage.promptTokens).toBeGreaterThan(prepared.plan.usage.contextTokens);
    const generation = prepared.answer(new AbortController().signal);
    let text = "";
    let step = await generation.next();
    while (!step.done) {
      text += step.value;
      step = await generation.next();
    }
    expect(text).toMatch(/John .*June 2.*\[1\]/s);
    // The citation resolves to the message it quotes; the other sources are marked uncited.
    expect(step.value.citations[0]).toEqual({ n: 1, sourceId: "k1", messageIds: ["m-k1"] });
    const cited = new Set(step.value.citations.map((c) => c.n));
    expect(step.value.uncited).toEqual(prepared.sources.map((s) => s.n).filter((n) => !cited.has(n)));
    expect(step.value.uncited.length).toBeGreaterThan(0);
    expect(prepared.sources[0]!.messages).toEqual([
      {
        id: "m-k1",
        authorName: "John",
        authorType: "human",
        timestamp: at(1).toISOString(),
        text: "The launch moves to June 2 because the load tests failed.",
      },
    ]);
    expect(step.value.sessionSaved).toBe(true);
    expect(turns).toEqual([{ sessionId: "s1", question: "What did John say about the launch?", answer: text }]);
  });

  it("below the relevance floor answers that nothing relevant was found, quoting nothing and calling no model", async () => {
    const { search } = memoryChunks();
    let calls = 0;
    const counting = createChatModels(config, tiktoken, {});
    const primary = {
      ...counting.primary,
      stream: (...args: Parameters<typeof counting.primary.stream>) => {
        calls++;
        return counting.primary.stream(...args);
      },
    };
    const deps = {
      chunks: search,
      sessions: sessions().store,
      embedder,
      tokenizer: tiktoken,
      chat: { ...counting, primary },
      now: new Date(),
    };
    // "launch" is in two of four chunks; "contingency" and "audit" in none.
    const question = "What is the contingency plan if the audit of the launch fails?";
    const prepared = await prepareAsk(deps, { ...options("relevance"), question });
    expect(prepared.sources.length).toBeGreaterThan(0);
    expect(prepared.relevance.best).toBeLessThan(0.3);
    expect(prepared.relevance.nothingRelevant).toBe(true);
    expect(prepared.plan.request.sources).toEqual([]);
    const generation = prepared.answer(new AbortController().signal);
    let text = "";
    let step = await generation.next();
    while (!step.done) {
      text += step.value;
      step = await generation.next();
    }
    expect(text).toBe("I found nothing relevant to this in the conversations.");
    expect(step.value).toMatchObject({ citations: [], nothingRelevant: true, uncited: prepared.sources.map((s) => s.n) });
    expect(calls).toBe(0);
    // With the floor off, the same ask answers from the sources as before.
    const open = await prepareAsk(deps, { ...options("relevance"), question, relevanceFloor: 0 });
    expect(open.relevance.nothingRelevant).toBe(false);
    expect(open.plan.request.sources.length).toBe(open.sources.length);
  });

  it("asks the database for no similarities when the context is chosen by relevance alone", async () => {
    const { search, calls } = memoryChunks();
    await prepareAsk(
      {
        chunks: search,
        sessions: sessions().store,
        embedder,
        tokenizer: tiktoken,
        chat: createChatModels(config, tiktoken, {}),
        now: new Date(),
      },
      options("relevance"),
    );
    expect(calls.similarities).toEqual([]);
  });
});
