import { scopeVersion } from "../cache/index.ts";
import { cacheKey, normaliseQuery } from "../cache/keys.ts";
import type { MultiLevelCache } from "../cache/multilevel.ts";
import { scopeRecords, type Versions } from "../cache/versions.ts";
import type { Config } from "../config.ts";
import { needsContext } from "../generate/follow-up.ts";
import { PROMPT_VERSION } from "../generate/prompt.ts";
import { errorText, logLine } from "../log.ts";
import { counters } from "../observability/counters.ts";
import { type SemanticDeps, type SemanticProbe, semanticLookup, semanticRemember } from "./semantic.ts";

/** What an answer cache entry holds: everything but the request's own id, timings and cache status. */
export interface CachedAnswer {
  meta: Record<string, unknown>;
  pieces: string[];
  done: Record<string, unknown>;
}

/** The ask's parts that shape an answer, besides its question (the exact key adds the question). */
export interface AnswerShape {
  question: string;
  conversationIds: string[] | undefined;
  /** Every other request field that changes the answer (filters, top_k, model…). */
  parts: Record<string, unknown>;
}

export type Lookup =
  /** Not cacheable, or the scope's data version could not be read: answered and not cached. */
  | { status: "BYPASS" }
  | { status: "HIT-L1" | "HIT-L2" | "HIT-SEMANTIC"; entry: CachedAnswer }
  | { status: "MISS"; key: string; probe: SemanticProbe | undefined; embedMs: number | undefined };

export interface AnswerCacheDeps {
  config: Pick<Config, "cache" | "chat" | "openai" | "workersAi" | "retrieval">;
  tenantId: string;
  cache: MultiLevelCache;
  versions: Versions;
  /**
   * The semantic cache's parts, built when an exact lookup missed: they need the tenant's search
   * model (a database read), which an exact hit does without.
   */
  semantic(): Promise<SemanticDeps>;
  defer(work: Promise<unknown>): void;
}

/**
 * Exact lookup (L1, then L2), then by meaning (the semantic cache) unless the question is a
 * follow-up ("tell me more about that" means different things in different places). A semantic
 * hit is served and kept as the answer to the asker's own question, never shown as another.
 */
export async function lookupAnswer(deps: AnswerCacheDeps, ask: AnswerShape): Promise<Lookup> {
  const { config, tenantId } = deps;
  const version = await scopeVersion(deps.versions, tenantId, ask.conversationIds, config.cache.tierTimeoutMs * 4);
  if (version === undefined) return { status: "BYPASS" };
  const parts = {
    ...ask.parts,
    prompt: PROMPT_VERSION,
    // Not the tenant's search model (a database read): switching it (src/reembed) bumps the
    // tenant's version instead, so no answer found with the old model outlives the switch.
    config: [config.chat.provider, config.openai.baseURL, config.workersAi.gateway, config.retrieval.strategies ?? "default"],
  };
  const key = cacheKey("answer", tenantId, version, { ...parts, query: normaliseQuery(ask.question) });
  const hit = await deps.cache.get(key, "answer");
  if (hit) return { status: hit.status, entry: JSON.parse(hit.value) as CachedAnswer };
  if (!config.cache.semantic.enabled || needsContext(ask.question)) return { status: "MISS", key, probe: undefined, embedMs: undefined };

  const scope = { scopeKey: cacheKey("answer", tenantId, version, parts), dependsOn: scopeRecords(ask.conversationIds) };
  // Its parts failing to build (the search model's embedder misconfigured) is a miss, like its own failures.
  const semantic = await deps.semantic().catch(semanticFailed);
  const found = semantic && (await semanticLookup(semantic, scope, ask.question));
  if (found?.entry) {
    const cached = found.entry as CachedAnswer;
    const query = {
      ...(cached.meta.query as Record<string, unknown>),
      text: ask.question,
      standalone: ask.question,
      rewritten_by: null,
      matched_question: found.matched,
    };
    const entry = { ...cached, meta: { ...cached.meta, query } };
    deps.cache.put(key, JSON.stringify(entry), "answer");
    return { status: "HIT-SEMANTIC", entry };
  }
  return { status: "MISS", key, probe: found?.probe, embedMs: found?.embedMs };
}

/** Caches a whole answer under its exact key and, with a probe, by meaning. */
export function rememberAnswer(
  deps: Pick<AnswerCacheDeps, "cache" | "semantic" | "config" | "defer">,
  miss: Extract<Lookup, { status: "MISS" }>,
  question: string,
  entry: CachedAnswer,
): void {
  deps.cache.put(miss.key, JSON.stringify(entry), "answer");
  const { probe } = miss;
  if (probe)
    deps.defer(
      deps
        .semantic()
        .then((s) => semanticRemember(s.store, probe, question, entry, deps.config.cache.l2TtlSeconds))
        .catch(() => counters.inc("rag_cache_errors_total", { cache_level: "semantic", op: "put", reason: "error" })),
    );
}

function semanticFailed(err: unknown): undefined {
  counters.inc("rag_cache_errors_total", { cache_level: "semantic", op: "get", reason: "error" });
  logLine("warn", { event: "semantic_cache_failed", error: errorText(err) });
  return undefined;
}
