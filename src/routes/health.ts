import { Hono } from "hono";
import type { AppEnv } from "../app-env.ts";
import { readSchemaStatus } from "../db/schema.ts";

/**
 * GET /health: liveness and readiness (database reachable, migrations applied), and the
 * configured embedding model (each tenant searches with its own: GET /api/admin/embeddings).
 */
export const healthRoutes = new Hono<AppEnv>().get("/", async (c) => {
  const started = Date.now();
  try {
    const status = await readSchemaStatus(c.var.sql());
    const ready = status.pending.length === 0;
    return c.json(
      {
        status: ready ? "ok" : "not_ready",
        database: { reachable: true, latency_ms: Date.now() - started },
        migrations: { applied: status.applied, pending: status.pending },
        embedding: {
          provider: c.var.config.embedding.provider,
          model: c.var.config.embedding.model,
          dimensions: c.var.config.embedding.dimensions,
        },
      },
      ready ? 200 : 503,
    );
  } catch {
    return c.json({ status: "not_ready", database: { reachable: false } }, 503, { "retry-after": "5" });
  }
});
