import { beforeAll, describe, expect, it } from "vitest";
import { generateApiKey, hashApiKey, keyPrefix } from "../../src/auth/api-key";
import { ADMIN_KEY, api, conversation, directSql, problem, uid } from "./support/api";

describe("/api/admin/keys", () => {
  it("creates a key for a new tenant that works at once, lists it without the secret, and revokes it", async () => {
    const tenant = uid("acme");
    const created = await api("POST", "/api/admin/keys", { key: ADMIN_KEY, body: { tenant } });
    expect(created.status).toBe(201);
    const key = (await created.json()) as { id: string; key: string; tenant: string; role: string };
    expect(key).toMatchObject({ tenant, role: "user", key: expect.stringMatching(/^crag_[\w-]{43}$/) });

    expect((await api("GET", "/api/conversations", { key: key.key })).status).toBe(200);

    const listed = (await (await api("GET", `/api/admin/keys?tenant=${tenant}`, { key: ADMIN_KEY })).json()) as {
      keys: Record<string, unknown>[];
    };
    expect(listed.keys).toHaveLength(1);
    expect(listed.keys[0]).toMatchObject({ id: key.id, tenant, role: "user", revoked_at: null });
    expect(JSON.stringify(listed)).not.toContain(key.key);

    expect((await api("DELETE", `/api/admin/keys/${key.id}`, { key: ADMIN_KEY })).status).toBe(204);
    expect((await api("GET", "/api/conversations", { key: key.key })).status).toBe(401);
    expect((await api("DELETE", `/api/admin/keys/${key.id}`, { key: ADMIN_KEY })).status).toBe(404);
  });

  it("creates admin keys when asked; an admin key manages its own tenant only", async () => {
    const tenant = uid("ops");
    const res = await api("POST", "/api/admin/keys", { key: ADMIN_KEY, body: { tenant, role: "admin" } });
    const { key } = (await res.json()) as { key: string };
    expect((await api("GET", `/api/admin/keys?tenant=${tenant}`, { key })).status).toBe(200);
    expect((await api("GET", "/api/admin/keys", { key })).status).toBe(200);
    expect((await api("GET", "/api/admin/keys?tenant=dev", { key })).status).toBe(403);
  });

  it("GET /api/me tells each key its own tenant and role, and nothing without a key", async () => {
    const tenant = uid("me");
    const res = await api("POST", "/api/admin/keys", { key: ADMIN_KEY, body: { tenant, role: "admin" } });
    const created = (await res.json()) as { id: string; key: string };
    expect(await (await api("GET", "/api/me", { key: created.key })).json()).toEqual({ key_id: created.id, tenant, role: "admin" });
    expect(await (await api("GET", "/api/me", { key: ADMIN_KEY })).json()).toMatchObject({ tenant: "dev", role: "operator" });
    expect((await api("GET", "/api/me", { key: null })).status).toBe(401);
    expect((await api("GET", "/api/me?tenant=dev", { key: created.key })).status).toBe(400);
  });

  it("rejects an invalid tenant or role, and unknown key ids", async () => {
    const bad = await api("POST", "/api/admin/keys", { key: ADMIN_KEY, body: { tenant: "Not Valid!", role: "root" } });
    expect(bad.status).toBe(400);
    expect((await problem(bad)).errors!.map((e) => e.pointer)).toEqual(["#/tenant", "#/role"]);
    expect((await api("DELETE", "/api/admin/keys/not-a-uuid", { key: ADMIN_KEY })).status).toBe(404);
    expect((await api("DELETE", `/api/admin/keys/${crypto.randomUUID()}`, { key: ADMIN_KEY })).status).toBe(404);
  });
});

describe("admin routes by role and tenant", () => {
  type Role = "user" | "admin" | "operator";
  const sql = directSql();
  /** A key made the way npm run create-key makes one (operators are never created over HTTP). */
  async function keyFor(tenant: string, role: Role): Promise<{ key: string; id: string }> {
    const key = generateApiKey();
    await sql`INSERT INTO tenants (id) VALUES (${tenant}) ON CONFLICT (id) DO NOTHING`;
    const [row] = await sql<
      { id: string }[]
    >`INSERT INTO api_keys (tenant_id, key_hash, key_prefix, role) VALUES (${tenant}, ${hashApiKey(key)}, ${keyPrefix(key)}, ${role}) RETURNING id`;
    return { key, id: row!.id };
  }

  const own = uid("own");
  const other = uid("other");
  const keys = {} as Record<Role, string>;
  const tenantOf = (where: "own" | "other") => (where === "own" ? own : other);

  // Two tenants with data; one key of each role in the first.
  beforeAll(async () => {
    for (const role of ["user", "admin", "operator"] as const) keys[role] = (await keyFor(own, role)).key;
    const otherUser = await keyFor(other, "user");
    expect((await api("POST", "/api/conversations", { key: otherUser.key, body: conversation(uid("c"), 3) })).status).toBe(201);
  });

  // Expected status per role for a route that names a tenant: [own, other].
  const named: Record<Role, [number, number]> = { user: [403, 403], admin: [200, 403], operator: [200, 200] };
  const success = (status: number, ok: number) => (status === 200 ? ok : status);

  for (const role of ["user", "admin", "operator"] as const) {
    for (const where of ["own", "other"] as const) {
      const expected = named[role][where === "own" ? 0 : 1];

      it(`${role} key, ${where} tenant: POST /api/admin/keys → ${success(expected, 201)}`, async () => {
        const res = await api("POST", "/api/admin/keys", { key: keys[role], body: { tenant: tenantOf(where) } });
        expect(res.status).toBe(success(expected, 201));
        if (res.status === 403) expect((await problem(res)).type).toMatch(/forbidden/);
        else expect(((await res.json()) as { tenant: string }).tenant).toBe(tenantOf(where));
      });

      it(`${role} key, ${where} tenant: GET /api/admin/keys → ${expected}`, async () => {
        const res = await api("GET", `/api/admin/keys?tenant=${tenantOf(where)}`, { key: keys[role] });
        expect(res.status).toBe(expected);
        if (res.status === 200) {
          const listed = ((await res.json()) as { keys: { tenant: string }[] }).keys;
          expect(listed.length).toBeGreaterThan(0);
          expect(new Set(listed.map((k) => k.tenant))).toEqual(new Set([tenantOf(where)]));
        }
      });

      it(`${role} key, ${where} tenant: DELETE /api/admin/keys/:id → ${role === "user" ? 403 : expected === 200 ? 204 : 404}`, async () => {
        const victim = await keyFor(tenantOf(where), "user");
        const res = await api("DELETE", `/api/admin/keys/${victim.id}`, { key: keys[role] });
        // An admin asking to revoke another tenant's key hears what it would for an unknown id.
        const status = role === "user" ? 403 : expected === 200 ? 204 : 404;
        expect(res.status).toBe(status);
        expect((await api("GET", "/api/conversations", { key: victim.key })).status).toBe(status === 204 ? 401 : 200);
      });

      it(`${role} key, ${where} tenant: POST /api/admin/cache/invalidate (tenant, conversation) → ${expected}`, async () => {
        const tenant = tenantOf(where);
        for (const body of [{ tenant }, { tenant, conversation_id: "c1" }]) {
          const res = await api("POST", "/api/admin/cache/invalidate", { key: keys[role], body });
          expect(res.status, JSON.stringify(body)).toBe(expected);
        }
      });
    }

    it(`${role} key: invalidating every tenant's cache → ${role === "user" || role === "admin" ? 403 : "allowed (tested in cache.test.ts)"}`, async () => {
      if (role === "operator") return;
      const res = await api("POST", "/api/admin/cache/invalidate", { key: keys[role], body: { scope: "all" } });
      expect(res.status).toBe(403);
    });

    it(`${role} key: GET /api/admin/cache/stats → ${role === "user" ? 403 : 200}, an admin sees its own tenant only`, async () => {
      const res = await api("GET", "/api/admin/cache/stats", { key: keys[role] });
      expect(res.status).toBe(role === "user" ? 403 : 200);
      if (role === "admin") {
        const body = (await res.json()) as Record<string, unknown>;
        expect(body).toMatchObject({
          tenant: own,
          stores: { semantic_cache: { entries: expect.any(Number) }, embedding_cache: { entries: expect.any(Number) } },
        });
        expect(body).not.toHaveProperty("levels");
      }
      if (role === "operator") expect(await res.json()).toHaveProperty("levels");
    });

    it(`${role} key: GET /metrics → ${role === "operator" ? 200 : 403}`, async () => {
      const res = await api("GET", "/metrics", { key: keys[role] });
      expect(res.status).toBe(role === "operator" ? 200 : 403);
      await res.text();
    });
  }

  /** A tenant with two admin keys, a user key and an operator key (as npm start's dev tenant has). */
  async function tenantWithOperator() {
    const tenant = uid("opkeys");
    const admin = await keyFor(tenant, "admin");
    const otherAdmin = await keyFor(tenant, "admin");
    const user = await keyFor(tenant, "user");
    const operator = await keyFor(tenant, "operator");
    return { tenant, admin, otherAdmin, user, operator };
  }

  it("an admin key's key list leaves out its tenant's operator keys (no id, no prefix); an operator key's lists them", async () => {
    const { tenant, admin, otherAdmin, user, operator } = await tenantWithOperator();
    const [row] = await sql<{ key_prefix: string }[]>`SELECT key_prefix FROM api_keys WHERE id = ${operator.id}`;

    const text = await (await api("GET", "/api/admin/keys", { key: admin.key })).text();
    const listed = (JSON.parse(text) as { keys: { id: string }[] }).keys.map((k) => k.id);
    expect(listed.sort()).toEqual([admin.id, otherAdmin.id, user.id].sort());
    expect(text).not.toContain(operator.id);
    expect(text).not.toContain(row!.key_prefix);

    const all = await (await api("GET", `/api/admin/keys?tenant=${tenant}`, { key: keys.operator })).json();
    expect((all as { keys: { id: string }[] }).keys.map((k) => k.id).sort()).toEqual(
      [admin.id, otherAdmin.id, user.id, operator.id].sort(),
    );
  });

  it("an admin key revoking its tenant's operator key hears what it would for an unknown id, and the key keeps working; an operator key revokes it", async () => {
    const { admin, otherAdmin, operator } = await tenantWithOperator();
    const refused = await api("DELETE", `/api/admin/keys/${operator.id}`, { key: admin.key });
    const unknownId = crypto.randomUUID();
    const unknown = await api("DELETE", `/api/admin/keys/${unknownId}`, { key: admin.key });
    expect(refused.status).toBe(404);
    const [refusedProblem, unknownProblem] = [await problem(refused), await problem(unknown)];
    expect(refusedProblem.type).toBe(unknownProblem.type);
    expect(refusedProblem.detail.replace(operator.id, "ID")).toBe(unknownProblem.detail.replace(unknownId, "ID"));
    expect((await api("GET", "/api/me", { key: operator.key })).status).toBe(200);

    // Its tenant's admin keys stay the admin's to revoke.
    expect((await api("DELETE", `/api/admin/keys/${otherAdmin.id}`, { key: admin.key })).status).toBe(204);
    expect((await api("GET", "/api/me", { key: otherAdmin.key })).status).toBe(401);

    expect((await api("DELETE", `/api/admin/keys/${operator.id}`, { key: keys.operator })).status).toBe(204);
    expect((await api("GET", "/api/me", { key: operator.key })).status).toBe(401);
  });

  it("an operator key cannot be created over HTTP", async () => {
    const res = await api("POST", "/api/admin/keys", { key: ADMIN_KEY, body: { tenant: own, role: "operator" } });
    expect(res.status).toBe(400);
    expect((await problem(res)).errors!.map((e) => e.pointer)).toEqual(["#/role"]);
  });
});
