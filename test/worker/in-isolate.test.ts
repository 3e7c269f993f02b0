// Identical extractive asks in flight in one isolate share one answer: the extractive answerer is
// not worth a Durable Object round trip, so they meet in the isolate's memory instead, and a
// finished answer is shared for a few seconds, until the cache serves it. Here the cache can never
// serve it (its only tier is a Redis that is not there, and the semantic cache is off), so the
// second ask is answered from the first's whole answer whether it arrives during or after it.
import { beforeAll, expect, it } from "vitest";
import { counters } from "../../src/observability/counters";
import { api, newTenantKey, uid } from "./support/api";
import { launchConversation } from "./support/fixtures";
import { callWith, parseSse } from "./support/sse";

const vars = {
  CACHE_L1: "off",
  CACHE_L2: "upstash",
  UPSTASH_REDIS_REST_URL: "http://127.0.0.1:1",
  UPSTASH_REDIS_REST_TOKEN: "x",
  SEMANTIC_CACHE_ENABLED: "false",
};

let tenant: { key: string; tenant: string };
const conv = uid("inisolate");

beforeAll(async () => {
  tenant = await newTenantKey("inisolate");
  const res = await api("POST", "/api/conversations", { key: tenant.key, body: launchConversation(conv) });
  expect(res.status).toBe(201);
});

it("answers an identical extractive ask from the one in flight: one generation, the same answer, no Durable Object", async () => {
  const query = "When is the launch date and who moved it?";
  const generations = counters.get("rag_llm_calls_total", { provider: "extractive" });
  const coalesced = counters.get("rag_coalesced_requests_total");
  const durable = counters.get("rag_durable_object_requests_total", { object: "ask_coalescer" });

  const first = await callWith(vars, "POST", "/api/rag/ask", { query, conversation_id: conv }, tenant.key);
  expect(first.res.status).toBe(200);
  expect(first.res.headers.get("x-cache")).toBe("MISS");
  const second = callWith(vars, "POST", "/api/rag/ask", { query, conversation_id: conv, stream: false }, tenant.key);
  const firstEvents = parseSse(await first.res.text());
  const { res: secondRes, settled } = await second;
  const secondBody = (await secondRes.json()) as { answer: string; cache: string; sources: unknown[] };
  await Promise.all([first.settled(), settled()]);

  expect(secondRes.status).toBe(200);
  expect(secondRes.headers.get("x-coalesced")).toBe("isolate");
  expect(secondBody.cache).toBe("MISS");
  const answer = firstEvents
    .filter((e) => e.event === "delta")
    .map((e) => (JSON.parse(e.data) as { text: string }).text)
    .join("");
  expect(answer.length).toBeGreaterThan(0);
  expect(secondBody.answer).toBe(answer);
  // The JSON body marks each source cited or not; the rest is the stream's meta.
  const unmarked = (secondBody.sources as { cited: boolean }[]).map(({ cited: _, ...s }) => s);
  expect(unmarked).toEqual((JSON.parse(firstEvents[0]!.data) as { sources: unknown[] }).sources);
  expect(counters.get("rag_llm_calls_total", { provider: "extractive" }) - generations).toBe(1);
  expect(counters.get("rag_coalesced_requests_total") - coalesced).toBe(1);
  expect(counters.get("rag_durable_object_requests_total", { object: "ask_coalescer" })).toBe(durable);
});
