import { DurableObject } from "cloudflare:workers";

const COUNTERS = "counters";
/** Gauges of isolates that have not reported for this long are left out (the isolate is gone). */
const GAUGE_TTL_MS = 60_000;

/**
 * Adds up every isolate's metrics for `/metrics`. One object for the deployment (metrics carry no
 * tenant data: their labels are routes, models, providers and reasons). Counter totals are kept
 * in storage, so an eviction loses nothing; gauges are each isolate's latest values, in memory,
 * summed over the isolates heard from in the last minute. A merge is applied whole with no await
 * in between, so concurrent flushes never lose an increment.
 */
export class MetricsAggregator extends DurableObject<Env> {
  private gauges = new Map<string, { at: number; values: Record<string, number> }>();

  merge(isolate: string, counters: Record<string, number>, gauges: Record<string, number>): void {
    if (Object.keys(counters).length > 0) {
      const totals = this.ctx.storage.kv.get<Record<string, number>>(COUNTERS) ?? {};
      for (const [key, by] of Object.entries(counters)) totals[key] = (totals[key] ?? 0) + by;
      this.ctx.storage.kv.put(COUNTERS, totals);
    }
    this.gauges.set(isolate, { at: Date.now(), values: gauges });
  }

  snapshot(): Record<string, number> {
    const out: Record<string, number> = { ...(this.ctx.storage.kv.get<Record<string, number>>(COUNTERS) ?? {}) };
    const now = Date.now();
    for (const [isolate, { at, values }] of this.gauges) {
      if (now - at > GAUGE_TTL_MS) {
        this.gauges.delete(isolate);
        continue;
      }
      for (const [key, value] of Object.entries(values)) out[key] = (out[key] ?? 0) + value;
    }
    return out;
  }
}
