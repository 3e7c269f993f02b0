import type { Reservation } from "../admission/admission.ts";
import type { JoinResult } from "../durable/ask-coalescer.ts";
import { durableFallback, durableRequest } from "../durable/calls.ts";
import type { PreparedAsk } from "../generate/prepare.ts";
import { type RecordSource, streamRecords, toProblem } from "../generate/records.ts";
import { counters } from "../observability/counters.ts";
import type { Services } from "../services.ts";
import { race } from "../timeouts.ts";
import { toApiError } from "../to-api-error.ts";
import { coalescerFor } from "./coalescer-client.ts";

/** A prepared answer and its reservation: what generation needs, here or in the AskCoalescer. */
export interface Ready {
  prepared: PreparedAsk;
  meta: Record<string, unknown>;
  reservation: Reservation;
}

export interface Opened {
  source: RecordSource;
  role: "local" | "leader" | "follower";
  /** Counts a shared answer that broke before it began (the caller then answers on its own). */
  fallback(err: unknown): void;
}

/**
 * The answer's records, shared between identical cacheable asks in flight when that saves a
 * model call: the first request joins the AskCoalescer of its cache key as leader, prepares, and
 * hands the plan over; later identical ones follow the same stream. The extractive answerer is
 * not shared (it costs less than the Durable Object round trip), and neither is an ask without a
 * key, with coalescing off, or when the object fails: `local` answers it in this request.
 */
export async function shareAnswer(
  services: Services,
  key: string | undefined,
  prepare: () => Promise<Ready>,
  /** Answers in this request, from `ready` when it is already prepared. */
  local: (ready?: Ready) => Promise<RecordSource>,
): Promise<Opened> {
  const { config } = services;
  const fallback = (err: unknown) => durableFallback("ask_coalescer", err);
  if (!key || !config.durable.coalesceAsks || config.chat.provider === "extractive")
    return { source: await local(), role: "local", fallback };
  const stub = coalescerFor(services.env, services.tenantId, key, config);
  let joined: JoinResult | undefined;
  try {
    durableRequest("ask_coalescer");
    // RPC types a union result oddly; the object returns exactly a JoinResult.
    const call = stub.join(key, { prepareTimeoutMs: config.durable.coalescePrepareTimeoutMs }) as unknown as Promise<JoinResult>;
    joined = await race(call, 5_000, () => new Error("ask coalescer did not answer within 5000 ms"));
  } catch (err) {
    fallback(err);
  }
  // A client that goes away says so to the object (see AskCoalescer.leave).
  const leaving = (subscriber: string) => () => services.defer(stub.leave(key, subscriber).catch(() => {}));
  if (joined?.role === "follower") {
    counters.inc("rag_coalesced_requests_total");
    return { source: streamRecords(joined.stream, leaving(joined.subscriber)), role: "follower", fallback };
  }
  if (joined?.role !== "leader") return { source: await local(), role: "local", fallback };
  const token = joined.token;
  let ready: Ready;
  try {
    ready = await prepare();
  } catch (err) {
    // Followers waiting on this lead get the same problem.
    durableRequest("ask_coalescer");
    services.defer(stub.fail(key, token, toProblem(toApiError(err))).catch(() => {}));
    throw err;
  }
  try {
    const { chat, openai, workersAi, rateBudget } = config;
    durableRequest("ask_coalescer");
    const { stream, subscriber } = await stub.start(
      key,
      {
        token,
        plan: ready.prepared.plan,
        meta: ready.meta,
        config: { chat, openai, workersAi, rateBudget },
        forceFallback: ready.reservation.forceFallback,
        reservedTokens: ready.reservation.tokens,
        quota: { tenantId: services.tenantId, day: ready.reservation.day },
      },
      config.durable.coalesceGraceMs,
    );
    return { source: streamRecords(stream, leaving(subscriber)), role: "leader", fallback };
  } catch (err) {
    fallback(err);
    return { source: await local(ready), role: "local", fallback };
  }
}
