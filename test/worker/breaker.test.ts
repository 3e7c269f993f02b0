import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import type { RecordedCall } from "../../scripts/lib/fake-openai";
import { counters } from "../../src/observability/counters";
import { uid } from "./support/api";
import { tenantWithLaunch } from "./support/fixtures";
import { callWith } from "./support/sse";

let tenant: { key: string };
const conv = uid("breaker");

async function scenario(control: Record<string, unknown>, extra: Record<string, string> = {}) {
  const base = `${env.FAKE_OPENAI_URL}/${crypto.randomUUID()}`;
  const set = (c: Record<string, unknown>) => fetch(`${base}/_control`, { method: "POST", body: JSON.stringify(c) });
  await set({ chat: { text: "June 2 [1]." }, ...control });
  return {
    vars: {
      CHAT_PROVIDER: "openai",
      OPENAI_BASE_URL: `${base}/v1`,
      OPENAI_API_KEY: "sk-test",
      CHAT_MODEL: "fake-chat",
      CACHE_ENABLED: "false",
      ...extra,
    },
    chatCalls: async () => ((await (await fetch(`${base}/_calls`)).json()) as RecordedCall[]).filter((c) => c.body.stream).length,
    set,
  };
}

async function ask(vars: Record<string, string>) {
  const { res, settled } = await callWith(
    vars,
    "POST",
    "/api/rag/ask",
    { query: "When is the launch?", conversation_id: conv, stream: false },
    tenant.key,
  );
  const body = (await res.json()) as { fallback: boolean; fallback_reason?: string };
  await settled();
  expect(res.status).toBe(200);
  return body;
}

describe("the chat provider's circuit breaker", () => {
  beforeAll(async () => {
    tenant = await tenantWithLaunch("breaker", conv);
  });

  // Cooldowns are chosen so no assertion depends on how fast the machine is: "still open" checks
  // run well inside a minute-long cooldown, "after the cooldown" checks wait longer than it.
  it("opens after repeated failures and answers from the fallback without calling the provider", async () => {
    const s = await scenario({ failAfter: 0, failStatus: 500 }, { CHAT_BREAKER_FAILURES: "2", CHAT_BREAKER_COOLDOWN_MS: "60000" });
    const skipped = counters.get("rag_fallbacks_total", { kind: "circuit_open" });
    expect(await ask(s.vars)).toMatchObject({ fallback: true, fallback_reason: "provider_status_500" });
    expect(await ask(s.vars)).toMatchObject({ fallback: true, fallback_reason: "provider_status_500" });
    // Open: the provider is not called.
    expect(await ask(s.vars)).toMatchObject({ fallback: true, fallback_reason: "circuit_open" });
    expect(await ask(s.vars)).toMatchObject({ fallback: true, fallback_reason: "circuit_open" });
    expect(await s.chatCalls()).toBe(2);
    expect(counters.get("rag_fallbacks_total", { kind: "circuit_open" }) - skipped).toBe(2);
  });

  it("closes after a successful probe once the cooldown has passed", async () => {
    const s = await scenario({ failAfter: 0, failStatus: 500 }, { CHAT_BREAKER_FAILURES: "1", CHAT_BREAKER_COOLDOWN_MS: "300" });
    expect(await ask(s.vars)).toMatchObject({ fallback: true, fallback_reason: "provider_status_500" });
    // The provider recovers; after the cooldown one probe goes through and closes the breaker.
    await s.set({ failAfter: 1_000_000 });
    await new Promise((r) => setTimeout(r, 350));
    expect(await ask(s.vars)).toMatchObject({ fallback: false });
    expect(await ask(s.vars)).toMatchObject({ fallback: false });
    expect(await s.chatCalls()).toBe(3);
  });

  it("a probe that fails opens it again for another cooldown", async () => {
    const s = await scenario({ failAfter: 0, failStatus: 503 }, { CHAT_BREAKER_FAILURES: "1", CHAT_BREAKER_COOLDOWN_MS: "5000" });
    expect(await ask(s.vars)).toMatchObject({ fallback_reason: "provider_status_503" });
    expect(await ask(s.vars)).toMatchObject({ fallback_reason: "circuit_open" });
    await new Promise((r) => setTimeout(r, 5_050));
    expect(await ask(s.vars)).toMatchObject({ fallback_reason: "provider_status_503" });
    expect(await ask(s.vars)).toMatchObject({ fallback_reason: "circuit_open" });
    expect(await s.chatCalls()).toBe(2);
  });

  it("honours a 429's Retry-After: no call to the provider until it has passed, even below the failure threshold", async () => {
    const s = await scenario({ failAfter: 0, failStatus: 429, failRetryAfter: 5 }, { CHAT_BREAKER_FAILURES: "100" });
    expect(await ask(s.vars)).toMatchObject({ fallback: true, fallback_reason: "provider_status_429" });
    expect(await ask(s.vars)).toMatchObject({ fallback: true, fallback_reason: "circuit_open" });
    expect(await s.chatCalls()).toBe(1);
    await s.set({ failAfter: 1_000_000 });
    await new Promise((r) => setTimeout(r, 5_050));
    expect(await ask(s.vars)).toMatchObject({ fallback: false });
    expect(await s.chatCalls()).toBe(2);
  });
});
