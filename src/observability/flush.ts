import { drain, restore } from "./counters.ts";

/** How often an isolate sends its metrics at most (a request that ends later sends them). */
const FLUSH_INTERVAL_MS = 1_000;
const FLUSH_TIMEOUT_MS = 2_000;

let isolateId: string | undefined;
let lastFlush = 0;
let inFlight: Promise<void> | undefined;

const aggregator = (env: Env) => env.METRICS.getByName("metrics");

/**
 * Sends what this isolate counted since its last flush to the MetricsAggregator: at most once a
 * second unless `force`d (GET /metrics forces it, so its own isolate is always current). A failed
 * send keeps the increments for the next one; metrics never fail a request.
 */
export function flushMetrics(env: Env, force = false): Promise<void> {
  const now = Date.now();
  if (inFlight) return force ? inFlight.then(() => flushMetrics(env, true)) : inFlight;
  if (!force && now - lastFlush < FLUSH_INTERVAL_MS) return Promise.resolve();
  lastFlush = now;
  isolateId ??= crypto.randomUUID();
  const { counters, gauges } = drain();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Error("metrics aggregator timed out");
  inFlight = Promise.race([
    aggregator(env).merge(isolateId, counters, gauges),
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(timedOut), FLUSH_TIMEOUT_MS))),
  ])
    // A call that failed is sent again; one that timed out may still land, so it is not (a lost
    // increment is better than a counted-twice one).
    .catch((err) => (err === timedOut ? undefined : restore(counters)))
    .finally(() => {
      clearTimeout(timer);
      inFlight = undefined;
    });
  return inFlight;
}

/** Every isolate's metrics (after sending this isolate's), as series → value. */
export async function aggregatedMetrics(env: Env): Promise<Record<string, number>> {
  await flushMetrics(env, true);
  return aggregator(env).snapshot();
}
