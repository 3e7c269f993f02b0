import { Hono } from "hono";
import type { AppEnv } from "../app-env.ts";
import { renderPrometheus } from "../observability/exposition.ts";
import { aggregatedMetrics } from "../observability/flush.ts";

/** GET /metrics (admin): every isolate's metrics in the Prometheus text format. */
export const metricsRoutes = new Hono<AppEnv>().get("/", async (c) => {
  const series = await aggregatedMetrics(c.env);
  return c.body(renderPrometheus(series), 200, { "content-type": "text/plain; version=0.0.4; charset=utf-8", "cache-control": "no-store" });
});
