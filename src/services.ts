import { type Budget, chatBudget } from "./admission/rate-budget.ts";
import { type Quota, tenantQuota } from "./admission/tenant-quota.ts";
import { cachedEmbedder } from "./cache/cached-embedder.ts";
import { responseCache } from "./cache/index.ts";
import type { MultiLevelCache } from "./cache/multilevel.ts";
import type { Versions } from "./cache/versions.ts";
import type { Config } from "./config.ts";
import type { Sql } from "./db/client.ts";
import type { EmbeddingModel } from "./db/embedding-models.ts";
import { postgresStores, type Stores } from "./db/postgres.ts";
import { batchedEmbedder } from "./durable/embedding-batcher-client.ts";
import type { Embedder } from "./providers/embedder.ts";
import { createEmbedder } from "./providers/index.ts";
import { memoisedEmbedder } from "./providers/memoised-embedder.ts";
import { configForModel } from "./reembed/embedders.ts";
import { searchModel } from "./reembed/search-model.ts";

/**
 * Everything a request's pipeline talks to, built once per request for the tenant its key
 * resolves to: the one place where concrete backends are chosen (Postgres ports, cache tiers,
 * Durable Object clients, providers). Each part is created on first use.
 */
export interface Services {
  readonly config: Config;
  readonly env: Env;
  readonly tenantId: string;
  readonly requestId: string;
  /** The request's Postgres client (for the routes that are not yet behind a port). */
  sql(): Sql;
  /** The database ports, bound to the tenant. */
  readonly stores: Stores;
  /**
   * The embedding model the tenant's chunks are searched with (its own, which a re-embedding job
   * changes; the configured one before it has stored anything).
   */
  searchModel(): Promise<EmbeddingModel>;
  /**
   * Questions' embedder, for the search model: a text is embedded once per request (the semantic
   * cache's probe and retrieval share it). Available once searchModel() has resolved (the ask and
   * retrieve routes await it first: their defaults depend on it).
   */
  readonly embedder: Embedder;
  /** The response cache tiers and the tenant's data versions. */
  readonly cache: MultiLevelCache;
  readonly versions: Versions;
  /** The chat provider's rate budget and the tenant's daily quota. */
  readonly budget: Budget;
  readonly quota: Quota;
  /** Runs work after the response has been sent (cache writes, settlements). */
  defer(work: Promise<unknown>): void;
}

export interface ServiceInputs {
  env: Env;
  config: Config;
  tenantId: string;
  requestId: string;
  sql: () => Sql;
  defer: (work: Promise<unknown>) => void;
}

export function createServices(inputs: ServiceInputs): Services {
  const { env, config, tenantId } = inputs;
  const once = <T>(make: () => T): (() => T) => {
    let value: T | undefined;
    let made = false;
    return () => {
      if (!made) {
        value = make();
        made = true;
      }
      return value as T;
    };
  };
  const stores = once(() => postgresStores(inputs.sql, tenantId));
  const cache = once(() => responseCache(env, config, inputs.defer));
  let resolved: EmbeddingModel | undefined;
  const model = once(async () => (resolved = await searchModel(inputs.sql, tenantId, config)));
  const embedder = once(() => {
    if (!resolved) throw new Error("services.embedder: await services.searchModel() first");
    return queryEmbedder(config, env, tenantId, () => stores().embeddings, resolved);
  });
  const budget = once(() => chatBudget(env, config));
  const quota = once(() => tenantQuota(env, tenantId, config));
  return {
    config,
    env,
    tenantId,
    requestId: inputs.requestId,
    sql: inputs.sql,
    defer: inputs.defer,
    get stores() {
      return stores();
    },
    searchModel: model,
    get embedder() {
      return embedder();
    },
    get cache() {
      return cache().cache;
    },
    get versions() {
      return cache().versions;
    },
    get budget() {
      return budget();
    },
    get quota() {
      return quota();
    },
  };
}

/**
 * The embedder for questions, of the tenant's search model. A remote provider's vectors are kept
 * in the tenant's persistent embedding cache and, with EMBEDDING_BATCHER on, requested through the
 * tenant's batcher (which reads that cache for the whole batch).
 */
function queryEmbedder(config: Config, env: Env, tenantId: string, store: () => Stores["embeddings"], model: EmbeddingModel): Embedder {
  const forModel = configForModel(config, model);
  let embedder = createEmbedder(forModel, env);
  if (forModel.embedding.provider !== "local") {
    const direct = cachedEmbedder(embedder, store());
    embedder = config.durable.batchEmbeddings ? batchedEmbedder(env, tenantId, forModel, direct) : direct;
  }
  return memoisedEmbedder(embedder);
}
