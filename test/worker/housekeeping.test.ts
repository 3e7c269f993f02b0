import { createExecutionContext, createScheduledController, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { sha256Hex } from "../../src/hash";
import worker from "../../src/index";
import { api, directSql, newTenantKey, uid } from "./support/api";
import { launchConversation } from "./support/fixtures";

const sql = directSql();
const vector = `[${Array.from({ length: 384 }, (_, i) => (i === 0 ? 1 : 0)).join(",")}]`;

describe("scheduled housekeeping", () => {
  it("drops stale unused embeddings, idle sessions and expired version records, keeps what is in use or recent, and snapshots stats", async () => {
    const { key, tenant } = await newTenantKey("house");
    const conversation = uid("c");
    expect((await api("POST", "/api/conversations", { key, body: launchConversation(conversation) })).status).toBe(201);
    const [live] = await sql`SELECT v.model, encode(sha256(convert_to(c.text, 'UTF8')), 'hex') AS h
        FROM conversation_chunks c JOIN chunk_vectors v ON v.chunk_id = c.id WHERE c.tenant_id = ${tenant} LIMIT 1`;
    const orphanOld = sha256Hex(uid("orphan-old"));
    const orphanNew = sha256Hex(uid("orphan-new"));
    await sql`UPDATE embedding_cache SET last_used_at = now() - interval '400 days' WHERE tenant_id = ${tenant} AND model = ${live!.model} AND content_hash = ${live!.h}`;
    await sql`INSERT INTO embedding_cache (tenant_id, model, content_hash, embedding, last_used_at) VALUES
      (${tenant}, ${live!.model}, ${orphanOld}, ${vector}::vector, now() - interval '400 days'),
      (${tenant}, ${live!.model}, ${orphanNew}, ${vector}::vector, now())`;
    const [idle, active] = [uid("idle"), uid("active")];
    await sql`INSERT INTO chat_sessions (tenant_id, id, updated_at) VALUES (${tenant}, ${idle}, now() - interval '400 days'), (${tenant}, ${active}, now())`;

    const stamp = (msAgo: number) => `${(Date.now() - msAgo).toString(36)}.abcd1234`;
    const day = 86_400_000;
    await env.CACHE_KV.put(`v:c:${tenant}:${conversation}`, stamp(2 * day));
    await env.CACHE_KV.put(`v:c:${tenant}:gone:old`, stamp(2 * day));
    await env.CACHE_KV.put(`v:c:${tenant}:gone-recently`, stamp(60_000));

    const ctx = createExecutionContext();
    worker.scheduled(createScheduledController({ scheduledTime: new Date(), cron: "17 3 * * *" }), env, ctx);
    await waitOnExecutionContext(ctx);

    const hashes = (
      await sql`SELECT content_hash FROM embedding_cache WHERE tenant_id = ${tenant} AND model = ${live!.model} AND content_hash IN (${live!.h}, ${orphanOld}, ${orphanNew})`
    ).map((r) => r.content_hash);
    expect(hashes.sort()).toEqual([live!.h, orphanNew].sort());
    const sessions = (await sql`SELECT id FROM chat_sessions WHERE tenant_id = ${tenant}`).map((r) => r.id);
    expect(sessions).toEqual([active]);

    // Version records: only a deleted conversation's, and only once its entries have expired.
    expect(await env.CACHE_KV.get(`v:c:${tenant}:gone:old`)).toBeNull();
    expect(await env.CACHE_KV.get(`v:c:${tenant}:gone-recently`)).not.toBeNull();
    expect(await env.CACHE_KV.get(`v:c:${tenant}:${conversation}`)).not.toBeNull();
    const snapshot = JSON.parse((await env.CACHE_KV.get("stats:snapshot"))!) as {
      pruned: Record<string, number>;
      stores: Record<string, { entries: number }>;
    };
    expect(snapshot.pruned).toMatchObject({ embeddings: 1, sessions: 1, versions: 1 });
    expect(snapshot.stores.embedding_cache!.entries).toBeGreaterThan(0);
  });
});
