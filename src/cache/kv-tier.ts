import type { CacheTier } from "./tier.ts";

/** KV's shortest expiration. */
const KV_MIN_TTL = 60;

/** L2: Workers KV, shared by every location (eventually consistent between them). */
export function kvTier(namespace: KVNamespace): CacheTier {
  return {
    name: "l2",
    get: async (key) => (await namespace.get(`c:${key}`)) ?? undefined,
    put: (key, value, ttlSeconds) => namespace.put(`c:${key}`, value, { expirationTtl: Math.max(KV_MIN_TTL, ttlSeconds) }),
  };
}
