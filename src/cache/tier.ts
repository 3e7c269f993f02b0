import { counters } from "../observability/counters.ts";

/** One cache level. Values are strings (JSON); keys are already tenant-scoped digests. */
export interface CacheTier {
  readonly name: "l1" | "l2";
  get(key: string): Promise<string | undefined>;
  put(key: string, value: string, ttlSeconds: number): Promise<void>;
}

/**
 * A tier that can never fail a request: a get or put that throws or takes longer than
 * `timeoutMs` counts as a miss (or a skipped write), is counted, and the request goes on.
 */
export function failOpen(tier: CacheTier, timeoutMs: number): CacheTier {
  const guard = async <T>(op: "get" | "put", work: () => Promise<T>, fallback: T): Promise<T> => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), timeoutMs)));
    try {
      const result = await Promise.race([work(), timeout]);
      if (result === "timeout") {
        counters.inc("rag_cache_errors_total", { cache_level: tier.name, op, reason: "timeout" });
        return fallback;
      }
      return result;
    } catch {
      counters.inc("rag_cache_errors_total", { cache_level: tier.name, op, reason: "error" });
      return fallback;
    } finally {
      clearTimeout(timer);
    }
  };
  return {
    name: tier.name,
    get: (key) => guard("get", () => tier.get(key), undefined),
    put: (key, value, ttl) => guard("put", () => tier.put(key, value, ttl), undefined),
  };
}
