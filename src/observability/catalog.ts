/** A series' labels: name → value. */
export type Labels = Record<string, string>;

export interface MetricSpec {
  type: "counter" | "gauge" | "histogram";
  help: string;
  /** A histogram's upper bounds, ascending (+Inf is implied). */
  buckets?: number[];
  /**
   * Counters and gauges: the label sets exported at 0 before anything is counted, so a dashboard
   * shows 0 rather than no data (Prometheus' "avoid missing metrics"). `[{}]`: the one unlabelled
   * series. A label whose values come from configuration or data (a model, a problem code) is not
   * known in advance: such a family is exported with HELP and TYPE alone until it counts something.
   */
  zero?: Labels[];
}

/** Upper bounds (seconds) of the request-duration histogram. */
export const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Every combination of the given label values. */
function product(values: Record<string, string[]>): Labels[] {
  return Object.entries(values).reduce<Labels[]>((sets, [name, vs]) => sets.flatMap((set) => vs.map((v) => ({ ...set, [name]: v }))), [{}]);
}

const UNLABELLED = [{}];
const CACHE_LOOKUPS = [
  ...product({ cache_level: ["l1", "l2"], kind: ["answer", "retrieve"] }),
  { cache_level: "semantic", kind: "answer" },
];

/**
 * What each metric means and its Prometheus type; `/metrics` exposes every one of them from
 * start-up. A metric not listed is exposed as `untyped`. Labels come from fixed sets and never
 * carry tenants' text or keys.
 */
export const METRICS: Record<string, MetricSpec> = {
  rag_request_duration_seconds: {
    type: "histogram",
    help: "Time from a request's arrival to the end of its response body (SSE streams included).",
    buckets: DURATION_BUCKETS,
  },
  rag_active_requests: {
    type: "gauge",
    help: "Requests being served now, across isolates that reported in the last minute.",
    zero: UNLABELLED,
  },
  rag_tokens_used_total: {
    type: "counter",
    help: "Tokens of generated answers: type=input (prompt) or output (completion), as the provider reported or as counted.",
    zero: [],
  },
  rag_cache_hits_total: {
    type: "counter",
    help: "Cache hits by level (l1, l2, semantic) and kind (answer, retrieve).",
    zero: CACHE_LOOKUPS,
  },
  rag_cache_misses_total: {
    type: "counter",
    help: "Cache misses by level (l1, l2, semantic) and kind (answer, retrieve).",
    zero: CACHE_LOOKUPS,
  },
  rag_cache_errors_total: {
    type: "counter",
    help: "Cache tier failures and timeouts (each counted as a miss).",
    zero: [
      ...product({ cache_level: ["l1", "l2"], op: ["get", "put"], reason: ["error", "timeout"] }),
      ...product({ cache_level: ["versions"], op: ["get", "bump"], reason: ["error"] }),
      ...product({ cache_level: ["semantic"], op: ["get", "put", "delete"], reason: ["error"] }),
      { cache_level: "embeddings", op: "put", reason: "error" },
    ],
  },
  rag_llm_calls_total: {
    type: "counter",
    help: "Answer generations by provider, the offline extractive answerer included.",
    zero: product({ provider: ["extractive", "openai", "workers-ai"] }),
  },
  rag_embedding_calls_total: {
    type: "counter",
    help: "Embedding provider calls (not texts).",
    zero: product({ provider: ["local", "openai", "workers-ai"] }),
  },
  rag_embedding_batches_total: { type: "counter", help: "Batches the EmbeddingBatcher sent.", zero: UNLABELLED },
  rag_embedding_batch_requests_total: { type: "counter", help: "Requests merged into embedding batches.", zero: UNLABELLED },
  rag_embedding_batch_texts_total: { type: "counter", help: "Distinct texts in embedding batches.", zero: UNLABELLED },
  rag_embedding_cache_total: {
    type: "counter",
    help: "Persistent embedding cache lookups by result (hit, miss).",
    zero: product({ result: ["hit", "miss"] }),
  },
  rag_coalesced_requests_total: {
    type: "counter",
    help: "Asks that followed an identical ask's answer instead of generating their own.",
    zero: UNLABELLED,
  },
  rag_tenant_quota_rejections_total: {
    type: "counter",
    help: "Chat calls refused because the tenant used its daily chat-token budget, by call: answer (the ask gets 429), helper (the heuristic is used).",
    zero: product({ call: ["answer", "helper"] }),
  },
  rag_rate_limited_total: { type: "counter", help: "Requests refused with 429 by the per-key rate limit.", zero: UNLABELLED },
  rag_rate_budget_rejections_total: {
    type: "counter",
    help: "Chat calls refused by the rate budget, by call (answer, helper) and policy.",
    // Only the remote chat providers have a rate budget; a helper call is refused whatever the policy.
    zero: [
      ...product({ call: ["helper"], provider: ["openai", "workers-ai"] }),
      ...product({ call: ["answer"], policy: ["fallback", "reject"], provider: ["openai", "workers-ai"] }),
    ],
  },
  rag_fallbacks_total: {
    type: "counter",
    help: "Fallbacks by kind: chat (extractive answer after a provider failure), circuit_open and rate_budget (extractive answer without a provider call), rewrite and summary (heuristic used), auth_copy (key owner read from the cache while the database is down), rate_limiter (limit check failed open), durable_<object> (work done in the request).",
    zero: product({
      kind: [
        "chat",
        "circuit_open",
        "rate_budget",
        "rewrite",
        "summary",
        "auth_copy",
        "rate_limiter",
        "durable_embedding_batcher",
        "durable_ask_coalescer",
        "durable_rate_budget",
        "durable_tenant_quota",
      ],
    }),
  },
  rag_errors_total: {
    type: "counter",
    help: "Server-side errors by kind (problem code of 5xx responses, stream failures).",
    // The kinds known today (the 5xx problem codes, then failures that are not responses); another
    // kind appears when it is first counted.
    zero: product({
      kind: [
        "internal",
        "misconfigured",
        "database-unavailable",
        "embedding-unavailable",
        "retrieval-unavailable",
        "generation-failed",
        "answer-unavailable",
        "stream",
        "session_write",
        "coalesce_lead_timeout",
      ],
    }),
  },
  rag_client_errors_total: {
    type: "counter",
    help: "Requests refused as the client's error, by kind (problem code of 4xx responses).",
    // The common kinds; another appears when it is first counted.
    zero: product({
      kind: ["invalid-request", "body-incomplete", "body-too-large", "unauthorized", "forbidden", "not-found", "rate-limited"],
    }),
  },
  rag_semantic_guard_rejections_total: {
    type: "counter",
    help: "Semantic cache candidates rejected by a guard, by reason.",
    zero: product({ reason: ["question", "negation", "numbers", "dates", "relation", "names", "content"] }),
  },
  rag_durable_object_requests_total: {
    type: "counter",
    help: "Requests sent to Durable Objects, by object (embedding_batcher, ask_coalescer, rate_budget, tenant_quota, metrics).",
    zero: product({ object: ["embedding_batcher", "ask_coalescer", "rate_budget", "tenant_quota", "metrics"] }),
  },
  rag_db_clients_total: {
    type: "counter",
    help: "Postgres clients opened (one per request that needs the database).",
    zero: UNLABELLED,
  },
};
