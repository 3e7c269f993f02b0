import { describe, expect, it } from "vitest";
import { coalescerName } from "../../src/coalesce/coalescer-client";
import { parseConfig } from "../../src/config";
import { batcherName } from "../../src/durable/embedding-batcher-client";

describe("Durable Object names", () => {
  it("start with the tenant for the embedding batcher, and differ per model and endpoint", () => {
    const config = parseConfig({ EMBEDDING_PROVIDER: "openai", OPENAI_API_KEY: "sk-x" });
    const a = batcherName("acme", config);
    expect(a.startsWith("tenant:acme:embed:")).toBe(true);
    expect(batcherName("globex", config).startsWith("tenant:globex:")).toBe(true);
    expect(batcherName("acme", parseConfig({ EMBEDDING_PROVIDER: "openai", OPENAI_API_KEY: "sk-x", EMBEDDING_MODEL: "other" }))).not.toBe(
      a,
    );
    // The provider's key never appears in a name.
    expect(a).not.toContain("sk-x");
  });

  it("stay within the configured shards", () => {
    const config = parseConfig({ EMBEDDING_PROVIDER: "openai", OPENAI_API_KEY: "sk-x", EMBEDDING_BATCHER_SHARDS: "3" });
    const shard = Number(batcherName("acme", config).split(":").at(-1));
    expect(shard).toBeGreaterThanOrEqual(0);
    expect(shard).toBeLessThan(3);
  });

  it("put a tenant's asks in a bounded set of coalescer shards, the same key always in the same one", () => {
    const config = parseConfig({ ASK_COALESCER_SHARDS: "4" });
    const names = new Set(Array.from({ length: 200 }, (_, i) => coalescerName("acme", `answer:key-${i}`, config)));
    expect(names.size).toBeLessThanOrEqual(4);
    expect(names.size).toBeGreaterThan(1);
    for (const name of names) expect(name).toMatch(/^tenant:acme:ask-shard:[0-3]$/);
    expect(coalescerName("acme", "answer:k", config)).toBe(coalescerName("acme", "answer:k", config));
    // Tenants never share an object, even for the same key.
    expect(coalescerName("globex", "answer:k", config)).toBe(coalescerName("acme", "answer:k", config).replace("acme", "globex"));
    expect(parseConfig({}).durable.coalescerShards).toBe(16);
    expect(() => parseConfig({ ASK_COALESCER_SHARDS: "0" })).toThrow();
    expect(() => parseConfig({ ASK_COALESCER_SHARDS: "1025" })).toThrow();
  });
});
