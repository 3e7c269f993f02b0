import type { SemanticStore } from "../db/ports.ts";
import { errorText, logLine } from "../log.ts";
import { counters } from "../observability/counters.ts";
import type { Embedder } from "../providers/embedder.ts";
import { elapsedMs } from "../timeouts.ts";
import { semanticMismatch } from "./semantic-guards.ts";

/** The question's vector, kept after a miss to cache the answer under it. */
export interface SemanticProbe extends SemanticScope {
  vector: Float32Array;
  model: string;
}

/** Where a question is looked up and cached: its scope key, and the version records that key was built on (scopeRecords). */
export interface SemanticScope {
  scopeKey: string;
  dependsOn: string[];
}

/** Cached questions compared per lookup, and kept per scope (the oldest go): a miss stays cheap however busy the scope. */
export const SEMANTIC_CANDIDATES = 5;
export const SEMANTIC_MAX_PER_SCOPE = 200;

export interface SemanticDeps {
  store: SemanticStore;
  embedder: Embedder;
  threshold: number;
  /** Texts to embed together with the question (what retrieval will embed next, for a remote provider: one call). */
  alsoEmbed: () => Promise<string[]>;
}

/**
 * The semantic cache: the cached questions of the same tenant and scope at least `threshold`
 * similar (cosine, filtered in SQL); the first that has the same content (semantic-guards.ts: no
 * name, number, date, relation, negation or other content word that only one of them has) gives
 * its answer, the only answer read. Returns the probe for the write after a miss. Failures are
 * misses (undefined).
 */
export async function semanticLookup(
  deps: SemanticDeps,
  scope: SemanticScope,
  question: string,
): Promise<{ entry?: unknown; matched?: string; probe: SemanticProbe; embedMs: number } | undefined> {
  try {
    const query = question.trim();
    const more = await deps.alsoEmbed();
    const embedStarted = performance.now();
    const [vector] = await deps.embedder.embed([...new Set([query, ...more])]);
    const embedMs = elapsedMs(embedStarted);
    const probe = { ...scope, vector: vector!, model: deps.embedder.model };
    const candidates = await deps.store.candidates(scope.scopeKey, probe.model, probe.vector, deps.threshold, SEMANTIC_CANDIDATES);
    for (const candidate of candidates) {
      const reason = semanticMismatch(question, candidate.question);
      if (reason) {
        counters.inc("rag_semantic_guard_rejections_total", { reason });
        continue;
      }
      const entry = await deps.store.entry(candidate.id);
      if (entry === undefined) continue;
      counters.inc("rag_cache_hits_total", { cache_level: "semantic", kind: "answer" });
      return { entry, matched: candidate.question, probe, embedMs };
    }
    counters.inc("rag_cache_misses_total", { cache_level: "semantic", kind: "answer" });
    return { probe, embedMs };
  } catch (err) {
    counters.inc("rag_cache_errors_total", { cache_level: "semantic", op: "get", reason: "error" });
    logLine("warn", { event: "semantic_cache_failed", error: errorText(err) });
    return undefined;
  }
}

/** Caches the answer of the question as asked (the guards compare names by their capitals); a failure is counted. */
export function semanticRemember(
  store: SemanticStore,
  probe: SemanticProbe,
  question: string,
  entry: unknown,
  ttlSeconds: number,
): Promise<void> {
  return store
    .put(probe.scopeKey, probe.model, question.trim(), probe.vector, entry, ttlSeconds, SEMANTIC_MAX_PER_SCOPE, probe.dependsOn)
    .catch(() => counters.inc("rag_cache_errors_total", { cache_level: "semantic", op: "put", reason: "error" }));
}
