/**
 * Counters of this isolate's work (fallbacks, provider calls, …), keyed by name and labels.
 * /metrics will aggregate them across isolates; until then they are read in tests and logged.
 * Labels must never carry tenants' text or keys.
 */
const values = new Map<string, number>();

const keyOf = (name: string, labels: Record<string, string>) =>
  `${name}{${Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}="${v}"`).join(",")}}`;

export const counters = {
  inc(name: string, labels: Record<string, string> = {}, by = 1): void {
    const key = keyOf(name, labels);
    values.set(key, (values.get(key) ?? 0) + by);
  },
  get(name: string, labels: Record<string, string> = {}): number {
    return values.get(keyOf(name, labels)) ?? 0;
  },
  snapshot(): Record<string, number> {
    return Object.fromEntries(values);
  },
};
