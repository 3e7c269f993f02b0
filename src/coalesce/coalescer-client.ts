import type { Config } from "../config.ts";
import type { AskCoalescer } from "../durable/ask-coalescer.ts";
import { sha256Hex } from "../hash.ts";

/**
 * The AskCoalescer shard of one answer: one of the tenant's `durable.coalescerShards` objects,
 * chosen by a stable hash of the cache key, so identical asks meet in the same object while a
 * tenant's one-off questions reuse a bounded set of objects (the key is passed to every call).
 */
export function coalescerName(tenantId: string, cacheKey: string, config: Pick<Config, "durable">): string {
  const shard = Number.parseInt(sha256Hex(cacheKey).slice(0, 8), 16) % config.durable.coalescerShards;
  return `tenant:${tenantId}:ask-shard:${shard}`;
}

export const coalescerFor = (
  env: Env,
  tenantId: string,
  cacheKey: string,
  config: Pick<Config, "durable">,
): DurableObjectStub<AskCoalescer> => env.ASK_COALESCER.getByName(coalescerName(tenantId, cacheKey, config));
