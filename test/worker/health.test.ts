import { createExecutionContext, env, SELF, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import { api, DEV_KEY } from "./support/api";

describe("GET /health", () => {
  it("reports the database reachable, migrations applied and the embedding size matching", async () => {
    const res = await SELF.fetch("http://api.test/health");
    expect(res.status).toBe(200);
    expect(res.headers.get("x-request-id")).toBeTruthy();
    expect(await res.json()).toMatchObject({
      status: "ok",
      database: { reachable: true },
      migrations: {
        applied: [
          "0001_init",
          "0002_sessions",
          "0003_semantic_cache",
          "0004_embedding_cache_per_tenant",
          "0005_operator_role",
          "0006_messages_time_order",
          "0007_imports",
          "0008_import_spool",
        ],
        pending: [],
      },
      embedding: { provider: "local", dimensions: 384, schema_dimensions: 384 },
    });
  });

  it("keeps a sane incoming x-request-id", async () => {
    const res = await api("GET", "/api/conversations", { headers: { "x-request-id": "trace-abc-123" } });
    expect(res.headers.get("x-request-id")).toBe("trace-abc-123");
  });
});

describe("embedding dimension check", () => {
  it("a configured dimension that does not fit the schema is a clear 503, not a crash later", async () => {
    const misconfigured = { ...env, EMBEDDING_DIMENSIONS: "1536" } as unknown as Env;
    const call = async (path: string, init: RequestInit = {}) => {
      const ctx = createExecutionContext();
      const res = await worker.fetch(new Request(`http://api.test${path}`, init), misconfigured, ctx);
      await waitOnExecutionContext(ctx);
      return res;
    };
    const health = await call("/health");
    expect(health.status).toBe(503);
    expect(await health.json()).toMatchObject({
      status: "not_ready",
      embedding: { error: expect.stringMatching(/EMBEDDING_DIMENSIONS is 1536 .* vector\(384\)/) },
    });

    const ingest = await call("/api/conversations", {
      method: "POST",
      headers: { authorization: `Bearer ${DEV_KEY}`, "content-type": "application/json" },
      body: "{}",
    });
    expect(ingest.status).toBe(503);
    expect(((await ingest.json()) as { detail: string }).detail).toMatch(/vector\(384\)/);
  });
});
