import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { createSql } from "../../src/db/client";
import { messageWindowQuery } from "../../src/db/message-pages";
import { encodeMessageCursor } from "../../src/routes/message-cursor";
import { type MessagePageBody, messagePageSchema } from "../../src/routes/messages-schema";
import { api, conversation, directSql, newTenantKey, problem, type TestMessage, uid } from "./support/api";

const sql = directSql();

async function ingest(key: string, body: { id: string; messages: TestMessage[]; mode?: string }) {
  const res = await api("POST", "/api/conversations", { key, body });
  expect(res.status, await res.clone().text()).toBeLessThan(300);
}

const get = (key: string, id: string, query = "") =>
  api("GET", `/api/conversations/${encodeURIComponent(id)}/messages${query ? `?${query}` : ""}`, { key });

/** One page, checked against the exported response schema. */
async function page(key: string, id: string, query = ""): Promise<MessagePageBody> {
  const res = await get(key, id, query);
  expect(res.status, await res.clone().text()).toBe(200);
  return messagePageSchema.strict().parse(await res.json());
}

const q = (params: Record<string, string | number>) =>
  new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)])).toString();
const ids = (p: MessagePageBody) => p.messages.map((m) => m.id);

/** Follows next_cursor (or prev_cursor) from the first page to the end; returns the ids in the order read. */
async function readAll(key: string, id: string, params: Record<string, string | number>, direction: "next" | "prev" = "next") {
  const pages: MessagePageBody[] = [];
  let cursor: string | null | undefined;
  do {
    const p = await page(key, id, q(cursor ? { ...params, cursor } : params));
    pages.push(p);
    cursor = direction === "next" ? p.next_cursor : p.prev_cursor;
  } while (cursor && pages.length < 100);
  return pages;
}

/** The ids in the order the database keeps them. */
async function storedOrder(tenant: string, id: string): Promise<string[]> {
  const rows = await sql`SELECT id FROM messages WHERE tenant_id = ${tenant} AND conversation_id = ${id} ORDER BY order_index`;
  return rows.map((r) => r.id as string);
}

const at = (minute: number) => new Date(Date.UTC(2025, 2, 3, 10, minute)).toISOString();
const message = (id: string, minute: number, author_name = "John"): TestMessage => ({
  id,
  author_name,
  text: `Message ${id}.`,
  timestamp: at(minute),
});

/** Expects a 400 problem whose first error points at `pointer`. */
async function rejected(res: Response, pointer: string) {
  expect(res.status).toBe(400);
  const p = await problem(res);
  expect(p.type).toBe("urn:convo-rag:problem:invalid-request");
  expect(p.errors?.[0]?.pointer).toBe(pointer);
  return p;
}

describe("GET /api/conversations/:id/messages: paging", () => {
  it("pages through every message exactly once, in order, forwards and backwards", async () => {
    const { key } = await newTenantKey("msgs");
    const conv = conversation(uid("conv"), 23);
    await ingest(key, conv);
    const all = conv.messages.map((m) => m.id);

    const forward = await readAll(key, conv.id, { limit: 5 });
    expect(forward.map((p) => p.messages.length)).toEqual([5, 5, 5, 5, 3]);
    expect(forward.flatMap(ids)).toEqual(all);
    expect(forward[0]!.prev_cursor).toBeNull();
    expect(forward.at(-1)!.next_cursor).toBeNull();
    expect(forward[0]).toMatchObject({ conversation_id: conv.id });
    expect(forward[0]!.messages[0]).toEqual({
      id: "m1",
      author_name: "John",
      author_type: "human",
      text: conv.messages[0]!.text,
      timestamp: "2025-03-03T10:00:00.000Z",
    });

    // Back from the last page: every message before it, still each page in chronological order.
    const backward = await readAll(key, conv.id, { limit: 5, cursor: forward.at(-1)!.prev_cursor! }, "prev");
    expect(backward.map(ids)).toEqual([all.slice(15, 20), all.slice(10, 15), all.slice(5, 10), all.slice(0, 5)]);
    expect(backward.at(-1)!.prev_cursor).toBeNull();
    // A page read backwards offers the way forwards again.
    expect(ids(await page(key, conv.id, q({ limit: 5, cursor: backward[0]!.next_cursor! })))).toEqual(all.slice(20));
  });

  it("returns 50 by default and at most 200", async () => {
    const { key } = await newTenantKey("msgs");
    const conv = conversation(uid("conv"), 205);
    await ingest(key, conv);
    const first = await page(key, conv.id);
    expect(ids(first)).toEqual(conv.messages.slice(0, 50).map((m) => m.id));
    expect(first.next_cursor).not.toBeNull();
    const big = await page(key, conv.id, q({ limit: 200 }));
    expect(big.messages).toHaveLength(200);
    expect(ids(await page(key, conv.id, q({ limit: 200, cursor: big.next_cursor! })))).toEqual(["m201", "m202", "m203", "m204", "m205"]);
  });

  it("keeps conversation order among equal timestamps: stored order first, then request order", async () => {
    const { key, tenant } = await newTenantKey("ties");
    const id = uid("conv");
    // Minute precision, as in chat exports: three messages share 10:01, sent in an order that is not their ids' order.
    await ingest(key, { id, messages: [message("b", 1), message("z", 1), message("start", 0), message("a", 1), message("end", 2)] });
    // A later merge adds one more at 10:01: it goes after the stored ones.
    await ingest(key, { id, messages: [message("c", 1)] });
    const expected = ["start", "b", "z", "a", "c", "end"];
    expect(await storedOrder(tenant, id)).toEqual(expected);
    for (const limit of [1, 2, 4]) expect((await readAll(key, id, { limit })).flatMap(ids)).toEqual(expected);
    // Backwards from after the end (a cursor whose message does not exist is placed by its timestamp).
    const end = encodeMessageCursor({ direction: "before", timestamp: new Date(at(3)), messageId: "gone" });
    const back = await readAll(key, id, { limit: 2, cursor: end }, "prev");
    expect(back.map(ids)).toEqual([
      ["c", "end"],
      ["z", "a"],
      ["start", "b"],
    ]);
  });

  it("filters by time range, inclusive at both ends", async () => {
    const { key } = await newTenantKey("range");
    const conv = conversation(uid("conv"), 10);
    await ingest(key, conv);
    const p = await page(key, conv.id, q({ from: at(3), to: at(6) }));
    expect(ids(p)).toEqual(["m4", "m5", "m6", "m7"]);
    expect(p.prev_cursor).toBeNull();
    expect(p.next_cursor).toBeNull();
    // Offsets and date-only values are ISO 8601 too; an unencoded '+' (read as a space) still means an offset.
    expect(ids(await page(key, conv.id, "from=2025-03-03T11:08:00+01:00"))).toEqual(["m9", "m10"]);
    expect(ids(await page(key, conv.id, q({ to: "2025-03-03" })))).toEqual([]);
    const paged = await readAll(key, conv.id, { from: at(2), to: at(7), limit: 4 });
    expect(paged.map(ids)).toEqual([
      ["m3", "m4", "m5", "m6"],
      ["m7", "m8"],
    ]);
  });

  it("filters by author name, exactly, after Unicode NFC normalisation", async () => {
    const { key } = await newTenantKey("author");
    const id = uid("conv");
    await ingest(key, {
      id,
      messages: [
        message("m1", 0, "José"),
        message("m2", 1, "john"),
        message("m3", 2, "Jose\u0301"),
        message("m4", 3, "John"),
        message("m5", 4, "José "),
      ],
    });
    // "José" typed with a combining accent is the same speaker (stored in NFC); "john" is not "John".
    expect(ids(await page(key, id, q({ author_name: "Jose\u0301" })))).toEqual(["m1", "m3", "m5"]);
    expect(ids(await page(key, id, q({ author_name: "John" })))).toEqual(["m4"]);
    expect(ids(await page(key, id, q({ author_name: "Jo" })))).toEqual([]);
    const paged = await readAll(key, id, { author_name: "José", limit: 1 });
    expect(paged.map(ids)).toEqual([["m1"], ["m3"], ["m5"]]);
    const back = await page(key, id, q({ author_name: "José", limit: 1, cursor: paged[2]!.prev_cursor! }));
    expect(ids(back)).toEqual(["m3"]);
  });
});

describe("GET /api/conversations/:id/messages: stable under concurrent ingest", () => {
  it("paging forwards while ingests add messages neither skips nor repeats a message", async () => {
    const { key, tenant } = await newTenantKey("stable");
    const id = uid("conv");
    // Pairs of messages share a minute, so a page boundary falls between equal timestamps.
    const original = Array.from({ length: 12 }, (_, i) => message(`m${i + 1}`, Math.floor(i / 2) * 2));
    await ingest(key, { id, messages: original });

    const seen: string[] = [];
    let p = await page(key, id, q({ limit: 3 }));
    seen.push(...ids(p));
    expect(seen).toEqual(["m1", "m2", "m3"]);
    // m3 and m4 share 10:02. Before the next page: one message before everything (every order_index
    // moves), one at m3's timestamp (after m3 and m4), one between m4 and m5, and one at the end.
    await ingest(key, { id, messages: [message("early", -5), message("tie", 2), message("between", 3), message("late", 30)] });
    p = await page(key, id, q({ limit: 3, cursor: p.next_cursor! }));
    seen.push(...ids(p));
    // Another ingest between the next pages, this time around the cursor and behind it.
    await ingest(key, { id, messages: [message("behind", 1), message("next-tie", 6)] });
    while (p.next_cursor) {
      p = await page(key, id, q({ limit: 3, cursor: p.next_cursor }));
      seen.push(...ids(p));
    }

    const now = await storedOrder(tenant, id);
    // Every message that existed when paging began, exactly once; no message twice; all in the conversation's order.
    for (const m of original) expect(seen.filter((s) => s === m.id)).toEqual([m.id]);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual(now.filter((m) => seen.includes(m)));
    // Messages added ahead of the cursor are read; those added behind it are not.
    expect(seen).toEqual(["m1", "m2", "m3", "m4", "tie", "between", "m5", "m6", "m7", "m8", "next-tie", "m9", "m10", "m11", "m12", "late"]);
  });

  it("paging backwards while an ingest adds messages neither skips nor repeats a message", async () => {
    const { key } = await newTenantKey("stable");
    const id = uid("conv");
    const original = Array.from({ length: 9 }, (_, i) => message(`m${i + 1}`, Math.floor(i / 3)));
    await ingest(key, { id, messages: original });
    const end = encodeMessageCursor({ direction: "before", timestamp: new Date(at(59)), messageId: "none" });
    const seen: string[] = [];
    let p = await page(key, id, q({ limit: 2, cursor: end }));
    seen.unshift(...ids(p));
    expect(seen).toEqual(["m8", "m9"]);
    // m7, m8 and m9 share 10:02: the new one lands after them (behind this backwards reader), the others ahead of it.
    await ingest(key, { id, messages: [message("tie", 2), message("first", -1), message("mid", 1)] });
    while (p.prev_cursor) {
      p = await page(key, id, q({ limit: 2, cursor: p.prev_cursor }));
      seen.unshift(...ids(p));
    }
    expect(seen).toEqual(["first", "m1", "m2", "m3", "m4", "m5", "m6", "mid", "m7", "m8", "m9"]);
  });

  it("a cursor whose message was deleted continues after that message's timestamp", async () => {
    const { key } = await newTenantKey("stable");
    const conv = conversation(uid("conv"), 8);
    await ingest(key, conv);
    const first = await page(key, conv.id, q({ limit: 3 }));
    await ingest(key, { ...conv, mode: "replace", messages: conv.messages.filter((m) => m.id !== "m3") });
    expect(ids(await page(key, conv.id, q({ limit: 3, cursor: first.next_cursor! })))).toEqual(["m4", "m5", "m6"]);
    const second = await page(key, conv.id, q({ limit: 3, cursor: first.next_cursor! }));
    await ingest(key, { ...conv, mode: "replace", messages: conv.messages.filter((m) => !["m3", "m4"].includes(m.id)) });
    expect(ids(await page(key, conv.id, q({ limit: 3, cursor: second.prev_cursor! })))).toEqual(["m1", "m2"]);
  });
});

describe("GET /api/conversations/:id/messages?around=", () => {
  const setUp = async () => {
    const { key } = await newTenantKey("around");
    const conv = conversation(uid("conv"), 20);
    await ingest(key, conv);
    return { key, id: conv.id };
  };

  it("returns the message with up to `before` and `after` neighbours, and cursors to keep scrolling", async () => {
    const { key, id } = await setUp();
    const p = await page(key, id, q({ around: "m10", before: 2, after: 3 }));
    expect(p.around).toBe("m10");
    expect(ids(p)).toEqual(["m8", "m9", "m10", "m11", "m12", "m13"]);
    expect(ids(await page(key, id, q({ limit: 2, cursor: p.next_cursor! })))).toEqual(["m14", "m15"]);
    expect(ids(await page(key, id, q({ limit: 2, cursor: p.prev_cursor! })))).toEqual(["m6", "m7"]);
    expect(ids(await page(key, id, q({ around: "m10" })))).toEqual([
      "m5",
      "m6",
      "m7",
      "m8",
      "m9",
      "m10",
      "m11",
      "m12",
      "m13",
      "m14",
      "m15",
    ]);
    const alone = await page(key, id, q({ around: "m10", before: 0, after: 0 }));
    expect(ids(alone)).toEqual(["m10"]);
    expect(ids(await page(key, id, q({ limit: 1, cursor: alone.prev_cursor! })))).toEqual(["m9"]);
    expect(ids(await page(key, id, q({ limit: 1, cursor: alone.next_cursor! })))).toEqual(["m11"]);
  });

  it("at the first and the last message returns what there is, with no cursor past the edge", async () => {
    const { key, id } = await setUp();
    const first = await page(key, id, q({ around: "m1", before: 5, after: 2 }));
    expect(ids(first)).toEqual(["m1", "m2", "m3"]);
    expect(first.prev_cursor).toBeNull();
    expect(first.next_cursor).not.toBeNull();
    const second = await page(key, id, q({ around: "m2", before: 1, after: 0 }));
    expect(ids(second)).toEqual(["m1", "m2"]);
    expect(second.prev_cursor).toBeNull();
    const last = await page(key, id, q({ around: "m20", before: 2, after: 5 }));
    expect(ids(last)).toEqual(["m18", "m19", "m20"]);
    expect(last.next_cursor).toBeNull();
    expect(ids(await page(key, id, q({ limit: 50, cursor: last.prev_cursor! })))).toEqual(
      Array.from({ length: 17 }, (_, i) => `m${i + 1}`),
    );
  });

  it("filters the neighbours; a message outside the filters is a 404", async () => {
    const { key, id } = await setUp();
    // Speakers rotate John, Priya, Marco: m10 is John's.
    const p = await page(key, id, q({ around: "m10", before: 2, after: 2, author_name: "John" }));
    expect(ids(p)).toEqual(["m4", "m7", "m10", "m13", "m16"]);
    expect(ids(await page(key, id, q({ around: "m10", before: 9, after: 1, from: at(6) })))).toEqual(["m7", "m8", "m9", "m10", "m11"]);
    const res = await get(key, id, q({ around: "m11", author_name: "John" }));
    expect(res.status).toBe(404);
    expect((await problem(res)).detail).toBe(`message 'm11' in conversation '${id}' does not match author_name`);
  });

  it("a message id that is not in this conversation is a 404 naming it", async () => {
    const { key, id } = await setUp();
    const other = conversation(uid("other"), 3);
    other.messages[0]!.id = "elsewhere";
    await ingest(key, other);
    for (const around of ["elsewhere", "m21", "M1"]) {
      const res = await get(key, id, q({ around }));
      expect(res.status).toBe(404);
      expect((await problem(res)).detail).toBe(`message '${around}' does not exist in conversation '${id}'`);
    }
    // Ids no ingest could store are 404s too, not database errors or 400s. (An encoded lone
    // surrogate, %ED%A0%80, is not UTF-8: a 400 for every query parameter, percent-encoding.test.ts.)
    for (const around of ["%00", "a%00b", "x".repeat(300)]) {
      const res = await get(key, id, `around=${around}`);
      expect(res.status).toBe(404);
      expect((await problem(res)).detail).toMatch(/^message '.*' does not exist/);
    }
  });
});

describe("GET /api/conversations/:id/messages: errors", () => {
  it("is a 404 for an unknown conversation and for another tenant's, exactly alike", async () => {
    const a = await newTenantKey("owner");
    const b = await newTenantKey("other");
    const conv = conversation(uid("conv"), 4);
    await ingest(a.key, conv);
    for (const [key, id] of [
      [a.key, "no-such-conversation"],
      [b.key, conv.id],
    ] as const) {
      for (const query of [
        "",
        q({ around: "m2" }),
        q({ limit: 1, cursor: encodeMessageCursor({ direction: "after", timestamp: new Date(at(0)), messageId: "m1" }) }),
      ]) {
        const res = await get(key, id, query);
        expect(res.status).toBe(404);
        const p = await problem(res);
        expect(p.type).toBe("urn:convo-rag:problem:not-found");
        expect(p.detail).toBe(`conversation '${id}' does not exist`);
      }
    }
    for (const id of ["%00", "%ED%A0%80", "x".repeat(300)]) {
      expect((await api("GET", `/api/conversations/${id}/messages`, { key: a.key })).status).toBe(404);
    }
    // The same id in the other tenant is that tenant's own conversation.
    await ingest(b.key, { id: conv.id, messages: [message("theirs", 0)] });
    expect(ids(await page(b.key, conv.id))).toEqual(["theirs"]);
    expect(ids(await page(a.key, conv.id))).toEqual(["m1", "m2", "m3", "m4"]);
  });

  it("an existing conversation with no matching message is an empty page, not a 404", async () => {
    const { key } = await newTenantKey("empty");
    const conv = conversation(uid("conv"), 3);
    await ingest(key, conv);
    expect(await page(key, conv.id, q({ author_name: "Nobody" }))).toEqual({
      conversation_id: conv.id,
      messages: [],
      next_cursor: null,
      prev_cursor: null,
    });
  });

  it("rejects bad cursors, limits, counts and unknown parameters with a 400 naming the parameter", async () => {
    const { key } = await newTenantKey("bad");
    const conv = conversation(uid("conv"), 3);
    await ingest(key, conv);
    const listCursor = btoa("c-a");
    const bytes = (text: string) => btoa(String.fromCharCode(...new TextEncoder().encode(text))).replaceAll("=", "");
    for (const cursor of [
      "%%%",
      "",
      "abc$",
      "A",
      listCursor,
      bytes("x|2025-03-03T10:00:00.000Z|m1"),
      bytes("a|2025-03-03T10:00:00Z|m1"),
      bytes("a|2025-02-30T10:00:00.000Z|m1"),
      bytes("a|2025-03-03T10:00:00.000Z|"),
      bytes("a|2025-03-03T10:00:00.000Z|a\u0000b"),
      bytes(`a|2025-03-03T10:00:00.000Z|${"x".repeat(257)}`),
      "x".repeat(3000),
    ]) {
      const p = await rejected(await get(key, conv.id, `cursor=${encodeURIComponent(cursor)}`), "#/cursor");
      expect(p.detail).toMatch(/^invalid query string: cursor: /);
    }

    for (const limit of ["0", "201", "abc", "1.5", "-1", "", "1e2"]) await rejected(await get(key, conv.id, `limit=${limit}`), "#/limit");
    for (const before of ["101", "-1", "x"]) await rejected(await get(key, conv.id, `around=m1&before=${before}`), "#/before");
    await rejected(await get(key, conv.id, "around=m1&after=500"), "#/after");
    await rejected(await get(key, conv.id, "before=2"), "#/before");
    await rejected(await get(key, conv.id, "around=m1&limit=5"), "#/limit");
    await rejected(await get(key, conv.id, "around="), "#/around");
    await rejected(await get(key, conv.id, "author_name="), "#/author_name");
    await rejected(await get(key, conv.id, "author_name=a%00b"), "#/author_name");
    await rejected(await get(key, conv.id, "from=yesterday"), "#/from");

    const unknown = await rejected(await get(key, conv.id, "authorName=John"), "#/authorName");
    expect(unknown.errors![0]!.detail).toBe("is not a field of this request (did you mean 'author_name'?)");
    await rejected(await get(key, conv.id, "page=2"), "#/page");

    const range = await rejected(await get(key, conv.id, q({ from: at(5), to: at(4) })), "#/from");
    expect(range.errors![0]!.detail).toBe("must not be after to");

    const first = await page(key, conv.id, q({ limit: 1 }));
    const both = await rejected(await get(key, conv.id, q({ around: "m2", cursor: first.next_cursor! })), "#/cursor");
    expect(both.errors![0]!.detail).toBe("cannot be combined with around");
  });
});

describe("GET /api/conversations/:id/messages: query plan", () => {
  it("a page inside a long run of equal timestamps reads only its own rows through the (timestamp, order_index) index", async () => {
    const { key, tenant } = await newTenantKey("plan");
    const id = uid("conv");
    // Date-only timestamps: every message of the day shares one.
    const day = "2025-03-03";
    await ingest(key, {
      id,
      messages: Array.from({ length: 400 }, (_, i) => ({ id: `d${i}`, author_name: "A", text: `Note ${i}.`, timestamp: day })),
    });
    await sql`ANALYZE messages`;
    const anchor = { kind: "after", messageId: "d200", timestamp: new Date(day) } as const;
    const db = createSql(env.HYPERDRIVE);
    // At 400 rows the planner may as well read them all through a bitmap and sort them, and its
    // pick depends on table-wide statistics that other tests change. What this guards is that the
    // index can answer the row comparison, so a page reads only its own rows whatever the size:
    // with bitmap and sequential scans off (this transaction only), the plan must show it.
    const rows = await db.begin(async (tx) => {
      await tx`SET LOCAL enable_bitmapscan = off`;
      await tx`SET LOCAL enable_seqscan = off`;
      const query = messageWindowQuery(tx, tenant, id, { anchor, before: 0, after: 10, filter: {} });
      return tx`EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) ${query as never}`;
    });
    await db.end();
    const plan = (rows as unknown as Record<string, string>[]).map((r) => Object.values(r)[0]).join("\n");
    expect(plan).toMatch(
      /Index Scan using messages_conversation_time_idx on messages m_1 \(actual rows=11\.00 loops=1\)\n\s+Index Cond: .*ROW\("timestamp", order_index\) > ROW/,
    );
    // No scan of messages reads the 200 that follow in the run, nor filters them out.
    const scans = plan.split("->").filter((node) => / on messages /.test(node));
    expect(scans.length).toBeGreaterThanOrEqual(3);
    for (const scan of scans) expect(scan).not.toMatch(/actual rows=(?:[2-9]\d|\d{3,})\b|Rows Removed by Filter: \d{2,}/);

    const cursor = encodeMessageCursor({ direction: "after", timestamp: new Date(day), messageId: "d200" });
    expect(ids(await page(key, id, q({ limit: 10, cursor })))).toEqual(Array.from({ length: 10 }, (_, i) => `d${201 + i}`));
  });
});
