import { describe, expect, it } from "vitest";
import { callWith } from "./support/sse";

const preflight = (vars: Record<string, string>, origin: string) =>
  callWith(vars, "OPTIONS", "/api/rag/ask", undefined, "", {}, { origin, "access-control-request-method": "POST" }).then(({ res }) => res);

describe("CORS", () => {
  it("is closed by default: no Access-Control headers, for a preflight or a request", async () => {
    const { res } = await callWith({}, "GET", "/api/conversations");
    expect(res.status).toBe(200);
    expect([...res.headers.keys()].filter((h) => h.startsWith("access-control-"))).toEqual([]);
    const pre = await preflight({}, "https://app.example.com");
    expect(pre.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("lets only the configured origins in", async () => {
    const vars = { CORS_ORIGINS: "https://app.example.com, https://admin.example.com" };
    const request = (origin: string, method = "GET", extra: Record<string, string> = {}) =>
      callWith(vars, method, "/api/conversations", undefined, "dev-local-key", {}, { origin, ...extra }).then(({ res }) => res);
    const ok = await request("https://app.example.com");
    expect(ok.status).toBe(200);
    expect(ok.headers.get("access-control-allow-origin")).toBe("https://app.example.com");
    expect(ok.headers.get("access-control-expose-headers")).toContain("x-request-id");
    const other = await request("https://evil.example.com");
    expect(other.headers.get("access-control-allow-origin")).toBeNull();
    const pre = await request("https://admin.example.com", "OPTIONS", {
      "access-control-request-method": "POST",
      "access-control-request-headers": "authorization, content-type",
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get("access-control-allow-origin")).toBe("https://admin.example.com");
    expect(pre.headers.get("access-control-allow-headers")).toContain("authorization");
  });

  it("refuses a CORS_ORIGINS entry that is not an origin", async () => {
    const { res } = await callWith({ CORS_ORIGINS: "https://app.example.com/path" }, "GET", "/api/conversations");
    expect(res.status).toBe(500);
    expect(await res.text()).toContain("CORS_ORIGINS");
  });
});
