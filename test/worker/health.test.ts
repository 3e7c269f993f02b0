import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { api } from "./support/api";

describe("GET /health", () => {
  it("reports the database reachable, migrations applied and the configured embedding model", async () => {
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
          "0009_embedding_models",
          "0010_import_resume_cancel",
        ],
        pending: [],
      },
      embedding: { provider: "local", model: "local-hash-v1", dimensions: 384 },
    });
  });

  it("keeps a sane incoming x-request-id", async () => {
    const res = await api("GET", "/api/conversations", { headers: { "x-request-id": "trace-abc-123" } });
    expect(res.headers.get("x-request-id")).toBe("trace-abc-123");
  });
});
