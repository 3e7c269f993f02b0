import { vectorIndex } from "../cache/upstash-vector-index.ts";
import type { Config } from "../config.ts";
import type { SemanticStore } from "../db/ports.ts";
import { upstashVectorStore } from "./upstash-vector-store.ts";

/**
 * The one place the semantic cache's store is chosen (SEMANTIC_CACHE_STORE): the tenant's
 * Postgres port (default), or its namespace on Upstash Vector.
 *
 * @example semanticStore(config, "acme", () => services.stores.semantic)
 */
export function semanticStore(config: Pick<Config, "cache">, tenantId: string, postgres: () => SemanticStore): SemanticStore {
  const { store } = config.cache.semantic;
  if (store.kind === "upstash-vector") return upstashVectorStore(vectorIndex(store, config.cache.tierTimeoutMs * 4), tenantId);
  return postgres();
}
