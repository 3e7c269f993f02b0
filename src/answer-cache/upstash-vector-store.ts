import type { Index } from "@upstash/vector/cloudflare";
import { semanticNamespace, versionTag } from "../cache/upstash-vector-index.ts";
import type { SemanticStore } from "../db/ports.ts";

/** What each vector carries besides the question's vector: small and filterable. The answer is its `data`. */
type EntryMetadata = {
  scope: string;
  model: string;
  question: string;
  /** Epoch milliseconds; an entry is served only before `expires`. */
  expires: number;
  /** versionTag of each version record the scope depends on, for deletion on invalidation. */
  deps: string[];
};

/** Scope trims tolerate this many puts racing in one scope before a trim misses an entry. */
const TRIM_SLACK = 16;

/** Ids sort by creation time (11 base-36 digits of the clock), so a trim needs no metadata. */
const newId = (now: number) => `${now.toString(36).padStart(11, "0")}-${crypto.randomUUID().slice(0, 8)}`;

/** A filter's string literal. The values quoted here are hex keys and configured model names. */
function literal(value: string): string {
  if (/['"\\]/.test(value)) throw new Error("a quote or backslash cannot be written in an Upstash Vector filter literal");
  return `'${value}'`;
}

/**
 * The semantic answer cache on Upstash Vector (the index must use COSINE and the embedding
 * model's dimension): one namespace per tenant, the scope key, model, question, expiry and version
 * tags as metadata, the answer as the vector's `data`. The answer is not metadata because
 * metadata is returned with every candidate and is capped (48 KB a vector), while an answer with
 * its sources can be larger; `data` is read only for the accepted candidate, as Postgres reads
 * only its row. Expiry is checked against `now()` in the query's filter and again when the answer
 * is read, so an expired entry is never served. Failures throw (semantic.ts counts them as misses).
 */
export function upstashVectorStore(index: Index, tenantId: string, now: () => number = Date.now): SemanticStore {
  const namespace = index.namespace(semanticNamespace(tenantId));
  return {
    async candidates(scopeKey, model, vector, threshold, limit) {
      const hits = await namespace.query<EntryMetadata>({
        vector: Array.from(vector),
        topK: limit,
        includeMetadata: true,
        filter: `scope = ${literal(scopeKey)} AND model = ${literal(model)} AND expires > ${now()}`,
      });
      // Upstash reports COSINE as (1 + cos) / 2; the threshold is a cosine, as in Postgres.
      return hits
        .map((hit) => ({ id: String(hit.id), question: hit.metadata?.question ?? "", similarity: 2 * hit.score - 1 }))
        .filter((c) => c.question && c.similarity >= threshold);
    },
    async entry(id) {
      const [found] = await namespace.fetch<EntryMetadata>([id], { includeMetadata: true, includeData: true });
      if (!found?.data || !(Number(found.metadata?.expires) > now())) return undefined;
      return JSON.parse(found.data);
    },
    async put(scopeKey, model, question, vector, entry, ttlSeconds, maxPerScope, dependsOn = ["d"]) {
      const at = now();
      const metadata: EntryMetadata = {
        scope: scopeKey,
        model,
        question,
        expires: at + ttlSeconds * 1000,
        deps: dependsOn.map(versionTag),
      };
      await namespace.upsert({ id: newId(at), vector: Array.from(vector), data: JSON.stringify(entry), metadata });
      // The scope's ids (no metadata: a few bytes each), newest first; beyond maxPerScope they go.
      // Each put trims, so a scope holds at most maxPerScope + the puts racing it: one bounded query.
      const inScope = await namespace.query({
        vector: Array.from(vector),
        topK: maxPerScope + TRIM_SLACK,
        filter: `scope = ${literal(scopeKey)}`,
      });
      const oldest = inScope
        .map((hit) => String(hit.id))
        .sort()
        .reverse()
        .slice(maxPerScope);
      if (oldest.length) await namespace.delete(oldest);
    },
  };
}
