// The load test's Markdown report and SVG latency chart.

export interface ScenarioReport {
  name: string;
  connections: number;
  requests: number;
  requests_per_second: number;
  latency_ms: { mean: number; median: number; p95: number; p99: number; min: number; max: number };
  cached_ms: { requests: number; median: number; p95: number; p99: number } | null;
  uncached_ms: { requests: number; median: number; p95: number; p99: number } | null;
  errors: number;
  cache_hit_rate: number | null;
}

export interface LoadReport {
  date: string;
  url: string;
  connections: number;
  duration_s: number;
  cached_share: number;
  scenarios: ScenarioReport[];
}

export function markdownReport(report: LoadReport, chartFile: string): string {
  const rows = report.scenarios.map((s) => {
    const l = s.latency_ms;
    const hit = s.cache_hit_rate === null ? "—" : `${(s.cache_hit_rate * 100).toFixed(1)} %`;
    return `| ${s.name} | ${s.connections} | ${s.requests} | ${s.requests_per_second} | ${l.mean} | ${l.median} | ${l.p95} | ${l.p99} | ${l.min} | ${l.max} | ${s.errors} | ${hit} |`;
  });
  const split = (x: ScenarioReport["cached_ms"]) => (x ? `${x.median} / ${x.p95} / ${x.p99} (${x.requests})` : "—");
  const bySplit = report.scenarios.map((s) => `| ${s.name} | ${split(s.cached_ms)} | ${split(s.uncached_ms)} |`);
  return [
    `# Load test, ${report.date}`,
    "",
    `${report.connections} connections for ${report.duration_s} s against ${report.url}; cached share of simple and complex asks: ${report.cached_share}.`,
    "Latency in ms, to the end of the response (the whole SSE stream).",
    "",
    "| scenario | connections | requests | req/s | mean | median | p95 | p99 | min | max | errors | cache hit rate |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ...rows,
    "",
    "Cacheable asks by outcome, median / p95 / p99 ms (requests):",
    "",
    "| scenario | cache hits | cache misses |",
    "|---|---|---|",
    ...bySplit,
    "",
    `![latency per scenario](./${chartFile})`,
    "",
  ].join("\n");
}

const escapeHtml = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;");

/** Grouped bars: median, p95 and p99 latency per scenario, on a shared linear axis. */
export function latencyChartSvg(scenarios: ScenarioReport[]): string {
  const series = [
    { key: "median", color: "#4e79a7" },
    { key: "p95", color: "#f28e2b" },
    { key: "p99", color: "#e15759" },
  ] as const;
  const width = 640;
  const height = 320;
  const left = 60;
  const bottom = 40;
  const top = 30;
  const plotH = height - top - bottom;
  const max = Math.max(1, ...scenarios.flatMap((s) => series.map((x) => s.latency_ms[x.key])));
  const step = 10 ** Math.floor(Math.log10(max));
  const axisMax = Math.ceil(max / step) * step;
  const groupW = (width - left - 20) / Math.max(1, scenarios.length);
  const barW = (groupW * 0.7) / series.length;
  const y = (v: number) => top + plotH - (v / axisMax) * plotH;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`);
  parts.push(`<text x="${left}" y="18" font-size="14">Latency per scenario (ms): median, p95, p99</text>`);
  for (let i = 0; i <= 4; i++) {
    const v = (axisMax * i) / 4;
    parts.push(`<line x1="${left}" x2="${width - 20}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/>`);
    parts.push(`<text x="${left - 6}" y="${y(v) + 4}" text-anchor="end">${Math.round(v)}</text>`);
  }
  scenarios.forEach((s, g) => {
    const x0 = left + g * groupW + groupW * 0.15;
    series.forEach((x, i) => {
      const v = s.latency_ms[x.key];
      parts.push(
        `<rect x="${(x0 + i * barW).toFixed(1)}" y="${y(v).toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${(top + plotH - y(v)).toFixed(1)}" fill="${x.color}"><title>${escapeHtml(s.name)} ${x.key}: ${v} ms</title></rect>`,
      );
    });
    parts.push(
      `<text x="${(x0 + (barW * series.length) / 2).toFixed(1)}" y="${height - bottom + 16}" text-anchor="middle">${escapeHtml(s.name)}</text>`,
    );
  });
  series.forEach((x, i) => {
    parts.push(
      `<rect x="${width - 200 + i * 60}" y="8" width="10" height="10" fill="${x.color}"/><text x="${width - 186 + i * 60}" y="17">${x.key}</text>`,
    );
  });
  parts.push("</svg>");
  return `${parts.join("\n")}\n`;
}
