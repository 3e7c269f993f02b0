import type { Config } from "../config.ts";
import type { GenerationDone, GenerationPlan } from "../generate/prepare.ts";
import { sha256Hex } from "../hash.ts";
import { counters } from "../observability/counters.ts";
import { ChatError, type ChatModels } from "../providers/chat-model.ts";
import { type Embedder, EmbeddingError } from "../providers/embedder.ts";
import { race } from "../timeouts.ts";
import type { AskCoalescer } from "./ask-coalescer.ts";
import { secondsToMidnight } from "./day.ts";
import type { BatchResult } from "./embedding-batcher.ts";

// How requests reach the Durable Objects. Every object's name starts with the tenant it serves,
// except the rate budget's: a provider's limits belong to the account, and that object holds
// nothing but counts.

/** A Durable Object call failed or took too long: the caller does the work itself, and it is counted. */
export function durableFallback(object: string, err: unknown) {
  counters.inc("rag_fallbacks_total", { kind: `durable_${object}` });
  console.warn(JSON.stringify({ level: "warn", event: "durable_object_fallback", object, error: String(err).slice(0, 300) }));
}

/** Counts a request to a Durable Object (what a deployment pays for, besides the Worker's own requests). */
export const durableRequest = (object: string) => counters.inc("rag_durable_object_requests_total", { object });

const timedOut = (what: string, ms: number) => () => new Error(`${what} did not answer within ${ms} ms`);

let isolateShard: number | undefined;

/** The batcher this isolate uses for a tenant's query embeddings with a given provider and model. */
export function batcherName(tenantId: string, config: Pick<Config, "embedding" | "openai" | "durable">): string {
  const { embedding, openai, durable } = config;
  isolateShard ??= Math.floor(Math.random() * 1_000_000);
  return `tenant:${tenantId}:embed:${sha256Hex(embedding.model, String(embedding.dimensions), openai.baseURL ?? "")}:${isolateShard % durable.batcherShards}`;
}

/**
 * Query embeddings through the tenant's EmbeddingBatcher. Each isolate sticks to one of the
 * configured shards, so its requests batch together while many isolates spread over the shards.
 * If the object cannot be reached or answers too late, `direct` embeds instead (counted); a
 * provider failure inside a batch is the provider's answer and is not retried.
 */
export function batchedEmbedder(env: Env, tenantId: string, config: Config, direct: Embedder): Embedder {
  const { embedding, openai, durable } = config;
  const name = batcherName(tenantId, config);
  // The object's answer may include the SDK's retries of a failing call: wait for all of them.
  const timeoutMs = durable.batchWindowMs + (embedding.maxRetries + 1) * openai.timeoutMs + 10_000;
  const settings = { tenantId, config: { embedding, openai, durable } };
  return {
    model: direct.model,
    dimensions: direct.dimensions,
    batchSize: direct.batchSize,
    async embed(texts, signal) {
      if (texts.length === 0) return [];
      let result: BatchResult;
      try {
        // RPC types a union result oddly; the object returns exactly a BatchResult.
        durableRequest("embedding_batcher");
        const call = env.EMBEDDING_BATCHER.getByName(name).embed(texts, settings) as unknown as Promise<BatchResult>;
        result = await race(call, timeoutMs, timedOut("embedding batcher", timeoutMs));
      } catch (err) {
        durableFallback("embedding_batcher", err);
        return direct.embed(texts, signal);
      }
      if ("error" in result) throw new EmbeddingError(result.error);
      return result.vectors;
    },
  };
}

export interface Budget {
  /** Whether a limit applies (a remote chat provider with a configured limit). */
  readonly active: boolean;
  acquire(tokens: number): Promise<{ granted: boolean; retryAfterMs: number }>;
  refund(tokens: number): Promise<void>;
}

/**
 * The chat provider's rate budget (RateBudget, one object per endpoint and key). Fails open: if
 * the object cannot answer, the call goes ahead (counted), since refusing every answer would be
 * worse than an occasional 429 from the provider, which the fallback model absorbs.
 */
export function chatBudget(env: Env, config: Pick<Config, "chat" | "openai" | "rateBudget">): Budget {
  const { requestsPerMinute, tokensPerMinute, share } = config.rateBudget;
  const active = config.chat.provider === "openai" && (requestsPerMinute > 0 || tokensPerMinute > 0);
  const limits = { requestsPerMinute, tokensPerMinute, share };
  const stub = () =>
    env.RATE_BUDGET.getByName(
      `provider:chat:${sha256Hex(config.openai.baseURL ?? "https://api.openai.com/v1", config.openai.apiKey ?? "")}`,
    );
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
  const active = config.chat.provider === "openai" && limit > 0;
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

/**
 * Tokens an answer spent, to settle its reservation: the usage the provider reported, none for a
 * fallback answer, or for an answer cut short its prompt and the text sent so far (about 4
 * characters a token).
 */
export const tokensSpent = (plan: GenerationPlan, streamedChars: number, done?: GenerationDone): number =>
  done
    ? done.fallback
      ? 0
      : done.usage.promptTokens + done.usage.completionTokens
    : plan.usage.promptTokens + Math.ceil(streamedChars / 4);

/** Gives back to the rate budget and the tenant's quota what an answer did not use of its reservation. */
export async function settleReservation(budget: Budget, quota: Quota, day: string, reserved: number, spent: number): Promise<void> {
  if (!reserved) return;
  await Promise.all([budget.refund(reserved - spent), quota.settle(day, reserved, spent)]);
}

/**
 * The AskCoalescer shard of one answer: one of the tenant's `durable.coalescerShards` objects,
 * chosen by a stable hash of the cache key, so identical asks meet in the same object while a
 * tenant's one-off questions reuse a bounded set of objects (the key is passed to every call).
 */
export function coalescerName(tenantId: string, cacheKey: string, config: Pick<Config, "durable">): string {
  const shard = Number.parseInt(sha256Hex(cacheKey).slice(0, 8), 16) % config.durable.coalescerShards;
  return `tenant:${tenantId}:ask-shard:${shard}`;
}

export const coalescerFor = (
  env: Env,
  tenantId: string,
  cacheKey: string,
  config: Pick<Config, "durable">,
): DurableObjectStub<AskCoalescer> => env.ASK_COALESCER.getByName(coalescerName(tenantId, cacheKey, config));
