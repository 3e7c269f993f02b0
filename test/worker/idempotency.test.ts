import { beforeAll, describe, expect, it } from "vitest";
import { api, directSql, newTenantKey, problem, uid } from "./support/api";
import { tenantWithLaunch } from "./support/fixtures";
import { isEvent, parseSse } from "./support/sse";

const sql = directSql();
let tenant: { key: string; tenant: string };
const release = uid("release");

beforeAll(async () => {
  tenant = await tenantWithLaunch("idem", release);
});

const ask = (body: Record<string, unknown>, headers: Record<string, string> = {}, key = tenant.key) =>
  api("POST", "/api/rag/ask", { key, body: { conversation_id: release, ...body }, headers });

/** The events of a stream with their ids (parseSse drops them). */
function withIds(text: string) {
  return text
    .split("\n\n")
    .filter(isEvent)
    .map((block) => {
      const field = (name: string) =>
        block
          .split("\n")
          .find((l) => l.startsWith(`${name}: `))
          ?.slice(name.length + 2);
      return { event: field("event"), id: field("id"), data: field("data") };
    });
}

describe("SSE events carry ids", () => {
  it("numbers meta 0, each delta, then done, the same way when the answer is replayed from the cache", async () => {
    const body = { query: "When is the launch date?" };
    const first = withIds(await (await ask(body)).text());
    expect(first.map((e) => e.id)).toEqual(first.map((_, i) => String(i)));
    expect(first[0]!.event).toBe("meta");
    expect(first.at(-1)!.event).toBe("done");
    const again = await ask(body);
    expect(again.headers.get("x-cache")).toBe("HIT-L1");
    const replayed = withIds(await again.text());
    expect(replayed.map((e) => [e.event, e.id])).toEqual(first.map((e) => [e.event, e.id]));
  });
});

describe("Idempotency-Key: a repeated ask replays its answer", () => {
  it("a session ask sent twice with the same key answers once and stores one turn", async () => {
    const session = uid("s");
    const headers = { "idempotency-key": uid("k") };
    const body = { query: "Why was the staging deploy rolled back?", session_id: session };
    const first = await ask(body, headers);
    expect(first.headers.get("x-cache")).toBe("MISS"); // a session's first question is cacheable
    const firstEvents = parseSse(await first.text());
    const second = await ask(body, headers);
    expect(second.status).toBe(200);
    expect(second.headers.get("idempotent-replayed")).toBe("true");
    const secondEvents = parseSse(await second.text());
    const deltas = (events: { event: string; data: string }[]) => events.filter((e) => e.event === "delta").map((e) => e.data);
    expect(deltas(secondEvents)).toEqual(deltas(firstEvents));
    const [turns] = await sql`
      SELECT count(*)::int AS n FROM chat_turns WHERE tenant_id = ${tenant.tenant} AND session_id = ${session}`;
    expect(turns!.n).toBe(1);
    // Without the key the same ask is a new turn.
    await (await ask(body)).text();
    const [after] = await sql`
      SELECT count(*)::int AS n FROM chat_turns WHERE tenant_id = ${tenant.tenant} AND session_id = ${session}`;
    expect(after!.n).toBe(2);
  });

  it("resumes after Last-Event-ID: only the events the client missed", async () => {
    const headers = { "idempotency-key": uid("k") };
    const body = { query: "What is the plan for the maintenance window?", cache: false };
    const all = withIds(await (await ask(body, headers)).text());
    expect(all.length).toBeGreaterThan(3);
    const resumed = withIds(await (await ask(body, { ...headers, "last-event-id": "2" })).text());
    expect(resumed.map((e) => e.id)).toEqual(all.slice(3).map((e) => e.id));
    expect(resumed.map((e) => e.data).slice(0, -1)).toEqual(all.slice(3, -1).map((e) => e.data));
    expect(resumed.at(-1)!.event).toBe("done");
  });

  it("the same key with another body is a 422; a malformed key is a 400; keys are per API key", async () => {
    const headers = { "idempotency-key": uid("k") };
    await (await ask({ query: "When is the launch date?", stream: false }, headers)).text();
    const reused = await ask({ query: "Who takes the Saturday support shift?", stream: false }, headers);
    expect(reused.status).toBe(422);
    expect((await problem(reused)).type).toBe("urn:convo-rag:problem:idempotency-key-reused");
    const bad = await ask({ query: "x" }, { "idempotency-key": "has space" });
    expect(bad.status).toBe(400);
    // Another key of another tenant with the same Idempotency-Key gets its own answer, not a replay.
    const other = await newTenantKey("idem");
    const res = await api("POST", "/api/rag/ask", {
      key: other.key,
      body: { query: "When is the launch date?", stream: false },
      headers,
    });
    expect(res.headers.get("idempotent-replayed")).toBeNull();
    expect(((await res.json()) as { sources: unknown[] }).sources).toEqual([]);
  });
});
