import { Redis } from "@upstash/redis/cloudflare";
import type { CacheTier } from "./tier.ts";

/**
 * L2 on Upstash Redis (REST, works from any location) instead of Workers KV. Values are stored as
 * given (no JSON re-encoding, no base64 response encoding: they are UTF-8 JSON already); the
 * client does not retry, since the tier's own deadline turns a slow call into a miss.
 */
export function upstashTier(options: { url: string; token: string }): CacheTier {
  const redis = new Redis({
    url: options.url,
    token: options.token,
    retry: false,
    responseEncoding: false,
    automaticDeserialization: false,
  });
  return {
    name: "l2",
    get: async (key) => (await redis.get<string>(`c:${key}`)) ?? undefined,
    put: async (key, value, ttlSeconds) => void (await redis.set(`c:${key}`, value, { ex: ttlSeconds })),
  };
}
