import type { Config } from "../config.ts";
import { durableFallback, durableRequest, timedOut } from "../durable/calls.ts";
import { sha256Hex } from "../hash.ts";
import { workersAiEndpoint } from "../providers/workers-ai-binding.ts";
import { race } from "../timeouts.ts";

export interface Budget {
  /** Whether a limit applies (a remote chat provider with a configured limit). */
  readonly active: boolean;
  acquire(tokens: number): Promise<{ granted: boolean; retryAfterMs: number }>;
  refund(tokens: number): Promise<void>;
}

/**
 * The chat provider's rate budget (RateBudget, one object per endpoint and key: for openai the
 * server and API key, for workers-ai the model and the gateway in front of it). Fails open: if
 * the object cannot answer, the call goes ahead (counted), since refusing every answer would be
 * worse than an occasional 429 from the provider, which the fallback model absorbs.
 */
export function chatBudget(env: Env, config: Pick<Config, "chat" | "openai" | "workersAi" | "rateBudget">): Budget {
  const { requestsPerMinute, tokensPerMinute, share } = config.rateBudget;
  const active = config.chat.provider !== "extractive" && (requestsPerMinute > 0 || tokensPerMinute > 0);
  const limits = { requestsPerMinute, tokensPerMinute, share };
  const endpoint =
    config.chat.provider === "workers-ai"
      ? sha256Hex(workersAiEndpoint(config))
      : sha256Hex(config.openai.baseURL ?? "https://api.openai.com/v1", config.openai.apiKey ?? "");
  const stub = () => env.RATE_BUDGET.getByName(`provider:chat:${endpoint}`);
  return {
    active,
    async acquire(tokens) {
      if (!active) return { granted: true, retryAfterMs: 0 };
      try {
        durableRequest("rate_budget");
        return await race(stub().acquire(limits, { requests: 1, tokens }), 2_000, timedOut("rate budget", 2_000));
      } catch (err) {
        durableFallback("rate_budget", err);
        return { granted: true, retryAfterMs: 0 };
      }
    },
    async refund(tokens) {
      if (!active || tokens <= 0) return;
      try {
        durableRequest("rate_budget");
        await race(stub().refund(limits, Math.round(tokens)), 2_000, timedOut("rate budget", 2_000));
      } catch (err) {
        durableFallback("rate_budget", err);
      }
    },
  };
}
