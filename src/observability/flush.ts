import { race } from "../timeouts.ts";
import { counters as counted, drain, restore } from "./counters.ts";

/** How often an isolate sends its metrics at most (a request that ends later sends them). */
const FLUSH_INTERVAL_MS = 1_000;
const FLUSH_TIMEOUT_MS = 2_000;

let isolateId: string | undefined;
let lastFlush = 0;
/** When the flush under way started (0: none). Never its promise: it belongs to another request. */
let flushingSince = 0;

const aggregator = (env: Env) => env.METRICS.getByName("metrics");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Sends what this isolate counted since its last flush to the MetricsAggregator: at most once a
 * second unless `force`d (GET /metrics forces it, so its own isolate is always current). A failed
 * send keeps the increments for the next one; metrics never fail a request.
 *
 * workerd ties a promise to the request that made it: a request must never await another
 * request's flush (if that request is cancelled, the promise never completes). So a flush under
 * way is only observed through a timestamp: others skip, a forced one waits for it to finish.
 */
export async function flushMetrics(env: Env, force = false): Promise<void> {
  if (force) {
    for (let waited = 0; flushingSince && Date.now() - flushingSince < FLUSH_TIMEOUT_MS && waited < FLUSH_TIMEOUT_MS; waited += 10)
      await sleep(10);
  } else if ((flushingSince && Date.now() - flushingSince < FLUSH_TIMEOUT_MS) || Date.now() - lastFlush < FLUSH_INTERVAL_MS) {
    return;
  }
  const now = Date.now();
  lastFlush = now;
  flushingSince = now;
  isolateId ??= crypto.randomUUID();
  const { counters, gauges } = drain();
  // Counted for the next flush: this request to the aggregator is one a deployment pays for.
  counted.inc("rag_durable_object_requests_total", { object: "metrics" });
  const timedOut = new Error("metrics aggregator timed out");
  try {
    await race(aggregator(env).merge(isolateId, counters, gauges), FLUSH_TIMEOUT_MS, () => timedOut);
  } catch (err) {
    // A call that failed is sent again; one that timed out may still land, so it is not (a lost
    // increment is better than a counted-twice one).
    if (err !== timedOut) restore(counters);
  } finally {
    if (flushingSince === now) flushingSince = 0;
  }
}

/** Every isolate's metrics (after sending this isolate's), as series → value. */
export async function aggregatedMetrics(env: Env): Promise<Record<string, number>> {
  await flushMetrics(env, true);
  return aggregator(env).snapshot();
}
