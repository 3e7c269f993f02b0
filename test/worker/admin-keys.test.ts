import { describe, expect, it } from "vitest";
import { ADMIN_KEY, api, problem, uid } from "./support/api";

describe("/api/admin/keys", () => {
  it("creates a key for a new tenant that works at once, lists it without the secret, and revokes it", async () => {
    const tenant = uid("acme");
    const created = await api("POST", "/api/admin/keys", { key: ADMIN_KEY, body: { tenant } });
    expect(created.status).toBe(201);
    const key = (await created.json()) as { id: string; key: string; tenant: string; role: string };
    expect(key).toMatchObject({ tenant, role: "user", key: expect.stringMatching(/^crag_[\w-]{43}$/) });

    expect((await api("GET", "/api/conversations", { key: key.key })).status).toBe(200);

    const listed = (await (await api("GET", `/api/admin/keys?tenant=${tenant}`, { key: ADMIN_KEY })).json()) as { keys: Record<string, unknown>[] };
    expect(listed.keys).toHaveLength(1);
    expect(listed.keys[0]).toMatchObject({ id: key.id, tenant, role: "user", revoked_at: null });
    expect(JSON.stringify(listed)).not.toContain(key.key);

    expect((await api("DELETE", `/api/admin/keys/${key.id}`, { key: ADMIN_KEY })).status).toBe(204);
    expect((await api("GET", "/api/conversations", { key: key.key })).status).toBe(401);
    expect((await api("DELETE", `/api/admin/keys/${key.id}`, { key: ADMIN_KEY })).status).toBe(404);
  });

  it("creates admin keys when asked", async () => {
    const res = await api("POST", "/api/admin/keys", { key: ADMIN_KEY, body: { tenant: uid("ops"), role: "admin" } });
    const { key } = (await res.json()) as { key: string };
    expect((await api("GET", `/api/admin/keys?tenant=dev`, { key })).status).toBe(200);
  });

  it("rejects an invalid tenant or role, and unknown key ids", async () => {
    const bad = await api("POST", "/api/admin/keys", { key: ADMIN_KEY, body: { tenant: "Not Valid!", role: "root" } });
    expect(bad.status).toBe(400);
    expect((await problem(bad)).errors!.map((e) => e.pointer)).toEqual(["#/tenant", "#/role"]);
    expect((await api("DELETE", "/api/admin/keys/not-a-uuid", { key: ADMIN_KEY })).status).toBe(404);
    expect((await api("DELETE", `/api/admin/keys/${crypto.randomUUID()}`, { key: ADMIN_KEY })).status).toBe(404);
  });
});
