import { z } from "zod";

/** How an ask's context is chosen from the retrieved chunks (context/select.ts). */
export const SELECTION_STRATEGIES = ["relevance", "diversity", "hybrid"] as const;
export type SelectionStrategy = (typeof SELECTION_STRATEGIES)[number];

/** Validated, typed configuration: parsed from the Worker's env once per isolate. */
export interface Config {
  embedding: {
    provider: "local" | "openai";
    model: string;
    dimensions: number;
    batchSize: number;
    /** Retries of a failed embedding call, with the SDK's jittered backoff. */
    maxRetries: number;
  };
  openai: { apiKey: string | undefined; baseURL: string | undefined; timeoutMs: number };
  chunkMaxTokens: number;
  /** Messages further apart than this start a new chunk (a new session of the conversation). */
  chunkSessionGapMinutes: number;
  maxBodyBytes: number;
  maxMessagesPerRequest: number;
  maxMessageChars: number;
  statementTimeoutMs: number;
  /** How long an isolate trusts a key lookup (0: every request asks the database). */
  authCacheTtlMs: number;
  /** How long the L2 cache keeps a verified key's owner for use while the database is down (0: never). */
  authFallbackTtlSeconds: number;
  /** One JSON log line per request (LOG_REQUESTS). */
  logRequests: boolean;
  /** Browser origins allowed to call the API (CORS_ORIGINS); none by default. */
  corsOrigins: string[];
  /** Whether each API key's requests are counted against KEY_RATE_LIMITER (off only for benchmarks on a private stack). */
  keyRateLimit: boolean;
  chat: {
    provider: "extractive" | "openai";
    /** Model used when a request names none. */
    model: string;
    /** Models a request may name (the default model is always allowed). */
    allowedModels: string[];
    temperature: number;
    defaultMaxTokens: number;
    /** Largest max_tokens a request may ask for. */
    maxTokensCap: number;
    /** A provider that sends no first token within this falls back to the extractive answer. */
    firstTokenTimeoutMs: number;
    /** Longest silence between two streamed pieces before the generation counts as failed. */
    idleTimeoutMs: number;
    /** Budget for LLM helper calls (follow-up rewrite, history summary) before the heuristic is used. */
    helperTimeoutMs: number;
    /** Failures in a row that open the provider's circuit breaker (0: never), and how long it stays open. */
    breaker: { failures: number; cooldownMs: number };
  };
  ask: {
    topK: number;
    /** Context budget of an ask; a request may ask for less. */
    maxContextTokens: number;
    /** Session history kept in the prompt; older turns are summarised when it is exceeded. */
    historyMaxTokens: number;
    historyVerbatimTurns: number;
    /** Context selection when a request names none. */
    strategy: SelectionStrategy;
    mmrLambda: number;
    hybridLambda: number;
    /** Cosine similarity above which a chunk counts as a duplicate of a better one. */
    redundancy: number;
    truncateMin: number;
  };
  retention: { embeddingCacheDays: number; sessionDays: number };
  cache: {
    enabled: boolean;
    /** L1: the Cache API (per location), or none (npm start: locally it is a disk store nothing sweeps). */
    l1: "cache-api" | "off";
    l1TtlSeconds: number;
    l2TtlSeconds: number;
    retrievalTtlSeconds: number;
    tierTimeoutMs: number;
    /** Asks with a higher temperature are not cached (their answers are meant to vary). */
    maxTemperature: number;
    semantic: { enabled: boolean; threshold: number };
    /** Where L2 lives: Workers KV (default) or Upstash Redis. */
    l2: { kind: "kv" } | { kind: "upstash"; url: string; token: string };
  };
  /** Durable Objects that batch, coalesce and budget provider calls (src/durable). */
  durable: {
    /** Query embeddings for a remote provider go through the EmbeddingBatcher. */
    batchEmbeddings: boolean;
    /** How long the first request of a batch waits for others. */
    batchWindowMs: number;
    /** A batch is sent as soon as this many requests wait. */
    batchMaxRequests: number;
    /** Batcher objects per tenant and model; each isolate sticks to one. */
    batcherShards: number;
    /** Identical uncached asks in flight share one generation through the AskCoalescer. */
    coalesceAsks: boolean;
    /** Followers wait this long for the leading request to finish retrieval and start the answer. */
    coalescePrepareTimeoutMs: number;
    /** A finished answer is replayed to identical asks for this long (until the cache has it). */
    coalesceGraceMs: number;
    /** AskCoalescer objects per tenant; each answer goes to one by a hash of its cache key. */
    coalescerShards: number;
  };
  /** The chat provider's rate limits; the RateBudget keeps usage under `share` of them. 0 turns a limit off. */
  rateBudget: {
    requestsPerMinute: number;
    tokensPerMinute: number;
    share: number;
    /** Over budget: answer with the extractive fallback, or refuse with 429 + Retry-After. */
    policy: "fallback" | "reject";
    /** Chat tokens a tenant may spend per UTC day with a remote provider (0: no limit). */
    tenantDailyTokens: number;
  };
  retrieval: {
    rrfK: number;
    efSearch: number;
    /** Candidates each strategy returns before fusion. */
    candidates: number;
    strategyTimeoutMs: number;
    /** statement_timeout of the search statements (semantic, keyword, the scope's speakers). */
    statementTimeoutMs: number;
    maxQueryTokens: number;
    defaultStrategies: StrategyName[];
    /** RRF weight of each strategy's list. */
    weights: Record<StrategyName, number>;
  };
}

export const STRATEGIES = ["semantic", "keyword", "multi_query"] as const;
export type StrategyName = (typeof STRATEGIES)[number];

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const schema = z.object({
  EMBEDDING_PROVIDER: z.enum(["local", "openai"]).default("local"),
  EMBEDDING_MODEL: z.string().min(1).optional(),
  EMBEDDING_DIMENSIONS: int(1, 16000).default(384),
  EMBEDDING_BATCH_SIZE: int(1, 2048).default(64),
  EMBEDDING_MAX_RETRIES: int(0, 5).default(2),
  OPENAI_API_KEY: z.string().min(1).optional(),
  OPENAI_BASE_URL: z.url().optional(),
  OPENAI_TIMEOUT_MS: int(100, 600_000).default(20_000),
  CHUNK_MAX_TOKENS: int(32, 8192).default(256),
  CHUNK_SESSION_GAP_MINUTES: int(1, 525_600).default(60),
  MAX_BODY_BYTES: int(1024, 100 * 1024 * 1024).default(5 * 1024 * 1024),
  MAX_MESSAGES_PER_REQUEST: int(1, 100_000).default(5000),
  MAX_MESSAGE_CHARS: int(1, 1_000_000).default(32_000),
  DB_STATEMENT_TIMEOUT_MS: int(100, 600_000).default(15_000),
  CHAT_PROVIDER: z.enum(["extractive", "openai"]).default("extractive"),
  CHAT_MODEL: z.string().min(1).optional(),
  CHAT_ALLOWED_MODELS: z
    .string()
    .optional()
    .transform(
      (s) =>
        s
          ?.split(",")
          .map((x) => x.trim())
          .filter(Boolean) ?? [],
    ),
  CHAT_TEMPERATURE: z.coerce.number().min(0).max(2).default(0.2),
  CHAT_DEFAULT_MAX_TOKENS: int(1, 128_000).default(512),
  CHAT_MAX_TOKENS: int(1, 128_000).default(2048),
  CHAT_FIRST_TOKEN_TIMEOUT_MS: int(100, 600_000).default(10_000),
  CHAT_IDLE_TIMEOUT_MS: int(100, 600_000).default(30_000),
  CHAT_HELPER_TIMEOUT_MS: int(100, 600_000).default(4_000),
  CHAT_BREAKER_FAILURES: int(0, 1000).default(5),
  CHAT_BREAKER_COOLDOWN_MS: int(100, 3_600_000).default(30_000),
  ASK_TOP_K: int(1, 50).default(12),
  MAX_CONTEXT_TOKENS: int(64, 200_000).default(1024),
  HISTORY_MAX_TOKENS: int(0, 100_000).default(1024),
  HISTORY_VERBATIM_TURNS: int(0, 50).default(3),
  EMBEDDING_CACHE_RETENTION_DAYS: int(1, 3650).default(30),
  SESSION_RETENTION_DAYS: int(1, 3650).default(90),
  CACHE_ENABLED: z.enum(["true", "false"]).default("true"),
  CACHE_L1: z.enum(["cache-api", "off"]).default("cache-api"),
  CACHE_L1_TTL_SECONDS: int(1, 86_400).default(300),
  CACHE_L2_TTL_SECONDS: int(60, 86_400).default(3600),
  CACHE_RETRIEVAL_TTL_SECONDS: int(60, 86_400).default(3600),
  CACHE_TIER_TIMEOUT_MS: int(1, 10_000).default(50),
  CACHE_MAX_TEMPERATURE: z.coerce.number().min(0).max(2).default(0.5),
  CACHE_L2: z.enum(["kv", "upstash"]).default("kv"),
  UPSTASH_REDIS_REST_URL: z.url().optional(),
  UPSTASH_REDIS_REST_TOKEN: z.string().min(1).optional(),
  SEMANTIC_CACHE_ENABLED: z.enum(["true", "false"]).default("true"),
  SEMANTIC_CACHE_THRESHOLD: z.coerce.number().min(0).max(1).default(0.9),
  CONTEXT_STRATEGY: z.enum(SELECTION_STRATEGIES).default("hybrid"),
  CONTEXT_MMR_LAMBDA: z.coerce.number().min(0).max(1).default(0.7),
  CONTEXT_HYBRID_LAMBDA: z.coerce.number().min(0).max(1).default(0.95),
  CONTEXT_REDUNDANCY: z.coerce.number().min(0).max(1).default(0.9),
  CONTEXT_TRUNCATE_MIN_TOKENS: int(0, 100_000).default(100),
  AUTH_CACHE_TTL_SECONDS: int(0, 3600).default(30),
  AUTH_FALLBACK_TTL_SECONDS: int(0, 30 * 86_400).default(86_400),
  LOG_REQUESTS: z.enum(["true", "false"]).default("true"),
  KEY_RATE_LIMIT: z.enum(["on", "off"]).default("on"),
  CORS_ORIGINS: z
    .string()
    .optional()
    .transform(
      (s) =>
        s
          ?.split(",")
          .map((x) => x.trim())
          .filter(Boolean) ?? [],
    )
    .pipe(
      z.array(
        z.url().refine((u) => new URL(u).origin === u, "must be an origin such as https://app.example.com (scheme, host, port; no path)"),
      ),
    ),
  EMBEDDING_BATCHING: z.enum(["true", "false"]).default("true"),
  // Up to a minute: with EMBEDDING_BATCH_MAX_REQUESTS a test can make a batch wait for all its requests.
  EMBEDDING_BATCH_WINDOW_MS: int(0, 60_000).default(10),
  EMBEDDING_BATCH_MAX_REQUESTS: int(1, 2048).default(64),
  EMBEDDING_BATCHER_SHARDS: int(1, 256).default(4),
  ASK_COALESCE: z.enum(["true", "false"]).default("true"),
  ASK_COALESCE_PREPARE_TIMEOUT_MS: int(100, 120_000).default(15_000),
  ASK_COALESCE_GRACE_MS: int(0, 600_000).default(10_000),
  ASK_COALESCER_SHARDS: int(1, 1024).default(16),
  CHAT_RATE_LIMIT_RPM: int(0, 10_000_000).default(500),
  CHAT_RATE_LIMIT_TPM: int(0, 1_000_000_000).default(200_000),
  CHAT_RATE_BUDGET_SHARE: z.coerce.number().gt(0).max(1).default(0.8),
  CHAT_RATE_POLICY: z.enum(["fallback", "reject"]).default("fallback"),
  TENANT_DAILY_TOKENS: int(0, 1_000_000_000_000).default(2_000_000),
  RRF_K: int(1, 10_000).default(60),
  HNSW_EF_SEARCH: int(1, 1000).default(100),
  RETRIEVE_CANDIDATES: int(10, 1000).default(60),
  RETRIEVE_STRATEGY_TIMEOUT_MS: int(10, 60_000).default(3000),
  DB_READ_TIMEOUT_MS: int(100, 600_000).default(3000),
  MAX_QUERY_TOKENS: int(8, 8192).default(256),
  RETRIEVE_STRATEGIES: z
    .string()
    .optional()
    .transform((s) => s?.split(",").map((x) => x.trim()))
    .pipe(z.array(z.enum(STRATEGIES)).min(1).optional()),
  RRF_WEIGHTS: z
    .string()
    .default("keyword:1,semantic:1,multi_query:1")
    .transform((s) => Object.fromEntries(s.split(",").map((pair) => pair.split(":").map((x) => x.trim()))))
    .pipe(
      z
        .object({
          keyword: z.coerce.number().min(0).default(1),
          semantic: z.coerce.number().min(0).default(1),
          multi_query: z.coerce.number().min(0).default(1),
        })
        .strict(),
    ),
});

export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Parses raw variables into a Config; throws ConfigError naming every bad variable. */
export function parseConfig(vars: Record<string, unknown>): Config {
  const present = Object.fromEntries(Object.entries(vars).filter(([, v]) => v !== "" && v !== undefined));
  const result = schema.safeParse(present);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
    throw new ConfigError(`invalid configuration: ${problems}`);
  }
  const v = result.data;
  if (v.EMBEDDING_PROVIDER === "openai" && !v.OPENAI_API_KEY && !v.OPENAI_BASE_URL) {
    throw new ConfigError("invalid configuration: EMBEDDING_PROVIDER=openai needs OPENAI_API_KEY (or OPENAI_BASE_URL for a local server)");
  }
  if (v.CHAT_PROVIDER === "openai" && !v.OPENAI_API_KEY && !v.OPENAI_BASE_URL) {
    throw new ConfigError("invalid configuration: CHAT_PROVIDER=openai needs OPENAI_API_KEY (or OPENAI_BASE_URL for a local server)");
  }
  if (v.CHAT_DEFAULT_MAX_TOKENS > v.CHAT_MAX_TOKENS) {
    throw new ConfigError("invalid configuration: CHAT_DEFAULT_MAX_TOKENS must not exceed CHAT_MAX_TOKENS");
  }
  if (v.CACHE_L2 === "upstash" && (!v.UPSTASH_REDIS_REST_URL || !v.UPSTASH_REDIS_REST_TOKEN)) {
    throw new ConfigError("invalid configuration: CACHE_L2=upstash needs UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN");
  }
  const chatModel = v.CHAT_MODEL ?? (v.CHAT_PROVIDER === "openai" ? "gpt-4o-mini" : "extractive-v1");
  return {
    embedding: {
      provider: v.EMBEDDING_PROVIDER,
      model: v.EMBEDDING_MODEL ?? (v.EMBEDDING_PROVIDER === "local" ? "local-hash-v1" : "text-embedding-3-small"),
      dimensions: v.EMBEDDING_DIMENSIONS,
      batchSize: v.EMBEDDING_BATCH_SIZE,
      maxRetries: v.EMBEDDING_MAX_RETRIES,
    },
    openai: { apiKey: v.OPENAI_API_KEY, baseURL: v.OPENAI_BASE_URL, timeoutMs: v.OPENAI_TIMEOUT_MS },
    chunkMaxTokens: v.CHUNK_MAX_TOKENS,
    chunkSessionGapMinutes: v.CHUNK_SESSION_GAP_MINUTES,
    maxBodyBytes: v.MAX_BODY_BYTES,
    maxMessagesPerRequest: v.MAX_MESSAGES_PER_REQUEST,
    maxMessageChars: v.MAX_MESSAGE_CHARS,
    statementTimeoutMs: v.DB_STATEMENT_TIMEOUT_MS,
    authCacheTtlMs: v.AUTH_CACHE_TTL_SECONDS * 1000,
    authFallbackTtlSeconds: v.AUTH_FALLBACK_TTL_SECONDS,
    logRequests: v.LOG_REQUESTS === "true",
    corsOrigins: v.CORS_ORIGINS,
    keyRateLimit: v.KEY_RATE_LIMIT === "on",
    chat: {
      provider: v.CHAT_PROVIDER,
      model: chatModel,
      allowedModels: [...new Set([chatModel, ...v.CHAT_ALLOWED_MODELS])],
      temperature: v.CHAT_TEMPERATURE,
      defaultMaxTokens: v.CHAT_DEFAULT_MAX_TOKENS,
      maxTokensCap: v.CHAT_MAX_TOKENS,
      firstTokenTimeoutMs: v.CHAT_FIRST_TOKEN_TIMEOUT_MS,
      idleTimeoutMs: v.CHAT_IDLE_TIMEOUT_MS,
      helperTimeoutMs: v.CHAT_HELPER_TIMEOUT_MS,
      breaker: { failures: v.CHAT_BREAKER_FAILURES, cooldownMs: v.CHAT_BREAKER_COOLDOWN_MS },
    },
    ask: {
      topK: v.ASK_TOP_K,
      maxContextTokens: v.MAX_CONTEXT_TOKENS,
      historyMaxTokens: v.HISTORY_MAX_TOKENS,
      historyVerbatimTurns: v.HISTORY_VERBATIM_TURNS,
      strategy: v.CONTEXT_STRATEGY,
      mmrLambda: v.CONTEXT_MMR_LAMBDA,
      hybridLambda: v.CONTEXT_HYBRID_LAMBDA,
      redundancy: v.CONTEXT_REDUNDANCY,
      truncateMin: v.CONTEXT_TRUNCATE_MIN_TOKENS,
    },
    retention: { embeddingCacheDays: v.EMBEDDING_CACHE_RETENTION_DAYS, sessionDays: v.SESSION_RETENTION_DAYS },
    cache: {
      enabled: v.CACHE_ENABLED === "true",
      l1: v.CACHE_L1,
      l1TtlSeconds: v.CACHE_L1_TTL_SECONDS,
      l2TtlSeconds: v.CACHE_L2_TTL_SECONDS,
      retrievalTtlSeconds: v.CACHE_RETRIEVAL_TTL_SECONDS,
      tierTimeoutMs: v.CACHE_TIER_TIMEOUT_MS,
      maxTemperature: v.CACHE_MAX_TEMPERATURE,
      semantic: { enabled: v.SEMANTIC_CACHE_ENABLED === "true", threshold: v.SEMANTIC_CACHE_THRESHOLD },
      l2:
        v.CACHE_L2 === "upstash" ? { kind: "upstash", url: v.UPSTASH_REDIS_REST_URL!, token: v.UPSTASH_REDIS_REST_TOKEN! } : { kind: "kv" },
    },
    durable: {
      batchEmbeddings: v.EMBEDDING_BATCHING === "true",
      batchWindowMs: v.EMBEDDING_BATCH_WINDOW_MS,
      batchMaxRequests: v.EMBEDDING_BATCH_MAX_REQUESTS,
      batcherShards: v.EMBEDDING_BATCHER_SHARDS,
      coalesceAsks: v.ASK_COALESCE === "true",
      coalescePrepareTimeoutMs: v.ASK_COALESCE_PREPARE_TIMEOUT_MS,
      coalesceGraceMs: v.ASK_COALESCE_GRACE_MS,
      coalescerShards: v.ASK_COALESCER_SHARDS,
    },
    rateBudget: {
      requestsPerMinute: v.CHAT_RATE_LIMIT_RPM,
      tokensPerMinute: v.CHAT_RATE_LIMIT_TPM,
      share: v.CHAT_RATE_BUDGET_SHARE,
      policy: v.CHAT_RATE_POLICY,
      tenantDailyTokens: v.TENANT_DAILY_TOKENS,
    },
    retrieval: {
      rrfK: v.RRF_K,
      efSearch: v.HNSW_EF_SEARCH,
      candidates: v.RETRIEVE_CANDIDATES,
      strategyTimeoutMs: v.RETRIEVE_STRATEGY_TIMEOUT_MS,
      statementTimeoutMs: v.DB_READ_TIMEOUT_MS,
      maxQueryTokens: v.MAX_QUERY_TOKENS,
      // Measured on LoCoMo (docs/RETRIEVAL.md): with the lexical local embedder, BM25 alone ranks best;
      // a semantic model adds what words miss, so the openai provider searches with all three.
      defaultStrategies: v.RETRIEVE_STRATEGIES ?? (v.EMBEDDING_PROVIDER === "local" ? ["keyword"] : ["semantic", "keyword", "multi_query"]),
      weights: v.RRF_WEIGHTS,
    },
  };
}

const perIsolate = new WeakMap<object, Config>();

/** The Config for this env, parsed on first use in the isolate. */
export function configFor(env: Env): Config {
  let config = perIsolate.get(env);
  if (!config) {
    config = parseConfig(env as unknown as Record<string, unknown>);
    perIsolate.set(env, config);
  }
  return config;
}

/** Memoises something derived from a Config (a request schema, say), so it is built once per isolate. */
export function perConfig<T>(build: (config: Config) => T): (config: Config) => T {
  const built = new WeakMap<Config, T>();
  return (config) => {
    let value = built.get(config);
    if (value === undefined) built.set(config, (value = build(config)));
    return value;
  };
}
