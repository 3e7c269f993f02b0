/** One message of a chat prompt, in the role-based form every chat API shares. */
export interface ChatMessage {
  role: "system" | "user" | "assistant";
  content: string;
}

/** One message of a source: who sent it, when (ISO 8601), and its text exactly as the model read it. */
export interface SourceMessage {
  id: string;
  authorName: string;
  authorType: string;
  timestamp: string;
  text: string;
}

/** A retrieved excerpt as an answerer sees it: its citation number, who spoke, when, and the text. */
export interface AnswerSource {
  n: number;
  /** The source's id (its chunk's). */
  id: string;
  conversationId: string;
  speakers: string[];
  start: Date;
  end: Date;
  /** The chunk text: one "[date time] Speaker: text" line per message. */
  text: string;
  /** The messages of `text`, one per line, in order. */
  messages: SourceMessage[];
}

export interface ChatRequest {
  /** The full prompt (system rules, history, excerpts, question) for models that read one. */
  messages: ChatMessage[];
  /** The standalone question and the excerpts, for answerers that work on them directly. */
  question: string;
  sources: AnswerSource[];
  model: string;
  temperature: number;
  maxTokens: number;
}

export type FinishReason = "stop" | "length";

export interface ChatFinish {
  finishReason: FinishReason;
  /** Token usage as the provider reported it, when it did. */
  usage?: { promptTokens: number; completionTokens: number };
}

/** Who generates an answer: the label of its metrics and of the ask's `provider` field. */
export type ChatProvider = "extractive" | "openai" | "workers-ai";

/**
 * Generates answers. Implementations: extractive (offline, the default), openai (any
 * OpenAI-compatible server) and workers-ai (Cloudflare's models through the AI binding).
 */
export interface ChatModel {
  readonly provider: ChatProvider;
  /**
   * Streams the answer as text pieces and returns how it finished. Aborting `signal` stops the
   * upstream generation. Throws ChatError when the provider fails.
   */
  stream(request: ChatRequest, signal: AbortSignal): AsyncGenerator<string, ChatFinish>;
  /**
   * One short non-streamed completion (follow-up rewriting, history summaries); absent on
   * answerers that cannot follow instructions, whose callers use a heuristic instead.
   */
  complete?(messages: ChatMessage[], options: { model: string; maxTokens: number; signal: AbortSignal }): Promise<string>;
}

/** Sends traffic to the fallback while a provider fails (implemented by CircuitBreaker). */
export interface Breaker {
  /** closed: call the provider; probe: call it as the one test after a pause; open: use the fallback. */
  allow(): "closed" | "probe" | "open";
  success(): void;
  failure(retryAfterMs?: number): void;
  readonly state: "closed" | "open" | "half-open";
}

/** The configured model, its fallback, and the breaker that sends traffic to the fallback while the provider fails. */
export interface ChatModels {
  primary: ChatModel;
  fallback: ChatModel;
  breaker?: Breaker;
}

/** A provider failure; `status` is the upstream HTTP status when there was one. */
export class ChatError extends Error {
  override name = "ChatError";
  readonly status: number | undefined;
  /** How long the provider asked us to wait (its Retry-After), when it did. */
  readonly retryAfterMs: number | undefined;
  constructor(message: string, status?: number, options?: { cause?: unknown; retryAfterMs?: number | undefined }) {
    super(message, options);
    this.status = status;
    this.retryAfterMs = options?.retryAfterMs;
  }
}
