import { type Labels, METRICS } from "./catalog.ts";
import { seriesKey } from "./counters.ts";

const SUFFIXES = ["_bucket", "_sum", "_count"];

/** The metric a series belongs to: a histogram's series carry a suffix. */
function familyOf(name: string): string {
  for (const suffix of SUFFIXES) {
    if (name.endsWith(suffix)) {
      const base = name.slice(0, -suffix.length);
      if (METRICS[base]?.type === "histogram") return base;
    }
  }
  return name;
}

const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
const unescapeLabel = (v: string) => v.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
const parseLabels = (text: string): Labels => Object.fromEntries([...text.matchAll(LABEL)].map((m) => [m[1]!, unescapeLabel(m[2]!)]));

/**
 * The series to expose: the given ones, plus every documented counter and gauge at 0 for its
 * label sets known in advance, plus each histogram label set's buckets that nothing has fallen in
 * yet (its lower bounds), so that every series a scrape shows is shown again by the next one.
 */
function complete(series: Record<string, number>): Record<string, number> {
  const out = { ...series };
  const histograms = new Map<string, Map<string, Labels>>();
  for (const key of Object.keys(series)) {
    const brace = key.indexOf("{");
    const family = familyOf(brace === -1 ? key : key.slice(0, brace));
    if (METRICS[family]?.type !== "histogram") continue;
    const { le: _, ...labels } = parseLabels(brace === -1 ? "" : key.slice(brace + 1, -1));
    if (!histograms.has(family)) histograms.set(family, new Map());
    histograms.get(family)!.set(seriesKey("", labels), labels);
  }
  for (const [name, spec] of Object.entries(METRICS)) {
    for (const labels of spec.zero ?? []) out[seriesKey(name, labels)] ??= 0;
    for (const labels of histograms.get(name)?.values() ?? []) {
      // Buckets are cumulative: one that is missing holds what the bucket below it holds.
      let below = 0;
      for (const le of spec.buckets ?? []) below = out[seriesKey(`${name}_bucket`, { ...labels, le: String(le) })] ??= below;
      const inf = seriesKey(`${name}_bucket`, { ...labels, le: "+Inf" });
      const count = seriesKey(`${name}_count`, labels);
      out[inf] ??= out[count] ?? below;
      out[count] ??= out[inf];
      out[seriesKey(`${name}_sum`, labels)] ??= 0;
    }
  }
  return out;
}

const formatValue = (v: number) => (Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(12))));

/**
 * Renders series (`name{labels}` → value) in the Prometheus text exposition format 0.0.4: one
 * HELP and TYPE line per metric, its series together, histogram buckets in ascending order. Every
 * metric of the catalog is there from start-up (`complete`), with no samples when none of its
 * label sets is known before it counts something.
 */
export function renderPrometheus(series: Record<string, number>): string {
  const families = new Map<string, { key: string; name: string; labels: string; value: number }[]>(
    Object.keys(METRICS).map((name) => [name, []]),
  );
  for (const [key, value] of Object.entries(complete(series))) {
    const brace = key.indexOf("{");
    const name = brace === -1 ? key : key.slice(0, brace);
    const labels = brace === -1 ? "" : key.slice(brace + 1, -1);
    const family = familyOf(name);
    if (!families.has(family)) families.set(family, []);
    families.get(family)!.push({ key, name, labels, value });
  }
  const le = (labels: string) => {
    const m = labels.match(/(?:^|,)le="([^"]*)"/);
    return m ? (m[1] === "+Inf" ? Infinity : Number(m[1])) : -1;
  };
  const lines: string[] = [];
  for (const family of [...families.keys()].sort()) {
    const meta = METRICS[family];
    if (meta) lines.push(`# HELP ${family} ${meta.help}`);
    lines.push(`# TYPE ${family} ${meta?.type ?? "untyped"}`);
    // One label set after another; within a histogram's: buckets by bound, then _sum, then _count.
    const withoutLe = (l: string) => l.replace(/(^|,)le="[^"]*"/, "").replace(/^,/, "");
    const rows = families.get(family)!.sort((a, b) => {
      const byLabels = withoutLe(a.labels).localeCompare(withoutLe(b.labels));
      if (byLabels !== 0) return byLabels;
      const bySuffix = SUFFIXES.indexOf(a.name.slice(family.length)) - SUFFIXES.indexOf(b.name.slice(family.length));
      return bySuffix !== 0 ? bySuffix : le(a.labels) - le(b.labels);
    });
    for (const r of rows) {
      // `le` last, as exporters write it (and parsers expect it).
      const bound = r.labels.match(/(?:^|,)(le="[^"]*")/)?.[1];
      const labels = bound ? [withoutLe(r.labels), bound].filter(Boolean).join(",") : r.labels;
      lines.push(`${r.name}${labels ? `{${labels}}` : ""} ${formatValue(r.value)}`);
    }
  }
  return `${lines.join("\n")}\n`;
}
