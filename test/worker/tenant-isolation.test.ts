import { describe, expect, it } from "vitest";
import { api, conversation, newTenantKey, problem, uid } from "./support/api";

describe("tenant isolation", () => {
  it("tenant B cannot read, list or delete tenant A's conversation (404, as for an unknown id)", async () => {
    const a = await newTenantKey("iso-a");
    const b = await newTenantKey("iso-b");
    const conv = conversation(uid("secret"), 6);
    expect((await api("POST", "/api/conversations", { key: a.key, body: conv })).status).toBe(201);

    const read = await api("GET", `/api/conversations/${conv.id}`, { key: b.key });
    expect(read.status).toBe(404);
    const unknown = await api("GET", `/api/conversations/${uid("nope")}`, { key: b.key });
    expect(unknown.status).toBe(404);
    expect((await problem(read)).title).toBe((await problem(unknown)).title);

    const list = (await (await api("GET", "/api/conversations", { key: b.key })).json()) as { conversations: unknown[] };
    expect(list.conversations).toEqual([]);

    expect((await api("DELETE", `/api/conversations/${conv.id}`, { key: b.key })).status).toBe(404);
    // Still there for its owner.
    expect((await api("GET", `/api/conversations/${conv.id}`, { key: a.key })).status).toBe(200);
  });

  it("the same conversation id in two tenants are two separate conversations", async () => {
    const a = await newTenantKey("same-a");
    const b = await newTenantKey("same-b");
    const id = uid("shared");
    await api("POST", "/api/conversations", { key: a.key, body: conversation(id, 4) });
    const res = await api("POST", "/api/conversations", { key: b.key, body: conversation(id, 2) });
    expect(res.status).toBe(201);
    const ofA = (await (await api("GET", `/api/conversations/${id}`, { key: a.key })).json()) as { message_count: number };
    const ofB = (await (await api("GET", `/api/conversations/${id}`, { key: b.key })).json()) as { message_count: number };
    expect([ofA.message_count, ofB.message_count]).toEqual([4, 2]);
  });
});
