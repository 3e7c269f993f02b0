import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig, semanticThreshold } from "../../src/config";

describe("configuration by feature", () => {
  it("gives every slice its defaults from an empty environment", () => {
    const config = parseConfig({});
    expect(config.embedding).toEqual({ provider: "local", model: "local-hash-v1", dimensions: 384, batchSize: 64, maxRetries: 2 });
    expect(config.chat.model).toBe("extractive-v1");
    expect(config.chat.allowedModels).toEqual(["extractive-v1"]);
    expect(config.retrieval.defaultStrategies).toEqual(["keyword"]);
    expect(config.cache.l2).toEqual({ kind: "kv" });
    expect(config.maxBodyBytes).toBe(5 * 1024 * 1024);
    expect(config.authCacheTtlMs).toBe(30_000);
    expect(config.corsOrigins).toEqual([]);
  });

  it("derives one slice's defaults from a variable another slice owns", () => {
    const config = parseConfig({
      EMBEDDING_PROVIDER: "openai",
      OPENAI_API_KEY: "k",
      CHAT_PROVIDER: "openai",
      CHAT_ALLOWED_MODELS: "a, b,,a",
    });
    expect(config.embedding.model).toBe("text-embedding-3-small");
    expect(config.retrieval.defaultStrategies).toEqual(["semantic", "keyword", "multi_query"]);
    expect(config.chat.allowedModels).toEqual(["gpt-4o-mini", "a", "b"]);
  });

  it("searches with all three strategies when Workers AI embeds, and defaults its models", () => {
    const config = parseConfig({ EMBEDDING_PROVIDER: "workers-ai", CHAT_PROVIDER: "workers-ai" });
    expect(config.embedding.model).toBe("@cf/baai/bge-small-en-v1.5");
    expect(config.retrieval.defaultStrategies).toEqual(["semantic", "keyword", "multi_query"]);
    expect(config.chat.model).toBe("@cf/meta/llama-3.3-70b-instruct-fp8-fast");
    expect(config.workersAi).toMatchObject({ gateway: undefined, gatewayCache: false });
  });

  it("keeps a semantic-cache threshold per embedding model, the general one for the others", () => {
    const { semantic } = parseConfig({
      SEMANTIC_CACHE_THRESHOLD: "0.91",
      SEMANTIC_CACHE_THRESHOLDS: "@cf/baai/bge-base-en-v1.5=0.95, text-embedding-3-small=0.88",
    }).cache;
    expect(semanticThreshold(semantic, "@cf/baai/bge-base-en-v1.5")).toBe(0.95);
    expect(semanticThreshold(semantic, "text-embedding-3-small")).toBe(0.88);
    expect(semanticThreshold(semantic, "local-hash-v1")).toBe(0.91);
    expect(semanticThreshold(semantic, "constructor")).toBe(0.91);
    expect(() => parseConfig({ SEMANTIC_CACHE_THRESHOLDS: "bge=1.5" })).toThrow(/SEMANTIC_CACHE_THRESHOLDS.0: must be model=similarity/);
    expect(() => parseConfig({ SEMANTIC_CACHE_THRESHOLDS: "0.9" })).toThrow(/SEMANTIC_CACHE_THRESHOLDS.0/);
  });

  it("names every bad variable of every slice in one error", () => {
    const error = (() => {
      try {
        parseConfig({ CHAT_TEMPERATURE: "9", CORS_ORIGINS: "https://a.example.com/path", RRF_K: "0", CACHE_L1: "disk" });
      } catch (err) {
        return err;
      }
    })();
    expect(error).toBeInstanceOf(ConfigError);
    for (const name of ["CHAT_TEMPERATURE", "CORS_ORIGINS.0", "RRF_K", "CACHE_L1"]) expect(String(error)).toContain(`${name}:`);
  });

  it.each([
    [{ CHAT_DEFAULT_MAX_TOKENS: "5000" }, /CHAT_DEFAULT_MAX_TOKENS: must not exceed CHAT_MAX_TOKENS/],
    [{ CACHE_L2: "upstash" }, /CACHE_L2: upstash needs UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN/],
    [{ CHAT_PROVIDER: "openai" }, /CHAT_PROVIDER=openai needs OPENAI_API_KEY/],
    [{ EMBEDDING_PROVIDER: "openai" }, /EMBEDDING_PROVIDER=openai needs OPENAI_API_KEY/],
    [
      { SEMANTIC_CACHE_STORE: "upstash-vector" },
      /SEMANTIC_CACHE_STORE: upstash-vector needs UPSTASH_VECTOR_REST_URL and UPSTASH_VECTOR_REST_TOKEN/,
    ],
  ])("refuses %j across variables", (vars, message) => {
    expect(() => parseConfig(vars)).toThrow(message);
  });

  it("treats an empty variable as unset", () => {
    expect(parseConfig({ CHAT_MODEL: "", CACHE_L2_TTL_SECONDS: "" }).chat.model).toBe("extractive-v1");
  });
});
