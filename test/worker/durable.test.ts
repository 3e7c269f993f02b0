import { env, evictDurableObject, listDurableObjectIds, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import type { ChatBehaviour, RecordedCall } from "../../scripts/lib/fake-openai";
import { fakeEmbedding } from "../../scripts/lib/fake-openai";
import { parseConfig } from "../../src/config";
import type { AskCoalescer } from "../../src/durable/ask-coalescer";
import type { EmbeddingBatcher } from "../../src/durable/embedding-batcher";
import { batcherName } from "../../src/durable/embedding-batcher-client";
import { streamRecords } from "../../src/generate/records";
import { counters } from "../../src/observability/counters";
import { directSql, newTenantKey, uid } from "./support/api";
import { launchConversation, tenantWithLaunch } from "./support/fixtures";
import { callWith, parseSse, sseReader } from "./support/sse";
import { waitFor } from "./support/wait";

const sql = directSql();

/** A scenario of its own on the fake OpenAI-compatible server: its own calls, behaviour and endpoint. */
async function scenario(control: { chat?: ChatBehaviour; embeddingDelayMs?: number } = {}, extra: Record<string, string> = {}) {
  const base = `${env.FAKE_OPENAI_URL}/${crypto.randomUUID()}`;
  await fetch(`${base}/_control`, { method: "POST", body: JSON.stringify(control) });
  return {
    vars: { OPENAI_BASE_URL: `${base}/v1`, OPENAI_API_KEY: "sk-test", ...extra },
    calls: async () => (await (await fetch(`${base}/_calls`)).json()) as RecordedCall[],
  };
}

const chatVars = { CHAT_PROVIDER: "openai", CHAT_MODEL: "fake-chat" };
const embeddingVars = { EMBEDDING_PROVIDER: "openai", EMBEDDING_MODEL: "fake-embedding" };

async function readAll(res: Response) {
  const events = parseSse(await res.text());
  return {
    events,
    answer: events
      .filter((e) => e.event === "delta")
      .map((e) => (JSON.parse(e.data) as { text: string }).text)
      .join(""),
    meta: events[0]?.event === "meta" ? (JSON.parse(events[0].data) as Record<string, unknown>) : undefined,
    last: events.at(-1) && { event: events.at(-1)!.event, data: JSON.parse(events.at(-1)!.data) as Record<string, unknown> },
  };
}

const withoutRequest = (meta: Record<string, unknown> | undefined) => ({ ...meta, request_id: undefined });
const embeddingCalls = (calls: RecordedCall[]) => calls.filter((c) => c.path === "/v1/embeddings");
const chatCalls = (calls: RecordedCall[]) => calls.filter((c) => c.path === "/v1/chat/completions");

/** Settles within `ms` or fails the test: proves nobody hangs. */
const within = <T>(ms: number, work: Promise<T>) =>
  Promise.race([work, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`still waiting after ${ms} ms`)), ms))]);

/** The answers an AskCoalescer holds (a private field), by cache key. */
type HeldAnswer = {
  phase: { kind: string; deadline: number };
  records: { type: string; meta?: { query?: { text?: string } } }[];
  watchdog(): void;
};
const heldAnswers = (instance: AskCoalescer) => (instance as unknown as { answers: Map<string, HeldAnswer> }).answers;

const SPEAKERS = ["Priya", "John", "Marco", "the helpdesk", "the team"];
const TOPICS = [
  "the release checklist",
  "the database migration",
  "the maintenance window",
  "the support rota",
  "the staging deploy",
  "the memory leak",
  "the image resizer",
  "the thumbnail cache",
  "the LRU limit",
  "the launch date",
  "the changelog",
];

describe("embedding batcher", () => {
  let tenant: { tenant: string; key: string };
  const conv = uid("batch");
  let s: Awaited<ReturnType<typeof scenario>>;

  beforeAll(async () => {
    s = await scenario({}, embeddingVars);
    tenant = await newTenantKey("batch");
    const { res } = await callWith(s.vars, "POST", "/api/conversations", launchConversation(conv), tenant.key);
    expect(res.status).toBe(201);
  });

  it("sends 50 concurrent asks with distinct questions to the provider in one embedding call", async () => {
    // Arrival is controlled, not timed: the batch waits (up to a minute) until all 50 questions
    // are in, so how the machine schedules the requests cannot split it. How batches form under
    // real timing (the 10 ms window) is measured by npm run bench:durable.
    const vars = { ...s.vars, EMBEDDING_BATCH_WINDOW_MS: "60000", EMBEDDING_BATCH_MAX_REQUESTS: "50" };
    const questions = SPEAKERS.flatMap((who) => TOPICS.map((topic) => `What did ${who} say about ${topic}?`)).slice(0, 50);
    expect(new Set(questions).size).toBe(50);
    const before = embeddingCalls(await s.calls()).length;
    const batches = counters.get("rag_embedding_batches_total");
    const fallbacks = counters.get("rag_fallbacks_total", { kind: "durable_embedding_batcher" });
    const results = await Promise.all(
      questions.map(async (query) => {
        const { res, settled } = await callWith(vars, "POST", "/api/rag/ask", { query, conversation_id: conv }, tenant.key);
        const body = await readAll(res);
        await settled();
        return { status: res.status, ...body };
      }),
    );
    for (const r of results) {
      expect(r.status).toBe(200);
      expect(r.last!.event).toBe("done");
      expect((r.meta!.sources as unknown[]).length).toBeGreaterThan(0);
    }
    const calls = embeddingCalls(await s.calls()).slice(before);
    expect(calls).toHaveLength(1);
    // Each ask's texts (its question and the multi-query variants retrieval will search) in that one call.
    const inputs = new Set(calls[0]!.body.input as string[]);
    for (const q of questions) expect(inputs.has(q), q).toBe(true);
    // Identical texts in a batch are sent once.
    for (const c of calls) expect(new Set(c.body.input).size).toBe((c.body.input as string[]).length);
    expect(counters.get("rag_embedding_batches_total") - batches).toBeGreaterThanOrEqual(calls.length);
    expect(counters.get("rag_fallbacks_total", { kind: "durable_embedding_batcher" })).toBe(fallbacks);
  });

  it("gives every caller exactly its own vectors, texts repeated across callers embedded once", async () => {
    const t = await scenario();
    // The batch is sent when the fourth request arrives (the window is longer than any test): however
    // the machine schedules the four calls, they are one batch.
    const config = parseConfig({ ...embeddingVars, ...t.vars, EMBEDDING_BATCH_WINDOW_MS: "60000", EMBEDDING_BATCH_MAX_REQUESTS: "4" });
    const own = uid("own");
    const stub = env.EMBEDDING_BATCHER.getByName(`tenant:${own}:embed:x:0`);
    const settings = {
      tenantId: own,
      config: { embedding: config.embedding, openai: config.openai, workersAi: config.workersAi, durable: config.durable },
    };
    const asks = [["alpha", "beta"], ["beta"], ["gamma", "alpha", "gamma"], []].map((texts) => stub.embed(texts, settings));
    const results = await Promise.all(asks);
    const expected = (text: string) => fakeEmbedding(text, 384).map((x) => Math.fround(x));
    const inputs = [["alpha", "beta"], ["beta"], ["gamma", "alpha", "gamma"], []];
    results.forEach((r, i) => {
      expect("vectors" in r).toBe(true);
      const vectors = (r as { vectors: Float32Array[] }).vectors;
      expect(vectors.map((v) => [...v])).toEqual(inputs[i]!.map(expected));
    });
    const calls = embeddingCalls(await t.calls());
    expect(calls).toHaveLength(1);
    expect([...(calls[0]!.body.input as string[])].sort()).toEqual(["alpha", "beta", "gamma"]);
  });

  it("reports a provider failure to every caller of the batch without a second call", async () => {
    const t = await scenario();
    await fetch(t.vars.OPENAI_BASE_URL.replace(/\/v1$/, "/_control"), {
      method: "POST",
      body: JSON.stringify({ failAfter: 0, failStatus: 503 }),
    });
    // No SDK retries: this is about the batcher not calling again on its own.
    // One batch of both requests whatever the scheduling: it is sent when the second arrives.
    const config = parseConfig({
      ...embeddingVars,
      ...t.vars,
      EMBEDDING_MAX_RETRIES: "0",
      EMBEDDING_BATCH_WINDOW_MS: "60000",
      EMBEDDING_BATCH_MAX_REQUESTS: "2",
    });
    const failing = uid("fail");
    const stub = env.EMBEDDING_BATCHER.getByName(`tenant:${failing}:embed:x:0`);
    const settings = {
      tenantId: failing,
      config: { embedding: config.embedding, openai: config.openai, workersAi: config.workersAi, durable: config.durable },
    };
    const results = await Promise.all([stub.embed(["one"], settings), stub.embed(["two"], settings)]);
    for (const r of results) expect(r).toEqual({ error: expect.stringContaining("503") });
    expect(embeddingCalls(await t.calls())).toHaveLength(1);
  });

  it("leaves no caller hanging when the object is aborted mid-batch: they embed directly, and it is counted", async () => {
    // A slow provider (3 s a call), so the abort surely lands while the batch is with it.
    const t = await scenario({ embeddingDelayMs: 3000 }, embeddingVars);
    const { tenant: id, key } = await newTenantKey("abort");
    const ingest = await callWith({ ...t.vars, EMBEDDING_BATCHING: "false" }, "POST", "/api/conversations", launchConversation(conv), key);
    expect(ingest.res.status).toBe(201);
    const fallbacks = counters.get("rag_fallbacks_total", { kind: "durable_embedding_batcher" });
    // The ingest's own (direct) embedding calls are not the batch: wait for a call after them.
    const ingestCalls = embeddingCalls(await t.calls()).length;
    const questions = ["Who takes the Saturday support shift?", "Why was the staging deploy rolled back?", "When is the launch?"];
    const asks = questions.map(async (query) => {
      const { res, settled } = await callWith(t.vars, "POST", "/api/rag/ask", { query, conversation_id: conv, cache: false }, key);
      const body = await readAll(res);
      await settled();
      return { status: res.status, ...body };
    });
    const stub = env.EMBEDDING_BATCHER.getByName(batcherName(id, parseConfig({ ...embeddingVars, ...t.vars })));
    // The batch is with the (slow) provider: abort the object under it.
    expect(await waitFor(async () => embeddingCalls(await t.calls()).length > ingestCalls, 20_000)).toBe(true);
    await runInDurableObject(stub, (_instance: EmbeddingBatcher, state) => state.abort("test: reset mid-batch")).catch(() => {});
    const results = await within(30_000, Promise.all(asks));
    for (const r of results) {
      expect(r.status).toBe(200);
      expect(r.last!.event).toBe("done");
    }
    expect(counters.get("rag_fallbacks_total", { kind: "durable_embedding_batcher" }) - fallbacks).toBeGreaterThanOrEqual(1);
  }, 90_000);
});

describe("ask coalescer", () => {
  let tenant: { tenant: string; key: string };
  const conv = uid("coalesce");

  beforeAll(async () => {
    tenant = await tenantWithLaunch("coalesce", conv);
  });

  it("answers 20 concurrent identical asks with one chat completion and 20 identical streams, cached once", async () => {
    const s = await scenario(
      {
        chat: {
          text: "The launch stays on June 2 if the fix ships by Friday [1].",
          firstTokenDelayMs: 300,
          tokenDelayMs: 20,
          wordsPerPiece: 2,
        },
      },
      chatVars,
    );
    const query = "When is the launch date and what could delay the launch?";
    const coalesced = counters.get("rag_coalesced_requests_total");
    const results = await Promise.all(
      Array.from({ length: 20 }, async () => {
        const { res, settled } = await callWith(s.vars, "POST", "/api/rag/ask", { query, conversation_id: conv }, tenant.key);
        const body = await readAll(res);
        await settled();
        return { status: res.status, role: res.headers.get("x-coalesced"), cache: res.headers.get("x-cache"), ...body };
      }),
    );
    expect(chatCalls(await s.calls())).toHaveLength(1);
    expect(results.map((r) => r.status)).toEqual(Array(20).fill(200));
    expect(results.filter((r) => r.role === "leader")).toHaveLength(1);
    expect(results.filter((r) => r.role === "follower")).toHaveLength(19);
    expect(counters.get("rag_coalesced_requests_total") - coalesced).toBe(19);
    const [first] = results;
    expect(first!.answer).toBe("The launch stays on June 2 if the fix ships by Friday [1].");
    for (const r of results) {
      expect(r.cache).toBe("MISS");
      expect(r.events.map((e) => e.event)).toEqual(first!.events.map((e) => e.event));
      expect(r.answer).toBe(first!.answer);
      expect(withoutRequest(r.meta)).toEqual(withoutRequest(first!.meta));
      expect(r.last).toEqual(first!.last);
    }
    expect(first!.last!.data).toMatchObject({ fallback: false });
    // Cached once: one semantic-cache row, and the next identical ask is a hit without a model call.
    const rows = await sql`SELECT count(*)::int AS n FROM semantic_cache WHERE tenant_id = ${tenant.tenant} AND question = ${query}`;
    expect(rows[0]!.n).toBe(1);
    const again = await callWith(s.vars, "POST", "/api/rag/ask", { query, conversation_id: conv }, tenant.key);
    const replay = await readAll(again.res);
    await again.settled();
    expect(again.res.headers.get("x-cache")).toMatch(/^HIT/);
    expect(replay.answer).toBe(first!.answer);
    expect(chatCalls(await s.calls())).toHaveLength(1);
  });

  it("gives a late joiner what was already sent, then the live tokens", async () => {
    const text = `${Array.from({ length: 30 }, (_, i) => `w${i}`).join(" ")} [1].`;
    const s = await scenario({ chat: { text, tokenDelayMs: 40, wordsPerPiece: 1 } }, chatVars);
    const query = "What did Priya say about the maintenance window?";
    const early = await callWith(s.vars, "POST", "/api/rag/ask", { query, conversation_id: conv }, tenant.key);
    const reader = sseReader(early.res);
    const seen: string[] = [];
    expect((await reader.next())!.event).toBe("meta");
    for (let i = 0; i < 5; i++) seen.push((JSON.parse((await reader.next())!.data) as { text: string }).text);
    const late = await callWith(s.vars, "POST", "/api/rag/ask", { query, conversation_id: conv }, tenant.key);
    expect(late.res.headers.get("x-coalesced")).toBe("follower");
    const lateBody = readAll(late.res);
    for (let e = await reader.next(); e; e = await reader.next())
      if (e.event === "delta") seen.push((JSON.parse(e.data) as { text: string }).text);
    const got = await lateBody;
    await Promise.all([early.settled(), late.settled()]);
    expect(seen.join("")).toBe(text);
    expect(got.answer).toBe(text);
    expect(got.last!.event).toBe("done");
    expect(chatCalls(await s.calls())).toHaveLength(1);
  });

  it("stops the shared generation only when every client has gone", async () => {
    const s = await scenario(
      { chat: { text: Array.from({ length: 80 }, (_, i) => `w${i}`).join(" "), tokenDelayMs: 50, wordsPerPiece: 1 } },
      chatVars,
    );
    const query = "What did John say about the changelog?";
    const a = await callWith(s.vars, "POST", "/api/rag/ask", { query, conversation_id: conv }, tenant.key);
    const ra = sseReader(a.res);
    expect((await ra.next())!.event).toBe("meta");
    const b = await callWith(s.vars, "POST", "/api/rag/ask", { query, conversation_id: conv }, tenant.key);
    const rb = sseReader(b.res);
    expect((await rb.next())!.event).toBe("meta");
    await ra.cancel();
    // One client is still listening: the generation goes on and it keeps receiving text.
    expect((await rb.next())!.event).toBe("delta");
    expect((await rb.next())!.event).toBe("delta");
    expect((await s.calls())[0]!.aborted).not.toBe(true);
    await rb.cancel();
    expect(await waitFor(async () => chatCalls(await s.calls())[0]?.aborted === true)).toBe(true);
    await Promise.all([a.settled(), b.settled()]);
  });

  it("stops the shared generation when its only client hangs up while the model pauses, without waiting for a write", async () => {
    // The first words at once, the rest after ten minutes: nothing is written to the client after it leaves.
    const s = await scenario(
      { chat: { text: "First words, then a very long pause [1].", tokenDelayMs: 600_000, wordsPerPiece: 2 } },
      chatVars,
    );
    const a = await callWith(
      s.vars,
      "POST",
      "/api/rag/ask",
      { query: "What did John say about the changelog before the pause?", conversation_id: conv },
      tenant.key,
    );
    const reader = sseReader(a.res);
    expect((await reader.next())!.event).toBe("meta");
    expect((await reader.next())!.event).toBe("delta");
    await reader.cancel();
    // Well inside the 30 s idle timeout, which would otherwise be what ends it.
    expect(await waitFor(async () => chatCalls(await s.calls())[0]?.aborted === true)).toBe(true);
    await a.settled();
  });

  it("leaves no client hanging when the object is aborted mid-stream: each gets an error event", async () => {
    const s = await scenario(
      { chat: { text: Array.from({ length: 80 }, (_, i) => `w${i}`).join(" "), tokenDelayMs: 50, wordsPerPiece: 1 } },
      chatVars,
    );
    const query = "What did Marco say about the LRU limit?";
    const calls = await Promise.all(
      [0, 1, 2].map(() => callWith(s.vars, "POST", "/api/rag/ask", { query, conversation_id: conv }, tenant.key)),
    );
    const readers = calls.map((c) => sseReader(c.res));
    for (const r of readers) expect((await r.next())!.event).toBe("meta");
    // The object streaming this answer (the test does not name it: its shard comes from the cache key's hash).
    let aborted = 0;
    for (const id of await listDurableObjectIds(env.ASK_COALESCER)) {
      const stub = env.ASK_COALESCER.get(id);
      const ours = await runInDurableObject(stub, (instance: AskCoalescer) =>
        [...heldAnswers(instance).values()].some((answer) => answer.records[0]?.meta?.query?.text === query),
      );
      if (!ours) continue;
      await runInDurableObject(stub, (_i: AskCoalescer, state) => state.abort("test: reset mid-stream")).catch(() => {});
      aborted++;
    }
    expect(aborted).toBeGreaterThanOrEqual(1);
    const ends = await within(
      15_000,
      Promise.all(
        readers.map(async (r) => {
          let last: Awaited<ReturnType<typeof r.next>>;
          for (let e = await r.next(); e; e = await r.next()) last = e;
          return last;
        }),
      ),
    );
    for (const last of ends) {
      expect(last!.event).toBe("error");
      expect(JSON.parse(last!.data)).toMatchObject({ status: 503, type: "urn:convo-rag:problem:answer-unavailable" });
    }
    await Promise.all(calls.map((c) => c.settled()));
  });

  it("releases followers with a clear error when the leader never hands over, and a second watchdog run does no harm; it stores nothing", async () => {
    const stub = env.ASK_COALESCER.getByName(`tenant:${uid("lease")}:ask-shard:0`);
    // The answer's entry, kept to run its watchdog again once the object has dropped it.
    let answer: HeldAnswer | undefined;
    const watchdog = () => runInDurableObject(stub, () => answer!.watchdog());
    const lead = (await stub.join("k", { prepareTimeoutMs: 60_000 })) as { role: string; token: string };
    expect(lead.role).toBe("leader");
    const follower = (await stub.join("k", { prepareTimeoutMs: 60_000 })) as { role: string; stream: ReadableStream<Uint8Array> };
    expect(follower.role).toBe("follower");
    // Another answer in the same object is independent of this one.
    const other = (await stub.join("other", { prepareTimeoutMs: 60_000 })) as { role: string; token: string };
    expect(other.role).toBe("leader");
    await runInDurableObject(stub, (instance: AskCoalescer) => {
      answer = heldAnswers(instance).get("k");
    });
    expect(answer!.phase.kind).toBe("preparing");
    // A one-off question must not cost storage: no alarm, no rows (the watchdog is a timer in memory).
    expect(
      await runInDurableObject(stub, async (_i: AskCoalescer, state) => ({
        alarm: await state.storage.getAlarm(),
        keys: (await state.storage.list()).size,
      })),
    ).toEqual({ alarm: null, keys: 0 });
    const records = streamRecords(follower.stream);
    // The lease has not expired yet: the watchdog changes nothing.
    await watchdog();
    await runInDurableObject(stub, () => {
      answer!.phase.deadline = Date.now() - 1;
    });
    await watchdog();
    const record = await records.next(2_000);
    expect(record).toMatchObject({ type: "error", problem: { status: 503, code: "answer-unavailable" } });
    expect(await records.next(2_000)).toBeUndefined();
    // Idle again: the object forgets the answer; the other one is still in preparation.
    expect(await runInDurableObject(stub, (instance: AskCoalescer) => [...heldAnswers(instance).keys()])).toEqual(["other"]);
    // Run again (a timer of an earlier phase): nothing to do, nothing breaks; the next ask leads afresh.
    await watchdog();
    const next = (await stub.join("k", { prepareTimeoutMs: 60_000 })) as { role: string };
    expect(next.role).toBe("leader");
  });

  it("tells followers the leader's problem when preparation fails", async () => {
    const stub = env.ASK_COALESCER.getByName(`tenant:${uid("fail")}:ask-shard:0`);
    const lead = (await stub.join("k", { prepareTimeoutMs: 60_000 })) as { role: string; token: string };
    const follower = (await stub.join("k", { prepareTimeoutMs: 60_000 })) as { stream: ReadableStream<Uint8Array> };
    await stub.fail("k", "not-the-token", { status: 503, code: "x", detail: "ignored", headers: {} });
    await stub.fail("other", lead.token, { status: 503, code: "x", detail: "ignored", headers: {} });
    await stub.fail("k", lead.token, {
      status: 503,
      code: "retrieval-unavailable",
      detail: "every strategy failed",
      headers: { "retry-after": "5" },
    });
    const record = await streamRecords(follower.stream).next(2_000);
    expect(record).toMatchObject({
      type: "error",
      problem: { status: 503, code: "retrieval-unavailable", headers: { "retry-after": "5" } },
    });
    expect(await runInDurableObject(stub, (instance: AskCoalescer) => heldAnswers(instance).size)).toBe(0);
  });

  it("spreads a tenant's different questions over at most ASK_COALESCER_SHARDS objects, each answer its own", async () => {
    const shardConv = uid("shards");
    const own = await tenantWithLaunch("shards", shardConv);
    const s = await scenario(
      { chat: { text: "Noted in the thread [1].", firstTokenDelayMs: 200, tokenDelayMs: 10, wordsPerPiece: 1 } },
      { ...chatVars, ASK_COALESCER_SHARDS: "4", ASK_COALESCE_GRACE_MS: "300", SEMANTIC_CACHE_ENABLED: "false" },
    );
    const queries = Array.from(
      { length: 40 },
      (_, i) => `What did ${SPEAKERS[i % SPEAKERS.length]} say about ${TOPICS[i % TOPICS.length]}?`,
    );
    expect(new Set(queries).size).toBe(40);
    const before = new Set((await listDurableObjectIds(env.ASK_COALESCER)).map((id) => id.toString()));
    const results = await Promise.all(
      queries.map(async (query) => {
        const { res, settled } = await callWith(s.vars, "POST", "/api/rag/ask", { query, conversation_id: shardConv }, own.key);
        const body = await readAll(res);
        await settled();
        return { query, status: res.status, role: res.headers.get("x-coalesced"), cache: res.headers.get("x-cache"), ...body };
      }),
    );
    for (const r of results) {
      expect(r.status).toBe(200);
      expect(r.cache).toBe("MISS");
      expect(r.role).toBe("leader");
      expect((r.meta as { query?: { text?: string } }).query?.text).toBe(r.query);
      expect(r.answer).toBe("Noted in the thread [1].");
      expect(r.last!.event).toBe("done");
    }
    expect(chatCalls(await s.calls())).toHaveLength(40);
    const created = (await listDurableObjectIds(env.ASK_COALESCER)).filter((id) => !before.has(id.toString()));
    expect(created.length).toBeGreaterThanOrEqual(1);
    expect(created.length).toBeLessThanOrEqual(4);
    // Once the grace period has passed, every object has dropped its answers.
    expect(
      await waitFor(async () => {
        for (const id of created) {
          if ((await runInDurableObject(env.ASK_COALESCER.get(id), (instance: AskCoalescer) => heldAnswers(instance).size)) > 0)
            return false;
        }
        return true;
      }),
    ).toBe(true);
  });
});

describe("rate budget", () => {
  let tenant: { tenant: string; key: string };
  const conv = uid("budget");

  beforeAll(async () => {
    tenant = await tenantWithLaunch("budget", conv);
  });

  // 2 requests a minute at an 80 % share: the bucket holds 1.6 requests, so the second ask is over.
  const limited = { CHAT_RATE_LIMIT_RPM: "2", CHAT_RATE_LIMIT_TPM: "0", CACHE_ENABLED: "false" };

  it("refuses with 429 and Retry-After once the budget is spent, under the reject policy", async () => {
    const s = await scenario({ chat: { text: "June 2 [1]." } }, { ...chatVars, ...limited, CHAT_RATE_POLICY: "reject" });
    const rejections = counters.get("rag_rate_budget_rejections_total", { provider: "openai", call: "answer", policy: "reject" });
    const ok = await callWith(
      s.vars,
      "POST",
      "/api/rag/ask",
      { query: "When is the launch?", conversation_id: conv, stream: false },
      tenant.key,
    );
    expect(ok.res.status).toBe(200);
    await ok.settled();
    const over = await callWith(
      s.vars,
      "POST",
      "/api/rag/ask",
      { query: "Who takes the Saturday shift?", conversation_id: conv, stream: false },
      tenant.key,
    );
    expect(over.res.status).toBe(429);
    expect(over.res.headers.get("content-type")).toBe("application/problem+json");
    const retryAfter = Number(over.res.headers.get("retry-after"));
    // 0.6 of a request is left; refilling the missing 0.4 at 1.6 a minute takes 15 s.
    expect(retryAfter).toBeGreaterThanOrEqual(14);
    expect(retryAfter).toBeLessThanOrEqual(16);
    expect(await over.res.json()).toMatchObject({ status: 429, type: "urn:convo-rag:problem:rate-budget-exceeded" });
    expect(chatCalls(await s.calls())).toHaveLength(1);
    expect(counters.get("rag_rate_budget_rejections_total", { provider: "openai", call: "answer", policy: "reject" }) - rejections).toBe(1);
  });

  it("answers with the extractive fallback once the budget is spent, under the fallback policy", async () => {
    const s = await scenario({ chat: { text: "June 2 [1]." } }, { ...chatVars, ...limited, CHAT_RATE_POLICY: "fallback" });
    const first = await callWith(
      s.vars,
      "POST",
      "/api/rag/ask",
      { query: "When is the launch?", conversation_id: conv, stream: false },
      tenant.key,
    );
    expect(await first.res.json()).toMatchObject({ fallback: false, answer: "June 2 [1]." });
    const second = await callWith(
      s.vars,
      "POST",
      "/api/rag/ask",
      { query: "When is the launch?", conversation_id: conv, stream: false },
      tenant.key,
    );
    expect(second.res.status).toBe(200);
    const body = (await second.res.json()) as { fallback: boolean; fallback_reason: string; answer: string };
    expect(body).toMatchObject({ fallback: true, fallback_reason: "rate_budget" });
    expect(body.answer).toContain("June 2");
    expect(chatCalls(await s.calls())).toHaveLength(1);
  });

  it("keeps what was spent across an eviction, and its idle alarm is harmless however often it fires", async () => {
    const stub = env.RATE_BUDGET.getByName(`provider:chat:${uid("evict")}`);
    const limits = { requestsPerMinute: 0, tokensPerMinute: 1000, share: 0.8 };
    expect(await stub.acquire(limits, { requests: 1, tokens: 700 })).toEqual({ granted: true, retryAfterMs: 0 });
    await evictDurableObject(stub);
    const after = await stub.acquire(limits, { requests: 1, tokens: 700 });
    expect(after.granted).toBe(false);
    expect(after.retryAfterMs).toBeGreaterThan(30_000);
    await runDurableObjectAlarm(stub);
    await runDurableObjectAlarm(stub);
    expect((await stub.levels())!.tokens).toBeLessThan(200);
    await stub.refund(limits, 600);
    expect(await stub.acquire(limits, { requests: 1, tokens: 700 })).toMatchObject({ granted: true });
  });
});
