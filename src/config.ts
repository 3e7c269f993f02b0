import { z } from "zod";

// The Worker's variables, by feature: each slice is one zod object over the variables it reads,
// turned into the shape its stage takes; its type is derived from it, so a variable is named once
// in its schema and once in its mapping. A stage takes only its slice (Config["chat"], …).

/** How an ask's context is chosen from the retrieved chunks (context/select.ts). */
export const SELECTION_STRATEGIES = ["relevance", "diversity", "hybrid"] as const;
export type SelectionStrategy = (typeof SELECTION_STRATEGIES)[number];

export const STRATEGIES = ["semantic", "keyword", "multi_query"] as const;

export const EMBEDDING_PROVIDERS = ["local", "openai", "workers-ai"] as const;
export type EmbeddingProvider = (typeof EMBEDDING_PROVIDERS)[number];

/** Each embedding provider's model when EMBEDDING_MODEL names none. */
export const DEFAULT_EMBEDDING_MODELS: Record<EmbeddingProvider, string> = {
  local: "local-hash-v1",
  openai: "text-embedding-3-small",
  "workers-ai": "@cf/baai/bge-small-en-v1.5",
};
export type StrategyName = (typeof STRATEGIES)[number];

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const flag = (fallback: "true" | "false") => z.enum(["true", "false"]).default(fallback);
const list = z
  .string()
  .optional()
  .transform(
    (s) =>
      s
        ?.split(",")
        .map((x) => x.trim())
        .filter(Boolean) ?? [],
  );

const embedding = z
  .object({
    EMBEDDING_PROVIDER: z.enum(EMBEDDING_PROVIDERS).default("local"),
    EMBEDDING_MODEL: z.string().min(1).optional(),
    EMBEDDING_DIMENSIONS: int(1, 16000).default(384),
    EMBEDDING_BATCH_SIZE: int(1, 2048).default(64),
    /** Retries of a failed embedding call, with the SDK's jittered backoff. */
    EMBEDDING_MAX_RETRIES: int(0, 5).default(2),
  })
  .transform((v) => ({
    provider: v.EMBEDDING_PROVIDER,
    model: v.EMBEDDING_MODEL ?? DEFAULT_EMBEDDING_MODELS[v.EMBEDDING_PROVIDER],
    dimensions: v.EMBEDDING_DIMENSIONS,
    batchSize: v.EMBEDDING_BATCH_SIZE,
    maxRetries: v.EMBEDDING_MAX_RETRIES,
  }));

const openai = z
  .object({
    OPENAI_API_KEY: z.string().min(1).optional(),
    OPENAI_BASE_URL: z.url().optional(),
    OPENAI_TIMEOUT_MS: int(100, 600_000).default(20_000),
  })
  .transform((v) => ({ apiKey: v.OPENAI_API_KEY, baseURL: v.OPENAI_BASE_URL, timeoutMs: v.OPENAI_TIMEOUT_MS }));

/** Workers AI through the `AI` binding, optionally through an AI Gateway (docs/WORKERS_AI.md). */
const workersAi = z
  .object({
    AI_GATEWAY_ID: z.string().min(1).optional(),
    AI_GATEWAY_CACHE: z.enum(["on", "off"]).default("off"),
    AI_GATEWAY_CACHE_TTL_SECONDS: int(1, 2_592_000).optional(),
    WORKERS_AI_TIMEOUT_MS: int(100, 600_000).default(20_000),
  })
  .transform((v) => ({
    /** The AI Gateway the binding's calls go through (its logs, analytics, retries); none by default. */
    gateway: v.AI_GATEWAY_ID,
    /**
     * Whether the gateway may answer from its own cache. Off by default: it keys on the request
     * alone, not on our data versions, so it could replay an answer about data that has changed.
     */
    gatewayCache: v.AI_GATEWAY_CACHE === "on",
    gatewayCacheTtlSeconds: v.AI_GATEWAY_CACHE_TTL_SECONDS,
    /** Deadline of one embedding call or one non-streamed completion. */
    timeoutMs: v.WORKERS_AI_TIMEOUT_MS,
  }));

/** Ingestion limits and chunking, and the database's statement timeout (top-level fields). */
const ingest = z
  .object({
    CHUNK_MAX_TOKENS: int(32, 8192).default(256),
    CHUNK_SESSION_GAP_MINUTES: int(1, 525_600).default(60),
    MAX_BODY_BYTES: int(1024, 100 * 1024 * 1024).default(5 * 1024 * 1024),
    MAX_MESSAGES_PER_REQUEST: int(1, 100_000).default(5000),
    MAX_MESSAGE_CHARS: int(1, 1_000_000).default(32_000),
    INGEST_MAX_WORK: int(1, 100_000_000).default(2_000_000),
    DB_STATEMENT_TIMEOUT_MS: int(100, 600_000).default(15_000),
  })
  .transform((v) => ({
    chunkMaxTokens: v.CHUNK_MAX_TOKENS,
    /** Messages further apart than this start a new chunk (a new session of the conversation). */
    chunkSessionGapMinutes: v.CHUNK_SESSION_GAP_MINUTES,
    maxBodyBytes: v.MAX_BODY_BYTES,
    maxMessagesPerRequest: v.MAX_MESSAGES_PER_REQUEST,
    maxMessageChars: v.MAX_MESSAGE_CHARS,
    /**
     * Work one POST /api/conversations may ask for: its messages' characters plus 200 per
     * message. Beyond it the request gets a 413 that points to POST /api/imports, which works in
     * the background in bounded steps.
     */
    ingestMaxWork: v.INGEST_MAX_WORK,
    statementTimeoutMs: v.DB_STATEMENT_TIMEOUT_MS,
  }));

/** Background imports (src/imports). */
const imports = z
  .object({
    IMPORT_MAX_BYTES: int(1024, 5 * 1024 * 1024 * 1024).default(100 * 1024 * 1024),
    IMPORT_STEP_BATCHES: int(1, 1000).default(20),
    IMPORT_PARSE_STEP_BATCHES: int(1, 10_000).default(200),
    IMPORT_PARSE_STEP_BYTES: int(1024, 2 ** 30).default(64 * 1024 * 1024),
    IMPORT_MAX_MESSAGES: int(1, 100_000_000).default(1_000_000),
    IMPORT_MAX_INFLATED_BYTES: int(1024, 16 * 2 ** 30).default(2 ** 30),
    IMPORT_MAX_STEPS: int(2, 1_000_000).default(1000),
    IMPORT_STALL_MINUTES: int(1, 10_080).default(10),
  })
  .transform((v) => ({
    /** Largest file POST /api/imports takes (Cloudflare's request body limit is 100 MB on most plans). */
    maxBytes: v.IMPORT_MAX_BYTES,
    /** Batches (of up to 500 messages) one import step stores before the next step takes over. */
    stepBatches: v.IMPORT_STEP_BATCHES,
    /** Batches one parse step writes to the spool (parsing costs a small part of storing). */
    parseStepBatches: v.IMPORT_PARSE_STEP_BATCHES,
    /** Bytes of the file one parse step reads at most, however few messages they hold. */
    parseStepBytes: v.IMPORT_PARSE_STEP_BYTES,
    /** Messages one import may hold; a file with more fails before anything is stored. */
    maxMessages: v.IMPORT_MAX_MESSAGES,
    /** What a zip upload may inflate to, all its read entries together and one alone (and 200× its compressed size). */
    maxInflatedBytes: v.IMPORT_MAX_INFLATED_BYTES,
    /** Steps one import may take, retries included; past it the import fails. */
    maxSteps: v.IMPORT_MAX_STEPS,
    /** An unfinished import silent this long has lost its queue message: the watchdog queues it again. */
    stallMinutes: v.IMPORT_STALL_MINUTES,
  }));

/** Authentication, CORS and the request log (top-level fields). */
const access = z
  .object({
    AUTH_CACHE_TTL_SECONDS: int(0, 3600).default(30),
    AUTH_FALLBACK_TTL_SECONDS: int(0, 30 * 86_400).default(86_400),
    LOG_REQUESTS: flag("true"),
    KEY_RATE_LIMIT: z.enum(["on", "off"]).default("on"),
    CORS_ORIGINS: list.pipe(
      z.array(
        z.url().refine((u) => new URL(u).origin === u, "must be an origin such as https://app.example.com (scheme, host, port; no path)"),
      ),
    ),
  })
  .transform((v) => ({
    /** How long an isolate trusts a key lookup (0: every request asks the database). */
    authCacheTtlMs: v.AUTH_CACHE_TTL_SECONDS * 1000,
    /** How long the L2 cache keeps a verified key's owner for use while the database is down (0: never). */
    authFallbackTtlSeconds: v.AUTH_FALLBACK_TTL_SECONDS,
    /** One JSON log line per request (LOG_REQUESTS). */
    logRequests: v.LOG_REQUESTS === "true",
    /** Browser origins allowed to call the API (CORS_ORIGINS); none by default. */
    corsOrigins: v.CORS_ORIGINS,
    /** Whether each API key's requests are counted against KEY_RATE_LIMITER (off only for benchmarks on a private stack). */
    keyRateLimit: v.KEY_RATE_LIMIT === "on",
  }));

/** Each chat provider's model when CHAT_MODEL names none. */
export const DEFAULT_CHAT_MODELS = {
  extractive: "extractive-v1",
  openai: "gpt-4o-mini",
  "workers-ai": "@cf/meta/llama-3.3-70b-instruct-fp8-fast",
} as const;

const chat = z
  .object({
    CHAT_PROVIDER: z.enum(["extractive", "openai", "workers-ai"]).default("extractive"),
    CHAT_MODEL: z.string().min(1).optional(),
    CHAT_ALLOWED_MODELS: list,
    CHAT_TEMPERATURE: z.coerce.number().min(0).max(2).default(0.2),
    CHAT_DEFAULT_MAX_TOKENS: int(1, 128_000).default(512),
    CHAT_MAX_TOKENS: int(1, 128_000).default(2048),
    CHAT_FIRST_TOKEN_TIMEOUT_MS: int(100, 600_000).default(10_000),
    CHAT_IDLE_TIMEOUT_MS: int(100, 600_000).default(30_000),
    CHAT_HELPER_TIMEOUT_MS: int(100, 600_000).default(4_000),
    CHAT_BREAKER_FAILURES: int(0, 1000).default(5),
    CHAT_BREAKER_COOLDOWN_MS: int(100, 3_600_000).default(30_000),
  })
  .refine((v) => v.CHAT_DEFAULT_MAX_TOKENS <= v.CHAT_MAX_TOKENS, {
    path: ["CHAT_DEFAULT_MAX_TOKENS"],
    message: "must not exceed CHAT_MAX_TOKENS",
  })
  .transform((v) => {
    const model = v.CHAT_MODEL ?? DEFAULT_CHAT_MODELS[v.CHAT_PROVIDER];
    return {
      provider: v.CHAT_PROVIDER,
      /** Model used when a request names none. */
      model,
      /** Models a request may name (the default model is always allowed). */
      allowedModels: [...new Set([model, ...v.CHAT_ALLOWED_MODELS])],
      temperature: v.CHAT_TEMPERATURE,
      defaultMaxTokens: v.CHAT_DEFAULT_MAX_TOKENS,
      /** Largest max_tokens a request may ask for. */
      maxTokensCap: v.CHAT_MAX_TOKENS,
      /** A provider that sends no first token within this falls back to the extractive answer. */
      firstTokenTimeoutMs: v.CHAT_FIRST_TOKEN_TIMEOUT_MS,
      /** Longest silence between two streamed pieces before the generation counts as failed. */
      idleTimeoutMs: v.CHAT_IDLE_TIMEOUT_MS,
      /** Budget for LLM helper calls (follow-up rewrite, history summary) before the heuristic is used. */
      helperTimeoutMs: v.CHAT_HELPER_TIMEOUT_MS,
      /** Failures in a row that open the provider's circuit breaker (0: never), and how long it stays open. */
      breaker: { failures: v.CHAT_BREAKER_FAILURES, cooldownMs: v.CHAT_BREAKER_COOLDOWN_MS },
    };
  });

const ask = z
  .object({
    ASK_TOP_K: int(1, 50).default(12),
    MAX_CONTEXT_TOKENS: int(64, 200_000).default(1024),
    HISTORY_MAX_TOKENS: int(0, 100_000).default(1024),
    HISTORY_VERBATIM_TURNS: int(0, 50).default(3),
    CONTEXT_STRATEGY: z.enum(SELECTION_STRATEGIES).default("hybrid"),
    CONTEXT_MMR_LAMBDA: z.coerce.number().min(0).max(1).default(0.7),
    CONTEXT_HYBRID_LAMBDA: z.coerce.number().min(0).max(1).default(0.95),
    CONTEXT_REDUNDANCY: z.coerce.number().min(0).max(1).default(0.9),
    CONTEXT_TRUNCATE_MIN_TOKENS: int(0, 100_000).default(100),
    RELEVANCE_FLOOR: z.coerce.number().min(0).max(1).default(0.35),
  })
  .transform((v) => ({
    topK: v.ASK_TOP_K,
    /** Context budget of an ask; a request may ask for less. */
    maxContextTokens: v.MAX_CONTEXT_TOKENS,
    /** Session history kept in the prompt; older turns are summarised when it is exceeded. */
    historyMaxTokens: v.HISTORY_MAX_TOKENS,
    historyVerbatimTurns: v.HISTORY_VERBATIM_TURNS,
    /** Context selection when a request names none. */
    strategy: v.CONTEXT_STRATEGY,
    mmrLambda: v.CONTEXT_MMR_LAMBDA,
    hybridLambda: v.CONTEXT_HYBRID_LAMBDA,
    /** Cosine similarity above which a chunk counts as a duplicate of a better one. */
    redundancy: v.CONTEXT_REDUNDANCY,
    truncateMin: v.CONTEXT_TRUNCATE_MIN_TOKENS,
    /** Term coverage (context/relevance.ts) the best source needs for an answer; below it the answer says nothing relevant was found. */
    relevanceFloor: v.RELEVANCE_FLOOR,
  }));

const retention = z
  .object({
    EMBEDDING_CACHE_RETENTION_DAYS: int(1, 3650).default(30),
    SESSION_RETENTION_DAYS: int(1, 3650).default(90),
  })
  .transform((v) => ({ embeddingCacheDays: v.EMBEDDING_CACHE_RETENTION_DAYS, sessionDays: v.SESSION_RETENTION_DAYS }));

const cache = z
  .object({
    CACHE_ENABLED: flag("true"),
    CACHE_L1: z.enum(["cache-api", "off"]).default("cache-api"),
    CACHE_L1_TTL_SECONDS: int(1, 86_400).default(300),
    CACHE_L2_TTL_SECONDS: int(60, 86_400).default(3600),
    CACHE_RETRIEVAL_TTL_SECONDS: int(60, 86_400).default(3600),
    CACHE_TIER_TIMEOUT_MS: int(1, 10_000).default(50),
    CACHE_MAX_TEMPERATURE: z.coerce.number().min(0).max(2).default(0.5),
    CACHE_L2: z.enum(["kv", "upstash"]).default("kv"),
    UPSTASH_REDIS_REST_URL: z.url().optional(),
    UPSTASH_REDIS_REST_TOKEN: z.string().min(1).optional(),
    SEMANTIC_CACHE_ENABLED: flag("true"),
    SEMANTIC_CACHE_THRESHOLD: z.coerce.number().min(0).max(1).default(0.9),
    SEMANTIC_CACHE_THRESHOLDS: list.pipe(
      z.array(
        z
          .string()
          .regex(
            /^[^=\s]+=(0(\.\d+)?|1(\.0+)?)$/,
            "must be model=similarity, the similarity between 0 and 1 (e.g. @cf/baai/bge-small-en-v1.5=0.92)",
          )
          .transform((pair) => [pair.slice(0, pair.lastIndexOf("=")), Number(pair.slice(pair.lastIndexOf("=") + 1))] as const),
      ),
    ),
    SEMANTIC_CACHE_STORE: z.enum(["postgres", "upstash-vector"]).default("postgres"),
    UPSTASH_VECTOR_REST_URL: z.url().optional(),
    UPSTASH_VECTOR_REST_TOKEN: z.string().min(1).optional(),
  })
  .refine((v) => v.CACHE_L2 !== "upstash" || (v.UPSTASH_REDIS_REST_URL && v.UPSTASH_REDIS_REST_TOKEN), {
    path: ["CACHE_L2"],
    message: "upstash needs UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN",
  })
  .refine((v) => v.SEMANTIC_CACHE_STORE !== "upstash-vector" || (v.UPSTASH_VECTOR_REST_URL && v.UPSTASH_VECTOR_REST_TOKEN), {
    path: ["SEMANTIC_CACHE_STORE"],
    message: "upstash-vector needs UPSTASH_VECTOR_REST_URL and UPSTASH_VECTOR_REST_TOKEN",
  })
  .transform((v) => ({
    enabled: v.CACHE_ENABLED === "true",
    /** L1: the Cache API (per location), or none (npm start: locally it is a disk store nothing sweeps). */
    l1: v.CACHE_L1,
    l1TtlSeconds: v.CACHE_L1_TTL_SECONDS,
    l2TtlSeconds: v.CACHE_L2_TTL_SECONDS,
    retrievalTtlSeconds: v.CACHE_RETRIEVAL_TTL_SECONDS,
    tierTimeoutMs: v.CACHE_TIER_TIMEOUT_MS,
    /** Asks with a higher temperature are not cached (their answers are meant to vary). */
    maxTemperature: v.CACHE_MAX_TEMPERATURE,
    semantic: {
      enabled: v.SEMANTIC_CACHE_ENABLED === "true",
      /** Cosine similarity a cached question needs to stand for a new one, for models not in `thresholds`. */
      threshold: v.SEMANTIC_CACHE_THRESHOLD,
      /**
       * Per embedding model (SEMANTIC_CACHE_THRESHOLDS): similarities are not comparable across
       * models, so each is calibrated on its own (docs/CACHING.md, "Calibrating the threshold").
       */
      thresholds: Object.fromEntries(v.SEMANTIC_CACHE_THRESHOLDS) as Record<string, number>,
      /** Where the semantic cache's questions and vectors live: Postgres (default) or Upstash Vector. */
      store: (v.SEMANTIC_CACHE_STORE === "upstash-vector"
        ? { kind: "upstash-vector", url: v.UPSTASH_VECTOR_REST_URL!, token: v.UPSTASH_VECTOR_REST_TOKEN! }
        : { kind: "postgres" }) as { kind: "postgres" } | { kind: "upstash-vector"; url: string; token: string },
    },
    /** Where L2 lives: Workers KV (default) or Upstash Redis. */
    l2: (v.CACHE_L2 === "upstash"
      ? { kind: "upstash", url: v.UPSTASH_REDIS_REST_URL!, token: v.UPSTASH_REDIS_REST_TOKEN! }
      : { kind: "kv" }) as { kind: "kv" } | { kind: "upstash"; url: string; token: string },
  }));

/** Durable Objects that batch, coalesce and budget provider calls (src/durable). */
const durable = z
  .object({
    EMBEDDING_BATCHING: flag("true"),
    // Up to a minute: with EMBEDDING_BATCH_MAX_REQUESTS a test can make a batch wait for all its requests.
    EMBEDDING_BATCH_WINDOW_MS: int(0, 60_000).default(10),
    EMBEDDING_BATCH_MAX_REQUESTS: int(1, 2048).default(64),
    EMBEDDING_BATCHER_SHARDS: int(1, 256).default(4),
    ASK_COALESCE: flag("true"),
    ASK_COALESCE_PREPARE_TIMEOUT_MS: int(100, 120_000).default(15_000),
    ASK_COALESCE_GRACE_MS: int(0, 600_000).default(10_000),
    ASK_COALESCER_SHARDS: int(1, 1024).default(16),
  })
  .transform((v) => ({
    /** Query embeddings for a remote provider go through the EmbeddingBatcher. */
    batchEmbeddings: v.EMBEDDING_BATCHING === "true",
    /** How long the first request of a batch waits for others. */
    batchWindowMs: v.EMBEDDING_BATCH_WINDOW_MS,
    /** A batch is sent as soon as this many requests wait. */
    batchMaxRequests: v.EMBEDDING_BATCH_MAX_REQUESTS,
    /** Batcher objects per tenant and model; each isolate sticks to one. */
    batcherShards: v.EMBEDDING_BATCHER_SHARDS,
    /** Identical uncached asks in flight share one generation through the AskCoalescer. */
    coalesceAsks: v.ASK_COALESCE === "true",
    /** Followers wait this long for the leading request to finish retrieval and start the answer. */
    coalescePrepareTimeoutMs: v.ASK_COALESCE_PREPARE_TIMEOUT_MS,
    /** A finished answer is replayed to identical asks for this long (until the cache has it). */
    coalesceGraceMs: v.ASK_COALESCE_GRACE_MS,
    /** AskCoalescer objects per tenant; each answer goes to one by a hash of its cache key. */
    coalescerShards: v.ASK_COALESCER_SHARDS,
  }));

/** The chat provider's rate limits; the RateBudget keeps usage under `share` of them. 0 turns a limit off. */
const rateBudget = z
  .object({
    CHAT_RATE_LIMIT_RPM: int(0, 10_000_000).default(500),
    CHAT_RATE_LIMIT_TPM: int(0, 1_000_000_000).default(200_000),
    CHAT_RATE_BUDGET_SHARE: z.coerce.number().gt(0).max(1).default(0.8),
    CHAT_RATE_POLICY: z.enum(["fallback", "reject"]).default("fallback"),
    TENANT_DAILY_TOKENS: int(0, 1_000_000_000_000).default(2_000_000),
  })
  .transform((v) => ({
    requestsPerMinute: v.CHAT_RATE_LIMIT_RPM,
    tokensPerMinute: v.CHAT_RATE_LIMIT_TPM,
    share: v.CHAT_RATE_BUDGET_SHARE,
    /** Over budget: answer with the extractive fallback, or refuse with 429 + Retry-After. */
    policy: v.CHAT_RATE_POLICY,
    /** Chat tokens a tenant may spend per UTC day with a remote provider (0: no limit). */
    tenantDailyTokens: v.TENANT_DAILY_TOKENS,
  }));

const retrieval = z
  .object({
    // Read here too: the default strategies depend on the embedder.
    EMBEDDING_PROVIDER: z.enum(EMBEDDING_PROVIDERS).default("local"),
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
  })
  .transform((v) => ({
    rrfK: v.RRF_K,
    efSearch: v.HNSW_EF_SEARCH,
    /** Candidates each strategy returns before fusion. */
    candidates: v.RETRIEVE_CANDIDATES,
    strategyTimeoutMs: v.RETRIEVE_STRATEGY_TIMEOUT_MS,
    /** statement_timeout of the search statements (semantic, keyword, the scope's speakers). */
    statementTimeoutMs: v.DB_READ_TIMEOUT_MS,
    maxQueryTokens: v.MAX_QUERY_TOKENS,
    /** RETRIEVE_STRATEGIES: the strategies a request names none of, whatever the tenant's embedding model. */
    strategies: v.RETRIEVE_STRATEGIES as StrategyName[] | undefined,
    /** The default strategies of a tenant searched with the configured model (strategiesFor). */
    defaultStrategies: strategiesFor({ strategies: v.RETRIEVE_STRATEGIES as StrategyName[] | undefined }, v.EMBEDDING_PROVIDER),
    /** RRF weight of each strategy's list. */
    weights: v.RRF_WEIGHTS as Record<StrategyName, number>,
  }));

/** Re-embedding jobs (src/reembed, docs/EMBEDDING_MODELS.md). */
const reembed = z
  .object({
    REEMBED_STEP_CHUNKS: int(1, 100_000).default(512),
    REEMBED_GRACE_SECONDS: int(0, 86_400).default(60),
  })
  .transform((v) => ({
    /** Chunks one step of a job embeds (or old vectors it drops, times four) before the next step takes over. */
    stepChunks: v.REEMBED_STEP_CHUNKS,
    /**
     * How long the old model's vectors stay after the switch: an isolate may search with the model
     * it looked up up to SEARCH_MODEL_TTL_MS (10 s) earlier, so keep this above that.
     */
    graceSeconds: v.REEMBED_GRACE_SECONDS,
  }));

const SLICES = { embedding, openai, workersAi, chat, ask, retention, cache, durable, rateBudget, retrieval, imports, reembed };
/** Slices whose fields sit at the top level of Config. */
const FLAT = { ingest, access };

type Slices = { [K in keyof typeof SLICES]: z.output<(typeof SLICES)[K]> };
/** Validated, typed configuration: parsed from the Worker's env once per isolate. */
export type Config = Slices & z.output<typeof ingest> & z.output<typeof access>;

export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Parses raw variables into a Config; throws ConfigError naming every bad variable. */
export function parseConfig(vars: Record<string, unknown>): Config {
  const present = Object.fromEntries(Object.entries(vars).filter(([, v]) => v !== "" && v !== undefined));
  const problems: string[] = [];
  const parse = <T>(slice: z.ZodType<T>): T | undefined => {
    const result = slice.safeParse(present);
    if (result.success) return result.data;
    problems.push(...result.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`));
    return undefined;
  };
  const sliced = Object.fromEntries(Object.entries(SLICES).map(([name, slice]) => [name, parse(slice as z.ZodType)])) as Slices;
  const flat = Object.values(FLAT).map((slice) => parse(slice as z.ZodType) as object);
  if (problems.length > 0) throw new ConfigError(`invalid configuration: ${problems.join("; ")}`);
  const config = Object.assign({}, sliced, ...flat) as Config;
  const remote = !config.openai.apiKey && !config.openai.baseURL;
  if (config.embedding.provider === "openai" && remote) {
    throw new ConfigError("invalid configuration: EMBEDDING_PROVIDER=openai needs OPENAI_API_KEY (or OPENAI_BASE_URL for a local server)");
  }
  if (config.chat.provider === "openai" && remote) {
    throw new ConfigError("invalid configuration: CHAT_PROVIDER=openai needs OPENAI_API_KEY (or OPENAI_BASE_URL for a local server)");
  }
  return config;
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

/** The semantic cache's similarity threshold for questions embedded with `model`. */
export function semanticThreshold(semantic: Pick<Config["cache"]["semantic"], "threshold" | "thresholds">, model: string): number {
  return Object.hasOwn(semantic.thresholds, model) ? semantic.thresholds[model]! : semantic.threshold;
}

/**
 * The strategies of a request that names none, for a tenant whose chunks are searched with a model
 * of `provider`. Measured on LoCoMo (docs/RETRIEVAL.md): with the lexical local embedder, BM25
 * alone ranks best; a learned model adds what words miss, so it searches with all three.
 */
export function strategiesFor(retrieval: { strategies: StrategyName[] | undefined }, provider: string): StrategyName[] {
  return retrieval.strategies ?? (provider === "local" ? ["keyword"] : ["semantic", "keyword", "multi_query"]);
}
