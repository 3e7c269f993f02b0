import { env } from "cloudflare:test";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_KEY, api, conversation, directSql, newTenantKey, problem } from "./support/api";
import { importAs, uploadImport } from "./support/imports";

// Byte sequences that are not UTF-8 once percent-decoded, which Hono's decoder keeps as raw text.
const NOT_UTF8 = {
  "lone surrogate": "a%ED%A0%80b",
  "overlong '/'": "%C0%AF",
  "truncated sequence": "x%E2%82",
  "stray continuation byte": "%80",
  "byte never in UTF-8": "%FF",
  "past U+10FFFF": "%F4%90%80%80",
};

const LINE = '{"author":"Ana","text":"hello","timestamp":"2025-03-01T10:00:00Z"}\n';
const sql = directSql();
afterAll(() => sql.end());

let key: string;
const conversationId = "pct-conv";
beforeAll(async () => {
  ({ key } = await newTenantKey("pct"));
  expect((await api("POST", "/api/conversations", { key, body: conversation(conversationId, 3) })).status).toBe(201);
});

/** A route that reads a query parameter, called with `value` (still percent-encoded) as that parameter. */
const routes: { name: string; param: string; call: (value: string) => Promise<Response> }[] = [
  { name: "GET /api/conversations", param: "q", call: (v) => api("GET", `/api/conversations?q=${v}`, { key }) },
  {
    name: "GET /api/conversations/:id/messages",
    param: "around",
    call: (v) => api("GET", `/api/conversations/${conversationId}/messages?around=${v}`, { key }),
  },
  {
    name: "POST /api/imports",
    param: "conversation_id",
    call: (v) => uploadImport(key, "[]", `?format=jsonl&conversation_id=${v}`),
  },
  { name: "GET /api/admin/keys", param: "tenant", call: (v) => api("GET", `/api/admin/keys?tenant=${v}`, { key: ADMIN_KEY }) },
  {
    name: "GET /api/admin/embeddings",
    param: "tenant",
    call: (v) => api("GET", `/api/admin/embeddings?tenant=${v}`, { key: ADMIN_KEY }),
  },
  { name: "GET /api/me", param: "x", call: (v) => api("GET", `/api/me?x=${v}`, { key }) },
];

async function expectNotUtf8(res: Response, pointer: string) {
  expect(res.status).toBe(400);
  const body = await problem(res);
  expect(body.type).toBe("urn:convo-rag:problem:invalid-request");
  expect(body.errors).toEqual([{ pointer, detail: "is not valid UTF-8 percent-encoding" }]);
  expect(body.detail).toContain(pointer.slice(2));
}

describe("a query string that is not UTF-8 once percent-decoded", () => {
  for (const route of routes) {
    it(`${route.name}: ?${route.param}= of each kind → 400 naming the parameter`, async () => {
      for (const [kind, value] of Object.entries(NOT_UTF8)) {
        const res = await route.call(value);
        expect(res.status, kind).toBe(400);
        await expectNotUtf8(res, `#/${route.param}`);
      }
    });
  }

  it("a parameter name that is not UTF-8 → 400 naming it as sent", async () => {
    for (const path of ["/api/conversations?a%ED%A0%80b=1", "/api/conversations?limit=5&a%ED%A0%80b"]) {
      await expectNotUtf8(await api("GET", path, { key }), "#/a%ED%A0%80b");
    }
  });

  it("names every such parameter, one problem each", async () => {
    const res = await api("GET", "/api/conversations?q=%FF&limit=5&cursor=%C0%AF", { key });
    expect(res.status).toBe(400);
    expect((await problem(res)).errors).toEqual([
      { pointer: "#/q", detail: "is not valid UTF-8 percent-encoding" },
      { pointer: "#/cursor", detail: "is not valid UTF-8 percent-encoding" },
    ]);
  });

  it("an import asked for with one stores nothing: no import, no upload, no conversation of that name", async () => {
    const { key, tenant } = await newTenantKey("pct-import");
    const res = await uploadImport(key, LINE, "?format=jsonl&conversation_id=a%ED%A0%80b");
    await expectNotUtf8(res, "#/conversation_id");
    const [imports] = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM imports WHERE tenant_id = ${tenant}`;
    expect(imports!.n).toBe(0);
    expect((await env.IMPORTS_BUCKET.list({ prefix: `imports/${tenant}/` })).objects).toEqual([]);
    const [named] = await sql<
      { n: number }[]
    >`SELECT count(*)::int AS n FROM conversations WHERE tenant_id = ${tenant} AND id LIKE 'a\\%%'`;
    expect(named!.n).toBe(0);
  });

  it("valid percent-encoding, and a '%' without two hex digits, still mean what they say", async () => {
    const res = await api("GET", `/api/conversations?q=caf%C3%A9%20%F0%9F%98%80`, { key });
    expect(res.status).toBe(200);
    expect((await api("GET", "/api/conversations?q=100%", { key })).status).toBe(200);
    expect((await api("GET", "/api/conversations?q=100%25", { key })).status).toBe(200);
    const done = await importAs(key, LINE, "?format=jsonl&conversation_id=caf%C3%A9");
    expect(done).toMatchObject({ status: "succeeded", progress: { conversations: ["café"] } });
  });
});

describe("a path that is not UTF-8 once percent-decoded", () => {
  it("is a 404 for each kind of bad sequence, never the conversation whose id is that text taken literally", async () => {
    const { key } = await newTenantKey("pct-path");
    for (const [kind, literal] of Object.entries(NOT_UTF8)) {
      expect((await api("POST", "/api/conversations", { key, body: conversation(literal, 2) })).status, kind).toBe(201);
      for (const [method, path] of [
        ["GET", `/api/conversations/${literal}`],
        ["GET", `/api/conversations/${literal}/messages`],
        ["DELETE", `/api/conversations/${literal}`],
      ] as const) {
        const res = await api(method, path, { key });
        expect(res.status, `${kind}: ${method} ${path}`).toBe(404);
        expect((await problem(res)).detail).toMatch(/does not exist/);
      }
      // Still there, under its id properly encoded.
      const res = await api("GET", `/api/conversations/${encodeURIComponent(literal)}`, { key });
      expect(res.status, kind).toBe(200);
      expect(((await res.json()) as { id: string }).id).toBe(literal);
    }
  });
});
