import { describe, expect, it } from "vitest";
import { InIsolate } from "../../src/coalesce/in-isolate";

describe("identical asks in one isolate", () => {
  it("lead once; the others get the leader's answer", async () => {
    const shared = new InIsolate<string>(1_000);
    const leader = shared.join("k");
    const a = shared.join("k");
    const b = shared.join("k");
    expect(leader.role).toBe("leader");
    expect([a.role, b.role]).toEqual(["follower", "follower"]);
    if (leader.role !== "leader" || a.role !== "follower" || b.role !== "follower") throw new Error("roles");
    leader.finish("the answer");
    expect(await Promise.all([a.value, b.value])).toEqual(["the answer", "the answer"]);
  });

  it("a failed lead releases its followers with nothing (they answer alone) and the next ask leads", async () => {
    const shared = new InIsolate<string>(1_000);
    const leader = shared.join("k");
    const follower = shared.join("k");
    if (leader.role !== "leader" || follower.role !== "follower") throw new Error("roles");
    leader.finish(undefined);
    expect(await follower.value).toBeUndefined();
    expect(shared.join("k").role).toBe("leader");
  });

  it("keeps a whole answer for the grace period only (the clock is the test's)", () => {
    let now = 0;
    const shared = new InIsolate<string>(500, 60_000, 100, () => now);
    const leader = shared.join("k");
    if (leader.role !== "leader") throw new Error("role");
    leader.finish("done");
    now = 499;
    expect(shared.join("k").role).toBe("follower");
    now = 500;
    expect(shared.join("k").role).toBe("leader");
  });

  it("a lead that never finishes (its request went away) is not joined after maxLeadMs", () => {
    let now = 0;
    const shared = new InIsolate<string>(500, 1_000, 100, () => now);
    expect(shared.join("k").role).toBe("leader");
    now = 999;
    expect(shared.join("k").role).toBe("follower");
    now = 1_000;
    expect(shared.join("k").role).toBe("leader");
  });

  it("different keys never meet, and the isolate keeps a bounded number of answers", () => {
    let now = 0;
    const shared = new InIsolate<string>(10_000, 60_000, 3, () => now);
    for (const key of ["a", "b", "c", "d", "e"]) {
      const lead = shared.join(key);
      expect(lead.role).toBe("leader");
      if (lead.role === "leader") lead.finish(key);
      now++;
    }
    expect(shared.size).toBeLessThanOrEqual(3);
  });
});
