import { describe, expect, it } from "vitest";
import { KeyCache } from "../../src/auth/key-cache";

const owner = { keyId: "k1", tenantId: "acme", role: "user" as const };

describe("KeyCache", () => {
  it("remembers an owner until the TTL passes", () => {
    const cache = new KeyCache();
    cache.set("h", owner, 1000, 0);
    expect(cache.get("h", 999)).toEqual(owner);
    expect(cache.get("h", 1000)).toBeUndefined();
  });

  it("forgets a revoked key at once, and never stores with a zero TTL", () => {
    const cache = new KeyCache();
    cache.set("h", owner, 1000, 0);
    cache.forgetKey("k1");
    expect(cache.get("h", 1)).toBeUndefined();
    cache.set("h", owner, 0, 0);
    expect(cache.get("h", 0)).toBeUndefined();
  });

  it("stays bounded", () => {
    const cache = new KeyCache(2);
    for (const h of ["a", "b", "c"]) cache.set(h, owner, 1000, 0);
    expect([cache.get("a", 1), cache.get("c", 1)]).toEqual([undefined, owner]);
  });
});
