import { DURATION_BUCKETS, type Labels, METRICS } from "./catalog.ts";

/**
 * This isolate's metrics: counters, histograms (as their `_bucket`, `_sum` and `_count` counters)
 * and gauges, keyed by name and labels. `/metrics` shows every isolate's: each one sends what
 * changed since its last flush to the MetricsAggregator Durable Object (`flush.ts`). Labels come
 * from fixed sets (route, model, provider, cache level, reason) and must never carry tenants'
 * text or keys.
 */
const values = new Map<string, number>();
/** Counter increments not yet sent to the aggregator. */
const pending = new Map<string, number>();
/** This isolate's current gauge values. */
const gauges = new Map<string, number>();

const escapeLabel = (v: string) => v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");

/** The series key, in Prometheus' own notation: `name{a="1",b="2"}` (labels sorted). */
export const seriesKey = (name: string, labels: Labels) => {
  const entries = Object.entries(labels).sort(([a], [b]) => a.localeCompare(b));
  return entries.length ? `${name}{${entries.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(",")}}` : `${name}{}`;
};

const add = (map: Map<string, number>, key: string, by: number) => map.set(key, (map.get(key) ?? 0) + by);

export const counters = {
  inc(name: string, labels: Labels = {}, by = 1): void {
    const key = seriesKey(name, labels);
    add(values, key, by);
    add(pending, key, by);
  },
  get(name: string, labels: Labels = {}): number {
    return values.get(seriesKey(name, labels)) ?? 0;
  },
  snapshot(): Record<string, number> {
    return Object.fromEntries(values);
  },
};

export const metrics = {
  /** One observation of a histogram, into the buckets its catalog entry declares (`/metrics` relies on them). */
  observe(name: string, labels: Labels, value: number): void {
    const buckets = METRICS[name]?.buckets ?? DURATION_BUCKETS;
    for (const le of buckets) if (value <= le) counters.inc(`${name}_bucket`, { ...labels, le: String(le) });
    counters.inc(`${name}_bucket`, { ...labels, le: "+Inf" });
    counters.inc(`${name}_sum`, labels, value);
    counters.inc(`${name}_count`, labels);
  },
  gauge(name: string, labels: Labels, delta: number): void {
    add(gauges, seriesKey(name, labels), delta);
  },
  gaugeValue(name: string, labels: Labels = {}): number {
    return gauges.get(seriesKey(name, labels)) ?? 0;
  },
};

/** What changed since the last call: counter increments, and the gauges' current values. */
export function drain(): { counters: Record<string, number>; gauges: Record<string, number> } {
  const out = { counters: Object.fromEntries(pending), gauges: Object.fromEntries(gauges) };
  pending.clear();
  return out;
}

/** Puts back increments that could not be sent. */
export function restore(deltas: Record<string, number>): void {
  for (const [key, by] of Object.entries(deltas)) add(pending, key, by);
}
