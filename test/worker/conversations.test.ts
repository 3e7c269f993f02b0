import { describe, expect, it } from "vitest";
import type { IngestResult } from "../../src/ingest/ingest-service";
import { api, conversation, directSql, newTenantKey, uid } from "./support/api";

const sql = directSql();

const ingest = async (body: unknown, key?: string) => {
  const res = await api("POST", "/api/conversations", { body, key });
  return { status: res.status, body: (await res.json()) as IngestResult };
};

describe("POST /api/conversations", () => {
  it("stores messages and chunks that keep speakers, dates and message ids", async () => {
    const { key, tenant } = await newTenantKey("ingest");
    const conv = conversation(uid("conv"), 30);
    const { status, body } = await ingest(conv, key);
    expect(status).toBe(201);
    expect(body).toMatchObject({ id: conv.id, created: true, changed: true, version: 1 });
    expect(body.messages).toMatchObject({ total: 30, inserted: 30, updated: 0, deleted: 0 });
    expect(body.chunks.total).toBeGreaterThan(1);
    expect(body.embeddings.computed + body.embeddings.cached).toBe(body.chunks.total);

    const messages =
      await sql`SELECT id, order_index, author_name FROM messages WHERE tenant_id = ${tenant} AND conversation_id = ${conv.id} ORDER BY order_index`;
    expect(messages.map((m) => m.id)).toEqual(conv.messages.map((m) => m.id));

    const chunks = await sql`
      SELECT order_index, text, message_ids, authors, start_ts, end_ts, token_count,
        (SELECT vector_dims(v.embedding) FROM chunk_vectors v WHERE v.chunk_id = c.id AND v.model = 'local-hash-v1') AS dims
      FROM conversation_chunks c WHERE tenant_id = ${tenant} AND conversation_id = ${conv.id} ORDER BY order_index`;
    expect(chunks).toHaveLength(body.chunks.total);
    // Every message lands in exactly one chunk, in order, and chunk texts quote them with speaker and time.
    const ids = chunks.flatMap((c) => c.message_ids as string[]);
    expect(ids).toEqual(conv.messages.map((m) => m.id));
    expect(chunks[0]!.text).toMatch(/^\[2025-03-03 10:00\] John: Message 1: /);
    for (const c of chunks) {
      expect(c.dims).toBe(384);
      expect(c.token_count).toBeGreaterThan(0);
      expect(c.token_count).toBeLessThanOrEqual(256);
      expect(new Date(c.start_ts as string) <= new Date(c.end_ts as string)).toBe(true);
    }
    expect(new Set(chunks.flatMap((c) => c.authors as string[]))).toEqual(new Set(["John", "Priya", "Marco"]));
  });

  it("is idempotent: sending the same conversation again changes nothing", async () => {
    const { key, tenant } = await newTenantKey("idem");
    const conv = conversation(uid("conv"), 20);
    const first = await ingest(conv, key);
    const before =
      await sql`SELECT id, order_index, content_hash FROM conversation_chunks WHERE tenant_id = ${tenant} ORDER BY order_index`;
    const again = await ingest(conv, key);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ created: false, changed: false, version: first.body.version });
    expect(again.body.messages).toMatchObject({ inserted: 0, updated: 0, deleted: 0, unchanged: 20 });
    expect(again.body.chunks).toMatchObject({ inserted: 0, deleted: 0 });
    expect(again.body.embeddings.provider_calls).toBe(0);
    const after = await sql`SELECT id, order_index, content_hash FROM conversation_chunks WHERE tenant_id = ${tenant} ORDER BY order_index`;
    expect(after).toEqual(before);
  });

  it("updates exactly the edited and new messages, keeping untouched chunks", async () => {
    const { key, tenant } = await newTenantKey("edit");
    const conv = conversation(uid("conv"), 40);
    await ingest(conv, key);
    const before = await sql`SELECT id, message_ids FROM conversation_chunks WHERE tenant_id = ${tenant} ORDER BY order_index`;

    const edited = structuredClone(conv);
    edited.messages[39]!.text = "Message 40: actually the launch is on April 14.";
    edited.messages.push({ id: "m41", author_name: "Priya", text: "Agreed, April 14 it is.", timestamp: "2025-03-03T10:40:00Z" });
    // Merge semantics: only the changed and new messages need to be sent.
    const { status, body } = await ingest({ id: conv.id, messages: edited.messages.slice(39) }, key);
    expect(status).toBe(200);
    expect(body).toMatchObject({ changed: true, version: 2 });
    expect(body.messages).toMatchObject({ total: 41, inserted: 1, updated: 1, deleted: 0, unchanged: 39 });
    expect(body.chunks.deleted).toBeGreaterThanOrEqual(1);
    expect(body.chunks.unchanged).toBeGreaterThan(0);

    const after = await sql`SELECT id, message_ids, text FROM conversation_chunks WHERE tenant_id = ${tenant} ORDER BY order_index`;
    const keptIds = new Set(after.map((c) => c.id));
    const untouched = before.filter((c) => !(c.message_ids as string[]).includes("m40"));
    for (const c of untouched) expect(keptIds.has(c.id)).toBe(true);
    expect(after.at(-1)!.text).toContain("Agreed, April 14 it is.");
    const [m40] = await sql`SELECT text FROM messages WHERE tenant_id = ${tenant} AND conversation_id = ${conv.id} AND id = 'm40'`;
    expect(m40!.text).toBe("Message 40: actually the launch is on April 14.");
  });

  it("appending in batches stores exactly what one ingest of the whole conversation stores", async () => {
    // Session gaps, a message longer than a chunk at a batch's end, equal timestamps across a
    // batch boundary, a batch that repeats stored messages, and one that ends with a message
    // placed before stored ones (that batch goes the full way): the append path must agree.
    const { key, tenant } = await newTenantKey("append");
    const start = Date.UTC(2025, 4, 5, 9);
    const long = `${"The rollout checklist covers staging, canaries, dashboards and rollback drills. ".repeat(40)}`;
    const at = (minutes: number) => new Date(start + minutes * 60_000).toISOString();
    const messages = Array.from({ length: 70 }, (_, i) => ({
      id: `a${i}`,
      author_name: ["Ines", "Tomas", "Wen"][i % 3]!,
      text: i % 17 === 16 ? long : `Point ${i}: ${["budget", "hiring", "release", "audit"][i % 4]} notes for week ${i % 5}.`,
      // A three-hour gap every 25 messages; messages 40 and 41 share a minute.
      timestamp: at(i < 41 ? i + Math.floor(i / 25) * 180 : i - 1 + Math.floor(i / 25) * 180),
    }));
    const stored = async (id: string) => ({
      messages: await sql`SELECT id, order_index, text, "timestamp" FROM messages
        WHERE tenant_id = ${tenant} AND conversation_id = ${id} ORDER BY order_index`,
      chunks: await sql`SELECT order_index, text, message_ids, authors, start_ts, end_ts, token_count, content_hash
        FROM conversation_chunks WHERE tenant_id = ${tenant} AND conversation_id = ${id} ORDER BY order_index`,
      counts: await sql`SELECT message_count, chunk_count, start_ts, end_ts FROM conversations WHERE tenant_id = ${tenant} AND id = ${id}`,
    });
    const expectSame = async (a: string, b: string) => {
      const [x, y] = [await stored(a), await stored(b)];
      expect(y.messages).toEqual(x.messages);
      expect(y.chunks).toEqual(x.chunks);
      expect(y.counts).toEqual(x.counts);
      return x;
    };

    const whole = uid("whole");
    expect((await ingest({ id: whole, messages }, key)).status).toBe(201);
    const batched = uid("batched");
    // Batch ends fall right after long messages (16, 33) and inside a shared minute (40 | 41); the second batch repeats 10–16.
    const batches = [messages.slice(0, 17), messages.slice(10, 34), messages.slice(34, 41), messages.slice(41, 58), messages.slice(58)];
    for (const batch of batches) {
      const { status, body } = await ingest({ id: batched, messages: batch }, key);
      expect(status).toBeLessThan(300);
      expect(body.messages.updated + body.messages.deleted).toBe(0);
    }
    const whole1 = await expectSame(whole, batched);
    // The whole conversation has a message split over several chunks: the case the append path walks back for.
    const ids = whole1.chunks.map((c) => c.message_ids as string[]);
    expect(ids.some((m, i) => i > 0 && m[0] === ids[i - 1]!.at(-1))).toBe(true);

    // A new message that lands before stored ones takes the full path, with the same result.
    const early = { id: "early", author_name: "Wen", text: "Point early: audit scope agreed.", timestamp: at(30) };
    const late = await ingest({ id: batched, messages: [early] }, key);
    expect(late.body.messages).toMatchObject({ total: 71, inserted: 1, updated: 0, deleted: 0 });
    const whole2 = uid("whole");
    await ingest({ id: whole2, messages: [...messages, early] }, key);
    await expectSame(whole2, batched);
  });

  it("with mode replace deletes the messages the request leaves out", async () => {
    const { key, tenant } = await newTenantKey("replace");
    const conv = conversation(uid("conv"), 10);
    await ingest(conv, key);
    const { body } = await ingest({ ...conv, mode: "replace", messages: conv.messages.slice(0, 6) }, key);
    expect(body.messages).toMatchObject({ total: 6, deleted: 4 });
    const rows = await sql`SELECT count(*)::int AS n FROM messages WHERE tenant_id = ${tenant} AND conversation_id = ${conv.id}`;
    expect(rows[0]!.n).toBe(6);
    const ids = await sql`SELECT message_ids FROM conversation_chunks WHERE tenant_id = ${tenant} AND conversation_id = ${conv.id}`;
    expect(ids.flatMap((r) => r.message_ids as string[]).sort()).toEqual(["m1", "m2", "m3", "m4", "m5", "m6"]);
  });

  it("orders messages by timestamp whatever order they arrive in", async () => {
    const { key, tenant } = await newTenantKey("order");
    const conv = conversation(uid("conv"), 5);
    await ingest({ ...conv, messages: [...conv.messages].reverse() }, key);
    const rows = await sql`SELECT id FROM messages WHERE tenant_id = ${tenant} ORDER BY order_index`;
    expect(rows.map((r) => r.id)).toEqual(["m1", "m2", "m3", "m4", "m5"]);
  });

  it("reuses the tenant's cached embeddings for identical chunk text, never another tenant's", async () => {
    const a = await newTenantKey("cache-a");
    const b = await newTenantKey("cache-b");
    const conv = conversation(uid("conv"), 12);
    const first = await ingest(conv, a.key);
    const again = await ingest({ ...conv, id: uid("copy") }, a.key);
    const other = await ingest(conv, b.key);
    expect(first.body.embeddings.computed).toBeGreaterThan(0);
    expect(again.body.embeddings).toMatchObject({ computed: 0, cached: first.body.chunks.total, provider_calls: 0 });
    expect(other.body.embeddings).toMatchObject({ computed: first.body.chunks.total, cached: 0 });
  });
});

describe("GET and DELETE /api/conversations", () => {
  it("reads a conversation with counts and its time range", async () => {
    const { key } = await newTenantKey("read");
    const conv = conversation(uid("conv"), 8);
    const { body: ingested } = await ingest({ ...conv, metadata: { team: "atlas" } }, key);
    const res = await api("GET", `/api/conversations/${conv.id}`, { key });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      id: conv.id,
      title: conv.title,
      metadata: { team: "atlas" },
      message_count: 8,
      chunk_count: ingested.chunks.total,
      start: "2025-03-03T10:00:00.000Z",
      end: "2025-03-03T10:07:00.000Z",
    });
  });

  it("lists conversations in pages", async () => {
    const { key } = await newTenantKey("list");
    const ids = ["c-a", "c-b", "c-c", "c-d", "c-e"];
    for (const id of ids) await ingest(conversation(id, 2), key);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await api("GET", `/api/conversations?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`, { key });
      expect(res.status).toBe(200);
      const page = (await res.json()) as { conversations: { id: string }[]; next_cursor: string | null };
      expect(page.conversations.length).toBeLessThanOrEqual(2);
      seen.push(...page.conversations.map((c) => c.id));
      cursor = page.next_cursor;
    } while (cursor);
    expect(seen).toEqual(ids);
  });

  it("lists each conversation's participants, every author once, sorted", async () => {
    const { key } = await newTenantKey("participants");
    const conv = conversation(uid("conv"), 40);
    conv.messages[39]!.author_name = "Zoë Late";
    await ingest(conv, key);
    const expected = [...new Set(conv.messages.map((m) => m.author_name))].sort();
    const list = (await (await api("GET", "/api/conversations", { key })).json()) as { conversations: { participants: string[] }[] };
    expect(list.conversations[0]!.participants).toEqual(expected);
    const one = (await (await api("GET", `/api/conversations/${conv.id}`, { key })).json()) as { participants: string[] };
    expect(one.participants).toEqual(expected);
  });

  it("searches by title or id, ignoring case, with LIKE's wildcards taken literally, across pages, in the caller's tenant only", async () => {
    const { key } = await newTenantKey("search");
    const other = await newTenantKey("search-other");
    const titles: Record<string, string> = {
      "c-1": "Budget review Q3",
      "c-2": "Weekly sync",
      "c-3": "budget planning",
      "c-4": "100% uptime_plan",
      "c-5": "1000 uptimeXplan",
      "budget-c6": "Retro",
    };
    for (const [id, title] of Object.entries(titles)) await ingest({ ...conversation(id, 2), title }, key);
    await ingest({ ...conversation("c-9", 2), title: "Budget of another tenant" }, other.key);
    const search = async (q: string) => {
      const found: string[] = [];
      let cursor: string | null = null;
      do {
        const url = `/api/conversations?limit=1&q=${encodeURIComponent(q)}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
        const res = await api("GET", url, { key });
        expect(res.status).toBe(200);
        const page = (await res.json()) as { conversations: { id: string }[]; next_cursor: string | null };
        found.push(...page.conversations.map((c) => c.id));
        cursor = page.next_cursor;
      } while (cursor);
      return found;
    };
    expect(await search("BUDGET")).toEqual(["budget-c6", "c-1", "c-3"]);
    expect(await search("0% uptime_")).toEqual(["c-4"]);
    expect(await search("nothing like this")).toEqual([]);
    const empty = await api("GET", "/api/conversations?q=%20", { key });
    expect(empty.status).toBe(400);
    expect(((await empty.json()) as { errors: { pointer: string }[] }).errors[0]!.pointer).toBe("#/q");
  });

  it("deletes a conversation with its messages, chunks and embedding-cache rows", async () => {
    const { key, tenant } = await newTenantKey("delete");
    const conv = conversation(uid("conv"), 9);
    conv.messages[0]!.text = `A sentence only this test uses: ${crypto.randomUUID()}`;
    await ingest(conv, key);
    const [cache] = await sql`
      SELECT count(*)::int AS n FROM embedding_cache e JOIN conversation_chunks c
        ON e.tenant_id = c.tenant_id AND e.content_hash = encode(sha256(convert_to(c.text, 'UTF8')), 'hex')
      WHERE c.tenant_id = ${tenant} AND c.conversation_id = ${conv.id}`;
    expect(cache!.n).toBeGreaterThan(0);
    const hashes =
      await sql`SELECT encode(sha256(convert_to(text, 'UTF8')), 'hex') AS h FROM conversation_chunks WHERE tenant_id = ${tenant}`;

    const res = await api("DELETE", `/api/conversations/${conv.id}`, { key });
    expect(res.status).toBe(204);
    const counts = await sql`
      SELECT (SELECT count(*) FROM conversations WHERE tenant_id = ${tenant})::int AS conversations,
             (SELECT count(*) FROM messages WHERE tenant_id = ${tenant})::int AS messages,
             (SELECT count(*) FROM conversation_chunks WHERE tenant_id = ${tenant})::int AS chunks`;
    expect(counts[0]).toEqual({ conversations: 0, messages: 0, chunks: 0 });
    const left =
      await sql`SELECT count(*)::int AS n FROM embedding_cache WHERE tenant_id = ${tenant} AND content_hash IN ${sql(hashes.map((h) => h.h as string))}`;
    expect(left[0]!.n).toBe(0);
    expect((await api("GET", `/api/conversations/${conv.id}`, { key })).status).toBe(404);
    expect((await api("DELETE", `/api/conversations/${conv.id}`, { key })).status).toBe(404);
  });
});
