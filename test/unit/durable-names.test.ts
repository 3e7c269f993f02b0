import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config";
import { batcherName } from "../../src/durable/clients";

describe("Durable Object names", () => {
  it("start with the tenant for the embedding batcher, and differ per model and endpoint", () => {
    const config = parseConfig({ EMBEDDING_PROVIDER: "openai", OPENAI_API_KEY: "sk-x" });
    const a = batcherName("acme", config);
    expect(a.startsWith("tenant:acme:embed:")).toBe(true);
    expect(batcherName("globex", config).startsWith("tenant:globex:")).toBe(true);
    expect(batcherName("acme", parseConfig({ EMBEDDING_PROVIDER: "openai", OPENAI_API_KEY: "sk-x", EMBEDDING_MODEL: "other" }))).not.toBe(a);
    // The provider's key never appears in a name.
    expect(a).not.toContain("sk-x");
  });

  it("stay within the configured shards", () => {
    const config = parseConfig({ EMBEDDING_PROVIDER: "openai", OPENAI_API_KEY: "sk-x", EMBEDDING_BATCHER_SHARDS: "3" });
    const shard = Number(batcherName("acme", config).split(":").at(-1));
    expect(shard).toBeGreaterThanOrEqual(0);
    expect(shard).toBeLessThan(3);
  });
});
