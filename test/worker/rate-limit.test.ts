import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { counters } from "../../src/observability/counters";
import { ADMIN_KEY, api, newTenantKey } from "./support/api";
import { callWith } from "./support/sse";

describe("per-key rate limit", () => {
  // A limiter of 3 requests a minute in place of the configured one (600).
  const tight = { KEY_RATE_LIMITER: env.TIGHT_RATE_LIMITER };

  it("answers 429 with Retry-After once a key has used its requests, and counts it; other keys, of the same tenant too, go on", async () => {
    const a = await newTenantKey("rl-a");
    const b = await newTenantKey("rl-b");
    const created = await api("POST", "/api/admin/keys", { key: ADMIN_KEY, body: { tenant: a.tenant } });
    expect(created.status).toBe(201);
    const sameTenant = ((await created.json()) as { key: string }).key;
    // The simulator's windows are aligned to the wall clock (epoch = now / 60 s): four requests that
    // straddle a minute's end would all pass. Such a run is recognised, not hoped away: it starts
    // again with a fresh key of the same tenant, so the assertion only ever sees one window.
    const window = () => Math.floor(Date.now() / 60_000);
    let statuses: number[] = [];
    let newlyLimited = 0;
    for (let attempt = 0; attempt < 3; attempt++) {
      const fresh = await api("POST", "/api/admin/keys", { key: ADMIN_KEY, body: { tenant: a.tenant } });
      const key = ((await fresh.json()) as { key: string }).key;
      const limited = counters.get("rag_rate_limited_total");
      const startWindow = window();
      statuses = [];
      for (let i = 0; i < 4; i++) {
        const { res } = await callWith({}, "GET", "/api/conversations", undefined, key, tight);
        statuses.push(res.status);
        if (res.status === 429) {
          expect(res.headers.get("content-type")).toBe("application/problem+json");
          const retryAfter = Number(res.headers.get("retry-after"));
          expect(retryAfter).toBeGreaterThanOrEqual(1);
          expect(retryAfter).toBeLessThanOrEqual(60);
          expect(await res.json()).toMatchObject({ status: 429, type: "urn:convo-rag:problem:rate-limited" });
        }
      }
      newlyLimited = counters.get("rag_rate_limited_total") - limited;
      if (window() === startWindow) break;
    }
    expect(statuses).toEqual([200, 200, 200, 429]);
    expect(newlyLimited).toBe(1);
    // The limit is per key, not per tenant: a second key of the same tenant has its own count, as has another tenant's.
    expect((await callWith({}, "GET", "/api/conversations", undefined, sameTenant, tight)).res.status).toBe(200);
    expect((await callWith({}, "GET", "/api/conversations", undefined, b.key, tight)).res.status).toBe(200);
    // Unauthenticated requests are refused before they count against anyone.
    expect((await callWith({}, "GET", "/api/conversations", undefined, "not-a-key", tight)).res.status).toBe(401);
  });

  it("lets requests through when the limiter itself fails, and counts that", async () => {
    const broken = { KEY_RATE_LIMITER: { limit: () => Promise.reject(new Error("limiter down")) } };
    const { key } = await newTenantKey("rl-broken");
    const before = counters.get("rag_fallbacks_total", { kind: "rate_limiter" });
    expect((await callWith({}, "GET", "/api/conversations", undefined, key, broken)).res.status).toBe(200);
    expect(counters.get("rag_fallbacks_total", { kind: "rate_limiter" }) - before).toBe(1);
  });
});
