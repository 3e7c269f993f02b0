import type { ChunkSearch } from "../db/ports.ts";
import type { SearchScope } from "../db/search.ts";

/**
 * The speakers of a scope, remembered per isolate for a short while and looked up once however
 * many requests ask at the same time. They only shape multi_query's variants and the speaker
 * boost, so a list up to TTL_MS old (a speaker added by an ingest in another isolate) costs a
 * little ranking, never a wrong answer; ingests in this isolate forget the tenant's lists at once.
 */
const TTL_MS = 30_000;
const MAX_ENTRIES = 1_000;
const known = new Map<string, { at: number; speakers: Promise<string[]> }>();

const keyOf = (scope: SearchScope) =>
  JSON.stringify([scope.tenantId, scope.conversationIds, scope.authorNames, scope.authorTypes, scope.from, scope.to]);

export function scopeSpeakers(chunks: ChunkSearch, scope: SearchScope, timeoutMs: number): Promise<string[]> {
  const key = keyOf(scope);
  const now = Date.now();
  const hit = known.get(key);
  if (hit && now - hit.at < TTL_MS) return hit.speakers;
  if (known.size >= MAX_ENTRIES) known.delete(known.keys().next().value!);
  const speakers = chunks.speakers(scope, timeoutMs);
  known.set(key, { at: now, speakers });
  speakers.catch(() => known.delete(key));
  return speakers;
}

/** A tenant's data changed: its speaker lists are looked up again. */
export function forgetSpeakers(tenantId: string): void {
  const prefix = JSON.stringify([tenantId]).slice(0, -1);
  for (const key of known.keys()) if (key.startsWith(prefix)) known.delete(key);
}
