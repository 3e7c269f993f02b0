import { env, SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/app";
import { configFor } from "../../src/config";
import { openApiDocument } from "../../src/openapi/document";
import { ADMIN_KEY, api, newTenantKey, uid } from "./support/api";
import { launchConversation } from "./support/fixtures";
import { nonConformities } from "./support/openapi";

// biome-ignore lint/suspicious/noExplicitAny: a parsed JSON document, walked by key.
type Json = Record<string, any>;

let document: Json;

beforeAll(async () => {
  const res = await SELF.fetch("http://api.test/openapi.json");
  document = (await res.json()) as Json;
});

describe("GET /openapi.json", () => {
  it("serves the document built for the running configuration, without an API key", async () => {
    const res = await SELF.fetch("http://api.test/openapi.json");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    expect(res.headers.get("x-request-id")).toBeTruthy();
    expect(await res.json()).toEqual(JSON.parse(JSON.stringify(openApiDocument(configFor(env)))));
    // MAX_BODY_BYTES of this test environment (vitest.config.mts), not the default.
    expect(document.paths["/api/conversations"].post.requestBody.description).toBe("JSON, at most 256 KiB.");
  });

  it("documents every route the app serves, and the app serves every documented route", () => {
    const served = new Set(
      createApp()
        .routes.filter((r) => r.method !== "ALL")
        .map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, "{$1}")}`),
    );
    const documented = new Set(
      Object.entries<Json>(document.paths).flatMap(([path, item]) => Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`)),
    );
    expect([...served].filter((r) => !documented.has(r))).toEqual([]);
    expect([...documented].filter((r) => !served.has(r))).toEqual([]);
  });
});

describe("real responses match the documented ones", () => {
  let tenant: { tenant: string; key: string; id: string };
  const conv = uid("openapi");

  beforeAll(async () => {
    tenant = await newTenantKey("openapi");
  });

  const call = async (method: string, path: string, documentedPath: string, options: Parameters<typeof api>[2] = {}) => {
    const res = await api(method, path, { key: tenant.key, ...options });
    return { status: res.status, problems: await nonConformities(document, method, documentedPath, res) };
  };

  it("health, the key's owner and the metrics", async () => {
    expect(await call("GET", "/health", "/health", { key: null })).toEqual({ status: 200, problems: [] });
    expect(await call("GET", "/api/me", "/api/me")).toEqual({ status: 200, problems: [] });
    expect(await call("GET", "/metrics", "/metrics", { key: ADMIN_KEY })).toEqual({ status: 200, problems: [] });
  });

  it("ingest, list, read and delete a conversation", async () => {
    const body = launchConversation(conv);
    expect(await call("POST", "/api/conversations", "/api/conversations", { body })).toEqual({ status: 201, problems: [] });
    expect(await call("POST", "/api/conversations", "/api/conversations", { body })).toEqual({ status: 200, problems: [] });
    expect(await call("GET", "/api/conversations?limit=1", "/api/conversations")).toEqual({ status: 200, problems: [] });
    expect(await call("GET", `/api/conversations/${conv}`, "/api/conversations/{id}")).toEqual({ status: 200, problems: [] });
    const messages = "/api/conversations/{id}/messages";
    expect(await call("GET", `/api/conversations/${conv}/messages?limit=2`, messages)).toEqual({ status: 200, problems: [] });
    expect(await call("GET", `/api/conversations/${conv}/messages?around=m3&before=1&after=1`, messages)).toEqual({
      status: 200,
      problems: [],
    });
    expect(await call("GET", `/api/conversations/${conv}/messages?around=m99`, messages)).toEqual({ status: 404, problems: [] });
  });

  it("retrieve, with its x-cache and Server-Timing", async () => {
    const body = { query: "When is the maintenance window?", conversation_id: conv, token_budget: 200 };
    expect(await call("POST", "/api/rag/retrieve", "/api/rag/retrieve", { body })).toEqual({ status: 200, problems: [] });
    expect(await call("POST", "/api/rag/retrieve", "/api/rag/retrieve", { body })).toEqual({ status: 200, problems: [] });
  });

  it("ask, as one JSON body and as an event stream", async () => {
    const body = { query: "Who takes the Saturday support shift?", conversation_id: conv };
    expect(await call("POST", "/api/rag/ask", "/api/rag/ask", { body: { ...body, stream: false } })).toEqual({ status: 200, problems: [] });
    expect(await call("POST", "/api/rag/ask", "/api/rag/ask", { body: { ...body, cache: false } })).toEqual({ status: 200, problems: [] });
    // A cached answer is replayed in one write.
    expect(await call("POST", "/api/rag/ask", "/api/rag/ask", { body })).toEqual({ status: 200, problems: [] });
    expect(await call("POST", "/api/rag/ask", "/api/rag/ask", { body })).toEqual({ status: 200, problems: [] });
    // Asked again with its Idempotency-Key: the first answer, replayed, from a Last-Event-ID on.
    const again = { body, headers: { "idempotency-key": uid("retry") } };
    expect(await call("POST", "/api/rag/ask", "/api/rag/ask", again)).toEqual({ status: 200, problems: [] });
    const resumed = { ...again, headers: { ...again.headers, "last-event-id": "1" } };
    expect(await call("POST", "/api/rag/ask", "/api/rag/ask", resumed)).toEqual({ status: 200, problems: [] });
    const reused = { ...again, body: { ...body, stream: false } };
    expect(await call("POST", "/api/rag/ask", "/api/rag/ask", reused)).toEqual({ status: 422, problems: [] });
  });

  it("keys and the caches", async () => {
    const created = await api("POST", "/api/admin/keys", { key: ADMIN_KEY, body: { tenant: tenant.tenant } });
    expect(await nonConformities(document, "POST", "/api/admin/keys", created.clone())).toEqual([]);
    const { id } = (await created.json()) as { id: string };
    const admin = { key: ADMIN_KEY };
    expect(await call("GET", `/api/admin/keys?tenant=${tenant.tenant}`, "/api/admin/keys", admin)).toEqual({ status: 200, problems: [] });
    expect(await call("DELETE", `/api/admin/keys/${id}`, "/api/admin/keys/{id}", admin)).toEqual({ status: 204, problems: [] });
    const invalidate = { ...admin, body: { tenant: tenant.tenant, conversation_id: conv } };
    expect(await call("POST", "/api/admin/cache/invalidate", "/api/admin/cache/invalidate", invalidate)).toEqual({
      status: 200,
      problems: [],
    });
    expect(await call("GET", "/api/admin/cache/stats", "/api/admin/cache/stats", admin)).toEqual({ status: 200, problems: [] });
  });

  it("problems: 400, 401, 403, 404, 413 and 415", async () => {
    const retrieve = (options: Parameters<typeof api>[2]) => call("POST", "/api/rag/retrieve", "/api/rag/retrieve", options);
    expect(await retrieve({ body: { query: "x", conversationId: conv, top_k: 0 } })).toEqual({ status: 400, problems: [] });
    expect(await retrieve({ key: null, body: { query: "x" } })).toEqual({ status: 401, problems: [] });
    expect(await retrieve({ body: "query=x", headers: { "content-type": "text/plain" } })).toEqual({ status: 415, problems: [] });
    expect(await retrieve({ body: JSON.stringify({ query: "x".repeat(300 * 1024) }) })).toEqual({ status: 413, problems: [] });
    expect(await call("GET", "/api/admin/cache/stats", "/api/admin/cache/stats")).toEqual({ status: 403, problems: [] });
    expect(await call("GET", "/api/conversations/no-such", "/api/conversations/{id}")).toEqual({ status: 404, problems: [] });
    expect(await call("DELETE", `/api/conversations/${conv}`, "/api/conversations/{id}")).toEqual({ status: 204, problems: [] });
  });
});
