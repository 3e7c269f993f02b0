import { env } from "cloudflare:test";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { ADMIN_KEY, api, uid } from "./support/api";
import { tenantWithLaunch } from "./support/fixtures";
import { parsePrometheus } from "./support/prometheus";
import { callWith } from "./support/sse";

async function scrape() {
  const res = await api("GET", "/metrics", { key: ADMIN_KEY });
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
  const text = await res.text();
  const families = parsePrometheus(text);
  /** The sum over matching series; for a histogram, of its _count. */
  const value = (name: string, labels: Record<string, string> = {}) => {
    const family = families.find((f) => f.name === name);
    const sampleName = family?.type === "histogram" ? `${name}_count` : name;
    const matching =
      family?.samples.filter((s) => s.name === sampleName && Object.entries(labels).every(([k, v]) => s.labels[k] === v)) ?? [];
    return matching.reduce((sum, s) => sum + s.value, 0);
  };
  return { text, families, value };
}

describe("GET /metrics", () => {
  let tenant: { tenant: string; key: string };
  const conv = uid("metrics");

  beforeAll(async () => {
    tenant = await tenantWithLaunch("metrics", conv);
  });

  afterEach(() => vi.restoreAllMocks());

  it("is for admins only", async () => {
    expect((await api("GET", "/metrics", { key: null })).status).toBe(401);
    expect((await api("GET", "/metrics", { key: tenant.key })).status).toBe(403);
  });

  it("parses as Prometheus text, and its counters move as requests are made", async () => {
    const question = `Who takes the Saturday support shift ${uid("q")}?`;
    const before = await scrape();
    for (let i = 0; i < 2; i++) {
      // The first is a cache miss (then cached); the second skips the cache.
      const res = await api("POST", "/api/rag/ask", {
        key: tenant.key,
        body: { query: question, conversation_id: conv, stream: false, cache: i === 0 },
      });
      expect(res.status).toBe(200);
      await res.json();
    }
    const streamed = await api("POST", "/api/rag/ask", { key: tenant.key, body: { query: question, conversation_id: conv, cache: false } });
    await streamed.text();
    expect((await api("POST", "/api/rag/retrieve", { key: tenant.key, body: { query: "" } })).status).toBe(400);
    const after = await scrape();

    const expected: Record<string, string> = {
      rag_request_duration_seconds: "histogram",
      rag_tokens_used_total: "counter",
      rag_cache_misses_total: "counter",
      rag_active_requests: "gauge",
      rag_llm_calls_total: "counter",
      rag_db_clients_total: "counter",
    };
    for (const [name, type] of Object.entries(expected)) {
      const family = after.families.find((f) => f.name === name);
      expect(family, name).toBeDefined();
      expect(family!.type).toBe(type);
      expect(family!.help.length).toBeGreaterThan(10);
    }
    expect(
      after.value("rag_llm_calls_total", { provider: "extractive" }) - before.value("rag_llm_calls_total", { provider: "extractive" }),
    ).toBe(3);
    const asks = { operation: "ask", model: "extractive-v1", cache_hit: "false" };
    expect(after.value("rag_cache_misses_total", { cache_level: "l1", kind: "answer" })).toBeGreaterThan(
      before.value("rag_cache_misses_total", { cache_level: "l1", kind: "answer" }),
    );
    expect(after.value("rag_request_duration_seconds", asks) - before.value("rag_request_duration_seconds", asks)).toBe(3);
    expect(after.value("rag_tokens_used_total", { type: "output" })).toBeGreaterThan(
      before.value("rag_tokens_used_total", { type: "output" }),
    );
    expect(after.value("rag_tokens_used_total", { type: "input" })).toBeGreaterThan(
      before.value("rag_tokens_used_total", { type: "input" }),
    );
    const retrieves = { operation: "retrieve" };
    expect(after.value("rag_request_duration_seconds", retrieves) - before.value("rag_request_duration_seconds", retrieves)).toBe(1);
    // The scrape itself is in flight: the gauge counts it.
    expect(after.value("rag_active_requests")).toBeGreaterThanOrEqual(1);
    // Nothing of the tenants: no question text, no conversation id, no tenant, no key.
    for (const secret of [question, conv, tenant.tenant, tenant.key, "Saturday"]) expect(after.text).not.toContain(secret);
  });

  it("counts 5xx problems by their code", async () => {
    const before = await scrape();
    // A broken configuration is a 500 misconfigured problem.
    const { res } = await callWith({ CHUNK_MAX_TOKENS: "nonsense" }, "GET", "/api/conversations", undefined, tenant.key);
    expect(res.status).toBe(500);
    const after = await scrape();
    expect(after.value("rag_errors_total", { kind: "misconfigured" }) - before.value("rag_errors_total", { kind: "misconfigured" })).toBe(
      1,
    );
  });
});

describe("per-request observability", () => {
  let tenant: { tenant: string; key: string };
  const conv = uid("timing");

  beforeAll(async () => {
    tenant = await tenantWithLaunch("timing", conv);
  });

  afterEach(() => vi.restoreAllMocks());

  it("sends Server-Timing with cache, retrieve, select, ttft and total on an answer, and embed with a remote embedder", async () => {
    const res = await api("POST", "/api/rag/ask", {
      key: tenant.key,
      body: { query: `When is the launch ${uid("q")}?`, conversation_id: conv, stream: false },
    });
    expect(res.status).toBe(200);
    const names = (res.headers.get("server-timing") ?? "").split(",").map((p) => p.trim().split(";")[0]);
    for (const name of ["cache", "retrieve", "select", "ttft", "total"]) expect(names).toContain(name);
    for (const part of res.headers.get("server-timing")!.split(",")) expect(part.trim()).toMatch(/^[a-z_]+;dur=\d+(\.\d+)?$/);

    const remote = {
      EMBEDDING_PROVIDER: "openai",
      OPENAI_BASE_URL: `${env.FAKE_OPENAI_URL}/${crypto.randomUUID()}/v1`,
      OPENAI_API_KEY: "sk-test",
    };
    const { res: withEmbed, settled } = await callWith(
      remote,
      "POST",
      "/api/rag/ask",
      { query: `Why was the staging deploy rolled back ${uid("q")}?`, conversation_id: conv, stream: false },
      tenant.key,
    );
    expect(withEmbed.status).toBe(200);
    await withEmbed.json();
    await settled();
    const remoteNames = (withEmbed.headers.get("server-timing") ?? "").split(",").map((p) => p.trim().split(";")[0]);
    for (const name of ["cache", "embed", "retrieve", "select", "ttft", "total"]) expect(remoteNames).toContain(name);
  });

  it("keeps a sane incoming x-request-id and replaces one that is not", async () => {
    const kept = await api("GET", "/health", { key: null, headers: { "x-request-id": "trace-abc_123" } });
    expect(kept.headers.get("x-request-id")).toBe("trace-abc_123");
    // Every response says at least how long it took.
    expect(kept.headers.get("server-timing")).toMatch(/^total;dur=\d+(\.\d+)?$/);
    const replaced = await api("GET", "/health", { key: null, headers: { "x-request-id": "bad id <script>" } });
    expect(replaced.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("logs one JSON line per request, without conversation text or keys", async () => {
    const log = vi.spyOn(console, "log").mockImplementation(() => {});
    const query = `What did Marco say about the thumbnail cache ${uid("q")}?`;
    const { res, settled } = await callWith(
      { LOG_REQUESTS: "true" },
      "POST",
      "/api/rag/ask",
      { query, conversation_id: conv, stream: false },
      tenant.key,
    );
    expect(res.status).toBe(200);
    await res.json();
    await settled();
    const lines = log.mock.calls.map((args) => String(args[0])).filter((l) => l.includes('"event":"request"'));
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(line).toMatchObject({
      level: "info",
      event: "request",
      method: "POST",
      operation: "ask",
      status: 200,
      request_id: res.headers.get("x-request-id"),
      tenant: tenant.tenant,
    });
    expect(typeof line.duration_ms).toBe("number");
    expect(lines[0]).not.toContain("thumbnail");
    expect(lines[0]).not.toContain(tenant.key);
  });
});
