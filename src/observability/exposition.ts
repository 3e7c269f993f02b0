/** What each metric means and its Prometheus type; a metric not listed is exposed as `untyped`. */
export const METRICS: Record<string, { type: "counter" | "gauge" | "histogram"; help: string }> = {
  rag_request_duration_seconds: {
    type: "histogram",
    help: "Time from a request's arrival to the end of its response body (SSE streams included).",
  },
  rag_active_requests: { type: "gauge", help: "Requests being served now, across isolates that reported in the last minute." },
  rag_tokens_used_total: {
    type: "counter",
    help: "Tokens of generated answers: type=input (prompt) or output (completion), as the provider reported or as counted.",
  },
  rag_cache_hits_total: { type: "counter", help: "Cache hits by level (l1, l2, semantic) and kind (answer, retrieve)." },
  rag_cache_misses_total: { type: "counter", help: "Cache misses by level (l1, l2, semantic) and kind (answer, retrieve)." },
  rag_cache_errors_total: { type: "counter", help: "Cache tier failures and timeouts (each counted as a miss)." },
  rag_llm_calls_total: { type: "counter", help: "Answer generations by provider, the offline extractive answerer included." },
  rag_embedding_calls_total: { type: "counter", help: "Embedding provider calls (not texts)." },
  rag_embedding_batches_total: { type: "counter", help: "Batches the EmbeddingBatcher sent." },
  rag_embedding_batch_requests_total: { type: "counter", help: "Requests merged into embedding batches." },
  rag_embedding_batch_texts_total: { type: "counter", help: "Distinct texts in embedding batches." },
  rag_embedding_cache_total: { type: "counter", help: "Persistent embedding cache lookups by result (hit, miss)." },
  rag_coalesced_requests_total: { type: "counter", help: "Asks that followed an identical ask's answer instead of generating their own." },
  rag_tenant_quota_rejections_total: {
    type: "counter",
    help: "Chat calls refused because the tenant used its daily chat-token budget, by call: answer (the ask gets 429), helper (the heuristic is used).",
  },
  rag_rate_limited_total: { type: "counter", help: "Requests refused with 429 by the per-key rate limit." },
  rag_rate_budget_rejections_total: {
    type: "counter",
    help: "Chat calls refused by the rate budget, by call (answer, helper) and policy.",
  },
  rag_fallbacks_total: {
    type: "counter",
    help: "Fallbacks by kind: chat (extractive answer), rewrite, summary, rate_budget, durable_<object> (work done in the request).",
  },
  rag_errors_total: { type: "counter", help: "Server-side errors by kind (problem code of 5xx responses, stream failures)." },
  rag_semantic_guard_rejections_total: { type: "counter", help: "Semantic cache candidates rejected by a guard, by reason." },
  rag_durable_object_requests_total: {
    type: "counter",
    help: "Requests sent to Durable Objects, by object (embedding_batcher, ask_coalescer, rate_budget, tenant_quota, metrics).",
  },
  rag_db_clients_total: { type: "counter", help: "Postgres clients opened (one per request that needs the database)." },
};

const SUFFIXES = ["_bucket", "_sum", "_count"];

/** The metric a series belongs to: a histogram's series carry a suffix. */
function familyOf(name: string): string {
  for (const suffix of SUFFIXES) {
    if (name.endsWith(suffix)) {
      const base = name.slice(0, -suffix.length);
      if (METRICS[base]?.type === "histogram") return base;
    }
  }
  return name;
}

const formatValue = (v: number) => (Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(12))));

/**
 * Renders series (`name{labels}` → value) in the Prometheus text exposition format 0.0.4: one
 * HELP and TYPE line per metric, its series together, histogram buckets in ascending order.
 */
export function renderPrometheus(series: Record<string, number>): string {
  const families = new Map<string, { key: string; name: string; labels: string; value: number }[]>();
  for (const [key, value] of Object.entries(series)) {
    const brace = key.indexOf("{");
    const name = brace === -1 ? key : key.slice(0, brace);
    const labels = brace === -1 ? "" : key.slice(brace + 1, -1);
    const family = familyOf(name);
    if (!families.has(family)) families.set(family, []);
    families.get(family)!.push({ key, name, labels, value });
  }
  const le = (labels: string) => {
    const m = labels.match(/(?:^|,)le="([^"]*)"/);
    return m ? (m[1] === "+Inf" ? Infinity : Number(m[1])) : -1;
  };
  const lines: string[] = [];
  for (const family of [...families.keys()].sort()) {
    const meta = METRICS[family];
    if (meta) lines.push(`# HELP ${family} ${meta.help}`);
    lines.push(`# TYPE ${family} ${meta?.type ?? "untyped"}`);
    // One label set after another; within a histogram's: buckets by bound, then _sum, then _count.
    const withoutLe = (l: string) => l.replace(/(^|,)le="[^"]*"/, "").replace(/^,/, "");
    const rows = families.get(family)!.sort((a, b) => {
      const byLabels = withoutLe(a.labels).localeCompare(withoutLe(b.labels));
      if (byLabels !== 0) return byLabels;
      const bySuffix = SUFFIXES.indexOf(a.name.slice(family.length)) - SUFFIXES.indexOf(b.name.slice(family.length));
      return bySuffix !== 0 ? bySuffix : le(a.labels) - le(b.labels);
    });
    for (const r of rows) {
      // `le` last, as exporters write it (and parsers expect it).
      const bound = r.labels.match(/(?:^|,)(le="[^"]*")/)?.[1];
      const labels = bound ? [withoutLe(r.labels), bound].filter(Boolean).join(",") : r.labels;
      lines.push(`${r.name}${labels ? `{${labels}}` : ""} ${formatValue(r.value)}`);
    }
  }
  return `${lines.join("\n")}\n`;
}
