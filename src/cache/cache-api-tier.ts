import type { CacheTier } from "./tier.ts";

/** L1: the Cache API of the location serving the request (each location has its own). */
export function cacheApiTier(cache: Cache = caches.default): CacheTier {
  // The Cache API keys on URLs; this host is never fetched, it only names entries.
  const url = (key: string) => `https://cache.convo-rag.internal/${key}`;
  return {
    name: "l1",
    async get(key) {
      const res = await cache.match(url(key));
      return res ? await res.text() : undefined;
    },
    async put(key, value, ttlSeconds) {
      await cache.put(
        url(key),
        new Response(value, { headers: { "content-type": "application/json", "cache-control": `max-age=${ttlSeconds}` } }),
      );
    },
  };
}
