import { errorText, logLine } from "../log.ts";
import { counters } from "../observability/counters.ts";

// How requests reach the Durable Objects: every call is counted, and a call that fails or takes
// too long is counted as a fallback while the caller does the work itself. Every object's name
// starts with the tenant it serves, except the rate budget's (a provider's limits belong to the
// account, and that object holds nothing but counts) and the metrics aggregator's.

/** A Durable Object call failed or took too long: the caller does the work itself, and it is counted. */
export function durableFallback(object: string, err: unknown) {
  counters.inc("rag_fallbacks_total", { kind: `durable_${object}` });
  logLine("warn", { event: "durable_object_fallback", object, error: errorText(err) });
}

/** Counts a request to a Durable Object (what a deployment pays for, besides the Worker's own requests). */
export const durableRequest = (object: string) => counters.inc("rag_durable_object_requests_total", { object });

export const timedOut = (what: string, ms: number) => () => new Error(`${what} did not answer within ${ms} ms`);
