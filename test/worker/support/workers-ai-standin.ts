import type {
  AiAsyncBatchResponse,
  Ai as PublishedAi,
  AiOptions as PublishedAiOptions,
  AiModels as PublishedModels,
} from "@cloudflare/workers-types/index.ts";

// A local stand-in for the Workers AI binding (env.AI), which cannot be reached offline. It takes
// the inputs and options the binding takes and answers as Cloudflare documents it: embeddings as
// `{ shape, data }`; a streamed generation as the bytes of an event stream (`data: {"response":…,
// "p":…}` events, usage in the last one, then `data: [DONE]`); failures thrown as the binding
// throws them, an Error named InferenceUpstreamError whose message starts with the internal code
// ("3040: …", developers.cloudflare.com/workers-ai/platform/errors). Its types are the published
// ones of @cloudflare/workers-types, so `npm run typecheck` fails if it drifts from them.

export const EMBEDDING_MODELS = {
  "@cf/baai/bge-small-en-v1.5": 384,
  "@cf/baai/bge-base-en-v1.5": 768,
  "@cf/baai/bge-large-en-v1.5": 1024,
} as const;
export type EmbeddingModel = keyof typeof EMBEDDING_MODELS;
export const CHAT_MODEL = "@cf/meta/llama-3.3-70b-instruct-fp8-fast";
type ChatModel = typeof CHAT_MODEL;

/** The published models the stand-in serves: its `run` is the published `run` over exactly these. */
type Served = Pick<PublishedModels, EmbeddingModel | ChatModel>;
type EmbedInput = Served[EmbeddingModel]["inputs"];
type EmbedOutput = Served[EmbeddingModel]["postProcessedOutputs"];
type ChatInput = Served[ChatModel]["inputs"];
type ChatOutput = Served[ChatModel]["postProcessedOutputs"];

// The provider is compiled against the generated types (worker-configuration.d.ts, `wrangler
// types`), the stand-in against the published package: for the models served they must agree.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Generated = Pick<AiModels, EmbeddingModel | ChatModel>;
export const GENERATED_TYPES_AGREE: {
  [M in keyof Served]: [
    Same<Generated[M]["inputs"], Served[M]["inputs"]>,
    Same<Generated[M]["postProcessedOutputs"], Served[M]["postProcessedOutputs"]>,
  ];
} = {
  "@cf/baai/bge-small-en-v1.5": [true, true],
  "@cf/baai/bge-base-en-v1.5": [true, true],
  "@cf/baai/bge-large-en-v1.5": [true, true],
  "@cf/meta/llama-3.3-70b-instruct-fp8-fast": [true, true],
};
export const OPTIONS_AGREE: [
  Same<AiOptions["gateway"], PublishedAiOptions["gateway"]>,
  Same<AiOptions["signal"], PublishedAiOptions["signal"]>,
] = [true, true];

/** A failure as the binding reports it: internal code and description from Cloudflare's table. */
export const FAILURES = {
  capacity: { code: 3040, description: "Capacity temporarily exceeded, please try again." },
  dailyLimit: { code: 3036, description: "You have used up your daily free allocation of 10,000 neurons." },
  timeout: { code: 3007, description: "Request timeout" },
  tooLarge: { code: 3006, description: "Request is too large" },
  noSuchModel: { code: 5007, description: "No such model or task" },
  incomplete: { code: 3003, description: "Request is missing headers or body" },
} as const;
export type Failure = { code: number; description: string };

/** The error the binding throws for a non-OK answer (workerd's ai-api.ts: InferenceUpstreamError). */
export function upstreamError(failure: Failure): Error {
  const err = new Error(`${failure.code}: ${failure.description}`);
  err.name = "InferenceUpstreamError";
  return err;
}

export interface ChatScript {
  /** The answer, streamed `wordsPerPiece` words an event (default 2). */
  text?: string;
  wordsPerPiece?: number;
  /** Wait before each event after the first. */
  pieceDelayMs?: number;
  /** Usage in the last event before [DONE] (default true). */
  usage?: boolean;
  /** "call": `run` never answers; "first-token": the stream opens and stays silent. Both end only when aborted. */
  hang?: "call" | "first-token";
  /** `run` throws this. */
  fail?: Failure;
  /** The stream breaks (a lost connection) after this many events. */
  breakAfterPieces?: number;
  /** The non-streamed answer (follow-up rewrites, summaries). */
  completion?: string;
}

export interface EmbedScript {
  /** `run` throws this, for the first `failTimes` calls (default: every call). */
  fail?: Failure;
  failTimes?: number;
  /** Answer as an async-queue request (`{ request_id }`) instead of vectors. */
  queued?: boolean;
}

export interface StandInCall {
  model: string;
  inputs: Record<string, unknown>;
  gateway: PublishedAiOptions["gateway"];
  /** Whether the caller passed a signal. */
  signal: boolean;
  /** A stream the caller cancelled (or aborted) before its end. */
  cancelled?: boolean;
  /** A stream that reached [DONE]. */
  finished?: boolean;
}

const encoder = new TextEncoder();
const sse = (data: unknown) => `data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`;
const tokens = (text: string) => Math.ceil(text.length / 4);

/**
 * A vector that depends only on the text (no randomness): each word adds ±1 at places its hash
 * picks, so texts that share words point the same way, which is enough for retrieval tests.
 */
export function standInEmbedding(text: string, dimensions: number): number[] {
  const v = new Array<number>(dimensions).fill(0);
  for (const word of text.toLowerCase().match(/[a-z0-9]+/g) ?? []) {
    let h = 2166136261;
    for (const ch of word) h = Math.imul(h ^ ch.charCodeAt(0), 16777619) >>> 0;
    for (let k = 0; k < 4; k++) {
      h = Math.imul(h ^ (h >>> 15), 2246822507) >>> 0;
      v[h % dimensions]! += h & 1 ? 1 : -1;
    }
  }
  const norm = Math.hypot(...v) || 1;
  return v.map((x) => x / norm);
}

/** Waits `ms`, or rejects when `signal` aborts. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(resolve, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** The Workers AI binding, played locally. Pass it as `AI` in the env; `calls` records what it was asked. */
export class WorkersAiStandIn {
  readonly calls: StandInCall[] = [];

  constructor(
    public chatScript: ChatScript = {},
    public embedScript: EmbedScript = {},
  ) {}

  /** This stand-in where the Worker expects its binding. */
  get binding(): Ai {
    return this as unknown as Ai;
  }

  // The published overloads of Ai.run, over the models served (GENERATED_TYPES_AGREE, RUN_IS_PUBLISHED).
  run<Name extends keyof Served>(
    model: Name,
    inputs: { requests: Served[Name]["inputs"][] },
    options: PublishedAiOptions & { queueRequest: true },
  ): Promise<AiAsyncBatchResponse>;
  run<Name extends keyof Served>(
    model: Name,
    inputs: Served[Name]["inputs"],
    options: PublishedAiOptions & { returnRawResponse: true },
  ): Promise<Response>;
  run<Name extends keyof Served>(
    model: Name,
    inputs: Served[Name]["inputs"],
    options: PublishedAiOptions & { websocket: true },
  ): Promise<Response>;
  run<Name extends keyof Served>(
    model: Name,
    inputs: Served[Name]["inputs"] & { stream: true },
    options?: PublishedAiOptions,
  ): Promise<ReadableStream>;
  run<Name extends keyof Served>(
    model: Name,
    inputs: Served[Name]["inputs"],
    options?: PublishedAiOptions,
  ): Promise<Served[Name]["postProcessedOutputs"]>;
  run<Model extends string>(
    model: Model extends keyof Served ? never : Model,
    inputs: Record<string, unknown>,
    options?: PublishedAiOptions,
  ): Promise<Record<string, unknown>>;
  async run(model: string, inputs: Record<string, unknown>, options: PublishedAiOptions = {}): Promise<unknown> {
    const call: StandInCall = { model, inputs: structuredClone(inputs), gateway: options.gateway, signal: options.signal !== undefined };
    this.calls.push(call);
    if (options.returnRawResponse || options.websocket || options.queueRequest)
      throw new Error("the stand-in plays run() only (no raw responses, websockets or queued batches)");
    if (model in EMBEDDING_MODELS) return this.embed(model as EmbeddingModel, inputs as EmbedInput);
    if (model === CHAT_MODEL) return this.chat(call, inputs as ChatInput, options.signal ?? new AbortController().signal);
    throw upstreamError({ code: 5007, description: `No such model ${model} or task` });
  }

  private embed(model: EmbeddingModel, inputs: EmbedInput): EmbedOutput {
    const script = this.embedScript;
    if (script.fail && (script.failTimes === undefined || this.calls.length <= script.failTimes)) throw upstreamError(script.fail);
    if (script.queued) return { request_id: `standin-${this.calls.length}` } satisfies EmbedOutput;
    if (!("text" in inputs)) throw upstreamError(FAILURES.incomplete);
    const texts = Array.isArray(inputs.text) ? inputs.text : [inputs.text];
    const dimensions = EMBEDDING_MODELS[model];
    return {
      shape: [texts.length, dimensions],
      data: texts.map((t) => standInEmbedding(t, dimensions)),
      pooling: "mean",
    } satisfies EmbedOutput;
  }

  private async chat(call: StandInCall, inputs: ChatInput, signal: AbortSignal): Promise<ReadableStream<Uint8Array> | ChatOutput> {
    const script = this.chatScript;
    if (!("messages" in inputs) || !Array.isArray(inputs.messages) || inputs.messages.length === 0)
      throw upstreamError(FAILURES.incomplete);
    const promptTokens = inputs.messages.reduce((n, m) => n + tokens(typeof m.content === "string" ? m.content : ""), 0);
    if (script.hang === "call") await pause(2_147_483_647, signal);
    if (script.fail) throw upstreamError(script.fail);
    if (!inputs.stream) {
      const response = script.completion ?? script.text ?? "";
      return {
        response,
        usage: { prompt_tokens: promptTokens, completion_tokens: tokens(response), total_tokens: promptTokens + tokens(response) },
      } satisfies ChatOutput;
    }
    const words = (script.text ?? "").split(/(?<= )/);
    const per = script.wordsPerPiece ?? 2;
    const pieces = Array.from({ length: Math.ceil(words.length / per) }, (_, i) => words.slice(i * per, (i + 1) * per).join(""));
    const events = pieces.map((response, i) => sse({ response, p: "abcdefghijklmnopqrstuvwxyz0123456789".slice(0, 1 + (i % 36)) }));
    const completionTokens = pieces.length;
    if (script.usage !== false)
      events.push(
        sse({
          response: "",
          usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens },
        }),
      );
    events.push(sse("[DONE]"));
    const stop = new AbortController();
    const ended = AbortSignal.any([signal, stop.signal]);
    let sent = 0;
    return new ReadableStream<Uint8Array>({
      async pull(controller) {
        try {
          if (script.hang === "first-token") await pause(2_147_483_647, ended);
          if (sent > 0 && script.pieceDelayMs) await pause(script.pieceDelayMs, ended);
        } catch {
          // Cancelled by the reader: cancel() has recorded it. Aborted through the signal: the stream fails.
          if (!stop.signal.aborted) {
            call.cancelled = true;
            controller.error(signal.reason);
          }
          return;
        }
        if (script.breakAfterPieces !== undefined && sent >= script.breakAfterPieces) {
          controller.error(new Error("Network connection lost."));
          return;
        }
        // Bytes arrive in arbitrary slices: each event is sent in two, cut inside its JSON.
        const bytes = encoder.encode(events[sent++]!);
        const cut = Math.floor(bytes.length / 2);
        controller.enqueue(bytes.subarray(0, cut));
        controller.enqueue(bytes.subarray(cut));
        if (sent === events.length) {
          call.finished = true;
          controller.close();
        }
      },
      cancel() {
        if (!call.finished) call.cancelled = true;
        stop.abort();
      },
    });
  }
}

// The stand-in's run is the published binding's run, overload for overload, over the models served.
// TypeScript relates overloads loosely (a changed return type may pass): the outputs' `satisfies`
// checks above are the strong part; this one catches a changed parameter list.
export const RUN_IS_PUBLISHED: PublishedAi<Served>["run"] = WorkersAiStandIn.prototype.run;
