import { beforeAll, describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "../../src/config";
import { counters } from "../../src/observability/counters";
import { ChatError, type ChatRequest } from "../../src/providers/chat-model";
import { EmbeddingError } from "../../src/providers/embedder";
import { createChatModels, createEmbedder } from "../../src/providers/index";
import { tokenizerForModel } from "../../src/tokens/tokenizer";
import { api, newTenantKey, uid } from "./support/api";
import { tenantWithLaunch } from "./support/fixtures";
import { callWith, parseSse } from "./support/sse";
import { waitFor } from "./support/wait";
import { CHAT_MODEL, FAILURES, standInEmbedding, WorkersAiStandIn } from "./support/workers-ai-standin";

const embedderWith = (standIn: WorkersAiStandIn, vars: Record<string, string> = {}) =>
  createEmbedder(parseConfig({ EMBEDDING_PROVIDER: "workers-ai", EMBEDDING_MAX_RETRIES: "0", ...vars }), { AI: standIn.binding });

const chatWith = (standIn: WorkersAiStandIn, vars: Record<string, string> = {}) =>
  createChatModels(parseConfig({ CHAT_PROVIDER: "workers-ai", ...vars }), () => tokenizerForModel(CHAT_MODEL), { AI: standIn.binding });

const request = (maxTokens = 256): ChatRequest => ({
  messages: [
    { role: "system", content: "Answer from the excerpts." },
    { role: "user", content: "When is the launch?" },
  ],
  question: "When is the launch?",
  sources: [],
  model: CHAT_MODEL,
  temperature: 0.3,
  maxTokens,
});

/** Everything a stream yields, and how it finished. */
async function drain(stream: AsyncGenerator<string, unknown>) {
  const pieces: string[] = [];
  for (;;) {
    const step = await stream.next();
    if (step.done) return { pieces, finish: step.value };
    pieces.push(step.value);
  }
}

describe("workers-ai embedder (stand-in for the AI binding)", () => {
  it("embeds in calls of at most EMBEDDING_BATCH_SIZE texts, in order, through the gateway with its cache skipped", async () => {
    const standIn = new WorkersAiStandIn();
    const embedder = embedderWith(standIn, { EMBEDDING_BATCH_SIZE: "2", AI_GATEWAY_ID: "rag-gw" });
    const texts = ["the launch moved", "billing migration", "feature freeze"];
    const vectors = await embedder.embed(texts);
    expect(embedder.model).toBe("@cf/baai/bge-small-en-v1.5");
    expect(vectors.map((v) => [...v])).toEqual(texts.map((t) => standInEmbedding(t, 384).map(Math.fround)));
    expect(standIn.calls.map((c) => c.inputs)).toEqual([{ text: texts.slice(0, 2) }, { text: texts.slice(2) }]);
    for (const call of standIn.calls) expect(call).toMatchObject({ gateway: { id: "rag-gw", skipCache: true }, signal: true });
  });

  it("sends no gateway option without AI_GATEWAY_ID, and the gateway's cache with its TTL only when AI_GATEWAY_CACHE=on", async () => {
    const direct = new WorkersAiStandIn();
    await embedderWith(direct).embed(["x"]);
    expect(direct.calls[0]!.gateway).toBeUndefined();
    const cached = new WorkersAiStandIn();
    await embedderWith(cached, { AI_GATEWAY_ID: "gw", AI_GATEWAY_CACHE: "on", AI_GATEWAY_CACHE_TTL_SECONDS: "600" }).embed(["x"]);
    expect(cached.calls[0]!.gateway).toEqual({ id: "gw", skipCache: false, cacheTtl: 600 });
  });

  it("takes bge-base at 768 dimensions, and refuses its vectors when EMBEDDING_DIMENSIONS says 384", async () => {
    const base = { EMBEDDING_MODEL: "@cf/baai/bge-base-en-v1.5" };
    const [v] = await embedderWith(new WorkersAiStandIn(), { ...base, EMBEDDING_DIMENSIONS: "768" }).embed(["hello"]);
    expect(v).toHaveLength(768);
    const wrong = embedderWith(new WorkersAiStandIn(), { ...base, EMBEDDING_DIMENSIONS: "384" }).embed(["hello"]);
    await expect(wrong).rejects.toThrow(EmbeddingError);
    await expect(wrong).rejects.toThrow(/returned 768 dimensions, expected 384: set EMBEDDING_DIMENSIONS/);
  });

  it("retries a capacity error (3040) up to EMBEDDING_MAX_RETRIES, and never a request the binding refused (3006)", async () => {
    const busy = new WorkersAiStandIn({}, { fail: FAILURES.capacity, failTimes: 1 });
    expect(await embedderWith(busy, { EMBEDDING_MAX_RETRIES: "1" }).embed(["x"])).toHaveLength(1);
    expect(busy.calls).toHaveLength(2);
    const tooLarge = new WorkersAiStandIn({}, { fail: FAILURES.tooLarge });
    await expect(embedderWith(tooLarge, { EMBEDDING_MAX_RETRIES: "2" }).embed(["x"])).rejects.toThrow(
      /embedding provider call failed: 3006: Request is too large/,
    );
    expect(tooLarge.calls).toHaveLength(1);
  });

  it("refuses an async-queue answer (a request id instead of vectors)", async () => {
    await expect(embedderWith(new WorkersAiStandIn({}, { queued: true })).embed(["x"])).rejects.toThrow(/no vectors \(a queued request/);
  });

  it("without the AI binding, fails with a ConfigError that says how to declare it", () => {
    const config = parseConfig({ EMBEDDING_PROVIDER: "workers-ai", CHAT_PROVIDER: "workers-ai" });
    expect(() => createEmbedder(config, {})).toThrow(ConfigError);
    expect(() => createEmbedder(config, {})).toThrow('EMBEDDING_PROVIDER=workers-ai needs the Workers AI binding: add [ai] binding = "AI"');
    expect(() => createChatModels(config, () => tokenizerForModel("x"), {})).toThrow(
      "CHAT_PROVIDER=workers-ai needs the Workers AI binding",
    );
  });
});

describe("workers-ai chat (stand-in for the AI binding)", () => {
  it("streams the model's pieces with model, messages, max_tokens and temperature, and returns the usage of the last event", async () => {
    const standIn = new WorkersAiStandIn({ text: "The launch stays on June 2 [1].", wordsPerPiece: 2 });
    const { primary, breaker } = chatWith(standIn, { AI_GATEWAY_ID: "gw-chat" });
    expect(primary.provider).toBe("workers-ai");
    expect(breaker).toBeDefined();
    const { pieces, finish } = await drain(primary.stream(request(), new AbortController().signal));
    expect(pieces).toEqual(["The launch ", "stays on ", "June 2 ", "[1]."]);
    const [call] = standIn.calls;
    expect(call).toMatchObject({
      model: CHAT_MODEL,
      inputs: { messages: request().messages, max_tokens: 256, temperature: 0.3, stream: true },
      gateway: { id: "gw-chat", skipCache: true },
      signal: true,
      finished: true,
    });
    const promptTokens = request().messages.reduce((n, m) => n + Math.ceil(m.content.length / 4), 0);
    expect(finish).toEqual({ finishReason: "stop", usage: { promptTokens, completionTokens: 4 } });
  });

  it("says the answer was cut at max_tokens, and reports no usage when the stream has none", async () => {
    const standIn = new WorkersAiStandIn({ text: "one two three four", wordsPerPiece: 1 });
    expect((await drain(chatWith(standIn).primary.stream(request(4), new AbortController().signal))).finish).toMatchObject({
      finishReason: "length",
    });
    const silent = new WorkersAiStandIn({ text: "one two", usage: false });
    expect((await drain(chatWith(silent).primary.stream(request(), new AbortController().signal))).finish).toEqual({
      finishReason: "stop",
    });
  });

  it("stops the stream when the signal aborts", async () => {
    const standIn = new WorkersAiStandIn({
      text: Array.from({ length: 40 }, (_, i) => `word${i} `).join(""),
      wordsPerPiece: 1,
      pieceDelayMs: 50,
    });
    const abort = new AbortController();
    const stream = chatWith(standIn).primary.stream(request(), abort.signal);
    expect((await stream.next()).value).toBe("word0 ");
    abort.abort(new Error("client left"));
    await expect(stream.next()).rejects.toThrow(/client left/);
    expect(standIn.calls[0]).toMatchObject({ cancelled: true });
    expect(standIn.calls[0]!.finished).toBeUndefined();
  });

  it("maps the binding's errors to ChatError with the documented status: 3040 out of capacity is a 429", async () => {
    const busy = chatWith(new WorkersAiStandIn({ fail: FAILURES.capacity })).primary.stream(request(), new AbortController().signal);
    const err = await busy.next().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ChatError);
    expect(err).toMatchObject({
      status: 429,
      message: "chat provider call failed: 3040: Capacity temporarily exceeded, please try again.",
    });
    const timeout = await chatWith(new WorkersAiStandIn({ fail: FAILURES.timeout }))
      .primary.stream(request(), new AbortController().signal)
      .next()
      .catch((e: unknown) => e);
    expect(timeout).toMatchObject({ status: 408 });
  });

  it("fails a stream that breaks before [DONE] (an incomplete answer is not a finished one)", async () => {
    const standIn = new WorkersAiStandIn({ text: "one two three four five six", wordsPerPiece: 1, breakAfterPieces: 2 });
    const stream = chatWith(standIn).primary.stream(request(), new AbortController().signal);
    await expect(drain(stream)).rejects.toThrow(ChatError);
  });

  it("completes a helper prompt without streaming", async () => {
    const standIn = new WorkersAiStandIn({ completion: "  Why was the deploy rolled back?  " });
    const text = await chatWith(standIn).primary.complete!(request().messages, {
      model: CHAT_MODEL,
      maxTokens: 64,
      signal: new AbortController().signal,
    });
    expect(text).toBe("Why was the deploy rolled back?");
    expect(standIn.calls[0]!.inputs).toEqual({ messages: request().messages, max_tokens: 64, temperature: 0 });
  });
});

describe("asks and ingests through the app with workers-ai", () => {
  let tenant: { key: string; tenant: string };
  const conv = uid("wai");

  beforeAll(async () => {
    tenant = await tenantWithLaunch("wai", conv);
  });

  /** Variables of an ask through Workers AI, with a gateway of its own (so its breaker and budget are its own). */
  const vars = (extra: Record<string, string> = {}) => ({
    CHAT_PROVIDER: "workers-ai",
    AI_GATEWAY_ID: uid("gw"),
    // Caching is tested on its own; here every ask must reach the provider.
    CACHE_ENABLED: "false",
    ASK_COALESCE: "false",
    ...extra,
  });

  async function ask(v: Record<string, string>, standIn: WorkersAiStandIn, body: Record<string, unknown> = {}) {
    const { res, settled } = await callWith(
      v,
      "POST",
      "/api/rag/ask",
      { query: "When is the launch?", conversation_id: conv, ...body },
      tenant.key,
      { AI: standIn.binding },
    );
    const text = await res.text();
    await settled();
    expect(res.status).toBe(200);
    const events = res.headers.get("content-type")?.startsWith("text/event-stream") ? parseSse(text) : [];
    return { text, events, deltas: events.filter((e) => e.event === "delta").map((e) => (JSON.parse(e.data) as { text: string }).text) };
  }

  it("streams the answer from the binding, counts its tokens and labels its metrics provider=workers-ai", async () => {
    const answer = "The launch stays on June 2 if the fix ships by Friday [1].";
    const standIn = new WorkersAiStandIn({ text: answer, wordsPerPiece: 3 });
    // The stand-in counts one completion token a piece.
    const pieces = Math.ceil(answer.split(" ").length / 3);
    const v = vars();
    const calls = counters.get("rag_llm_calls_total", { provider: "workers-ai" });
    const output = counters.get("rag_tokens_used_total", { model: CHAT_MODEL, type: "output" });
    const { events, deltas } = await ask(v, standIn);
    expect(JSON.parse(events[0]!.data)).toMatchObject({ provider: "workers-ai", model: CHAT_MODEL });
    expect(deltas.join("")).toBe(answer);
    const done = JSON.parse(events.at(-1)!.data) as { fallback: boolean; usage: { prompt_tokens: number; completion_tokens: number } };
    expect(events.at(-1)!.event).toBe("done");
    expect(done.fallback).toBe(false);
    // The usage is the stand-in's (its last event): a prompt of its size and one token a piece.
    const answerCall = standIn.calls.find((c) => c.inputs.stream === true)!;
    const messages = answerCall.inputs.messages as { content: string }[];
    expect(done.usage.prompt_tokens).toBe(messages.reduce((n, m) => n + Math.ceil(m.content.length / 4), 0));
    expect(done.usage.completion_tokens).toBe(pieces);
    expect(counters.get("rag_llm_calls_total", { provider: "workers-ai" }) - calls).toBe(1);
    expect(counters.get("rag_tokens_used_total", { model: CHAT_MODEL, type: "output" }) - output).toBe(pieces);
    expect(answerCall.gateway).toEqual({ id: v.AI_GATEWAY_ID, skipCache: true });
  });

  it("falls back to the extractive answer when no first token comes in time, and cancels the binding's stream", async () => {
    const standIn = new WorkersAiStandIn({ text: "never sent", hang: "first-token" });
    const { text } = await ask(vars({ CHAT_FIRST_TOKEN_TIMEOUT_MS: "300" }), standIn, { stream: false });
    expect(JSON.parse(text)).toMatchObject({ fallback: true, fallback_reason: "first_token_timeout" });
    expect(JSON.parse(text).answer).toContain("June 2");
    expect(await waitFor(async () => standIn.calls.every((c) => c.cancelled === true))).toBe(true);
  });

  it("ends with an error event when the stream goes silent for CHAT_IDLE_TIMEOUT_MS, and cancels it", async () => {
    const standIn = new WorkersAiStandIn({ text: "One two three four five six [1].", wordsPerPiece: 2, pieceDelayMs: 20_000 });
    const { events } = await ask(vars({ CHAT_IDLE_TIMEOUT_MS: "300" }), standIn);
    expect(events.some((e) => e.event === "delta")).toBe(true);
    expect(events.at(-1)!.event).toBe("error");
    expect(await waitFor(async () => standIn.calls.every((c) => c.cancelled === true))).toBe(true);
  });

  it("answers from the fallback on a capacity error (3040 → 429), and opens the breaker after CHAT_BREAKER_FAILURES", async () => {
    const standIn = new WorkersAiStandIn({ fail: FAILURES.capacity });
    const v = vars({ CHAT_BREAKER_FAILURES: "2", CHAT_BREAKER_COOLDOWN_MS: "60000" });
    const body = { stream: false };
    for (let i = 0; i < 2; i++)
      expect(JSON.parse((await ask(v, standIn, body)).text)).toMatchObject({ fallback: true, fallback_reason: "provider_status_429" });
    const open = JSON.parse((await ask(v, standIn, body)).text);
    expect(open).toMatchObject({ fallback: true, fallback_reason: "circuit_open" });
    expect(open.answer).toMatch(/^From the conversations:/);
    expect(standIn.calls.filter((c) => c.inputs.stream === true)).toHaveLength(2);
  });

  it("charges answers to the tenant's daily token quota and the model's rate budget, as for openai", async () => {
    const standIn = new WorkersAiStandIn({ text: "June 2 [1]." });
    const once = (v: Record<string, string>) =>
      callWith(v, "POST", "/api/rag/ask", { query: "When is the launch?", conversation_id: conv, stream: false }, tenant.key, {
        AI: standIn.binding,
      });
    const overQuota = await once(vars({ TENANT_DAILY_TOKENS: "10" }));
    expect(overQuota.res.status).toBe(429);
    expect(((await overQuota.res.json()) as { type: string }).type).toBe("urn:convo-rag:problem:token-budget-exceeded");
    await overQuota.settled();
    expect(standIn.calls).toHaveLength(0);
    // One request a minute on this gateway's model: the second is refused before reaching the binding.
    const v = vars({ CHAT_RATE_LIMIT_RPM: "1", CHAT_RATE_LIMIT_TPM: "0", CHAT_RATE_BUDGET_SHARE: "1", CHAT_RATE_POLICY: "reject" });
    const first = await once(v);
    expect(first.res.status).toBe(200);
    await first.res.text();
    await first.settled();
    const second = await once(v);
    expect(second.res.status).toBe(429);
    expect(((await second.res.json()) as { type: string }).type).toBe("urn:convo-rag:problem:rate-budget-exceeded");
    await second.settled();
    expect(standIn.calls.filter((c) => c.inputs.stream === true)).toHaveLength(1);
  });

  it("ingests and retrieves with EMBEDDING_PROVIDER=workers-ai at 384 dimensions", async () => {
    const own = await newTenantKey("wai-emb");
    const standIn = new WorkersAiStandIn();
    const embedVars = { EMBEDDING_PROVIDER: "workers-ai", EMBEDDING_BATCHING: "false", CACHE_ENABLED: "false" };
    const id = uid("wai-conv");
    const conversation = {
      id,
      title: "Thumbnails",
      messages: [
        {
          id: "m1",
          author_name: "Marco",
          text: "The thumbnail cache leaks memory, I am adding an LRU limit.",
          timestamp: "2025-05-13T14:01:00Z",
        },
        { id: "m2", author_name: "Priya", text: "Ship the LRU fix by Friday.", timestamp: "2025-05-13T14:02:00Z" },
      ],
    };
    const ingested = await callWith(embedVars, "POST", "/api/conversations", conversation, own.key, { AI: standIn.binding });
    expect(ingested.res.status).toBe(201);
    await ingested.settled();
    const stored = standIn.calls.flatMap((c) => c.inputs.text as string[]);
    expect(stored.some((t) => t.includes("thumbnail cache leaks memory"))).toBe(true);

    const query = "memory leak in the thumbnail cache";
    const { res, settled } = await callWith(
      embedVars,
      "POST",
      "/api/rag/retrieve",
      { query, conversation_id: id, strategies: ["semantic"] },
      own.key,
      { AI: standIn.binding },
    );
    const body = (await res.json()) as { chunks: { conversation_id: string; text: string }[]; failed_strategies: string[] };
    await settled();
    expect(res.status).toBe(200);
    expect(body.failed_strategies).toEqual([]);
    expect(body.chunks[0]).toMatchObject({ conversation_id: id });
    expect(body.chunks[0]!.text).toContain("thumbnail cache leaks memory");
    expect(standIn.calls.at(-1)!.inputs).toEqual({ text: [query] });
    // Another tenant's data is not reached, whatever the provider.
    const other = await api("POST", "/api/rag/retrieve", {
      key: tenant.key,
      body: { query, conversation_id: id, strategies: ["keyword"] },
    });
    expect(((await other.json()) as { chunks: unknown[] }).chunks).toEqual([]);
  });
});
