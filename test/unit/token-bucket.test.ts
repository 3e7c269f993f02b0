import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type BucketState, isFull, refund, take } from "../../src/durable/token-bucket";

const limits = { requestsPerMinute: 100, tokensPerMinute: 10_000, share: 0.8 };

describe("rate budget token bucket", () => {
  it("starts full at the share of the limit and refuses what is not there, saying when it will be", () => {
    let state: BucketState | undefined;
    const now = 1_000_000;
    const first = take(state, limits, { requests: 1, tokens: 7_000 }, now);
    expect(first.granted).toBe(true);
    state = first.state;
    expect(state.tokens).toBeCloseTo(1_000);
    const second = take(state, limits, { requests: 1, tokens: 2_000 }, now);
    expect(second.granted).toBe(false);
    // 1,000 tokens missing at 8,000 a minute: 7.5 s.
    expect(second.retryAfterMs).toBe(7_500);
    expect(take(second.state, limits, { requests: 1, tokens: 2_000 }, now + 7_500).granted).toBe(true);
  });

  it("charges an oversized request as the whole bucket instead of refusing it forever", () => {
    const full = take(undefined, limits, { requests: 1, tokens: 50_000 }, 0);
    expect(full.granted).toBe(true);
    expect(full.state.tokens).toBe(0);
  });

  it("treats a limit of 0 as no limit", () => {
    const open = { requestsPerMinute: 0, tokensPerMinute: 0, share: 0.8 };
    let state: BucketState | undefined;
    for (let i = 0; i < 1000; i++) {
      const r = take(state, open, { requests: 1, tokens: 1e6 }, 0);
      expect(r.granted).toBe(true);
      state = r.state;
    }
  });

  it("gives back unused tokens, never beyond capacity, and knows when it is full again", () => {
    const spent = take(undefined, limits, { requests: 1, tokens: 5_000 }, 0).state;
    expect(isFull(spent, limits, 0)).toBe(false);
    expect(refund(spent, limits, 4_000, 0).tokens).toBeCloseTo(7_000);
    expect(refund(spent, limits, 1e9, 0).tokens).toBe(8_000);
    expect(isFull(spent, limits, 60_000)).toBe(true);
  });

  it("never grants more than the share of the limit plus its refill over any period", () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ gap: fc.integer({ min: 0, max: 5_000 }), tokens: fc.integer({ min: 1, max: 3_000 }) }), {
          minLength: 1,
          maxLength: 200,
        }),
        (calls) => {
          let state: BucketState | undefined;
          let now = 0;
          let granted = 0;
          let requests = 0;
          for (const c of calls) {
            now += c.gap;
            const r = take(state, limits, { requests: 1, tokens: c.tokens }, now);
            state = r.state;
            if (r.granted) {
              granted += Math.min(c.tokens, 8_000);
              requests++;
            } else expect(r.retryAfterMs).toBeGreaterThan(0);
          }
          // Capacity plus refill: the provider's own bucket (the whole limit) is never more than 80 % drained.
          expect(granted).toBeLessThanOrEqual(8_000 + (now * 8_000) / 60_000 + 1e-6);
          expect(requests).toBeLessThanOrEqual(80 + (now * 80) / 60_000 + 1e-6);
        },
      ),
    );
  });
});
