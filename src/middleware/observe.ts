import type { Context, MiddlewareHandler } from "hono";
import type { AppEnv } from "../app-env.ts";
import { metrics } from "../observability/counters.ts";
import { flushMetrics } from "../observability/flush.ts";
import { elapsedMs } from "../timeouts.ts";

/** The operation a request performs: a fixed set, so metric labels stay few and carry no ids. */
export function operationOf(method: string, path: string): string {
  if (path === "/health") return "health";
  if (path === "/metrics") return "metrics";
  if (path === "/api/rag/ask") return "ask";
  if (path === "/api/rag/retrieve") return "retrieve";
  if (path === "/api/conversations" && method === "POST") return "ingest";
  if (path === "/api/conversations" || path.startsWith("/api/conversations/")) return method === "DELETE" ? "delete" : "conversations";
  if (path.startsWith("/api/admin/")) return "admin";
  return "other";
}

const cacheHit = (header: string | null) =>
  header?.startsWith("HIT") ? "true" : header === "MISS" || header === "BYPASS" ? "false" : "none";

/**
 * Per request: the active-requests gauge, the duration histogram {operation, model, cache_hit}
 * measured to the end of the response body (an SSE stream ends when its last event is sent, or
 * when the client goes), one JSON log line (no conversation text, no keys), and a throttled flush
 * of this isolate's metrics to the aggregator.
 */
export function observe(): MiddlewareHandler<AppEnv> {
  return async function observe(c, next) {
    const started = performance.now();
    metrics.gauge("rag_active_requests", {}, 1);
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      metrics.gauge("rag_active_requests", {}, -1);
      finish(c, started);
    };
    let claimed = false;
    c.set("claimEnd", () => {
      claimed = true;
      return end;
    });
    try {
      await next();
    } catch (err) {
      end();
      throw err;
    }
    // A streamed answer ends (or is cancelled by a client that went away) after this handler
    // returns, and says so itself; every other response has ended.
    if (claimed && c.res.body) return;
    // Every response says at least how long it took; handlers that measure steps say more.
    if (!c.res.headers.has("server-timing")) c.res.headers.set("server-timing", `total;dur=${elapsedMs(started)}`);
    end();
  };
}

function finish(c: Context<AppEnv>, started: number) {
  const seconds = (performance.now() - started) / 1000;
  const operation = operationOf(c.req.method, c.req.path);
  const cache = c.res.headers.get("x-cache");
  metrics.observe("rag_request_duration_seconds", { operation, model: c.var.model ?? "none", cache_hit: cacheHit(cache) }, seconds);
  if (c.var.config?.logRequests) {
    // Written by hand: operation and cache come from fixed sets, the rest is quoted by JSON.stringify.
    const cacheField = cache ? `,"cache":${JSON.stringify(cache)}` : "";
    const tenantField = c.var.auth ? `,"tenant":${JSON.stringify(c.var.auth.tenantId)}` : "";
    console.log(
      `{"level":"info","event":"request","request_id":${JSON.stringify(c.var.requestId)},"method":${JSON.stringify(c.req.method)},"operation":"${operation}","status":${c.res.status},"duration_ms":${Math.round(seconds * 10_000) / 10}${cacheField}${tenantField}}`,
    );
  }
  try {
    c.executionCtx.waitUntil(flushMetrics(c.env));
  } catch {
    // No execution context (a direct call in a unit test): the next request flushes.
  }
}
