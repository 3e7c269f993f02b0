import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config";
import { createSql } from "../../src/db/client";
import { postgresStores } from "../../src/db/postgres";
import { ingestSchema } from "../../src/ingest/ingest-schema";
import { type IngestDeps, ingestConversation } from "../../src/ingest/ingest-service";
import { type Embedder, EmbeddingError } from "../../src/providers/embedder";
import { localEmbedder } from "../../src/providers/local-embedder";
import { tiktoken } from "../../src/tokens/tokenizer";
import { api, conversation, directSql, newTenantKey, uid } from "./support/api";

const sql = directSql();
const config = parseConfig({});

/** The local embedder, failing on its `failOn`-th call: a provider outage in the middle of an ingest. */
function failingEmbedder(failOn: number): Embedder & { calls: number } {
  const inner = localEmbedder({ dimensions: 384, batchSize: 2, model: `flaky-${crypto.randomUUID()}` });
  const embedder = {
    ...inner,
    calls: 0,
    async embed(texts: string[]) {
      embedder.calls++;
      if (embedder.calls === failOn) throw new EmbeddingError("provider went away");
      return inner.embed(texts);
    },
  };
  return embedder;
}

async function deps(embedder: Embedder, tenantId: string): Promise<IngestDeps> {
  const client = createSql(env.HYPERDRIVE);
  return {
    conversations: postgresStores(() => client, tenantId).conversations,
    embedder,
    provider: "local",
    tokenizer: await tiktoken(),
    chunking: { maxTokens: 40, sessionGapMs: 3_600_000 },
    statementTimeoutMs: 10_000,
  };
}

async function stored(tenant: string, id: string) {
  const [row] = await sql`
    SELECT (SELECT count(*) FROM conversations WHERE tenant_id = ${tenant} AND id = ${id})::int AS conversations,
           (SELECT count(*) FROM messages WHERE tenant_id = ${tenant} AND conversation_id = ${id})::int AS messages,
           (SELECT count(*) FROM conversation_chunks WHERE tenant_id = ${tenant} AND conversation_id = ${id})::int AS chunks`;
  return row;
}

describe("ingest atomicity", () => {
  it("a failure in the middle of an ingest leaves nothing behind", async () => {
    const { tenant } = await newTenantKey("atomic");
    const body = ingestSchema(config).parse(conversation(uid("conv"), 20));
    const embedder = failingEmbedder(3);
    // Messages and the first two chunk batches are written before the third embedding call fails.
    await expect(ingestConversation(await deps(embedder, tenant), body)).rejects.toThrow(EmbeddingError);
    expect(embedder.calls).toBe(3);
    expect(await stored(tenant, body.id)).toEqual({ conversations: 0, messages: 0, chunks: 0 });
  });

  it("a failed update keeps the previous version intact", async () => {
    const { tenant } = await newTenantKey("atomic-upd");
    const original = conversation(uid("conv"), 10);
    const body = ingestSchema(config).parse(original);
    const ok = failingEmbedder(Infinity);
    await ingestConversation(await deps(ok, tenant), body);
    const before = await sql`SELECT id, text, content_hash FROM messages WHERE tenant_id = ${tenant} ORDER BY order_index`;
    const chunksBefore = await sql`SELECT id FROM conversation_chunks WHERE tenant_id = ${tenant} ORDER BY order_index`;

    const edited = structuredClone(original);
    for (const m of edited.messages) m.text += " (edited)";
    const flaky = failingEmbedder(2);
    await expect(
      ingestConversation(await deps({ ...flaky, model: ok.model, embed: flaky.embed }, tenant), ingestSchema(config).parse(edited)),
    ).rejects.toThrow();

    expect(await sql`SELECT id, text, content_hash FROM messages WHERE tenant_id = ${tenant} ORDER BY order_index`).toEqual(before);
    expect(await sql`SELECT id FROM conversation_chunks WHERE tenant_id = ${tenant} ORDER BY order_index`).toEqual(chunksBefore);
    const [conv] = await sql`SELECT version FROM conversations WHERE tenant_id = ${tenant}`;
    expect(Number(conv!.version)).toBe(1);
  });

  it("concurrent ingests of the same conversation are serialised, not interleaved", async () => {
    const { key, tenant } = await newTenantKey("concurrent");
    const conv = conversation(uid("conv"), 15);
    const results = await Promise.all([1, 2, 3].map(() => api("POST", "/api/conversations", { key, body: conv })));
    expect(results.map((r) => r.status).sort()).toEqual([200, 200, 201]);
    expect(await stored(tenant, conv.id)).toMatchObject({ conversations: 1, messages: 15 });
    const ids = await sql`SELECT unnest(message_ids) AS id FROM conversation_chunks WHERE tenant_id = ${tenant} ORDER BY order_index`;
    expect(ids.map((r) => r.id)).toEqual(conv.messages.map((m) => m.id));
  });
});
