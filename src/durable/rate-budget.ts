import { DurableObject } from "cloudflare:workers";
import { type BucketLimits, type BucketState, type Cost, isFull, refund, take } from "./token-bucket.ts";

const KEY = "bucket";

interface Stored {
  state: BucketState;
  /** The limits last asked for: the idle check needs them to know whether the bucket is full. */
  limits: BucketLimits;
}
/** How long after the last call the alarm looks whether the state can be dropped. */
const IDLE_CHECK_MS = 5 * 60_000;

/**
 * The chat provider's rate budget: one object per provider endpoint (a provider's limits belong
 * to the account, not to a tenant, and the object holds only counts, never tenants' data). Token
 * buckets for requests and tokens per minute, persisted on every change so an evicted or moved
 * object keeps what was spent. Calls are served one at a time with no await between reading and
 * writing the state, so two isolates can never both spend the last tokens.
 */
export class RateBudget extends DurableObject<Env> {
  /** Takes `cost` if the budget allows it now; otherwise how long to wait. */
  acquire(limits: BucketLimits, cost: Cost): { granted: boolean; retryAfterMs: number } {
    const now = Date.now();
    const result = take(this.ctx.storage.kv.get<Stored>(KEY)?.state, limits, cost, now);
    this.ctx.storage.kv.put(KEY, { state: result.state, limits } satisfies Stored);
    this.scheduleIdleCheck(now);
    return { granted: result.granted, retryAfterMs: result.retryAfterMs };
  }

  /** Returns tokens reserved by `acquire` that the call did not use. */
  refund(limits: BucketLimits, tokens: number): void {
    if (tokens <= 0) return;
    const now = Date.now();
    this.ctx.storage.kv.put(KEY, {
      state: refund(this.ctx.storage.kv.get<Stored>(KEY)?.state, limits, tokens, now),
      limits,
    } satisfies Stored);
  }

  /** The current levels (for tests and the stats route). */
  levels(): BucketState | undefined {
    return this.ctx.storage.kv.get<Stored>(KEY)?.state;
  }

  /**
   * Drops the stored state once the buckets have refilled, so idle providers cost no storage.
   * Harmless when it fires twice or late: a full bucket is the same as no bucket, and a bucket
   * that is not yet full is kept and looked at again.
   */
  override async alarm(): Promise<void> {
    const stored = this.ctx.storage.kv.get<Stored>(KEY);
    if (!stored) return;
    if (isFull(stored.state, stored.limits, Date.now())) {
      this.ctx.storage.kv.delete(KEY);
      return;
    }
    await this.ctx.storage.setAlarm(Date.now() + IDLE_CHECK_MS);
  }

  private scheduleIdleCheck(now: number) {
    // One write per call is the price of surviving eviction; the alarm is set once per idle period.
    void this.ctx.storage.getAlarm().then((at) => (at === null ? this.ctx.storage.setAlarm(now + IDLE_CHECK_MS) : undefined));
  }
}
