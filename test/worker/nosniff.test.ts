import { describe, expect, it } from "vitest";
import { ADMIN_KEY, api, uid } from "./support/api";
import { callWith } from "./support/sse";

const NOSNIFF = "nosniff";

describe("X-Content-Type-Options", () => {
  it("is nosniff on the Worker's successful responses: /health, /openapi.json, /metrics, /api/*", async () => {
    const responses = [
      await api("GET", "/health", { key: null }),
      await api("GET", "/openapi.json", { key: null }),
      await api("GET", "/metrics", { key: ADMIN_KEY }),
      await api("GET", "/api/me"),
      await api("GET", "/api/conversations?limit=1"),
    ];
    for (const res of responses) {
      expect(res.status).toBe(200);
      expect(res.headers.get("x-content-type-options")).toBe(NOSNIFF);
      await res.body?.cancel();
    }
  });

  it("is nosniff on problems: no key, an unknown route, bad input, a broken configuration", async () => {
    const responses = [
      await api("GET", "/api/conversations", { key: null }),
      await api("GET", "/metrics", { key: null }),
      await api("GET", "/api/nothing-here"),
      await api("GET", "/no-such-page", { key: null }),
      await api("POST", "/api/conversations", { body: "{not json" }),
      await api("GET", `/api/conversations/${uid("missing")}`),
      (await callWith({ CORS_ORIGINS: "https://app.example.com/path" }, "GET", "/api/conversations")).res,
    ];
    expect(responses.map((r) => r.status)).toEqual([401, 401, 404, 404, 400, 404, 500]);
    for (const res of responses) {
      expect(res.headers.get("content-type")).toContain("application/problem+json");
      expect(res.headers.get("x-content-type-options")).toBe(NOSNIFF);
      await res.body?.cancel();
    }
  });

  it("is nosniff on an answer's event stream", async () => {
    const res = await api("POST", "/api/rag/ask", { body: { query: "When is the launch date?", stream: true } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    expect(res.headers.get("x-content-type-options")).toBe(NOSNIFF);
    expect(await res.text()).toContain("event: done");
  });
});
