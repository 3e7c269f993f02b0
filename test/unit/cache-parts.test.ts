import { describe, expect, it } from "vitest";
import { semanticMismatch } from "../../src/answer-cache/semantic-guards";
import { cacheKey, normaliseQuery } from "../../src/cache/keys";
import { multiLevelCache } from "../../src/cache/multilevel";
import { type CacheTier, failOpen } from "../../src/cache/tier";
import { counters } from "../../src/observability/counters";

function memoryTier(name: "l1" | "l2", delayMs = 0): CacheTier & { store: Map<string, string> } {
  const store = new Map<string, string>();
  const wait = () => new Promise((r) => setTimeout(r, delayMs));
  return {
    name,
    store,
    get: async (k) => {
      await wait();
      return store.get(k);
    },
    put: async (k, v) => {
      await wait();
      store.set(k, v);
    },
  };
}

describe("cache tiers", () => {
  it("turns a slow or failing tier into a counted miss", async () => {
    const slow = failOpen(memoryTier("l2", 200), 20);
    const before = counters.get("rag_cache_errors_total", { cache_level: "l2", op: "get", reason: "timeout" });
    expect(await slow.get("k")).toBeUndefined();
    expect(counters.get("rag_cache_errors_total", { cache_level: "l2", op: "get", reason: "timeout" })).toBe(before + 1);
    const broken = failOpen({ name: "l1", get: () => Promise.reject(new Error("down")), put: () => Promise.reject(new Error("down")) }, 20);
    expect(await broken.get("k")).toBeUndefined();
    await expect(broken.put("k", "v", 60)).resolves.toBeUndefined();
  });

  it("reads L1 then L2 and promotes an L2 hit", async () => {
    const l1 = memoryTier("l1");
    const l2 = memoryTier("l2");
    const deferred: Promise<unknown>[] = [];
    const cache = multiLevelCache({ l1, l2, l1TtlSeconds: 300, l2TtlSeconds: 3600, defer: (w) => deferred.push(w) });
    expect(await cache.get("k", "answer")).toBeUndefined();
    l2.store.set("k", "v");
    expect(await cache.get("k", "answer")).toEqual({ value: "v", status: "HIT-L2" });
    await Promise.all(deferred);
    expect(await cache.get("k", "answer")).toEqual({ value: "v", status: "HIT-L1" });
    cache.put("k2", "w", "answer");
    await Promise.all(deferred);
    expect([l1.store.get("k2"), l2.store.get("k2")]).toEqual(["w", "w"]);
  });

  it("without L1 (CACHE_L1=off), reads and writes L2 alone", async () => {
    const l2 = memoryTier("l2");
    const deferred: Promise<unknown>[] = [];
    const cache = multiLevelCache({ l1: undefined, l2, l1TtlSeconds: 300, l2TtlSeconds: 3600, defer: (w) => deferred.push(w) });
    const l1Misses = counters.get("rag_cache_misses_total", { cache_level: "l1", kind: "answer" });
    cache.put("k", "v", "answer");
    await Promise.all(deferred);
    expect(l2.store.get("k")).toBe("v");
    expect(await cache.get("k", "answer")).toEqual({ value: "v", status: "HIT-L2" });
    expect(await cache.get("absent", "answer")).toBeUndefined();
    expect(counters.get("rag_cache_misses_total", { cache_level: "l1", kind: "answer" })).toBe(l1Misses);
  });
});

describe("cache keys", () => {
  it("depend on tenant, version and every part, not on key order or query spacing and case", () => {
    const base = cacheKey("answer", "acme", "v1", { query: normaliseQuery("What did  John say?"), top_k: 12, model: "m" });
    expect(cacheKey("answer", "acme", "v1", { model: "m", top_k: 12, query: normaliseQuery(" what did john SAY? ") })).toBe(base);
    expect(cacheKey("answer", "other", "v1", { query: normaliseQuery("What did John say?"), top_k: 12, model: "m" })).not.toBe(base);
    expect(cacheKey("answer", "acme", "v2", { query: normaliseQuery("What did John say?"), top_k: 12, model: "m" })).not.toBe(base);
    expect(cacheKey("retrieve", "acme", "v1", { query: normaliseQuery("What did John say?"), top_k: 12, model: "m" })).not.toBe(base);
    expect(cacheKey("answer", "acme", "v1", { query: normaliseQuery("What did John say?"), top_k: 8, model: "m" })).not.toBe(base);
    // Time filters are dates: two ranges must not share a key.
    const range = (from: string) =>
      cacheKey("answer", "acme", "v1", { filters: { from: new Date(from), to: new Date("2025-12-31T00:00:00Z") } });
    expect(range("2025-01-01T00:00:00Z")).not.toBe(range("2025-06-01T00:00:00Z"));
    expect(range("2025-01-01T00:00:00Z")).toBe(range("2025-01-01T00:00:00Z"));
  });
});

describe("semantic cache guards", () => {
  it("accept a paraphrase and refuse questions that differ in what they ask, negation, names, numbers or dates", () => {
    expect(semanticMismatch("Why did they roll back the staging deploy?", "why was the staging deploy rolled back?")).toBeUndefined();
    expect(semanticMismatch("Who owns the timeline doc?", "Where is the timeline doc?")).toBe("question");
    expect(semanticMismatch("Is the launch not on June 2?", "Is the launch on June 2?")).toBe("negation");
    expect(semanticMismatch("Didn't Marco fix the leak?", "Did Marco fix the leak?")).toBe("negation");
    expect(semanticMismatch("What did John say about the launch?", "What did Priya say about the launch?")).toBe("names");
    expect(semanticMismatch("Who has 3 candidates?", "Who has 4 candidates?")).toBe("numbers");
    expect(semanticMismatch("what happened last week?", "what happened yesterday?")).toBe("dates");
    expect(semanticMismatch("What happened before the outage?", "What happened after the outage?")).toBe("relation");
    expect(semanticMismatch("Is the launch in May?", "Is the launch in June?")).toBe("dates");
    expect(semanticMismatch("Ольга, what was decided?", "Дмитрий, what was decided?")).toBe("names");
    expect(semanticMismatch("What did Will say about it?", "What did you say about it?")).toBe("names");
    // Lower-case names are refused too; only the label cannot tell them from other words.
    expect(semanticMismatch("what did john say about the launch?", "what did priya say about the launch?")).toBe("content");
  });
});
