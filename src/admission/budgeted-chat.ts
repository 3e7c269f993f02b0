import { counters } from "../observability/counters.ts";
import { ChatError, type ChatModels } from "../providers/chat-model.ts";
import type { Budget } from "./rate-budget.ts";
import type { Quota } from "./tenant-quota.ts";

/**
 * The chat models with the helper completions (follow-up rewrites, summaries) charged to the
 * tenant's daily quota and the provider's rate budget, like answers: over either, a helper fails
 * fast (no provider call) and its caller uses the heuristic instead. A helper's reservation is
 * settled to its prompt and the text it returned (about 4 characters a token).
 */
export function budgetedChat(chat: ChatModels, budget: Budget, quota: Quota): ChatModels {
  const { primary } = chat;
  if ((!budget.active && !quota.active) || !primary.complete) return chat;
  const complete = primary.complete.bind(primary);
  return {
    ...chat,
    primary: {
      provider: primary.provider,
      stream: primary.stream.bind(primary),
      async complete(messages, options) {
        // A rough count (4 characters a token) is enough to keep a helper inside the budgets.
        const promptTokens = Math.ceil(messages.reduce((n, m) => n + m.content.length, 0) / 4);
        const tokens = promptTokens + options.maxTokens;
        const reserved = await quota.reserve(tokens);
        if (!reserved.granted) {
          counters.inc("rag_tenant_quota_rejections_total", { call: "helper" });
          throw new ChatError("the tenant's daily chat-token budget is spent");
        }
        const { granted } = await budget.acquire(tokens);
        if (!granted) {
          await quota.settle(reserved.day, tokens, 0);
          counters.inc("rag_rate_budget_rejections_total", { provider: primary.provider, call: "helper" });
          throw new ChatError("chat rate budget spent");
        }
        let text = "";
        try {
          text = await complete(messages, options);
          return text;
        } finally {
          // A failed call is charged its prompt: the provider may have read it.
          await quota.settle(reserved.day, tokens, promptTokens + Math.ceil(text.length / 4));
        }
      },
    },
  };
}
