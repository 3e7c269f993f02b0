// The database dies under a real Hyperdrive binding (Miniflare's proxy, as under wrangler dev):
// whatever the runtime's words for the failure, every route that needs the database answers
// 503 with Retry-After, and what needs no database (a verified key's /api/me, cached answers) is
// still served. The binding's database is a process the test kills with SIGKILL and starts again.
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/app";
import { counters } from "../../src/observability/counters";
import { ADMIN_KEY, DEV_KEY, uid } from "./support/api";
import { launchConversation } from "./support/fixtures";
import { callWith } from "./support/sse";

const dying = { HYPERDRIVE: env.STOPPABLE_HYPERDRIVE };
const database = (path: string) => fetch(`${env.STOPPABLE_CONTROL_URL}${path}`, { method: "POST" });
const call = (method: string, path: string, key: string, body?: unknown) => callWith({}, method, path, body, key, dying);

describe("the database killed under a Hyperdrive binding", () => {
  const conv = uid("outage");
  const question = { query: "Who takes the Saturday support shift?", conversation_id: conv, stream: false };
  let importId = "";

  beforeAll(async () => {
    expect((await call("POST", "/api/conversations", DEV_KEY, launchConversation(conv))).res.status).toBe(201);
    const warm = await call("POST", "/api/rag/ask", DEV_KEY, question);
    expect(warm.res.status).toBe(200);
    await warm.res.json();
    await warm.settled();
    // Both keys verified while the database was up.
    for (const key of [DEV_KEY, ADMIN_KEY]) expect((await call("GET", "/api/me", key)).res.status).toBe(200);
    importId = crypto.randomUUID();
    expect((await database("/kill")).status).toBe(200);
  });

  afterAll(async () => {
    await database("/start");
  });

  it("still serves a verified key's /api/me and a cached answer", async () => {
    const me = await call("GET", "/api/me", DEV_KEY);
    expect(me.res.status).toBe(200);
    const cached = await call("POST", "/api/rag/ask", DEV_KEY, question);
    expect(cached.res.status).toBe(200);
    expect(cached.res.headers.get("x-cache")).toMatch(/^HIT/);
  });

  it.each([
    ["POST", "/api/rag/ask", DEV_KEY, { ...question, query: "Why was the staging deploy rolled back?" }],
    ["POST", "/api/rag/retrieve", DEV_KEY, { query: "Saturday shift rollback", conversation_id: conv }],
  ])("%s %s: 503 retrieval-unavailable (every strategy failed) with Retry-After", async (method, path, key, body) => {
    const { res } = await call(method, path, key, body);
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBeTruthy();
    expect(((await res.json()) as { type: string }).type).toBe("urn:convo-rag:problem:retrieval-unavailable");
  });

  it.each([
    ["POST", "/api/conversations", DEV_KEY, launchConversation(uid("never"))],
    ["GET", "/api/conversations", DEV_KEY, undefined],
    ["GET", `/api/conversations/${conv}/messages`, DEV_KEY, undefined],
    ["DELETE", `/api/conversations/${conv}`, DEV_KEY, undefined],
    ["GET", "/api/imports/IMPORT", DEV_KEY, undefined],
    ["GET", "/api/admin/keys", ADMIN_KEY, undefined],
    ["GET", "/api/admin/embeddings", ADMIN_KEY, undefined],
  ])("%s %s: 503 database-unavailable with Retry-After", async (method, path, key, body) => {
    const { res } = await call(method, path.replace("IMPORT", importId), key, body);
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBeTruthy();
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    expect(((await res.json()) as { type: string }).type).toBe("urn:convo-rag:problem:database-unavailable");
  });
});

describe("a client that drops its request body", () => {
  /** A body that sends its first bytes and then breaks, with the runtime's words for a lost connection. */
  const broken = (first: string) =>
    new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(first));
      },
      pull(controller) {
        controller.error(new Error("Network connection lost."));
      },
    });

  it.each([
    ["/api/rag/retrieve", '{"query":"who'],
    ["/api/rag/ask", '{"query":"who'],
    ["/api/conversations", '{"id":"x","messages":['],
  ])("POST %s: 400 body-incomplete, counted as the client's error, not the database's", async (path, first) => {
    const outages = counters.get("rag_errors_total", { kind: "database-unavailable" });
    const ctx = createExecutionContext();
    const res = await createApp().fetch(
      new Request(`http://api.test${path}`, {
        method: "POST",
        headers: { authorization: `Bearer ${DEV_KEY}`, "content-type": "application/json" },
        body: broken(first),
        duplex: "half",
      } as RequestInit),
      env,
      ctx,
    );
    await waitOnExecutionContext(ctx);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { type: string }).type).toBe("urn:convo-rag:problem:body-incomplete");
    expect(counters.get("rag_errors_total", { kind: "database-unavailable" })).toBe(outages);
    expect(counters.get("rag_client_errors_total", { kind: "body-incomplete" })).toBeGreaterThan(0);
  });

  it("an upload that breaks off is a 400 and leaves nothing in R2", async () => {
    const before = (await env.IMPORTS_BUCKET.list({ prefix: "imports/dev/" })).objects.length;
    const ctx = createExecutionContext();
    const res = await createApp().fetch(
      new Request("http://api.test/api/imports?format=jsonl", {
        method: "POST",
        headers: { authorization: `Bearer ${DEV_KEY}`, "content-length": "1000" },
        body: broken('{"author":"Ana","text":"hi","ts":1}\n'),
        duplex: "half",
      } as RequestInit),
      env,
      ctx,
    );
    await waitOnExecutionContext(ctx);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { type: string }).type).toBe("urn:convo-rag:problem:body-incomplete");
    expect((await env.IMPORTS_BUCKET.list({ prefix: "imports/dev/" })).objects.length).toBe(before);
  });
});
