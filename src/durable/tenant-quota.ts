import { DurableObject } from "cloudflare:workers";
import { utcDay } from "./day.ts";

const KEY = "usage";

interface Usage {
  /** UTC day (YYYY-MM-DD) the count belongs to. */
  day: string;
  tokens: number;
}

/**
 * A tenant's chat tokens for the current UTC day (one object per tenant: `tenant:<id>:quota`), the
 * guard against a denial of wallet: an answer reserves its prompt and max_tokens before the
 * provider is called and the reservation is settled to the actual usage afterwards. The count is
 * in storage, so eviction loses nothing; calls run one at a time with no await in between, so two
 * requests cannot both spend the last tokens.
 */
export class TenantQuota extends DurableObject<Env> {
  reserve(limit: number, tokens: number): { granted: boolean; used: number; day: string } {
    const day = utcDay();
    const stored = this.ctx.storage.kv.get<Usage>(KEY);
    const used = stored?.day === day ? stored.tokens : 0;
    if (used + tokens > limit) return { granted: false, used, day };
    this.ctx.storage.kv.put(KEY, { day, tokens: used + tokens } satisfies Usage);
    return { granted: true, used: used + tokens, day };
  }

  /** Corrects a reservation of `day` by `delta` tokens (negative: less was used than reserved). */
  settle(day: string, delta: number): void {
    const stored = this.ctx.storage.kv.get<Usage>(KEY);
    if (!stored || stored.day !== day || delta === 0) return;
    this.ctx.storage.kv.put(KEY, { day, tokens: Math.max(0, stored.tokens + delta) } satisfies Usage);
  }

  usage(): Usage {
    const stored = this.ctx.storage.kv.get<Usage>(KEY);
    return stored?.day === utcDay() ? stored : { day: utcDay(), tokens: 0 };
  }
}
