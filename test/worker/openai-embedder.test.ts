import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config";
import { createSql } from "../../src/db/client";
import { postgresStores } from "../../src/db/postgres";
import { ingestSchema } from "../../src/ingest/ingest-schema";
import { ingestConversation } from "../../src/ingest/ingest-service";
import { createEmbedder } from "../../src/providers";
import { EmbeddingError } from "../../src/providers/embedder";
import { tiktoken } from "../../src/tokens/tokenizer";
import { conversation, directSql, newTenantKey, uid } from "./support/api";

interface Call {
  authorization: string;
  body: { model: string; input: string[]; dimensions: number; encoding_format?: string };
}

/** A scenario of its own on the fake OpenAI server, so concurrent tests never see each other's calls. */
function scenario() {
  const base = `${env.FAKE_OPENAI_URL}/${crypto.randomUUID()}`;
  return {
    baseURL: `${base}/v1`,
    calls: async () => (await (await fetch(`${base}/_calls`)).json()) as Call[],
    failAfter: (n: number, status = 500) =>
      fetch(`${base}/_control`, { method: "POST", body: JSON.stringify({ failAfter: n, failStatus: status }) }),
  };
}

const embedderFor = (baseURL: string, extra: Record<string, string> = {}) =>
  createEmbedder(
    parseConfig({
      EMBEDDING_PROVIDER: "openai",
      OPENAI_API_KEY: "sk-test",
      OPENAI_BASE_URL: baseURL,
      EMBEDDING_BATCH_SIZE: "3",
      EMBEDDING_MAX_RETRIES: "0",
      ...extra,
    }),
    {},
  );

describe("openai embedder (real SDK against a local OpenAI-compatible server)", () => {
  it("sends model, dimensions and key, and decodes one vector per input in order", async () => {
    const s = scenario();
    const embedder = embedderFor(s.baseURL, { EMBEDDING_MODEL: "text-embedding-3-small" });
    const vectors = await embedder.embed(["alpha", "beta", "alpha"]);
    expect(vectors).toHaveLength(3);
    for (const v of vectors) {
      expect(v).toHaveLength(384);
      expect(Math.hypot(...v)).toBeCloseTo(1, 4);
    }
    expect([...vectors[0]!]).toEqual([...vectors[2]!]);
    expect([...vectors[0]!]).not.toEqual([...vectors[1]!]);
    const [call] = await s.calls();
    expect(call!.authorization).toBe("Bearer sk-test");
    expect(call!.body).toMatchObject({ model: "text-embedding-3-small", input: ["alpha", "beta", "alpha"], dimensions: 384 });
  });

  it("retries a failed call (idempotent) and gives up after the configured retries", async () => {
    const s = scenario();
    await fetch(s.baseURL.replace(/\/v1$/, "/_control"), {
      method: "POST",
      body: JSON.stringify({ failTimes: 1, failStatus: 503, failRetryAfter: 0 }),
    });
    const vectors = await embedderFor(s.baseURL, { EMBEDDING_MAX_RETRIES: "2" }).embed(["once more"]);
    expect(vectors).toHaveLength(1);
    expect(await s.calls()).toHaveLength(2);
    const t = scenario();
    await t.failAfter(0, 503);
    await expect(embedderFor(t.baseURL, { EMBEDDING_MAX_RETRIES: "1" }).embed(["never"])).rejects.toThrow(EmbeddingError);
    expect(await t.calls()).toHaveLength(2);
  });

  it("after a 429, waits the Retry-After the provider gave before retrying", async () => {
    const s = scenario();
    await fetch(s.baseURL.replace(/\/v1$/, "/_control"), {
      method: "POST",
      body: JSON.stringify({ failTimes: 1, failStatus: 429, failRetryAfter: 2 }),
    });
    const started = Date.now();
    const vectors = await embedderFor(s.baseURL, { EMBEDDING_MAX_RETRIES: "2" }).embed(["rate limited"]);
    // Only a lower bound: a slow machine can take longer, never shorter.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_900);
    expect(vectors).toHaveLength(1);
    expect(await s.calls()).toHaveLength(2);
  });

  it("gives up on a call that does not answer within OPENAI_TIMEOUT_MS", async () => {
    const s = scenario();
    // The provider answers after 5 s: without the 300 ms timeout the call would succeed.
    await fetch(s.baseURL.replace(/\/v1$/, "/_control"), { method: "POST", body: JSON.stringify({ embeddingDelayMs: 5_000 }) });
    await expect(embedderFor(s.baseURL, { OPENAI_TIMEOUT_MS: "300" }).embed(["slow"])).rejects.toThrow(EmbeddingError);
    expect(await s.calls()).toHaveLength(1);
  });

  it("turns a provider error into an EmbeddingError", async () => {
    const s = scenario();
    await s.failAfter(0, 503);
    await expect(embedderFor(s.baseURL).embed(["x"])).rejects.toThrow(EmbeddingError);
  });

  it("ingests a conversation in batches of the configured size, and stores nothing when a batch fails", async () => {
    const tokenizer = await tiktoken();
    const config = parseConfig({});
    const sql = directSql();

    const good = scenario();
    const { tenant } = await newTenantKey("oa");
    const body = ingestSchema(config).parse(conversation(uid("conv"), 24));
    const deps = (baseURL: string, tenantId: string) => ({
      conversations: postgresStores(() => createSql(env.HYPERDRIVE), tenantId).conversations,
      embedder: embedderFor(baseURL, { EMBEDDING_MODEL: `model-${crypto.randomUUID()}` }),
      provider: "openai",
      tokenizer,
      chunking: { maxTokens: 40, sessionGapMs: 3_600_000 },
      statementTimeoutMs: 10_000,
    });
    const result = await ingestConversation(deps(good.baseURL, tenant), body);
    const calls = await good.calls();
    expect(calls.length).toBe(Math.ceil(result.chunks.total / 3));
    expect(calls.every((c) => c.body.input.length <= 3)).toBe(true);
    expect(result.embeddings).toMatchObject({ computed: result.chunks.total, provider_calls: calls.length });

    const bad = scenario();
    await bad.failAfter(2);
    const { tenant: other } = await newTenantKey("oa-fail");
    await expect(ingestConversation(deps(bad.baseURL, other), body)).rejects.toThrow(EmbeddingError);
    const [row] =
      await sql`SELECT (SELECT count(*) FROM messages WHERE tenant_id = ${other})::int AS m, (SELECT count(*) FROM conversations WHERE tenant_id = ${other})::int AS c`;
    expect(row).toEqual({ m: 0, c: 0 });
  });
});
