import { type Config, ConfigError } from "../config.ts";

// What the Workers AI embedder and chat model share: the binding itself, the AI Gateway option,
// error statuses and a deadline for calls the binding may not end on its own.

/**
 * Workers AI's internal error codes and the HTTP status Cloudflare documents for each
 * (developers.cloudflare.com/workers-ai/platform/errors). The binding throws a plain Error
 * (InferenceUpstreamError) whose message starts with the code, "3040: Capacity temporarily
 * exceeded…", and carries no status of its own.
 */
export const WORKERS_AI_ERROR_STATUS: Readonly<Record<number, number>> = {
  5007: 400, // no such model
  5004: 400, // invalid data
  3039: 400, // finetune missing files
  3003: 400, // incomplete request
  5018: 403, // account not allowed for private model
  5016: 403, // model agreement not accepted
  3023: 403, // account blocked
  3041: 403, // account not allowed for private model
  5019: 405, // deprecated SDK version
  5005: 405, // LoRA unsupported
  3042: 404, // invalid model id
  3006: 413, // request too large
  3007: 408, // timeout
  3008: 408, // aborted
  3036: 429, // daily free allocation used up
  3040: 429, // out of capacity
};

/** The documented HTTP status of an error the binding threw, from the code its message starts with. */
export function workersAiStatus(err: unknown): number | undefined {
  const message = err instanceof Error ? err.message : typeof err === "string" ? err : "";
  const code = /(?:^|\s)(\d{4}): /.exec(message)?.[1];
  return code === undefined ? undefined : WORKERS_AI_ERROR_STATUS[Number(code)];
}

/** Worth calling again: out of capacity, a timeout, or a failure that names no code (the binding's own). */
export const isTransient = (status: number | undefined) => status === undefined || status === 408 || status === 429 || status >= 500;

/**
 * The AI binding, or a ConfigError saying how to declare it: without it a workers-ai provider
 * cannot work, and the request says so (500 misconfigured) rather than failing on `undefined`.
 */
export function requireAi(ai: Ai | undefined, variable: "EMBEDDING_PROVIDER" | "CHAT_PROVIDER"): Ai {
  if (ai && typeof ai.run === "function") return ai;
  throw new ConfigError(
    `invalid configuration: ${variable}=workers-ai needs the Workers AI binding: add [ai] binding = "AI" to wrangler.toml (docs/WORKERS_AI.md)`,
  );
}

/**
 * The binding's `gateway` option: none without AI_GATEWAY_ID. The gateway's cache is skipped
 * unless AI_GATEWAY_CACHE=on, since it keys on the request alone and not on our data versions.
 */
export function gatewayOption(options: Config["workersAi"]): GatewayOptions | undefined {
  if (!options.gateway) return undefined;
  if (!options.gatewayCache) return { id: options.gateway, skipCache: true };
  return options.gatewayCacheTtlSeconds === undefined
    ? { id: options.gateway, skipCache: false }
    : { id: options.gateway, skipCache: false, cacheTtl: options.gatewayCacheTtlSeconds };
}

/**
 * Names what a Workers AI chat call reaches, for its breaker and rate budget: the model (capacity
 * is per model) through a gateway (which has rate limits of its own). The account is the
 * Worker's own, so it needs no naming.
 */
export const workersAiEndpoint = (config: Pick<Config, "chat" | "workersAi">) =>
  `workers-ai:${config.workersAi.gateway ?? "direct"}:${config.chat.model}`;

/**
 * Runs `work` with a signal that aborts when `signal` does or after `ms`, and rejects at that
 * moment even if the binding has not noticed: older bindings ignore the signal option.
 */
export async function withinDeadline<T>(
  ms: number,
  signal: AbortSignal | undefined,
  work: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error(`Workers AI sent no answer within ${ms} ms`)), ms);
  const onAbort = () => controller.abort(signal?.reason);
  if (signal?.aborted) onAbort();
  signal?.addEventListener("abort", onAbort);
  try {
    return await untilAborted(work(controller.signal), controller.signal);
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
  }
}

/** `work`, or a rejection with the signal's reason as soon as it aborts. */
export function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    work.catch(() => {});
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}
