import { counters } from "../observability/counters.ts";
import type { CacheTier } from "./tier.ts";

export type CacheStatus = "HIT-L1" | "HIT-L2" | "HIT-SEMANTIC" | "MISS" | "BYPASS";

export interface MultiLevelCache {
  /** The value and where it was found; an L2 hit is copied into L1 through `defer`. */
  get(key: string, kind: string): Promise<{ value: string; status: "HIT-L1" | "HIT-L2" } | undefined>;
  /** Writes every level (through `defer`, off the response's path); `ttlSeconds` overrides L2's TTL (L1 keeps the shorter). */
  put(key: string, value: string, kind: string, ttlSeconds?: number): void;
}

export interface MultiLevelOptions {
  /** None: every read and write goes to L2 alone. */
  l1: CacheTier | undefined;
  l2: CacheTier;
  l1TtlSeconds: number;
  l2TtlSeconds: number;
  /** Runs background work after the response (ctx.waitUntil). */
  defer: (work: Promise<unknown>) => void;
}

/** L1 (per location) in front of L2 (global): reads try L1 then L2, promoting L2 hits. */
export function multiLevelCache(options: MultiLevelOptions): MultiLevelCache {
  const { l1, l2, defer } = options;
  return {
    async get(key, kind) {
      if (l1) {
        const near = await l1.get(key);
        if (near !== undefined) {
          counters.inc("rag_cache_hits_total", { cache_level: "l1", kind });
          return { value: near, status: "HIT-L1" };
        }
        counters.inc("rag_cache_misses_total", { cache_level: "l1", kind });
      }
      const far = await l2.get(key);
      if (far !== undefined) {
        counters.inc("rag_cache_hits_total", { cache_level: "l2", kind });
        if (l1) defer(l1.put(key, far, options.l1TtlSeconds));
        return { value: far, status: "HIT-L2" };
      }
      counters.inc("rag_cache_misses_total", { cache_level: "l2", kind });
      return undefined;
    },
    put(key, value, _kind, ttlSeconds) {
      const l2Ttl = ttlSeconds ?? options.l2TtlSeconds;
      defer(Promise.all([l1?.put(key, value, Math.min(options.l1TtlSeconds, l2Ttl)), l2.put(key, value, l2Ttl)]));
    },
  };
}
