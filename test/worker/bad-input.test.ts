import { describe, expect, it } from "vitest";
import { api, conversation, directSql, newTenantKey, problem, uid } from "./support/api";
import { callWith } from "./support/sse";

const sql = directSql();

/** Sends a bad ingest body and checks the tenant still has nothing stored. */
async function rejects(body: string | Uint8Array | object, status: number, headers: Record<string, string> = {}) {
  const { key, tenant } = await newTenantKey("bad");
  const res = await api("POST", "/api/conversations", { key, body, headers });
  expect(res.status).toBe(status);
  const p = await problem(res);
  expect(p.status).toBe(status);
  expect(p.instance).toBe("/api/conversations");
  const [counts] = await sql`
    SELECT (SELECT count(*) FROM conversations WHERE tenant_id = ${tenant})::int AS c,
           (SELECT count(*) FROM messages WHERE tenant_id = ${tenant})::int AS m,
           (SELECT count(*) FROM conversation_chunks WHERE tenant_id = ${tenant})::int AS k`;
  expect(counts).toEqual({ c: 0, m: 0, k: 0 });
  return p;
}

const valid = () => conversation(uid("bad"), 3);

describe("ingest rejects bad input with problem+json and stores nothing", () => {
  it("malformed JSON → 400", async () => {
    const p = await rejects('{"id": "x", "messages": [', 400);
    expect(p.detail).toMatch(/malformed JSON/);
  });

  it("a content type other than JSON → 415", async () => {
    const p = await rejects(JSON.stringify(valid()), 415, { "content-type": "text/plain" });
    expect(p.detail).toMatch(/application\/json/);
  });

  it("a body that is not an object → 400", async () => {
    await rejects("[1,2,3]", 400);
  });

  it("missing fields → 400 naming each field", async () => {
    const p = await rejects({ messages: [{ id: "m1", text: "hi" }] }, 400);
    const pointers = p.errors!.map((e) => e.pointer);
    expect(pointers).toEqual(expect.arrayContaining(["#/id", "#/messages/0/author_name", "#/messages/0/timestamp"]));
  });

  it("empty fields → 400", async () => {
    const body = valid();
    body.id = "  ";
    body.messages[1]!.text = "   ";
    const p = await rejects(body, 400);
    expect(p.errors!.map((e) => e.pointer)).toEqual(expect.arrayContaining(["#/id", "#/messages/1/text"]));
  });

  it("an empty message list → 400", async () => {
    const p = await rejects({ id: "x", messages: [] }, 400);
    expect(p.errors![0]!.pointer).toBe("#/messages");
  });

  it("unparsable or impossible timestamps → 400 naming the message", async () => {
    const body = valid();
    body.messages[0]!.timestamp = "yesterday at noon";
    body.messages[2]!.timestamp = "2025-02-30T10:00:00Z";
    const p = await rejects(body, 400);
    expect(p.errors!.map((e) => e.pointer)).toEqual(["#/messages/0/timestamp", "#/messages/2/timestamp"]);
    expect(p.detail).toMatch(/ISO 8601/);
  });

  it("duplicate message ids in one request → 400", async () => {
    const body = valid();
    body.messages[2]!.id = body.messages[0]!.id;
    const p = await rejects(body, 400);
    expect(p.errors).toEqual([{ pointer: "#/messages/2/id", detail: expect.stringMatching(/duplicate message id 'm1'/) }]);
  });

  it("a body above the configured limit → 413", async () => {
    const body = valid();
    body.messages[0]!.text = "x".repeat(300_000);
    const p = await rejects(body, 413);
    expect(p.detail).toMatch(/262144 bytes/);
  });

  it("a body over the limit without Content-Length (streamed) → 413", async () => {
    const { key } = await newTenantKey("bad");
    const chunk = new TextEncoder().encode("x".repeat(64 * 1024));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 6) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const res = await api("POST", "/api/conversations", { key, body: stream });
    expect(res.status).toBe(413);
    await problem(res);
  });

  it("a declared Content-Length over the limit → 413 before a byte of the body is read, for JSON bodies and uploads", async () => {
    const { key } = await newTenantKey("bad");
    for (const [path, length] of [
      ["/api/conversations", 209_715_200],
      ["/api/rag/ask", 209_715_200],
      ["/api/imports?format=jsonl", 209_715_200],
    ] as const) {
      let pulled = 0;
      // A body that never arrives: the answer cannot wait for it.
      const withheld = new ReadableStream<Uint8Array>({
        pull: () => {
          pulled++;
          return new Promise(() => {});
        },
      });
      const res = await api("POST", path, { key, body: withheld, headers: { "content-length": String(length) } });
      expect([path, res.status]).toEqual([path, 413]);
      expect((await problem(res)).type).toBe("urn:convo-rag:problem:body-too-large");
      expect(pulled).toBeLessThanOrEqual(1);
    }
  });

  it("invalid UTF-8 → 400", async () => {
    const bytes = new TextEncoder().encode(JSON.stringify(valid()));
    const broken = new Uint8Array([...bytes.slice(0, 20), 0xff, 0xfe, ...bytes.slice(20)]);
    const p = await rejects(broken, 400);
    expect(p.detail).toMatch(/UTF-8/);
  });

  it("NUL characters → 400 naming the field", async () => {
    const body = valid();
    body.messages[1]!.author_name = "Jo\u0000hn";
    const p = await rejects(body, 400);
    expect(p.errors).toEqual([{ pointer: "#/messages/1/author_name", detail: expect.stringMatching(/NUL/) }]);
  });

  it("lone surrogates → 400 naming the field", async () => {
    const p = await rejects(
      `{"id":"s","messages":[{"id":"m1","author_name":"A","text":"bad \\ud800 text","timestamp":"2025-01-01T00:00:00Z"}]}`,
      400,
    );
    expect(p.errors).toEqual([{ pointer: "#/messages/0/text", detail: expect.stringMatching(/surrogate/) }]);
  });

  it("an invalid author_type or mode → 400", async () => {
    const body = { ...valid(), mode: "upsert" } as Record<string, unknown>;
    (body.messages as { author_type?: string }[])[0]!.author_type = "Human Being";
    const p = await rejects(body, 400);
    expect(p.errors!.map((e) => e.pointer)).toEqual(expect.arrayContaining(["#/mode", "#/messages/0/author_type"]));
  });
});

describe("accepted input is usable, and never silently changed", () => {
  it("conversation ids that cannot come back through a URL path segment ('.', '..', '\\') → 400", async () => {
    for (const id of [".", "..", "a\\b"]) {
      const p = await rejects({ ...valid(), id }, 400);
      expect(
        p.errors!.map((e) => e.pointer),
        id,
      ).toEqual(["#/id"]);
    }
  });

  it("control characters (C1 too) and invisible formatting characters in ids → 400 naming the field", async () => {
    for (const bad of ["\u202e", "\u200b", "\u0085", "\u2066", "\ufeff", "\u00ad"]) {
      const p = await rejects({ ...valid(), id: `conv${bad}x` }, 400);
      expect(
        p.errors!.map((e) => e.pointer),
        JSON.stringify(bad),
      ).toEqual(["#/id"]);
      const body = valid();
      body.messages[2]!.id = `m${bad}3`;
      const q = await rejects(body, 400);
      expect(
        q.errors!.map((e) => e.pointer),
        JSON.stringify(bad),
      ).toEqual(["#/messages/2/id"]);
    }
  });

  it("author names: bidi overrides, C1 controls and invisible spacing → 400; stored in NFC; joiners kept", async () => {
    for (const bad of ["Jo\u202ehn", "Jo\u0085hn", "Jo\u200bhn", "\u2067John"]) {
      const body = valid();
      body.messages[0]!.author_name = bad;
      const p = await rejects(body, 400);
      expect(
        p.errors!.map((e) => e.pointer),
        JSON.stringify(bad),
      ).toEqual(["#/messages/0/author_name"]);
    }
    const { key, tenant } = await newTenantKey("names");
    const body = valid();
    body.messages[0]!.author_name = "E\u0301mile"; // decomposed É
    body.messages[1]!.author_name = "\u0645\u06cc\u200c\u0631\u0627"; // a Persian name with a zero-width non-joiner
    expect((await api("POST", "/api/conversations", { key, body })).status).toBe(201);
    const names = (
      await sql<{ author_name: string }[]>`SELECT author_name FROM messages WHERE tenant_id = ${tenant} ORDER BY order_index`
    ).map((r) => r.author_name);
    expect(names.slice(0, 2)).toEqual(["\u00c9mile", "\u0645\u06cc\u200c\u0631\u0627"]);
  });

  it("metadata is stored as sent, a '__proto__' key included", async () => {
    const { key } = await newTenantKey("meta");
    const body = `{"id":"meta-1","metadata":{"__proto__":{"polluted":true},"constructor":"c","a":1},"messages":[{"id":"m1","author_name":"A","text":"hello","timestamp":"2025-01-01T00:00:00Z"}]}`;
    expect((await api("POST", "/api/conversations", { key, body })).status).toBe(201);
    const read = JSON.parse(await (await api("GET", "/api/conversations/meta-1", { key })).text()) as { metadata: Record<string, unknown> };
    expect(Object.keys(read.metadata).sort()).toEqual(["__proto__", "a", "constructor"]);
    expect(Object.getOwnPropertyDescriptor(read.metadata, "__proto__")!.value).toEqual({ polluted: true });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe("auth errors", () => {
  it("a missing key → 401 with WWW-Authenticate", async () => {
    const res = await api("GET", "/api/conversations", { key: null });
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toMatch(/^Bearer/);
    expect((await problem(res)).detail).toMatch(/missing/);
  });

  it("an unknown key → 401", async () => {
    const res = await api("GET", "/api/conversations", { key: "crag_not-a-real-key" });
    expect(res.status).toBe(401);
    await problem(res);
  });

  it("a user key on an admin route → 403", async () => {
    const res = await api("POST", "/api/admin/keys", { body: { tenant: "x" } });
    expect(res.status).toBe(403);
    await problem(res);
  });

  it("bad query parameters → 400", async () => {
    const res = await api("GET", "/api/conversations?limit=0");
    expect(res.status).toBe(400);
    expect((await problem(res)).errors![0]!.pointer).toBe("#/limit");
    const cursor = await api("GET", "/api/conversations?cursor=%%%");
    expect(cursor.status).toBe(400);
  });

  it("a conversation id no ingest could store (NUL, lone surrogate) in the path → 404, and a cursor hiding one → 400", async () => {
    for (const id of ["%00", "a%00b", "%ED%A0%80", "x".repeat(300)]) {
      for (const method of ["GET", "DELETE"]) {
        const res = await api(method, `/api/conversations/${id}`);
        expect(res.status).toBe(404);
        expect((await problem(res)).detail).toMatch(/does not exist/);
      }
    }
    const nul = await api("GET", `/api/conversations?cursor=${encodeURIComponent(btoa("a\u0000b"))}`);
    expect(nul.status).toBe(400);
    expect((await problem(nul)).errors![0]!.pointer).toBe("#/cursor");
  });

  it("an unknown route → 404 problem", async () => {
    const res = await api("GET", "/api/nothing-here");
    expect(res.status).toBe(404);
    await problem(res);
  });
});

describe("configured limits", () => {
  const ingest = async (vars: Record<string, string>, body: object) => {
    const { key, tenant } = await newTenantKey("limits");
    const { res } = await callWith(vars, "POST", "/api/conversations", body, key);
    const [row] = await sql`SELECT count(*)::int AS c FROM conversations WHERE tenant_id = ${tenant}`;
    return { res, stored: row!.c as number };
  };

  it("MAX_MESSAGES_PER_REQUEST: one message more → 400 naming the list, nothing stored; at the limit → 201", async () => {
    const over = await ingest({ MAX_MESSAGES_PER_REQUEST: "3" }, conversation(uid("many"), 4));
    expect(over.res.status).toBe(400);
    const p = await problem(over.res);
    expect(p.errors).toContainEqual({ pointer: "#/messages", detail: "must contain at most 3 messages" });
    expect(over.stored).toBe(0);
    expect((await ingest({ MAX_MESSAGES_PER_REQUEST: "3" }, conversation(uid("many"), 3))).res.status).toBe(201);
  });

  it("MAX_MESSAGE_CHARS: a longer text → 400 naming the message, nothing stored", async () => {
    const body = conversation(uid("long"), 2);
    body.messages[1]!.text = "y".repeat(41);
    const over = await ingest({ MAX_MESSAGE_CHARS: "40" }, body);
    expect(over.res.status).toBe(400);
    expect((await problem(over.res)).errors).toContainEqual({ pointer: "#/messages/1/text", detail: "must be at most 40 characters" });
    expect(over.stored).toBe(0);
  });

  it("top_k: above 50 for ask and 100 for retrieve → 400 naming it", async () => {
    for (const [path, top] of [
      ["/api/rag/ask", 51],
      ["/api/rag/retrieve", 101],
    ] as const) {
      const res = await api("POST", path, { body: { query: "launch", top_k: top, stream: false } });
      expect(res.status).toBe(400);
      expect((await problem(res)).errors!.map((e) => e.pointer)).toContain("#/top_k");
    }
  });
});
