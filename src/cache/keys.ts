import { sha256Hex } from "../hash.ts";

/** Canonical JSON: object keys sorted, dates as ISO strings, so equal content always gives the same text. */
function canonical(value: unknown): string {
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value && typeof value === "object") {
    return `{${Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`)
      .join(",")}}`;
  }
  return JSON.stringify(value ?? null);
}

/** Lower-cased, white space collapsed: "What  did John say?" and "what did john say?" share an entry. */
export const normaliseQuery = (query: string) => query.normalize("NFKC").trim().replace(/\s+/g, " ").toLowerCase();

/**
 * The cache key of a response: SHA-256 over its kind, the tenant, the data version of the scope
 * searched and everything else that changes the response (the caller lists it).
 *
 * @example cacheKey("answer", "acme", version, { query: normaliseQuery(q), top_k: 12 })
 */
export function cacheKey(kind: "answer" | "retrieve", tenantId: string, version: string, parts: Record<string, unknown>): string {
  return sha256Hex(kind, tenantId, version, canonical(parts));
}
