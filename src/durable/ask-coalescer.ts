import { DurableObject } from "cloudflare:workers";
import { settle } from "../admission/admission.ts";
import { chatBudget } from "../admission/rate-budget.ts";
import { tenantQuota } from "../admission/tenant-quota.ts";
import type { Config } from "../config.ts";
import { ApiError } from "../errors.ts";
import { answerRecords, runGeneration } from "../generate/generation.ts";
import type { GenerationPlan } from "../generate/prepare.ts";
import { type AskRecord, encodeRecord, type Problem, toProblem } from "../generate/records.ts";
import { errorText, logLine } from "../log.ts";
import { counters } from "../observability/counters.ts";
import { flushMetrics } from "../observability/flush.ts";
import { ChatError } from "../providers/chat-model.ts";
import { createChatModels } from "../providers/index.ts";
import { toApiError } from "../to-api-error.ts";
import { tokenizerForModel } from "../tokens/tokenizer.ts";

/** What the leading request hands over once it has prepared the answer. */
export interface CoalescedGeneration {
  token: string;
  plan: GenerationPlan;
  /** The `meta` event every client receives (without its own request id and cache status). */
  meta: Record<string, unknown>;
  config: Pick<Config, "chat" | "openai" | "workersAi" | "rateBudget">;
  /** Skip the configured model and answer with the fallback, for this reason (rate budget spent). */
  forceFallback: string | undefined;
  /** Tokens the leader reserved in the rate budget and the tenant's quota; what the answer did not use is given back. */
  reservedTokens: number;
  /** The tenant whose daily quota the reservation is in, and its day ("" when none). */
  quota: { tenantId: string; day: string };
}

/** A client's stream of an answer, and its id for `leave`. */
export interface Subscription {
  stream: ReadableStream<Uint8Array>;
  subscriber: string;
}

export type JoinResult = { role: "leader"; token: string } | ({ role: "follower" } & Subscription);

interface Subscriber {
  id: string;
  writer: WritableStreamDefaultWriter<Uint8Array>;
}

type Phase =
  | { kind: "idle" }
  /** A leader is retrieving; followers wait for it until `deadline`. */
  | { kind: "preparing"; token: string; deadline: number }
  | { kind: "streaming"; token: string; deadline: number; upstream: AbortController }
  /** Finished: replayed to identical asks until `until`, while the answer cache is being written. */
  | { kind: "done"; until: number };

/** The longest a generation may run before the watchdog ends it (the model's own timeouts normally come first). */
const MAX_GENERATION_MS = 5 * 60_000;

/**
 * Shares one answer between identical uncached asks in flight. A tenant's asks are spread over a
 * bounded number of these objects (`tenant:<id>:ask-shard:<n>`, n from a hash of the answer's
 * cache key, see `coalescerName`), so tenants never meet and one-off questions do not each create
 * an object; within an object, every answer in flight is a `CoalescedAnswer` keyed by its cache
 * key, dropped once it is idle again. The first request for a key leads: it retrieves and prepares
 * the prompt in its own worker, then hands the plan over; this object generates the answer once
 * and streams every record to every client, a late joiner first receiving what was already sent.
 * An in-flight answer cannot outlive the object: if it is evicted, its clients' streams break and
 * they report an error; so nothing is stored: a timer in memory is each answer's watchdog (not an
 * alarm, which would give the object storage on disk). A leader that never hands over, or a
 * generation that never ends, releases its followers with an error; the timer only acts on a phase
 * whose deadline has passed.
 */
export class AskCoalescer extends DurableObject<Env> {
  /** The answers in flight or in their grace period, by cache key. */
  private answers = new Map<string, CoalescedAnswer>();

  async join(key: string, options: { prepareTimeoutMs: number }): Promise<JoinResult> {
    let answer = this.answers.get(key);
    if (!answer) {
      answer = new CoalescedAnswer(this.env, this.ctx, (idle) => {
        if (this.answers.get(key) === idle) this.answers.delete(key);
      });
      this.answers.set(key, answer);
    }
    return answer.join(options);
  }

  /** The leader's plan: generation starts, and the leader receives the stream like everyone else. */
  async start(key: string, input: CoalescedGeneration, graceMs: number): Promise<Subscription> {
    const answer = this.answers.get(key);
    if (!answer) throw new Error("the lead on this answer has expired");
    return answer.start(input, graceMs);
  }

  /**
   * A client went away (its request was aborted). Said explicitly: a cancelled stream reaches the
   * object only when it next writes, which may be long after (a model pausing before its next token).
   */
  leave(key: string, subscriber: string): void {
    this.answers.get(key)?.leaveById(subscriber);
  }

  /** The leader could not prepare the answer: its followers get the same problem. */
  fail(key: string, token: string, problem: Problem): void {
    this.answers.get(key)?.fail(token, problem);
  }
}

/** One answer of an AskCoalescer: its phase, the records sent so far, its clients and its watchdog. */
class CoalescedAnswer {
  private phase: Phase = { kind: "idle" };
  private records: AskRecord[] = [];
  private subscribers = new Set<Subscriber>();
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly env: Env,
    private readonly ctx: DurableObjectState,
    /** Called when the answer is idle again: the object forgets it. */
    private readonly release: (answer: CoalescedAnswer) => void,
  ) {}

  /** Runs the watchdog at `at` (replacing an earlier schedule). */
  private wakeAt(at: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.watchdog(), Math.max(0, at - Date.now()));
  }

  /** Back to idle: nothing left to replay or watch, so the object drops this answer. */
  private toIdle(): void {
    this.phase = { kind: "idle" };
    this.records = [];
    clearTimeout(this.timer);
    this.timer = undefined;
    this.release(this);
  }

  join(options: { prepareTimeoutMs: number }): JoinResult {
    const now = Date.now();
    const phase = this.phase;
    if (phase.kind === "preparing" || phase.kind === "streaming" || (phase.kind === "done" && now < phase.until)) {
      return { role: "follower", ...this.subscribe() };
    }
    const token = crypto.randomUUID();
    this.records = [];
    this.phase = { kind: "preparing", token, deadline: now + options.prepareTimeoutMs };
    this.wakeAt(now + options.prepareTimeoutMs);
    return { role: "leader", token };
  }

  start(input: CoalescedGeneration, graceMs: number): Subscription {
    const phase = this.phase;
    if (phase.kind !== "preparing" || phase.token !== input.token) throw new Error("the lead on this answer has expired");
    const upstream = new AbortController();
    const deadline = Date.now() + MAX_GENERATION_MS;
    this.phase = { kind: "streaming", token: input.token, deadline, upstream };
    this.wakeAt(deadline);
    const subscription = this.subscribe();
    this.ctx.waitUntil(this.generate(input, upstream, graceMs).finally(() => flushMetrics(this.env)));
    return subscription;
  }

  fail(token: string, problem: Problem): void {
    const phase = this.phase;
    if (phase.kind !== "preparing" || phase.token !== token) return;
    this.finish({ type: "error", problem }, { kind: "idle" });
  }

  private watchdog(): void {
    const phase = this.phase;
    const now = Date.now();
    if (phase.kind === "preparing" && now >= phase.deadline) {
      counters.inc("rag_errors_total", { kind: "coalesce_lead_timeout" });
      this.finish(
        {
          type: "error",
          problem: toProblem(
            new ApiError(503, "answer-unavailable", "the request preparing this answer did not finish in time; retry", [], {
              "retry-after": "1",
            }),
          ),
        },
        { kind: "idle" },
      );
    } else if (phase.kind === "streaming" && now >= phase.deadline) {
      phase.upstream.abort(new ChatError("generation exceeded its time limit"));
    } else if (phase.kind === "done" && now >= phase.until) {
      this.toIdle();
    } else if (phase.kind !== "idle") {
      // Early (a timer of an earlier phase): look again when this phase's deadline passes.
      this.wakeAt(phase.kind === "done" ? phase.until : phase.deadline);
    }
  }

  private subscribe(): Subscription {
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
    const subscriber: Subscriber = { id: crypto.randomUUID(), writer: writable.getWriter() };
    for (const record of this.records) this.write(subscriber, record);
    if (this.phase.kind === "done" || this.phase.kind === "idle") {
      void subscriber.writer.close().catch(() => {});
      return { stream: readable, subscriber: subscriber.id };
    }
    this.subscribers.add(subscriber);
    // The client went away: its writer errors (or the Worker says so: leaveById). When nobody is
    // left, the generation stops.
    subscriber.writer.closed.catch(() => this.leave(subscriber));
    return { stream: readable, subscriber: subscriber.id };
  }

  leaveById(id: string) {
    for (const s of this.subscribers) {
      if (s.id !== id) continue;
      void s.writer.abort(new Error("client disconnected")).catch(() => {});
      this.leave(s);
    }
  }

  private leave(subscriber: Subscriber) {
    if (!this.subscribers.delete(subscriber)) return;
    if (this.subscribers.size === 0 && this.phase.kind === "streaming") {
      this.phase.upstream.abort(new Error("every client disconnected"));
    }
  }

  private write(subscriber: Subscriber, record: AskRecord) {
    subscriber.writer.write(encodeRecord(record)).catch(() => this.leave(subscriber));
  }

  private publish(record: AskRecord) {
    this.records.push(record);
    for (const s of this.subscribers) this.write(s, record);
  }

  /** Ends the answer with `last` (a done or error record) and closes every client's stream. */
  private finish(last: AskRecord, next: Phase) {
    if (last.type === "done") {
      // Exactly one client caches the answer: the earliest still listening.
      let writer = true;
      for (const s of this.subscribers) {
        this.write(s, { ...last, writer });
        writer = false;
      }
      this.records.push({ ...last, writer: false });
    } else {
      this.publish(last);
    }
    for (const s of this.subscribers) void s.writer.close().catch(() => {});
    this.subscribers.clear();
    if (next.kind === "idle" || (next.kind === "done" && Date.now() >= next.until)) {
      // An error, or an answer with no grace period: nothing to replay.
      this.toIdle();
      return;
    }
    this.phase = next;
    if (next.kind === "done") this.wakeAt(next.until);
  }

  private async generate(input: CoalescedGeneration, upstream: AbortController, graceMs: number) {
    const { plan, config } = input;
    const startedAt = performance.now() - plan.preparedAfterMs;
    const gate = { budget: chatBudget(this.env, config), quota: tenantQuota(this.env, input.quota.tenantId, config) };
    const reservation = { tokens: input.reservedTokens, day: input.quota.day, forceFallback: input.forceFallback };
    let settling: Promise<void> = Promise.resolve();
    this.publish({ type: "meta", meta: input.meta, timings: plan.timings });
    try {
      const tokenizer = await tokenizerForModel(plan.request.model);
      const chat = createChatModels(config, () => Promise.resolve(tokenizer), this.env);
      const generation = runGeneration(chat, tokenizer, plan, upstream.signal, { startedAt, forceFallback: input.forceFallback });
      const settleSpent = (spent: number) => {
        settling = settle(gate, reservation, spent);
      };
      for await (const record of answerRecords(generation, plan, upstream.signal, settleSpent, { coalesced: true })) {
        if (record.type === "delta") this.publish(record);
        else if (record.type === "done") return this.finish(record, { kind: "done", until: Date.now() + graceMs });
        else return this.finish(record, { kind: "idle" });
      }
      // Every client went away, or the watchdog stopped a generation that ran too long.
      this.finish(
        {
          type: "error",
          problem: toProblem(new ApiError(503, "answer-unavailable", "the answer was stopped", [], { "retry-after": "1" })),
        },
        { kind: "idle" },
      );
    } catch (err) {
      counters.inc("rag_errors_total", { kind: "stream" });
      logLine("warn", { event: "ask_stream_failed", coalesced: true, error: errorText(err) });
      this.finish({ type: "error", problem: toProblem(toApiError(err)) }, { kind: "idle" });
    } finally {
      await settling;
    }
  }
}
