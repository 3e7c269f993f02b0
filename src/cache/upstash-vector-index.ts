import { Index } from "@upstash/vector/cloudflare";
import { sha256Hex } from "../hash.ts";

// The semantic cache's Upstash Vector index (SEMANTIC_CACHE_STORE=upstash-vector): the client,
// how tenants' namespaces and version tags are named, and the deletions a version bump calls for.
// The store itself is src/answer-cache/upstash-vector-store.ts.

/**
 * An Upstash Vector client that never retries and gives up after `timeoutMs` (each call): like
 * every cache backend, a slow one is a counted miss, not a slow answer.
 */
export function vectorIndex(options: { url: string; token: string }, timeoutMs: number): Index {
  return new Index({
    url: options.url,
    token: options.token,
    retry: false,
    enableTelemetry: false,
    signal: () => AbortSignal.timeout(timeoutMs),
  });
}

/** Namespaces of the semantic cache start with this; the index may hold others. */
export const SEMANTIC_NAMESPACE_PREFIX = "semantic-";

/**
 * A tenant's Upstash Vector namespace: a hash of its id, so no tenant id (whatever it contains)
 * can name or collide with another tenant's namespace, nor reach outside the prefix.
 */
export const semanticNamespace = (tenantId: string) => `${SEMANTIC_NAMESPACE_PREFIX}${sha256Hex("tenant", tenantId).slice(0, 32)}`;

/** An entry's tag for a version record it depends on (scopeRecords' names), safe in a filter's string literal. */
export const versionTag = (record: string) => (record === "d" ? "d" : `c${sha256Hex("conversation", record.slice(2)).slice(0, 24)}`);

/** Deletes what a version bump made stale: every tenant's namespace, one tenant's, or the entries that depended on `records` (and any expired one). */
export async function deleteStale(index: Index, tenantId: string | undefined, records: string[] | "all"): Promise<void> {
  if (tenantId === undefined) {
    const names = (await index.listNamespaces()).filter((name) => name.startsWith(SEMANTIC_NAMESPACE_PREFIX));
    await Promise.all(names.map((name) => index.namespace(name).reset()));
    return;
  }
  const namespace = index.namespace(semanticNamespace(tenantId));
  if (records === "all") return void (await namespace.reset());
  const filter = [...records.map((r) => `deps CONTAINS '${versionTag(r)}'`), `expires <= ${Date.now()}`].join(" OR ");
  await namespace.delete({ filter });
}
