import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { RecordedCall } from "../../scripts/lib/fake-openai";
import { utcDay } from "../../src/durable/day";
import { newTenantKey, uid } from "./support/api";
import { launchConversation } from "./support/fixtures";
import { callWith, sseReader } from "./support/sse";
import { waitFor } from "./support/wait";

async function setup(extra: Record<string, string>, chat: Record<string, unknown> = { text: "June 2 [1]." }) {
  const base = `${env.FAKE_OPENAI_URL}/${crypto.randomUUID()}`;
  await fetch(`${base}/_control`, { method: "POST", body: JSON.stringify({ chat }) });
  const tenant = await newTenantKey("quota");
  const conv = uid("quota");
  expect((await callWith({}, "POST", "/api/conversations", launchConversation(conv), tenant.key)).res.status).toBe(201);
  const vars = {
    CHAT_PROVIDER: "openai",
    OPENAI_BASE_URL: `${base}/v1`,
    OPENAI_API_KEY: "sk-test",
    CHAT_MODEL: "fake-chat",
    CHAT_RATE_LIMIT_RPM: "0",
    CHAT_RATE_LIMIT_TPM: "0",
    ...extra,
  };
  const ask = async (query: string, maxTokens: number, extra: Record<string, unknown> = {}) => {
    const { res, settled } = await callWith(
      vars,
      "POST",
      "/api/rag/ask",
      { query, conversation_id: conv, stream: false, max_tokens: maxTokens, ...extra },
      tenant.key,
    );
    const body = (await res.json()) as Record<string, unknown>;
    await settled();
    return { res, body };
  };
  const quota = () => env.TENANT_QUOTA.getByName(`tenant:${tenant.tenant}:quota`);
  const used = async () => (await quota().usage()).tokens;
  const calls = async () => (await (await fetch(`${base}/_calls`)).json()) as RecordedCall[];
  const chatCalls = async () => (await calls()).filter((c) => c.body.stream).length;
  /** Completions that are not answers: follow-up rewrites and history summaries. */
  const helperCalls = async () => (await calls()).filter((c) => !c.body.stream).length;
  const stream = (query: string, maxTokens: number) =>
    callWith(vars, "POST", "/api/rag/ask", { query, conversation_id: conv, max_tokens: maxTokens }, tenant.key);
  return { ask, used, chatCalls, helperCalls, stream, quota };
}

/**
 * The budget is per UTC day, counted by the object's own clock, so a test that spends it and then
 * checks what is left would see a fresh budget if midnight fell in between. Such a run is
 * recognised, not hoped away: a failure in a run that crossed midnight starts the test once more
 * (with a new tenant, from setup), and a second crossing a day later cannot happen.
 */
async function withinOneUtcDay(run: () => Promise<void>): Promise<void> {
  const day = utcDay();
  try {
    await run();
  } catch (err) {
    if (utcDay() === day) throw err;
    await run();
  }
}

describe("a tenant's daily token budget", () => {
  it("reserves prompt + max_tokens, keeps only what was used, and refuses with 429 until midnight UTC once spent", async () => {
    await withinOneUtcDay(async () => {
      const t = await setup({ TENANT_DAILY_TOKENS: "2400", CACHE_ENABLED: "false" });
      const first = await t.ask("When is the launch?", 2000);
      expect(first.res.status).toBe(200);
      const usage = first.body.usage as { prompt_tokens: number; completion_tokens: number };
      // The reservation (prompt + 2,000) was settled to the usage the provider reported.
      expect(await t.used()).toBe(usage.prompt_tokens + usage.completion_tokens);
      const over = await t.ask("Who takes the Saturday support shift?", 2000);
      expect(over.res.status).toBe(429);
      expect(over.res.headers.get("content-type")).toBe("application/problem+json");
      const retryAfter = Number(over.res.headers.get("retry-after"));
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(86_400);
      expect(over.body).toMatchObject({ status: 429, type: "urn:convo-rag:problem:token-budget-exceeded" });
      expect(await t.chatCalls()).toBe(1);
      // A smaller answer still fits in what is left.
      expect((await t.ask("Who takes the Saturday support shift?", 100)).res.status).toBe(200);
      expect(await t.chatCalls()).toBe(2);
    });
  });

  it("charges a follow-up's helper call (the LLM rewrite) to the budget, and makes none once the budget is spent", async () => {
    await withinOneUtcDay(async () => {
      const limit = 100_000;
      const t = await setup(
        { TENANT_DAILY_TOKENS: String(limit), CACHE_ENABLED: "false" },
        { text: "June 2 [1].", completion: "When is the launch?" },
      );
      const session = uid("quota-s");
      const first = await t.ask("When is the launch?", 200, { session_id: session });
      expect(first.res.status).toBe(200);
      const followUp = await t.ask("And is it still on track?", 200, { session_id: session });
      expect(followUp.res.status).toBe(200);
      expect(await t.helperCalls()).toBe(1);
      const spent = (a: typeof first) => {
        const usage = a.body.usage as { prompt_tokens: number; completion_tokens: number };
        return usage.prompt_tokens + usage.completion_tokens;
      };
      const answers = spent(first) + spent(followUp);
      expect(await t.used()).toBeGreaterThan(answers);

      // Leave 50 tokens: the next follow-up's rewrite would need more, so it is not sent at all.
      const { day } = (await t.quota().reserve(limit, limit - (await t.used()) - 50)) as { day: string };
      expect(day).toBeTruthy();
      const refused = await t.ask("And who owns it?", 200, { session_id: session });
      expect(refused.res.status).toBe(429);
      expect(refused.body).toMatchObject({ type: "urn:convo-rag:problem:token-budget-exceeded" });
      expect(await t.helperCalls()).toBe(1);
    });
  });

  it("settles a shared (coalesced) answer's reservation too", async () => {
    await withinOneUtcDay(async () => {
      const t = await setup({ TENANT_DAILY_TOKENS: "100000" });
      const { res, body } = await t.ask(`When is the launch date ${uid("q")}?`, 1500);
      expect(res.status).toBe(200);
      expect(res.headers.get("x-coalesced")).toBe("leader");
      const usage = body.usage as { prompt_tokens: number; completion_tokens: number };
      expect(await waitFor(async () => (await t.used()) === usage.prompt_tokens + usage.completion_tokens)).toBe(true);
    });
  });

  it("settles an answer the client abandoned to its prompt and the text sent so far", async () => {
    await withinOneUtcDay(async () => {
      const words = Array.from({ length: 200 }, (_, i) => `w${i}`).join(" ");
      const t = await setup({ TENANT_DAILY_TOKENS: "100000", CACHE_ENABLED: "false" }, { text: words, tokenDelayMs: 40, wordsPerPiece: 1 });
      const { res, settled } = await t.stream("When is the launch?", 2000);
      const reader = sseReader(res);
      expect((await reader.next())!.event).toBe("meta");
      const meta = await reader.next();
      expect(meta!.event).toBe("delta");
      await reader.next();
      await reader.cancel();
      await settled();
      // Reserved: the prompt and 2,000; kept: the prompt and two short pieces.
      expect(
        await waitFor(async () => {
          const u = await t.used();
          return u > 0 && u < 1000;
        }),
      ).toBe(true);
    });
  });

  it("does not apply to the offline answerer, which costs nothing", async () => {
    const tenant = await newTenantKey("quota-x");
    const conv = uid("quota-x");
    await callWith({}, "POST", "/api/conversations", launchConversation(conv), tenant.key);
    for (let i = 0; i < 3; i++) {
      const { res } = await callWith(
        { TENANT_DAILY_TOKENS: "1" },
        "POST",
        "/api/rag/ask",
        { query: `When is the launch ${i}?`, conversation_id: conv, stream: false },
        tenant.key,
      );
      expect(res.status).toBe(200);
    }
  });
});
