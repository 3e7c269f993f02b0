import type { Config } from "../config.ts";
import { durableFallback, durableRequest, timedOut } from "../durable/calls.ts";
import { secondsToMidnight } from "../durable/day.ts";
import { race } from "../timeouts.ts";

export interface Quota {
  readonly active: boolean;
  /** Reserves `tokens` of today's budget; refused: how long until the budget starts afresh. */
  reserve(tokens: number): Promise<{ granted: true; day: string } | { granted: false; retryAfterS: number }>;
  /** Settles a reservation of `day` to what was used. */
  settle(day: string, reserved: number, used: number): Promise<void>;
}

/**
 * The tenant's daily chat-token budget (TenantQuota). Like the rate budget it fails open, counted:
 * an unreachable quota object must not stop every answer.
 */
export function tenantQuota(env: Env, tenantId: string, config: Pick<Config, "chat" | "rateBudget">): Quota {
  const limit = config.rateBudget.tenantDailyTokens;
  // Every provider but the offline extractive answerer costs money per token.
  const active = config.chat.provider !== "extractive" && limit > 0;
  const stub = () => env.TENANT_QUOTA.getByName(`tenant:${tenantId}:quota`);
  return {
    active,
    async reserve(tokens) {
      if (!active) return { granted: true, day: "" };
      try {
        durableRequest("tenant_quota");
        const r = await race(stub().reserve(limit, tokens), 2_000, timedOut("tenant quota", 2_000));
        return r.granted ? { granted: true, day: r.day } : { granted: false, retryAfterS: secondsToMidnight() };
      } catch (err) {
        durableFallback("tenant_quota", err);
        return { granted: true, day: "" };
      }
    },
    async settle(day, reserved, used) {
      if (!active || !day || reserved === used) return;
      try {
        durableRequest("tenant_quota");
        await race(stub().settle(day, Math.round(used - reserved)), 2_000, timedOut("tenant quota", 2_000));
      } catch (err) {
        durableFallback("tenant_quota", err);
      }
    },
  };
}
